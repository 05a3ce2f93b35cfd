/*
 * elasticsearch.c: the Elasticsearch exporter's life on the loop: endpoints and their
 * circuit breakers, index templates, and the delivery of each send through the bulk
 * API until every record in it is settled exactly once.
 *
 * A send is encoded once into items (es_encode.c) and becomes a job. A job sends its
 * items in requests of at most max_batch_bytes (uncompressed) to the next endpoint
 * whose breaker allows it, one request at a time, and reads each answer item by item
 * (es_bulk.c): stored items are done, items answered 429 or 5xx are kept for another
 * round after a backoff delay, items refused for good go to the dead-letter file. A
 * request that failed as a whole (connection refused, timeout, 429, 5xx) is retried
 * with exponential backoff and full jitter, honouring Retry-After; one refused with
 * 413 is split in halves. Document IDs are derived from the documents, so sending an
 * item twice never stores it twice: a 409 on create is our own document.
 *
 * Jobs wake up from one timer per exporter (the earliest of their wake times), from
 * the answer to their request, or when an endpoint or a template becomes available.
 * Every path that ends a job goes through finish(), which settles it exactly once.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <otus.h>

#include "agent/http_client.h"
#include "agent/log.h"
#include "common/backoff.h"
#include "common/base64.h"
#include "common/breaker.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/elasticsearch/es.h"

#define PARK_RECHECK_MS 1000u /* a waiting job re-checks deadlines at least this often */
#define TMPL_NONE       0
#define TMPL_INSTALLING 1
#define TMPL_DONE       2

struct endpoint {
    char *base; /* URL without a trailing '/'; also the metric label */
    struct otus_breaker br;
    unsigned last_state;
    struct otus_metric_series *m_state;
    struct otus_metric_series *m_trans[3]; /* opened, half_opened, closed */
};

/* A job's state while the exporter holds it. */
struct jstate {
    struct otus__es_job *job;
    struct otus__es *es;
    struct jstate *prev, *next;
    enum otus_signal signal;
    size_t *todo; /* item indices still to send this round, in order */
    size_t ntodo;
    size_t *retry; /* item indices answered 429/5xx, for the next round */
    size_t nretry;
    size_t split; /* at most this many items per request (0: no limit), after 413 */
    struct otus_backoff backoff;
    uint64_t start_ms;
    uint64_t wake_ms; /* waiting until then (0: not waiting) */
    int parked;       /* waiting for a template or an endpoint: woken by either */
    struct otus_http_call *call;
    struct endpoint *ep;
    uint64_t gen;
    size_t req_n;         /* the request in flight is todo[0..req_n) */
    struct otus_buf body; /* its items, when they are not contiguous */
    struct otus_buf gz;   /* its gzipped body */
    size_t sent, failed, dropped;
};

struct tmpl {
    struct otus__es *es;
    enum otus_signal signal;
    int state;
    struct otus_buf body;
    struct otus_http_call *call;
    struct endpoint *ep;
    uint64_t gen;
    struct otus_backoff backoff;
    uint64_t wake_ms;
};

struct otus__es {
    uv_loop_t *loop;
    const struct otus__es_cfg *cfg;
    char *name;
    struct otus_self_metrics *metrics;
    struct otus_http_client *http;
    struct endpoint *eps;
    size_t neps, rr;
    struct otus__es_target targets[OTUS_SIGNAL_COUNT];
    struct tmpl tmpl[OTUS_SIGNAL_COUNT];
    const char *headers[4];
    const char *tmpl_headers[3];
    char *auth_header;    /* "Authorization: ApiKey ..." or NULL */
    const char *username; /* basic authentication, or NULL */
    struct otus_deflater defl;
    int gzip;
    struct jstate *jobs;
    uv_timer_t timer;
    uint64_t timer_at; /* when the timer fires (0: stopped) */
    /* dead letters */
    char *dl_path;
    int dl_fd;
    uint64_t dl_size;
    /* closing */
    int closing, pending_closes;
    void (*closed)(void *arg);
    void *closed_arg;
    /* metrics */
    struct otus_metric_series *m_req[4];   /* ok, retry, rejected, too_large */
    struct otus_metric_series *m_items[5]; /* stored, retried, rejected, failure_store, dropped */
    struct otus_metric_series *m_dead, *m_dead_lost, *m_bytes, *m_wire;
};

enum { REQ_OK, REQ_RETRY, REQ_REJECTED, REQ_TOO_LARGE };
enum { IT_STORED, IT_RETRIED, IT_REJECTED, IT_FAILURE_STORE, IT_DROPPED };

static void step(struct jstate *js);
static void tmpl_step(struct otus__es *es, enum otus_signal s);
static void timer_arm(struct otus__es *es);

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t now_ms(struct otus__es *es)
{
    return uv_now(es->loop);
}

static void breaker_gauge(struct endpoint *ep)
{
    ep->m_state->value = (double)otus_breaker_state(&ep->br);
    ep->m_trans[0]->value = (double)ep->br.opened;
    ep->m_trans[1]->value = (double)ep->br.half_opened;
    ep->m_trans[2]->value = (double)ep->br.closed;
    unsigned st = (unsigned)otus_breaker_state(&ep->br);
    if (st != ep->last_state) {
        otus_log(st == OTUS_BREAKER_CLOSED ? OTUS_LOG_INFO : OTUS_LOG_WARN, "elasticsearch",
                 "circuit breaker of %s is %s", ep->base,
                 otus_breaker_state_name((enum otus_breaker_state)st));
        ep->last_state = st;
    }
}

