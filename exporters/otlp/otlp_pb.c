/*
 * otlp_pb.c: the OTLP exporter's protobuf writer for the OTLP messages (otlp_pb.h):
 * attributes and values, resource, scope, spans, log records and metrics of every
 * kind, with the fast path for the common attribute (a string, int, bool or double
 * value with nothing unknown), whose lengths are known before it is written.
 */
#include <string.h>

#include <otus.h>

#include "exporters/otlp/otlp_pb.h"

/* ---- primitives that are not inline ------------------------------------------------------- */

/* Ends the nested message begun at start when its length does not fit the bytes
 * reserved for it: the content moves. */
void otus__otlp_pb_end_slow(struct pbw *w, size_t start, unsigned reserve)
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

/* Unknown fields kept by the decoder go after the known ones, as protobuf-c puts them. */
void otus__otlp_pb_unknown(struct pbw *w, const ProtobufCMessage *m)
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
    if (depth > OTUS_OTLP_WRITE_MAX_DEPTH) {
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
            otus__otlp_pb_unknown(w, &v->array_value->base);
            w_end(w, m, 2);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (v->kvlist_value) {
            size_t m = w_begin(w, 6, 2);
            w_keyvalues(w, 1, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
            otus__otlp_pb_unknown(w, &v->kvlist_value->base);
            w_end(w, m, 2);
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        w_len_always(w, 7, v->bytes_value.data, v->bytes_value.len);
        break;
    default:
        break;
    }
    otus__otlp_pb_unknown(w, &v->base);
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
        otus__otlp_pb_unknown(w, &kv->base);
        w_end(w, m, 1);
    }
}

static inline void w_attrs(struct pbw *w, uint32_t field, KeyValue *const *kvs, size_t n)
{
    w_keyvalues(w, field, kvs, n, 1);
}

void otus__otlp_pb_scope(struct pbw *w, const Scope *s)
{
    size_t m = w_begin(w, 1, 1);
    w_string(w, 1, s->name);
    w_string(w, 2, s->version);
    w_attrs(w, 3, s->attributes, s->n_attributes);
    w_varint(w, 4, s->dropped_attributes_count);
    otus__otlp_pb_unknown(w, &s->base);
    w_end(w, m, 1);
}

void otus__otlp_pb_resource(struct pbw *w, const Resource *r)
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
        otus__otlp_pb_unknown(w, &e->base);
        w_end(w, em, 1);
    }
    otus__otlp_pb_unknown(w, &r->base);
    w_end(w, m, 2);
}

/* ---- traces -------------------------------------------------------------------------------- */

void otus__otlp_pb_span(struct pbw *w, const Span *sp)
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
        otus__otlp_pb_unknown(w, &ev->base);
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
        otus__otlp_pb_unknown(w, &ln->base);
        w_end(w, l, 1);
    }
    w_varint(w, 14, sp->dropped_links_count);
    if (sp->status) {
        size_t st = w_begin(w, 15, 1);
        w_string(w, 2, sp->status->message);
        w_int32(w, 3, (int32_t)sp->status->code);
        otus__otlp_pb_unknown(w, &sp->status->base);
        w_end(w, st, 1);
    }
    w_fixed32(w, 16, sp->flags);
    otus__otlp_pb_unknown(w, &sp->base);
    w_end(w, m, 2);
}

/* ---- logs ---------------------------------------------------------------------------------- */

void otus__otlp_pb_log_record(struct pbw *w, const LogRecord *lr)
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
    otus__otlp_pb_unknown(w, &lr->base);
    w_end(w, m, 2);
}

/* ---- metrics ------------------------------------------------------------------------------- */

/* A packed repeated fixed64 or double: n elements of 8 bytes at v (a double's bits
 * are its IEEE 754 encoding, which is what the wire carries). */
_Static_assert(sizeof(double) == 8, "a double is 8 bytes on the wire");

static void w_packed_8byte(struct pbw *w, uint32_t field, const void *v, size_t n)
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
    const unsigned char *src = v;
    for (size_t i = 0; i < n; i++, k += 8) {
        uint64_t bits;
        memcpy(&bits, src + 8 * i, sizeof(bits));
        put_le64(p + k, bits);
    }
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
        otus__otlp_pb_unknown(w, &e->base);
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
        otus__otlp_pb_unknown(w, &p->base);
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
        w_packed_8byte(w, 6, p->bucket_counts, p->n_bucket_counts);
        w_packed_8byte(w, 7, p->explicit_bounds, p->n_explicit_bounds);
        w_exemplars(w, 8, p->exemplars, p->n_exemplars);
        w_attrs(w, 9, p->attributes, p->n_attributes);
        w_varint(w, 10, p->flags);
        if (p->_min_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN)
            w_fixed64_always(w, 11, double_bits(p->min));
        if (p->_max_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX)
            w_fixed64_always(w, 12, double_bits(p->max));
        otus__otlp_pb_unknown(w, &p->base);
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
    otus__otlp_pb_unknown(w, &b->base);
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
        otus__otlp_pb_unknown(w, &p->base);
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
            otus__otlp_pb_unknown(w, &q->base);
            w_end(w, qm, 1);
        }
        w_attrs(w, 7, p->attributes, p->n_attributes);
        w_varint(w, 8, p->flags);
        otus__otlp_pb_unknown(w, &p->base);
        w_end(w, m, 2);
    }
}

void otus__otlp_pb_metric(struct pbw *w, const Metric *mt)
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
            otus__otlp_pb_unknown(w, &mt->gauge->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (mt->sum) {
            size_t d = w_begin(w, 7, 3);
            w_number_points(w, mt->sum->data_points, mt->sum->n_data_points);
            w_int32(w, 2, (int32_t)mt->sum->aggregation_temporality);
            w_varint(w, 3, mt->sum->is_monotonic ? 1 : 0);
            otus__otlp_pb_unknown(w, &mt->sum->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (mt->histogram) {
            size_t d = w_begin(w, 9, 3);
            w_histogram_points(w, mt->histogram->data_points, mt->histogram->n_data_points);
            w_int32(w, 2, (int32_t)mt->histogram->aggregation_temporality);
            otus__otlp_pb_unknown(w, &mt->histogram->base);
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
            otus__otlp_pb_unknown(w, &eh->base);
            w_end(w, d, 3);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        if (mt->summary) {
            size_t d = w_begin(w, 11, 3);
            w_summary_points(w, mt->summary->data_points, mt->summary->n_data_points);
            otus__otlp_pb_unknown(w, &mt->summary->base);
            w_end(w, d, 3);
        }
        break;
    default:
        break;
    }
    w_attrs(w, 12, mt->metadata, mt->n_metadata);
    otus__otlp_pb_unknown(w, &mt->base);
    w_end(w, m, 2);
}
