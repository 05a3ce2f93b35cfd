/*
 * receiver_otlp.c: the OTLP/HTTP receiver (receiver_otlp.h).
 *
 * Memory: the request body is charged to the budget by the HTTP server while it is
 * held; a gzip body's decompressed copy is charged while it lives; the decoded batch
 * is allocated from an arena whose maximum is what the budget has left, and its
 * footprint is charged to the budget before the request is acknowledged. Nothing is
 * allocated for a request that the budget cannot pay for.
 */
#include "agent/receiver_otlp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <otus.h>

#include "agent/log.h"
#include "agent/otlp_decode.h"
#include "agent/otlp_json.h"
#include "agent/pipeline.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "common/hex.h"
#include "common/json.h"
#include "google/rpc/status.pb-c.h"

/* gRPC status codes carried in google.rpc.Status. */
#define RPC_INVALID_ARGUMENT   3
#define RPC_RESOURCE_EXHAUSTED 8
#define RPC_UNIMPLEMENTED      12
#define RPC_UNAVAILABLE        14
#define RPC_UNAUTHENTICATED    16

enum encoding { ENC_PROTOBUF, ENC_JSON };

struct route_ctx {
    struct otus_receiver *r;
    enum otus_signal signal;
    const char *path;
};

struct otus_receiver {
    struct otus_receiver_env env;
    struct otus_http_server *srv;
    size_t max_request_bytes;
    char *token; /* owned; "" when no auth */
    size_t token_len;
    struct otus_inflater inflater;
    struct route_ctx routes[OTUS_SIGNAL_COUNT];
    struct otus_metric_series *m_accepted[OTUS_SIGNAL_COUNT];
    struct otus_metric_family *f_refused;
    struct otus_metric_family *f_refused_requests;
};

static const char *const paths[OTUS_SIGNAL_COUNT] = {"/v1/traces", "/v1/metrics", "/v1/logs"};

/* Counts a refused request (and its records when known); a partial rejection
 * ("invalid") refuses records of a request that was otherwise accepted. */
static void count_refused(struct otus_receiver *r, enum otus_signal s, const char *reason,
                          size_t records)
{
    const char *values[] = {otus_signal_name(s), reason};
    if (strcmp(reason, "invalid") != 0) {
        struct otus_metric_series *rq = otus_self_metrics_series(r->f_refused_requests, values);
        if (rq)
            rq->value++;
    }
    if (records) {
        struct otus_metric_series *rs = otus_self_metrics_series(r->f_refused, values);
        if (rs)
            rs->value += (double)records;
    }
}

/* ---- answers ------------------------------------------------------------------------------- */

/* An error answer: google.rpc.Status in the request's encoding. */
static void respond_status(struct otus_http_request *req, enum encoding enc, int http, int rpc,
                           const char *msg, const char *extra)
{
    struct otus_buf body;
    otus_buf_init(&body, 0);
    const char *ctype;
    if (enc == ENC_JSON) {
        struct otus_json j;
        otus_json_init(&j, &body);
        otus_json_object_begin(&j);
        otus_json_key_cstr(&j, "code");
        otus_json_int(&j, rpc);
        otus_json_key_cstr(&j, "message");
        otus_json_cstr(&j, msg);
        otus_json_object_end(&j);
        ctype = "application/json";
    } else {
        Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
        st.code = rpc;
        st.message = (char *)msg;
        size_t n = google__rpc__status__get_packed_size(&st);
        if (otus_buf_reserve(&body, n) == 0) {
            google__rpc__status__pack(&st, (uint8_t *)body.data);
            body.len = n;
        }
        ctype = "application/x-protobuf";
    }
    otus_http_respond_buf(req, http, ctype, &body, extra);
}

/* Plain text, for requests whose encoding is not known. */
static void respond_text(struct otus_http_request *req, int http, const char *msg,
                         const char *extra)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s\n", msg);
    otus_http_respond(req, http, "text/plain; charset=utf-8", text, (size_t)n, extra);
}

