/*
 * test_lib.h: helpers the libotus unit tests share. They start the library without
 * its background thread (otus__exporter_manual), so a test can take what the record
 * paths produced straight from the span queue, the log ring and the metric cells,
 * encode it with the library's own encoders and decode it back with protobuf-c's
 * generated code, checking the OTLP a collector would receive.
 */
#ifndef OTUS_TEST_LIB_H
#define OTUS_TEST_LIB_H

#include "otus_test.h"

#include <math.h>

#include <otus.h>

#include "instrument-lib/src/internal.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest MetricsReq;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsReq;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

#define ANY(name) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##name

/* The library's diagnostics during a test, newest last. */
static char lib_diag_text[8192];

static inline void lib_diag(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    size_t used = strlen(lib_diag_text);
    if (used + strlen(msg) + 2 >= sizeof(lib_diag_text))
        used = 0;
    snprintf(lib_diag_text + used, sizeof(lib_diag_text) - used, "%s\n", msg);
}

/* Starts the library with cfg (may be NULL) over test defaults: no environment, no
 * background thread, no JSON sink, exports enabled (nothing is sent). */
static inline void lib_start(struct otus_sdk_config *cfg)
{
    struct otus_sdk_config c;
    if (!cfg) {
        otus_sdk_config_init(&c);
        cfg = &c;
    }
    cfg->flags |= OTUS_SDK_IGNORE_ENV;
    if (!cfg->log_output)
        cfg->log_output = OTUS_LOG_OUTPUT_NONE;
    if (!cfg->service_name)
        cfg->service_name = "test-service";
    if (!cfg->diag)
        cfg->diag = lib_diag;
    lib_diag_text[0] = '\0';
    otus__exporter_manual = 1;
    int rc = otus_init(cfg);
    assert_true(rc == 0 || rc == OTUS_ERR_DISABLED);
}

static inline void lib_stop(void)
{
    otus_shutdown(0);
}

/* Everything the library would export as metrics now. Free with metrics_free. */
static inline MetricsReq *metrics_collect(void)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    long n = otus__metrics_collect(&b);
    assert_true(n >= 0);
    MetricsReq *r =
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
            NULL, b.len, (const uint8_t *)b.data);
    assert_non_null(r);
    otus_buf_free(&b);
    return r;
}

static inline void metrics_free(MetricsReq *r)
{
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
        r, NULL);
}

static inline const Metric *metric_find(const MetricsReq *r, const char *name)
{
    for (size_t i = 0; i < r->n_resource_metrics; i++)
        for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
                r->resource_metrics[i]->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++)
                if (strcmp(sm->metrics[k]->name, name) == 0)
                    return sm->metrics[k];
        }
    return NULL;
}

static inline const AnyValue *kv_find(KeyValue **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i]->value;
    return NULL;
}

static inline int kv_has_str(KeyValue **kv, size_t n, const char *key, const char *value)
{
    const AnyValue *v = kv_find(kv, n, key);
    return v && v->value_case == ANY(STRING_VALUE) && strcmp(v->string_value, value) == 0;
}

static inline int kv_has_int(KeyValue **kv, size_t n, const char *key, int64_t value)
{
    const AnyValue *v = kv_find(kv, n, key);
    return v && v->value_case == ANY(INT_VALUE) && v->int_value == value;
}

/* Takes every ended span off the queue, encodes them as one request and frees them. */
static inline TraceReq *spans_drain(size_t *count)
{
    struct otus__queue *q = atomic_load(&otus__g.span_q);
    struct otus__span_rec *recs[4096];
    size_t n = 0;
    void *it;
    while (n < 4096 && (it = otus__queue_pop(q)) != NULL)
        recs[n++] = it;
    if (count)
        *count = n;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus__encode_spans(&b, recs, n), 0);
    for (size_t i = 0; i < n; i++)
        otus__span_rec_free(recs[i]);
    TraceReq *r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, b.len, (const uint8_t *)b.data);
    assert_non_null(r);
    otus_buf_free(&b);
    return r;
}

static inline void trace_free(TraceReq *r)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r,
                                                                                            NULL);
}

static inline size_t trace_span_count(const TraceReq *r)
{
    if (!r->n_resource_spans || !r->resource_spans[0]->n_scope_spans)
        return 0;
    return r->resource_spans[0]->scope_spans[0]->n_spans;
}

static inline Span *trace_span(const TraceReq *r, size_t i)
{
    return r->resource_spans[0]->scope_spans[0]->spans[i];
}

static inline Span *trace_span_named(const TraceReq *r, const char *name)
{
    for (size_t i = 0; i < trace_span_count(r); i++)
        if (strcmp(trace_span(r, i)->name, name) == 0)
            return trace_span(r, i);
    return NULL;
}

/* Takes every committed log record off the ring: its JSON lines into json (may be
 * NULL) and the OTLP request returned. */
static inline LogsReq *logs_drain(struct otus_buf *json, size_t *count)
{
    struct otus__ring *ring = atomic_load(&otus__g.log_ring);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    struct otus__pb w = {&b, 0};
    size_t rl = otus__pb_open(&w, 1);
    otus__pb_resource(&w, 1);
    size_t sl = otus__pb_open(&w, 2);
    otus__pb_scope(&w, 1);
    size_t n = 0;
    const struct otus__ring_hdr *h;
    while ((h = otus__ring_peek(ring)) != NULL) {
        const struct otus__log_rec *rec = (const struct otus__log_rec *)h;
        uint64_t ns = otus__ticks_to_unix_ns(rec->time);
        if (json)
            assert_int_equal(otus__log_format_json(json, rec, ns), 0);
        otus__encode_log_record(&w, rec, ns);
        otus__ring_release(ring, h);
        n++;
    }
    otus__pb_close(&w, sl);
    otus__pb_close(&w, rl);
    assert_int_equal(w.err, 0);
    if (count)
        *count = n;
    LogsReq *r = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
        NULL, b.len, (const uint8_t *)b.data);
    assert_non_null(r);
    otus_buf_free(&b);
    return r;
}

static inline void logs_free(LogsReq *r)
{
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(r, NULL);
}

static inline LogRecord *logs_record(const LogsReq *r, size_t i)
{
    return r->resource_logs[0]->scope_logs[0]->log_records[i];
}

#endif
