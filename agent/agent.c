/*
 * agent.c: assembly of the running agent: the telemetry listener with its health
 * endpoints, and orderly shutdown.
 */
#include "agent/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "agent/http_server.h"
#include "agent/log.h"

struct otus_agent {
    uv_loop_t *loop;
    struct otus_config cfg;
    struct otus_http_server *telemetry; /* /healthz, /readyz */
    int stopping;
    int pending_closes;
    void (*done)(void *arg);
    void *done_arg;
};

static char detail_buf[512];

static void health(struct otus_http_request *req, void *ctx)
{
    (void)ctx;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        otus_http_respond(req, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
                          "Allow: GET, HEAD\r\n");
        return;
    }
    otus_http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
}

static void ready(struct otus_http_request *req, void *ctx)
{
    struct otus_agent *a = ctx;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        otus_http_respond(req, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
                          "Allow: GET, HEAD\r\n");
        return;
    }
    if (otus_agent_ready(a))
        otus_http_respond(req, 200, "text/plain; charset=utf-8", "ready\n", 6, NULL);
    else
        otus_http_respond(req, 503, "text/plain; charset=utf-8", "not ready\n", 10,
                          "Retry-After: 1\r\n");
}

static void http_opts(const struct otus_config *cfg, const char *name,
                      struct otus_http_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->name = name;
    o->max_header_bytes = cfg->service.http.max_header_bytes;
    o->idle_timeout_ms = cfg->service.http.idle_timeout_ms;
    o->request_timeout_ms = cfg->service.http.request_timeout_ms;
    o->max_connections = (unsigned)cfg->service.http.max_connections;
}

int otus_agent_ready(const struct otus_agent *a)
{
    return !a->stopping;
}

/* Opens the telemetry listener of cfg with its health routes. */
static int telemetry_open(struct otus_agent *a, const struct otus_config *cfg,
                          struct otus_http_server **out, const char **detail)
{
    struct otus_http_server_opts o;
    http_opts(cfg, "telemetry", &o);
    const char *why = NULL;
    int rc = otus_http_server_create(a->loop, cfg->service.telemetry_listen, &o, out, &why);
    if (rc) {
        snprintf(detail_buf, sizeof(detail_buf), "cannot listen on %s: %s",
                 cfg->service.telemetry_listen,
                 why ? why : (rc == OTUS_ERR_INVALID ? "invalid address" : otus_strerror(rc)));
        *detail = detail_buf;
        return rc == OTUS_ERR_INVALID ? OTUS_ERR_CONFIG : rc;
    }
    if ((rc = otus_http_server_route(*out, "/healthz", 0, health, a)) != 0 ||
        (rc = otus_http_server_route(*out, "/readyz", 0, ready, a)) != 0) {
        otus_http_server_close(*out, NULL, NULL);
        *out = NULL;
        *detail = "out of memory";
    }
    return rc;
}

static void apply_log_level(const struct otus_config *cfg)
{
    enum otus_log_level lvl;
    if (otus_log_level_parse(cfg->service.log_level, &lvl) == 0)
        otus_log_set_level(lvl);
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
    apply_log_level(&a->cfg);

    int rc = telemetry_open(a, &a->cfg, &a->telemetry, detail);
    if (rc) {
        otus_config_free(&a->cfg);
        free(a);
        return rc;
    }
    otus_log(OTUS_LOG_INFO, "agent", "otus-agent %s started (%s); telemetry on %s (port %d)",
             OTUS_VERSION_STRING, a->cfg.source, a->cfg.service.telemetry_listen,
             otus_http_server_port(a->telemetry));
    *out = a;
    return 0;
}

int otus_agent_reload(struct otus_agent *a, struct otus_config *cfg, const char **detail)
{
    const char *ignored;
    if (!detail)
        detail = &ignored;
    *detail = NULL;
    if (a->stopping) {
        otus_config_free(cfg);
        *detail = "the agent is stopping";
        return OTUS_ERR_STATE;
    }
    if (strcmp(cfg->service.telemetry_listen, a->cfg.service.telemetry_listen) != 0) {
        struct otus_http_server *next = NULL;
        int rc = telemetry_open(a, cfg, &next, detail);
        if (rc) {
            otus_config_free(cfg);
            return rc;
        }
        otus_http_server_close(a->telemetry, NULL, NULL);
        a->telemetry = next;
    }
    otus_config_free(&a->cfg);
    a->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    apply_log_level(&a->cfg);
    otus_log(OTUS_LOG_INFO, "config", "reloaded %s", a->cfg.source);
    return 0;
}

static void closed_one(void *arg)
{
    struct otus_agent *a = arg;
    if (--a->pending_closes > 0)
        return;
    void (*done)(void *) = a->done;
    void *done_arg = a->done_arg;
    otus_config_free(&a->cfg);
    free(a);
    if (done)
        done(done_arg);
}

void otus_agent_stop(struct otus_agent *a, void (*done)(void *arg), void *arg)
{
    if (!a || a->stopping)
        return;
    a->stopping = 1;
    a->done = done;
    a->done_arg = arg;
    a->pending_closes = 1; /* this function's own reference */
    if (a->telemetry) {
        a->pending_closes++;
        otus_http_server_close(a->telemetry, closed_one, a);
        a->telemetry = NULL;
    }
    closed_one(a);
}
