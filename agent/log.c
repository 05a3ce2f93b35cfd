/*
 * log.c: the agent's JSON log lines (log.h). Each line is built in a local buffer and
 * written with one write(2), so lines from a crash handler or a child never
 * interleave mid-line.
 */
#include "agent/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <otus.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"

static enum otus_log_level threshold = OTUS_LOG_INFO;

static const char *const names[] = {"debug", "info", "warn", "error"};

void otus_log_set_level(enum otus_log_level level)
{
    threshold = level;
}

enum otus_log_level otus_log_get_level(void)
{
    return threshold;
}

int otus_log_level_parse(const char *s, enum otus_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum otus_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = OTUS_LOG_WARN;
        return 0;
    }
    return OTUS_ERR_INVALID;
}

const char *otus_log_level_name(enum otus_log_level level)
{
    return level <= OTUS_LOG_ERROR ? names[level] : "unknown";
}

static void vlog(enum otus_log_level level, const char *component, const char *const *fields,
                 const char *fmt, va_list ap)
{
    char msg[2048];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;

    char ts[OTUS_RFC3339_BUF];
    otus_time_rfc3339_nano(otus_clock_wall_ns(), ts);

    struct otus_buf b;
    otus_buf_init(&b, 64 * 1024);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_object_begin(&j);
    otus_json_key(&j, "ts", 2);
    otus_json_string(&j, ts, OTUS_RFC3339_NANO_LEN);
    otus_json_key(&j, "level", 5);
    otus_json_cstr(&j, otus_log_level_name(level));
    otus_json_key(&j, "component", 9);
    otus_json_cstr(&j, component);
    otus_json_key(&j, "msg", 3);
    otus_json_string(&j, msg, (size_t)n);
    for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2) {
        otus_json_key_cstr(&j, fields[i]);
        otus_json_cstr(&j, fields[i + 1]);
    }
    otus_json_object_end(&j);
    if (otus_json_error(&j) == 0 && otus_buf_append_byte(&b, '\n') == 0) {
        ssize_t off = 0;
        while ((size_t)off < b.len) {
            ssize_t w = write(STDERR_FILENO, b.data + off, b.len - (size_t)off);
            if (w <= 0)
                break;
            off += w;
        }
    }
    otus_buf_free(&b);
}

void otus_log(enum otus_log_level level, const char *component, const char *fmt, ...)
{
    if (level < threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, NULL, fmt, ap);
    va_end(ap);
}

void otus_log_fields(enum otus_log_level level, const char *component, const char *const *fields,
                     const char *fmt, ...)
{
    if (level < threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, fields, fmt, ap);
    va_end(ap);
}

int otus_log_allowed(struct otus_log_limit *l, uint64_t now_ms, unsigned *suppressed)
{
    if (l->used && now_ms - l->last_ms < OTUS_LOG_LIMIT_INTERVAL_MS) {
        l->suppressed++;
        return 0;
    }
    l->used = 1;
    l->last_ms = now_ms;
    *suppressed = l->suppressed;
    l->suppressed = 0;
    return 1;
}
