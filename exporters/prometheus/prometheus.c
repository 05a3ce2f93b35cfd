/*
 * prometheus.c: the Prometheus exporter: configuration, lifecycle and the GET /metrics
 * endpoint. It is a pull exporter: the core hands it every metrics batch through
 * ingest(), which merges the points into the store (prom_store.c); a scrape renders
 * the store followed by the agent's own otus_* metrics, as text 0.0.4 or OpenMetrics
 * (prom_expo.c) or as protobuf (prom_pb.c), whichever the scraper's Accept prefers.
 * The agent's own metrics come as text from the core; for protobuf they are read back
 * from that text (prom_pb_from_text).
 *
 * A scrape renders on the loop thread in one go, so it is a consistent snapshot and no
 * ingest runs while it does; gzip, the expensive part of a large answer, runs on the
 * libuv thread pool on a body nothing else touches. A timer removes the series whose
 * TTL has passed.
 *
 * The scrape body is rendered into one buffer kept from scrape to scrape (a scrape of
 * 100,000 series is some 160 MB, and writing into freshly mapped memory costs a page
 * fault per page): the HTTP server borrows it for the write and gives it back when the
 * write is over (otus_http_respond_buf_lend). The buffer lives in a small reference-
 * counted struct, so a write still in flight when the exporter goes away frees it
 * last. A scrape that finds the buffer lent (two scrapers at once) renders into a
 * fresh one, and a buffer much larger than what several scrapes in a row needed is
 * freed, so that the memory follows the store down.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <otus.h>

#include "agent/log.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/exporter.h"
#include "exporters/prometheus/prom_expo.h"
#include "exporters/prometheus/prom_pb.h"
#include "exporters/prometheus/prom_store.h"
#include "exporters/prometheus/prometheus.h"

/* ---- configuration ------------------------------------------------------------------ */

struct prom_cfg {
    char *listen;
    char *path;
    uint64_t series_ttl_ms;
    int64_t max_series;
    uint64_t max_bytes;
    uint64_t max_label_bytes;
    int64_t max_buckets;
    uint64_t max_scrape_bytes;
    bool resource_to_telemetry;
    bool add_scope_labels;
    bool gzip;
    bool keep_scrape_buffer;
    bool native_histograms;
    bool classic_buckets_for_native;
};

static const struct otus_cfg_entry prom_cfg_table[] = {
    {"listen", OTUS_CFG_STRING, "127.0.0.1:9464", offsetof(struct prom_cfg, listen),
     "Address of the scrape endpoint (shared with /healthz and /readyz when it is the "
     "agent's own address).",
     0, 0, NULL, NULL, NULL},
    {"path", OTUS_CFG_STRING, "/metrics", offsetof(struct prom_cfg, path),
     "HTTP path of the scrape endpoint.", 0, 0, NULL, NULL, NULL},
    {"series_ttl", OTUS_CFG_DURATION, "5m", offsetof(struct prom_cfg, series_ttl_ms),
     "A series not updated for this long disappears from the endpoint.", 1000, 31 * 86400000LL,
     NULL, NULL, NULL},
    {"max_series", OTUS_CFG_INT, "200000", offsetof(struct prom_cfg, max_series),
     "Series kept at most; beyond, new series are refused (counted in "
     "otus_prometheus_series_refused_total) and existing ones keep updating.",
     1, 100000000, NULL, NULL, NULL},
    {"max_bytes", OTUS_CFG_SIZE, "1GiB", offsetof(struct prom_cfg, max_bytes),
     "Memory of the series store; new series are refused while it holds more.", 1 << 20, 1LL << 40,
     NULL, NULL, NULL},
    {"max_label_bytes", OTUS_CFG_SIZE, "4KiB", offsetof(struct prom_cfg, max_label_bytes),
     "Longest label text of one series (and of target_info); longer points are dropped.", 256,
     1 << 20, NULL, NULL, NULL},
    {"max_buckets", OTUS_CFG_INT, "160", offsetof(struct prom_cfg, max_buckets),
     "Explicit bounds per histogram point (more: dropped) and exponential buckets per sign "
     "(more: the histogram is downscaled).",
     1, 10000, NULL, NULL, NULL},
    {"max_scrape_bytes", OTUS_CFG_SIZE, "512MiB", offsetof(struct prom_cfg, max_scrape_bytes),
     "Largest scrape body; a bigger exposition is answered with 500.", 1 << 20, 1LL << 34, NULL,
     NULL, NULL},
    {"resource_to_telemetry", OTUS_CFG_BOOL, "false",
     offsetof(struct prom_cfg, resource_to_telemetry),
     "Copy every resource attribute onto every series as a label (they are always on "
     "target_info).",
     0, 0, NULL, NULL, NULL},
    {"add_scope_labels", OTUS_CFG_BOOL, "true", offsetof(struct prom_cfg, add_scope_labels),
     "Label series with otel_scope_name and otel_scope_version.", 0, 0, NULL, NULL, NULL},
    {"gzip", OTUS_CFG_BOOL, "true", offsetof(struct prom_cfg, gzip),
     "Compress the answer when the scraper sends Accept-Encoding: gzip.", 0, 0, NULL, NULL, NULL},
    {"native_histograms", OTUS_CFG_BOOL, "true", offsetof(struct prom_cfg, native_histograms),
     "When the scraper asks for the protobuf format (Prometheus with "
     "--enable-feature=native-histograms does), expose exponential histograms as native "
     "histograms; false: with classic buckets, as in the text formats.",
     0, 0, NULL, NULL, NULL},
    {"classic_buckets_for_native", OTUS_CFG_BOOL, "false",
     offsetof(struct prom_cfg, classic_buckets_for_native),
     "Give native histograms their classic buckets (le) as well, for queries and dashboards "
     "written for classic histograms.",
     0, 0, NULL, NULL, NULL},
    {"keep_scrape_buffer", OTUS_CFG_BOOL, "true", offsetof(struct prom_cfg, keep_scrape_buffer),
     "Keep the memory of the last scrape body for the next scrape (faster scrapes; the "
     "memory stays held between scrapes) instead of freeing it after every answer.",
     0, 0, NULL, NULL, NULL},
    OTUS_CFG_END,
};

