/*
 * log.h: otus-agent's own log, one JSON object per line on stderr:
 *   {"ts":"2026-11-30T10:49:28.123456789Z","level":"info","component":"http",
 *    "msg":"listening","addr":"127.0.0.1:9464"}
 * Lines below the configured level (service.log_level) are dropped at once.
 */
#ifndef OTUS_AGENT_LOG_H
#define OTUS_AGENT_LOG_H

#include <stdint.h>

enum otus_log_level {
    OTUS_LOG_DEBUG = 0,
    OTUS_LOG_INFO = 1,
    OTUS_LOG_WARN = 2,
    OTUS_LOG_ERROR = 3,
};

void otus_log_set_level(enum otus_log_level level);
enum otus_log_level otus_log_get_level(void);

/* Parses "debug", "info", "warn" (or "warning"), "error". 0 or OTUS_ERR_INVALID. */
int otus_log_level_parse(const char *s, enum otus_log_level *out);

const char *otus_log_level_name(enum otus_log_level level);

/* One line with a printf-formatted message. */
void otus_log(enum otus_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * One line with a printf-formatted message and extra string fields: fields is a
 * NULL-terminated array of alternating keys and values (borrowed), or NULL.
 */
void otus_log_fields(enum otus_log_level level, const char *component, const char *const *fields,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A limit on a kind of repeated message: at most one line per interval. A caller
 * asks before logging; when allowed, *suppressed says how many were held back since
 * the last line (worth saying in the line). Zero-initialised, it allows the first.
 */
struct otus_log_limit {
    uint64_t last_ms;
    unsigned suppressed;
    int used;
};

#define OTUS_LOG_LIMIT_INTERVAL_MS 5000

int otus_log_allowed(struct otus_log_limit *l, uint64_t now_ms, unsigned *suppressed);

#endif