static void respond_ok(struct otus_http_request *req, enum encoding enc, enum otus_signal s,
                       size_t rejected, const char *why)
{
    struct otus_buf body;
    otus_buf_init(&body, 0);
    char msg[160] = "";
    if (rejected)
        snprintf(msg, sizeof(msg), "%zu %s rejected: %s", rejected,
                 s == OTUS_SIGNAL_TRACES    ? "spans"
                 : s == OTUS_SIGNAL_METRICS ? "data points"
                                            : "log records",
                 why);
    if (enc == ENC_JSON) {
        if (otus_otlp_json_encode_response(s, (int64_t)rejected, rejected ? msg : NULL, &body) != 0)
            otus_buf_reset(&body);
        otus_http_respond_buf(req, 200, "application/json", &body, NULL);
        return;
    }
    size_t n = 0;
    if (rejected) {
        /* ExportXServiceResponse { partial_success (1) { rejected (1), error_message (2) } } */
        union {
            Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse t;
            Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse m;
            Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse l;
        } resp;
        union {
            Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess t;
            Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess m;
            Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess l;
        } ps;
        const ProtobufCMessage *msgp;
        if (s == OTUS_SIGNAL_TRACES) {
            opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps.t);
            ps.t.rejected_spans = (int64_t)rejected;
            ps.t.error_message = msg;
            opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(
                &resp.t);
            resp.t.partial_success = &ps.t;
            msgp = &resp.t.base;
        } else if (s == OTUS_SIGNAL_METRICS) {
            opentelemetry__proto__collector__metrics__v1__export_metrics_partial_success__init(
                &ps.m);
            ps.m.rejected_data_points = (int64_t)rejected;
            ps.m.error_message = msg;
            opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__init(
                &resp.m);
            resp.m.partial_success = &ps.m;
            msgp = &resp.m.base;
        } else {
            opentelemetry__proto__collector__logs__v1__export_logs_partial_success__init(&ps.l);
            ps.l.rejected_log_records = (int64_t)rejected;
            ps.l.error_message = msg;
            opentelemetry__proto__collector__logs__v1__export_logs_service_response__init(&resp.l);
            resp.l.partial_success = &ps.l;
            msgp = &resp.l.base;
        }
        n = protobuf_c_message_get_packed_size(msgp);
        if (otus_buf_reserve(&body, n) == 0) {
            protobuf_c_message_pack(msgp, (uint8_t *)body.data);
            body.len = n;
        }
    }
    otus_http_respond_buf(req, 200, "application/x-protobuf", &body, NULL);
}

/* ---- validation ------------------------------------------------------------------------------ */

static int id_ok(const ProtobufCBinaryData *id, size_t len, int optional)
{
    if (id->len == 0)
        return optional;
    return id->len == len && !otus_id_is_zero(id->data, len);
}

/*
 * Keeps, in order, the elements of a protobuf-c array of message pointers for which
 * keep() holds; updates *n and returns how many went. (Element pointers are copied as
 * bytes: every object pointer has the same representation on the platforms we run on.)
 */
static size_t compact(void *arr, size_t *n, int (*keep)(const void *item))
{
    char *a = arr;
    size_t kept = 0, total = *n;
    for (size_t i = 0; i < total; i++) {
        void *it;
        memcpy(&it, a + i * sizeof(void *), sizeof(it));
        if (keep(it))
            memcpy(a + kept++ * sizeof(void *), &it, sizeof(it));
    }
    *n = kept;
    return total - kept;
}

static int span_ok(const void *p)
{
    const Opentelemetry__Proto__Trace__V1__Span *sp = p;
    return id_ok(&sp->trace_id, 16, 0) && id_ok(&sp->span_id, 8, 0) &&
           (sp->parent_span_id.len == 0 || sp->parent_span_id.len == 8);
}

