/*
 * pipeline.c: exporter instances, their queues and the routes (pipeline.h).
 *
 * An instance ("xinst") wraps one exporter: its configuration (owned), the exporter's
 * own state, and for push exporters a ring of batch references with the batching
 * triggers. Sends carry a group of batches; the exporter settles each send once, and
 * only then are the batches released. A retiring instance (removed or replaced by a
 * reload, or the agent stopping) takes no new data, sends what it holds and is
 * destroyed when nothing of it is open.
 */
#include "agent/pipeline.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "agent/log.h"

struct xinst;

struct sendctx {
    struct otus_send s; /* first: the exporter sees only this */
    struct xinst *x;
    struct sendctx *prev, *next;
    size_t bytes;
    struct otus_batch *batches[];
};

struct xinst {
    struct xinst *next; /* all instances */
    struct otus_pipelines *p;
    char *name; /* owned */
    const struct otus_exporter_ops *ops;
    void *cfg;                      /* owned, ops->config layout */
    const struct otus_queue_cfg *q; /* inside cfg; NULL for pull exporters */
    struct otus_exporter_env env;
    void *self;

    struct otus_batch **ring; /* queued batches, oldest at head */
    size_t cap, head, count;
    size_t q_records, q_bytes;
    unsigned in_flight;
    size_t inflight_records;
    struct sendctx *open;

    uv_timer_t timer;
    int timer_on;
    int due;         /* flush what is queued without waiting for a full group */
    int retiring;    /* out of the routes: finish and go */
    int destroy_due; /* destroy scheduled for the next loop turn */
    int destroying;  /* destroy started */
    int closes;      /* pending close callbacks (timer, exporter) */

    struct otus_metric_series *m_accepted, *m_sent, *m_failed, *m_queue_records, *m_queue_bytes,
        *m_inflight;
    struct otus_metric_series *m_dropped[3]; /* queue_full, send, shutdown */
};

enum { DROP_QUEUE_FULL, DROP_SEND, DROP_SHUTDOWN };
static const char *const drop_reasons[] = {"queue_full", "gave_up", "shutdown"};

struct otus_pipelines {
    struct otus_pipelines_env env;
    struct xinst *all;
    struct xinst **route[OTUS_SIGNAL_COUNT];
    size_t nroute[OTUS_SIGNAL_COUNT];
    int stopping;
    int stop_expired;
    uv_timer_t stop_timer;
    int stop_timer_open;
    void (*done)(void *arg);
    void *done_arg;
    char detail[512];
};

static void dispatch(struct xinst *x);
static void maybe_retire(struct xinst *x);
static void maybe_stopped(struct otus_pipelines *p);
static struct xinst *find_live(struct otus_pipelines *p, const char *name);

/* ---- metrics ------------------------------------------------------------------------------ */

static struct otus_metric_series *series(struct otus_self_metrics *m, const char *name,
                                         const char *help, enum otus_metric_type type,
                                         const char *exporter)
{
    const char *labels[] = {"exporter"};
    const char *values[] = {exporter};
    struct otus_metric_family *f = otus_self_metrics_family(m, name, help, type, labels, 1);
    return f ? otus_self_metrics_series(f, values) : NULL;
}

