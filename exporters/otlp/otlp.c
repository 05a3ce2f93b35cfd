/*
 * otlp.c: the OTLP/HTTP exporter (types "otlp" and "jaeger", see otlp.h): how a send
 * becomes requests and how their answers settle it.
 *
 * A send's batches are merged and encoded into one Export*ServiceRequest and gzipped
 * on the libuv thread pool (they are read-only, and the loop keeps receiving
 * meanwhile); each send in flight has its own encoding state (buffers and a zlib
 * stream, reused from one send to the next). Back on the loop the body is POSTed
 * through the shared HTTP client, as many times as it takes:
 *
 *   ENCODING --> (attempt) --> CALLING --> answer
 *                   ^  |                     | 2xx: settled (partial_success: the
 *                   |  +--> WAITING (breaker |      rejected records count as failed)
 *                   |  |    open, or backoff)| 429, 502, 503, 504, network error:
 *                   |  +--> BLOCKED (breaker |      backoff honouring Retry-After
 *                   |       probe out)       | 413: split in two requests of half the
 *                   +------------------------+      batches each (down to one batch)
 *                                              any other status: failed for good
 *
 * Each signal's endpoint has a circuit breaker: 502, 503, 504, 5xx and network errors
 * count against it; a 429 does not (the backend is up and says when to come back).
 * A send that keeps failing is dropped when retry.max_elapsed has passed since its
 * first failure, or when its shutdown deadline would pass before the next attempt; at
 * the deadline itself, requests still on the wire are cancelled and dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <otus.h>

#include "agent/http_client.h"
#include "agent/log.h"
#include "agent/otlp_json.h"
#include "common/backoff.h"
#include "common/breaker.h"
#include "common/gzip.h"
#include "exporters/otlp/otlp.h"

/* Log lines of one kind per exporter at most this often; the rest are counted. */
#define LOG_INTERVAL_MS 5000

/* Encoding buffers over this are freed after their send rather than kept for reuse. */
#define KEEP_BUFFER_MAX (64u << 20)

enum req_state { RS_ENCODING, RS_CALLING, RS_WAITING, RS_BLOCKED, RS_WAKING };

/* Request outcomes, the "outcome" label of otus_otlp_requests_total. */
enum outcome { OC_OK, OC_PARTIAL, OC_RETRY, OC_REJECTED, OC_NETWORK, OC_COUNT };
static const char *const outcome_names[OC_COUNT] = {"ok", "partial", "retryable", "rejected",
                                                    "network"};

/* What one send in flight needs while it is encoded, and its body until settled. */
struct enc_ctx {
    struct enc_ctx *next; /* free list */
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
    struct enc_ctx *ctx;
    uv_work_t work;
    int enc_status; /* set on the pool */
    const char *body;
    size_t body_len;
    enum req_state state;
    uint64_t wake_ms; /* RS_WAITING: loop time of the next attempt */
    struct otus_backoff backoff;
    struct otus_http_call *call; /* RS_CALLING */
    uint64_t gen;                /* breaker generation of the call */
    int canceling;               /* the call was cancelled at the deadline */
    unsigned attempts;
};

struct endpoint {
    char *url; /* owned; NULL for a signal the type does not take */
    struct otus_breaker breaker;
    struct otus_metric_series *m_state;
    struct otus_metric_series *m_trans[3]; /* state changes: to open, half_open, closed */
    uint64_t seen[3];                      /* the breaker's counters already added */
    enum otus_breaker_state last_state;
};

struct ratelimit {
    uint64_t last_ms;
    unsigned suppressed;
    int used;
};

struct otlp_exporter {
    struct otlp_exporter *next_live; /* every instance created, see name_shared() */
    uv_loop_t *loop;
    const struct otlp_cfg *cfg;
    char *name;
    struct endpoint ep[OTUS_SIGNAL_COUNT];
    char **headers; /* NULL-terminated, one allocation */
    int gzip;
    int json; /* encoding: json */
    struct otus_http_tls tls;
    int use_tls; /* any TLS setting given */
    struct otus_http_client *http;
    struct otus_self_metrics *metrics;
    uv_timer_t timer;
    struct otlp_req *reqs;    /* open requests */
    struct enc_ctx *free_ctx; /* encoding states not in use */
    struct enc_ctx loop_enc;  /* for encode(), on the loop (no deflater) */
    struct ratelimit rl_partial, rl_rejected, rl_retry;
    int pending_closes; /* timer, HTTP client */
    void (*closed)(void *arg);
    void *closed_arg;
    struct otus_metric_series *m_requests[OC_COUNT];
    struct otus_metric_series *m_retries, *m_bytes, *m_partial;
};

static void attempt(struct otlp_req *r);
static void split(struct otlp_req *r);

/* ---- small helpers --------------------------------------------------------------------------- */

