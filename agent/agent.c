/*
 * agent.c: assembly of the running agent: the HTTP listeners (shared by address),
 * the telemetry endpoint (/metrics, /healthz, /readyz), the OTLP receiver, the
 * pipelines and their exporters, the memory budget and the agent's own metrics;
 * reload on a new configuration and orderly shutdown.
 */
#include "agent/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <otus.h>

#include "agent/http_server.h"
#include "agent/log.h"
#include "agent/pipeline.h"
#include "agent/receiver_otlp.h"
#include "agent/self_metrics.h"
#include "common/clock.h"

#define SWEEP_MS 1000

struct listener {
    struct listener *next;
    char *addr; /* owned; as configured */
    struct otus_http_server *srv;
};

struct otus_agent {
    uv_loop_t *loop;
    struct otus_config cfg; /* exporter configurations moved into the pipelines */
    struct otus_mem_budget budget;
    struct otus_self_metrics *metrics;
    struct listener *listeners;
    struct otus_http_server *telemetry;
    struct otus_receiver *receiver;
    struct otus_http_server *receiver_srv;
    struct otus_pipelines *pipelines;
    uv_timer_t sweep;
    int stopping;
    int pending;
    void (*done)(void *arg);
    void *done_arg;
    uint64_t start_wall_ns;
    struct otus_metric_family *f_http;
    struct otus_metric_series *m_rss, *m_cpu, *m_start, *m_budget_used, *m_budget_limit,
        *m_budget_peak, *m_conns, *m_info;
};

static char detail_buf[768];

/* ---- self metrics ------------------------------------------------------------------------ */

static void observe_http(const char *path, int status, void *ctx)
{
    struct otus_agent *a = ctx;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    const char *values[] = {path, code};
    struct otus_metric_series *s = otus_self_metrics_series(a->f_http, values);
    if (s)
        s->value++;
}

static void collect_process(void *ctx)
{
    struct otus_agent *a = ctx;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size, resident;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2)
            a->m_rss->value = (double)resident * (double)page;
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        a->m_cpu->value = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    a->m_budget_used->value = (double)a->budget.used;
    a->m_budget_limit->value = (double)a->budget.limit;
    a->m_budget_peak->value = (double)a->budget.peak;
    unsigned conns = 0;
    for (struct listener *l = a->listeners; l; l = l->next)
        conns += otus_http_server_connections(l->srv);
    a->m_conns->value = conns;
}

static int self_metrics_init(struct otus_agent *a)
{
    struct otus_self_metrics *m = a->metrics;
    const char *hl[] = {"path", "code"};
    a->f_http = otus_self_metrics_family(m, "otus_http_requests_total",
                                         "HTTP requests answered, by path and status code.",
                                         OTUS_METRIC_COUNTER, hl, 2);
    a->m_rss = otus_self_metrics_simple(m, "otus_process_resident_memory_bytes",
                                        "Resident memory of the agent.", OTUS_METRIC_GAUGE);
    a->m_cpu =
        otus_self_metrics_simple(m, "otus_process_cpu_seconds_total",
                                 "CPU time (user and system) the agent used.", OTUS_METRIC_COUNTER);
    a->m_start =
        otus_self_metrics_simple(m, "otus_process_start_time_seconds",
                                 "When the agent started, in Unix seconds.", OTUS_METRIC_GAUGE);
    a->m_budget_used = otus_self_metrics_simple(
        m, "otus_buffer_used_bytes", "Memory held for data in flight (bodies, batches, queues).",
        OTUS_METRIC_GAUGE);
    a->m_budget_limit = otus_self_metrics_simple(
        m, "otus_buffer_limit_bytes", "The limit on memory for data in flight.", OTUS_METRIC_GAUGE);
    a->m_budget_peak = otus_self_metrics_simple(m, "otus_buffer_peak_bytes",
                                                "The most memory held for data in flight so far.",
                                                OTUS_METRIC_GAUGE);
    a->m_conns = otus_self_metrics_simple(
        m, "otus_http_connections", "Open HTTP connections on all listeners.", OTUS_METRIC_GAUGE);
    const char *il[] = {"version"};
    const char *iv[] = {OTUS_VERSION_STRING};
    struct otus_metric_family *fi = otus_self_metrics_family(
        m, "otus_build_info", "The agent's version (value 1).", OTUS_METRIC_GAUGE, il, 1);
    a->m_info = fi ? otus_self_metrics_series(fi, iv) : NULL;
    if (!a->f_http || !a->m_rss || !a->m_cpu || !a->m_start || !a->m_budget_used ||
        !a->m_budget_limit || !a->m_budget_peak || !a->m_conns || !a->m_info)
        return OTUS_ERR_NOMEM;
    a->m_info->value = 1;
    a->m_start->value = (double)(a->start_wall_ns / 1000000000u);
    return otus_self_metrics_on_collect(m, collect_process, a);
}

