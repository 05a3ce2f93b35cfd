/*
 * test_prom_expo.c: the Prometheus exporter's exposition and endpoint. A request with
 * every kind of series renders exactly as the golden files in tests/data/prometheus/
 * say (text 0.0.4 and OpenMetrics 1.0 with exemplars); Accept and Accept-Encoding are
 * negotiated; and the exporter, created through its ops on a real loop with its own
 * HTTP server, answers GET /metrics with its series and the agent's own metrics,
 * gzipped on request; a scrape that arrives while the kept scrape buffer is still being
 * written to a slow scraper gets its own buffer and neither answer is disturbed, nor
 * is the slow one when the exporter goes away before its answer is written.
 */
#include "otus_test.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <otus.h>

#include "common/gzip.h"
#include "exporters/prometheus/prometheus.h"
#include "test_prom_fixture.h"

#define SEC 1000000000ull

/* The request behind the golden files. */
static void every_kind(struct fx *f)
{
    fx_begin(f);
    fx_resource(f, "service.name", "checkout", "service.namespace", "shop", "service.instance.id",
                "pod-1", "deployment.environment", "prod", NULL);
    fx_scope(f, "otus", "0.1.0");
    FxMetric *m = fx_metric(f, "http.server.requests", "{request}", "Requests \"served\"\n\\");
    FxNumberPoint *p = fx_sum(f, m, 1, FX_CUMULATIVE, 42, 1 * SEC, 2 * SEC, "http.method", "GET",
                              "path", "/a\"b\\c\nd", NULL);
    FX_PUSH(f, p->exemplars, p->n_exemplars, fx_exemplar(f, 1, 0xab, 0xcd, 1500000000));
    m = fx_metric(f, "http.server.duration", "ms", "Duration");
    double b[] = {5, 10, 25};
    uint64_t c[] = {1, 2, 3, 4};
    FxHistPoint *h = fx_hist(f, m, FX_DELTA, b, 3, c, 123.5, 1 * SEC, 2 * SEC, NULL);
    FX_PUSH(f, h->exemplars, h->n_exemplars, fx_exemplar(f, 7, 0x11, 0x22, 1700000000));
    fx_gauge(f, fx_metric(f, "queue.depth", "{item}", "Queue depth"), 3.25, 2 * SEC, NULL);
    fx_sum(f, fx_metric(f, "inflight", "", "In flight"), 0, FX_CUMULATIVE, -2, SEC, 2 * SEC, NULL);
    uint64_t pos[] = {1, 2, 3};
    fx_exp(f, fx_metric(f, "rpc.size", "By", "Sizes"), FX_CUMULATIVE, 1, 0, pos, 3, 1, 100, SEC,
           2 * SEC, NULL);
    fx_summary(f, fx_metric(f, "gc.pause", "s", "GC"), (double[]){0.5, 0.99}, (double[]){0.01, 0.2},
               2, 10, 0.5, SEC, 2 * SEC, NULL);
}

static struct prom_store_cfg store_cfg(void)
{
    struct prom_store_cfg c = {
        .ttl_ms = 60000,
        .max_series = 1000,
        .max_bytes = 64u << 20,
        .max_label_bytes = 4096,
        .max_buckets = 160,
        .scope_labels = 1,
    };
    return c;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    static char buf[1 << 16];
    *n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return buf;
}

static void check_golden(enum prom_format fmt, const char *path)
{
    struct prom_store_cfg c = store_cfg();
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    every_kind(&f);
    prom_store_ingest(s, f.req, 1);
    fx_end(&f);
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(prom_expo_render(s, fmt, &out), 0);
    if (fmt == PROM_FMT_OPENMETRICS)
        assert_int_equal(otus_buf_append_str(&out, "# EOF\n"), 0);
    size_t n;
    const char *want = slurp(path, &n);
    if (out.len != n || memcmp(out.data, want, n) != 0) {
        FILE *fp = fopen("build/prom_golden_got.txt", "wb");
        if (fp) {
            fwrite(out.data, 1, out.len, fp);
            fclose(fp);
        }
        fail_msg("%s differs (got in build/prom_golden_got.txt)", path);
    }
    otus_buf_free(&out);
    prom_store_destroy(s);
}

