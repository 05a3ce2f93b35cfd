/*
 * otlp_encode.c: turns the batches of one send into one OTLP Export*ServiceRequest in
 * protobuf, and reads what the backend answers (otlp.h).
 *
 * Merging: the resource entries of every batch (ResourceSpans, ResourceMetrics,
 * ResourceLogs) are grouped by content (the resource, the schema URL and any unknown
 * fields), and within a group the scope entries likewise, as an SDK groups what it
 * sends. Nothing is copied: the groups point at the batches' own structs, and the
 * writer walks them.
 *
 * Writing: a direct protobuf writer for the OTLP messages, one pass. A nested message
 * reserves the bytes its length usually needs, is written, and then gets its length;
 * only when the length needs a different number of bytes does its content move. That
 * is protobuf-c's own trick, without protobuf-c's per-field descriptor dispatch and its
 * size pass over the whole tree first, which together cost four times as much. Fields
 * go out in field number order and zero values are left out as protobuf-c does, so the
 * bytes equal protobuf_c_message_pack()'s for the same structs (the unit tests check
 * this); the one deliberate difference is that a double holding -0.0 is written, where
 * protobuf-c drops it, so the value survives the trip.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <otus.h>

#include "exporters/otlp/otlp.h"
#include "google/rpc/status.pb-c.h"

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

/* ---- the writer ---------------------------------------------------------------------------- */

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

/* Ends the nested message begun at start when its length does not fit the bytes
 * reserved for it: the content moves. */
static void w_end_slow(struct pbw *w, size_t start, unsigned reserve)
{
    struct otus_buf *b = w->b;
    size_t len = b->len - start;
    if (len > OTUS_OTLP_MAX_BODY) {
        w->err = OTUS_ERR_TOO_BIG;
        return;
    }
    unsigned need = varint_len(len);
    if (need > reserve) {
        if (!room(w, need - reserve))
            return;
        memmove(b->data + start + (need - reserve), b->data + start, len);
        b->len += need - reserve;
    } else if (need < reserve) {
        memmove(b->data + start - (reserve - need), b->data + start, len);
        b->len -= reserve - need;
    }
    put_varint((uint8_t *)b->data + start - reserve, len);
}

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
        w_end_slow(w, start, reserve);
    }
}

/* Unknown fields kept by the decoder go after the known ones, as protobuf-c puts them. */
static void w_unknown(struct pbw *w, const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        uint8_t *p = room(w, 10 + u->len);
        if (!p)
            return;
        size_t n = put_varint(p, ((uint64_t)u->tag << 3) | u->wire_type);
        if (u->len)
            memcpy(p + n, u->data, u->len);
        w->b->len += n + u->len;
    }
}

/* ---- common messages -------------------------------------------------------------------- */

static void w_keyvalues(struct pbw *w, uint32_t field, KeyValue *const *kvs, size_t n,
                        unsigned depth);