static int log_allowed(struct otlp_exporter *x, struct ratelimit *rl, unsigned *suppressed)
{
    uint64_t now = uv_now(x->loop);
    if (rl->used && now - rl->last_ms < LOG_INTERVAL_MS) {
        rl->suppressed++;
        return 0;
    }
    rl->used = 1;
    rl->last_ms = now;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return 1;
}

static const char *record_word(enum otus_signal s)
{
    return s == OTUS_SIGNAL_TRACES    ? "spans"
           : s == OTUS_SIGNAL_METRICS ? "data points"
                                      : "log records";
}

static void count(struct otus_metric_series *m, double v)
{
    if (m)
        m->value += v;
}

/* Publishes a breaker's state and new transitions, and logs a change of state. */
static void breaker_note(struct otlp_exporter *x, enum otus_signal sig)
{
    struct endpoint *ep = &x->ep[sig];
    const uint64_t now[3] = {ep->breaker.opened, ep->breaker.half_opened, ep->breaker.closed};
    for (int k = 0; k < 3; k++) {
        count(ep->m_trans[k], (double)(now[k] - ep->seen[k]));
        ep->seen[k] = now[k];
    }
    enum otus_breaker_state st = otus_breaker_state(&ep->breaker);
    if (ep->m_state)
        ep->m_state->value = (double)st;
    if (st != ep->last_state) {
        otus_log(st == OTUS_BREAKER_CLOSED ? OTUS_LOG_INFO : OTUS_LOG_WARN, "exporter",
                 "%s: circuit breaker of %s is %s", x->name, ep->url, otus_breaker_state_name(st));
        ep->last_state = st;
    }
}

static void ctx_free(struct enc_ctx *c)
{
    if (!c)
        return;
    otus__otlp_encoder_destroy(&c->enc);
    otus_deflater_destroy(&c->zd);
    otus_buf_free(&c->raw);
    otus_arena_destroy(&c->json_tree);
    otus_buf_free(&c->json);
    otus_buf_free(&c->gz);
    free(c);
}

static struct enc_ctx *ctx_get(struct otlp_exporter *x)
{
    struct enc_ctx *c = x->free_ctx;
    if (c) {
        x->free_ctx = c->next;
        c->next = NULL;
        return c;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    otus__otlp_encoder_init(&c->enc);
    otus_buf_init(&c->raw, OTUS_OTLP_MAX_BODY);
    otus_arena_init(&c->json_tree, 1 << 20, 0);
    otus_buf_init(&c->json, OTUS_OTLP_MAX_BODY);
    otus_buf_init(&c->gz, OTUS_OTLP_MAX_BODY);
    if (x->gzip && otus_deflater_init(&c->zd, (int)x->cfg->c.compression_level) != 0) {
        ctx_free(c);
        return NULL;
    }
    return c;
}

static void ctx_put(struct otlp_exporter *x, struct enc_ctx *c)
{
    if (c->raw.cap > KEEP_BUFFER_MAX)
        otus_buf_free(&c->raw);
    if (c->gz.cap > KEEP_BUFFER_MAX)
        otus_buf_free(&c->gz);
    if (c->json.cap > KEEP_BUFFER_MAX)
        otus_buf_free(&c->json);
    otus_arena_reset(&c->json_tree);
    otus_buf_reset(&c->json);
    otus_buf_reset(&c->raw);
    otus_buf_reset(&c->gz);
    c->next = x->free_ctx;
    x->free_ctx = c;
}

/* ---- settling
 * ------------------------------------------------------------------------------------ */

static void req_unlink(struct otlp_req *r)
{
    struct otlp_exporter *x = r->x;
    if (r->prev)
        r->prev->next = r->next;
    else
        x->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

/* Adds a settled part to its job; the last part settles the send. */
static void job_settle(struct otlp_job *job, size_t sent, size_t failed, size_t dropped)
{
    job->acc.sent += sent;
    job->acc.failed += failed;
    job->acc.dropped += dropped;
    if (--job->parts > 0)
        return;
    struct otus_send *s = job->send;
    struct otus_send_result res = job->acc;
    free(job);
    otus_send_done(s, &res);
}

static void req_free(struct otlp_req *r)
{
    req_unlink(r);
    if (r->ctx)
        ctx_put(r->x, r->ctx);
    free(r);
}

/* Settles r's part of its send and frees r. */
static void finish(struct otlp_req *r, size_t sent, size_t failed, size_t dropped)
{
    struct otlp_job *job = r->job;
    req_free(r);
    job_settle(job, sent, failed, dropped);
}

static void finish_dropped(struct otlp_req *r, const char *why)
{
    struct otlp_exporter *x = r->x;
    unsigned sup;
    if (log_allowed(x, &x->rl_retry, &sup))
        otus_log(OTUS_LOG_WARN, "exporter", "%s: %zu %s dropped after %u attempts: %s%s", x->name,
                 r->records, record_word(r->send->signal), r->attempts, why,
                 sup ? " (and similar messages suppressed)" : "");
    finish(r, 0, 0, r->records);
}

static int deadline_passed(const struct otlp_req *r, uint64_t now)
{
    return r->send->deadline_ms && now >= r->send->deadline_ms;
}

/* ---- the timer for retries and open breakers
 * ----------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void arm_timer(struct otlp_exporter *x)
{
    uint64_t first = UINT64_MAX;
    for (struct otlp_req *r = x->reqs; r; r = r->next)
        if (r->state == RS_WAITING && r->wake_ms < first)
            first = r->wake_ms;
    if (first == UINT64_MAX) {
        uv_timer_stop(&x->timer);
        return;
    }
    uint64_t now = uv_now(x->loop);
    uv_timer_start(&x->timer, on_timer, first > now ? first - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct otlp_exporter *x = t->data;
    for (;;) {
        uint64_t now = uv_now(x->loop);
        struct otlp_req *due = NULL;
        for (struct otlp_req *r = x->reqs; r && !due; r = r->next)
            if (r->state == RS_WAITING && r->wake_ms <= now)
                due = r;
        if (!due)
            break;
        attempt(due); /* leaves RS_WAITING or sets a later wake time */
    }
    arm_timer(x);
}