static int xinst_metrics(struct xinst *x)
{
    struct otus_self_metrics *m = x->p->env.metrics;
    x->m_accepted = series(m, "otus_exporter_accepted_records_total",
                           "Records routed to the exporter.", OTUS_METRIC_COUNTER, x->name);
    x->m_sent = series(m, "otus_exporter_sent_records_total", "Records the exporter delivered.",
                       OTUS_METRIC_COUNTER, x->name);
    x->m_failed = series(m, "otus_exporter_failed_records_total",
                         "Records the backend refused for good (dead-lettered where supported).",
                         OTUS_METRIC_COUNTER, x->name);
    x->m_queue_records =
        series(m, "otus_exporter_queue_records", "Records waiting in the exporter's queue.",
               OTUS_METRIC_GAUGE, x->name);
    x->m_queue_bytes = series(m, "otus_exporter_queue_bytes",
                              "Bytes waiting in the exporter's queue.", OTUS_METRIC_GAUGE, x->name);
    x->m_inflight = series(m, "otus_exporter_in_flight_records",
                           "Records in sends not yet settled.", OTUS_METRIC_GAUGE, x->name);
    const char *labels[] = {"exporter", "reason"};
    struct otus_metric_family *f = otus_self_metrics_family(
        m, "otus_exporter_dropped_records_total",
        "Records given up on: queue full, retries exhausted, or shutdown deadline.",
        OTUS_METRIC_COUNTER, labels, 2);
    for (int i = 0; i < 3; i++) {
        const char *values[] = {x->name, drop_reasons[i]};
        x->m_dropped[i] = f ? otus_self_metrics_series(f, values) : NULL;
        if (!x->m_dropped[i])
            return OTUS_ERR_NOMEM;
    }
    if (!x->m_accepted || !x->m_sent || !x->m_failed || !x->m_queue_records || !x->m_queue_bytes ||
        !x->m_inflight)
        return OTUS_ERR_NOMEM;
    return 0;
}

/* Series are reference-counted: a replacement holding the same ones keeps them. */
static void xinst_metrics_remove(struct xinst *x)
{
    otus_self_metrics_series_remove(x->m_accepted);
    otus_self_metrics_series_remove(x->m_sent);
    otus_self_metrics_series_remove(x->m_failed);
    otus_self_metrics_series_remove(x->m_queue_records);
    otus_self_metrics_series_remove(x->m_queue_bytes);
    otus_self_metrics_series_remove(x->m_inflight);
    for (int i = 0; i < 3; i++)
        otus_self_metrics_series_remove(x->m_dropped[i]);
}

static void gauges(struct xinst *x)
{
    x->m_queue_records->value = (double)x->q_records;
    x->m_queue_bytes->value = (double)x->q_bytes;
    x->m_inflight->value = (double)x->inflight_records;
}

/* ---- instances ------------------------------------------------------------------------------ */