static void w_anyvalue_body(struct pbw *w, const AnyValue *v, unsigned depth)
{
    if (depth > OTUS_OTLP_MAX_DEPTH) {
        w->err = OTUS_ERR_TOO_BIG;
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        if (v->string_value)
            w_len_always(w, 1, v->string_value, strlen(v->string_value));
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        w_key_varint(w, KEY(2, WT_VARINT), v->bool_value ? 1 : 0);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        w_key_varint(w, KEY(3, WT_VARINT), (uint64_t)v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        w_fixed64_always(w, 4, double_bits(v->double_value));
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (v->array_value) {
            size_t m = w_begin(w, 5, 2);
            for (size_t i = 0; i < v->array_value->n_values; i++) {
                size_t e = w_begin(w, 1, 1);
                w_anyvalue_body(w, v->array_value->values[i], depth + 1);
                w_end(w, e, 1);
            }
            w_unknown(w, &v->array_value->base);
            w_end(w, m, 2);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (v->kvlist_value) {
            size_t m = w_begin(w, 6, 2);
            w_keyvalues(w, 1, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
            w_unknown(w, &v->kvlist_value->base);
            w_end(w, m, 2);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        w_len_always(w, 7, v->bytes_value.data, v->bytes_value.len);
        break;
    default:
        break;
    }
    w_unknown(w, &v->base);
}

/*
 * A key-value whose value is a string, int, bool or double, with no unknown fields:
 * the common attribute. Its lengths are known up front, so it is written in one go.
 * Returns 0 when kv is not of that kind.
 */
static inline int w_keyvalue_flat(struct pbw *w, uint32_t field, const KeyValue *kv)
{
    const AnyValue *v = kv->value;
    if (!v || kv->base.n_unknown_fields || v->base.n_unknown_fields)
        return 0;
    size_t vlen = 0, abody;
    uint64_t iv = 0;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        if (!v->string_value)
            return 0;
        vlen = strlen(v->string_value);
        abody = 1 + varint_len(vlen) + vlen;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        iv = (uint64_t)v->int_value;
        abody = 1 + varint_len(iv);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        abody = 2;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        abody = 9;
        break;
    default:
        return 0;
    }
    size_t klen = kv->key ? strlen(kv->key) : 0;
    size_t kvbody = (klen ? 1 + varint_len(klen) + klen : 0) + 1 + varint_len(abody) + abody;
    uint8_t *p = room(w, 10 + kvbody);
    if (!p)
        return 1;
    size_t n = put_varint(p, KEY(field, WT_LEN));
    n += put_varint(p + n, kvbody);
    if (klen) {
        p[n++] = KEY(1, WT_LEN);
        n += put_varint(p + n, klen);
        memcpy(p + n, kv->key, klen);
        n += klen;
    }
    p[n++] = KEY(2, WT_LEN);
    n += put_varint(p + n, abody);
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        p[n++] = KEY(1, WT_LEN);
        n += put_varint(p + n, vlen);
        memcpy(p + n, v->string_value, vlen);
        n += vlen;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        p[n++] = KEY(3, WT_VARINT);
        n += put_varint(p + n, iv);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        p[n++] = KEY(2, WT_VARINT);
        p[n++] = v->bool_value ? 1 : 0;
        break;
    default:
        p[n++] = KEY(4, WT_I64);
        put_le64(p + n, double_bits(v->double_value));
        n += 8;
        break;
    }
    w->b->len += n;
    return 1;
}

static void w_keyvalues(struct pbw *w, uint32_t field, KeyValue *const *kvs, size_t n,
                        unsigned depth)
{
    for (size_t i = 0; i < n; i++) {
        const KeyValue *kv = kvs[i];
        if (w_keyvalue_flat(w, field, kv))
            continue;
        size_t m = w_begin(w, field, 1);
        w_string(w, 1, kv->key);
        if (kv->value) {
            size_t v = w_begin(w, 2, 1);
            w_anyvalue_body(w, kv->value, depth);
            w_end(w, v, 1);
        }
        w_unknown(w, &kv->base);
        w_end(w, m, 1);
    }
}

static inline void w_attrs(struct pbw *w, uint32_t field, KeyValue *const *kvs, size_t n)
{
    w_keyvalues(w, field, kvs, n, 1);
}

static void w_scope(struct pbw *w, const Scope *s)
{
    size_t m = w_begin(w, 1, 1);
    w_string(w, 1, s->name);
    w_string(w, 2, s->version);
    w_attrs(w, 3, s->attributes, s->n_attributes);
    w_varint(w, 4, s->dropped_attributes_count);
    w_unknown(w, &s->base);
    w_end(w, m, 1);
}

static void w_resource(struct pbw *w, const Resource *r)
{
    size_t m = w_begin(w, 1, 2);
    w_attrs(w, 1, r->attributes, r->n_attributes);
    w_varint(w, 2, r->dropped_attributes_count);
    for (size_t i = 0; i < r->n_entity_refs; i++) {
        const EntityRef *e = r->entity_refs[i];
        size_t em = w_begin(w, 3, 1);
        w_string(w, 1, e->schema_url);
        w_string(w, 2, e->type);
        for (size_t k = 0; k < e->n_id_keys; k++)
            w_len_always(w, 3, e->id_keys[k], e->id_keys[k] ? strlen(e->id_keys[k]) : 0);
        for (size_t k = 0; k < e->n_description_keys; k++)
            w_len_always(w, 4, e->description_keys[k],
                         e->description_keys[k] ? strlen(e->description_keys[k]) : 0);
        w_unknown(w, &e->base);
        w_end(w, em, 1);
    }
    w_unknown(w, &r->base);
    w_end(w, m, 2);
}

/* ---- traces -------------------------------------------------------------------------------- */

static void w_span(struct pbw *w, const Span *sp)
{
    size_t m = w_begin(w, 2, 2);
    w_bytes(w, 1, &sp->trace_id);
    w_bytes(w, 2, &sp->span_id);
    w_string(w, 3, sp->trace_state);
    w_bytes(w, 4, &sp->parent_span_id);
    w_string(w, 5, sp->name);
    w_int32(w, 6, (int32_t)sp->kind);
    w_fixed64(w, 7, sp->start_time_unix_nano);
    w_fixed64(w, 8, sp->end_time_unix_nano);
    w_attrs(w, 9, sp->attributes, sp->n_attributes);
    w_varint(w, 10, sp->dropped_attributes_count);
    for (size_t i = 0; i < sp->n_events; i++) {
        const SpanEvent *ev = sp->events[i];
        size_t e = w_begin(w, 11, 1);
        w_fixed64(w, 1, ev->time_unix_nano);
        w_string(w, 2, ev->name);
        w_attrs(w, 3, ev->attributes, ev->n_attributes);
        w_varint(w, 4, ev->dropped_attributes_count);
        w_unknown(w, &ev->base);
        w_end(w, e, 1);
    }
    w_varint(w, 12, sp->dropped_events_count);
    for (size_t i = 0; i < sp->n_links; i++) {
        const SpanLink *ln = sp->links[i];
        size_t l = w_begin(w, 13, 1);
        w_bytes(w, 1, &ln->trace_id);
        w_bytes(w, 2, &ln->span_id);
        w_string(w, 3, ln->trace_state);
        w_attrs(w, 4, ln->attributes, ln->n_attributes);
        w_varint(w, 5, ln->dropped_attributes_count);
        w_fixed32(w, 6, ln->flags);
        w_unknown(w, &ln->base);
        w_end(w, l, 1);
    }
    w_varint(w, 14, sp->dropped_links_count);
    if (sp->status) {
        size_t st = w_begin(w, 15, 1);
        w_string(w, 2, sp->status->message);
        w_int32(w, 3, (int32_t)sp->status->code);
        w_unknown(w, &sp->status->base);
        w_end(w, st, 1);
    }
    w_fixed32(w, 16, sp->flags);
    w_unknown(w, &sp->base);
    w_end(w, m, 2);
}

/* ---- logs ---------------------------------------------------------------------------------- */

static void w_log_record(struct pbw *w, const LogRecord *lr)
{
    size_t m = w_begin(w, 2, 2);
    w_fixed64(w, 1, lr->time_unix_nano);
    w_int32(w, 2, (int32_t)lr->severity_number);
    w_string(w, 3, lr->severity_text);
    if (lr->body) {
        size_t b = w_begin(w, 5, 1);
        w_anyvalue_body(w, lr->body, 1);
        w_end(w, b, 1);
    }
    w_attrs(w, 6, lr->attributes, lr->n_attributes);
    w_varint(w, 7, lr->dropped_attributes_count);
    w_fixed32(w, 8, lr->flags);
    w_bytes(w, 9, &lr->trace_id);
    w_bytes(w, 10, &lr->span_id);
    w_fixed64(w, 11, lr->observed_time_unix_nano);
    w_string(w, 12, lr->event_name);
    w_unknown(w, &lr->base);
    w_end(w, m, 2);
}

/* ---- metrics ------------------------------------------------------------------------------- */

static void w_packed_fixed64(struct pbw *w, uint32_t field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    if (n > OTUS_OTLP_MAX_BODY / 8) {
        w->err = OTUS_ERR_TOO_BIG;
        return;
    }
    uint8_t *p = room(w, 15 + n * 8);
    if (!p)
        return;
    size_t k = put_varint(p, KEY(field, WT_LEN));
    k += put_varint(p + k, n * 8);
    for (size_t i = 0; i < n; i++, k += 8)
        put_le64(p + k, v[i]);
    w->b->len += k;
}

static void w_packed_doubles(struct pbw *w, uint32_t field, const double *v, size_t n)
{
    if (!n)
        return;
    if (n > OTUS_OTLP_MAX_BODY / 8) {
        w->err = OTUS_ERR_TOO_BIG;
        return;
    }
    uint8_t *p = room(w, 15 + n * 8);
    if (!p)
        return;
    size_t k = put_varint(p, KEY(field, WT_LEN));
    k += put_varint(p + k, n * 8);
    for (size_t i = 0; i < n; i++, k += 8)
        put_le64(p + k, double_bits(v[i]));
    w->b->len += k;
}

static void w_packed_varints(struct pbw *w, uint32_t field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    size_t m = w_begin(w, field, 1);
    for (size_t i = 0; i < n && !w->err; i++) {
        uint8_t *p = room(w, 10);
        if (p)
            w->b->len += put_varint(p, v[i]);
    }
    w_end(w, m, 1);
}

static void w_exemplars(struct pbw *w, uint32_t field, Exemplar *const *ex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Exemplar *e = ex[i];
        size_t m = w_begin(w, field, 1);
        w_fixed64(w, 2, e->time_unix_nano);
        if (e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE)
            w_fixed64_always(w, 3, double_bits(e->as_double));
        w_bytes(w, 4, &e->span_id);
        w_bytes(w, 5, &e->trace_id);
        if (e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT)
            w_fixed64_always(w, 6, (uint64_t)e->as_int);
        w_attrs(w, 7, e->filtered_attributes, e->n_filtered_attributes);
        w_unknown(w, &e->base);
        w_end(w, m, 1);
    }
}

static void w_number_points(struct pbw *w, NumberDataPoint *const *dps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const NumberDataPoint *p = dps[i];
        size_t m = w_begin(w, 1, 1);
        w_fixed64(w, 2, p->start_time_unix_nano);
        w_fixed64(w, 3, p->time_unix_nano);
        if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
            w_fixed64_always(w, 4, double_bits(p->as_double));
        w_exemplars(w, 5, p->exemplars, p->n_exemplars);
        if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
            w_fixed64_always(w, 6, (uint64_t)p->as_int);
        w_attrs(w, 7, p->attributes, p->n_attributes);
        w_varint(w, 8, p->flags);
        w_unknown(w, &p->base);
        w_end(w, m, 1);
    }
}