/* Sends waiting for the outcome of a breaker's probe try again, each once (one of them
 * may become the next probe, and the others wait for it in turn). */
static void wake_blocked(struct otlp_exporter *x, enum otus_signal s)
{
    for (struct otlp_req *r = x->reqs; r; r = r->next)
        if (r->state == RS_BLOCKED && r->send->signal == s)
            r->state = RS_WAKING;
    for (;;) {
        struct otlp_req *b = NULL;
        for (struct otlp_req *r = x->reqs; r && !b; r = r->next)
            if (r->state == RS_WAKING)
                b = r;
        if (!b)
            return;
        b->state = RS_WAITING;
        attempt(b); /* calls, waits, blocks again or settles */
    }
}

/* Waits delay_ms before the next attempt, unless that ends past the send's deadline or
 * past retry.max_elapsed. */
static void wait_then_attempt(struct otlp_req *r, uint64_t delay_ms, const char *why)
{
    uint64_t now = uv_now(r->x->loop);
    if (r->send->deadline_ms && now + delay_ms > r->send->deadline_ms) {
        finish_dropped(r, why);
        return;
    }
    /* An open breaker's wait counts against retry.max_elapsed as a backoff does. */
    const struct otus_backoff *bo = &r->backoff;
    if (bo->running && now + delay_ms > bo->start_ms &&
        now + delay_ms - bo->start_ms > bo->opts.max_elapsed_ms) {
        finish_dropped(r, why);
        return;
    }
    r->state = RS_WAITING;
    r->wake_ms = now + delay_ms;
    arm_timer(r->x);
}

static void retry_later(struct otlp_req *r, int64_t retry_after_ms, const char *why)
{
    int64_t d = otus_backoff_next(&r->backoff, uv_now(r->x->loop), retry_after_ms);
    if (d == OTUS_BACKOFF_STOP) {
        finish_dropped(r, why);
        return;
    }
    count(r->x->m_retries, 1);
    wait_then_attempt(r, (uint64_t)d, why);
}

/* ---- answers
 * -------------------------------------------------------------------------------------- */

static void on_success(struct otlp_req *r, struct otus_http_result *res)
{
    struct otlp_exporter *x = r->x;
    struct otus_send *s = r->send;
    int64_t rejected = 0;
    char msg[512] = "";
    if (res->fail == OTUS_HTTP_FAIL_NONE) {
        int json = strstr(res->content_type, "json") != NULL;
        if (otus__otlp_parse_response(s->signal, res->body.data, res->body.len, json, &rejected,
                                      msg, sizeof(msg)) != 0) {
            unsigned sup;
            if (log_allowed(x, &x->rl_partial, &sup))
                otus_log(OTUS_LOG_WARN, "exporter",
                         "%s: HTTP %d answer is not an Export*ServiceResponse; counting the %zu "
                         "%s as delivered",
                         x->name, res->http_status, r->records, record_word(s->signal));
            rejected = 0;
        }
    }
    size_t nrej = (uint64_t)rejected > r->records ? r->records : (size_t)rejected;
    if (nrej || msg[0]) {
        unsigned sup;
        if (log_allowed(x, &x->rl_partial, &sup)) {
            if (nrej)
                otus_log(OTUS_LOG_WARN, "exporter", "%s: the backend rejected %zu of %zu %s: %s%s",
                         x->name, nrej, r->records, record_word(s->signal),
                         msg[0] ? msg : "(no message)",
                         sup ? " (and similar messages suppressed)" : "");
            else
                otus_log(OTUS_LOG_INFO, "exporter", "%s: the backend says: %s%s", x->name, msg,
                         sup ? " (and similar messages suppressed)" : "");
        }
    }
    count(x->m_requests[nrej ? OC_PARTIAL : OC_OK], 1);
    count(x->m_partial, (double)nrej);
    finish(r, r->records - nrej, nrej, 0);
}