static int log_ok(const void *p)
{
    const Opentelemetry__Proto__Logs__V1__LogRecord *lr = p;
    return (lr->trace_id.len == 0 || lr->trace_id.len == 16) &&
           (lr->span_id.len == 0 || lr->span_id.len == 8);
}

static int metric_named(const void *p)
{
    const Opentelemetry__Proto__Metrics__V1__Metric *m = p;
    return m->name && *m->name;
}

static int hist_point_ok(const void *p)
{
    const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hp = p;
    return hp->n_bucket_counts == 0 || hp->n_bucket_counts == hp->n_explicit_bounds + 1;
}

static int exp_point_ok(const void *p)
{
    const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *ep = p;
    return ep->scale >= -10 && ep->scale <= 20;
}

static size_t validate_traces(otus_traces_req *req, const char **why)
{
    size_t removed = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[i];
        for (size_t k = 0; k < rs->n_scope_spans; k++) {
            Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[k];
            size_t gone = compact(ss->spans, &ss->n_spans, span_ok);
            if (gone && !*why)
                *why = "invalid trace_id, span_id or parent_span_id";
            removed += gone;
        }
    }
    return removed;
}

static size_t validate_logs(otus_logs_req *req, const char **why)
{
    size_t removed = 0;
    for (size_t i = 0; i < req->n_resource_logs; i++) {
        Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = req->resource_logs[i];
        for (size_t k = 0; k < rl->n_scope_logs; k++) {
            Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[k];
            size_t gone = compact(sl->log_records, &sl->n_log_records, log_ok);
            if (gone && !*why)
                *why = "trace_id or span_id of the wrong length";
            removed += gone;
        }
    }
    return removed;
}

static size_t validate_metrics(otus_metrics_req *req, const char **why)
{
    size_t removed = 0;
    for (size_t i = 0; i < req->n_resource_metrics; i++) {
        Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[i];
        for (size_t k = 0; k < rm->n_scope_metrics; k++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[k];
            size_t unnamed = 0;
            for (size_t m = 0; m < sm->n_metrics; m++)
                if (!metric_named(sm->metrics[m]))
                    unnamed += otus_metric_points(sm->metrics[m]);
            if (compact(sm->metrics, &sm->n_metrics, metric_named) && unnamed && !*why)
                *why = "metric without a name";
            removed += unnamed;
            for (size_t m = 0; m < sm->n_metrics; m++) {
                Opentelemetry__Proto__Metrics__V1__Metric *mt = sm->metrics[m];
                size_t gone = 0;
                if (mt->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM &&
                    mt->histogram) {
                    gone = compact(mt->histogram->data_points, &mt->histogram->n_data_points,
                                   hist_point_ok);
                    if (gone && !*why)
                        *why = "histogram bucket_counts must have one more entry than "
                               "explicit_bounds";
                } else if (
                    mt->data_case ==
                        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM &&
                    mt->exponential_histogram) {
                    gone = compact(mt->exponential_histogram->data_points,
                                   &mt->exponential_histogram->n_data_points, exp_point_ok);
                    if (gone && !*why)
                        *why = "exponential histogram scale outside [-10, 20]";
                }
                removed += gone;
            }
        }
    }
    return removed;
}

size_t otus_otlp_validate(struct otus_batch *b, const char **why)
{
    *why = NULL;
    switch (b->signal) {
    case OTUS_SIGNAL_TRACES:
        return validate_traces(b->req.traces, why);
    case OTUS_SIGNAL_LOGS:
        return validate_logs(b->req.logs, why);
    case OTUS_SIGNAL_METRICS:
        return validate_metrics(b->req.metrics, why);
    }
    return 0;
}

/* ---- the handler ------------------------------------------------------------------------------
 */

static int authorized(struct otus_receiver *r, const struct otus_http_request *req)
{
    if (r->token_len == 0)
        return 1;
    const char *h = otus_http_request_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *given = h + 7;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given);
    /* Constant time in the token's length whatever was given. */
    unsigned char diff = glen != r->token_len;
    for (size_t i = 0; i < r->token_len; i++)
        diff |= (unsigned char)((i < glen ? given[i] : 0) ^ r->token[i]);
    return diff == 0;
}

