/*
 * test_otlp_export_encode.c: the OTLP exporter's protobuf writer and merging
 * (exporters/otlp/otlp_encode.c), without any network.
 *
 * The writer is checked byte for byte against protobuf-c: random requests of every
 * signal, covering every field of every message (zero and non-zero values, every
 * AnyValue kind nested, unknown fields, lengths that need more or fewer bytes than
 * reserved), are packed with protobuf_c_message_pack(), decoded into a batch as the
 * receiver does, and written again by the exporter; the bytes must be equal. Merging
 * is checked by decoding what the exporter wrote for several batches.
 */
#include "otus_test.h"

#include <math.h>

#include <otus.h>

#include "agent/batch.h"
#include "common/arena.h"
#include "common/buf.h"
#include "exporters/otlp/otlp.h"
#include "google/rpc/status.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

/* ---- a random request generator ----------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static void *alloc(struct otus_arena *a, size_t n)
{
    void *p = otus_arena_alloc(a, n);
    assert_non_null(p);
    memset(p, 0, n);
    return p;
}

/* Strings of every length class: empty, short, over 127 and over 16383 bytes. */
static char *rstr(struct otus_arena *a)
{
    static const size_t lens[] = {0, 1, 5, 12, 40, 130, 300, 17000};
    size_t n = lens[rn(rn(8) == 0 ? 8 : 6)];
    char *s = alloc(a, n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + rn(26));
    s[n] = '\0';
    return s;
}

static ProtobufCBinaryData rbytes(struct otus_arena *a, size_t n)
{
    ProtobufCBinaryData d = {n, NULL};
    if (n) {
        d.data = alloc(a, n);
        for (size_t i = 0; i < n; i++)
            d.data[i] = (uint8_t)rnd();
    }
    return d;
}

static uint64_t ru64(void)
{
    switch (rn(5)) {
    case 0:
        return 0;
    case 1:
        return rn(128);
    case 2:
        return rn(1u << 20);
    case 3:
        return rnd() >> rn(64);
    default:
        return rnd();
    }
}

/* Doubles of a plain field: never -0.0, which the exporter keeps and protobuf-c drops. */
static double rdouble(void)
{
    static const double special[] = {0.0, 1.0, -2.5, 1e300, 5e-324};
    if (rn(3) == 0)
        return special[rn(5)];
    double d = (double)(int64_t)rnd() / 1e6;
    return d == 0.0 ? 0.0 : d;
}

static double roneof_double(void)
{
    return rn(4) == 0 ? -0.0 : rn(4) == 0 ? NAN : rdouble();
}

static void add_unknown(struct otus_arena *a, ProtobufCMessage *m)
{
    if (rn(6))
        return;
    ProtobufCMessageUnknownField *u = alloc(a, sizeof(*u));
    u->tag = 900 + rn(50);
    u->wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    u->len = 1;
    u->data = alloc(a, 1);
    u->data[0] = (uint8_t)rn(128);
    m->n_unknown_fields = 1;
    m->unknown_fields = u;
}

static KeyValue **rkvs(struct otus_arena *a, size_t n, unsigned depth);