static void on_rejected(struct otlp_req *r, struct otus_http_result *res)
{
    struct otlp_exporter *x = r->x;
    char text[256];
    otus__otlp_failure_text(res->body.data, res->body.len, res->content_type, text, sizeof(text));
    unsigned sup;
    if (log_allowed(x, &x->rl_rejected, &sup))
        otus_log(OTUS_LOG_ERROR, "exporter", "%s: HTTP %d, %zu %s refused for good: %s%s", x->name,
                 res->http_status, r->records, record_word(r->send->signal),
                 text[0] ? text : "(no message)", sup ? " (and similar messages suppressed)" : "");
    count(x->m_requests[OC_REJECTED], 1);
    finish(r, 0, r->records, 0);
}

static int retryable_status(int http)
{
    return http == 429 || http == 502 || http == 503 || http == 504;
}

static void on_done(struct otus_http_result *res, void *arg)
{
    struct otlp_req *r = arg;
    struct otlp_exporter *x = r->x;
    enum otus_signal sig = r->send->signal;
    struct otus_breaker *br = &x->ep[sig].breaker;
    uint64_t now = uv_now(x->loop);
    int http = res->http_status;
    r->call = NULL;

    if (res->fail == OTUS_HTTP_FAIL_CANCELED) {
        otus_breaker_abandon(br, r->gen);
        breaker_note(x, sig);
        wake_blocked(x, sig);
        finish_dropped(r, "cancelled at the shutdown deadline");
        return;
    }
    int answered = res->fail == OTUS_HTTP_FAIL_NONE || res->fail == OTUS_HTTP_FAIL_TOO_BIG;
    if (answered && http >= 200 && http < 300) {
        otus_breaker_success(br, r->gen, now);
        breaker_note(x, sig);
        wake_blocked(x, sig);
        on_success(r, res);
        return;
    }
    if (answered && retryable_status(http)) {
        /* A 429 says the backend is up and busy: its Retry-After paces us, the breaker
         * need not. */
        if (http == 429)
            otus_breaker_success(br, r->gen, now);
        else
            otus_breaker_failure(br, r->gen, now);
        breaker_note(x, sig);
        wake_blocked(x, sig);
        count(x->m_requests[OC_RETRY], 1);
        char text[256], why[320];
        otus__otlp_failure_text(res->body.data, res->body.len, res->content_type, text,
                                sizeof(text));
        snprintf(why, sizeof(why), "HTTP %d%s%s", http, text[0] ? ": " : "", text);
        unsigned sup;
        if (log_allowed(x, &x->rl_retry, &sup))
            otus_log(OTUS_LOG_WARN, "exporter", "%s: %s; retrying%s", x->name, why,
                     sup ? " (and similar messages suppressed)" : "");
        retry_later(r, res->retry_after_ms, why);
        return;
    }
    if (answered && http == 413 && r->nbatches > 1) {
        otus_breaker_success(br, r->gen, now);
        breaker_note(x, sig);
        wake_blocked(x, sig);
        count(x->m_requests[OC_REJECTED], 1);
        split(r);
        return;
    }
    if (answered) {
        /* Every other status is final (OTLP/HTTP: only 429, 502, 503, 504 are retried).
         * A 4xx says nothing against the backend's health; a 5xx does. */
        if (http >= 500)
            otus_breaker_failure(br, r->gen, now);
        else
            otus_breaker_success(br, r->gen, now);
        breaker_note(x, sig);
        wake_blocked(x, sig);
        on_rejected(r, res);
        return;
    }
    /* No answer: connection refused or broken, timeout, TLS. Worth retrying. */
    otus_breaker_failure(br, r->gen, now);
    breaker_note(x, sig);
    wake_blocked(x, sig);
    count(x->m_requests[OC_NETWORK], 1);
    char why[320];
    snprintf(why, sizeof(why), "%s (%s)", res->error, otus_http_fail_name(res->fail));
    unsigned sup;
    if (log_allowed(x, &x->rl_retry, &sup))
        otus_log(OTUS_LOG_WARN, "exporter", "%s: %s; retrying%s", x->name, why,
                 sup ? " (and similar messages suppressed)" : "");
    retry_later(r, -1, why);
}

/* ---- attempts
 * ------------------------------------------------------------------------------------ */

