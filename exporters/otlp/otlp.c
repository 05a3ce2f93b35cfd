/*
 * otlp.c: the OTLP/HTTP exporter's two types, "otlp" and "jaeger" (otlp.h): their ops,
 * creating and destroying an instance, and its metrics. Sending is in otlp_deliver.c,
 * encoding in otlp_encode.c, configuration in otlp_config.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "exporters/otlp/otlp.h"

static const char *const outcome_names[OC_COUNT] = {"ok", "partial", "retryable", "rejected",
                                                    "network"};

static int otlp_encode(void *self, struct otus_batch *const *batches, size_t n,
                       struct otus_buf *out)
{
    struct otlp_exporter *x = self;
    if (n == 0)
        return 0;
    const struct otus_buf *body;
    int rc = otus__otlp_encode_body(&x->loop_enc, x->json, batches[0]->signal, batches, n, &body);
    if (!rc)
        rc = otus_buf_append(out, body->data, body->len);
    return rc;
}

/* ---- lifecycle
 * ----------------------------------------------------------------------------------- */

static void collect(void *ctx)
{
    struct otlp_exporter *x = ctx;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        if (x->ep[s].url)
            otus__otlp_breaker_note(x, (enum otus_signal)s);
}

static void exporter_free(struct otlp_exporter *x)
{
    if (x->metrics)
        otus_self_metrics_off_collect(x->metrics, collect, x);
    /* Series are reference-counted: a replacement during a reload keeps its own. */
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        if (x->ep[s].url) {
            otus_self_metrics_series_remove(x->ep[s].m_state);
            for (int k = 0; k < 3; k++)
                otus_self_metrics_series_remove(x->ep[s].m_trans[k]);
        }
        free(x->ep[s].url);
    }
    for (int i = 0; i < OC_COUNT; i++)
        otus_self_metrics_series_remove(x->m_requests[i]);
    otus_self_metrics_series_remove(x->m_retries);
    otus_self_metrics_series_remove(x->m_bytes);
    otus_self_metrics_series_remove(x->m_partial);
    while (x->free_ctx) {
        struct otlp_enc_ctx *c = x->free_ctx;
        x->free_ctx = c->next;
        otus__otlp_ctx_free(c);
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
    .send = otus__otlp_send,
    .drain = otus__otlp_drain,
    .hand_back = otus__otlp_hand_back,
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
    .send = otus__otlp_send,
    .drain = otus__otlp_drain,
    .hand_back = otus__otlp_hand_back,
    .destroy = otlp_destroy,
};