static void golden_text(void **state)
{
    (void)state;
    check_golden(PROM_FMT_TEXT, "tests/data/prometheus/every_kind.txt");
}

static void golden_openmetrics(void **state)
{
    (void)state;
    check_golden(PROM_FMT_OPENMETRICS, "tests/data/prometheus/every_kind.om.txt");
}

static void negotiation(void **state)
{
    (void)state;
    assert_int_equal(prom_negotiate(NULL), PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("*/*"), PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("text/plain;version=0.0.4"), PROM_FMT_TEXT);
    /* What Prometheus 2.42 sends. */
    assert_int_equal(prom_negotiate("application/openmetrics-text;version=1.0.0,"
                                    "application/openmetrics-text;version=0.0.1;q=0.75,"
                                    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                     PROM_FMT_OPENMETRICS);
    assert_int_equal(prom_negotiate("application/openmetrics-text"), PROM_FMT_OPENMETRICS);
    assert_int_equal(prom_negotiate("text/plain, application/openmetrics-text; q=0.2"),
                     PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("application/openmetrics-text;version=2.0.0"), PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("application/openmetrics-text;q=0"), PROM_FMT_TEXT);
    /* What Prometheus 2.42 sends with --enable-feature=native-histograms. */
    assert_int_equal(prom_negotiate("application/vnd.google.protobuf;"
                                    "proto=io.prometheus.client.MetricFamily;encoding=delimited,"
                                    "application/openmetrics-text;version=1.0.0;q=0.8,"
                                    "application/openmetrics-text;version=0.0.1;q=0.75,"
                                    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                     PROM_FMT_PROTOBUF);
    assert_int_equal(prom_negotiate("application/vnd.google.protobuf; "
                                    "proto=io.prometheus.client.MetricFamily; encoding=delimited"),
                     PROM_FMT_PROTOBUF);
    /* Other encodings and messages are not offered; q values decide. */
    assert_int_equal(prom_negotiate("application/vnd.google.protobuf;"
                                    "proto=io.prometheus.client.MetricFamily;encoding=text"),
                     PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("application/vnd.google.protobuf;proto=other.Message;"
                                    "encoding=delimited,text/plain;q=0.5"),
                     PROM_FMT_TEXT);
    assert_int_equal(prom_negotiate("application/vnd.google.protobuf;"
                                    "proto=io.prometheus.client.MetricFamily;encoding=delimited;"
                                    "q=0.5,application/openmetrics-text"),
                     PROM_FMT_OPENMETRICS);
    assert_int_equal(
        prom_negotiate("application/vnd.google.protobuf;"
                       "proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0"),
        PROM_FMT_TEXT);
    assert_int_equal(prom_accepts_gzip(NULL), 0);
    assert_int_equal(prom_accepts_gzip("gzip"), 1);
    assert_int_equal(prom_accepts_gzip("deflate, gzip;q=0.5"), 1);
    assert_int_equal(prom_accepts_gzip("gzip;q=0, identity"), 0);
    assert_int_equal(prom_accepts_gzip("br"), 0);
    assert_int_equal(prom_accepts_gzip("*"), 1);
}

/* ---- the endpoint, through the exporter's ops ----------------------------------------- */

struct env_ctx {
    uv_loop_t *loop;
    struct otus_http_server *srv;
};

static int test_listen(void *agent, const char *addr, struct otus_http_server **out,
                       const char **detail)
{
    struct env_ctx *e = agent;
    int rc = otus_http_server_create(e->loop, addr, &(struct otus_http_server_opts){.name = "t"},
                                     &e->srv, detail);
    *out = e->srv;
    return rc;
}

static int test_render_self(void *agent, int openmetrics, struct otus_buf *out)
{
    (void)agent;
    (void)openmetrics;
    return otus_buf_append_str(out, "# TYPE otus_up gauge\notus_up 1\n");
}

struct client {
    uv_loop_t *loop;
    int port;
    const char *req;
    struct otus_buf resp;
    int done;
};

/* A blocking HTTP exchange on a thread, while the loop serves. */
static void client_thread(void *arg)
{
    struct client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ssize_t w = write(fd, c->req, strlen(c->req));
        (void)w;
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            otus_buf_append(&c->resp, buf, (size_t)n);
    }
    close(fd);
    c->done = 1;
}

static void exchange(struct client *c)
{
    uv_thread_t t;
    c->done = 0;
    otus_buf_reset(&c->resp);
    uv_thread_create(&t, client_thread, c);
    while (!c->done)
        uv_run(c->loop, UV_RUN_ONCE);
    uv_thread_join(&t);
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

/* An exporter created through its ops, with its own HTTP server on a loop. */
struct ep {
    uv_loop_t loop;
    struct env_ctx ectx;
    struct otus_self_metrics *sm;
    const struct otus_exporter_ops *ops;
    void *cfg;
    void *self;
};

static void ep_start(struct ep *e, const char *yaml)
{
    uv_loop_init(&e->loop);
    e->ectx = (struct env_ctx){&e->loop, NULL};
    e->sm = otus_self_metrics_create();
    struct otus_exporter_env env = {
        .loop = &e->loop,
        .name = "prometheus",
        .metrics = e->sm,
        .listen = test_listen,
        .render_self = test_render_self,
        .agent = &e->ectx,
    };
    e->ops = otus_exporter_find("prometheus");
    assert_non_null(e->ops);
    assert_null(e->ops->send);
    e->cfg = calloc(1, e->ops->config_size);
    struct otus_cfg_err err;
    assert_int_equal(otus_cfg_defaults(e->ops->config, e->cfg, &err), 0);
    struct otus_cfg_doc doc;
    assert_int_equal(otus_cfg_doc_load_string(&doc, "t", yaml, &err), 0);
    assert_int_equal(otus_cfg_apply(&doc, otus_cfg_root(&doc), "exporters.prometheus",
                                    e->ops->config, e->cfg, &err),
                     0);
    otus_cfg_doc_free(&doc);
    assert_int_equal(e->ops->check(e->cfg, &err), 0);
    const char *detail = NULL;
    assert_int_equal(e->ops->create(&env, e->cfg, &e->self, &detail), 0);
}

/* Destroys the exporter (its HTTP server stays). */
static void ep_destroy(struct ep *e)
{
    int done = 0;
    e->ops->destroy(e->self, closed, &done);
    while (!done)
        uv_run(&e->loop, UV_RUN_ONCE);
    e->self = NULL;
}

static void ep_stop(struct ep *e)
{
    if (e->self)
        ep_destroy(e);
    otus_http_server_close(e->ectx.srv, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    otus_cfg_free(e->ops->config, e->cfg);
    free(e->cfg);
    otus_self_metrics_destroy(e->sm);
}

/* The value of one of the exporter's own series, from its registry. */
static double own_value(struct ep *e, const char *series)
{
    struct otus_buf own;
    otus_buf_init(&own, 0);
    assert_int_equal(otus_self_metrics_render(e->sm, 0, &own), 0);
    assert_int_equal(otus_buf_append_byte(&own, '\0'), 0);
    const char *p = strstr(own.data, series);
    if (!p)
        fail_msg("%s is not among the exporter's own metrics", series);
    double v = strtod(p + strlen(series) + 1, NULL);
    otus_buf_free(&own);
    return v;
}

static void endpoint(void **state)
{
    (void)state;
    struct ep e;
    ep_start(&e, "listen: 127.0.0.1:0\n");
    uv_loop_t *loop = &e.loop;
    struct otus_self_metrics *sm = e.sm;
    const struct otus_exporter_ops *ops = e.ops;
    void *self = e.self;
    struct env_ctx ectx = e.ectx;

    struct fx f;
    every_kind(&f);
    ops->ingest(self, f.b);
    /* encode() renders what a batch alone would give, without touching the store. */
    struct otus_buf enc;
    otus_buf_init(&enc, 0);
    assert_int_equal(ops->encode(self, &f.b, 1, &enc), 0);
    assert_non_null(memmem(enc.data, enc.len, "queue_depth{", 12));
    otus_buf_free(&enc);
    fx_end(&f);

    struct client c = {.loop = loop, .port = otus_http_server_port(ectx.srv)};
    otus_buf_init(&c.resp, 0);
    c.req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    exchange(&c);
    assert_non_null(memmem(c.resp.data, c.resp.len, "200 OK", 6));
    assert_non_null(memmem(c.resp.data, c.resp.len, PROM_CT_TEXT, strlen(PROM_CT_TEXT)));
    assert_non_null(memmem(c.resp.data, c.resp.len, "\r\n\r\n# HELP target_info", 21));
    assert_non_null(memmem(c.resp.data, c.resp.len, "otus_up 1\n", 10));

    c.req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Accept: application/openmetrics-text; version=1.0.0\r\n"
            "Accept-Encoding: gzip\r\n\r\n";
    exchange(&c);
    assert_non_null(memmem(c.resp.data, c.resp.len, "Content-Encoding: gzip", 22));
    char *body = (char *)memmem(c.resp.data, c.resp.len, "\r\n\r\n", 4) + 4;
    struct otus_buf plain;
    otus_buf_init(&plain, 0);
    assert_int_equal(
        otus_gzip_decompress(body, c.resp.len - (size_t)(body - c.resp.data), 1 << 20, &plain), 0);
    assert_non_null(memmem(plain.data, plain.len, "# TYPE target info\n", 19));
    assert_int_equal(memcmp(plain.data + plain.len - 16, "otus_up 1\n# EOF\n", 16), 0);
    otus_buf_free(&plain);

    /* Protobuf: the store's families, then the agent's own, read from their text. */
    c.req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
            "encoding=delimited\r\n\r\n";
    exchange(&c);
    assert_non_null(memmem(c.resp.data, c.resp.len, PROM_CT_PROTOBUF, strlen(PROM_CT_PROTOBUF)));
    body = (char *)memmem(c.resp.data, c.resp.len, "\r\n\r\n", 4) + 4;
    while ((unsigned char)*body & 0x80) /* the first family's length */
        body++;
    assert_memory_equal(body + 1, "\x0a\x0btarget_info", 13); /* MetricFamily.name */
    static const char own_family[] = "\x0a\x07otus_up\x18\x01\x22\x0b\x12\x09\x09";
    assert_non_null(memmem(c.resp.data, c.resp.len, own_family, sizeof(own_family) - 1));

    c.req = "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    exchange(&c);
    assert_non_null(memmem(c.resp.data, c.resp.len, "405", 3));
    otus_buf_free(&c.resp);

    /* The exporter's own counters are in the registry. */
    struct otus_buf own;
    otus_buf_init(&own, 0);
    assert_int_equal(otus_self_metrics_render(sm, 0, &own), 0);
    assert_non_null(
        memmem(own.data, own.len, "otus_prometheus_points_total{exporter=\"prometheus\"} 8", 52));
    assert_non_null(memmem(own.data, own.len,
                           "otus_prometheus_series_refused_total{exporter=\"prometheus\"} 0", 59));
    otus_buf_free(&own);
    /* The body's memory was kept for the next scrape. */
    assert_true(own_value(&e, "otus_prometheus_scrape_buffer_bytes{exporter=\"prometheus\"}") > 0);
    ep_stop(&e);
}

/* 40,000 gauges of some 250 bytes each (10 MB of text, more than the kernel buffers
 * for a scraper that does not read), all of value v. */
static void wide_store(struct ep *e, double v, uint64_t t)
{
    char pad[161];
    memset(pad, 'p', 160);
    pad[160] = '\0';
    for (int r = 0; r < 200; r++) {
        struct fx f;
        fx_begin(&f);
        fx_resource(&f, "service.name", "wide", "service.instance.id", "i-1", NULL);
        FxMetric *m = fx_metric(&f, "wide.gauge", "", "Wide");
        for (int i = 0; i < 200; i++) {
            char k[16];
            snprintf(k, sizeof(k), "%d", r * 200 + i);
            fx_gauge(&f, m, v, t, "k", k, "pad", pad, NULL);
        }
        e->ops->ingest(e->self, f.b);
        fx_end(&f);
    }
}

/* A scraper that reads the first bytes of the answer, then stalls until told to go on. */
struct slow_client {
    int port;
    atomic_int started, go, done;
    struct otus_buf resp;
};

static void slow_thread(void *arg)
{
    struct slow_client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        ssize_t w = write(fd, req, sizeof(req) - 1);
        (void)w;
        char buf[65536];
        ssize_t n = read(fd, buf, 4096);
        if (n > 0)
            otus_buf_append(&c->resp, buf, (size_t)n);
        atomic_store(&c->started, 1);
        while (!atomic_load(&c->go))
            usleep(1000);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            otus_buf_append(&c->resp, buf, (size_t)n);
    }
    close(fd);
    atomic_store(&c->done, 1);
}

/* The body of a response whose Content-Length it checks. */
static const char *checked_body(const struct otus_buf *resp, size_t *n)
{
    const char *p = memmem(resp->data, resp->len, "\r\n\r\n", 4);
    const char *cl = memmem(resp->data, resp->len, "Content-Length: ", 16);
    assert_non_null(p);
    assert_non_null(cl);
    *n = resp->len - (size_t)(p + 4 - resp->data);
    assert_int_equal(strtoull(cl + 16, NULL, 10), *n);
    return p + 4;
}

static void scrape_while_buffer_lent(void **state)
{
    (void)state;
    struct ep e;
    ep_start(&e, "listen: 127.0.0.1:0\n");
    wide_store(&e, 1, 2 * SEC);
    int port = otus_http_server_port(e.ectx.srv);
    struct slow_client slow = {.port = port};
    otus_buf_init(&slow.resp, 0);
    uv_thread_t t;
    uv_thread_create(&t, slow_thread, &slow);
    while (!atomic_load(&slow.started)) {
        uv_run(&e.loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    /* The first answer is being written from the kept buffer; the store changes and a
     * second scraper asks. */
    wide_store(&e, 2, 3 * SEC);
    struct client c = {.loop = &e.loop, .port = port};
    otus_buf_init(&c.resp, 0);
    c.req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    exchange(&c);
    double kept = own_value(&e, "otus_prometheus_scrape_buffer_bytes{exporter=\"prometheus\"}");
    /* The exporter goes away (a reload) while the kept buffer is still being written:
     * the buffer outlives it and is freed when the write is over. */
    ep_destroy(&e);
    atomic_store(&slow.go, 1);
    while (!atomic_load(&slow.done)) {
        uv_run(&e.loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    uv_thread_join(&t);
    static const char last[] = "k=\"39999\",pad=";
    size_t n1, n2;
    const char *b1 = checked_body(&slow.resp, &n1);
    const char *b2 = checked_body(&c.resp, &n2);
    assert_true(n1 > (8u << 20));
    const char *l1 = memmem(b1, n1, last, sizeof(last) - 1);
    const char *l2 = memmem(b2, n2, last, sizeof(last) - 1);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_memory_equal(strchr(l1, '}'), "} 1\n", 4);
    assert_memory_equal(strchr(l2, '}'), "} 2\n", 4);
    assert_null(memmem(b1, n1, "} 2\n", 4));
    assert_null(memmem(b2, n2, "} 1\n", 4));
    otus_buf_free(&slow.resp);
    otus_buf_free(&c.resp);
    /* The kept buffer was still out with the first scrape (none had come back yet), and
     * the second scrape's buffer was its own, freed after its answer. */
    assert_true(kept == 0);
    ep_stop(&e);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_text),
        cmocka_unit_test(golden_openmetrics),
        cmocka_unit_test(negotiation),
        cmocka_unit_test(endpoint),
        cmocka_unit_test(scrape_while_buffer_lent),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