/* The media type of a Content-Type value, lowercased, without parameters. */
static void media_type(const char *ct, char *out, size_t outlen)
{
    size_t n = 0;
    while (*ct == ' ')
        ct++;
    while (*ct && *ct != ';' && *ct != ' ' && n + 1 < outlen)
        out[n++] = (char)tolower((unsigned char)*ct++);
    out[n] = '\0';
}

/* Why a request is refused before its body matters, or REFUSE_NONE. */
enum refusal {
    REFUSE_NONE,
    REFUSE_METHOD,
    REFUSE_AUTH,
    REFUSE_TYPE,
    REFUSE_ENCODING,
    REFUSE_STOPPING,
};

/* Memory a request is expected to need per body byte (the body, then its decoded
 * batch); a request whose Content-Length times this does not fit the budget is
 * refused before its body is read. */
#define ADMIT_FACTOR 5

static enum refusal refusal(struct otus_receiver *r, const struct otus_http_request *req,
                            enum encoding *enc)
{
    *enc = ENC_PROTOBUF;
    if (strcmp(req->method, "POST") != 0)
        return REFUSE_METHOD;
    if (!authorized(r, req))
        return REFUSE_AUTH;
    char mt[64];
    const char *ct = otus_http_request_header(req, "content-type");
    media_type(ct ? ct : "", mt, sizeof(mt));
    if (strcmp(mt, "application/json") == 0)
        *enc = ENC_JSON;
    else if (strcmp(mt, "application/x-protobuf") != 0 && strcmp(mt, "application/protobuf") != 0)
        return REFUSE_TYPE;
    const char *ce = otus_http_request_header(req, "content-encoding");
    if (ce && *ce && strcasecmp(ce, "identity") != 0 && strcasecmp(ce, "gzip") != 0)
        return REFUSE_ENCODING;
    if (!r->env.accepting(r->env.agent))
        return REFUSE_STOPPING;
    return REFUSE_NONE;
}

/* Before the body: a request that will be refused anyway, or that the memory budget
 * cannot hold, is not read into memory. */
static int admit(const struct otus_http_request *req, uint64_t content_length, int length_known,
                 void *ctx)
{
    struct route_ctx *rc_ = ctx;
    enum encoding enc;
    if (refusal(rc_->r, req, &enc) != REFUSE_NONE)
        return 0;
    if (length_known && content_length > otus_mem_available(rc_->r->env.budget) / ADMIT_FACTOR)
        return 0;
    return 1;
}