static int prom_check(const void *cfgp, struct otus_cfg_err *err)
{
    const struct prom_cfg *c = cfgp;
    struct sockaddr_storage ss;
    if (otus_addr_parse(c->listen, &ss) != 0) {
        snprintf(err->msg, sizeof(err->msg), "listen: not an address: %s", c->listen);
        return OTUS_ERR_CONFIG;
    }
    if (c->path[0] != '/') {
        snprintf(err->msg, sizeof(err->msg), "path: must start with '/': %s", c->path);
        return OTUS_ERR_CONFIG;
    }
    return 0;
}

/* ---- the exporter --------------------------------------------------------------------- */

/* Scrapes whose gzip may run on the thread pool at once; others are sent plain. */
#define MAX_GZIP_JOBS 2

/* The agent's own metrics as text, before their protobuf form: at most this much. */
#define MAX_SELF_TEXT (16u << 20)

/* The kept scrape buffer is freed after this many scrapes in a row that used less than
 * a quarter of it. */
#define SHRINK_AFTER 4

/*
 * The scrape buffer kept between scrapes. Reference-counted: one reference for the
 * exporter while it lives, one while the buffer is lent out (to the HTTP server or a
 * gzip job), so that whichever ends last frees it.
 */
struct scrape_pool {
    struct otus_buf buf; /* empty (data NULL) when freed, never used, or lent */
    size_t bytes;        /* its size when it last came back (it is lent during a scrape) */
    unsigned refs;
    bool lent;      /* buf is out with a scrape */
    unsigned small; /* scrapes in a row that used less than a quarter of buf */
};

struct prom_exporter {
    const struct prom_cfg *cfg;
    uv_loop_t *loop;
    char *name;
    struct otus_self_metrics *metrics;
    int (*render_self)(void *agent, int openmetrics, struct otus_buf *out);
    void *agent;
    struct prom_store *store;
    struct otus_http_server *server;
    uv_timer_t expire_timer;
    size_t last_size;          /* of the last render, to reserve the next one at once */
    struct scrape_pool *pool;  /* NULL when keep_scrape_buffer is off */
    struct otus_buf self_text; /* the agent's own metrics as text, for protobuf scrapes */
    unsigned gzip_jobs;
    int closing;
    void (*closed)(void *arg);
    void *closed_arg;
    /* self-metrics series, owned by the registry */
    struct otus_metric_series *m_series, *m_bytes, *m_refused, *m_expired, *m_points, *m_scrapes,
        *m_render, *m_buffer;
    struct otus_metric_series *m_dropped[PROM_DROP_COUNT];
};