static void xinst_free(struct xinst *x)
{
    struct otus_pipelines *p = x->p;
    for (struct xinst **pp = &p->all; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    if (x->cfg) {
        otus_cfg_free(x->ops->config, x->cfg);
        free(x->cfg);
    }
    free(x->ring);
    free(x->name);
    free(x);
}

static void xinst_closed_one(struct xinst *x)
{
    if (--x->closes > 0)
        return;
    struct otus_pipelines *p = x->p;
    xinst_free(x);
    maybe_stopped(p);
}

static void timer_closed(uv_handle_t *h)
{
    xinst_closed_one(h->data);
}

static void exporter_closed(void *arg)
{
    xinst_closed_one(arg);
}

/* Destroys an instance with nothing queued and nothing in flight. */
static void xinst_destroy(struct xinst *x)
{
    assert(x->in_flight == 0 && x->count == 0);
    if (x->destroying)
        return;
    x->destroying = 1;
    xinst_metrics_remove(x);
    x->closes = 2;
    uv_close((uv_handle_t *)&x->timer, timer_closed);
    void *self = x->self;
    x->self = NULL;
    if (self)
        x->ops->destroy(self, exporter_closed, x);
    else
        xinst_closed_one(x);
}

/* Builds an instance from a configured exporter, taking its configuration. */
static int xinst_new(struct otus_pipelines *p, struct otus_exporter_cfg *ec, struct xinst **out,
                     const char **detail)
{
    struct xinst *x = calloc(1, sizeof(*x));
    if (!x)
        return OTUS_ERR_NOMEM;
    x->p = p;
    x->name = strdup(ec->name);
    if (!x->name) {
        free(x);
        return OTUS_ERR_NOMEM;
    }
    x->ops = ec->ops;
    x->cfg = ec->cfg;
    ec->cfg = NULL; /* the instance owns it now */
    x->q = x->ops->send ? (const struct otus_queue_cfg *)x->cfg : NULL;
    x->env = p->env.exporter_env;
    x->env.name = x->name;
    uv_timer_init(p->env.loop, &x->timer);
    x->timer.data = x;
    x->next = p->all;
    p->all = x;
    const char *why = NULL;
    int rc = xinst_metrics(x);
    if (!rc)
        rc = x->ops->create(&x->env, x->cfg, &x->self, &why);
    if (rc) {
        snprintf(p->detail, sizeof(p->detail), "exporter %s: %s", x->name,
                 why ? why : otus_strerror(rc));
        *detail = p->detail;
        x->self = NULL;
        xinst_destroy(x);
        return rc;
    }
    *out = x;
    return 0;
}

/* ---- queues -----------------------------------------------------------------------------------
 */

static int ring_push(struct xinst *x, struct otus_batch *b)
{
    if (x->count == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        struct otus_batch **r = malloc(cap * sizeof(*r));
        if (!r)
            return OTUS_ERR_NOMEM;
        for (size_t i = 0; i < x->count; i++)
            r[i] = x->ring[(x->head + i) % x->cap];
        free(x->ring);
        x->ring = r;
        x->cap = cap;
        x->head = 0;
    }
    x->ring[(x->head + x->count) % x->cap] = b;
    x->count++;
    return 0;
}

static struct otus_batch *ring_pop(struct xinst *x)
{
    struct otus_batch *b = x->ring[x->head];
    x->head = (x->head + 1) % x->cap;
    x->count--;
    x->q_records -= b->records;
    x->q_bytes -= b->charged;
    return b;
}

static void timer_fired(uv_timer_t *t)
{
    struct xinst *x = t->data;
    x->timer_on = 0;
    x->due = 1;
    dispatch(x);
}

static void arm_timer(struct xinst *x)
{
    if (x->timer_on || !x->count || x->destroying || x->destroy_due || !x->q)
        return;
    x->timer_on = 1;
    uv_timer_start(&x->timer, timer_fired, x->q->flush_interval_ms, 0);
}

static void send_done(struct otus_send *s, const struct otus_send_result *r)
{
    struct sendctx *sc = (struct sendctx *)s;
    struct xinst *x = sc->x;
    assert(r->sent + r->failed + r->dropped + r->returned == s->records);
    assert(!r->returned || r->returned == s->records);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        x->open = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    x->in_flight--;
    x->inflight_records -= s->records;
    x->m_sent->value += (double)r->sent;
    x->m_failed->value += (double)r->failed;
    x->m_dropped[x->p->stop_expired ? DROP_SHUTDOWN : DROP_SEND]->value += (double)r->dropped;
    /* Returned batches join the replacement's queue; once the agent is stopping they
     * count as dropped at shutdown (the replacement may be going already). */
    struct xinst *heir = r->returned && !x->p->stopping ? find_live(x->p, x->name) : NULL;
    if (heir && heir->destroy_due)
        heir = NULL;
    for (size_t i = 0; i < s->nbatches; i++) {
        struct otus_batch *b = sc->batches[i];
        if (r->returned && heir && heir->q && ring_push(heir, b) == 0) {
            heir->q_records += b->records; /* the send's reference goes with it */
            heir->q_bytes += b->charged;
            continue;
        }
        if (r->returned)
            x->m_dropped[x->p->stopping ? DROP_SHUTDOWN : DROP_SEND]->value += (double)b->records;
        otus_batch_unref(b);
    }
    free(sc);
    gauges(x);
    if (heir)
        dispatch(heir);
    dispatch(x);
    maybe_retire(x);
}

/* Hands queued batches to the exporter while sends are allowed. */
static void dispatch(struct xinst *x)
{
    if (!x->q || !x->self)
        return;
    uint64_t max_records = (uint64_t)x->q->max_batch_records;
    uint64_t max_bytes = x->q->max_batch_bytes;
    while (x->count > 0 && x->in_flight < (unsigned)x->q->max_in_flight) {
        if (!x->due && x->q_records < max_records && x->q_bytes < max_bytes)
            break;
        /* A group: whole batches of one signal up to the limits, at least one. */
        size_t n = 0, recs = 0, bytes = 0;
        enum otus_signal sig = x->ring[x->head]->signal;
        while (n < x->count) {
            struct otus_batch *b = x->ring[(x->head + n) % x->cap];
            if (b->signal != sig)
                break;
            if (n > 0 && (recs + b->records > max_records || bytes + b->charged > max_bytes))
                break;
            recs += b->records;
            bytes += b->charged;
            n++;
        }
        struct sendctx *sc = calloc(1, sizeof(*sc) + n * sizeof(struct otus_batch *));
        if (!sc)
            break; /* stays queued; retried on the next trigger */
        for (size_t i = 0; i < n; i++)
            sc->batches[i] = ring_pop(x);
        sc->x = x;
        sc->bytes = bytes;
        sc->s.batches = sc->batches;
        sc->s.nbatches = n;
        sc->s.records = recs;
        sc->s.signal = sc->batches[0]->signal;
        sc->s.done = send_done;
        sc->s.core = x->p;
        sc->next = x->open;
        if (x->open)
            x->open->prev = sc;
        x->open = sc;
        x->in_flight++;
        x->inflight_records += recs;
        int rc = x->ops->send(x->self, &sc->s);
        if (rc) {
            otus_log(OTUS_LOG_WARN, "pipeline", "exporter %s could not start a send: %s", x->name,
                     otus_strerror(rc));
            struct otus_send_result r = {.dropped = recs};
            send_done(&sc->s, &r);
            return; /* send_done dispatched again */
        }
    }
    if (x->count == 0) {
        x->due = 0;
        if (x->timer_on) {
            uv_timer_stop(&x->timer);
            x->timer_on = 0;
        }
    } else {
        arm_timer(x);
    }
    gauges(x);
}

static void enqueue(struct xinst *x, struct otus_batch *b)
{
    x->m_accepted->value += (double)b->records;
    if (x->q_bytes + b->charged > x->q->queue_max_bytes || ring_push(x, b) != 0) {
        x->m_dropped[DROP_QUEUE_FULL]->value += (double)b->records;
        return;
    }
    otus_batch_ref(b);
    x->q_records += b->records;
    x->q_bytes += b->charged;
    dispatch(x);
}

void otus_pipelines_route(struct otus_pipelines *p, struct otus_batch *b)
{
    enum otus_signal s = b->signal;
    for (size_t i = 0; i < p->nroute[s]; i++) {
        struct xinst *x = p->route[s][i];
        if (x->q) {
            enqueue(x, b);
        } else {
            x->m_accepted->value += (double)b->records;
            x->ops->ingest(x->self, b);
            x->m_sent->value += (double)b->records;
        }
    }
}

size_t otus_pipelines_count(const struct otus_pipelines *p, enum otus_signal s)
{
    return p->nroute[s];
}

/* ---- routes, create, reload ------------------------------------------------------------------ */

static struct xinst *find_live(struct otus_pipelines *p, const char *name)
{
    for (struct xinst *x = p->all; x; x = x->next)
        if (!x->retiring && !x->destroying && strcmp(x->name, name) == 0)
            return x;
    return NULL;
}

/* Builds route arrays from cfg's pipelines over the live instances. */
static int build_routes(struct otus_pipelines *p, const struct otus_config *cfg,
                        struct xinst **route[OTUS_SIGNAL_COUNT], size_t nroute[OTUS_SIGNAL_COUNT])
{
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        const struct otus_strlist *l = &cfg->pipelines.signal[s];
        route[s] = calloc(l->n ? l->n : 1, sizeof(struct xinst *));
        nroute[s] = 0;
        if (!route[s]) {
            for (int k = 0; k < s; k++)
                free(route[k]);
            return OTUS_ERR_NOMEM;
        }
        for (size_t i = 0; i < l->n; i++) {
            struct xinst *x = find_live(p, l->items[i]);
            assert(x); /* the configuration was checked */
            route[s][nroute[s]++] = x;
        }
    }
    return 0;
}