/* The next endpoint, round-robin, whose breaker allows an attempt now; NULL when none
 * does (*wait then says how long until one might). */
static struct endpoint *pick(struct otus__es *es, uint64_t *gen, uint64_t *wait)
{
    uint64_t now = now_ms(es), best = UINT64_MAX;
    for (size_t k = 0; k < es->neps; k++) {
        struct endpoint *ep = &es->eps[(es->rr + k) % es->neps];
        if (otus_breaker_allow(&ep->br, now, gen)) {
            es->rr = (es->rr + k + 1) % es->neps;
            breaker_gauge(ep);
            return ep;
        }
        uint64_t w = otus_breaker_wait_ms(&ep->br, now);
        if (w < best)
            best = w;
    }
    *wait = best;
    return NULL;
}

static void ep_outcome(struct otus__es *es, struct endpoint *ep, uint64_t gen, int outcome)
{
    if (outcome > 0)
        otus_breaker_success(&ep->br, gen, now_ms(es));
    else if (outcome < 0)
        otus_breaker_failure(&ep->br, gen, now_ms(es));
    else
        otus_breaker_abandon(&ep->br, gen);
    breaker_gauge(ep);
}

/* Wakes every parked job (an endpoint or template may be available now). */
static void kick(struct otus__es *es)
{
    int any = 0;
    for (struct jstate *js = es->jobs; js; js = js->next) {
        if (js->parked) {
            js->parked = 0;
            js->wake_ms = now_ms(es);
            any = 1;
        }
    }
    if (any)
        timer_arm(es);
}

static void wait_until(struct jstate *js, uint64_t at, int parked)
{
    js->wake_ms = at ? at : 1;
    js->parked = parked;
    timer_arm(js->es);
}

/* ---- the timer --------------------------------------------------------------------------- */

static void timer_fired(uv_timer_t *t)
{
    struct otus__es *es = t->data;
    es->timer_at = 0;
    uint64_t now = now_ms(es);
    /* Collect first: step() may finish jobs and change the list. */
    for (;;) {
        struct jstate *due = NULL;
        for (struct jstate *js = es->jobs; js; js = js->next) {
            if (js->wake_ms && js->wake_ms <= now) {
                due = js;
                break;
            }
        }
        if (!due)
            break;
        due->wake_ms = 0;
        due->parked = 0;
        step(due);
    }
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        struct tmpl *tp = &es->tmpl[s];
        if (tp->state == TMPL_INSTALLING && !tp->call && tp->wake_ms && tp->wake_ms <= now) {
            tp->wake_ms = 0;
            tmpl_step(es, (enum otus_signal)s);
        }
    }
    timer_arm(es);
}

static void timer_arm(struct otus__es *es)
{
    if (es->closing)
        return;
    uint64_t next = UINT64_MAX, now = now_ms(es);
    for (struct jstate *js = es->jobs; js; js = js->next)
        if (js->wake_ms && js->wake_ms < next)
            next = js->wake_ms;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        if (es->tmpl[s].state == TMPL_INSTALLING && !es->tmpl[s].call && es->tmpl[s].wake_ms &&
            es->tmpl[s].wake_ms < next)
            next = es->tmpl[s].wake_ms;
    if (next == UINT64_MAX) {
        if (es->timer_at) {
            uv_timer_stop(&es->timer);
            es->timer_at = 0;
        }
        return;
    }
    if (es->timer_at && es->timer_at <= next)
        return;
    es->timer_at = next;
    uv_timer_start(&es->timer, timer_fired, next > now ? next - now : 0, 0);
}

/* ---- dead letters -------------------------------------------------------------------------- */

static int mkdirs_for(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return 0;
}

/* Appends lines to the dead-letter file. Dead letters are rare and small, and the
 * file is local: a plain append. Returns 0 or OTUS_ERR_IO / OTUS_ERR_FULL. */