static void w_histogram_points(struct pbw *w, HistogramDataPoint *const *dps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const HistogramDataPoint *p = dps[i];
        size_t m = w_begin(w, 1, 2);
        w_fixed64(w, 2, p->start_time_unix_nano);
        w_fixed64(w, 3, p->time_unix_nano);
        w_fixed64(w, 4, p->count);
        if (p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM)
            w_fixed64_always(w, 5, double_bits(p->sum));
        w_packed_fixed64(w, 6, p->bucket_counts, p->n_bucket_counts);
        w_packed_doubles(w, 7, p->explicit_bounds, p->n_explicit_bounds);
        w_exemplars(w, 8, p->exemplars, p->n_exemplars);
        w_attrs(w, 9, p->attributes, p->n_attributes);
        w_varint(w, 10, p->flags);
        if (p->_min_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN)
            w_fixed64_always(w, 11, double_bits(p->min));
        if (p->_max_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX)
            w_fixed64_always(w, 12, double_bits(p->max));
        w_unknown(w, &p->base);
        w_end(w, m, 2);
    }
}

static void w_buckets(struct pbw *w, uint32_t field, const ExpBuckets *b)
{
    if (!b)
        return;
    size_t m = w_begin(w, field, 1);
    w_sint32(w, 1, b->offset);
    w_packed_varints(w, 2, b->bucket_counts, b->n_bucket_counts);
    w_unknown(w, &b->base);
    w_end(w, m, 1);
}