static void set_routes(struct otus_pipelines *p, struct xinst **route[OTUS_SIGNAL_COUNT],
                       size_t nroute[OTUS_SIGNAL_COUNT])
{
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        free(p->route[s]);
        p->route[s] = route[s];
        p->nroute[s] = nroute[s];
    }
}

int otus_pipelines_create(const struct otus_pipelines_env *env, struct otus_config *cfg,
                          struct otus_pipelines **out, const char **detail)
{
    struct otus_pipelines *p = calloc(1, sizeof(*p));
    if (!p)
        return OTUS_ERR_NOMEM;
    p->env = *env;
    *out = NULL;
    int rc = 0;
    for (size_t i = 0; i < cfg->exporters.n && !rc; i++) {
        struct xinst *x;
        rc = xinst_new(p, &cfg->exporters.items[i], &x, detail);
    }
    struct xinst **route[OTUS_SIGNAL_COUNT];
    size_t nroute[OTUS_SIGNAL_COUNT];
    if (!rc)
        rc = build_routes(p, cfg, route, nroute);
    if (rc) {
        /* Instances already created go away through the loop; p goes with the last. */
        p->stopping = 1;
        for (struct xinst *x = p->all; x; x = x->next)
            if (!x->destroying)
                xinst_destroy(x);
        maybe_stopped(p);
        return rc;
    }
    set_routes(p, route, nroute);
    *out = p;
    return 0;
}

