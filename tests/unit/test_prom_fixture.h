/*
 * test_prom_fixture.h: builds OTLP metrics requests for the Prometheus exporter's
 * tests and benchmarks the way the receiver does: protobuf-c structs allocated from a
 * batch's arena, freed with the batch. Attributes are given as NULL-terminated lists
 * of key, value strings.
 */
#ifndef OTUS_TEST_PROM_FIXTURE_H
#define OTUS_TEST_PROM_FIXTURE_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/batch.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue FxKeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue FxAnyValue;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics FxResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics FxScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric FxMetric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint FxNumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint FxHistPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint FxExpPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets FxExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint FxSummaryPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar FxExemplar;

#define FX_DELTA                                                                                   \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define FX_CUMULATIVE                                                                              \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

struct fx {
    struct otus_batch *b;
    otus_metrics_req *req;
    FxResourceMetrics *rm;
    FxScopeMetrics *sm;
};

static inline void *fx_alloc(struct fx *f, size_t n)
{
    void *p = otus_arena_alloc(&f->b->arena, n);
    memset(p, 0, n);
    return p;
}

/* Appends item to a repeated field (arrays grown by copying into the arena). */
#define FX_PUSH(f, arr, n, item)                                                                   \
    do {                                                                                           \
        void **na_ = fx_alloc((f), sizeof(void *) * ((n) + 1));                                    \
        if ((n))                                                                                   \
            memcpy(na_, (arr), sizeof(void *) * (n));                                              \
        na_[(n)] = (item);                                                                         \
        (arr) = (void *)na_;                                                                       \
        (n)++;                                                                                     \
    } while (0)

static inline char *fx_str(struct fx *f, const char *s)
{
    return otus_arena_strndup(&f->b->arena, s, strlen(s));
}

static inline void fx_begin(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->b = otus_batch_new(OTUS_SIGNAL_METRICS, 64 * 1024, 0, NULL);
    f->req = fx_alloc(f, sizeof(*f->req));
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(f->req);
    f->b->req.metrics = f->req;
}

static inline void fx_end(struct fx *f)
{
    otus_batch_unref(f->b);
    f->b = NULL;
}

/* Key-value list from a va_list of key, value strings ending with NULL. */
static inline FxKeyValue **fx_attrs_v(struct fx *f, size_t *n, va_list ap)
{
    FxKeyValue **kv = NULL;
    *n = 0;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        FxKeyValue *p = fx_alloc(f, sizeof(*p));
        opentelemetry__proto__common__v1__key_value__init(p);
        p->key = fx_str(f, k);
        FxAnyValue *a = fx_alloc(f, sizeof(*a));
        opentelemetry__proto__common__v1__any_value__init(a);
        a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        a->string_value = fx_str(f, v);
        p->value = a;
        FX_PUSH(f, kv, *n, p);
    }
    return kv;
}

/* A new ResourceMetrics with these resource attributes and one scope. */
static inline void fx_resource(struct fx *f, ...)
{
    FxResourceMetrics *rm = fx_alloc(f, sizeof(*rm));
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = fx_alloc(f, sizeof(*rm->resource));
    opentelemetry__proto__resource__v1__resource__init(rm->resource);
    va_list ap;
    va_start(ap, f);
    rm->resource->attributes = fx_attrs_v(f, &rm->resource->n_attributes, ap);
    va_end(ap);
    FX_PUSH(f, f->req->resource_metrics, f->req->n_resource_metrics, rm);
    f->rm = rm;
    f->sm = NULL;
}

static inline void fx_scope(struct fx *f, const char *name, const char *version)
{
    FxScopeMetrics *sm = fx_alloc(f, sizeof(*sm));
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->scope = fx_alloc(f, sizeof(*sm->scope));
    opentelemetry__proto__common__v1__instrumentation_scope__init(sm->scope);
    sm->scope->name = fx_str(f, name);
    sm->scope->version = fx_str(f, version);
    FX_PUSH(f, f->rm->scope_metrics, f->rm->n_scope_metrics, sm);
    f->sm = sm;
}

static inline FxMetric *fx_metric(struct fx *f, const char *name, const char *unit,
                                  const char *desc)
{
    if (!f->sm)
        fx_scope(f, "test", "1.0");
    FxMetric *m = fx_alloc(f, sizeof(*m));
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = fx_str(f, name);
    m->unit = fx_str(f, unit);
    m->description = fx_str(f, desc);
    FX_PUSH(f, f->sm->metrics, f->sm->n_metrics, m);
    return m;
}

static inline FxNumberPoint *fx_number(struct fx *f, double v, uint64_t start, uint64_t t,
                                       va_list ap)
{
    FxNumberPoint *p = fx_alloc(f, sizeof(*p));
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
    p->start_time_unix_nano = start;
    p->time_unix_nano = t;
    p->attributes = fx_attrs_v(f, &p->n_attributes, ap);
    return p;
}

/* A sum point (a new metric each call unless m is given). */
static inline FxNumberPoint *fx_sum(struct fx *f, FxMetric *m, int monotonic, int temporality,
                                    double v, uint64_t start, uint64_t t, ...)
{
    if (!m->sum) {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        m->sum = fx_alloc(f, sizeof(*m->sum));
        opentelemetry__proto__metrics__v1__sum__init(m->sum);
        m->sum->is_monotonic = monotonic;
        m->sum->aggregation_temporality = temporality;
    }
    va_list ap;
    va_start(ap, t);
    FxNumberPoint *p = fx_number(f, v, start, t, ap);
    va_end(ap);
    FX_PUSH(f, m->sum->data_points, m->sum->n_data_points, p);
    return p;
}