static int render_self(void *agent, int openmetrics, struct otus_buf *out)
{
    struct otus_agent *a = agent;
    return otus_self_metrics_render(a->metrics, openmetrics, out);
}

/* ---- telemetry routes ----------------------------------------------------------------------- */

static int method_get(struct otus_http_request *req)
{
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return 1;
    otus_http_respond(req, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
                      "Allow: GET, HEAD\r\n");
    return 0;
}

static void health(struct otus_http_request *req, void *ctx)
{
    (void)ctx;
    if (method_get(req))
        otus_http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
}

static void ready(struct otus_http_request *req, void *ctx)
{
    struct otus_agent *a = ctx;
    if (!method_get(req))
        return;
    if (otus_agent_ready(a))
        otus_http_respond(req, 200, "text/plain; charset=utf-8", "ready\n", 6, NULL);
    else
        otus_http_respond(req, 503, "text/plain; charset=utf-8", "not ready\n", 10,
                          "Retry-After: 1\r\n");
}

/* The agent's own metrics, when no Prometheus exporter serves this listener's /metrics. */
static void metrics(struct otus_http_request *req, void *ctx)
{
    struct otus_agent *a = ctx;
    if (!method_get(req))
        return;
    const char *accept = otus_http_request_header(req, "accept");
    int om = accept && strstr(accept, "application/openmetrics-text") != NULL;
    struct otus_buf body;
    otus_buf_init(&body, 0);
    int rc = otus_self_metrics_render(a->metrics, om, &body);
    if (!rc && om)
        rc = otus_buf_append_str(&body, "# EOF\n");
    if (rc) {
        otus_buf_free(&body);
        otus_http_respond(req, 500, "text/plain; charset=utf-8", "cannot render\n", 14, NULL);
        return;
    }
    otus_http_respond_buf(req, 200,
                          om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                             : "text/plain; version=0.0.4; charset=utf-8",
                          &body, NULL);
}

/* ---- listeners ------------------------------------------------------------------------------ */

static void http_opts(const struct otus_config *cfg, const char *name, struct otus_agent *a,
                      struct otus_http_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->name = name;
    o->max_header_bytes = cfg->service.http.max_header_bytes;
    o->idle_timeout_ms = cfg->service.http.idle_timeout_ms;
    o->request_timeout_ms = cfg->service.http.request_timeout_ms;
    o->max_connections = (unsigned)cfg->service.http.max_connections;
    o->observer = observe_http;
    o->observer_ctx = a;
    o->budget = &a->budget;
}

/* The server for addr, opened on first use. */
static int listen_on(struct otus_agent *a, const struct otus_config *cfg, const char *addr,
                     struct otus_http_server **out, const char **detail)
{
    for (struct listener *l = a->listeners; l; l = l->next) {
        if (strcmp(l->addr, addr) == 0) {
            *out = l->srv;
            return 0;
        }
    }
    struct listener *l = calloc(1, sizeof(*l));
    if (!l || !(l->addr = strdup(addr))) {
        free(l);
        return OTUS_ERR_NOMEM;
    }
    struct otus_http_server_opts o;
    http_opts(cfg, l->addr, a, &o);
    const char *why = NULL;
    int rc = otus_http_server_create(a->loop, addr, &o, &l->srv, &why);
    if (rc) {
        snprintf(detail_buf, sizeof(detail_buf), "cannot listen on %s: %s", addr,
                 why ? why : (rc == OTUS_ERR_INVALID ? "invalid address" : otus_strerror(rc)));
        *detail = detail_buf;
        free(l->addr);
        free(l);
        return rc == OTUS_ERR_INVALID ? OTUS_ERR_CONFIG : rc;
    }
    l->next = a->listeners;
    a->listeners = l;
    otus_log(OTUS_LOG_INFO, "agent", "listening on %s (port %d)", addr,
             otus_http_server_port(l->srv));
    *out = l->srv;
    return 0;
}

static int exporter_listen(void *agent, const char *addr, struct otus_http_server **out,
                           const char **detail)
{
    struct otus_agent *a = agent;
    return listen_on(a, &a->cfg, addr, out, detail);
}

static void listener_closed(void *arg)
{
    struct otus_agent *a = arg;
    a->pending--;
    if (a->stopping && a->pending == 0) {
        void (*done)(void *) = a->done;
        void *done_arg = a->done_arg;
        otus_self_metrics_destroy(a->metrics);
        otus_config_free(&a->cfg);
        free(a);
        if (done)
            done(done_arg);
    }
}