struct scrape_job {
    uv_work_t work;
    struct prom_exporter *px;
    struct otus_http_request *req;
    const char *content_type;
    struct otus_buf body;
    bool pooled; /* body is the pool's buffer */
    struct otus_buf gz;
    int rc;
};

static const char *const drop_reasons[PROM_DROP_COUNT] = {
    [PROM_DROP_TYPE_CONFLICT] = "type_conflict", [PROM_DROP_INVALID] = "invalid",
    [PROM_DROP_OUT_OF_ORDER] = "out_of_order",   [PROM_DROP_TOO_LARGE] = "too_large",
    [PROM_DROP_SERIES_LIMIT] = "series_limit",
};

static void collect(void *ctx)
{
    struct prom_exporter *px = ctx;
    const struct prom_stats *st = prom_store_stats(px->store);
    px->m_series->value = (double)prom_store_series(px->store);
    px->m_bytes->value = (double)prom_store_bytes(px->store);
    px->m_refused->value = (double)st->series_refused;
    px->m_expired->value = (double)st->series_expired;
    px->m_points->value = (double)st->points;
    px->m_buffer->value = px->pool ? (double)px->pool->bytes : 0;
    for (int i = 0; i < PROM_DROP_COUNT; i++)
        px->m_dropped[i]->value = (double)st->dropped[i];
}

static struct otus_metric_series *one(struct otus_self_metrics *m, const char *name,
                                      const char *help, enum otus_metric_type type,
                                      const char *exporter)
{
    static const char *const labels[] = {"exporter"};
    struct otus_metric_family *f = otus_self_metrics_family(m, name, help, type, labels, 1);
    const char *values[] = {exporter};
    return f ? otus_self_metrics_series(f, values) : NULL;
}

static int metrics_register(struct prom_exporter *px)
{
    struct otus_self_metrics *m = px->metrics;
    const char *n = px->name;
    px->m_series = one(m, "otus_prometheus_series", "Series held by the Prometheus exporter.",
                       OTUS_METRIC_GAUGE, n);
    px->m_bytes =
        one(m, "otus_prometheus_store_bytes",
            "Memory held by the Prometheus exporter's series store.", OTUS_METRIC_GAUGE, n);
    px->m_refused = one(m, "otus_prometheus_series_refused_total",
                        "New series refused because max_series or max_bytes was reached.",
                        OTUS_METRIC_COUNTER, n);
    px->m_expired =
        one(m, "otus_prometheus_series_expired_total",
            "Series removed after series_ttl without an update.", OTUS_METRIC_COUNTER, n);
    px->m_points = one(m, "otus_prometheus_points_total",
                       "Metric data points merged into the Prometheus exporter's store.",
                       OTUS_METRIC_COUNTER, n);
    px->m_scrapes =
        one(m, "otus_prometheus_scrapes_total", "Scrapes answered.", OTUS_METRIC_COUNTER, n);
    px->m_render =
        one(m, "otus_prometheus_scrape_render_seconds",
            "Time the last scrape took to render, on the agent's loop.", OTUS_METRIC_GAUGE, n);
    px->m_buffer = one(m, "otus_prometheus_scrape_buffer_bytes",
                       "Memory of the scrape buffer kept between scrapes.", OTUS_METRIC_GAUGE, n);
    static const char *const dl[] = {"exporter", "reason"};
    struct otus_metric_family *df = otus_self_metrics_family(
        m, "otus_prometheus_points_dropped_total",
        "Metric data points the Prometheus exporter did not take, by reason.", OTUS_METRIC_COUNTER,
        dl, 2);
    if (!df)
        return OTUS_ERR_NOMEM;
    for (int i = 0; i < PROM_DROP_COUNT; i++) {
        const char *values[] = {n, drop_reasons[i]};
        px->m_dropped[i] = otus_self_metrics_series(df, values);
        if (!px->m_dropped[i])
            return OTUS_ERR_NOMEM;
    }
    if (!px->m_series || !px->m_bytes || !px->m_refused || !px->m_expired || !px->m_points ||
        !px->m_scrapes || !px->m_render || !px->m_buffer)
        return OTUS_ERR_NOMEM;
    return otus_self_metrics_on_collect(m, collect, px);
}