static inline FxNumberPoint *fx_gauge(struct fx *f, FxMetric *m, double v, uint64_t t, ...)
{
    if (!m->gauge) {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = fx_alloc(f, sizeof(*m->gauge));
        opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
    }
    va_list ap;
    va_start(ap, t);
    FxNumberPoint *p = fx_number(f, v, 0, t, ap);
    va_end(ap);
    FX_PUSH(f, m->gauge->data_points, m->gauge->n_data_points, p);
    return p;
}

/* A histogram point with bounds[0..nb) and counts[0..nb]. */
static inline FxHistPoint *fx_hist(struct fx *f, FxMetric *m, int temporality, const double *bounds,
                                   size_t nb, const uint64_t *counts, double sum, uint64_t start,
                                   uint64_t t, ...)
{
    if (!m->histogram) {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
        m->histogram = fx_alloc(f, sizeof(*m->histogram));
        opentelemetry__proto__metrics__v1__histogram__init(m->histogram);
        m->histogram->aggregation_temporality = temporality;
    }
    FxHistPoint *p = fx_alloc(f, sizeof(*p));
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    p->explicit_bounds = fx_alloc(f, sizeof(double) * (nb + 1));
    memcpy(p->explicit_bounds, bounds, sizeof(double) * nb);
    p->n_explicit_bounds = nb;
    p->bucket_counts = fx_alloc(f, sizeof(uint64_t) * (nb + 1));
    memcpy(p->bucket_counts, counts, sizeof(uint64_t) * (nb + 1));
    p->n_bucket_counts = nb + 1;
    for (size_t i = 0; i <= nb; i++)
        p->count += counts[i];
    p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    p->sum = sum;
    p->start_time_unix_nano = start;
    p->time_unix_nano = t;
    va_list ap;
    va_start(ap, t);
    p->attributes = fx_attrs_v(f, &p->n_attributes, ap);
    va_end(ap);
    FX_PUSH(f, m->histogram->data_points, m->histogram->n_data_points, p);
    return p;
}

/* An exponential histogram point with positive buckets pos[0..np) from offset off. */
static inline FxExpPoint *fx_exp(struct fx *f, FxMetric *m, int temporality, int scale, int32_t off,
                                 const uint64_t *pos, size_t np, uint64_t zero, double sum,
                                 uint64_t start, uint64_t t, ...)
{
    if (!m->exponential_histogram) {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
        m->exponential_histogram = fx_alloc(f, sizeof(*m->exponential_histogram));
        opentelemetry__proto__metrics__v1__exponential_histogram__init(m->exponential_histogram);
        m->exponential_histogram->aggregation_temporality = temporality;
    }
    FxExpPoint *p = fx_alloc(f, sizeof(*p));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    p->scale = scale;
    p->zero_count = zero;
    p->count = zero;
    p->positive = fx_alloc(f, sizeof(*p->positive));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(p->positive);
    p->positive->offset = off;
    p->positive->bucket_counts = fx_alloc(f, sizeof(uint64_t) * (np + 1));
    memcpy(p->positive->bucket_counts, pos, sizeof(uint64_t) * np);
    p->positive->n_bucket_counts = np;
    for (size_t i = 0; i < np; i++)
        p->count += pos[i];
    p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
    p->sum = sum;
    p->start_time_unix_nano = start;
    p->time_unix_nano = t;
    va_list ap;
    va_start(ap, t);
    p->attributes = fx_attrs_v(f, &p->n_attributes, ap);
    va_end(ap);
    FX_PUSH(f, m->exponential_histogram->data_points, m->exponential_histogram->n_data_points, p);
    return p;
}

/* A summary point with n quantiles q[i] -> v[i]. */
static inline FxSummaryPoint *fx_summary(struct fx *f, FxMetric *m, const double *q,
                                         const double *v, size_t n, uint64_t count, double sum,
                                         uint64_t start, uint64_t t, ...)
{
    if (!m->summary) {
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
        m->summary = fx_alloc(f, sizeof(*m->summary));
        opentelemetry__proto__metrics__v1__summary__init(m->summary);
    }
    FxSummaryPoint *p = fx_alloc(f, sizeof(*p));
    opentelemetry__proto__metrics__v1__summary_data_point__init(p);
    for (size_t i = 0; i < n; i++) {
        Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile *x =
            fx_alloc(f, sizeof(*x));
        opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(x);
        x->quantile = q[i];
        x->value = v[i];
        FX_PUSH(f, p->quantile_values, p->n_quantile_values, x);
    }
    p->count = count;
    p->sum = sum;
    p->start_time_unix_nano = start;
    p->time_unix_nano = t;
    va_list ap;
    va_start(ap, t);
    p->attributes = fx_attrs_v(f, &p->n_attributes, ap);
    va_end(ap);
    FX_PUSH(f, m->summary->data_points, m->summary->n_data_points, p);
    return p;
}

/* An exemplar with the given value and IDs (trace byte t, span byte s repeated). */
static inline FxExemplar *fx_exemplar(struct fx *f, double v, uint8_t t, uint8_t s, uint64_t ts)
{
    FxExemplar *e = fx_alloc(f, sizeof(*e));
    opentelemetry__proto__metrics__v1__exemplar__init(e);
    e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    e->as_double = v;
    e->time_unix_nano = ts;
    e->trace_id.data = fx_alloc(f, 16);
    memset(e->trace_id.data, t, 16);
    e->trace_id.len = 16;
    e->span_id.data = fx_alloc(f, 8);
    memset(e->span_id.data, s, 8);
    e->span_id.len = 8;
    return e;
}

#endif