static void close_listener(struct otus_agent *a, struct listener **pp)
{
    struct listener *l = *pp;
    *pp = l->next;
    a->pending++;
    otus_http_server_close(l->srv, listener_closed, a);
    free(l->addr);
    free(l);
}

static int telemetry_routes(struct otus_agent *a, struct otus_http_server *srv)
{
    int rc = otus_http_server_route(srv, "/healthz", 0, health, a);
    if (!rc)
        rc = otus_http_server_route(srv, "/readyz", 0, ready, a);
    if (!rc)
        rc = otus_http_server_route(srv, "/metrics", 0, metrics, a);
    return rc;
}

static void telemetry_unroute(struct otus_agent *a, struct otus_http_server *srv)
{
    otus_http_server_unroute(srv, "/healthz", a);
    otus_http_server_unroute(srv, "/readyz", a);
    otus_http_server_unroute(srv, "/metrics", a);
}

/* Closes listeners nothing is registered on any more (an exporter went away). */
static void sweep(uv_timer_t *t)
{
    struct otus_agent *a = t->data;
    for (struct listener **pp = &a->listeners; *pp;) {
        if ((*pp)->srv != a->telemetry && (*pp)->srv != a->receiver_srv &&
            otus_http_server_routes((*pp)->srv) == 0)
            close_listener(a, pp);
        else
            pp = &(*pp)->next;
    }
}

/* ---- start, reload, stop ------------------------------------------------------------------------
 */

static int accepting(void *agent)
{
    const struct otus_agent *a = agent;
    return !a->stopping && a->pipelines;
}

int otus_agent_ready(const struct otus_agent *a)
{
    /* Not ready when stopping, or when the memory budget is nearly spent (requests are
     * about to be refused): a load balancer then sends elsewhere first. */
    return !a->stopping && a->pipelines &&
           (!a->budget.limit || a->budget.used < a->budget.limit / 8 * 7);
}

static void apply_log_level(const struct otus_config *cfg)
{
    enum otus_log_level lvl;
    if (otus_log_level_parse(cfg->service.log_level, &lvl) == 0)
        otus_log_set_level(lvl);
}

static void pipelines_env(struct otus_agent *a, struct otus_pipelines_env *pe,
                          const struct otus_config *cfg)
{
    memset(pe, 0, sizeof(*pe));
    pe->loop = a->loop;
    pe->metrics = a->metrics;
    pe->exporter_env.loop = a->loop;
    pe->exporter_env.data_dir = cfg->service.data_dir;
    pe->exporter_env.metrics = a->metrics;
    pe->exporter_env.listen = exporter_listen;
    pe->exporter_env.render_self = render_self;
    pe->exporter_env.agent = a;
}

static int receiver_open(struct otus_agent *a, const struct otus_config *cfg,
                         struct otus_http_server **srv, struct otus_receiver **rcv,
                         const char **detail)
{
    *srv = NULL;
    *rcv = NULL;
    if (!cfg->receivers.otlp.enabled)
        return 0;
    int rc = listen_on(a, cfg, cfg->receivers.otlp.listen, srv, detail);
    if (rc)
        return rc;
    struct otus_receiver_env env = {
        .budget = &a->budget,
        .metrics = a->metrics,
        .pipelines = &a->pipelines,
        .accepting = accepting,
        .agent = a,
    };
    rc = otus_receiver_create(&env, &cfg->receivers.otlp, *srv, rcv);
    if (rc)
        *detail = "cannot start the OTLP receiver";
    return rc;
}

int otus_agent_start(uv_loop_t *loop, struct otus_config *cfg, struct otus_agent **out,
                     const char **detail)
{
    const char *ignored;
    *out = NULL;
    if (!detail)
        detail = &ignored;
    *detail = NULL;
    struct otus_agent *a = calloc(1, sizeof(*a));
    if (!a) {
        otus_config_free(cfg);
        return OTUS_ERR_NOMEM;
    }
    a->loop = loop;
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    a->start_wall_ns = otus_clock_wall_ns();
    a->budget.limit = a->cfg.buffer.max_bytes;
    apply_log_level(&a->cfg);
    uv_timer_init(loop, &a->sweep);
    a->sweep.data = a;
    a->pending = 1; /* the sweep timer */

    int rc = (a->metrics = otus_self_metrics_create()) ? self_metrics_init(a) : OTUS_ERR_NOMEM;
    if (!rc)
        rc = listen_on(a, &a->cfg, a->cfg.service.telemetry_listen, &a->telemetry, detail);
    if (!rc)
        rc = telemetry_routes(a, a->telemetry);
    if (!rc)
        rc = receiver_open(a, &a->cfg, &a->receiver_srv, &a->receiver, detail);
    if (!rc) {
        struct otus_pipelines_env pe;
        pipelines_env(a, &pe, &a->cfg);
        rc = otus_pipelines_create(&pe, &a->cfg, &a->pipelines, detail);
    }
    if (rc) {
        otus_agent_stop(a, NULL, NULL);
        return rc;
    }
    uv_timer_start(&a->sweep, sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&a->sweep);
    otus_log(OTUS_LOG_INFO, "agent", "otus-agent %s started (%s)", OTUS_VERSION_STRING,
             a->cfg.source);
    *out = a;
    return 0;
}