static AnyValue *rany(struct otus_arena *a, unsigned depth)
{
    AnyValue *v = alloc(a, sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    switch (rn(depth > 3 ? 5 : 8)) {
    case 0:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v->string_value = rstr(a);
        break;
    case 1:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        v->bool_value = rn(2);
        break;
    case 2:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v->int_value = rn(2) ? -(int64_t)ru64() : (int64_t)ru64();
        break;
    case 3:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        v->double_value = roneof_double();
        break;
    case 4:
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        v->bytes_value = rbytes(a, rn(20));
        break;
    case 5:
    case 6: {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        Opentelemetry__Proto__Common__V1__ArrayValue *arr = alloc(a, sizeof(*arr));
        opentelemetry__proto__common__v1__array_value__init(arr);
        arr->n_values = rn(4);
        arr->values = alloc(a, (arr->n_values + 1) * sizeof(AnyValue *));
        for (size_t i = 0; i < arr->n_values; i++)
            arr->values[i] = rany(a, depth + 1);
        v->array_value = arr;
        break;
    }
    default: {
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        Opentelemetry__Proto__Common__V1__KeyValueList *kl = alloc(a, sizeof(*kl));
        opentelemetry__proto__common__v1__key_value_list__init(kl);
        kl->n_values = rn(4);
        kl->values = rkvs(a, kl->n_values, depth + 1);
        v->kvlist_value = kl;
        break;
    }
    }
    return v;
}

static KeyValue **rkvs(struct otus_arena *a, size_t n, unsigned depth)
{
    KeyValue **kvs = alloc(a, (n + 1) * sizeof(*kvs));
    for (size_t i = 0; i < n; i++) {
        kvs[i] = alloc(a, sizeof(KeyValue));
        opentelemetry__proto__common__v1__key_value__init(kvs[i]);
        kvs[i]->key = rstr(a);
        kvs[i]->value = rn(10) ? rany(a, depth) : NULL;
        add_unknown(a, &kvs[i]->base);
    }
    return kvs;
}

#define RKVS(a, obj, field)                                                                        \
    do {                                                                                           \
        (obj)->n_##field = rn(5);                                                                  \
        (obj)->field = rkvs(a, (obj)->n_##field, 1);                                               \
    } while (0)

/* A resource made unique by its "i" attribute, so nothing in a request merges. */
static Resource *rresource(struct otus_arena *a, unsigned unique)
{
    Resource *r = alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    RKVS(a, r, attributes);
    KeyValue **kvs = alloc(a, (r->n_attributes + 2) * sizeof(*kvs));
    memcpy(kvs, r->attributes, r->n_attributes * sizeof(*kvs));
    kvs[r->n_attributes] = alloc(a, sizeof(KeyValue));
    opentelemetry__proto__common__v1__key_value__init(kvs[r->n_attributes]);
    kvs[r->n_attributes]->key = "i";
    AnyValue *v = alloc(a, sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = unique;
    kvs[r->n_attributes]->value = v;
    r->attributes = kvs;
    r->n_attributes++;
    r->dropped_attributes_count = (uint32_t)ru64();
    r->n_entity_refs = rn(3);
    r->entity_refs = alloc(a, (r->n_entity_refs + 1) * sizeof(void *));
    for (size_t i = 0; i < r->n_entity_refs; i++) {
        Opentelemetry__Proto__Common__V1__EntityRef *e = alloc(a, sizeof(*e));
        opentelemetry__proto__common__v1__entity_ref__init(e);
        e->schema_url = rstr(a);
        e->type = rstr(a);
        e->n_id_keys = rn(3);
        e->id_keys = alloc(a, (e->n_id_keys + 1) * sizeof(char *));
        for (size_t k = 0; k < e->n_id_keys; k++)
            e->id_keys[k] = rstr(a);
        e->n_description_keys = rn(3);
        e->description_keys = alloc(a, (e->n_description_keys + 1) * sizeof(char *));
        for (size_t k = 0; k < e->n_description_keys; k++)
            e->description_keys[k] = rstr(a);
        r->entity_refs[i] = e;
    }
    add_unknown(a, &r->base);
    return r;
}

static Scope *rscope(struct otus_arena *a, unsigned unique)
{
    Scope *s = alloc(a, sizeof(*s));
    opentelemetry__proto__common__v1__instrumentation_scope__init(s);
    s->name = alloc(a, 24);
    snprintf(s->name, 24, "scope-%u", unique);
    s->version = rstr(a);
    RKVS(a, s, attributes);
    s->dropped_attributes_count = (uint32_t)ru64();
    add_unknown(a, &s->base);
    return s;
}

static Span *rspan(struct otus_arena *a)
{
    Span *sp = alloc(a, sizeof(*sp));
    opentelemetry__proto__trace__v1__span__init(sp);
    sp->trace_id = rbytes(a, rn(5) ? 16 : 0);
    sp->span_id = rbytes(a, rn(5) ? 8 : 0);
    sp->trace_state = rstr(a);
    sp->parent_span_id = rbytes(a, rn(2) ? 8 : 0);
    sp->flags = (uint32_t)ru64();
    sp->name = rstr(a);
    sp->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)rn(6);
    sp->start_time_unix_nano = ru64();
    sp->end_time_unix_nano = ru64();
    RKVS(a, sp, attributes);
    sp->dropped_attributes_count = (uint32_t)ru64();
    sp->n_events = rn(3);
    sp->events = alloc(a, (sp->n_events + 1) * sizeof(void *));
    for (size_t i = 0; i < sp->n_events; i++) {
        Opentelemetry__Proto__Trace__V1__Span__Event *ev = alloc(a, sizeof(*ev));
        opentelemetry__proto__trace__v1__span__event__init(ev);
        ev->time_unix_nano = ru64();
        ev->name = rstr(a);
        RKVS(a, ev, attributes);
        ev->dropped_attributes_count = (uint32_t)ru64();
        sp->events[i] = ev;
    }
    sp->dropped_events_count = (uint32_t)ru64();
    sp->n_links = rn(3);
    sp->links = alloc(a, (sp->n_links + 1) * sizeof(void *));
    for (size_t i = 0; i < sp->n_links; i++) {
        Opentelemetry__Proto__Trace__V1__Span__Link *l = alloc(a, sizeof(*l));
        opentelemetry__proto__trace__v1__span__link__init(l);
        l->trace_id = rbytes(a, 16);
        l->span_id = rbytes(a, 8);
        l->trace_state = rstr(a);
        RKVS(a, l, attributes);
        l->dropped_attributes_count = (uint32_t)ru64();
        l->flags = (uint32_t)ru64();
        sp->links[i] = l;
    }
    sp->dropped_links_count = (uint32_t)ru64();
    if (rn(3)) {
        Opentelemetry__Proto__Trace__V1__Status *st = alloc(a, sizeof(*st));
        opentelemetry__proto__trace__v1__status__init(st);
        st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)rn(3);
        st->message = rstr(a);
        sp->status = st;
    }
    add_unknown(a, &sp->base);
    return sp;
}

static LogRecord *rlog(struct otus_arena *a)
{
    LogRecord *lr = alloc(a, sizeof(*lr));
    opentelemetry__proto__logs__v1__log_record__init(lr);
    lr->time_unix_nano = ru64();
    lr->observed_time_unix_nano = ru64();
    lr->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)rn(25);
    lr->severity_text = rstr(a);
    lr->body = rn(5) ? rany(a, 1) : NULL;
    RKVS(a, lr, attributes);
    lr->dropped_attributes_count = (uint32_t)ru64();
    lr->flags = (uint32_t)ru64();
    lr->trace_id = rbytes(a, rn(2) ? 16 : 0);
    lr->span_id = rbytes(a, rn(2) ? 8 : 0);
    lr->event_name = rstr(a);
    add_unknown(a, &lr->base);
    return lr;
}

