/*
 * otlp_pb.h: the OTLP exporter's protobuf writer (otlp_pb.c), shared by the encoder
 * (otlp_encode.c), which writes the request's outer messages with these primitives
 * and the records with the message writers.
 *
 * One pass: a nested message reserves the bytes its length usually needs, is written,
 * and then gets its length; only when the length needs a different number of bytes
 * does its content move. Fields go out in field number order and zero values are left
 * out, as protobuf-c does; the one difference is that a double holding -0.0 is written,
 * where protobuf-c drops it. A failure (the buffer's maximum, out of memory, values
 * nested too deep) is kept in the writer's err, and every write after it does nothing.
 */
#ifndef OTUS_EXPORTERS_OTLP_OTLP_PB_H
#define OTUS_EXPORTERS_OTLP_OTLP_PB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "exporters/otlp/otlp.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link SpanLink;
typedef Opentelemetry__Proto__Trace__V1__Status SpanStatus;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile ValueAtQuantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define KEY(field, wt) (((uint32_t)(field) << 3) | (wt))

struct pbw {
    struct otus_buf *b;
    int err;
};

/* n bytes of room at the end of the buffer, or NULL (err set). */
static inline uint8_t *room(struct pbw *w, size_t n)
{
    struct otus_buf *b = w->b;
    if (b->cap - b->len < n) {
        if (w->err)
            return NULL;
        int rc = otus_buf_reserve(b, n);
        if (rc) {
            w->err = rc;
            return NULL;
        }
    }
    return (uint8_t *)b->data + b->len;
}

static inline size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

static inline unsigned varint_len(uint64_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void w_key_varint(struct pbw *w, uint32_t key, uint64_t v)
{
    uint8_t *p = room(w, 15);
    if (!p)
        return;
    size_t n = put_varint(p, key);
    n += put_varint(p + n, v);
    w->b->len += n;
}

/* uint32, uint64, int64 and bool fields: left out when zero. */
static inline void w_varint(struct pbw *w, uint32_t field, uint64_t v)
{
    if (v)
        w_key_varint(w, KEY(field, WT_VARINT), v);
}

/* int32 and enum fields: a negative value is sign-extended to ten bytes. */
static inline void w_int32(struct pbw *w, uint32_t field, int32_t v)
{
    if (v)
        w_key_varint(w, KEY(field, WT_VARINT), (uint64_t)(int64_t)v);
}

static inline void w_sint32(struct pbw *w, uint32_t field, int32_t v)
{
    if (v)
        w_key_varint(w, KEY(field, WT_VARINT),
                     ((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); /* zigzag */
}

static inline void w_fixed64_always(struct pbw *w, uint32_t field, uint64_t v)
{
    uint8_t *p = room(w, 13);
    if (!p)
        return;
    size_t n = put_varint(p, KEY(field, WT_I64));
    put_le64(p + n, v);
    w->b->len += n + 8;
}

static inline void w_fixed64(struct pbw *w, uint32_t field, uint64_t v)
{
    if (v)
        w_fixed64_always(w, field, v);
}

static inline uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

/* A double field: left out when +0.0 (a -0.0 is kept, see the top of the file). */
static inline void w_double(struct pbw *w, uint32_t field, double d)
{
    w_fixed64(w, field, double_bits(d));
}

static inline void w_fixed32(struct pbw *w, uint32_t field, uint32_t v)
{
    if (!v)
        return;
    uint8_t *p = room(w, 9);
    if (!p)
        return;
    size_t n = put_varint(p, KEY(field, WT_I32));
    put_le32(p + n, v);
    w->b->len += n + 4;
}

static inline void w_len_always(struct pbw *w, uint32_t field, const void *data, size_t len)
{
    uint8_t *p = room(w, 15 + len);
    if (!p)
        return;
    size_t n = put_varint(p, KEY(field, WT_LEN));
    n += put_varint(p + n, len);
    if (len)
        memcpy(p + n, data, len);
    w->b->len += n + len;
}

static inline void w_bytes(struct pbw *w, uint32_t field, const ProtobufCBinaryData *d)
{
    if (d->len)
        w_len_always(w, field, d->data, d->len);
}

static inline void w_string(struct pbw *w, uint32_t field, const char *s)
{
    if (s && *s)
        w_len_always(w, field, s, strlen(s));
}

/* Starts a nested message: its key and reserve bytes for the length. Returns where
 * the content starts, for w_end. */
static inline size_t w_begin(struct pbw *w, uint32_t field, unsigned reserve)
{
    uint8_t *p = room(w, 5 + reserve);
    if (!p)
        return 0;
    size_t n = put_varint(p, KEY(field, WT_LEN));
    w->b->len += n + reserve;
    return w->b->len;
}

/* Moves a nested message's content when its length needs more or fewer bytes than
 * reserved (w_end's slow path). */
void otus__otlp_pb_end_slow(struct pbw *w, size_t start, unsigned reserve);

/* Ends the nested message begun at start: writes its length into the reserved bytes. */
static inline void w_end(struct pbw *w, size_t start, unsigned reserve)
{
    if (w->err)
        return;
    struct otus_buf *b = w->b;
    size_t len = b->len - start;
    uint8_t *p = (uint8_t *)b->data + start - reserve;
    if (reserve == 1 && len < 0x80) {
        p[0] = (uint8_t)len;
    } else if (reserve == 2 && len >= 0x80 && len < 0x4000) {
        p[0] = (uint8_t)(len | 0x80);
        p[1] = (uint8_t)(len >> 7);
    } else {
        otus__otlp_pb_end_slow(w, start, reserve);
    }
}

/* Unknown fields the decoder kept, after the known ones, as protobuf-c puts them. */
void otus__otlp_pb_unknown(struct pbw *w, const ProtobufCMessage *m);

/* Writers of whole messages, each with its key: the resource (field 1 of a resource
 * entry), the scope (field 1 of a scope entry), and the records (field 2 of a scope
 * entry). */
void otus__otlp_pb_resource(struct pbw *w, const Resource *r);
void otus__otlp_pb_scope(struct pbw *w, const Scope *s);
void otus__otlp_pb_span(struct pbw *w, const Span *sp);
void otus__otlp_pb_log_record(struct pbw *w, const LogRecord *lr);
void otus__otlp_pb_metric(struct pbw *w, const Metric *mt);

#endif