int otus_agent_reload(struct otus_agent *a, struct otus_config *cfg, const char **detail)
{
    const char *ignored;
    if (!detail)
        detail = &ignored;
    *detail = NULL;
    int rc = 0;
    struct otus_http_server *tel = a->telemetry, *rsrv = NULL;
    struct otus_receiver *rcv = NULL;
    if (a->stopping) {
        *detail = "the agent is stopping";
        rc = OTUS_ERR_STATE;
        goto out;
    }
    if (strcmp(cfg->service.telemetry_listen, a->cfg.service.telemetry_listen) != 0) {
        rc = listen_on(a, cfg, cfg->service.telemetry_listen, &tel, detail);
        if (!rc && (rc = telemetry_routes(a, tel)) != 0)
            telemetry_unroute(a, tel);
        if (rc)
            goto out;
    }
    /* A new receiver when anything of its configuration changed. */
    const struct otus_otlp_receiver_cfg *o = &a->cfg.receivers.otlp, *n = &cfg->receivers.otlp;
    int receiver_changed = o->enabled != n->enabled || strcmp(o->listen, n->listen) != 0 ||
                           o->max_request_bytes != n->max_request_bytes ||
                           strcmp(o->bearer_token, n->bearer_token) != 0;
    if (receiver_changed) {
        /* Same address: the old routes must go first, as the new ones replace them. */
        if (a->receiver && n->enabled && strcmp(o->listen, n->listen) == 0) {
            otus_receiver_destroy(a->receiver);
            a->receiver = NULL;
        }
        rc = receiver_open(a, cfg, &rsrv, &rcv, detail);
        if (rc) {
            if (!a->receiver && o->enabled)
                /* Put the old one back on its (same) address. */
                receiver_open(a, &a->cfg, &a->receiver_srv, &a->receiver, &ignored);
            if (tel != a->telemetry)
                telemetry_unroute(a, tel);
            goto out;
        }
    }
    rc = otus_pipelines_reload(a->pipelines, cfg, detail);
    if (rc) {
        if (receiver_changed) {
            otus_receiver_destroy(rcv);
            if (!a->receiver && o->enabled)
                receiver_open(a, &a->cfg, &a->receiver_srv, &a->receiver, &ignored);
        }
        if (tel != a->telemetry)
            telemetry_unroute(a, tel);
        goto out;
    }
    /* Committed. */
    if (tel != a->telemetry) {
        telemetry_unroute(a, a->telemetry);
        a->telemetry = tel;
    }
    if (receiver_changed) {
        otus_receiver_destroy(a->receiver);
        a->receiver = rcv;
        a->receiver_srv = rsrv;
    }
    struct otus_http_server_opts lim;
    http_opts(cfg, NULL, a, &lim);
    for (struct listener *l = a->listeners; l; l = l->next)
        otus_http_server_set_limits(l->srv, &lim);
    a->budget.limit = cfg->buffer.max_bytes;
    otus_config_free(&a->cfg);
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    apply_log_level(&a->cfg);
    sweep(&a->sweep);
    otus_log(OTUS_LOG_INFO, "config", "reloaded %s", a->cfg.source);
    return 0;
out:
    otus_config_free(cfg);
    return rc;
}

static void sweep_closed(uv_handle_t *h)
{
    listener_closed(h->data);
}

static void pipelines_stopped(void *arg)
{
    struct otus_agent *a = arg;
    a->pipelines = NULL;
    otus_receiver_destroy(a->receiver);
    a->receiver = NULL;
    /* Now the listeners can go: nothing more will be answered. */
    while (a->listeners)
        close_listener(a, &a->listeners);
    listener_closed(a); /* the pipelines' reference */
}

void otus_agent_stop(struct otus_agent *a, void (*done)(void *arg), void *arg)
{
    if (!a || a->stopping)
        return;
    a->stopping = 1;
    a->done = done;
    a->done_arg = arg;
    uv_close((uv_handle_t *)&a->sweep, sweep_closed);
    /* From now on the receiver answers 503 (otus_agent_ready is false); what was
     * accepted drains. */
    a->pending++;
    if (a->pipelines)
        otus_pipelines_stop(a->pipelines, a->cfg.service.shutdown_timeout_ms, pipelines_stopped, a);
    else
        pipelines_stopped(a);
}