/* Moves the queue of from to to (a replacement keeps the data). */
static void adopt_queue(struct xinst *to, struct xinst *from)
{
    while (from->count > 0) {
        struct otus_batch *b = ring_pop(from);
        if (to->q && ring_push(to, b) == 0) {
            to->q_records += b->records;
            to->q_bytes += b->charged;
        } else if (!to->q) {
            to->ops->ingest(to->self, b);
            to->m_sent->value += (double)b->records;
            otus_batch_unref(b);
        } else {
            to->m_dropped[DROP_QUEUE_FULL]->value += (double)b->records;
            otus_batch_unref(b);
        }
    }
    gauges(from);
    dispatch(to);
}

static void retire(struct xinst *x)
{
    x->retiring = 1;
    x->due = 1;
    dispatch(x);
    maybe_retire(x);
}

static void destroy_now(uv_timer_t *t)
{
    xinst_destroy(t->data);
}

static void maybe_retire(struct xinst *x)
{
    if (x->destroying)
        return;
    struct otus_pipelines *p = x->p;
    if (!(x->retiring || p->stopping))
        return;
    if (p->stop_expired && x->count > 0) {
        /* The deadline passed: what is still queued is given up on. */
        while (x->count > 0) {
            struct otus_batch *b = ring_pop(x);
            x->m_dropped[DROP_SHUTDOWN]->value += (double)b->records;
            otus_batch_unref(b);
        }
        gauges(x);
    }
    if (x->count == 0 && x->in_flight == 0 && (x->retiring || p->stopping) && !x->destroy_due) {
        /* On the next loop turn: the exporter may be inside its own callback now (a
         * send it just settled), and must not be destroyed under its own feet. */
        x->destroy_due = 1;
        if (x->timer_on)
            uv_timer_stop(&x->timer);
        x->timer_on = 0;
        uv_timer_start(&x->timer, destroy_now, 0, 0);
    }
}