static void attempt(struct otlp_req *r)
{
    struct otlp_exporter *x = r->x;
    struct endpoint *ep = &x->ep[r->send->signal];
    uint64_t now = uv_now(x->loop);
    if (deadline_passed(r, now)) {
        finish_dropped(r, "shutdown deadline");
        return;
    }
    int allowed = otus_breaker_allow(&ep->breaker, now, &r->gen);
    breaker_note(x, r->send->signal);
    if (!allowed) {
        uint64_t wait = otus_breaker_wait_ms(&ep->breaker, now);
        if (wait == UINT64_MAX) {
            r->state = RS_BLOCKED; /* the probe's outcome wakes it */
            return;
        }
        wait_then_attempt(r, wait ? wait : 1, "circuit breaker open");
        return;
    }
    uint64_t timeout = x->cfg->c.timeout_ms;
    if (r->send->deadline_ms && r->send->deadline_ms - now < timeout)
        timeout = r->send->deadline_ms - now;
    struct otus_http_call_opts o = {
        .method = "POST",
        .url = ep->url,
        .headers = (const char *const *)x->headers,
        .body = r->body,
        .body_len = r->body_len,
        .timeout_ms = timeout ? timeout : 1,
        .connect_timeout_ms = timeout < 10000 ? (timeout ? timeout : 1) : 10000,
        .max_response_bytes = x->cfg->c.max_response_bytes,
        .tls = x->use_tls ? &x->tls : NULL,
        .accept_gzip = 1,
    };
    r->attempts++;
    int rc = otus_http_call_start(x->http, &o, on_done, r, &r->call);
    if (rc) {
        otus_breaker_abandon(&ep->breaker, r->gen);
        r->call = NULL;
        if (rc == OTUS_ERR_INVALID) {
            otus_log(OTUS_LOG_ERROR, "exporter", "%s: cannot send to %s: %s", x->name, ep->url,
                     otus_strerror(rc));
            count(x->m_requests[OC_REJECTED], 1);
            finish(r, 0, r->records, 0);
        } else {
            retry_later(r, -1, otus_strerror(rc));
        }
        return;
    }
    r->state = RS_CALLING;
    count(x->m_bytes, (double)r->body_len);
}

/* ---- encoding on the thread pool
 * ------------------------------------------------------------------ */

