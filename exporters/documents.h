/*
 * documents.h: the JSON documents Otus writes for telemetry, one per line (NDJSON):
 * ECS-shaped log documents (the file exporter and the Elasticsearch exporter write
 * the same ones), span documents and metric point documents.
 *
 * Log document:
 *   {"@timestamp":"2026-11-30T10:49:28.123456789Z","log.level":"info",
 *    "message":"text body","event.severity":9,"trace.id":"<32 hex>","span.id":"<16 hex>",
 *    "event.name":"...","body.structured":{...map or array body...},
 *    "attributes":{"k":v,"a.b":v,...},
 *    "service.name":"api","service.version":"1.2","host.name":"h1",
 *    "resource.attributes":{...the other resource attributes...},
 *    "scope.name":"lib","scope.version":"1.0","scope.attributes":{...}}
 *
 * Attribute maps are flat: a key whose value is a map becomes dotted keys
 * ("a":{"b":1} is written "a.b":1), so the same name is never an object in one record
 * and a scalar in another as far as a consumer that expands dots is concerned, and a
 * key is never written twice in one map. Values keep their OTLP type: strings,
 * booleans, integers, doubles (always with a '.' or exponent), bytes as base64,
 * arrays as arrays.
 *
 * Everything here is pure (no I/O, no globals): safe on any thread.
 */
#ifndef OTUS_EXPORTERS_DOCUMENTS_H
#define OTUS_EXPORTERS_DOCUMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/batch.h"
#include "common/buf.h"
#include "common/json.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue otus_any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue otus_key_value;
typedef Opentelemetry__Proto__Resource__V1__Resource otus_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope otus_scope;

/*
 * The members a resource and a scope contribute to every document of theirs, written
 * once and copied into each document: ,"service.name":...,"resource.attributes":{...},
 * "scope.name":... (a leading comma, no braces). Either pointer MAY be NULL.
 */
int otus_doc_origin(const otus_resource *res, const otus_scope *scope, struct otus_buf *out);

/* The service.name of a resource, or NULL. */
const char *otus_doc_service_name(const otus_resource *res);

/* Writes v as a JSON value (maps as nested objects). */
void otus_doc_any_value(struct otus_json *j, const otus_any_value *v);

/* Writes attrs as one flat JSON object (see above). */
void otus_doc_attributes(struct otus_json *j, otus_key_value *const *attrs, size_t n);

/*
 * Appends one log document and a newline. origin is the otus_doc_origin() fragment
 * of its resource and scope; received_ns stands in when the record has neither time
 * nor observed time. 0 or a negative otus_status.
 */
int otus_doc_log(struct otus_buf *out, const Opentelemetry__Proto__Logs__V1__LogRecord *lr,
                 const struct otus_buf *origin, uint64_t received_ns);

/* Appends one span document and a newline. */
int otus_doc_span(struct otus_buf *out, const Opentelemetry__Proto__Trace__V1__Span *sp,
                  const struct otus_buf *origin);

/* Appends one document per data point of metric m, each with a newline. */
int otus_doc_metric(struct otus_buf *out, const Opentelemetry__Proto__Metrics__V1__Metric *m,
                    const struct otus_buf *origin);

/* One record of a batch, with the origin fragment of its resource and scope. */
struct otus_doc_record {
    enum otus_signal signal;
    union {
        const Opentelemetry__Proto__Logs__V1__LogRecord *log;
        const Opentelemetry__Proto__Trace__V1__Span *span;
        const Opentelemetry__Proto__Metrics__V1__Metric *metric; /* all its points */
    } u;
    const struct otus_buf *origin; /* otus_doc_origin() of its resource and scope */
    uint64_t received_ns;          /* when the batch arrived */
};

/*
 * Calls fn for every log record, span or metric of b, in order, with its origin
 * (formatted once per resource and scope); stops at the first non-zero return and
 * returns it.
 */
int otus_doc_each(const struct otus_batch *b, int (*fn)(const struct otus_doc_record *r, void *ctx),
                  void *ctx);

/* Appends the documents of every record of a batch (logs, spans or metric points). */
int otus_doc_batch(struct otus_buf *out, const struct otus_batch *b);

/* The ECS log.level for a record: its severity text, else the severity number's
 * range name ("trace" ... "fatal"), else NULL. */
const char *otus_doc_log_level(const Opentelemetry__Proto__Logs__V1__LogRecord *lr);

#endif