static void w_exp_histogram_points(struct pbw *w, ExpHistogramDataPoint *const *dps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ExpHistogramDataPoint *p = dps[i];
        size_t m = w_begin(w, 1, 2);
        w_attrs(w, 1, p->attributes, p->n_attributes);
        w_fixed64(w, 2, p->start_time_unix_nano);
        w_fixed64(w, 3, p->time_unix_nano);
        w_fixed64(w, 4, p->count);
        if (p->_sum_case ==
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM)
            w_fixed64_always(w, 5, double_bits(p->sum));
        w_sint32(w, 6, p->scale);
        w_fixed64(w, 7, p->zero_count);
        w_buckets(w, 8, p->positive);
        w_buckets(w, 9, p->negative);
        w_varint(w, 10, p->flags);
        w_exemplars(w, 11, p->exemplars, p->n_exemplars);
        if (p->_min_case ==
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN)
            w_fixed64_always(w, 12, double_bits(p->min));
        if (p->_max_case ==
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX)
            w_fixed64_always(w, 13, double_bits(p->max));
        w_double(w, 14, p->zero_threshold);
        w_unknown(w, &p->base);
        w_end(w, m, 2);
    }
}

static void w_summary_points(struct pbw *w, SummaryDataPoint *const *dps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const SummaryDataPoint *p = dps[i];
        size_t m = w_begin(w, 1, 2);
        w_fixed64(w, 2, p->start_time_unix_nano);
        w_fixed64(w, 3, p->time_unix_nano);
        w_fixed64(w, 4, p->count);
        w_double(w, 5, p->sum);
        for (size_t k = 0; k < p->n_quantile_values; k++) {
            const ValueAtQuantile *q = p->quantile_values[k];
            size_t qm = w_begin(w, 6, 1);
            w_double(w, 1, q->quantile);
            w_double(w, 2, q->value);
            w_unknown(w, &q->base);
            w_end(w, qm, 1);
        }
        w_attrs(w, 7, p->attributes, p->n_attributes);
        w_varint(w, 8, p->flags);
        w_unknown(w, &p->base);
        w_end(w, m, 2);
    }
}