static int dead_letter_write(struct otus__es *es, const struct otus_buf *lines)
{
    if (!lines->len)
        return 0;
    if (es->dl_fd < 0) {
        if (mkdirs_for(es->dl_path) != 0)
            return OTUS_ERR_IO;
        es->dl_fd = open(es->dl_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (es->dl_fd < 0)
            return OTUS_ERR_IO;
        struct stat st;
        es->dl_size = fstat(es->dl_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    if (es->dl_size + lines->len > es->cfg->dead_letter_max_bytes)
        return OTUS_ERR_FULL;
    const char *p = lines->data;
    size_t left = lines->len;
    while (left) {
        ssize_t w = write(es->dl_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return OTUS_ERR_IO;
        p += w;
        left -= (size_t)w;
        es->dl_size += (uint64_t)w;
    }
    return 0;
}

/* Records items refused for good: one dead-letter line each, counted as failed. */
static void reject_items(struct jstate *js, const size_t *idx, size_t n,
                         const struct otus__es_item_result *res, const char *type,
                         const char *reason)
{
    struct otus__es *es = js->es;
    struct otus__es_items *it = &js->job->items;
    struct otus_buf lines;
    otus_buf_init(&lines, 0);
    uint64_t now_ns = otus_clock_wall_ns();
    size_t written = 0;
    for (size_t k = 0; k < n; k++) {
        const struct otus__es_item *item = &it->v[idx[k]];
        const char *err = res ? res[k].error : NULL;
        int status = res ? res[k].status : 0;
        if (otus__es_dead_letter_line(&lines, es->name, js->job->target->pattern,
                                      it->ndjson.data + item->off, item->len, item->src, status,
                                      err, type, reason, now_ns) == 0)
            written++;
    }
    int rc = dead_letter_write(es, &lines);
    otus_buf_free(&lines);
    if (rc) {
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: %zu refused documents not written to %s: %s",
                 es->name, n, es->dl_path, otus_strerror(rc));
        es->m_dead_lost->value += (double)n;
    } else {
        es->m_dead->value += (double)written;
        es->m_dead_lost->value += (double)(n - written);
    }
    js->failed += n;
    es->m_items[IT_REJECTED]->value += (double)n;
}

/* ---- jobs
 * ----------------------------------------------------------------------------------------- */

static uint64_t job_deadline(const struct jstate *js)
{
    return js->job->send ? js->job->send->deadline_ms : js->job->deadline_ms;
}

static void finish(struct jstate *js)
{
    struct otus__es *es = js->es;
    assert(!js->call);
    if (js->prev)
        js->prev->next = js->next;
    else
        es->jobs = js->next;
    if (js->next)
        js->next->prev = js->prev;
    struct otus__es_job *j = js->job;
    size_t sent = js->sent, failed = js->failed, dropped = js->dropped;
    assert(sent + failed + dropped == j->items.n);
    free(js->todo);
    free(js->retry);
    otus_buf_free(&js->body);
    otus_buf_free(&js->gz);
    free(js);
    j->priv = NULL;
    j->done(j, sent, failed, dropped);
}

/* Gives up on everything not settled yet. */
static void drop_rest(struct jstate *js, const char *why)
{
    size_t n = js->ntodo + js->nretry;
    if (n) {
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: dropping %zu records: %s", js->es->name, n,
                 why);
        js->dropped += n;
        js->es->m_items[IT_DROPPED]->value += (double)n;
    }
    js->ntodo = js->nretry = 0;
}

/* Removes the request's items, todo[0..req_n), from todo. */
static void todo_consume(struct jstate *js)
{
    memmove(js->todo, js->todo + js->req_n, (js->ntodo - js->req_n) * sizeof(size_t));
    js->ntodo -= js->req_n;
    js->req_n = 0;
}

/* Builds the request from the head of todo; *body and *len get what to send. */
static int build_request(struct jstate *js, const char **body, size_t *len)
{
    struct otus__es *es = js->es;
    struct otus__es_items *it = &js->job->items;
    uint64_t max = es->cfg->queue.max_batch_bytes;
    size_t n = 0, bytes = 0, contiguous = 1;
    while (n < js->ntodo) {
        const struct otus__es_item *item = &it->v[js->todo[n]];
        if (n > 0 && (bytes + item->len > max || (js->split && n >= js->split)))
            break;
        if (n > 0) {
            const struct otus__es_item *prev = &it->v[js->todo[n - 1]];
            if (prev->off + prev->len != item->off)
                contiguous = 0;
        }
        bytes += item->len;
        n++;
    }
    js->req_n = n;
    const char *p;
    if (contiguous) {
        p = it->ndjson.data + it->v[js->todo[0]].off;
    } else {
        otus_buf_reset(&js->body);
        for (size_t k = 0; k < n; k++) {
            const struct otus__es_item *item = &it->v[js->todo[k]];
            int rc = otus_buf_append(&js->body, it->ndjson.data + item->off, item->len);
            if (rc)
                return rc;
        }
        p = js->body.data;
    }
    es->m_bytes->value += (double)bytes;
    if (es->gzip) {
        otus_buf_reset(&js->gz);
        int rc = otus_deflater_gzip(&es->defl, p, bytes, &js->gz);
        if (rc)
            return rc;
        *body = js->gz.data;
        *len = js->gz.len;
    } else {
        *body = p;
        *len = bytes;
    }
    es->m_wire->value += (double)*len;
    return 0;
}

static void bulk_done(struct otus_http_result *res, void *arg);

/* Moves a job forward: sends its next request, or waits, or finishes it. */
static void step(struct jstate *js)
{
    struct otus__es *es = js->es;
    uint64_t now = now_ms(es);
    uint64_t deadline = job_deadline(js);
    if (js->call || es->closing)
        return;
    if (deadline && now >= deadline) {
        drop_rest(js, "shutdown deadline passed");
        finish(js);
        return;
    }
    if (js->ntodo == 0) {
        if (js->nretry == 0) {
            finish(js);
            return;
        }
        /* Another round for the items answered 429 or 5xx, after a backoff delay. */
        size_t *t = js->todo;
        js->todo = js->retry;
        js->ntodo = js->nretry;
        js->retry = t;
        js->nretry = 0;
        int64_t d = otus_backoff_next(&js->backoff, now, -1);
        if (d == OTUS_BACKOFF_STOP) {
            drop_rest(js, "retries exhausted (retry.max_elapsed)");
            finish(js);
            return;
        }
        wait_until(js, now + (uint64_t)d, 0);
        return;
    }
    uint64_t since = js->backoff.running ? js->backoff.start_ms : js->start_ms;
    if (now - since > es->cfg->retry.max_elapsed_ms) {
        drop_rest(js, "no endpoint available within retry.max_elapsed");
        finish(js);
        return;
    }
    if (es->cfg->manage_template && es->tmpl[js->signal].state != TMPL_DONE) {
        if (es->tmpl[js->signal].state == TMPL_NONE) {
            es->tmpl[js->signal].state = TMPL_INSTALLING;
            tmpl_step(es, js->signal);
        }
        if (es->tmpl[js->signal].state != TMPL_DONE) {
            wait_until(js, now + PARK_RECHECK_MS, 1);
            return;
        }
    }
    uint64_t wait;
    struct endpoint *ep = pick(es, &js->gen, &wait);
    if (!ep) {
        wait_until(js, now + (wait < PARK_RECHECK_MS ? wait : PARK_RECHECK_MS), 1);
        return;
    }
    const char *body;
    size_t len;
    int rc = build_request(js, &body, &len);
    if (rc) {
        ep_outcome(es, ep, js->gen, 0);
        js->req_n = 0;
        int64_t d = otus_backoff_next(&js->backoff, now, -1);
        if (d == OTUS_BACKOFF_STOP) {
            drop_rest(js, otus_strerror(rc));
            finish(js);
        } else {
            wait_until(js, now + (uint64_t)d, 0);
        }
        return;
    }
    const struct otus__es_target *t = js->job->target;
    char url[1400];
    if (js->job->omit_index)
        snprintf(url, sizeof(url), "%s/%s/_bulk%s", ep->base, t->pattern,
                 t->data_stream ? "?require_data_stream=true" : "");
    else
        snprintf(url, sizeof(url), "%s/_bulk%s", ep->base,
                 t->data_stream ? "?require_data_stream=true" : "");
    struct otus_http_tls tls = {
        .ca_file = es->cfg->tls.ca_file && *es->cfg->tls.ca_file ? es->cfg->tls.ca_file : NULL,
        .insecure_skip_verify = es->cfg->tls.insecure_skip_verify,
    };
    struct otus_http_call_opts o = {
        .method = "POST",
        .url = url,
        .headers = es->headers,
        .body = body,
        .body_len = len,
        .timeout_ms = es->cfg->timeout_ms,
        .max_response_bytes = (1u << 20) + js->req_n * 4096u,
        .username = es->username,
        .password = es->username ? es->cfg->password : NULL,
        .tls = &tls,
        .accept_gzip = 1,
    };
    js->ep = ep;
    rc = otus_http_call_start(es->http, &o, bulk_done, js, &js->call);
    if (rc) {
        js->call = NULL;
        ep_outcome(es, ep, js->gen, 0);
        js->req_n = 0;
        int64_t d = otus_backoff_next(&js->backoff, now, -1);
        if (rc == OTUS_ERR_INVALID || d == OTUS_BACKOFF_STOP) {
            drop_rest(js, otus_strerror(rc));
            finish(js);
        } else {
            wait_until(js, now + (uint64_t)d, 0);
        }
    }
}

/* The request's items were answered item by item. */
static void items_answered(struct jstate *js, const struct otus__es_item_result *res)
{
    struct otus__es *es = js->es;
    size_t n = js->req_n, nrej = 0;
    size_t *rej = malloc((n ? n : 1) * sizeof(size_t));
    struct otus__es_item_result *rres = malloc((n ? n : 1) * sizeof(*rres));
    for (size_t k = 0; k < n; k++) {
        size_t idx = js->todo[k];
        switch (res ? res[k].outcome : OTUS__ES_OK) {
        case OTUS__ES_OK:
            js->sent++;
            es->m_items[IT_STORED]->value++;
            break;
        case OTUS__ES_FAILURE_ST:
            js->failed++;
            es->m_items[IT_FAILURE_STORE]->value++;
            break;
        case OTUS__ES_RETRY:
            js->retry[js->nretry++] = idx;
            es->m_items[IT_RETRIED]->value++;
            break;
        case OTUS__ES_REJECTED:
            if (rej && rres) {
                rej[nrej] = idx;
                rres[nrej++] = res[k];
            } else {
                js->failed++; /* out of memory: counted, not written */
                es->m_dead_lost->value++;
            }
            break;
        }
    }
    if (nrej) {
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: %zu documents refused, written to %s",
                 es->name, nrej, es->dl_path);
        reject_items(js, rej, nrej, rres, NULL, NULL);
    }
    free(rej);
    free(rres);
    todo_consume(js);
}

static void bulk_done(struct otus_http_result *res, void *arg)
{
    struct jstate *js = arg;
    struct otus__es *es = js->es;
    struct endpoint *ep = js->ep;
    uint64_t now = now_ms(es);
    js->call = NULL;
    switch (res->status) {
    case 0: {
        ep_outcome(es, ep, js->gen, 1);
        struct otus__es_item_result *r = calloc(js->req_n, sizeof(*r));
        int rc = r ? otus__es_bulk_parse(res->body.data ? res->body.data : "", res->body.len,
                                         js->req_n, r)
                   : OTUS_ERR_NOMEM;
        es->m_req[REQ_OK]->value++;
        size_t before = js->nretry;
        if (rc) {
            /* Which items landed is unknown: all of them go again (their _id makes
             * that safe). */
            otus_log(OTUS_LOG_WARN, "elasticsearch",
                     "%s: unreadable bulk answer from %s (%s); sending its %zu items again",
                     es->name, ep->base, otus_strerror(rc), js->req_n);
            for (size_t k = 0; k < js->req_n; k++)
                js->retry[js->nretry++] = js->todo[k];
            es->m_items[IT_RETRIED]->value += (double)js->req_n;
            todo_consume(js);
        } else {
            size_t n = js->req_n;
            items_answered(js, r);
            otus__es_results_free(r, n);
        }
        free(r);
        if (js->nretry == before)
            otus_backoff_reset(&js->backoff);
        step(js);
        break;
    }
    case OTUS_ERR_CANCELED:
        ep_outcome(es, ep, js->gen, 0);
        js->req_n = 0;
        drop_rest(js, es->closing ? "exporter closed" : "shutdown deadline passed");
        finish(js);
        break;
    case OTUS_ERR_TOO_BIG:
    case OTUS_ERR_HTTP_REJECT:
        ep_outcome(es, ep, js->gen, 1);
        if (res->status == OTUS_ERR_TOO_BIG || res->http_status == 413) {
            es->m_req[REQ_TOO_LARGE]->value++;
            if (js->req_n == 1) {
                reject_items(js, js->todo, 1, NULL, "request_entity_too_large",
                             "a single document is larger than the cluster accepts "
                             "(http.max_content_length)");
                todo_consume(js);
            } else {
                js->split = (js->req_n + 1) / 2;
                js->req_n = 0;
            }
            step(js);
            break;
        }
        es->m_req[REQ_REJECTED]->value++;
        {
            char reason[512];
            snprintf(reason, sizeof(reason), "HTTP %d: %.*s", res->http_status,
                     (int)(res->body.len < 400 ? res->body.len : 400),
                     res->body.data ? res->body.data : "");
            otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: %s refused a bulk request: %s", es->name,
                     ep->base, reason);
            reject_items(js, js->todo, js->req_n, NULL, "request_refused", reason);
            todo_consume(js);
        }
        step(js);
        break;
    default: {
        /* Connection refused, timeout, 429, 5xx: the same items again later. A 429 is a
         * node that is up, only busy: it does not count against its breaker. */
        int busy = res->status == OTUS_ERR_HTTP_RETRY && res->http_status == 429;
        ep_outcome(es, ep, js->gen, busy ? 1 : -1);
        es->m_req[REQ_RETRY]->value++;
        otus_log(OTUS_LOG_DEBUG, "elasticsearch", "%s: bulk request to %s failed: %s (HTTP %d)",
                 es->name, ep->base, res->error, res->http_status);
        js->req_n = 0;
        int64_t d = otus_backoff_next(&js->backoff, now, res->retry_after_ms);
        uint64_t deadline = job_deadline(js);
        if (d == OTUS_BACKOFF_STOP) {
            drop_rest(js, "retries exhausted (retry.max_elapsed)");
            finish(js);
        } else if (deadline && now + (uint64_t)d >= deadline) {
            drop_rest(js, "shutdown deadline passed");
            finish(js);
        } else {
            wait_until(js, now + (uint64_t)d, 0);
        }
        break;
    }
    }
    kick(es);
}

