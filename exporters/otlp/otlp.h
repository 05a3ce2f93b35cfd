/*
 * otlp.h: what the files of the OTLP/HTTP exporter share. The exporter comes as two
 * types over one implementation: "otlp" forwards any signal to any OTLP/HTTP endpoint
 * (an OpenTelemetry Collector, Grafana Tempo, another otus-agent), and "jaeger" is its
 * traces-only preset for Jaeger's OTLP ingest (Jaeger 1.35+ and Jaeger v2).
 *
 *   otlp.c         the exporter ops, an instance's lifecycle and metrics
 *   otlp_deliver.c sends: encoding on the thread pool, requests, retries, breaker,
 *                  answers
 *   otlp_config.c  the configuration tables and what is derived from them (URLs,
 *                  request headers)
 *   otlp_encode.c  merging a send's batches into one Export*ServiceRequest and writing
 *                  it; reading the answer's partial_success and Status
 *   otlp_pb.c      the protobuf writer for the OTLP messages (otlp_pb.h)
 */
#ifndef OTUS_EXPORTERS_OTLP_OTLP_H
#define OTUS_EXPORTERS_OTLP_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent/batch.h"
#include "agent/config.h"
#include "agent/http_client.h"
#include "agent/log.h"
#include "agent/self_metrics.h"
#include "common/arena.h"
#include "common/backoff.h"
#include "common/breaker.h"
#include "common/buf.h"
#include "common/gzip.h"
#include "exporters/exporter.h"

/* Largest request body the exporter writes: protobuf messages are limited to 2 GiB. */
#define OTUS_OTLP_MAX_BODY ((size_t)INT32_MAX)

/* Deepest AnyValue nesting written (values inside arrays and key-value lists). */
#define OTUS_OTLP_WRITE_MAX_DEPTH 128

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
 * deeper than OTUS_OTLP_WRITE_MAX_DEPTH), OTUS_ERR_NOMEM. On failure out's length is back
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

/* ---- an instance (otlp.c) and its sends (otlp_deliver.c) --------------------------------- */

enum otlp_req_state { RS_ENCODING, RS_CALLING, RS_WAITING, RS_BLOCKED, RS_WAKING };

/* Request outcomes, the "outcome" label of otus_otlp_requests_total. */
enum otlp_outcome { OC_OK, OC_PARTIAL, OC_RETRY, OC_REJECTED, OC_NETWORK, OC_COUNT };

/* What one send in flight needs while it is encoded, and its body until settled. */
struct otlp_enc_ctx {
    struct otlp_enc_ctx *next; /* free list */
    struct otlp_encoder enc;
    struct otus_deflater zd;
    struct otus_buf raw;         /* protobuf */
    struct otus_arena json_tree; /* encoding json: raw decoded again */
    struct otus_buf json;        /* encoding json: the OTLP/JSON body */
    struct otus_buf gz;          /* the body, gzipped */
};

/* A send being delivered: one request, or several once a 413 answer split it. */
struct otlp_job {
    struct otus_send *send;
    unsigned parts;              /* requests not settled yet */
    struct otus_send_result acc; /* what the settled ones came to */
};

/* One request: the batches [first, first + nbatches) of its job's send. */
struct otlp_req {
    struct otlp_req *prev, *next; /* the exporter's open requests */
    struct otlp_exporter *x;
    struct otlp_job *job;
    struct otus_send *send; /* job->send */
    size_t first, nbatches;
    size_t records; /* in those batches */
    struct otlp_enc_ctx *ctx;
    uv_work_t work;
    int enc_status; /* set on the pool */
    const char *body;
    size_t body_len;
    enum otlp_req_state state;
    uint64_t wake_ms; /* RS_WAITING: loop time of the next attempt */
    struct otus_backoff backoff;
    struct otus_http_call *call; /* RS_CALLING */
    uint64_t gen;                /* breaker generation of the call */
    int canceling;               /* the call was cancelled at the deadline */
    unsigned attempts;
};

struct otlp_endpoint {
    char *url; /* owned; NULL for a signal the type does not take */
    struct otus_breaker breaker;
    struct otus_metric_series *m_state;
    struct otus_metric_series *m_trans[3]; /* state changes: to open, half_open, closed */
    uint64_t seen[3];                      /* the breaker's counters already added */
    enum otus_breaker_state last_state;
};

struct otlp_exporter {
    uv_loop_t *loop;
    const struct otlp_cfg *cfg;
    char *name;
    struct otlp_endpoint ep[OTUS_SIGNAL_COUNT];
    char **headers; /* NULL-terminated, one allocation */
    int gzip;
    int json; /* encoding: json */
    struct otus_http_tls tls;
    int use_tls; /* any TLS setting given */
    struct otus_http_client *http;
    struct otus_self_metrics *metrics;
    uv_timer_t timer;
    struct otlp_req *reqs;         /* open requests */
    struct otlp_enc_ctx *free_ctx; /* encoding states not in use */
    struct otlp_enc_ctx loop_enc;  /* for encode(), on the loop (no deflater) */
    struct otus_log_limit rl_partial, rl_rejected, rl_retry;
    int handing_back;   /* replaced by a reload: sends that wait to retry go back */
    int pending_closes; /* timer, HTTP client */
    void (*closed)(void *arg);
    void *closed_arg;
    struct otus_metric_series *m_requests[OC_COUNT];
    struct otus_metric_series *m_retries, *m_bytes, *m_partial;
};

/* Frees an encoding state. Accepts NULL. */
void otus__otlp_ctx_free(struct otlp_enc_ctx *c);

/* The uncompressed body for batches[0..n): protobuf in c->raw, or OTLP/JSON in c->json
 * when json; *body points at the one used. 0 or a negative status. */
int otus__otlp_encode_body(struct otlp_enc_ctx *c, int json, enum otus_signal sig,
                           struct otus_batch *const *batches, size_t n,
                           const struct otus_buf **body);

/* Publishes an endpoint's breaker state and transitions, and logs a change of state. */
void otus__otlp_breaker_note(struct otlp_exporter *x, enum otus_signal sig);

/* The exporter ops send and drain (exporter.h). */
int otus__otlp_send(void *self, struct otus_send *s);
void otus__otlp_drain(void *self);
/* Settles the sends waiting to be retried as returned (a reload replaced the exporter). */
void otus__otlp_hand_back(void *self);

#endif