static void w_metric(struct pbw *w, const Metric *mt)
{
    size_t m = w_begin(w, 2, 2);
    w_string(w, 1, mt->name);
    w_string(w, 2, mt->description);
    w_string(w, 3, mt->unit);
    switch (mt->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        if (mt->gauge) {
            size_t d = w_begin(w, 5, 3);
            w_number_points(w, mt->gauge->data_points, mt->gauge->n_data_points);
            w_unknown(w, &mt->gauge->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (mt->sum) {
            size_t d = w_begin(w, 7, 3);
            w_number_points(w, mt->sum->data_points, mt->sum->n_data_points);
            w_int32(w, 2, (int32_t)mt->sum->aggregation_temporality);
            w_varint(w, 3, mt->sum->is_monotonic ? 1 : 0);
            w_unknown(w, &mt->sum->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (mt->histogram) {
            size_t d = w_begin(w, 9, 3);
            w_histogram_points(w, mt->histogram->data_points, mt->histogram->n_data_points);
            w_int32(w, 2, (int32_t)mt->histogram->aggregation_temporality);
            w_unknown(w, &mt->histogram->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        if (mt->exponential_histogram) {
            const Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *eh =
                mt->exponential_histogram;
            size_t d = w_begin(w, 10, 3);
            w_exp_histogram_points(w, eh->data_points, eh->n_data_points);
            w_int32(w, 2, (int32_t)eh->aggregation_temporality);
            w_unknown(w, &eh->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        if (mt->summary) {
            size_t d = w_begin(w, 11, 3);
            w_summary_points(w, mt->summary->data_points, mt->summary->n_data_points);
            w_unknown(w, &mt->summary->base);
            w_end(w, d, 3);
        }
        break;
    default:
        break;
    }
    w_attrs(w, 12, mt->metadata, mt->n_metadata);
    w_unknown(w, &mt->base);
    w_end(w, m, 2);
}

/* ---- content hashing and equality, for grouping ------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t f = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        f = (f ^ s[i]) * 0x100000001b3ull;
    return mix(h, f ^ n);
}

static inline uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s ? s : "", s ? strlen(s) : 0);
}

static inline int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static inline int bin_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static uint64_t hash_unknown(uint64_t h, const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        h = mix(h, ((uint64_t)u->tag << 3) | u->wire_type);
        h = hash_bytes(h, u->data, u->len);
    }
    return h;
}

static int unknown_eq(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (a->n_unknown_fields != b->n_unknown_fields)
        return 0;
    for (unsigned i = 0; i < a->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *x = &a->unknown_fields[i], *y = &b->unknown_fields[i];
        if (x->tag != y->tag || x->wire_type != y->wire_type || x->len != y->len ||
            (x->len && memcmp(x->data, y->data, x->len) != 0))
            return 0;
    }
    return 1;
}

static uint64_t hash_kvs(uint64_t h, KeyValue *const *kvs, size_t n, unsigned depth);

static uint64_t hash_any(uint64_t h, const AnyValue *v, unsigned depth)
{
    if (!v || depth > OTUS_OTLP_MAX_DEPTH)
        return mix(h, 0);
    h = mix(h, (uint64_t)v->value_case + 1);
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return hash_str(h, v->string_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return mix(h, v->bool_value ? 1 : 0);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return mix(h, (uint64_t)v->int_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        return mix(h, double_bits(v->double_value));
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (v->array_value)
            for (size_t i = 0; i < v->array_value->n_values; i++)
                h = hash_any(h, v->array_value->values[i], depth + 1);
        return h;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (v->kvlist_value)
            h = hash_kvs(h, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        return h;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return hash_bytes(h, v->bytes_value.data, v->bytes_value.len);
    default:
        return h;
    }
}

static uint64_t hash_kvs(uint64_t h, KeyValue *const *kvs, size_t n, unsigned depth)
{
    h = mix(h, n);
    for (size_t i = 0; i < n; i++) {
        h = hash_str(h, kvs[i]->key);
        h = hash_any(h, kvs[i]->value, depth);
    }
    return h;
}

static int kvs_eq(KeyValue *const *a, size_t na, KeyValue *const *b, size_t nb, unsigned depth);

/* Equal content, as written: same members set, same values, same unknown fields. */
static int any_eq(const AnyValue *a, const AnyValue *b, unsigned depth)
{
    if (!a || !b)
        return a == b;
    if (depth > OTUS_OTLP_MAX_DEPTH || a->value_case != b->value_case ||
        !unknown_eq(&a->base, &b->base))
        return 0;
    switch (a->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return (a->string_value == NULL) == (b->string_value == NULL) &&
               str_eq(a->string_value, b->string_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return !a->bool_value == !b->bool_value;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return a->int_value == b->int_value;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        return double_bits(a->double_value) == double_bits(b->double_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        const Opentelemetry__Proto__Common__V1__ArrayValue *x = a->array_value, *y = b->array_value;
        if (!x || !y)
            return x == y;
        if (x->n_values != y->n_values || !unknown_eq(&x->base, &y->base))
            return 0;
        for (size_t i = 0; i < x->n_values; i++)
            if (!any_eq(x->values[i], y->values[i], depth + 1))
                return 0;
        return 1;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        const Opentelemetry__Proto__Common__V1__KeyValueList *x = a->kvlist_value,
                                                             *y = b->kvlist_value;
        if (!x || !y)
            return x == y;
        return unknown_eq(&x->base, &y->base) &&
               kvs_eq(x->values, x->n_values, y->values, y->n_values, depth + 1);
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return bin_eq(&a->bytes_value, &b->bytes_value);
    default:
        return 1;
    }
}

static int kvs_eq(KeyValue *const *a, size_t na, KeyValue *const *b, size_t nb, unsigned depth)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i]->key, b[i]->key) || !unknown_eq(&a[i]->base, &b[i]->base) ||
            !any_eq(a[i]->value, b[i]->value, depth))
            return 0;
    return 1;
}

static int strs_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return 0;
    return 1;
}

static uint64_t hash_resource(uint64_t h, const Resource *r)
{
    if (!r)
        return mix(h, 1);
    h = hash_kvs(h, r->attributes, r->n_attributes, 1);
    h = mix(h, r->dropped_attributes_count);
    for (size_t i = 0; i < r->n_entity_refs; i++) {
        h = hash_str(h, r->entity_refs[i]->type);
        h = hash_str(h, r->entity_refs[i]->schema_url);
    }
    return hash_unknown(h, &r->base);
}

static int resource_eq(const Resource *a, const Resource *b)
{
    if (!a || !b)
        return a == b;
    if (a->dropped_attributes_count != b->dropped_attributes_count ||
        a->n_entity_refs != b->n_entity_refs || !unknown_eq(&a->base, &b->base) ||
        !kvs_eq(a->attributes, a->n_attributes, b->attributes, b->n_attributes, 1))
        return 0;
    for (size_t i = 0; i < a->n_entity_refs; i++) {
        const EntityRef *x = a->entity_refs[i], *y = b->entity_refs[i];
        if (!str_eq(x->schema_url, y->schema_url) || !str_eq(x->type, y->type) ||
            !strs_eq(x->id_keys, x->n_id_keys, y->id_keys, y->n_id_keys) ||
            !strs_eq(x->description_keys, x->n_description_keys, y->description_keys,
                     y->n_description_keys) ||
            !unknown_eq(&x->base, &y->base))
            return 0;
    }
    return 1;
}

static uint64_t hash_scope(uint64_t h, const Scope *s)
{
    if (!s)
        return mix(h, 1);
    h = hash_str(h, s->name);
    h = hash_str(h, s->version);
    h = hash_kvs(h, s->attributes, s->n_attributes, 1);
    h = mix(h, s->dropped_attributes_count);
    return hash_unknown(h, &s->base);
}

static int scope_eq(const Scope *a, const Scope *b)
{
    if (!a || !b)
        return a == b;
    return str_eq(a->name, b->name) && str_eq(a->version, b->version) &&
           a->dropped_attributes_count == b->dropped_attributes_count &&
           unknown_eq(&a->base, &b->base) &&
           kvs_eq(a->attributes, a->n_attributes, b->attributes, b->n_attributes, 1);
}

/* ---- grouping ------------------------------------------------------------------------------ */

/*
 * The three signals share one shape: a request holds resource entries (resource = 1,
 * scope entries = 2, schema_url = 3), which hold scope entries (scope = 1, records = 2,
 * schema_url = 3). These views read that shape from any of them.
 */
struct rview {
    const ProtobufCMessage *msg;
    const Resource *resource;
    const char *schema_url;
    size_t nscopes;
    void *const *scopes;
};

struct sview {
    const ProtobufCMessage *msg;
    const Scope *scope;
    const char *schema_url;
    size_t nrecords;
    void *const *records;
};

static void rview_of(enum otus_signal s, const void *p, struct rview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES: {
        const ResourceSpans *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_spans,
                            (void *const *)r->scope_spans};
        break;
    }
    case OTUS_SIGNAL_METRICS: {
        const ResourceMetrics *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_metrics,
                            (void *const *)r->scope_metrics};
        break;
    }
    case OTUS_SIGNAL_LOGS: {
        const ResourceLogs *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_logs,
                            (void *const *)r->scope_logs};
        break;
    }
    }
}

static void sview_of(enum otus_signal s, const void *p, struct sview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES: {
        const ScopeSpans *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_spans, (void *const *)x->spans};
        break;
    }
    case OTUS_SIGNAL_METRICS: {
        const ScopeMetrics *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_metrics,
                            (void *const *)x->metrics};
        break;
    }
    case OTUS_SIGNAL_LOGS: {
        const ScopeLogs *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_log_records,
                            (void *const *)x->log_records};
        break;
    }
    }
}