int otus__es_job_start(struct otus__es *es, struct otus__es_job *j)
{
    if (es->closing)
        return OTUS_ERR_STATE;
    struct jstate *js = calloc(1, sizeof(*js));
    size_t n = j->items.n;
    if (js) {
        js->todo = malloc((n ? n : 1) * sizeof(size_t));
        js->retry = malloc((n ? n : 1) * sizeof(size_t));
    }
    if (!js || !js->todo || !js->retry) {
        if (js) {
            free(js->todo);
            free(js->retry);
        }
        free(js);
        return OTUS_ERR_NOMEM;
    }
    js->job = j;
    js->es = es;
    js->signal =
        j->target == &es->targets[OTUS_SIGNAL_TRACES] ? OTUS_SIGNAL_TRACES : OTUS_SIGNAL_LOGS;
    for (size_t i = 0; i < n; i++)
        js->todo[i] = i;
    js->ntodo = n;
    struct otus_backoff_opts bo = {
        .initial_interval_ms = es->cfg->retry.initial_interval_ms,
        .max_interval_ms = es->cfg->retry.max_interval_ms,
        .max_elapsed_ms = es->cfg->retry.max_elapsed_ms,
    };
    otus_backoff_init(&js->backoff, &bo);
    otus_buf_init(&js->body, 0);
    otus_buf_init(&js->gz, 0);
    js->start_ms = now_ms(es);
    j->priv = js;
    js->next = es->jobs;
    if (es->jobs)
        es->jobs->prev = js;
    es->jobs = js;
    /* Started from the timer, never from inside the caller. */
    wait_until(js, js->start_ms, 0);
    return 0;
}