static void handle(struct otus_http_request *req, void *ctx)
{
    struct route_ctx *rc_ = ctx;
    struct otus_receiver *r = rc_->r;
    enum otus_signal sig = rc_->signal;
    enum encoding enc;

    switch (refusal(r, req, &enc)) {
    case REFUSE_METHOD:
        count_refused(r, sig, "method", 0);
        respond_text(req, 405, "only POST is allowed here", "Allow: POST\r\n");
        return;
    case REFUSE_AUTH:
        count_refused(r, sig, "unauthorized", 0);
        respond_text(req, 401, "missing or wrong bearer token", "WWW-Authenticate: Bearer\r\n");
        return;
    case REFUSE_TYPE:
        count_refused(r, sig, "content_type", 0);
        respond_text(req, 415,
                     "unsupported Content-Type: use application/x-protobuf or application/json",
                     NULL);
        return;
    case REFUSE_ENCODING:
        count_refused(r, sig, "content_encoding", 0);
        respond_status(req, enc, 415, RPC_INVALID_ARGUMENT,
                       "unsupported Content-Encoding: use gzip or identity", NULL);
        return;
    case REFUSE_STOPPING:
        count_refused(r, sig, "stopping", 0);
        respond_status(req, enc, 503, RPC_UNAVAILABLE, "the agent is not accepting data",
                       "Retry-After: 5\r\n");
        return;
    case REFUSE_NONE:
        break;
    }
    if (req->body_skipped) {
        /* admit() found no room for this request in the memory budget. */
        count_refused(r, sig, "memory", 0);
        respond_status(req, enc, 503, RPC_UNAVAILABLE,
                       "the agent's memory limit is reached; retry later", "Retry-After: 1\r\n");
        return;
    }

    const char *data = req->body.data;
    size_t len = req->body.len;
    struct otus_buf plain;
    otus_buf_init(&plain, r->max_request_bytes);
    size_t plain_charged = 0;
    struct otus_batch *b = NULL;
    const char *ce = otus_http_request_header(req, "content-encoding");
    if (ce && *ce && strcasecmp(ce, "identity") != 0) {
        /* gzip (refusal() sent anything else away). The decompressed copy must fit both the request
         * limit and the budget. The handler runs to completion on the loop, so only one such copy
         * exists. */
        size_t avail = otus_mem_available(r->env.budget);
        size_t cap = r->max_request_bytes < avail ? r->max_request_bytes : avail;
        int zrc = otus_inflater_gunzip(&r->inflater, data, len, cap, &plain);
        if (zrc == 0 && otus_mem_charge(r->env.budget, plain.cap) == 0) {
            plain_charged = plain.cap;
        } else if (zrc == 0 || (zrc == OTUS_ERR_TOO_BIG && cap < r->max_request_bytes)) {
            otus_buf_free(&plain);
            count_refused(r, sig, "memory", 0);
            respond_status(req, enc, 503, RPC_UNAVAILABLE,
                           "the agent's memory limit is reached; retry later",
                           "Retry-After: 1\r\n");
            return;
        }
        if (zrc) {
            otus_buf_free(&plain);
            if (zrc == OTUS_ERR_TOO_BIG) {
                count_refused(r, sig, "too_large", 0);
                respond_status(req, enc, 413, RPC_RESOURCE_EXHAUSTED,
                               "decompressed body larger than max_request_bytes", NULL);
            } else {
                count_refused(r, sig, "malformed", 0);
                respond_status(req, enc, 400, RPC_INVALID_ARGUMENT, "body is not valid gzip", NULL);
            }
            return;
        }
        data = plain.data;
        len = plain.len;
    }

    /* Decode into an arena the budget can pay for. */
    size_t avail = otus_mem_available(r->env.budget);
    size_t arena_max = avail < SIZE_MAX / 2 ? avail : SIZE_MAX / 2;
    size_t chunk = len * 3 + 4096;
    if (chunk > 1u << 20)
        chunk = 1u << 20;
    b = otus_batch_new(sig, chunk, arena_max, r->env.budget);
    if (!b) {
        count_refused(r, sig, "memory", 0);
        respond_status(req, enc, 503, RPC_UNAVAILABLE, "out of memory", "Retry-After: 1\r\n");
        goto out;
    }
    int drc;
    struct otus_buf jerr;
    otus_buf_init(&jerr, 512);
    if (enc == ENC_JSON)
        drc = otus_otlp_json_decode(sig, data, len, &b->arena, &b->req.msg, &jerr);
    else
        drc = otus_otlp_decode(sig, (const uint8_t *)data, len, &b->arena, &b->req.msg);
    if (drc) {
        if (drc == OTUS_ERR_TOO_BIG || drc == OTUS_ERR_NOMEM || b->arena.exhausted) {
            count_refused(r, sig, "memory", 0);
            respond_status(req, enc, 503, RPC_UNAVAILABLE,
                           "the agent's memory limit is reached; retry later",
                           "Retry-After: 1\r\n");
        } else {
            char msg[640];
            if (enc == ENC_JSON)
                snprintf(msg, sizeof(msg),
                         "body is not a valid OTLP/JSON Export*ServiceRequest: %.*s", (int)jerr.len,
                         jerr.data ? jerr.data : "");
            else
                snprintf(msg, sizeof(msg), "body is not a valid protobuf Export*ServiceRequest");
            count_refused(r, sig, "malformed", 0);
            respond_status(req, enc, 400, RPC_INVALID_ARGUMENT, msg, NULL);
        }
        otus_buf_free(&jerr);
        goto out;
    }
    otus_buf_free(&jerr);
    const char *why = NULL;
    size_t rejected = otus_otlp_validate(b, &why);
    if (rejected)
        count_refused(r, sig, "invalid", rejected);
    b->records = otus_batch_count_records(b);
    b->received_ns = otus_clock_wall_ns();
    if (b->records) {
        if (otus_batch_charge(b) != 0) {
            count_refused(r, sig, "memory", b->records);
            respond_status(req, enc, 503, RPC_UNAVAILABLE,
                           "the agent's memory limit is reached; retry later",
                           "Retry-After: 1\r\n");
            goto out;
        }
        otus_pipelines_route(*r->env.pipelines, b);
        r->m_accepted[sig]->value += (double)b->records;
    }
    respond_ok(req, enc, sig, rejected, why);
out:
    otus_batch_unref(b);
    if (plain_charged)
        otus_mem_release(r->env.budget, plain_charged);
    otus_buf_free(&plain);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int otus_receiver_create(const struct otus_receiver_env *env,
                         const struct otus_otlp_receiver_cfg *cfg, struct otus_http_server *srv,
                         struct otus_receiver **out)
{
    struct otus_receiver *r = calloc(1, sizeof(*r));
    if (!r)
        return OTUS_ERR_NOMEM;
    r->env = *env;
    r->srv = srv;
    r->max_request_bytes = cfg->max_request_bytes;
    r->token = strdup(cfg->bearer_token ? cfg->bearer_token : "");
    int rc = r->token ? otus_inflater_init(&r->inflater) : OTUS_ERR_NOMEM;
    if (rc) {
        free(r->token);
        free(r);
        return rc;
    }
    r->token_len = strlen(r->token);
    const char *l1[] = {"signal"};
    struct otus_metric_family *acc = otus_self_metrics_family(
        env->metrics, "otus_receiver_accepted_records_total",
        "Records the OTLP receiver accepted (spans, data points, log records).",
        OTUS_METRIC_COUNTER, l1, 1);
    const char *l2[] = {"signal", "reason"};
    r->f_refused =
        otus_self_metrics_family(env->metrics, "otus_receiver_refused_records_total",
                                 "Records the OTLP receiver refused, by reason (invalid, memory).",
                                 OTUS_METRIC_COUNTER, l2, 2);
    r->f_refused_requests = otus_self_metrics_family(
        env->metrics, "otus_receiver_refused_requests_total",
        "Requests the OTLP receiver refused, by reason.", OTUS_METRIC_COUNTER, l2, 2);
    for (int s = 0; s < OTUS_SIGNAL_COUNT && acc; s++) {
        const char *v[] = {otus_signal_name((enum otus_signal)s)};
        r->m_accepted[s] = otus_self_metrics_series(acc, v);
        if (!r->m_accepted[s])
            acc = NULL;
    }
    rc = acc && r->f_refused && r->f_refused_requests ? 0 : OTUS_ERR_NOMEM;
    for (int s = 0; s < OTUS_SIGNAL_COUNT && !rc; s++) {
        r->routes[s].r = r;
        r->routes[s].signal = (enum otus_signal)s;
        r->routes[s].path = paths[s];
        rc = otus_http_server_route_admit(srv, paths[s], cfg->max_request_bytes, handle, admit,
                                          &r->routes[s]);
    }
    if (rc) {
        otus_receiver_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

void otus_receiver_destroy(struct otus_receiver *r)
{
    if (!r)
        return;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        if (r->routes[s].r)
            otus_http_server_unroute(r->srv, paths[s], &r->routes[s]);
    otus_inflater_destroy(&r->inflater);
    free(r->token);
    free(r);
}