/* The resource entries of a request. */
static size_t request_entries(const struct otus_batch *b, void *const **out)
{
    switch (b->signal) {
    case OTUS_SIGNAL_TRACES:
        *out = b->req.traces ? (void *const *)b->req.traces->resource_spans : NULL;
        return b->req.traces ? b->req.traces->n_resource_spans : 0;
    case OTUS_SIGNAL_METRICS:
        *out = b->req.metrics ? (void *const *)b->req.metrics->resource_metrics : NULL;
        return b->req.metrics ? b->req.metrics->n_resource_metrics : 0;
    case OTUS_SIGNAL_LOGS:
        *out = b->req.logs ? (void *const *)b->req.logs->resource_logs : NULL;
        return b->req.logs ? b->req.logs->n_resource_logs : 0;
    }
    *out = NULL;
    return 0;
}

struct member {
    const void *scope_entry; /* ScopeSpans, ScopeMetrics or ScopeLogs */
    struct member *next;
};

struct sgroup {
    struct sview first; /* scope, schema URL and unknown fields written */
    uint64_t hash;
    struct member *head, *tail;
    struct sgroup *next;
};

struct rgroup {
    struct rview first;
    uint64_t hash;
    struct sgroup *scopes, *scopes_tail;
    struct rgroup *next;
};