struct otus__es_target *otus__es_target_of(struct otus__es *es, enum otus_signal s)
{
    return &es->targets[s == OTUS_SIGNAL_TRACES ? OTUS_SIGNAL_TRACES : OTUS_SIGNAL_LOGS];
}

void otus__es_templates_off(struct otus__es *es)
{
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        es->tmpl[s].state = TMPL_DONE;
}

const char *otus__es_dead_letter_path(const struct otus__es *es)
{
    return es->dl_path;
}

/* ---- index templates ----------------------------------------------------------------------- */

static void tmpl_done(struct otus_http_result *res, void *arg);

static void tmpl_step(struct otus__es *es, enum otus_signal s)
{
    struct tmpl *tp = &es->tmpl[s];
    if (tp->call || es->closing || tp->state != TMPL_INSTALLING)
        return;
    uint64_t now = now_ms(es), wait;
    struct endpoint *ep = pick(es, &tp->gen, &wait);
    if (!ep) {
        tp->wake_ms = now + (wait < PARK_RECHECK_MS ? wait : PARK_RECHECK_MS);
        timer_arm(es);
        return;
    }
    if (!tp->body.len && otus__es_template_body(&es->targets[s], s, es->cfg, &tp->body) != 0) {
        ep_outcome(es, ep, tp->gen, 0);
        tp->state = TMPL_DONE;
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: cannot build the index template", es->name);
        kick(es);
        return;
    }
    char url[1400];
    snprintf(url, sizeof(url), "%s/_index_template/%s", ep->base, es->targets[s].tmpl_name);
    struct otus_http_tls tls = {
        .ca_file = es->cfg->tls.ca_file && *es->cfg->tls.ca_file ? es->cfg->tls.ca_file : NULL,
        .insecure_skip_verify = es->cfg->tls.insecure_skip_verify,
    };
    struct otus_http_call_opts o = {
        .method = "PUT",
        .url = url,
        .headers = es->tmpl_headers,
        .body = tp->body.data,
        .body_len = tp->body.len,
        .timeout_ms = es->cfg->timeout_ms,
        .username = es->username,
        .password = es->username ? es->cfg->password : NULL,
        .tls = &tls,
    };
    tp->ep = ep;
    int rc = otus_http_call_start(es->http, &o, tmpl_done, tp, &tp->call);
    if (rc) {
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: cannot start the template request: %s",
                 es->name, otus_strerror(rc));
        tp->call = NULL;
        ep_outcome(es, ep, tp->gen, 0);
        tp->wake_ms = now + PARK_RECHECK_MS;
        timer_arm(es);
    }
}