static void metrics_unregister(struct prom_exporter *px)
{
    if (!px->metrics)
        return;
    otus_self_metrics_off_collect(px->metrics, collect, px);
    struct otus_metric_series **all[] = {&px->m_series,  &px->m_bytes,  &px->m_refused,
                                         &px->m_expired, &px->m_points, &px->m_scrapes,
                                         &px->m_render,  &px->m_buffer};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        otus_self_metrics_series_remove(*all[i]);
        *all[i] = NULL;
    }
    for (int i = 0; i < PROM_DROP_COUNT; i++) {
        otus_self_metrics_series_remove(px->m_dropped[i]);
        px->m_dropped[i] = NULL;
    }
}

static struct prom_store *store_new(const struct prom_cfg *c)
{
    struct prom_store_cfg sc = {
        .ttl_ms = c->series_ttl_ms,
        .max_series = (size_t)c->max_series,
        .max_bytes = (size_t)c->max_bytes,
        .max_label_bytes = (size_t)c->max_label_bytes,
        .max_buckets = (uint32_t)c->max_buckets,
        .resource_to_telemetry = c->resource_to_telemetry,
        .scope_labels = c->add_scope_labels,
    };
    return prom_store_create(&sc);
}

/* ---- content negotiation -------------------------------------------------------------- */

/* The parameters of one media range that negotiation looks at, as NUL-terminated
 * copies ("" when absent; longer values are cut, and then match nothing). */
struct media_params {
    double q;
    char version[16];
    char proto[48];
    char encoding[16];
};

