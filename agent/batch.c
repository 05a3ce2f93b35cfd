/*
 * batch.c: batch lifetime, record counting and memory accounting (batch.h).
 */
#include "agent/batch.h"

#include <assert.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <otus.h>

static const char *const signal_names[OTUS_SIGNAL_COUNT] = {"traces", "metrics", "logs"};

const ProtobufCMessageDescriptor *otus_request_descriptor(enum otus_signal s)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES:
        return &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    case OTUS_SIGNAL_METRICS:
        return &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    case OTUS_SIGNAL_LOGS:
        return &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
    default:
        return NULL;
    }
}

const char *otus_signal_name(enum otus_signal s)
{
    return (unsigned)s < OTUS_SIGNAL_COUNT ? signal_names[s] : "unknown";
}

int otus_signal_parse(const char *name, enum otus_signal *out)
{
    for (int i = 0; i < OTUS_SIGNAL_COUNT; i++) {
        if (strcmp(name, signal_names[i]) == 0) {
            *out = (enum otus_signal)i;
            return 0;
        }
    }
    return OTUS_ERR_INVALID;
}

int otus_mem_charge(struct otus_mem_budget *m, size_t n)
{
    if (m->limit && (n > m->limit || m->used > m->limit - n))
        return OTUS_ERR_FULL;
    m->used += n;
    if (m->used > m->peak)
        m->peak = m->used;
    return 0;
}

void otus_mem_release(struct otus_mem_budget *m, size_t n)
{
    assert(m->used >= n);
    m->used -= n;
}

size_t otus_mem_available(const struct otus_mem_budget *m)
{
    if (!m->limit)
        return SIZE_MAX;
    return m->used >= m->limit ? 0 : m->limit - m->used;
}

struct otus_batch *otus_batch_new(enum otus_signal signal, size_t chunk_size, size_t max_bytes,
                                  struct otus_mem_budget *budget)
{
    struct otus_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->signal = signal;
    b->refs = 1;
    b->budget = budget;
    otus_arena_init(&b->arena, chunk_size, max_bytes);
    return b;
}

struct otus_batch *otus_batch_ref(struct otus_batch *b)
{
    b->refs++;
    return b;
}

void otus_batch_unref(struct otus_batch *b)
{
    if (!b)
        return;
    assert(b->refs > 0);
    if (--b->refs > 0)
        return;
    if (b->budget && b->charged)
        otus_mem_release(b->budget, b->charged);
    otus_arena_destroy(&b->arena);
    free(b);
}

int otus_batch_charge(struct otus_batch *b)
{
    size_t n = otus_arena_footprint(&b->arena) + sizeof(*b);
    if (!b->budget)
        return 0;
    int rc = otus_mem_charge(b->budget, n);
    if (rc == 0)
        b->charged = n;
    return rc;
}

size_t otus_batch_count_records(const struct otus_batch *b)
{
    size_t n = 0;
    switch (b->signal) {
    case OTUS_SIGNAL_TRACES:
        if (!b->req.traces)
            return 0;
        for (size_t i = 0; i < b->req.traces->n_resource_spans; i++) {
            const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
                b->req.traces->resource_spans[i];
            for (size_t j = 0; j < rs->n_scope_spans; j++)
                n += rs->scope_spans[j]->n_spans;
        }
        break;
    case OTUS_SIGNAL_LOGS:
        if (!b->req.logs)
            return 0;
        for (size_t i = 0; i < b->req.logs->n_resource_logs; i++) {
            const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = b->req.logs->resource_logs[i];
            for (size_t j = 0; j < rl->n_scope_logs; j++)
                n += rl->scope_logs[j]->n_log_records;
        }
        break;
    case OTUS_SIGNAL_METRICS:
        if (!b->req.metrics)
            return 0;
        for (size_t i = 0; i < b->req.metrics->n_resource_metrics; i++) {
            const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm =
                b->req.metrics->resource_metrics[i];
            for (size_t j = 0; j < rm->n_scope_metrics; j++) {
                const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[j];
                for (size_t k = 0; k < sm->n_metrics; k++)
                    n += otus_metric_points(sm->metrics[k]);
            }
        }
        break;
    }
    return n;
}

size_t otus_metric_points(const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        return m->gauge ? m->gauge->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        return m->sum ? m->sum->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        return m->histogram ? m->histogram->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram ? m->exponential_histogram->n_data_points : 0;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        return m->summary ? m->summary->n_data_points : 0;
    default:
        return 0;
    }
}