static const ProtobufCMessageDescriptor *const request_desc[OTUS_SIGNAL_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

/*
 * The uncompressed body for batches in c: the merged request in protobuf (c->raw), or
 * in OTLP/JSON (c->json; the protobuf is decoded again into c->json_tree for the JSON
 * writer, which takes a request struct). *body points into c. 0 or a negative status.
 */
static int encode_body(struct enc_ctx *c, int json, enum otus_signal sig,
                       struct otus_batch *const *batches, size_t n, const struct otus_buf **body)
{
    otus_buf_reset(&c->raw);
    int rc = otus__otlp_encode(&c->enc, sig, batches, n, &c->raw);
    *body = &c->raw;
    if (rc || !json)
        return rc;
    otus_arena_reset(&c->json_tree);
    /* A decoded request takes a few times its wire size; anything far beyond is a bug. */
    c->json_tree.max = c->raw.len * 16 + (1u << 20);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(request_desc[sig], otus_arena_protobuf(&c->json_tree), c->raw.len,
                                  (const uint8_t *)c->raw.data);
    if (!m)
        return OTUS_ERR_NOMEM;
    otus_buf_reset(&c->json);
    rc = otus_otlp_json_encode(sig, m, &c->json);
    *body = &c->json;
    return rc;
}

static void encode_run(uv_work_t *w)
{
    struct otlp_req *r = w->data;
    struct otlp_exporter *x = r->x;
    struct enc_ctx *c = r->ctx;
    const struct otus_send *s = r->send;
    const struct otus_buf *body;
    r->enc_status = encode_body(c, x->json, s->signal, s->batches + r->first, r->nbatches, &body);
    if (r->enc_status)
        return;
    if (x->gzip) {
        otus_buf_reset(&c->gz);
        r->enc_status = otus_deflater_gzip(&c->zd, body->data, body->len, &c->gz);
        body = &c->gz;
    }
    r->body = body->data;
    r->body_len = body->len;
}

static void encode_done(uv_work_t *w, int status)
{
    struct otlp_req *r = w->data;
    struct otlp_exporter *x = r->x;
    if (status == UV_ECANCELED) {
        finish_dropped(r, "cancelled");
        return;
    }
    if (r->enc_status) {
        otus_log(OTUS_LOG_ERROR, "exporter", "%s: cannot encode %zu %s: %s", x->name, r->records,
                 record_word(r->send->signal), otus_strerror(r->enc_status));
        finish(r, 0, r->records, 0);
        return;
    }
    /* What the body was made from is not needed any more; the body lives until settled. */
    if ((x->gzip || x->json) && r->ctx->raw.cap > KEEP_BUFFER_MAX)
        otus_buf_free(&r->ctx->raw);
    if (x->json)
        otus_arena_reset(&r->ctx->json_tree);
    attempt(r);
}

/* Starts a request for batches [first, first + n) of job's send. 0 or a negative status
 * (nothing started). */
static int req_start(struct otlp_exporter *x, struct otlp_job *job, size_t first, size_t n)
{
    struct otlp_req *r = calloc(1, sizeof(*r));
    if (!r)
        return OTUS_ERR_NOMEM;
    r->ctx = ctx_get(x);
    if (!r->ctx) {
        free(r);
        return OTUS_ERR_NOMEM;
    }
    r->x = x;
    r->job = job;
    r->send = job->send;
    r->first = first;
    r->nbatches = n;
    for (size_t i = first; i < first + n; i++)
        r->records += job->send->batches[i]->records;
    r->state = RS_ENCODING;
    struct otus_backoff_opts bo = {
        .initial_interval_ms = x->cfg->c.retry.initial_interval_ms,
        .max_interval_ms = x->cfg->c.retry.max_interval_ms,
        .max_elapsed_ms = x->cfg->c.retry.max_elapsed_ms,
    };
    otus_backoff_init(&r->backoff, &bo);
    r->work.data = r;
    int rc = uv_queue_work(x->loop, &r->work, encode_run, encode_done);
    if (rc) {
        ctx_put(x, r->ctx);
        free(r);
        return OTUS_ERR_IO;
    }
    r->next = x->reqs;
    if (x->reqs)
        x->reqs->prev = r;
    x->reqs = r;
    return 0;
}

/*
 * The endpoint refused r's body as too large (413): r's batches go again in two
 * requests of half as many batches each, and so on down to single batches.
 */
static void split(struct otlp_req *r)
{
    struct otlp_exporter *x = r->x;
    struct otlp_job *job = r->job;
    size_t first = r->first, n = r->nbatches, half = n / 2;
    size_t recs[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        recs[i >= half] += job->send->batches[first + i]->records;
    unsigned sup;
    if (log_allowed(x, &x->rl_rejected, &sup))
        otus_log(OTUS_LOG_WARN, "exporter",
                 "%s: HTTP 413 for a request of %zu %s (%zu bytes); sending it as two%s", x->name,
                 r->records, record_word(r->send->signal), r->body_len,
                 sup ? " (and similar messages suppressed)" : "");
    job->parts += 2;
    req_free(r);
    job->parts--; /* r is gone, its two halves take its place */
    if (req_start(x, job, first, half) != 0)
        job_settle(job, 0, 0, recs[0]);
    if (req_start(x, job, first + half, n - half) != 0)
        job_settle(job, 0, 0, recs[1]);
}

static int otlp_send(void *self, struct otus_send *s)
{
    struct otlp_exporter *x = self;
    struct otlp_job *job = calloc(1, sizeof(*job));
    if (!job)
        return OTUS_ERR_NOMEM;
    job->send = s;
    job->parts = 1;
    int rc = req_start(x, job, 0, s->nbatches);
    if (rc)
        free(job);
    return rc;
}

static int otlp_encode(void *self, struct otus_batch *const *batches, size_t n,
                       struct otus_buf *out)
{
    struct otlp_exporter *x = self;
    if (n == 0)
        return 0;
    const struct otus_buf *body;
    int rc = encode_body(&x->loop_enc, x->json, batches[0]->signal, batches, n, &body);
    if (!rc)
        rc = otus_buf_append(out, body->data, body->len);
    return rc;
}

/*
 * The core stops: sends past their deadline end now (calls on the wire are cancelled,
 * waits dropped); a send whose next attempt would come after its deadline is dropped
 * now rather than at the deadline.
 */
static void otlp_drain(void *self)
{
    struct otlp_exporter *x = self;
    for (;;) {
        uint64_t now = uv_now(x->loop);
        struct otlp_req *act = NULL;
        for (struct otlp_req *r = x->reqs; r && !act; r = r->next) {
            uint64_t dl = r->send->deadline_ms;
            if (!dl || r->state == RS_ENCODING)
                continue;
            if (r->state == RS_CALLING) {
                if (now >= dl && !r->canceling)
                    act = r;
            } else if (now >= dl || (r->state == RS_WAITING && r->wake_ms > dl)) {
                act = r;
            }
        }
        if (!act)
            break;
        if (act->state == RS_CALLING) {
            act->canceling = 1;
            if (act->call)
                otus_http_call_cancel(act->call);
        } else {
            finish_dropped(act, "shutdown deadline");
        }
    }
    arm_timer(x);
}

/* ---- lifecycle
 * ----------------------------------------------------------------------------------- */

static void collect(void *ctx)
{
    struct otlp_exporter *x = ctx;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        if (x->ep[s].url)
            breaker_note(x, (enum otus_signal)s);
}

/*
 * Every live instance, on the loop thread. A reload that changes an exporter's settings
 * creates the new instance before the old one goes, and both get the same metric series
 * (same name, same labels): the one that goes last removes them.
 */
static struct otlp_exporter *live;

static int name_shared(const struct otlp_exporter *x)
{
    for (const struct otlp_exporter *o = live; o; o = o->next_live)
        if (o != x && strcmp(o->name, x->name) == 0)
            return 1;
    return 0;
}

/* Another live instance of the same name has a series for this endpoint too. */
static int endpoint_shared(const struct otlp_exporter *x, int s)
{
    for (const struct otlp_exporter *o = live; o; o = o->next_live)
        if (o != x && strcmp(o->name, x->name) == 0 && o->ep[s].url &&
            strcmp(o->ep[s].url, x->ep[s].url) == 0)
            return 1;
    return 0;
}

static void exporter_free(struct otlp_exporter *x)
{
    for (struct otlp_exporter **pp = &live; *pp; pp = &(*pp)->next_live) {
        if (*pp == x) {
            *pp = x->next_live;
            break;
        }
    }
    if (x->metrics)
        otus_self_metrics_off_collect(x->metrics, collect, x);
    int shared = x->name && name_shared(x);
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        if (x->ep[s].url && !endpoint_shared(x, s)) {
            otus_self_metrics_series_remove(x->ep[s].m_state);
            for (int k = 0; k < 3; k++)
                otus_self_metrics_series_remove(x->ep[s].m_trans[k]);
        }
        free(x->ep[s].url);
    }
    if (!shared) {
        for (int i = 0; i < OC_COUNT; i++)
            otus_self_metrics_series_remove(x->m_requests[i]);
        otus_self_metrics_series_remove(x->m_retries);
        otus_self_metrics_series_remove(x->m_bytes);
        otus_self_metrics_series_remove(x->m_partial);
    }
    while (x->free_ctx) {
        struct enc_ctx *c = x->free_ctx;
        x->free_ctx = c->next;
        ctx_free(c);
    }
    otus__otlp_encoder_destroy(&x->loop_enc.enc);
    otus_buf_free(&x->loop_enc.raw);
    otus_arena_destroy(&x->loop_enc.json_tree);
    otus_buf_free(&x->loop_enc.json);
    free(x->headers);
    free(x->name);
    free(x);
}

static int make_metrics(struct otlp_exporter *x, struct otus_self_metrics *m)
{
    const char *l1[] = {"exporter"};
    const char *v1[] = {x->name};
    const char *l2[] = {"exporter", "outcome"};
    struct otus_metric_family *f = otus_self_metrics_family(
        m, "otus_otlp_requests_total",
        "OTLP/HTTP requests by outcome: ok, partial (some records rejected), retryable (429, "
        "502, 503, 504), rejected (any other status), network (no answer).",
        OTUS_METRIC_COUNTER, l2, 2);
    for (int i = 0; i < OC_COUNT; i++) {
        const char *v2[] = {x->name, outcome_names[i]};
        x->m_requests[i] = f ? otus_self_metrics_series(f, v2) : NULL;
        if (!x->m_requests[i])
            return OTUS_ERR_NOMEM;
    }
    f = otus_self_metrics_family(m, "otus_otlp_retries_total",
                                 "Retries the OTLP/HTTP exporter scheduled.", OTUS_METRIC_COUNTER,
                                 l1, 1);
    x->m_retries = f ? otus_self_metrics_series(f, v1) : NULL;
    f = otus_self_metrics_family(m, "otus_otlp_request_bytes_total",
                                 "Request body bytes the OTLP/HTTP exporter sent (retries too).",
                                 OTUS_METRIC_COUNTER, l1, 1);
    x->m_bytes = f ? otus_self_metrics_series(f, v1) : NULL;
    f = otus_self_metrics_family(m, "otus_otlp_partial_rejected_records_total",
                                 "Records a backend rejected in a partial_success answer (also "
                                 "counted in otus_exporter_failed_records_total).",
                                 OTUS_METRIC_COUNTER, l1, 1);
    x->m_partial = f ? otus_self_metrics_series(f, v1) : NULL;
    if (!x->m_retries || !x->m_bytes || !x->m_partial)
        return OTUS_ERR_NOMEM;
    const char *l3[] = {"exporter", "endpoint"};
    f = otus_self_metrics_family(m, "otus_exporter_breaker_state",
                                 "Circuit breaker of an endpoint: 0 closed, 1 open, 2 half-open.",
                                 OTUS_METRIC_GAUGE, l3, 2);
    const char *l4[] = {"exporter", "endpoint", "to"};
    static const char *const to[] = {"open", "half_open", "closed"};
    struct otus_metric_family *ft = otus_self_metrics_family(
        m, "otus_exporter_breaker_transitions_total",
        "Circuit breaker state changes, by the state entered.", OTUS_METRIC_COUNTER, l4, 3);
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        if (!x->ep[s].url)
            continue;
        const char *v3[] = {x->name, x->ep[s].url};
        x->ep[s].m_state = f ? otus_self_metrics_series(f, v3) : NULL;
        if (!x->ep[s].m_state)
            return OTUS_ERR_NOMEM;
        for (int k = 0; k < 3; k++) {
            const char *v4[] = {x->name, x->ep[s].url, to[k]};
            x->ep[s].m_trans[k] = ft ? otus_self_metrics_series(ft, v4) : NULL;
            if (!x->ep[s].m_trans[k])
                return OTUS_ERR_NOMEM;
        }
    }
    return otus_self_metrics_on_collect(m, collect, x);
}