static void tmpl_done(struct otus_http_result *res, void *arg)
{
    struct tmpl *tp = arg;
    struct otus__es *es = tp->es;
    enum otus_signal s = tp->signal;
    tp->call = NULL;
    uint64_t now = now_ms(es);
    if (res->status == 0) {
        ep_outcome(es, tp->ep, tp->gen, 1);
        tp->state = TMPL_DONE;
        otus_log(OTUS_LOG_INFO, "elasticsearch", "%s: index template %s installed for %s", es->name,
                 es->targets[s].tmpl_name, es->targets[s].tmpl_pattern);
        otus_buf_free(&tp->body);
    } else if (res->status == OTUS_ERR_CANCELED) {
        ep_outcome(es, tp->ep, tp->gen, 0);
    } else if (res->status == OTUS_ERR_HTTP_REJECT || res->status == OTUS_ERR_TOO_BIG) {
        ep_outcome(es, tp->ep, tp->gen, 1);
        tp->state = TMPL_DONE; /* documents go out anyway; refusals are dead-lettered */
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: index template %s refused (HTTP %d): %.*s",
                 es->name, es->targets[s].tmpl_name, res->http_status,
                 (int)(res->body.len < 400 ? res->body.len : 400),
                 res->body.data ? res->body.data : "");
        otus_buf_free(&tp->body);
    } else {
        int busy = res->status == OTUS_ERR_HTTP_RETRY && res->http_status == 429;
        ep_outcome(es, tp->ep, tp->gen, busy ? 1 : -1);
        int64_t d = otus_backoff_next(&tp->backoff, now, res->retry_after_ms);
        if (d == OTUS_BACKOFF_STOP) {
            otus_backoff_reset(&tp->backoff);
            d = (int64_t)es->cfg->retry.max_interval_ms;
        }
        tp->wake_ms = now + (uint64_t)d;
        timer_arm(es);
    }
    kick(es);
}

/* ---- the exporter interface ------------------------------------------------------------------ */

struct es_send {
    struct otus__es_job job;
};

static void send_job_done(struct otus__es_job *j, size_t sent, size_t failed, size_t dropped)
{
    struct otus_send *s = j->send;
    struct otus_send_result r = {.sent = sent, .failed = failed, .dropped = dropped};
    otus__es_items_free(&j->items);
    free(j);
    otus_send_done(s, &r);
}

static int es_send(void *self, struct otus_send *s)
{
    struct otus__es *es = self;
    struct otus__es_job *j = calloc(1, sizeof(*j));
    if (!j)
        return OTUS_ERR_NOMEM;
    otus__es_items_init(&j->items);
    j->target = otus__es_target_of(es, s->signal);
    j->omit_index = j->target->data_stream;
    j->send = s;
    j->done = send_job_done;
    int rc = otus__es_encode(j->target, j->omit_index, s->batches, s->nbatches, &j->items);
    if (!rc && j->items.n != s->records) {
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: %zu documents for %zu records", es->name,
                 j->items.n, s->records);
        rc = OTUS_ERR_INVALID;
    }
    if (!rc)
        rc = otus__es_job_start(es, j);
    if (rc) {
        otus__es_items_free(&j->items);
        free(j);
    }
    return rc;
}

static int es_encode(void *self, struct otus_batch *const *batches, size_t n, struct otus_buf *out)
{
    struct otus__es *es = self;
    if (!n)
        return 0;
    struct otus__es_items it;
    otus__es_items_init(&it);
    struct otus__es_target *t = otus__es_target_of(es, batches[0]->signal);
    int rc = otus__es_encode(t, t->data_stream, batches, n, &it);
    if (!rc)
        rc = otus_buf_append(out, it.ndjson.data, it.ndjson.len);
    otus__es_items_free(&it);
    return rc;
}

static void es_drain(void *self)
{
    struct otus__es *es = self;
    uint64_t now = now_ms(es);
    for (struct jstate *js = es->jobs; js; js = js->next) {
        uint64_t deadline = job_deadline(js);
        if (js->call && deadline && now >= deadline)
            otus_http_call_cancel(js->call);
        else if (!js->call)
            wait_until(js, now, 0); /* try now rather than after the backoff delay */
    }
}

