/*
 * batch.h: the agent's internal unit of data. A request is decoded once (protobuf or
 * JSON) into protobuf-c structs allocated from the batch's own arena; that tree is
 * the batch. It is read-only from then on and shared by reference between every
 * exporter queue it was routed to; the last reference frees the arena at once.
 *
 * Threading: batches are created and their references taken and dropped on the loop
 * thread only. Code on other threads (the libuv pool) MAY read a batch it was handed
 * while the loop holds a reference for it.
 */
#ifndef OTUS_AGENT_BATCH_H
#define OTUS_AGENT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "agent/mem_budget.h"
#include "common/arena.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

enum otus_signal {
    OTUS_SIGNAL_TRACES = 0,
    OTUS_SIGNAL_METRICS = 1,
    OTUS_SIGNAL_LOGS = 2,
};
#define OTUS_SIGNAL_COUNT  3
#define OTUS_SIGNAL_BIT(s) (1u << (s))
#define OTUS_SIGNALS_ALL   7u

/* "traces", "metrics", "logs". */
const char *otus_signal_name(enum otus_signal s);

/* Parses a signal name. 0 or OTUS_ERR_INVALID. */
int otus_signal_parse(const char *name, enum otus_signal *out);

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest otus_traces_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest otus_metrics_req;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest otus_logs_req;

/* The protobuf-c descriptor of a signal's Export*ServiceRequest; NULL for no signal. */
const ProtobufCMessageDescriptor *otus_request_descriptor(enum otus_signal s);

struct otus_batch {
    enum otus_signal signal;
    unsigned refs;           /* holders: exporter queues, sends in flight */
    struct otus_arena arena; /* owns every object reachable from the request */
    union {
        otus_traces_req *traces;
        otus_metrics_req *metrics;
        otus_logs_req *logs;
        ProtobufCMessage *msg;
    } req;
    size_t records;                 /* spans, metric data points or log records in req */
    size_t charged;                 /* bytes charged to budget (released when freed) */
    uint64_t received_ns;           /* wall clock at receipt (Unix ns) */
    struct otus_mem_budget *budget; /* MAY be NULL */
};

/*
 * A new empty batch with one reference. Its arena grows in chunk_size steps up to
 * max_bytes. req stays NULL until the decoder fills it. NULL on out of memory.
 */
struct otus_batch *otus_batch_new(enum otus_signal signal, size_t chunk_size, size_t max_bytes,
                                  struct otus_mem_budget *budget);

/* Takes another reference; returns b. */
struct otus_batch *otus_batch_ref(struct otus_batch *b);

/* Drops a reference; the last one releases the charge and frees everything.
 * Accepts NULL. */
void otus_batch_unref(struct otus_batch *b);

/* Counts the records of the batch's request (spans, data points, log records). */
size_t otus_batch_count_records(const struct otus_batch *b);

/* Data points of one metric, whatever its kind (0 for a metric without data). */
size_t otus_metric_points(const Opentelemetry__Proto__Metrics__V1__Metric *m);

/*
 * Charges the arena's current footprint to the budget (the decoder calls this once the
 * request is complete). 0 or OTUS_ERR_FULL (the batch then holds no charge).
 */
int otus_batch_charge(struct otus_batch *b);

#endif