static void *scratch_alloc(struct otlp_encoder *e, size_t n)
{
    void *p = otus_arena_alloc(&e->scratch, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static int add_scope(struct otlp_encoder *e, enum otus_signal s, struct rgroup *rg,
                     const void *entry)
{
    struct sview v;
    sview_of(s, entry, &v);
    uint64_t h = hash_str(hash_scope(0, v.scope), v.schema_url);
    h = hash_unknown(h, v.msg);
    struct sgroup *g;
    for (g = rg->scopes; g; g = g->next)
        if (g->hash == h && scope_eq(g->first.scope, v.scope) &&
            str_eq(g->first.schema_url, v.schema_url) && unknown_eq(g->first.msg, v.msg))
            break;
    if (!g) {
        g = scratch_alloc(e, sizeof(*g));
        if (!g)
            return OTUS_ERR_NOMEM;
        g->first = v;
        g->hash = h;
        if (rg->scopes_tail)
            rg->scopes_tail->next = g;
        else
            rg->scopes = g;
        rg->scopes_tail = g;
    }
    struct member *m = scratch_alloc(e, sizeof(*m));
    if (!m)
        return OTUS_ERR_NOMEM;
    m->scope_entry = entry;
    if (g->tail)
        g->tail->next = m;
    else
        g->head = m;
    g->tail = m;
    return 0;
}

/* Builds the resource groups of batches[0..n) in order of first appearance. */
static int group(struct otlp_encoder *e, enum otus_signal s, struct otus_batch *const *batches,
                 size_t n, struct rgroup **out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        void *const *entries;
        total += request_entries(batches[i], &entries);
    }
    size_t slots = 16;
    while (slots < total * 2)
        slots *= 2;
    struct rgroup **table = scratch_alloc(e, slots * sizeof(*table));
    if (!table)
        return OTUS_ERR_NOMEM;
    struct rgroup *head = NULL, *tail = NULL;
    for (size_t i = 0; i < n; i++) {
        void *const *entries;
        size_t ne = request_entries(batches[i], &entries);
        for (size_t k = 0; k < ne; k++) {
            struct rview v;
            rview_of(s, entries[k], &v);
            uint64_t h = hash_str(hash_resource(0, v.resource), v.schema_url);
            h = hash_unknown(h, v.msg);
            size_t slot = (size_t)h & (slots - 1);
            struct rgroup *g;
            while ((g = table[slot]) != NULL) {
                if (g->hash == h && resource_eq(g->first.resource, v.resource) &&
                    str_eq(g->first.schema_url, v.schema_url) && unknown_eq(g->first.msg, v.msg))
                    break;
                slot = (slot + 1) & (slots - 1);
            }
            if (!g) {
                g = scratch_alloc(e, sizeof(*g));
                if (!g)
                    return OTUS_ERR_NOMEM;
                g->first = v;
                g->hash = h;
                table[slot] = g;
                if (tail)
                    tail->next = g;
                else
                    head = g;
                tail = g;
            }
            for (size_t j = 0; j < v.nscopes; j++) {
                int rc = add_scope(e, s, g, v.scopes[j]);
                if (rc)
                    return rc;
            }
        }
    }
    *out = head;
    return 0;
}

static void w_records(struct pbw *w, enum otus_signal s, const struct sview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            w_span(w, v->records[i]);
        break;
    case OTUS_SIGNAL_METRICS:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            w_metric(w, v->records[i]);
        break;
    case OTUS_SIGNAL_LOGS:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            w_log_record(w, v->records[i]);
        break;
    }
}

void otus__otlp_encoder_init(struct otlp_encoder *e)
{
    otus_arena_init(&e->scratch, 64 * 1024, 256u << 20);
}

void otus__otlp_encoder_destroy(struct otlp_encoder *e)
{
    otus_arena_destroy(&e->scratch);
}