int otus_pipelines_reload(struct otus_pipelines *p, struct otus_config *cfg, const char **detail)
{
    if (p->stopping) {
        *detail = "stopping";
        return OTUS_ERR_STATE;
    }
    size_t n = cfg->exporters.n;
    struct xinst **fresh = calloc(n ? n : 1, sizeof(*fresh)); /* new instance or NULL: keep */
    struct xinst **old = calloc(n ? n : 1, sizeof(*old));     /* what it replaces */
    int rc = fresh && old ? 0 : OTUS_ERR_NOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        struct otus_exporter_cfg *ec = &cfg->exporters.items[i];
        struct xinst *cur = find_live(p, ec->name);
        if (cur && cur->ops == ec->ops && otus_cfg_equal(ec->ops->config, cur->cfg, ec->cfg))
            continue; /* unchanged */
        old[i] = cur;
        rc = xinst_new(p, ec, &fresh[i], detail);
        if (!rc && cur)
            cur->retiring = 1; /* hidden from find_live while routes are rebuilt */
    }
    struct xinst **route[OTUS_SIGNAL_COUNT];
    size_t nroute[OTUS_SIGNAL_COUNT];
    if (!rc) {
        /* Exporters no longer configured retire too. */
        for (struct xinst *x = p->all; x; x = x->next)
            if (!x->retiring && !x->destroying && !otus_config_exporter(cfg, x->name))
                x->retiring = 2; /* removed */
        rc = build_routes(p, cfg, route, nroute);
    }
    if (rc) {
        /* Undo: drop the new instances, revive the ones they were to replace. */
        for (size_t i = 0; i < n; i++) {
            if (old && old[i])
                old[i]->retiring = 0;
            if (fresh && fresh[i])
                xinst_destroy(fresh[i]);
        }
        for (struct xinst *x = p->all; x; x = x->next)
            if (x->retiring == 2)
                x->retiring = 0;
        free(fresh);
        free(old);
        return rc;
    }
    set_routes(p, route, nroute);
    for (size_t i = 0; i < n; i++)
        if (fresh[i] && old[i])
            adopt_queue(fresh[i], old[i]);
    for (struct xinst *x = p->all; x; x = x->next) {
        if (x->retiring && !x->destroying) {
            otus_log(OTUS_LOG_INFO, "pipeline", "exporter %s %s", x->name,
                     x->retiring == 2 ? "removed" : "replaced");
            retire(x);
        }
    }
    /* Sends a replaced instance cannot deliver go to its replacement. Settling may
     * schedule the old instance's destruction (on a later loop turn), never run it. */
    for (size_t i = 0; i < n; i++)
        if (fresh[i] && old[i] && old[i]->self && old[i]->ops->hand_back)
            old[i]->ops->hand_back(old[i]->self);
    free(fresh);
    free(old);
    return 0;
}

/* ---- stop ----------------------------------------------------------------------------------- */

static void stop_timer_closed(uv_handle_t *h)
{
    struct otus_pipelines *p = h->data;
    p->stop_timer_open = 0;
    maybe_stopped(p);
}

static void maybe_stopped(struct otus_pipelines *p)
{
    if (!p->stopping || p->all)
        return;
    if (p->stop_timer_open) {
        if (!uv_is_closing((uv_handle_t *)&p->stop_timer))
            uv_close((uv_handle_t *)&p->stop_timer, stop_timer_closed);
        return;
    }
    void (*done)(void *) = p->done;
    void *arg = p->done_arg;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        free(p->route[s]);
    free(p);
    if (done)
        done(arg);
}

static void stop_deadline(uv_timer_t *t)
{
    struct otus_pipelines *p = t->data;
    p->stop_expired = 1;
    uint64_t now = uv_now(p->env.loop);
    struct xinst *x = p->all;
    while (x) {
        struct xinst *next = x->next;
        for (struct sendctx *sc = x->open; sc; sc = sc->next)
            sc->s.deadline_ms = now;
        if (x->self && x->ops->drain)
            x->ops->drain(x->self);
        maybe_retire(x);
        x = next;
    }
}

void otus_pipelines_stop(struct otus_pipelines *p, uint64_t timeout_ms, void (*done)(void *arg),
                         void *arg)
{
    p->stopping = 1;
    p->done = done;
    p->done_arg = arg;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        p->nroute[s] = 0;
    uint64_t deadline = uv_now(p->env.loop) + timeout_ms;
    uv_timer_init(p->env.loop, &p->stop_timer);
    p->stop_timer.data = p;
    p->stop_timer_open = 1;
    uv_timer_start(&p->stop_timer, stop_deadline, timeout_ms, 0);
    struct xinst *x = p->all;
    while (x) {
        struct xinst *next = x->next;
        x->due = 1;
        for (struct sendctx *sc = x->open; sc; sc = sc->next)
            sc->s.deadline_ms = deadline;
        dispatch(x);
        if (x->self && x->ops->drain)
            x->ops->drain(x->self);
        maybe_retire(x);
        x = next;
    }
    maybe_stopped(p);
}
