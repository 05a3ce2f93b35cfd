/*
 * elasticsearch.c: the Elasticsearch exporter's life on the loop: endpoints and their
 * circuit breakers, index templates, and the delivery of each send through the bulk
 * API until every record in it is settled exactly once.
 *
 * A send is encoded once into items (es_encode.c), on the libuv thread pool, and then
 * becomes a job on the loop. A job sends its items in requests of at most
 * max_batch_bytes (uncompressed) to the next endpoint whose breaker allows it, one
 * request at a time, and reads each answer item by item (es_bulk.c): stored items are
 * done, items answered 429 or 5xx are kept for another round after a backoff delay,
 * items refused for good go to the dead-letter file. A request that failed as a whole
 * (connection refused, timeout, 429, 5xx) is retried with exponential backoff and full
 * jitter, honouring Retry-After; one refused with 413 is split in halves. Document IDs
 * are derived from the documents, so sending an item twice never stores it twice: a
 * 409 on create is our own document.
 *
 * Nothing CPU-heavy runs on the loop: encoding (here) and building each request's
 * body, gzip included (es_deliver.c), are work items on the thread pool, each with
 * state of its own. Everything else (the exporter's state, HTTP calls, timers,
 * metrics, settling sends) stays on the loop. The exporter counts its work items, and
 * destroy's closed callback runs only once every one is back on the loop.
 *
 * This file holds the instance's life (create, drain, destroy, metrics), the index
 * templates and the exporter interface; es_deliver.c the delivery of jobs.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <otus.h>

#include "agent/log.h"
#include "common/base64.h"
#include "exporters/elasticsearch/es_exporter.h"

struct otus__es_target *otus__es_target_of(struct otus__es *es, enum otus_signal s)
{
    return &es->targets[s == OTUS_SIGNAL_TRACES ? OTUS_SIGNAL_TRACES : OTUS_SIGNAL_LOGS];
}

void otus__es_templates_off(struct otus__es *es)
{
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        es->tmpl[s].state = OTUS__ES_TMPL_DONE;
}

const char *otus__es_dead_letter_path(const struct otus__es *es)
{
    return es->dl_path;
}

/* ---- index templates ----------------------------------------------------------------------- */

static void tmpl_done(struct otus_http_result *res, void *arg);

void otus__es_tmpl_step(struct otus__es *es, enum otus_signal s)
{
    struct otus__es_tmpl *tp = &es->tmpl[s];
    if (tp->call || es->closing || tp->state != OTUS__ES_TMPL_INSTALLING)
        return;
    uint64_t now = otus__es_now(es), wait;
    struct otus__es_endpoint *ep = otus__es_pick(es, &tp->gen, &wait);
    if (!ep) {
        tp->wake_ms = now + (wait < OTUS__ES_PARK_RECHECK_MS ? wait : OTUS__ES_PARK_RECHECK_MS);
        otus__es_timer_arm(es);
        return;
    }
    if (!tp->body.len && otus__es_template_body(&es->targets[s], s, es->cfg, &tp->body) != 0) {
        otus__es_ep_outcome(es, ep, tp->gen, 0);
        tp->state = OTUS__ES_TMPL_DONE;
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: cannot build the index template", es->name);
        otus__es_kick(es);
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
        otus__es_ep_outcome(es, ep, tp->gen, 0);
        tp->wake_ms = now + OTUS__ES_PARK_RECHECK_MS;
        otus__es_timer_arm(es);
    }
}

static void tmpl_done(struct otus_http_result *res, void *arg)
{
    struct otus__es_tmpl *tp = arg;
    struct otus__es *es = tp->es;
    enum otus_signal s = tp->signal;
    tp->call = NULL;
    uint64_t now = otus__es_now(es);
    if (res->status == 0) {
        otus__es_ep_outcome(es, tp->ep, tp->gen, 1);
        tp->state = OTUS__ES_TMPL_DONE;
        otus_log(OTUS_LOG_INFO, "elasticsearch", "%s: index template %s installed for %s", es->name,
                 es->targets[s].tmpl_name, es->targets[s].tmpl_pattern);
        otus_buf_free(&tp->body);
    } else if (res->status == OTUS_ERR_CANCELED) {
        otus__es_ep_outcome(es, tp->ep, tp->gen, 0);
    } else if (res->status == OTUS_ERR_HTTP_REJECT || res->status == OTUS_ERR_TOO_BIG) {
        otus__es_ep_outcome(es, tp->ep, tp->gen, 1);
        tp->state = OTUS__ES_TMPL_DONE; /* documents go out anyway; refusals are dead-lettered */
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: index template %s refused (HTTP %d): %.*s",
                 es->name, es->targets[s].tmpl_name, res->http_status,
                 (int)(res->body.len < 400 ? res->body.len : 400),
                 res->body.data ? res->body.data : "");
        otus_buf_free(&tp->body);
    } else {
        int busy = res->status == OTUS_ERR_HTTP_RETRY && res->http_status == 429;
        otus__es_ep_outcome(es, tp->ep, tp->gen, busy ? 1 : -1);
        otus__es_log_retry(es, "index template request", tp->ep, res);
        int64_t d = otus_backoff_next(&tp->backoff, now, res->retry_after_ms);
        if (d == OTUS_BACKOFF_STOP) {
            otus_backoff_reset(&tp->backoff);
            d = (int64_t)es->cfg->retry.max_interval_ms;
        }
        tp->wake_ms = now + (uint64_t)d;
        otus__es_timer_arm(es);
    }
    otus__es_kick(es);
}

/* ---- the exporter interface ------------------------------------------------------------------ */