static void es_free(struct otus__es *es)
{
    if (es->eps) {
        for (size_t i = 0; i < es->neps; i++) {
            free(es->eps[i].base);
            otus_self_metrics_series_remove(es->eps[i].m_state);
            for (int k = 0; k < 3; k++)
                otus_self_metrics_series_remove(es->eps[i].m_trans[k]);
        }
        free(es->eps);
    }
    for (int i = 0; i < 4; i++)
        otus_self_metrics_series_remove(es->m_req[i]);
    for (int i = 0; i < 5; i++)
        otus_self_metrics_series_remove(es->m_items[i]);
    otus_self_metrics_series_remove(es->m_dead);
    otus_self_metrics_series_remove(es->m_dead_lost);
    otus_self_metrics_series_remove(es->m_bytes);
    otus_self_metrics_series_remove(es->m_wire);
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        otus_buf_free(&es->tmpl[s].body);
    if (es->dl_fd >= 0)
        close(es->dl_fd);
    otus_deflater_destroy(&es->defl);
    free(es->auth_header);
    free(es->dl_path);
    free(es->name);
    free(es);
}

static void closed_one(struct otus__es *es)
{
    if (--es->pending_closes > 0)
        return;
    void (*closed)(void *) = es->closed;
    void *arg = es->closed_arg;
    es_free(es);
    if (closed)
        closed(arg);
}

static void http_closed(void *arg)
{
    closed_one(arg);
}

static void timer_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

static void es_destroy(void *self, void (*closed)(void *arg), void *arg)
{
    struct otus__es *es = self;
    assert(!es->jobs);
    es->closing = 1;
    es->closed = closed;
    es->closed_arg = arg;
    es->pending_closes = 2;
    uv_close((uv_handle_t *)&es->timer, timer_closed);
    otus_http_client_close(es->http, http_closed, es);
}

static struct otus_metric_series *series(struct otus_self_metrics *m, const char *name,
                                         const char *help, enum otus_metric_type type,
                                         const char *const *labels, const char *const *values,
                                         size_t n)
{
    struct otus_metric_family *f = otus_self_metrics_family(m, name, help, type, labels, n);
    return f ? otus_self_metrics_series(f, values) : NULL;
}

static int make_metrics(struct otus__es *es)
{
    struct otus_self_metrics *m = es->metrics;
    const char *l2[] = {"exporter", "outcome"};
    static const char *const req_out[] = {"ok", "retry", "rejected", "too_large"};
    static const char *const item_out[] = {"stored", "retried", "rejected", "failure_store",
                                           "dropped"};
    for (int i = 0; i < 4; i++) {
        const char *v[] = {es->name, req_out[i]};
        es->m_req[i] = series(m, "otus_es_bulk_requests_total",
                              "Bulk requests answered, by outcome of the request as a whole.",
                              OTUS_METRIC_COUNTER, l2, v, 2);
        if (!es->m_req[i])
            return OTUS_ERR_NOMEM;
    }
    for (int i = 0; i < 5; i++) {
        const char *v[] = {es->name, item_out[i]};
        es->m_items[i] = series(m, "otus_es_bulk_items_total",
                                "Bulk items by outcome: stored (a 409 on our own _id included), "
                                "retried (429/5xx), rejected (dead-lettered), failure_store, "
                                "dropped.",
                                OTUS_METRIC_COUNTER, l2, v, 2);
        if (!es->m_items[i])
            return OTUS_ERR_NOMEM;
    }
    const char *l1[] = {"exporter"};
    const char *v1[] = {es->name};
    es->m_dead =
        series(m, "otus_es_dead_letters_total", "Documents written to the dead-letter file.",
               OTUS_METRIC_COUNTER, l1, v1, 1);
    es->m_dead_lost = series(m, "otus_es_dead_letters_unwritten_total",
                             "Refused documents that could not be written to the dead-letter "
                             "file (full or unwritable).",
                             OTUS_METRIC_COUNTER, l1, v1, 1);
    es->m_bytes = series(m, "otus_es_body_bytes_total", "Bulk request bytes before compression.",
                         OTUS_METRIC_COUNTER, l1, v1, 1);
    es->m_wire =
        series(m, "otus_es_sent_bytes_total", "Bulk request bytes sent (after compression).",
               OTUS_METRIC_COUNTER, l1, v1, 1);
    if (!es->m_dead || !es->m_dead_lost || !es->m_bytes || !es->m_wire)
        return OTUS_ERR_NOMEM;
    const char *le[] = {"exporter", "endpoint"};
    const char *lt[] = {"exporter", "endpoint", "to"};
    static const char *const to[] = {"open", "half_open", "closed"};
    for (size_t i = 0; i < es->neps; i++) {
        const char *v[] = {es->name, es->eps[i].base};
        es->eps[i].m_state = series(m, "otus_exporter_breaker_state",
                                    "Circuit breaker of an endpoint: 0 closed, 1 open, "
                                    "2 half-open.",
                                    OTUS_METRIC_GAUGE, le, v, 2);
        if (!es->eps[i].m_state)
            return OTUS_ERR_NOMEM;
        for (int k = 0; k < 3; k++) {
            const char *vt[] = {es->name, es->eps[i].base, to[k]};
            es->eps[i].m_trans[k] = series(m, "otus_exporter_breaker_transitions_total",
                                           "Circuit breaker state changes, by the state entered.",
                                           OTUS_METRIC_COUNTER, lt, vt, 3);
            if (!es->eps[i].m_trans[k])
                return OTUS_ERR_NOMEM;
        }
    }
    return 0;
}

