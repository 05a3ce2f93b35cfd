/*
 * es_deliver.c: how the Elasticsearch exporter delivers a job (es.h): endpoints
 * chosen round-robin behind their circuit breakers, the one timer that wakes waiting
 * jobs, requests of at most max_batch_bytes built from the items still to send, the
 * answers read item by item, retries with backoff, 413 splits, and the dead-letter
 * file. Every path that ends a job goes through finish(), which settles it once.
 *
 * A request's body is prepared on the libuv thread pool: its items copied together
 * when they are not contiguous, then gzipped with a compressor lent to that work
 * alone (a few milliseconds per 5 MiB body that the loop does not wait for). While
 * that work is out, the job is left alone by the loop (step() returns at once), and
 * the body is kept once prepared: a request retried as a whole goes again as it was.
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

#include "agent/log.h"
#include "common/clock.h"
#include "exporters/elasticsearch/es_exporter.h"

static void step(struct otus__es_jstate *js);

/* ---- small helpers ------------------------------------------------------------------------- */

static void breaker_gauge(struct otus__es_endpoint *ep)
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

struct otus__es_endpoint *otus__es_pick(struct otus__es *es, uint64_t *gen, uint64_t *wait)
{
    uint64_t now = otus__es_now(es), best = UINT64_MAX;
    for (size_t k = 0; k < es->neps; k++) {
        struct otus__es_endpoint *ep = &es->eps[(es->rr + k) % es->neps];
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

void otus__es_ep_outcome(struct otus__es *es, struct otus__es_endpoint *ep, uint64_t gen,
                         int outcome)
{
    if (outcome > 0)
        otus_breaker_success(&ep->br, gen, otus__es_now(es));
    else if (outcome < 0)
        otus_breaker_failure(&ep->br, gen, otus__es_now(es));
    else
        otus_breaker_abandon(&ep->br, gen);
    breaker_gauge(ep);
}

void otus__es_kick(struct otus__es *es)
{
    int any = 0;
    for (struct otus__es_jstate *js = es->jobs; js; js = js->next) {
        if (js->parked) {
            js->parked = 0;
            js->wake_ms = otus__es_now(es);
            any = 1;
        }
    }
    if (any)
        otus__es_timer_arm(es);
}

static int hand_back(struct otus__es_jstate *js);

/* js waits until loop time at (parked: for a template or an endpoint, or until then).
 * Once the exporter is replaced, js may go back to the core instead (js is gone). */
static void wait_until(struct otus__es_jstate *js, uint64_t at, int parked)
{
    if (hand_back(js))
        return;
    js->wake_ms = at ? at : 1;
    js->parked = parked;
    otus__es_timer_arm(js->es);
}

/* ---- the timer --------------------------------------------------------------------------- */

static void timer_fired(uv_timer_t *t)
{
    struct otus__es *es = t->data;
    es->timer_at = 0;
    uint64_t now = otus__es_now(es);
    /* Collect first: step() may finish jobs and change the list. */
    for (;;) {
        struct otus__es_jstate *due = NULL;
        for (struct otus__es_jstate *js = es->jobs; js; js = js->next) {
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
        struct otus__es_tmpl *tp = &es->tmpl[s];
        if (tp->state == OTUS__ES_TMPL_INSTALLING && !tp->call && tp->wake_ms &&
            tp->wake_ms <= now) {
            tp->wake_ms = 0;
            otus__es_tmpl_step(es, (enum otus_signal)s);
        }
    }
    otus__es_timer_arm(es);
}

void otus__es_timer_arm(struct otus__es *es)
{
    if (es->closing)
        return;
    uint64_t next = UINT64_MAX, now = otus__es_now(es);
    for (struct otus__es_jstate *js = es->jobs; js; js = js->next)
        if (js->wake_ms && js->wake_ms < next)
            next = js->wake_ms;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        if (es->tmpl[s].state == OTUS__ES_TMPL_INSTALLING && !es->tmpl[s].call &&
            es->tmpl[s].wake_ms && es->tmpl[s].wake_ms < next)
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
static void reject_items(struct otus__es_jstate *js, const size_t *idx, size_t n,
                         const struct otus__es_item_result *res, const char *type,
                         const char *reason)
{
    struct otus__es *es = js->es;
    struct otus__es_items *it = &js->job->items;
    struct otus_buf lines;
    otus_buf_init(&lines, OTUS__ES_MAX_ENCODED);
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
    es->m_items[OTUS__ES_IT_REJECTED]->value += (double)n;
}

/* ---- compressors ---------------------------------------------------------------------------- */

static struct otus__es_zctx *zctx_get(struct otus__es *es)
{
    struct otus__es_zctx *z = es->zfree;
    if (z) {
        es->zfree = z->next;
        z->next = NULL;
        return z;
    }
    z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    if (otus_deflater_init(&z->defl, (int)es->cfg->compression_level) != 0) {
        free(z);
        return NULL;
    }
    return z;
}

static void zctx_put(struct otus__es *es, struct otus__es_zctx *z)
{
    z->next = es->zfree;
    es->zfree = z;
}

int otus__es_zctx_warm(struct otus__es *es)
{
    struct otus__es_zctx *z = zctx_get(es);
    if (!z)
        return OTUS_ERR_NOMEM;
    zctx_put(es, z);
    return 0;
}

void otus__es_zctx_free_all(struct otus__es *es)
{
    while (es->zfree) {
        struct otus__es_zctx *z = es->zfree;
        es->zfree = z->next;
        otus_deflater_destroy(&z->defl);
        free(z);
    }
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static uint64_t job_deadline(const struct otus__es_jstate *js)
{
    return js->job->send ? js->job->send->deadline_ms : js->job->deadline_ms;
}

static void finish(struct otus__es_jstate *js)
{
    struct otus__es *es = js->es;
    assert(!js->call && !js->preparing);
    if (js->prev)
        js->prev->next = js->next;
    else
        es->jobs = js->next;
    if (js->next)
        js->next->prev = js->prev;
    struct otus__es_job *j = js->job;
    size_t sent = js->sent, failed = js->failed, dropped = js->dropped;
    assert(sent + failed + dropped + j->returned == j->items.n);
    free(js->todo);
    free(js->retry);
    otus_buf_free(&js->body);
    otus_buf_free(&js->gz);
    free(js);
    j->priv = NULL;
    j->done(j, sent, failed, dropped);
}

void otus__es_log_retry(struct otus__es *es, const char *what, const struct otus__es_endpoint *ep,
                        const struct otus_http_result *res)
{
    unsigned sup;
    if (!otus_log_allowed(&es->log_retry, otus__es_now(es), &sup))
        return;
    const char *more = sup ? " (and similar messages suppressed)" : "";
    if (res->http_status)
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: %s to %s answered HTTP %d; retrying%s",
                 es->name, what, ep->base, res->http_status, more);
    else
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: %s to %s failed: %s (%s); retrying%s",
                 es->name, what, ep->base, res->error, otus_http_fail_name(res->fail), more);
}

/* Hands js back to the core, undelivered, when the exporter is being replaced, js
 * belongs to a send and nothing of it is settled or under way. 1 if it did (js is
 * gone). */
static int hand_back(struct otus__es_jstate *js)
{
    struct otus__es *es = js->es;
    struct otus__es_job *j = js->job;
    if (!es->handing_back || !j->send || j->send->deadline_ms || js->call || js->preparing ||
        js->sent || js->failed || js->dropped)
        return 0; /* a deadline: the agent is stopping, the send ends here */
    otus_log(OTUS_LOG_INFO, "elasticsearch", "%s: %zu records handed to the new configuration",
             es->name, j->items.n);
    j->returned = j->items.n;
    js->wake_ms = 0;
    finish(js);
    return 1;
}

void otus__es_hand_back(struct otus__es *es)
{
    es->handing_back = 1;
    /* Settling a send never starts another job here: the queue went to the
     * replacement. */
    struct otus__es_jstate *js = es->jobs;
    while (js) {
        struct otus__es_jstate *next = js->next;
        if (js->wake_ms)
            hand_back(js);
        js = next;
    }
    otus__es_timer_arm(es);
}

/* Gives up on everything not settled yet. */
static void drop_rest(struct otus__es_jstate *js, const char *why)
{
    size_t n = js->ntodo + js->nretry;
    if (n) {
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: dropping %zu records: %s", js->es->name, n,
                 why);
        js->dropped += n;
        js->es->m_items[OTUS__ES_IT_DROPPED]->value += (double)n;
    }
    js->ntodo = js->nretry = 0;
}

/* Removes the request's items, todo[0..req_n), from todo. */
static void todo_consume(struct otus__es_jstate *js)
{
    memmove(js->todo, js->todo + js->req_n, (js->ntodo - js->req_n) * sizeof(size_t));
    js->ntodo -= js->req_n;
    js->req_n = 0;
    js->req_body = NULL;
}

/* Chooses the next request: the items at the head of todo, as many as
 * max_batch_bytes (and, after a 413, the split) allows, and at least one. */
static void choose_request(struct otus__es_jstate *js)
{
    const struct otus__es_items *it = &js->job->items;
    uint64_t max = js->es->cfg->queue.max_batch_bytes;
    size_t n = 0, bytes = 0;
    int contiguous = 1;
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
    js->req_bytes = bytes;
    js->req_contiguous = contiguous;
    js->req_body = NULL;
    js->req_len = 0;
}

/*
 * Builds the chosen request's body: its items copied together when they are not
 * contiguous, then gzipped when d is not NULL. Runs on the thread pool (or on the loop
 * when there is nothing to copy or compress): it reads only the job's items and
 * todo[0..req_n), and writes only the job's body buffers, req_body and req_len.
 */
static int build_body(struct otus__es_jstate *js, struct otus_deflater *d)
{
    const struct otus__es_items *it = &js->job->items;
    const char *p;
    if (js->req_contiguous) {
        p = it->ndjson.data + it->v[js->todo[0]].off;
    } else {
        otus_buf_reset(&js->body);
        for (size_t k = 0; k < js->req_n; k++) {
            const struct otus__es_item *item = &it->v[js->todo[k]];
            int rc = otus_buf_append(&js->body, it->ndjson.data + item->off, item->len);
            if (rc)
                return rc;
        }
        p = js->body.data;
    }
    if (!d) {
        js->req_body = p;
        js->req_len = js->req_bytes;
        return 0;
    }
    otus_buf_reset(&js->gz);
    int rc = otus_deflater_gzip(d, p, js->req_bytes, &js->gz);
    if (rc)
        return rc;
    js->req_body = js->gz.data;
    js->req_len = js->gz.len;
    return 0;
}

static void prepare_run(uv_work_t *w)
{
    struct otus__es_jstate *js = w->data;
    js->prep_status = build_body(js, js->z ? &js->z->defl : NULL);
}

/* Building the body failed (out of memory): the request is chosen again after a
 * backoff delay, or its records are given up on. */
static void prepare_failed(struct otus__es_jstate *js, int rc)
{
    uint64_t now = otus__es_now(js->es);
    js->req_n = 0;
    js->req_body = NULL;
    int64_t d = otus_backoff_next(&js->backoff, now, -1);
    if (d == OTUS_BACKOFF_STOP) {
        drop_rest(js, otus_strerror(rc));
        finish(js);
    } else {
        wait_until(js, now + (uint64_t)d, 0);
    }
}

static void prepared(uv_work_t *w, int status)
{
    struct otus__es_jstate *js = w->data;
    struct otus__es *es = js->es;
    js->preparing = 0;
    if (js->z) {
        zctx_put(es, js->z);
        js->z = NULL;
    }
    if (status == UV_ECANCELED) {
        /* Cancelled by the drain at the deadline before it started: step() drops. */
        js->req_n = 0;
        js->req_body = NULL;
        step(js);
    } else if (js->prep_status) {
        prepare_failed(js, js->prep_status);
    } else {
        step(js);
    }
    otus__es_work_back(es);
}

/* Chooses the next request and prepares its body: at once when there is nothing to
 * copy or compress, else on the thread pool. 0 (ready), 1 (prepared() carries on) or
 * a negative status. */
static int prepare(struct otus__es_jstate *js)
{
    struct otus__es *es = js->es;
    choose_request(js);
    if (!es->gzip && js->req_contiguous)
        return build_body(js, NULL);
    if (es->gzip && !(js->z = zctx_get(es)))
        return OTUS_ERR_NOMEM;
    js->prep_status = 0;
    js->canceling = 0;
    js->work.data = js;
    if (uv_queue_work(es->loop, &js->work, prepare_run, prepared) != 0) {
        if (js->z)
            zctx_put(es, js->z);
        js->z = NULL;
        return OTUS_ERR_IO;
    }
    js->preparing = 1;
    es->works++;
    return 1;
}

static void bulk_done(struct otus_http_result *res, void *arg);

/* Moves a job forward: sends its next request, or waits, or finishes it. */
static void step(struct otus__es_jstate *js)
{
    struct otus__es *es = js->es;
    uint64_t now = otus__es_now(es);
    uint64_t deadline = job_deadline(js);
    if (js->call || js->preparing || es->closing)
        return;
    if (deadline && now >= deadline) {
        drop_rest(js, "shutdown deadline passed");
        finish(js);
        return;
    }
    if (js->ntodo == 0) {
        assert(js->req_n == 0);
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
    uint64_t since = js->backoff.running ? js->backoff.start_ms : js->progress_ms;
    if (now - since > es->cfg->retry.max_elapsed_ms) {
        drop_rest(js, "no endpoint available within retry.max_elapsed");
        finish(js);
        return;
    }
    if (es->cfg->manage_template && es->tmpl[js->signal].state != OTUS__ES_TMPL_DONE) {
        if (es->tmpl[js->signal].state == OTUS__ES_TMPL_NONE) {
            es->tmpl[js->signal].state = OTUS__ES_TMPL_INSTALLING;
            otus__es_tmpl_step(es, js->signal);
        }
        if (es->tmpl[js->signal].state != OTUS__ES_TMPL_DONE) {
            wait_until(js, now + OTUS__ES_PARK_RECHECK_MS, 1);
            return;
        }
    }
    if (!js->req_n) {
        int rc = prepare(js);
        if (rc == 1)
            return; /* prepared() calls step() again */
        if (rc) {
            prepare_failed(js, rc);
            return;
        }
    }
    uint64_t wait;
    struct otus__es_endpoint *ep = otus__es_pick(es, &js->gen, &wait);
    if (!ep) {
        wait_until(js, now + (wait < OTUS__ES_PARK_RECHECK_MS ? wait : OTUS__ES_PARK_RECHECK_MS),
                   1);
        return;
    }
    const struct otus__es_target *t = js->job->target;
    char url[2048];
    /* The answer is cut down to what is read from it (filter_path): per item its
     * status, error and failure_store, a few bytes instead of some 200 for a stored
     * document; a whole-request error keeps its error and status. */
    static const char query[] =
        "?filter_path=errors,items.*.status,items.*.error,items.*.failure_store,error,status";
    const char *ds = t->data_stream ? "&require_data_stream=true" : "";
    if (js->job->omit_index)
        snprintf(url, sizeof(url), "%s/%s/_bulk%s%s", ep->base, t->pattern, query, ds);
    else
        snprintf(url, sizeof(url), "%s/_bulk%s%s", ep->base, query, ds);
    struct otus_http_tls tls = {
        .ca_file = es->cfg->tls.ca_file && *es->cfg->tls.ca_file ? es->cfg->tls.ca_file : NULL,
        .insecure_skip_verify = es->cfg->tls.insecure_skip_verify,
    };
    struct otus_http_call_opts o = {
        .method = "POST",
        .url = url,
        .headers = es->headers,
        .body = js->req_body,
        .body_len = js->req_len,
        .timeout_ms = es->cfg->timeout_ms,
        .max_response_bytes = (1u << 20) + js->req_n * 4096u,
        .username = es->username,
        .password = es->username ? es->cfg->password : NULL,
        .tls = &tls,
        .accept_gzip = 1,
    };
    js->ep = ep;
    int rc = otus_http_call_start(es->http, &o, bulk_done, js, &js->call);
    if (!rc) {
        es->m_bytes->value += (double)js->req_bytes;
        es->m_wire->value += (double)js->req_len;
    } else {
        /* The request stays prepared for the next attempt. */
        js->call = NULL;
        otus__es_ep_outcome(es, ep, js->gen, 0);
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
static void items_answered(struct otus__es_jstate *js, const struct otus__es_item_result *res)
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
            es->m_items[OTUS__ES_IT_STORED]->value++;
            break;
        case OTUS__ES_FAILURE_ST:
            js->failed++;
            es->m_items[OTUS__ES_IT_FAILURE_STORE]->value++;
            break;
        case OTUS__ES_RETRY:
            js->retry[js->nretry++] = idx;
            es->m_items[OTUS__ES_IT_RETRIED]->value++;
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
    struct otus__es_jstate *js = arg;
    struct otus__es *es = js->es;
    struct otus__es_endpoint *ep = js->ep;
    uint64_t now = otus__es_now(es);
    js->call = NULL;
    switch (res->status) {
    case 0: {
        otus__es_ep_outcome(es, ep, js->gen, 1);
        js->progress_ms = now;
        struct otus__es_item_result *r = calloc(js->req_n, sizeof(*r));
        int rc = r ? otus__es_bulk_parse(res->body.data ? res->body.data : "", res->body.len,
                                         js->req_n, r)
                   : OTUS_ERR_NOMEM;
        es->m_req[OTUS__ES_REQ_OK]->value++;
        size_t before = js->nretry;
        if (rc) {
            /* Which items landed is unknown: all of them go again (their _id makes
             * that safe). */
            otus_log(OTUS_LOG_WARN, "elasticsearch",
                     "%s: unreadable bulk answer from %s (%s); sending its %zu items again",
                     es->name, ep->base, otus_strerror(rc), js->req_n);
            for (size_t k = 0; k < js->req_n; k++)
                js->retry[js->nretry++] = js->todo[k];
            es->m_items[OTUS__ES_IT_RETRIED]->value += (double)js->req_n;
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
        otus__es_ep_outcome(es, ep, js->gen, 0);
        js->req_n = 0;
        js->req_body = NULL;
        drop_rest(js, es->closing ? "exporter closed" : "shutdown deadline passed");
        finish(js);
        break;
    case OTUS_ERR_TOO_BIG:
    case OTUS_ERR_HTTP_REJECT:
        otus__es_ep_outcome(es, ep, js->gen, 1);
        if (res->status == OTUS_ERR_TOO_BIG || res->http_status == 413) {
            es->m_req[OTUS__ES_REQ_TOO_LARGE]->value++;
            if (js->req_n == 1) {
                reject_items(js, js->todo, 1, NULL, "request_entity_too_large",
                             "a single document is larger than the cluster accepts "
                             "(http.max_content_length)");
                todo_consume(js);
            } else {
                js->split = (js->req_n + 1) / 2;
                js->req_n = 0;
                js->req_body = NULL;
            }
            step(js);
            break;
        }
        es->m_req[OTUS__ES_REQ_REJECTED]->value++;
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
        otus__es_ep_outcome(es, ep, js->gen, busy ? 1 : -1);
        es->m_req[OTUS__ES_REQ_RETRY]->value++;
        otus__es_log_retry(es, "bulk request", ep, res);
        /* The same request goes again: its body stays as prepared. */
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
    otus__es_kick(es);
}

int otus__es_job_start(struct otus__es *es, struct otus__es_job *j)
{
    if (es->closing)
        return OTUS_ERR_STATE;
    struct otus__es_jstate *js = calloc(1, sizeof(*js));
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
    otus_buf_init(&js->body, OTUS__ES_MAX_BODY);
    otus_buf_init(&js->gz, OTUS__ES_MAX_BODY);
    js->progress_ms = otus__es_now(es);
    j->priv = js;
    js->next = es->jobs;
    if (es->jobs)
        es->jobs->prev = js;
    es->jobs = js;
    /* Started from the timer, never from inside the caller. */
    wait_until(js, js->progress_ms, 0);
    return 0;
}

void otus__es_drain(struct otus__es *es)
{
    uint64_t now = otus__es_now(es);
    for (struct otus__es_jstate *js = es->jobs; js; js = js->next) {
        uint64_t deadline = job_deadline(js);
        int due = deadline && now >= deadline;
        if (js->preparing) {
            /* Work not started yet is taken back (prepared() then drops); work that
             * has started comes back within milliseconds and step() drops then. */
            if (due && !js->canceling) {
                js->canceling = 1;
                uv_cancel((uv_req_t *)&js->work);
            }
        } else if (js->call && due) {
            otus_http_call_cancel(js->call);
        } else if (!js->call) {
            wait_until(js, now, 0); /* try now rather than after the backoff delay */
        }
    }
}
