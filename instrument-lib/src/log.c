/*
 * log.c: the log record path.
 *
 * A log call sizes its record (message and fields), reserves that much in the log
 * ring, copies the bytes in and commits: one compare-and-swap, one TSC read, a few
 * memcpys. The trace context of the current span (or the one given) goes into the
 * record header. The background thread turns records into JSON lines for the sink and
 * OTLP log records for the agent. When the library is not running, the line is
 * formatted and written to stderr on the caller's thread instead, so logs made before
 * otus_init() or after otus_shutdown() are not lost.
 */
#include "internal.h"

#include <stdlib.h>
#include <unistd.h>

const char *otus__level_name(int level)
{
    if (level >= OTUS_LEVEL_FATAL)
        return "FATAL";
    if (level >= OTUS_LEVEL_ERROR)
        return "ERROR";
    if (level >= OTUS_LEVEL_WARN)
        return "WARN";
    if (level >= OTUS_LEVEL_INFO)
        return "INFO";
    if (level >= OTUS_LEVEL_DEBUG)
        return "DEBUG";
    return "TRACE";
}

int otus__log_min_level = OTUS_LEVEL_INFO;

const int *otus_log_threshold(void)
{
    return &otus__log_min_level;
}

static void fill_header(struct otus__log_rec *rec, int level, const struct otus_span_context *ctx,
                        uint32_t msg_len, uint32_t n_fields, uint32_t dropped)
{
    rec->time = otus__ticks();
    rec->level = (uint8_t)(level < 1 ? 1 : level > 24 ? 24 : level);
    rec->msg_len = msg_len;
    rec->n_fields = n_fields;
    rec->dropped_fields = dropped;
    rec->pad_ = 0;
    if (ctx && otus__span_context_valid(ctx)) {
        memcpy(rec->trace_id, ctx->trace_id, 16);
        memcpy(rec->span_id, ctx->span_id, 8);
        rec->trace_flags = ctx->trace_flags;
        rec->has_ctx = 1;
    } else {
        rec->trace_flags = 0;
        rec->has_ctx = 0;
    }
}

/* Bytes of the message: msg_len, or measured for OTUS_NTS; at most 2^30 - 1. */
static inline size_t msg_bytes(const char *msg, size_t msg_len)
{
    if (!msg)
        return 0;
    if (msg_len == OTUS_NTS)
        msg_len = strlen(msg);
    return msg_len > 0x3fffffff ? 0x3fffffff : msg_len;
}

/* The record path of every entry point: size, reserve, write, commit. */
static inline void log_record(int level, const struct otus_span_context *ctx, const char *msg,
                              size_t msg_len, const struct otus_attr *fields, size_t n_fields)
{
    if (!fields)
        n_fields = 0;
    size_t ml = msg_bytes(msg, msg_len);
    struct otus__ring *ring = atomic_load_explicit(&otus__g.log_ring, memory_order_acquire);
    if (OTUS__UNLIKELY(!ring || atomic_load_explicit(&otus__g.state, memory_order_acquire) !=
                                    OTUS__RUNNING)) {
        otus__log_write_direct(level, ctx, msg, ml, fields, n_fields);
        return;
    }
    uint32_t limit = otus__g.set.log_value_limit;
    size_t k = n_fields < otus__g.set.log_attr_limit ? n_fields : otus__g.set.log_attr_limit;
    struct otus__alen len[OTUS__FLAT_MAX];
    size_t fb = otus__attrs_measure(fields, k, limit, len);
    size_t size = sizeof(struct otus__log_rec) + ml + fb;
    uint64_t pos;
    int wake = 0;
    struct otus__log_rec *rec =
        size <= UINT32_MAX ? otus__ring_reserve(ring, (uint32_t)size, &pos, &wake) : NULL;
    if (OTUS__UNLIKELY(!rec)) {
        otus__stat_add(OTUS__STAT_LOGS_DROPPED, 1);
        return;
    }
    fill_header(rec, level, ctx, (uint32_t)ml, (uint32_t)k, (uint32_t)(n_fields - k));
    unsigned char *p = (unsigned char *)(rec + 1);
    otus__copy(p, msg, ml);
    struct otus__wr w = {p + ml, (unsigned char *)rec + size, NULL};
    otus__attrs_write(&w, fields, k, limit, len, 0, fb);
    otus__ring_commit(rec, pos);
    if (OTUS__UNLIKELY(wake))
        otus__wake_exporter();
}

void otus_log_emit_ctx(int level, const struct otus_span_context *ctx, const char *msg,
                       const struct otus_attr *fields, size_t n_fields)
{
    if (level < __atomic_load_n(&otus__log_min_level, __ATOMIC_RELAXED))
        return;
    log_record(level, ctx, msg, OTUS_NTS, fields, n_fields);
}

void otus_log_emitn(int level, const char *msg, size_t msg_len, const struct otus_attr *fields,
                    size_t n_fields)
{
    if (level < __atomic_load_n(&otus__log_min_level, __ATOMIC_RELAXED))
        return;
    struct otus_span *cur = otus__tls.cur;
    log_record(level, cur ? &cur->ctx : NULL, msg, msg_len, fields, n_fields);
}

void otus_log_emit(int level, const char *msg, const struct otus_attr *fields, size_t n_fields)
{
    otus_log_emitn(level, msg, OTUS_NTS, fields, n_fields);
}

void otus__log_write_direct(int level, const struct otus_span_context *ctx, const char *msg,
                            size_t ml, const struct otus_attr *fields, size_t n_fields)
{
    size_t k = n_fields > 128 ? 128 : n_fields;
    size_t size = sizeof(struct otus__log_rec) + ml;
    for (size_t i = 0; i < k; i++)
        size += otus__attr_size(&fields[i], UINT32_MAX);
    size = (size + 7) & ~(size_t)7;
    struct otus__log_rec *rec = malloc(size);
    if (!rec)
        return;
    memset(rec, 0, sizeof(*rec));
    rec->h.len = (uint32_t)size;
    rec->h.kind = 1;
    fill_header(rec, level, ctx, (uint32_t)ml, (uint32_t)k, (uint32_t)(n_fields - k));
    unsigned char *p = (unsigned char *)(rec + 1);
    if (ml)
        memcpy(p, msg, ml);
    struct otus__wr w = {p + ml, (unsigned char *)rec + size, NULL};
    for (size_t i = 0; i < k; i++)
        otus__attr_put(&w, &fields[i], UINT32_MAX);
    struct otus_buf line;
    otus_buf_init(&line, 0);
    if (otus__log_format_json(&line, rec, otus__wall_ns()) == 0) {
        size_t off = 0;
        while (off < line.len) {
            ssize_t n = write(STDERR_FILENO, line.data + off, line.len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    otus_buf_free(&line);
    free(rec);
}