static int es_create(const struct otus_exporter_env *env, const void *cfgp, void **self,
                     const char **detail)
{
    static char why[512];
    const struct otus__es_cfg *cfg = cfgp;
    struct otus__es *es = calloc(1, sizeof(*es));
    if (!es)
        return OTUS_ERR_NOMEM;
    es->loop = env->loop;
    es->cfg = cfg;
    es->metrics = env->metrics;
    es->dl_fd = -1;
    es->name = strdup(env->name);
    int rc = es->name ? 0 : OTUS_ERR_NOMEM;
    const char *w = NULL;
    if (!rc && (otus__es_target_init(&es->targets[OTUS_SIGNAL_LOGS], cfg->index, &w) ||
                otus__es_target_init(&es->targets[OTUS_SIGNAL_TRACES], cfg->traces_index, &w))) {
        snprintf(why, sizeof(why), "index: %s", w);
        *detail = why;
        rc = OTUS_ERR_CONFIG;
    }
    es->neps = cfg->endpoints.n;
    if (!rc && !(es->eps = calloc(es->neps ? es->neps : 1, sizeof(*es->eps))))
        rc = OTUS_ERR_NOMEM;
    struct otus_breaker_opts bo = {
        .failure_threshold = (unsigned)cfg->breaker.failures,
        .open_timeout_ms = cfg->breaker.open_timeout_ms,
        .open_timeout_multiplier = 2.0,
        .max_open_timeout_ms = cfg->breaker.open_timeout_ms * 8,
    };
    for (size_t i = 0; !rc && i < es->neps; i++) {
        const char *u = cfg->endpoints.items[i];
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            n--;
        if (!(es->eps[i].base = strndup(u, n)))
            rc = OTUS_ERR_NOMEM;
        otus_breaker_init(&es->eps[i].br, &bo);
    }
    if (!rc)
        rc = make_metrics(es);
    if (!rc && cfg->dead_letter && *cfg->dead_letter) {
        es->dl_path = strdup(cfg->dead_letter);
    } else if (!rc) {
        size_t n = strlen(env->data_dir) + strlen(env->name) + 32;
        if ((es->dl_path = malloc(n)) != NULL) {
            int k = snprintf(es->dl_path, n, "%s/dead-letter/", env->data_dir);
            for (const char *p = env->name; *p; p++)
                es->dl_path[k++] = *p == '/' ? '_' : *p;
            snprintf(es->dl_path + k, n - (size_t)k, ".ndjson");
        }
    }
    if (!rc && !es->dl_path)
        rc = OTUS_ERR_NOMEM;
    es->username = cfg->username && *cfg->username ? cfg->username : NULL;
    es->gzip = cfg->compression && strcmp(cfg->compression, "gzip") == 0;
    if (!rc && es->gzip)
        rc = otus_deflater_init(&es->defl, (int)cfg->compression_level);
    if (!rc && cfg->api_key && *cfg->api_key) {
        /* An id:key pair is encoded here; an encoded key is sent as it is. */
        const char *k = cfg->api_key;
        size_t klen = strlen(k);
        size_t n = 32 + otus_base64_len(klen);
        es->auth_header = malloc(n);
        if (!es->auth_header) {
            rc = OTUS_ERR_NOMEM;
        } else if (strchr(k, ':')) {
            int p = snprintf(es->auth_header, n, "Authorization: ApiKey ");
            otus_base64_encode((const uint8_t *)k, klen, es->auth_header + p);
            es->auth_header[p + (int)otus_base64_len(klen)] = '\0';
        } else {
            snprintf(es->auth_header, n, "Authorization: ApiKey %s", k);
        }
    }
    if (rc) {
        es_free(es);
        return rc;
    }
    size_t h = 0;
    es->headers[h++] = "Content-Type: application/x-ndjson";
    if (es->gzip)
        es->headers[h++] = "Content-Encoding: gzip";
    if (es->auth_header)
        es->headers[h++] = es->auth_header;
    es->headers[h] = NULL;
    h = 0;
    es->tmpl_headers[h++] = "Content-Type: application/json";
    if (es->auth_header)
        es->tmpl_headers[h++] = es->auth_header;
    es->tmpl_headers[h] = NULL;
    struct otus_backoff_opts tbo = {
        .initial_interval_ms = cfg->retry.initial_interval_ms,
        .max_interval_ms = cfg->retry.max_interval_ms,
        .max_elapsed_ms = UINT64_MAX,
    };
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        es->tmpl[s].es = es;
        es->tmpl[s].signal = (enum otus_signal)s;
        otus_buf_init(&es->tmpl[s].body, 0);
        otus_backoff_init(&es->tmpl[s].backoff, &tbo);
    }
    struct otus_http_client_opts ho = {
        .max_host_connections = (unsigned)cfg->queue.max_in_flight + 1,
    };
    rc = otus_http_client_create(env->loop, &ho, &es->http);
    if (rc) {
        snprintf(why, sizeof(why), "cannot set up the HTTP client: %s", otus_strerror(rc));
        *detail = why;
        es_free(es);
        return rc;
    }
    uv_timer_init(env->loop, &es->timer);
    es->timer.data = es;
    *self = es;
    return 0;
}

const struct otus_exporter_ops otus_elasticsearch_exporter = {
    .type = "elasticsearch",
    .signals = OTUS_SIGNAL_BIT(OTUS_SIGNAL_LOGS) | OTUS_SIGNAL_BIT(OTUS_SIGNAL_TRACES),
    .config = otus__es_table,
    .config_size = sizeof(struct otus__es_cfg),
    .check = otus__es_check,
    .create = es_create,
    .encode = es_encode,
    .send = es_send,
    .drain = es_drain,
    .destroy = es_destroy,
};