int otus__otlp_encode(struct otlp_encoder *e, enum otus_signal s, struct otus_batch *const *batches,
                      size_t n, struct otus_buf *out)
{
    size_t base = out->len;
    otus_arena_reset(&e->scratch);
    struct rgroup *groups = NULL;
    int rc = group(e, s, batches, n, &groups);
    if (rc)
        return rc;
    /* The decoded size bounds the encoded size closely enough to reserve once. */
    size_t guess = 0;
    for (size_t i = 0; i < n; i++)
        guess += batches[i]->charged;
    if (guess > (64u << 20))
        guess = 64u << 20;
    struct pbw w = {.b = out};
    if (guess)
        room(&w, guess);
    w.err = 0; /* a failed guess is no failure: the writer grows as it goes */
    for (struct rgroup *rg = groups; rg && !w.err; rg = rg->next) {
        size_t rm = w_begin(&w, 1, 3);
        if (rg->first.resource)
            w_resource(&w, rg->first.resource);
        for (struct sgroup *sg = rg->scopes; sg && !w.err; sg = sg->next) {
            size_t sm = w_begin(&w, 2, 3);
            if (sg->first.scope)
                w_scope(&w, sg->first.scope);
            for (struct member *m = sg->head; m && !w.err; m = m->next) {
                struct sview v;
                sview_of(s, m->scope_entry, &v);
                w_records(&w, s, &v);
            }
            w_string(&w, 3, sg->first.schema_url);
            w_unknown(&w, sg->first.msg);
            w_end(&w, sm, 3);
        }
        w_string(&w, 3, rg->first.schema_url);
        w_unknown(&w, rg->first.msg);
        w_end(&w, rm, 3);
    }
    if (!w.err && out->len - base > OTUS_OTLP_MAX_BODY)
        w.err = OTUS_ERR_TOO_BIG;
    if (w.err)
        out->len = base;
    return w.err;
}

/* ---- answers ------------------------------------------------------------------------------- */

static void copy_msg(char *msg, size_t msglen, const char *s, size_t n)
{
    if (!msglen)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < msglen; i++) {
        unsigned char c = (unsigned char)s[i];
        msg[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    msg[k] = '\0';
}

static const ProtobufCMessageDescriptor *const response_desc[OTUS_SIGNAL_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor,
};

static int parse_json_response(enum otus_signal s, const void *body, size_t len, int64_t *rejected,
                               char *msg, size_t msglen)
{
    static const char *const camel[] = {"rejectedSpans", "rejectedDataPoints",
                                        "rejectedLogRecords"};
    static const char *const snake[] = {"rejected_spans", "rejected_data_points",
                                        "rejected_log_records"};
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return OTUS_ERR_PARSE;
    }
    json_t *ps = json_object_get(root, "partialSuccess");
    if (!ps)
        ps = json_object_get(root, "partial_success");
    if (ps && json_is_object(ps)) {
        json_t *r = json_object_get(ps, camel[s]);
        if (!r)
            r = json_object_get(ps, snake[s]);
        if (json_is_integer(r))
            *rejected = (int64_t)json_integer_value(r);
        else if (json_is_string(r))
            *rejected = strtoll(json_string_value(r), NULL, 10);
        else if (json_is_real(r))
            *rejected = (int64_t)json_real_value(r);
        json_t *m = json_object_get(ps, "errorMessage");
        if (!m)
            m = json_object_get(ps, "error_message");
        if (json_is_string(m))
            copy_msg(msg, msglen, json_string_value(m), json_string_length(m));
    }
    json_decref(root);
    return 0;
}

int otus__otlp_parse_response(enum otus_signal s, const void *body, size_t len, int json,
                              int64_t *rejected, char *msg, size_t msglen)
{
    *rejected = 0;
    if (msglen)
        msg[0] = '\0';
    if (len == 0)
        return 0;
    int rc = 0;
    if (json) {
        rc = parse_json_response(s, body, len, rejected, msg, msglen);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(response_desc[s], NULL, len, body);
        if (!m)
            return OTUS_ERR_PARSE;
        int64_t r = 0;
        const char *em = NULL;
        switch (s) {
        case OTUS_SIGNAL_TRACES: {
            const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_spans;
                em = t->partial_success->error_message;
            }
            break;
        }
        case OTUS_SIGNAL_METRICS: {
            const Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_data_points;
                em = t->partial_success->error_message;
            }
            break;
        }
        case OTUS_SIGNAL_LOGS: {
            const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_log_records;
                em = t->partial_success->error_message;
            }
            break;
        }
        }
        *rejected = r;
        if (em)
            copy_msg(msg, msglen, em, strlen(em));
        protobuf_c_message_free_unpacked(m, NULL);
    }
    if (*rejected < 0)
        *rejected = 0;
    return rc;
}

void otus__otlp_failure_text(const void *body, size_t len, const char *content_type, char *msg,
                             size_t msglen)
{
    if (!msglen)
        return;
    msg[0] = '\0';
    if (len == 0)
        return;
    const char *ct = content_type ? content_type : "";
    if (strstr(ct, "protobuf")) {
        Google__Rpc__Status *st = google__rpc__status__unpack(NULL, len, body);
        if (st) {
            if (st->message)
                copy_msg(msg, msglen, st->message, strlen(st->message));
            google__rpc__status__free_unpacked(st, NULL);
            return;
        }
    } else if (strstr(ct, "json")) {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, 0, &jerr);
        json_t *m = root ? json_object_get(root, "message") : NULL;
        if (json_is_string(m)) {
            copy_msg(msg, msglen, json_string_value(m), json_string_length(m));
            json_decref(root);
            return;
        }
        json_decref(root);
    }
    copy_msg(msg, msglen, body, len);
}