/* A send on its way to becoming a job: encoded on the thread pool. */
struct otus__es_encoding {
    struct otus__es_job job;       /* first: send_job_done() gets this back from it */
    struct otus__es_target target; /* the encoder's own copy (it writes the name cache) */
    struct otus_batch *const *batches;
    size_t nbatches;
    struct otus__es *es;
    uv_work_t work;
    int status;                            /* what the encoder returned (written on the pool) */
    int canceling;                         /* uv_cancel() was tried */
    struct otus__es_encoding *prev, *next; /* es->encoding, while the work is out */
};

static void send_job_done(struct otus__es_job *j, size_t sent, size_t failed, size_t dropped)
{
    struct otus__es_encoding *e = (struct otus__es_encoding *)j;
    struct otus_send *s = j->send;
    struct otus_send_result r = {
        .sent = sent, .failed = failed, .dropped = dropped, .returned = j->returned};
    otus__es_items_free(&j->items);
    free(e);
    otus_send_done(s, &r);
}

/* On the thread pool: reads the send's batches (the core holds them while the send is
 * open), writes only e's items and target copy. */
static void encode_run(uv_work_t *w)
{
    struct otus__es_encoding *e = w->data;
    e->status =
        otus__es_encode(&e->target, e->job.omit_index, e->batches, e->nbatches, &e->job.items);
}

static void encoded(uv_work_t *w, int status)
{
    struct otus__es_encoding *e = w->data;
    struct otus__es *es = e->es;
    struct otus__es_job *j = &e->job;
    struct otus_send *s = j->send;
    if (e->prev)
        e->prev->next = e->next;
    else
        es->encoding = e->next;
    if (e->next)
        e->next->prev = e->prev;
    int rc = status == UV_ECANCELED ? OTUS_ERR_CANCELED : e->status;
    if (!rc && j->items.n != s->records) {
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: %zu documents for %zu records", es->name,
                 j->items.n, s->records);
        rc = OTUS_ERR_INVALID;
    }
    if (rc == OTUS_ERR_CANCELED) {
        otus_log(OTUS_LOG_WARN, "elasticsearch", "%s: dropping %zu records: %s", es->name,
                 s->records, "shutdown deadline passed");
        es->m_items[OTUS__ES_IT_DROPPED]->value += (double)s->records;
    } else if (rc) {
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: cannot encode %zu records: %s", es->name,
                 s->records, otus_strerror(rc));
    }
    /* A job past its deadline is dropped by its first step, on the next loop turn. */
    if (!rc && (rc = otus__es_job_start(es, j)) != 0)
        otus_log(OTUS_LOG_ERROR, "elasticsearch", "%s: cannot deliver %zu records: %s", es->name,
                 s->records, otus_strerror(rc));
    if (rc) {
        struct otus_send_result r = {.dropped = s->records};
        otus__es_items_free(&j->items);
        free(e);
        otus_send_done(s, &r);
    }
    otus__es_work_back(es);
}

static int es_send(void *self, struct otus_send *s)
{
    struct otus__es *es = self;
    if (es->closing)
        return OTUS_ERR_STATE;
    struct otus__es_encoding *e = calloc(1, sizeof(*e));
    if (!e)
        return OTUS_ERR_NOMEM;
    struct otus__es_job *j = &e->job;
    otus__es_items_init(&j->items);
    j->items.ndjson.max = OTUS__ES_MAX_ENCODED;
    j->target = otus__es_target_of(es, s->signal);
    j->omit_index = j->target->data_stream;
    j->send = s;
    j->done = send_job_done;
    e->target = *j->target;
    e->batches = s->batches;
    e->nbatches = s->nbatches;
    e->es = es;
    e->work.data = e;
    if (uv_queue_work(es->loop, &e->work, encode_run, encoded) != 0) {
        free(e);
        return OTUS_ERR_IO;
    }
    es->works++;
    e->next = es->encoding;
    if (es->encoding)
        es->encoding->prev = e;
    es->encoding = e;
    return 0;
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

static void es_hand_back(void *self)
{
    otus__es_hand_back(self);
}

static void es_drain(void *self)
{
    struct otus__es *es = self;
    uint64_t now = otus__es_now(es);
    /* Past the deadline, encodings not started yet are taken back (encoded() drops
     * them); those running come back within milliseconds and their job drops then. */
    for (struct otus__es_encoding *e = es->encoding; e; e = e->next) {
        uint64_t deadline = e->job.send->deadline_ms;
        if (deadline && now >= deadline && !e->canceling) {
            e->canceling = 1;
            uv_cancel((uv_req_t *)&e->work);
        }
    }
    otus__es_drain(es);
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
    otus__es_zctx_free_all(es);
    free(es->auth_header);
    free(es->dl_path);
    free(es->name);
    free(es);
}

static void closed_now(struct otus__es *es)
{
    void (*closed)(void *) = es->closed;
    void *arg = es->closed_arg;
    es_free(es);
    if (closed)
        closed(arg);
}

static void closed_one(struct otus__es *es)
{
    if (--es->pending_closes > 0 || es->works > 0)
        return;
    closed_now(es);
}

int otus__es_work_back(struct otus__es *es)
{
    assert(es->works > 0);
    es->works--;
    if (!es->closing || es->works > 0 || es->pending_closes > 0)
        return 0;
    closed_now(es);
    return 1;
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
    /* No send is open, so no job and no encoding is either; a work item still out
     * would hold the closed callback back until it is on the loop again. */
    assert(!es->jobs && !es->encoding);
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
        rc = otus__es_zctx_warm(es);
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
        otus_buf_init(&es->tmpl[s].body, 1u << 20);
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
    .hand_back = es_hand_back,
    .destroy = es_destroy,
};
