/*
 * otlp.h: what the files of the OTLP/HTTP exporter share. The exporter comes as two
 * types over one implementation: "otlp" forwards any signal to any OTLP/HTTP endpoint
 * (an OpenTelemetry Collector, Grafana Tempo, another otus-agent), and "jaeger" is its
 * traces-only preset for Jaeger's OTLP ingest (Jaeger 1.35+ and Jaeger v2).
 *
 *   otlp.c         lifecycle, sends, retries, breaker, answers (the exporter ops)
 *   otlp_config.c  the configuration tables and what is derived from them (URLs,
 *                  request headers)
 *   otlp_encode.c  merging a send's batches into one Export*ServiceRequest and writing
 *                  it as protobuf; reading the answer's partial_success and Status
 */
#ifndef OTUS_EXPORTERS_OTLP_OTLP_H
#define OTUS_EXPORTERS_OTLP_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/batch.h"
#include "agent/config.h"
#include "common/arena.h"
#include "common/buf.h"
#include "exporters/exporter.h"

/* Largest request body the exporter writes: protobuf messages are limited to 2 GiB. */
#define OTUS_OTLP_MAX_BODY ((size_t)INT32_MAX)

/* Deepest AnyValue nesting written (values inside arrays and key-value lists). */
#define OTUS_OTLP_MAX_DEPTH 128

/* Keys both types share (one table, merged inline into each type's table). */
struct otlp_common_cfg {
    struct otus_strmap headers; /* extra request headers, e.g. authorization */
    char *encoding;             /* "protobuf" or "json" */
    char *compression;          /* "gzip" or "none" */
    int64_t compression_level;  /* gzip level 1..9 */
    uint64_t timeout_ms;        /* one request, connecting included */
    int64_t max_connections;    /* connections per host */
    uint64_t max_response_bytes;
    struct {
        uint64_t initial_interval_ms;
        uint64_t max_interval_ms;
        uint64_t max_elapsed_ms;
    } retry;
    struct {
        int64_t failure_threshold;
        uint64_t open_timeout_ms;
        uint64_t max_open_timeout_ms;
    } breaker;
    struct {
        char *ca_file;
        char *cert_file;
        char *key_file;
        bool insecure_skip_verify;
    } tls;
};

/* One layout for both types; "jaeger" leaves the per-signal endpoints empty. */
struct otlp_cfg {
    struct otus_queue_cfg queue;              /* first, as every push exporter's */
    char *endpoint;                           /* otlp: base URL; jaeger: the full traces URL */
    char *signal_endpoint[OTUS_SIGNAL_COUNT]; /* otlp: used as given when set */
    struct otlp_common_cfg c;
};

extern const struct otus_cfg_entry otus__otlp_table[];
extern const struct otus_cfg_entry otus__jaeger_table[];

/* Cross-key checks of a parsed configuration (URLs, header names). */
int otus__otlp_check(const void *cfg, struct otus_cfg_err *err);

/*
 * The URL a signal's requests go to, malloc'd into *out: the per-signal endpoint when
 * set, else endpoint with "/v1/<signal>" appended (one slash between them) when
 * append_path, else endpoint as given. 0, OTUS_ERR_NOMEM.
 */
int otus__otlp_url(const struct otlp_cfg *cfg, enum otus_signal s, int append_path, char **out);

/*
 * The request headers for cfg: Content-Type, Content-Encoding when compressing, then
 * the configured ones. A NULL-terminated array of "Name: value" strings in one
 * allocation (free it with free()). 0, OTUS_ERR_NOMEM.
 */
int otus__otlp_headers(const struct otlp_cfg *cfg, char ***out);

/* ---- encoding (otlp_encode.c) ------------------------------------------------------------ */

/*
 * Reusable state for encoding: the scratch arena of the grouping (reset per call). One
 * per thread at a time.
 */
struct otlp_encoder {
    struct otus_arena scratch;
};

void otus__otlp_encoder_init(struct otlp_encoder *e);
void otus__otlp_encoder_destroy(struct otlp_encoder *e);

/*
 * Appends to out one Export*ServiceRequest in protobuf holding every record of
 * batches[0..n), all of signal s (borrowed, read only). Resource entries with identical
 * content (resource and schema_url) become one, and so do scope entries with identical
 * content within a resource; records keep their order. Everything else is written as
 * it was decoded, unknown fields included, in field number order, so a request that
 * needed no merging comes out byte for byte as protobuf-c packs it.
 * Returns 0, OTUS_ERR_TOO_BIG (out's maximum, OTUS_OTLP_MAX_BODY, or values nested
 * deeper than OTUS_OTLP_MAX_DEPTH), OTUS_ERR_NOMEM. On failure out's length is back
 * where it was.
 */
int otus__otlp_encode(struct otlp_encoder *e, enum otus_signal s, struct otus_batch *const *batches,
                      size_t n, struct otus_buf *out);

/*
 * Reads an OTLP/HTTP success answer's body: Export*ServiceResponse in protobuf (or in
 * JSON when json is non-zero). *rejected receives partial_success's rejected count
 * (0 when absent, negative values read as 0); msg (msglen bytes, NUL-terminated,
 * possibly cut) its error_message, "" when none. 0 or OTUS_ERR_PARSE.
 */
int otus__otlp_parse_response(enum otus_signal s, const void *body, size_t len, int json,
                              int64_t *rejected, char *msg, size_t msglen);

/*
 * Reads an OTLP/HTTP failure answer's body for a log line: a google.rpc.Status in
 * protobuf or JSON gives its message; any other body gives its first printable bytes.
 * Writes at most msglen bytes including the NUL.
 */
void otus__otlp_failure_text(const void *body, size_t len, const char *content_type, char *msg,
                             size_t msglen);

#endif
