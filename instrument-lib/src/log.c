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

int otus_log_min_level = OTUS_LEVEL_INFO;

/* Up to this many fields are sized in one pass and written from the saved lengths. */
#define FAST_FIELDS 16

static size_t cut(const char *s, size_t n, uint32_t limit)
{
    if (limit == UINT32_MAX || n <= limit)
        return n;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (chars == limit)
                return i;
            chars++;
        }
    }
    return n;
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
    if (ctx && otus_span_context_is_valid(ctx)) {
        memcpy(rec->trace_id, ctx->trace_id, 16);
        memcpy(rec->span_id, ctx->span_id, 8);
        rec->trace_flags = ctx->trace_flags;
        rec->has_ctx = 1;
    } else {
        rec->trace_flags = 0;
        rec->has_ctx = 0;
    }
}

/* Sizes fields[0..k): per-field key and string lengths in kl/vl (first FAST_FIELDS). */
static size_t fields_size(const struct otus_attr *f, size_t k, uint32_t limit, uint16_t *kl,
                          uint32_t *vl)
{
    size_t bytes = 0;
    for (size_t i = 0; i < k; i++) {
        const struct otus_attr *a = &f[i];
        if (i >= FAST_FIELDS) {
            bytes += otus__attr_size(a, limit);
            continue;
        }
        size_t l = a->key ? strlen(a->key) : 0;
        kl[i] = (uint16_t)(l > OTUS__KEY_MAX ? OTUS__KEY_MAX : l);
        switch (a->type) {
        case OTUS_TYPE_STRING:
            vl[i] = (uint32_t)cut(a->v.s, otus__attr_strlen(a), limit);
            bytes += 3u + kl[i] + 4u + vl[i];
            break;
        case OTUS_TYPE_INT:
        case OTUS_TYPE_DOUBLE:
            bytes += 3u + kl[i] + 8u;
            break;
        case OTUS_TYPE_BOOL:
            bytes += 3u + kl[i] + 1u;
            break;
        default:
            bytes += otus__attr_size(a, limit);
            break;
        }
    }
    return bytes;
}

static void fields_put(struct otus__wr *w, const struct otus_attr *f, size_t k, uint32_t limit,
                       const uint16_t *kl, const uint32_t *vl)
{
    for (size_t i = 0; i < k; i++) {
        const struct otus_attr *a = &f[i];
        if (i >= FAST_FIELDS || (a->type != OTUS_TYPE_STRING && a->type != OTUS_TYPE_INT &&
                                 a->type != OTUS_TYPE_DOUBLE && a->type != OTUS_TYPE_BOOL)) {
            otus__attr_put(w, a, limit);
            continue;
        }
        unsigned char *p = w->p;
        p[0] = (unsigned char)a->type;
        memcpy(p + 1, &kl[i], 2);
        memcpy(p + 3, a->key, kl[i]);
        p += 3 + kl[i];
        if (a->type == OTUS_TYPE_STRING) {
            memcpy(p, &vl[i], 4);
            memcpy(p + 4, a->v.s, vl[i]);
            p += 4 + vl[i];
        } else if (a->type == OTUS_TYPE_BOOL) {
            *p++ = a->v.b != 0;
        } else {
            memcpy(p, &a->v.i, 8);
            p += 8;
        }
        w->p = p;
    }
}

void otus_log_emit_ctx(int level, const struct otus_span_context *ctx, const char *msg,
                        const struct otus_attr *fields, size_t n_fields)
{
    if (level < __atomic_load_n(&otus_log_min_level, __ATOMIC_RELAXED))
        return;
    if (!fields)
        n_fields = 0;
    struct otus__ring *ring = atomic_load_explicit(&otus__g.log_ring, memory_order_acquire);
    if (OTUS__UNLIKELY(!ring || atomic_load_explicit(&otus__g.state, memory_order_acquire) !=
                                    OTUS__RUNNING)) {
        otus__log_write_direct(level, ctx, msg, fields, n_fields);
        return;
    }
    uint32_t limit = otus__g.set.log_value_limit;
    size_t k = n_fields < otus__g.set.log_attr_limit ? n_fields : otus__g.set.log_attr_limit;
    size_t ml = msg ? strlen(msg) : 0;
    if (ml > 0x3fffffff)
        ml = 0x3fffffff;
    uint16_t kl[FAST_FIELDS];
    uint32_t vl[FAST_FIELDS];
    size_t size = sizeof(struct otus__log_rec) + ml + fields_size(fields, k, limit, kl, vl);
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
    if (ml)
        memcpy(p, msg, ml);
    struct otus__wr w = {p + ml, (unsigned char *)rec + size, NULL};
    fields_put(&w, fields, k, limit, kl, vl);
    otus__ring_commit(rec, pos);
    if (OTUS__UNLIKELY(wake))
        otus__wake_exporter();
}

void otus_log_emit(int level, const char *msg, const struct otus_attr *fields, size_t n_fields)
{
    struct otus_span *cur = otus__tls.cur;
    otus_log_emit_ctx(level, cur ? &cur->ctx : NULL, msg, fields, n_fields);
}

void otus__log_write_direct(int level, const struct otus_span_context *ctx, const char *msg,
                            const struct otus_attr *fields, size_t n_fields)
{
    size_t ml = msg ? strlen(msg) : 0;
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