static int create(const struct otus_exporter_env *env, const struct otlp_cfg *cfg, unsigned signals,
                  int append_path, void **self, const char **detail)
{
    static char why[256];
    struct otlp_exporter *x = calloc(1, sizeof(*x));
    if (!x)
        return OTUS_ERR_NOMEM;
    x->loop = env->loop;
    x->cfg = cfg;
    x->gzip = strcmp(cfg->c.compression, "gzip") == 0;
    x->json = strcmp(cfg->c.encoding, "json") == 0;
    otus__otlp_encoder_init(&x->loop_enc.enc);
    otus_buf_init(&x->loop_enc.raw, OTUS_OTLP_MAX_BODY);
    otus_arena_init(&x->loop_enc.json_tree, 1 << 20, 0);
    otus_buf_init(&x->loop_enc.json, OTUS_OTLP_MAX_BODY);
    int rc = 0;
    x->name = strdup(env->name);
    if (!x->name) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    for (int s = 0; s < OTUS_SIGNAL_COUNT && !rc; s++) {
        if (!(signals & OTUS_SIGNAL_BIT(s)))
            continue;
        rc = otus__otlp_url(cfg, (enum otus_signal)s, append_path, &x->ep[s].url);
        struct otus_breaker_opts bo = {
            .failure_threshold = (unsigned)cfg->c.breaker.failure_threshold,
            .open_timeout_ms = cfg->c.breaker.open_timeout_ms,
            .open_timeout_multiplier = 2.0,
            .max_open_timeout_ms = cfg->c.breaker.max_open_timeout_ms,
        };
        otus_breaker_init(&x->ep[s].breaker, &bo);
    }
    if (!rc)
        rc = otus__otlp_headers(cfg, &x->headers);
    if (rc)
        goto out;
    x->tls.ca_file = cfg->c.tls.ca_file && *cfg->c.tls.ca_file ? cfg->c.tls.ca_file : NULL;
    x->tls.cert_file = cfg->c.tls.cert_file && *cfg->c.tls.cert_file ? cfg->c.tls.cert_file : NULL;
    x->tls.key_file = cfg->c.tls.key_file && *cfg->c.tls.key_file ? cfg->c.tls.key_file : NULL;
    x->tls.insecure_skip_verify = cfg->c.tls.insecure_skip_verify;
    x->use_tls =
        x->tls.ca_file || x->tls.cert_file || x->tls.key_file || x->tls.insecure_skip_verify;
    x->metrics = env->metrics;
    rc = make_metrics(x, env->metrics);
    if (rc)
        goto out;
    struct otus_http_client_opts ho = {.max_host_connections = (unsigned)cfg->c.max_connections};
    rc = otus_http_client_create(env->loop, &ho, &x->http);
    if (rc) {
        snprintf(why, sizeof(why), "cannot set up the HTTP client: %s", otus_strerror(rc));
        *detail = why;
        goto out;
    }
    uv_timer_init(env->loop, &x->timer);
    x->timer.data = x;
out:
    if (rc) {
        exporter_free(x);
        return rc;
    }
    x->next_live = live;
    live = x;
    *self = x;
    return 0;
}