static void param_copy(char *dst, size_t cap, const char *v, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Reads one element's parameters ("q=0.5; version=1.0.0", up to end) into *mp. */
static void media_params(const char *p, const char *end, struct media_params *mp)
{
    memset(mp, 0, sizeof(*mp));
    mp->q = 1;
    while (p < end) {
        size_t n = strcspn(p, ";,");
        const char *pe = p + n < end ? p + n : end;
        while (p < pe && (*p == ' ' || *p == '\t'))
            p++;
        size_t len = pe > p ? (size_t)(pe - p) : 0;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            mp->q = strtod(p + 2, NULL);
        else if (len > 8 && strncasecmp(p, "version=", 8) == 0)
            param_copy(mp->version, sizeof(mp->version), p + 8, len - 8);
        else if (len > 6 && strncasecmp(p, "proto=", 6) == 0)
            param_copy(mp->proto, sizeof(mp->proto), p + 6, len - 6);
        else if (len > 9 && strncasecmp(p, "encoding=", 9) == 0)
            param_copy(mp->encoding, sizeof(mp->encoding), p + 9, len - 9);
        p = pe + 1;
    }
}

/* One element of a comma-separated header: its token (type/subtype, coding) and its
 * parameters. Advances *pp past it; 0 at the end. */
struct hdr_item {
    const char *tok;
    size_t tok_len;
    const char *params; /* after the first ';' (or the element's end) */
    const char *end;
};

static int next_item(const char **pp, struct hdr_item *it)
{
    const char *p = *pp;
    if (!p || !*p)
        return 0;
    size_t len = strcspn(p, ",");
    const char *end = p + len;
    *pp = *end ? end + 1 : end;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t tl = strcspn(p, ";,");
    it->tok = p;
    it->params = p[tl] == ';' ? p + tl + 1 : p + tl;
    while (tl && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
        tl--;
    it->tok_len = tl;
    it->end = end;
    return 1;
}

static int tok_is(const struct hdr_item *it, const char *w)
{
    size_t n = strlen(w);
    return it->tok_len == n && strncasecmp(it->tok, w, n) == 0;
}

/*
 * The format the Accept header prefers: protobuf, OpenMetrics or text 0.0.4, preferring
 * them in that order when their q values tie. Prometheus sends
 * "application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5", and
 * with native histograms enabled "application/vnd.google.protobuf;
 * proto=io.prometheus.client.MetricFamily;encoding=delimited," in front of it.
 */
enum prom_format prom_negotiate(const char *accept)
{
    double pb = 0, om = 0, text = 0;
    struct hdr_item it;
    for (const char *p = accept; next_item(&p, &it);) {
        struct media_params mp;
        media_params(it.params, it.end, &mp);
        if (tok_is(&it, "application/vnd.google.protobuf")) {
            if (strcmp(mp.proto, "io.prometheus.client.MetricFamily") == 0 &&
                strcmp(mp.encoding, "delimited") == 0 && mp.q > pb)
                pb = mp.q;
        } else if (tok_is(&it, "application/openmetrics-text")) {
            const char *v = mp.version;
            if ((!v[0] || strcmp(v, "1.0.0") == 0 || strcmp(v, "0.0.1") == 0) && mp.q > om)
                om = mp.q;
        } else if (tok_is(&it, "text/plain") || tok_is(&it, "text/*") || tok_is(&it, "*/*")) {
            if (mp.q > text)
                text = mp.q;
        }
    }
    if (pb > 0 && pb >= om && pb >= text)
        return PROM_FMT_PROTOBUF;
    return om > 0 && om >= text ? PROM_FMT_OPENMETRICS : PROM_FMT_TEXT;
}

/* 1 when Accept-Encoding allows gzip (a q of 0 refuses it). */
int prom_accepts_gzip(const char *accept_encoding)
{
    struct hdr_item it;
    for (const char *p = accept_encoding; next_item(&p, &it);) {
        struct media_params mp;
        media_params(it.params, it.end, &mp);
        if ((tok_is(&it, "gzip") || tok_is(&it, "*")) && mp.q > 0)
            return 1;
    }
    return 0;
}

/* ---- scrape ----------------------------------------------------------------------------- */

static void finish_close(struct prom_exporter *px);

static void pool_unref(struct scrape_pool *p)
{
    assert(p->refs > 0);
    if (--p->refs > 0)
        return;
    otus_buf_free(&p->buf);
    free(p);
}

/* The buffer for a scrape body, emptied and limited to max_scrape_bytes: the kept one
 * (returns true; it must come back through scrape_buf_back), or a fresh one when it is
 * out with another scrape or none is kept. */
static bool scrape_buf_take(struct prom_exporter *px, struct otus_buf *out)
{
    struct scrape_pool *p = px->pool;
    if (!p || p->lent) {
        otus_buf_init(out, px->cfg->max_scrape_bytes);
        return false;
    }
    p->lent = true;
    p->refs++;
    *out = p->buf;
    otus_buf_init(&p->buf, 0);
    out->len = 0;
    out->max = px->cfg->max_scrape_bytes;
    return true;
}

/* The kept buffer comes back (from the HTTP server once written, or from the scrape
 * itself): kept for the next scrape, unless several scrapes in a row used less than a
 * quarter of it; freed with the pool if the exporter is gone. */
static void scrape_buf_back(struct otus_buf *body, void *arg)
{
    struct scrape_pool *p = arg;
    assert(p->lent && !p->buf.data);
    p->lent = false;
    p->small = body->len < body->cap / 4 ? p->small + 1 : 0;
    if (p->small >= SHRINK_AFTER) {
        otus_buf_free(body);
        p->small = 0;
    }
    p->buf = *body;
    p->bytes = p->buf.cap;
    pool_unref(p);
}

/* Answers with body (emptied): lent when it is the kept buffer, given away otherwise. */
static void respond_body(struct prom_exporter *px, struct otus_http_request *req, const char *ctype,
                         struct otus_buf *body, bool pooled, const char *extra_headers)
{
    if (pooled)
        otus_http_respond_buf_lend(req, 200, ctype, body, extra_headers, scrape_buf_back, px->pool);
    else
        otus_http_respond_buf(req, 200, ctype, body, extra_headers);
}

static void gzip_work(uv_work_t *w)
{
    struct scrape_job *j = w->data;
    j->rc = otus_gzip_compress(j->body.data, j->body.len, 1, &j->gz);
}

static void gzip_done(uv_work_t *w, int status)
{
    struct scrape_job *j = w->data;
    struct prom_exporter *px = j->px;
    if (status == 0 && j->rc == 0) {
        otus_http_respond_buf(j->req, 200, j->content_type, &j->gz,
                              "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
        if (j->pooled)
            scrape_buf_back(&j->body, px->pool);
        else
            otus_buf_free(&j->body);
    } else {
        respond_body(px, j->req, j->content_type, &j->body, j->pooled, "Vary: Accept-Encoding\r\n");
    }
    otus_buf_free(&j->gz);
    free(j);
    px->gzip_jobs--;
    if (px->closing == 2 && px->gzip_jobs == 0)
        finish_close(px);
}

int prom_exporter_render(struct prom_exporter *px, enum prom_format fmt, struct otus_buf *out)
{
    if (fmt == PROM_FMT_PROTOBUF) {
        struct prom_pb_opts o = {
            .native = px->cfg->native_histograms,
            .classic_for_native = px->cfg->classic_buckets_for_native,
        };
        int rc = prom_pb_render(px->store, &o, out);
        if (!rc && px->render_self) {
            otus_buf_reset(&px->self_text);
            rc = px->render_self(px->agent, 0, &px->self_text);
            if (!rc)
                rc = prom_pb_from_text(px->self_text.data, px->self_text.len, out);
        }
        return rc;
    }
    int rc = prom_expo_render(px->store, fmt, out);
    if (!rc && px->render_self)
        rc = px->render_self(px->agent, fmt == PROM_FMT_OPENMETRICS, out);
    if (!rc && fmt == PROM_FMT_OPENMETRICS)
        rc = otus_buf_append_str(out, "# EOF\n");
    return rc;
}

static void handle_metrics(struct otus_http_request *req, void *ctx)
{
    struct prom_exporter *px = ctx;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        otus_http_respond(req, 405, "text/plain; charset=utf-8", "method not allowed\n", 19,
                          "Allow: GET, HEAD\r\n");
        return;
    }
    enum prom_format fmt = prom_negotiate(otus_http_request_header(req, "accept"));
    const char *ctype = fmt == PROM_FMT_PROTOBUF      ? PROM_CT_PROTOBUF
                        : fmt == PROM_FMT_OPENMETRICS ? PROM_CT_OPENMETRICS
                                                      : PROM_CT_TEXT;
    struct otus_buf body;
    bool pooled = scrape_buf_take(px, &body);
    uint64_t t0 = otus_clock_mono_ns();
    int rc = otus_buf_reserve(&body, px->last_size + px->last_size / 8 + 4096);
    if (!rc) {
        prom_expo_hugepages(&body);
        rc = prom_exporter_render(px, fmt, &body);
    }
    if (px->metrics) {
        px->m_render->value = (double)(otus_clock_mono_ns() - t0) / 1e9;
        px->m_scrapes->value++;
    }
    if (rc) {
        /* Not kept: a failed render may have grown it to max_scrape_bytes. */
        otus_buf_free(&body);
        if (pooled)
            scrape_buf_back(&body, px->pool);
        otus_log(OTUS_LOG_ERROR, "prometheus", "scrape failed: %s", otus_strerror(rc));
        static const char msg[] = "exposition over max_scrape_bytes or out of memory\n";
        otus_http_respond(req, 500, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, NULL);
        return;
    }
    px->last_size = body.len;
    int gz = px->cfg->gzip && prom_accepts_gzip(otus_http_request_header(req, "accept-encoding"));
    if (!gz || px->gzip_jobs >= MAX_GZIP_JOBS || px->closing) {
        respond_body(px, req, ctype, &body, pooled,
                     px->cfg->gzip ? "Vary: Accept-Encoding\r\n" : NULL);
        return;
    }
    struct scrape_job *j = calloc(1, sizeof(*j));
    if (!j) {
        respond_body(px, req, ctype, &body, pooled, "Vary: Accept-Encoding\r\n");
        return;
    }
    j->px = px;
    j->req = req;
    j->content_type = ctype;
    j->body = body;
    j->pooled = pooled;
    otus_buf_init(&j->gz, px->cfg->max_scrape_bytes);
    j->work.data = j;
    if (uv_queue_work(px->loop, &j->work, gzip_work, gzip_done) != 0) {
        respond_body(px, req, ctype, &j->body, pooled, "Vary: Accept-Encoding\r\n");
        free(j);
        return;
    }
    px->gzip_jobs++;
}

static void expire_tick(uv_timer_t *t)
{
    struct prom_exporter *px = t->data;
    prom_store_expire(px->store, uv_now(px->loop));
}

/* ---- ops ------------------------------------------------------------------------------------ */

static void px_free(struct prom_exporter *px)
{
    metrics_unregister(px);
    if (px->pool)
        pool_unref(px->pool); /* a write still in flight frees it when it ends */
    otus_buf_free(&px->self_text);
    prom_store_destroy(px->store);
    free(px->name);
    free(px);
}

static int prom_create(const struct otus_exporter_env *env, const void *cfgp, void **self,
                       const char **detail)
{
    const struct prom_cfg *c = cfgp;
    *self = NULL;
    struct prom_exporter *px = calloc(1, sizeof(*px));
    if (!px)
        return OTUS_ERR_NOMEM;
    px->cfg = c;
    px->loop = env->loop;
    px->metrics = env->metrics;
    px->render_self = env->render_self;
    px->agent = env->agent;
    px->name = strdup(env->name ? env->name : "prometheus");
    px->store = store_new(c);
    otus_buf_init(&px->self_text, MAX_SELF_TEXT);
    if (c->keep_scrape_buffer) {
        px->pool = calloc(1, sizeof(*px->pool));
        if (px->pool) {
            px->pool->refs = 1;
            otus_buf_init(&px->pool->buf, 0);
        }
    }
    int rc = px->name && px->store && (px->pool || !c->keep_scrape_buffer) ? 0 : OTUS_ERR_NOMEM;
    if (!rc && px->metrics)
        rc = metrics_register(px);
    if (!rc && env->listen)
        rc = env->listen(env->agent, c->listen, &px->server, detail);
    if (!rc && px->server)
        rc = otus_http_server_route(px->server, c->path, 0, handle_metrics, px);
    if (rc) {
        px_free(px);
        return rc;
    }
    uv_timer_init(px->loop, &px->expire_timer);
    px->expire_timer.data = px;
    uint64_t every = c->series_ttl_ms / 10;
    every = every < 100 ? 100 : every > 10000 ? 10000 : every;
    uv_timer_start(&px->expire_timer, expire_tick, every, every);
    uv_unref((uv_handle_t *)&px->expire_timer);
    otus_log(OTUS_LOG_INFO, "prometheus", "%s: scrape endpoint on %s%s", px->name, c->listen,
             c->path);
    *self = px;
    return 0;
}

static void prom_ingest(void *self, struct otus_batch *b)
{
    struct prom_exporter *px = self;
    if (b->signal != OTUS_SIGNAL_METRICS || !b->req.metrics)
        return;
    prom_store_ingest(px->store, b->req.metrics, uv_now(px->loop));
}

static int prom_encode(void *self, struct otus_batch *const *batches, size_t n,
                       struct otus_buf *out)
{
    struct prom_exporter *px = self;
    struct prom_store *s = store_new(px->cfg);
    if (!s)
        return OTUS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (batches[i]->signal == OTUS_SIGNAL_METRICS)
            prom_store_ingest(s, batches[i]->req.metrics, 0);
    int rc = prom_expo_render(s, PROM_FMT_TEXT, out);
    prom_store_destroy(s);
    return rc;
}

static void finish_close(struct prom_exporter *px)
{
    void (*closed)(void *) = px->closed;
    void *arg = px->closed_arg;
    px_free(px);
    if (closed)
        closed(arg);
}

static void timer_closed(uv_handle_t *h)
{
    struct prom_exporter *px = h->data;
    px->closing = 2;
    if (px->gzip_jobs == 0)
        finish_close(px);
}

static void prom_destroy(void *self, void (*closed)(void *arg), void *arg)
{
    struct prom_exporter *px = self;
    if (!px) {
        if (closed)
            closed(arg);
        return;
    }
    px->closing = 1;
    px->closed = closed;
    px->closed_arg = arg;
    if (px->server)
        otus_http_server_unroute(px->server, px->cfg->path, px);
    uv_close((uv_handle_t *)&px->expire_timer, timer_closed);
}

const struct otus_exporter_ops otus_prometheus_exporter = {
    .type = "prometheus",
    .signals = OTUS_SIGNAL_BIT(OTUS_SIGNAL_METRICS),
    .config = prom_cfg_table,
    .config_size = sizeof(struct prom_cfg),
    .check = prom_check,
    .create = prom_create,
    .encode = prom_encode,
    .send = NULL,
    .ingest = prom_ingest,
    .drain = NULL,
    .destroy = prom_destroy,
};