static Opentelemetry__Proto__Metrics__V1__Exemplar **rexemplars(struct otus_arena *a, size_t n)
{
    Opentelemetry__Proto__Metrics__V1__Exemplar **ex = alloc(a, (n + 1) * sizeof(*ex));
    for (size_t i = 0; i < n; i++) {
        ex[i] = alloc(a, sizeof(**ex));
        opentelemetry__proto__metrics__v1__exemplar__init(ex[i]);
        RKVS(a, ex[i], filtered_attributes);
        ex[i]->time_unix_nano = ru64();
        ex[i]->span_id = rbytes(a, 8);
        ex[i]->trace_id = rbytes(a, 16);
        switch (rn(3)) {
        case 0:
            ex[i]->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
            ex[i]->as_double = roneof_double();
            break;
        case 1:
            ex[i]->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
            ex[i]->as_int = -(int64_t)ru64();
            break;
        default:
            break;
        }
    }
    return ex;
}

static uint64_t *ru64s(struct otus_arena *a, size_t n)
{
    uint64_t *v = alloc(a, (n + 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = ru64();
    return v;
}

static Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *
rbuckets(struct otus_arena *a)
{
    if (!rn(3))
        return NULL;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b =
        alloc(a, sizeof(*b));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
    b->offset = (int32_t)(rn(2000)) - 1000;
    b->n_bucket_counts = rn(200);
    b->bucket_counts = ru64s(a, b->n_bucket_counts);
    return b;
}

#define SET_OPT_DOUBLE(p, field, CASE)                                                             \
    do {                                                                                           \
        if (rn(2)) {                                                                               \
            (p)->_##field##_case = CASE;                                                           \
            (p)->field = roneof_double();                                                          \
        }                                                                                          \
    } while (0)

static Metric *rmetric(struct otus_arena *a)
{
    Metric *m = alloc(a, sizeof(*m));
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = rstr(a);
    m->description = rstr(a);
    m->unit = rstr(a);
    RKVS(a, m, metadata);
    size_t n = rn(4);
    switch (rn(6)) {
    case 0:
    case 1: {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint **dps = alloc(a, (n + 1) * sizeof(*dps));
        for (size_t i = 0; i < n; i++) {
            dps[i] = alloc(a, sizeof(**dps));
            opentelemetry__proto__metrics__v1__number_data_point__init(dps[i]);
            RKVS(a, dps[i], attributes);
            dps[i]->start_time_unix_nano = ru64();
            dps[i]->time_unix_nano = ru64();
            dps[i]->flags = (uint32_t)ru64();
            dps[i]->n_exemplars = rn(3);
            dps[i]->exemplars = rexemplars(a, dps[i]->n_exemplars);
            if (rn(2)) {
                dps[i]->value_case =
                    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                dps[i]->as_double = roneof_double();
            } else if (rn(2)) {
                dps[i]->value_case =
                    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                dps[i]->as_int = (int64_t)ru64();
            }
        }
        if (rn(2)) {
            Opentelemetry__Proto__Metrics__V1__Gauge *g = alloc(a, sizeof(*g));
            opentelemetry__proto__metrics__v1__gauge__init(g);
            g->n_data_points = n;
            g->data_points = dps;
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            m->gauge = g;
        } else {
            Opentelemetry__Proto__Metrics__V1__Sum *s = alloc(a, sizeof(*s));
            opentelemetry__proto__metrics__v1__sum__init(s);
            s->n_data_points = n;
            s->data_points = dps;
            s->aggregation_temporality =
                (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)rn(3);
            s->is_monotonic = rn(2);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            m->sum = s;
        }
        break;
    }
    case 2: {
        Opentelemetry__Proto__Metrics__V1__Histogram *h = alloc(a, sizeof(*h));
        opentelemetry__proto__metrics__v1__histogram__init(h);
        h->aggregation_temporality =
            (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)rn(3);
        h->n_data_points = n;
        h->data_points = alloc(a, (n + 1) * sizeof(void *));
        for (size_t i = 0; i < n; i++) {
            Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p = alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
            RKVS(a, p, attributes);
            p->start_time_unix_nano = ru64();
            p->time_unix_nano = ru64();
            p->count = ru64();
            p->n_explicit_bounds = rn(20);
            p->explicit_bounds = alloc(a, (p->n_explicit_bounds + 1) * sizeof(double));
            for (size_t k = 0; k < p->n_explicit_bounds; k++)
                p->explicit_bounds[k] = roneof_double();
            p->n_bucket_counts = rn(2) ? p->n_explicit_bounds + 1 : 0;
            p->bucket_counts = ru64s(a, p->n_bucket_counts);
            p->n_exemplars = rn(3);
            p->exemplars = rexemplars(a, p->n_exemplars);
            p->flags = (uint32_t)ru64();
            SET_OPT_DOUBLE(p, sum,
                           OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
            SET_OPT_DOUBLE(p, min,
                           OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);
            SET_OPT_DOUBLE(p, max,
                           OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX);
            h->data_points[i] = p;
        }
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = h;
        break;
    }
    case 3: {
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *h = alloc(a, sizeof(*h));
        opentelemetry__proto__metrics__v1__exponential_histogram__init(h);
        h->aggregation_temporality =
            (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)rn(3);
        h->n_data_points = n;
        h->data_points = alloc(a, (n + 1) * sizeof(void *));
        for (size_t i = 0; i < n; i++) {
            Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p =
                alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
            RKVS(a, p, attributes);
            p->start_time_unix_nano = ru64();
            p->time_unix_nano = ru64();
            p->count = ru64();
            p->scale = (int32_t)rn(31) - 10;
            p->zero_count = ru64();
            p->positive = rbuckets(a);
            p->negative = rbuckets(a);
            p->flags = (uint32_t)ru64();
            p->n_exemplars = rn(3);
            p->exemplars = rexemplars(a, p->n_exemplars);
            p->zero_threshold = rdouble();
            SET_OPT_DOUBLE(
                p, sum,
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM);
            SET_OPT_DOUBLE(
                p, min,
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN);
            SET_OPT_DOUBLE(
                p, max,
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX);
            h->data_points[i] = p;
        }
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
        m->exponential_histogram = h;
        break;
    }
    case 4: {
        Opentelemetry__Proto__Metrics__V1__Summary *s = alloc(a, sizeof(*s));
        opentelemetry__proto__metrics__v1__summary__init(s);
        s->n_data_points = n;
        s->data_points = alloc(a, (n + 1) * sizeof(void *));
        for (size_t i = 0; i < n; i++) {
            Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *p = alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__summary_data_point__init(p);
            RKVS(a, p, attributes);
            p->start_time_unix_nano = ru64();
            p->time_unix_nano = ru64();
            p->count = ru64();
            p->sum = rdouble();
            p->flags = (uint32_t)ru64();
            p->n_quantile_values = rn(4);
            p->quantile_values = alloc(a, (p->n_quantile_values + 1) * sizeof(void *));
            for (size_t k = 0; k < p->n_quantile_values; k++) {
                Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile *q =
                    alloc(a, sizeof(*q));
                opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(q);
                q->quantile = rdouble();
                q->value = rdouble();
                p->quantile_values[k] = q;
            }
            s->data_points[i] = p;
        }
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        m->summary = s;
        break;
    }
    default:
        break; /* no data */
    }
    add_unknown(a, &m->base);
    return m;
}

/* A random request of signal s with nres resource entries (all distinct). */
static ProtobufCMessage *rrequest(struct otus_arena *a, enum otus_signal s, size_t nres)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES: {
        otus_traces_req *req = alloc(a, sizeof(*req));
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
        req->n_resource_spans = nres;
        req->resource_spans = alloc(a, (nres + 1) * sizeof(void *));
        for (size_t i = 0; i < nres; i++) {
            Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = alloc(a, sizeof(*rs));
            opentelemetry__proto__trace__v1__resource_spans__init(rs);
            rs->resource = rresource(a, (unsigned)i);
            rs->schema_url = rstr(a);
            rs->n_scope_spans = rn(3) + 1;
            rs->scope_spans = alloc(a, (rs->n_scope_spans + 1) * sizeof(void *));
            for (size_t k = 0; k < rs->n_scope_spans; k++) {
                Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = alloc(a, sizeof(*ss));
                opentelemetry__proto__trace__v1__scope_spans__init(ss);
                ss->scope = rscope(a, (unsigned)k);
                ss->schema_url = rstr(a);
                ss->n_spans = rn(6);
                ss->spans = alloc(a, (ss->n_spans + 1) * sizeof(void *));
                for (size_t j = 0; j < ss->n_spans; j++)
                    ss->spans[j] = rspan(a);
                add_unknown(a, &ss->base);
                rs->scope_spans[k] = ss;
            }
            add_unknown(a, &rs->base);
            req->resource_spans[i] = rs;
        }
        return &req->base;
    }
    case OTUS_SIGNAL_LOGS: {
        otus_logs_req *req = alloc(a, sizeof(*req));
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
        req->n_resource_logs = nres;
        req->resource_logs = alloc(a, (nres + 1) * sizeof(void *));
        for (size_t i = 0; i < nres; i++) {
            Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = alloc(a, sizeof(*rl));
            opentelemetry__proto__logs__v1__resource_logs__init(rl);
            rl->resource = i == 0 && rn(2) ? NULL : rresource(a, (unsigned)i);
            rl->schema_url = rstr(a);
            rl->n_scope_logs = rn(3) + 1;
            rl->scope_logs = alloc(a, (rl->n_scope_logs + 1) * sizeof(void *));
            for (size_t k = 0; k < rl->n_scope_logs; k++) {
                Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = alloc(a, sizeof(*sl));
                opentelemetry__proto__logs__v1__scope_logs__init(sl);
                sl->scope = k == 0 && rn(2) ? NULL : rscope(a, (unsigned)k);
                sl->schema_url = rstr(a);
                sl->n_log_records = rn(6);
                sl->log_records = alloc(a, (sl->n_log_records + 1) * sizeof(void *));
                for (size_t j = 0; j < sl->n_log_records; j++)
                    sl->log_records[j] = rlog(a);
                rl->scope_logs[k] = sl;
            }
            req->resource_logs[i] = rl;
        }
        return &req->base;
    }
    case OTUS_SIGNAL_METRICS: {
        otus_metrics_req *req = alloc(a, sizeof(*req));
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
        req->n_resource_metrics = nres;
        req->resource_metrics = alloc(a, (nres + 1) * sizeof(void *));
        for (size_t i = 0; i < nres; i++) {
            Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = alloc(a, sizeof(*rm));
            opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
            rm->resource = rresource(a, (unsigned)i);
            rm->schema_url = rstr(a);
            rm->n_scope_metrics = rn(3) + 1;
            rm->scope_metrics = alloc(a, (rm->n_scope_metrics + 1) * sizeof(void *));
            for (size_t k = 0; k < rm->n_scope_metrics; k++) {
                Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = alloc(a, sizeof(*sm));
                opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
                sm->scope = rscope(a, (unsigned)k);
                sm->schema_url = rstr(a);
                sm->n_metrics = rn(5);
                sm->metrics = alloc(a, (sm->n_metrics + 1) * sizeof(void *));
                for (size_t j = 0; j < sm->n_metrics; j++)
                    sm->metrics[j] = rmetric(a);
                rm->scope_metrics[k] = sm;
            }
            req->resource_metrics[i] = rm;
        }
        return &req->base;
    }
    }
    return NULL;
}

static const ProtobufCMessageDescriptor *const req_desc[OTUS_SIGNAL_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

/* A batch decoded from bytes, as the receiver makes one. */
static struct otus_batch *batch_from(enum otus_signal s, const void *data, size_t len)
{
    struct otus_batch *b = otus_batch_new(s, 64 * 1024, 0, NULL);
    assert_non_null(b);
    b->req.msg = protobuf_c_message_unpack(req_desc[s], otus_arena_protobuf(&b->arena), len, data);
    assert_non_null(b->req.msg);
    b->records = otus_batch_count_records(b);
    return b;
}

static struct otus_batch *batch_of(const ProtobufCMessage *m, enum otus_signal s)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    protobuf_c_message_pack(m, p);
    struct otus_batch *b = batch_from(s, p, n);
    free(p);
    return b;
}

/* ---- byte equality with protobuf-c -------------------------------------------------------------
 */

static void check_equal_to_protobuf_c(enum otus_signal s, unsigned rounds)
{
    struct otlp_encoder e;
    otus__otlp_encoder_init(&e);
    for (unsigned round = 0; round < rounds; round++) {
        rng_state = round * 7919 + (uint64_t)s;
        struct otus_arena a;
        otus_arena_init(&a, 1 << 20, 0);
        ProtobufCMessage *m = rrequest(&a, s, rn(4) + 1);
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *want = malloc(n ? n : 1);
        assert_int_equal(protobuf_c_message_pack(m, want), n);
        struct otus_batch *b = batch_from(s, want, n);
        struct otus_buf out;
        otus_buf_init(&out, 0);
        assert_int_equal(otus__otlp_encode(&e, s, &b, 1, &out), 0);
        if (out.len != n || memcmp(out.data, want, n) != 0) {
            size_t at = 0;
            while (at < n && at < out.len && (uint8_t)out.data[at] == want[at])
                at++;
            fail_msg("signal %d round %u: %zu bytes written, %zu expected, first difference at %zu",
                     s, round, out.len, n, at);
        }
        otus_buf_free(&out);
        otus_batch_unref(b);
        free(want);
        otus_arena_destroy(&a);
    }
    otus__otlp_encoder_destroy(&e);
}

static void traces_equal_protobuf_c(void **state)
{
    (void)state;
    check_equal_to_protobuf_c(OTUS_SIGNAL_TRACES, 300);
}

static void logs_equal_protobuf_c(void **state)
{
    (void)state;
    check_equal_to_protobuf_c(OTUS_SIGNAL_LOGS, 300);
}

static void metrics_equal_protobuf_c(void **state)
{
    (void)state;
    check_equal_to_protobuf_c(OTUS_SIGNAL_METRICS, 300);
}

/* Messages over 2 MiB need a longer length than the three bytes reserved for them. */
static void large_request_lengths(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 1 << 20, 0);
    rng_state = 42;
    otus_traces_req *req = (otus_traces_req *)rrequest(&a, OTUS_SIGNAL_TRACES, 1);
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
    ss->n_spans = 3;
    ss->spans = alloc(&a, 3 * sizeof(void *));
    for (int i = 0; i < 3; i++) {
        ss->spans[i] = rspan(&a);
        ss->spans[i]->name = alloc(&a, 1200001);
        memset(ss->spans[i]->name, 'n', 1200000);
    }
    struct otus_batch *b = batch_of(&req->base, OTUS_SIGNAL_TRACES);
    size_t n = protobuf_c_message_get_packed_size(&req->base);
    assert_true(n > 3600000);
    uint8_t *want = malloc(n);
    protobuf_c_message_pack(&req->base, want);
    struct otlp_encoder e;
    otus__otlp_encoder_init(&e);
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(otus__otlp_encode(&e, OTUS_SIGNAL_TRACES, &b, 1, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    /* A buffer with a maximum too small fails cleanly, leaving what it held. */
    struct otus_buf small;
    otus_buf_init(&small, 1 << 20);
    otus_buf_append_str(&small, "keep");
    assert_int_equal(otus__otlp_encode(&e, OTUS_SIGNAL_TRACES, &b, 1, &small), OTUS_ERR_TOO_BIG);
    assert_int_equal(small.len, 4);
    otus_buf_free(&small);
    otus_buf_free(&out);
    free(want);
    otus__otlp_encoder_destroy(&e);
    otus_batch_unref(b);
    otus_arena_destroy(&a);
}

/* ---- merging -----------------------------------------------------------------------------------
 */

/* A traces batch: one resource (service), one scope, spans named base+0.. */
static struct otus_batch *simple_traces(const char *service, const char *scope, int base, int n,
                                        const char *schema)
{
    struct otus_arena a;
    otus_arena_init(&a, 1 << 16, 0);
    otus_traces_req *req = alloc(&a, sizeof(*req));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = alloc(&a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    Resource *r = alloc(&a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    KeyValue *kv = alloc(&a, sizeof(*kv));
    opentelemetry__proto__common__v1__key_value__init(kv);
    AnyValue *v = alloc(&a, sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = (char *)service;
    kv->key = "service.name";
    kv->value = v;
    KeyValue **kvs = alloc(&a, sizeof(*kvs));
    kvs[0] = kv;
    r->attributes = kvs;
    r->n_attributes = 1;
    rs->resource = r;
    rs->schema_url = (char *)schema;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = alloc(&a, sizeof(*ss));
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    Scope *sc = alloc(&a, sizeof(*sc));
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
    sc->name = (char *)scope;
    ss->scope = sc;
    ss->n_spans = (size_t)n;
    ss->spans = alloc(&a, (size_t)(n + 1) * sizeof(void *));
    for (int i = 0; i < n; i++) {
        Span *sp = alloc(&a, sizeof(*sp));
        opentelemetry__proto__trace__v1__span__init(sp);
        sp->name = alloc(&a, 16);
        snprintf(sp->name, 16, "s%d", base + i);
        sp->trace_id = rbytes(&a, 16);
        sp->span_id = rbytes(&a, 8);
        ss->spans[i] = sp;
    }
    Opentelemetry__Proto__Trace__V1__ScopeSpans **ssp = alloc(&a, sizeof(*ssp));
    ssp[0] = ss;
    rs->scope_spans = ssp;
    rs->n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans **rsp = alloc(&a, sizeof(*rsp));
    rsp[0] = rs;
    req->resource_spans = rsp;
    req->n_resource_spans = 1;
    struct otus_batch *b = batch_of(&req->base, OTUS_SIGNAL_TRACES);
    otus_arena_destroy(&a);
    return b;
}

static const char *resource_service(const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs)
{
    return rs->resource->attributes[0]->value->string_value;
}

static void merges_identical_resources_and_scopes(void **state)
{
    (void)state;
    struct otus_batch *b[5] = {
        simple_traces("api", "http", 0, 2, ""),   simple_traces("db", "sql", 100, 1, ""),
        simple_traces("api", "http", 2, 3, ""),   simple_traces("api", "grpc", 200, 1, ""),
        simple_traces("api", "http", 5, 1, "s1"), /* another schema URL: another resource */
    };
    struct otlp_encoder e;
    otus__otlp_encoder_init(&e);
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(otus__otlp_encode(&e, OTUS_SIGNAL_TRACES, b, 5, &out), 0);
    otus_traces_req *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(req);
    assert_int_equal(req->n_resource_spans, 3);
    /* api: http (s0 s1 s2 s3 s4) then grpc (s200); db: sql (s100); api with schema s1. */
    assert_string_equal(resource_service(req->resource_spans[0]), "api");
    assert_int_equal(req->resource_spans[0]->n_scope_spans, 2);
    Opentelemetry__Proto__Trace__V1__ScopeSpans *http = req->resource_spans[0]->scope_spans[0];
    assert_string_equal(http->scope->name, "http");
    assert_int_equal(http->n_spans, 5);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        assert_string_equal(http->spans[i]->name, name);
    }
    assert_string_equal(req->resource_spans[0]->scope_spans[1]->scope->name, "grpc");
    assert_string_equal(resource_service(req->resource_spans[1]), "db");
    assert_string_equal(resource_service(req->resource_spans[2]), "api");
    assert_string_equal(req->resource_spans[2]->schema_url, "s1");
    assert_int_equal(req->resource_spans[2]->scope_spans[0]->n_spans, 1);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);
    otus_buf_free(&out);
    otus__otlp_encoder_destroy(&e);
    for (int i = 0; i < 5; i++)
        otus_batch_unref(b[i]);
}

/* Random batches merged: every record arrives once, in order within its group. */
static void merge_keeps_every_record(void **state)
{
    (void)state;
    struct otlp_encoder e;
    otus__otlp_encoder_init(&e);
    for (int sig = 0; sig < OTUS_SIGNAL_COUNT; sig++) {
        struct otus_batch *b[6];
        size_t records = 0;
        for (int i = 0; i < 6; i++) {
            rng_state = 1000u + (uint64_t)i * 31u + (uint64_t)sig;
            struct otus_arena a;
            otus_arena_init(&a, 1 << 20, 0);
            /* Resources 0..n-1 in every batch: the same "i" values merge across them,
             * though other attributes differ, so only content-equal ones do. */
            b[i] = batch_of(rrequest(&a, (enum otus_signal)sig, 2), (enum otus_signal)sig);
            records += b[i]->records;
            otus_arena_destroy(&a);
        }
        struct otus_buf out;
        otus_buf_init(&out, 0);
        assert_int_equal(otus__otlp_encode(&e, (enum otus_signal)sig, b, 6, &out), 0);
        struct otus_batch *back = batch_from((enum otus_signal)sig, out.data, out.len);
        assert_int_equal(back->records, records);
        otus_batch_unref(back);
        /* A batch merged with a copy of itself: same resources, each group twice the
         * records. */
        struct otus_batch *twice[2] = {b[0], b[0]};
        otus_buf_reset(&out);
        assert_int_equal(otus__otlp_encode(&e, (enum otus_signal)sig, twice, 2, &out), 0);
        back = batch_from((enum otus_signal)sig, out.data, out.len);
        assert_int_equal(back->records, 2 * b[0]->records);
        otus_batch_unref(back);
        otus_buf_free(&out);
        for (int i = 0; i < 6; i++)
            otus_batch_unref(b[i]);
    }
    otus__otlp_encoder_destroy(&e);
}

static void empty_send_is_empty_request(void **state)
{
    (void)state;
    struct otlp_encoder e;
    otus__otlp_encoder_init(&e);
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(otus__otlp_encode(&e, OTUS_SIGNAL_LOGS, NULL, 0, &out), 0);
    assert_int_equal(out.len, 0);
    otus_buf_free(&out);
    otus__otlp_encoder_destroy(&e);
}

/* ---- answers -----------------------------------------------------------------------------------
 */

static void parses_partial_success(void **state)
{
    (void)state;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = 7;
    ps.error_message = "bad spans\nhere";
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    uint8_t buf[128];
    size_t n = protobuf_c_message_pack(&resp.base, buf);
    int64_t rej = -1;
    char msg[64];
    assert_int_equal(
        otus__otlp_parse_response(OTUS_SIGNAL_TRACES, buf, n, 0, &rej, msg, sizeof(msg)), 0);
    assert_int_equal(rej, 7);
    assert_string_equal(msg, "bad spans here");
    /* Empty body: full success. */
    assert_int_equal(otus__otlp_parse_response(OTUS_SIGNAL_LOGS, "", 0, 0, &rej, msg, sizeof(msg)),
                     0);
    assert_int_equal(rej, 0);
    assert_string_equal(msg, "");
    /* JSON, 64-bit integers as strings or numbers. */
    const char *j = "{\"partialSuccess\":{\"rejectedLogRecords\":\"3\",\"errorMessage\":\"x\"}}";
    assert_int_equal(
        otus__otlp_parse_response(OTUS_SIGNAL_LOGS, j, strlen(j), 1, &rej, msg, sizeof(msg)), 0);
    assert_int_equal(rej, 3);
    assert_string_equal(msg, "x");
    j = "{\"partialSuccess\":{\"rejectedDataPoints\":12}}";
    assert_int_equal(
        otus__otlp_parse_response(OTUS_SIGNAL_METRICS, j, strlen(j), 1, &rej, msg, sizeof(msg)), 0);
    assert_int_equal(rej, 12);
    /* Not a response. */
    assert_int_equal(
        otus__otlp_parse_response(OTUS_SIGNAL_LOGS, "\xff\xff\xff", 3, 0, &rej, msg, sizeof(msg)),
        OTUS_ERR_PARSE);
    assert_int_equal(
        otus__otlp_parse_response(OTUS_SIGNAL_LOGS, "nope", 4, 1, &rej, msg, sizeof(msg)),
        OTUS_ERR_PARSE);
}

static void failure_text(void **state)
{
    (void)state;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 3;
    st.message = "invalid trace id";
    uint8_t buf[64];
    size_t n = google__rpc__status__pack(&st, buf);
    char msg[32];
    otus__otlp_failure_text(buf, n, "application/x-protobuf", msg, sizeof(msg));
    assert_string_equal(msg, "invalid trace id");
    const char *j = "{\"code\":3,\"message\":\"bad json\"}";
    otus__otlp_failure_text(j, strlen(j), "application/json; charset=utf-8", msg, sizeof(msg));
    assert_string_equal(msg, "bad json");
    otus__otlp_failure_text("plain\r\ntext that is longer than the buffer", 42, "text/plain", msg,
                            sizeof(msg));
    assert_string_equal(msg, "plain  text that is longer than");
    otus__otlp_failure_text("", 0, NULL, msg, sizeof(msg));
    assert_string_equal(msg, "");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_equal_protobuf_c),
        cmocka_unit_test(logs_equal_protobuf_c),
        cmocka_unit_test(metrics_equal_protobuf_c),
        cmocka_unit_test(large_request_lengths),
        cmocka_unit_test(merges_identical_resources_and_scopes),
        cmocka_unit_test(merge_keeps_every_record),
        cmocka_unit_test(empty_send_is_empty_request),
        cmocka_unit_test(parses_partial_success),
        cmocka_unit_test(failure_text),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
