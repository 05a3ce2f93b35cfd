/*
 * otlp_deliver.c: how a send of the OTLP/HTTP exporter becomes requests and how their
 * answers settle it (otlp.h; lifecycle and configuration are elsewhere).
 *
 * A send's batches are merged and encoded into one Export*ServiceRequest and gzipped
 * on the libuv thread pool (they are read-only, and the loop keeps receiving
 * meanwhile); each request in flight has its own encoding state (buffers and a zlib
 * stream, reused from one request to the next). Back on the loop the body is POSTed
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

#include "agent/log.h"
#include "agent/otlp_json.h"
#include "exporters/otlp/otlp.h"

/* Log lines of one kind per exporter at most this often; the rest are counted. */

/* Encoding buffers over this are freed after their request rather than kept for reuse. */
#define KEEP_BUFFER_MAX (64u << 20)

static void attempt(struct otlp_req *r);
static void split(struct otlp_req *r);

/* ---- small helpers --------------------------------------------------------------------------- */

static int log_allowed(struct otlp_exporter *x, struct otus_log_limit *rl, unsigned *suppressed)
{
    return otus_log_allowed(rl, uv_now(x->loop), suppressed);
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
void otus__otlp_breaker_note(struct otlp_exporter *x, enum otus_signal sig)
{
    struct otlp_endpoint *ep = &x->ep[sig];
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

void otus__otlp_ctx_free(struct otlp_enc_ctx *c)
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

static struct otlp_enc_ctx *ctx_get(struct otlp_exporter *x)
{
    struct otlp_enc_ctx *c = x->free_ctx;
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
        otus__otlp_ctx_free(c);
        return NULL;
    }
    return c;
}

static void ctx_put(struct otlp_exporter *x, struct otlp_enc_ctx *c)
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

/*
 * Once a reload has replaced the exporter, a send about to wait for a retry (or for an
 * open breaker) goes back to the core instead, which queues it for the replacement,
 * provided nothing of it is settled or under way: one request covering the whole
 * send. Returns 1 if r was handed back (r and its send are gone).
 */
static int hand_back(struct otlp_req *r)
{
    struct otlp_exporter *x = r->x;
    struct otlp_job *job = r->job;
    if (!x->handing_back || r->send->deadline_ms || job->parts != 1 || r->first != 0 ||
        r->nbatches != r->send->nbatches)
        return 0; /* a deadline: the agent is stopping, the send ends here */
    struct otus_send *s = job->send;
    struct otus_send_result res = {.returned = s->records};
    otus_log(OTUS_LOG_INFO, "exporter",
             "%s: %zu %s handed to the new configuration after %u attempts", x->name, r->records,
             record_word(s->signal), r->attempts);
    req_free(r);
    free(job);
    otus_send_done(s, &res);
    return 1;
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
    if (hand_back(r))
        return;
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
        otus__otlp_breaker_note(x, sig);
        wake_blocked(x, sig);
        finish_dropped(r, "cancelled at the shutdown deadline");
        return;
    }
    int answered = res->fail == OTUS_HTTP_FAIL_NONE || res->fail == OTUS_HTTP_FAIL_TOO_BIG;
    if (answered && http >= 200 && http < 300) {
        otus_breaker_success(br, r->gen, now);
        otus__otlp_breaker_note(x, sig);
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
        otus__otlp_breaker_note(x, sig);
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
        otus__otlp_breaker_note(x, sig);
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
        otus__otlp_breaker_note(x, sig);
        wake_blocked(x, sig);
        on_rejected(r, res);
        return;
    }
    /* No answer: connection refused or broken, timeout, TLS. Worth retrying. */
    otus_breaker_failure(br, r->gen, now);
    otus__otlp_breaker_note(x, sig);
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
    struct otlp_endpoint *ep = &x->ep[r->send->signal];
    uint64_t now = uv_now(x->loop);
    if (deadline_passed(r, now)) {
        finish_dropped(r, "shutdown deadline");
        return;
    }
    int allowed = otus_breaker_allow(&ep->breaker, now, &r->gen);
    otus__otlp_breaker_note(x, r->send->signal);
    if (!allowed) {
        uint64_t wait = otus_breaker_wait_ms(&ep->breaker, now);
        if (wait == UINT64_MAX) {
            if (!hand_back(r))
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

/*
 * The uncompressed body for batches in c: the merged request in protobuf (c->raw), or
 * in OTLP/JSON (c->json; the protobuf is decoded again into c->json_tree for the JSON
 * writer, which takes a request struct). *body points into c. 0 or a negative status.
 */
int otus__otlp_encode_body(struct otlp_enc_ctx *c, int json, enum otus_signal sig,
                           struct otus_batch *const *batches, size_t n,
                           const struct otus_buf **body)
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
        protobuf_c_message_unpack(otus_request_descriptor(sig), otus_arena_protobuf(&c->json_tree),
                                  c->raw.len, (const uint8_t *)c->raw.data);
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
    struct otlp_enc_ctx *c = r->ctx;
    const struct otus_send *s = r->send;
    const struct otus_buf *body;
    r->enc_status =
        otus__otlp_encode_body(c, x->json, s->signal, s->batches + r->first, r->nbatches, &body);
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

int otus__otlp_send(void *self, struct otus_send *s)
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

/*
 * The core stops: sends past their deadline end now (calls on the wire are cancelled,
 * waits dropped); a send whose next attempt would come after its deadline is dropped
 * now rather than at the deadline.
 */
void otus__otlp_drain(void *self)
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

/* A reload replaced the exporter: what waits to be retried goes back now, and what
 * comes to wait later goes back then (hand_back()). */
void otus__otlp_hand_back(void *self)
{
    struct otlp_exporter *x = self;
    x->handing_back = 1;
    for (;;) {
        struct otlp_req *back = NULL;
        for (struct otlp_req *r = x->reqs; r && !back; r = r->next)
            if ((r->state == RS_WAITING || r->state == RS_BLOCKED) && r->job->parts == 1 &&
                r->first == 0 && r->nbatches == r->send->nbatches)
                back = r;
        if (!back || !hand_back(back))
            break;
    }
    arm_timer(x);
}
