/*
 * http.c: HTTP server and client spans and duration metrics after the OpenTelemetry
 * HTTP semantic conventions.
 *
 * Span names are "{method} {http.route}" for servers with a route, else "{method}",
 * where a method outside RFC 9110, PATCH and QUERY becomes http.request.method=_OTHER
 * (with http.request.method_original) and the name uses "HTTP". Status: ERROR for 5xx
 * on servers, for 4xx and 5xx on clients, and whenever an error type is given; no
 * description when the status code says it all. http.server.request.duration and
 * http.client.request.duration are histograms in seconds with the conventions'
 * advisory boundaries.
 */
#include "internal.h"

#include <stdio.h>

static struct otus_metric *server_dur, *client_dur;

static const double duration_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                         0.5,   0.75, 1,     2.5,  5,     7.5, 10};

int otus__http_metrics_init(void)
{
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = OTUS_HISTOGRAM;
    o.unit = "s";
    o.bounds = duration_bounds;
    o.n_bounds = sizeof(duration_bounds) / sizeof(duration_bounds[0]);
    o.name = "http.server.request.duration";
    o.description = "Duration of HTTP server requests.";
    server_dur = otus__metric_create_internal(&o);
    o.name = "http.client.request.duration";
    o.description = "Duration of HTTP client requests.";
    client_dur = otus__metric_create_internal(&o);
    return server_dur && client_dur ? 0 : OTUS_ERR_NOMEM;
}

static const char *const known_methods[] = {"CONNECT", "DELETE", "GET", "HEAD",  "OPTIONS",
                                            "PATCH",   "POST",   "PUT", "TRACE", "QUERY"};

/* The method as http.request.method records it: a known method, or "_OTHER". */
static const char *normalise_method(const char *m)
{
    if (m)
        for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
            if (strcmp(m, known_methods[i]) == 0)
                return known_methods[i];
    return "_OTHER";
}

static size_t common_attrs(const struct otus_http_info *r, const char *method, struct otus_attr *a)
{
    size_t n = 0;
    a[n++] = otus_attr_str("http.request.method", method);
    if (method[0] == '_' && r->method)
        a[n++] = otus_attr_str("http.request.method_original", r->method);
    if (r->server_address)
        a[n++] = otus_attr_str("server.address", r->server_address);
    if (r->server_port > 0)
        a[n++] = otus_attr_int("server.port", r->server_port);
    if (r->protocol_version)
        a[n++] = otus_attr_str("network.protocol.version", r->protocol_version);
    if (r->user_agent)
        a[n++] = otus_attr_str("user_agent.original", r->user_agent);
    return n;
}

void otus_http_server_span_start(struct otus_http_span *h, const struct otus_http_info *r)
{
    h->req = r;
    h->kind = OTUS_SPAN_SERVER;
    h->start_ticks = otus__ticks();
    h->method = normalise_method(r->method);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    h->parent.valid = 0;
    if (r->get && otus_propagators_extract(&h->parent, NULL, r->get, r->carrier) == 0 &&
        h->parent.valid)
        o.parent = &h->parent.span;
    char name[256];
    const char *m = h->method[0] == '_' ? "HTTP" : h->method;
    if (r->route)
        snprintf(name, sizeof(name), "%s %s", m, r->route);
    else
        snprintf(name, sizeof(name), "%s", m);
    struct otus_attr a[12];
    size_t n = common_attrs(r, h->method, a);
    if (r->scheme)
        a[n++] = otus_attr_str("url.scheme", r->scheme);
    if (r->path)
        a[n++] = otus_attr_str("url.path", r->path);
    if (r->query)
        a[n++] = otus_attr_str("url.query", r->query);
    if (r->route)
        a[n++] = otus_attr_str("http.route", r->route);
    if (r->client_address)
        a[n++] = otus_attr_str("client.address", r->client_address);
    o.attrs = a;
    o.n_attrs = n;
    otus_span_start(&h->span, name, OTUS_SPAN_SERVER, &o);
}

void otus_http_client_span_start(struct otus_http_span *h, const struct otus_http_info *r,
                                 otus_setter_fn set, void *carrier)
{
    h->req = r;
    h->kind = OTUS_SPAN_CLIENT;
    h->start_ticks = otus__ticks();
    h->method = normalise_method(r->method);
    h->parent.valid = 0;
    struct otus_attr a[10];
    size_t n = common_attrs(r, h->method, a);
    if (r->url)
        a[n++] = otus_attr_str("url.full", r->url);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = a;
    o.n_attrs = n;
    otus_span_start(&h->span, h->method[0] == '_' ? "HTTP" : h->method, OTUS_SPAN_CLIENT, &o);
    if (set)
        otus_propagators_inject(&h->span, NULL, set, carrier);
}

static void http_end(struct otus_http_span *h, int status, const char *error_type, int server)
{
    double seconds = otus__ticks_to_seconds(otus__ticks() - h->start_ticks);
    const struct otus_http_info *r = h->req;
    char code[16];
    int error = error_type != NULL || status >= 500 || (!server && status >= 400) ||
                (status != 0 && (status < 100 || status > 599));
    if (error && !error_type) {
        snprintf(code, sizeof(code), "%d", status);
        error_type = status > 0 ? code : "_OTHER";
    }
    struct otus_attr sa[2];
    size_t sn = 0;
    if (status > 0)
        sa[sn++] = otus_attr_int("http.response.status_code", status);
    if (error)
        sa[sn++] = otus_attr_str("error.type", error_type);
    if (sn)
        otus_span_set_attrs(&h->span, sa, sn);
    if (error)
        otus_span_set_status(&h->span, OTUS_STATUS_ERROR, NULL);

    struct otus_attr ma[8];
    size_t mn = 0;
    ma[mn++] = otus_attr_str("http.request.method", h->method);
    if (server) {
        if (r->scheme)
            ma[mn++] = otus_attr_str("url.scheme", r->scheme);
        if (r->route)
            ma[mn++] = otus_attr_str("http.route", r->route);
    } else {
        if (r->server_address)
            ma[mn++] = otus_attr_str("server.address", r->server_address);
        if (r->server_port > 0)
            ma[mn++] = otus_attr_int("server.port", r->server_port);
    }
    if (status > 0)
        ma[mn++] = otus_attr_int("http.response.status_code", status);
    if (error)
        ma[mn++] = otus_attr_str("error.type", error_type);
    if (r->protocol_version)
        ma[mn++] = otus_attr_str("network.protocol.version", r->protocol_version);
    /* While the span is still current: a sampled request's duration carries it as an
     * exemplar. */
    struct otus_span *saved = otus_span_swap_current(&h->span);
    otus_metric_record(server ? server_dur : client_dur, seconds, ma, mn);
    otus_span_swap_current(saved);
    otus_span_end(&h->span);
}

void otus_http_server_span_end(struct otus_http_span *h, int status_code, const char *error_type)
{
    http_end(h, status_code, error_type, 1);
}

void otus_http_client_span_end(struct otus_http_span *h, int status_code, const char *error_type)
{
    http_end(h, status_code, error_type, 0);
}