static int otlp_create(const struct otus_exporter_env *env, const void *cfg, void **self,
                       const char **detail)
{
    return create(env, cfg, OTUS_SIGNALS_ALL, 1, self, detail);
}

static int jaeger_create(const struct otus_exporter_env *env, const void *cfg, void **self,
                         const char **detail)
{
    return create(env, cfg, OTUS_SIGNAL_BIT(OTUS_SIGNAL_TRACES), 0, self, detail);
}

static void closed_one(struct otlp_exporter *x)
{
    if (--x->pending_closes > 0)
        return;
    void (*closed)(void *) = x->closed;
    void *arg = x->closed_arg;
    exporter_free(x);
    if (closed)
        closed(arg);
}

static void timer_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

static void http_closed(void *arg)
{
    closed_one(arg);
}

static void otlp_destroy(void *self, void (*closed)(void *arg), void *arg)
{
    struct otlp_exporter *x = self;
    /* The core destroys an exporter only when none of its sends is open. */
    x->closed = closed;
    x->closed_arg = arg;
    x->pending_closes = 2;
    uv_timer_stop(&x->timer);
    uv_close((uv_handle_t *)&x->timer, timer_closed);
    otus_http_client_close(x->http, http_closed, x);
}

const struct otus_exporter_ops otus_otlp_exporter = {
    .type = "otlp",
    .signals = OTUS_SIGNALS_ALL,
    .config = otus__otlp_table,
    .config_size = sizeof(struct otlp_cfg),
    .check = otus__otlp_check,
    .create = otlp_create,
    .encode = otlp_encode,
    .send = otlp_send,
    .drain = otlp_drain,
    .destroy = otlp_destroy,
};

const struct otus_exporter_ops otus_jaeger_exporter = {
    .type = "jaeger",
    .signals = OTUS_SIGNAL_BIT(OTUS_SIGNAL_TRACES),
    .config = otus__jaeger_table,
    .config_size = sizeof(struct otlp_cfg),
    .check = otus__otlp_check,
    .create = jaeger_create,
    .encode = otlp_encode,
    .send = otlp_send,
    .drain = otlp_drain,
    .destroy = otlp_destroy,
};
