/*
 * bench_prom.c: the Prometheus exporter's store and renderer at scale. Builds 100,000
 * series (half counters, half histograms with 10 bounds, 100 services of 1,000 series
 * each, 6 labels per series), then measures: the render of one scrape in text 0.0.4
 * and OpenMetrics (into a buffer reserved from the previous scrape, as the endpoint
 * does, and into a fresh one), ingest throughput in data points per second (updates
 * of existing series, counters and histograms; and first points that create series),
 * and the store's memory per series. Prints medians of several runs, in CPU time of
 * the one thread (the machine is shared).
 *
 * Then whole scrapes: two exporters created through their ops, each with its HTTP
 * server on one loop and the same 100,000 series, one freeing its scrape buffer after
 * every answer and one keeping it; a scraper on another thread scrapes them in turn
 * over keep-alive connections. Per scrape: the loop thread's CPU time (user and system:
 * the render, the write into the socket, freeing) and its page faults, from request to
 * the last byte received, in text and in protobuf. `bench_prom scrape [text|protobuf]
 * [fresh|kept]` runs only this part (with only one exporter's figures printed), and
 * `bench_prom render text|openmetrics|protobuf [exponential]` one render (for
 * callgrind). The renders run in
 * protobuf too, and once more with the histograms exponential (native in protobuf, classic buckets
 * in text).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "exporters/prometheus/prom_expo.h"
#include "exporters/prometheus/prom_store.h"
#include "exporters/prometheus/prometheus.h"
#include "tests/unit/test_prom_fixture.h"

#define RUNS        7
#define SERVICES    100
#define PER_SERVICE 1000 /* series per service: 500 counters + 500 histograms */
#define NBOUNDS     10

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU time of this thread: the machine is shared, and what the issue asks is the cost
 * on one core, not the wall time while other work runs. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static const double bounds[NBOUNDS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

#define EXP_BUCKETS 24 /* populated range of the exponential histograms (scale 3) */

/*
 * One request per service: its 500 counters and 500 histograms, at round `round`
 * (values grow with it). kind: 0 both, 1 counters only, 2 histograms only, 3 counters
 * and exponential histograms (scale 3, 24 buckets with a few empty ones, as an
 * OpenTelemetry SDK's base2 exponential histogram of request times has).
 */
static void build(struct fx *f, int svc, int round, int kind)
{
    char name[32], inst[32];
    snprintf(name, sizeof(name), "service-%d", svc % 20);
    snprintf(inst, sizeof(inst), "pod-%d", svc);
    fx_resource(f, "service.name", name, "service.namespace", "shop", "service.instance.id", inst,
                "host.name", "node-1", NULL);
    fx_scope(f, "io.otus.http", "1.2.0");
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
    static const char *const codes[] = {"200", "201", "400", "404", "500"};
    FxMetric *cm = kind != 2 ? fx_metric(f, "http.server.requests", "{request}", "Requests") : NULL;
    FxMetric *hm =
        kind == 0 || kind == 2 ? fx_metric(f, "http.server.duration", "s", "Request time") : NULL;
    FxMetric *xm = kind == 3 ? fx_metric(f, "http.server.duration", "s", "Request time") : NULL;
    uint64_t now = 1700000000000000000ull + (uint64_t)round * 1000000000ull;
    for (int i = 0; i < PER_SERVICE / 2; i++) {
        char route[32];
        snprintf(route, sizeof(route), "/api/v1/items/%d", i / 25);
        const char *m = methods[i % 5], *c = codes[(i / 5) % 5];
        if (cm)
            fx_sum(f, cm, 1, FX_CUMULATIVE, 1000.0 * round + i, 1700000000000000000ull, now,
                   "http.request.method", m, "http.route", route, "http.response.status_code", c,
                   NULL);
        if (hm) {
            uint64_t counts[NBOUNDS + 1];
            for (int k = 0; k <= NBOUNDS; k++)
                counts[k] = (uint64_t)(round * 10 + k * 3 + i % 7);
            fx_hist(f, hm, FX_CUMULATIVE, bounds, NBOUNDS, counts, 12.345678901 * round + i * 0.37,
                    1700000000000000000ull, now, "http.request.method", m, "http.route", route,
                    "http.response.status_code", c, NULL);
        }
        if (xm) {
            uint64_t counts[EXP_BUCKETS];
            for (int k = 0; k < EXP_BUCKETS; k++)
                counts[k] = k % 5 == 4 ? 0 : (uint64_t)(round * 10 + k * 3 + i % 7);
            fx_exp(f, xm, FX_CUMULATIVE, 3, -40 + i % 8, counts, EXP_BUCKETS, (uint64_t)(i % 2),
                   12.345678901 * round + i * 0.37, 1700000000000000000ull, now,
                   "http.request.method", m, "http.route", route, "http.response.status_code", c,
                   NULL);
        }
    }
}

/* Requests for every service at one round. */
static void build_all(struct fx *reqs, int round, int kind)
{
    for (int s = 0; s < SERVICES; s++) {
        fx_begin(&reqs[s]);
        build(&reqs[s], s, round, kind);
    }
}

static void free_all(struct fx *reqs)
{
    for (int s = 0; s < SERVICES; s++)
        fx_end(&reqs[s]);
}

static double ingest_all(struct prom_store *st, struct fx *reqs, uint64_t now_ms)
{
    uint64_t t0 = cpu_ns();
    for (int s = 0; s < SERVICES; s++)
        prom_store_ingest(st, reqs[s].req, now_ms);
    return (double)(cpu_ns() - t0) / 1e9;
}

static struct prom_store *new_store(void)
{
    struct prom_store_cfg c = {
        .ttl_ms = 300000,
        .max_series = 200000,
        .max_bytes = 1ull << 30,
        .max_label_bytes = 4096,
        .max_buckets = 160,
        .scope_labels = 1,
    };
    return prom_store_create(&c);
}

static void bench_render(struct prom_store *st, enum prom_format fmt, const char *what)
{
    double warm[RUNS], cold[RUNS];
    size_t len = 0;
    struct otus_buf reuse;
    otus_buf_init(&reuse, 0);
    for (int r = 0; r < RUNS; r++) {
        /* The endpoint reserves the last scrape's size up front. */
        otus_buf_reset(&reuse);
        uint64_t t0 = cpu_ns();
        prom_expo_render(st, fmt, &reuse);
        warm[r] = (double)(cpu_ns() - t0) / 1e6;
        len = reuse.len;
        struct otus_buf fresh;
        otus_buf_init(&fresh, 0);
        t0 = cpu_ns();
        otus_buf_reserve(&fresh, len + len / 8);
        prom_expo_hugepages(&fresh);
        prom_expo_render(st, fmt, &fresh);
        cold[r] = (double)(cpu_ns() - t0) / 1e6;
        otus_buf_free(&fresh);
    }
    printf("render %-11s 100,000 series: %7.1f ms into a reused buffer, %7.1f ms into a new "
           "one (%.1f MB, %zu bytes/series)\n",
           what, median(warm, RUNS), median(cold, RUNS), (double)len / 1e6,
           len / prom_store_series(st));
    otus_buf_free(&reuse);
}

/* ---- whole scrapes through the endpoint ---------------------------------------------- */

#define SCRAPES 15 /* per mode; the first of each is left out of the medians */

/* A scraper on its own thread with one keep-alive connection per endpoint, scraping
 * them in turn when the loop thread asks. */
struct scraper {
    int n; /* endpoints */
    int ports[2];
    const char *accept;
    atomic_int want, got; /* scrapes asked for by the loop thread, and completed */
    uv_async_t wake;
    size_t body_len[2];
};

/* Reads one response with a Content-Length body into buf (reused); returns its body
 * length, 0 on error. */
static size_t read_response(int fd, struct otus_buf *buf)
{
    otus_buf_reset(buf);
    size_t head = 0, need = SIZE_MAX;
    while (buf->len < need) {
        if (otus_buf_reserve(buf, 1 << 20))
            return 0;
        ssize_t n = read(fd, buf->data + buf->len, buf->cap - buf->len);
        if (n <= 0)
            return 0;
        buf->len += (size_t)n;
        if (!head) {
            const char *e = memmem(buf->data, buf->len, "\r\n\r\n", 4);
            const char *cl = memmem(buf->data, buf->len, "Content-Length: ", 16);
            if (e && cl) {
                head = (size_t)(e + 4 - buf->data);
                need = head + strtoull(cl + 16, NULL, 10);
            }
        }
    }
    return need - head;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static void scraper_thread(void *arg)
{
    struct scraper *sc = arg;
    int fds[2];
    for (int k = 0; k < sc->n; k++)
        fds[k] = connect_to(sc->ports[k]);
    char req[512];
    int rl = snprintf(req, sizeof(req),
                      "GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept: %s\r\n\r\n", sc->accept);
    struct otus_buf resp;
    otus_buf_init(&resp, 0);
    for (int i = 0; i < sc->n * SCRAPES; i++) {
        int k = i % sc->n;
        while (atomic_load(&sc->want) <= i)
            usleep(100);
        if (write(fds[k], req, (size_t)rl) != rl ||
            !(sc->body_len[k] = read_response(fds[k], &resp))) {
            fprintf(stderr, "scrape failed\n");
            exit(1);
        }
        atomic_store(&sc->got, i + 1);
        uv_async_send(&sc->wake);
    }
    otus_buf_free(&resp);
    for (int k = 0; k < sc->n; k++)
        close(fds[k]);
}

static void woken(uv_async_t *a)
{
    (void)a;
}

/* One exporter with its own HTTP server on the loop. */
struct endpoint {
    uv_loop_t *loop;
    struct otus_http_server *srv;
    const struct otus_exporter_ops *ops;
    void *cfg;
    void *self;
};

static int bench_listen(void *agent, const char *addr, struct otus_http_server **out,
                        const char **detail)
{
    struct endpoint *e = agent;
    int rc = otus_http_server_create(e->loop, addr, &(struct otus_http_server_opts){.name = "b"},
                                     &e->srv, detail);
    *out = e->srv;
    return rc;
}

static void endpoint_start(struct endpoint *e, uv_loop_t *loop, int keep, struct fx *reqs)
{
    memset(e, 0, sizeof(*e));
    e->loop = loop;
    struct otus_exporter_env env = {
        .loop = loop, .name = "prometheus", .listen = bench_listen, .agent = e};
    e->ops = otus_exporter_find("prometheus");
    e->cfg = calloc(1, e->ops->config_size);
    struct otus_cfg_err err;
    struct otus_cfg_doc doc;
    char yaml[128];
    snprintf(yaml, sizeof(yaml), "listen: 127.0.0.1:0\ngzip: false\nkeep_scrape_buffer: %s\n",
             keep ? "true" : "false");
    const char *detail = NULL;
    if (otus_cfg_defaults(e->ops->config, e->cfg, &err) ||
        otus_cfg_doc_load_string(&doc, "bench", yaml, &err) ||
        otus_cfg_apply(&doc, otus_cfg_root(&doc), "exporters.prometheus", e->ops->config, e->cfg,
                       &err) ||
        e->ops->create(&env, e->cfg, &e->self, &detail)) {
        fprintf(stderr, "cannot create the exporter: %s\n", err.msg);
        exit(1);
    }
    otus_cfg_doc_free(&doc);
    for (int s = 0; s < SERVICES; s++)
        e->ops->ingest(e->self, reqs[s].b);
}

static void exporter_closed(void *arg)
{
    *(int *)arg = 1;
}

static void endpoint_stop(struct endpoint *e)
{
    int done = 0;
    e->ops->destroy(e->self, exporter_closed, &done);
    while (!done)
        uv_run(e->loop, UV_RUN_ONCE);
    otus_http_server_close(e->srv, NULL, NULL);
    otus_cfg_free(e->ops->config, e->cfg);
    free(e->cfg);
}

static double tv_ms(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_usec - a.tv_usec) / 1e3;
}

/*
 * Scrapes of the 100,000 series in reqs from two exporters on one loop, one freeing its
 * scrape buffer after every answer and one keeping it, taken in turn so that both meet
 * the same neighbours on the machine; prints the medians of each. only: "fresh" or
 * "kept" to scrape one of them alone (for callgrind), or NULL.
 */
static void bench_scrape(struct fx *reqs, const char *accept, const char *what, const char *only)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* The endpoints: fresh and kept, or the one asked for. */
    int keeps[2] = {0, 1}, n = 2;
    if (only) {
        keeps[0] = strcmp(only, "kept") == 0;
        n = 1;
    }
    struct endpoint ep[2];
    struct scraper sc = {.n = n, .accept = accept};
    for (int k = 0; k < n; k++) {
        endpoint_start(&ep[k], &loop, keeps[k], reqs);
        sc.ports[k] = otus_http_server_port(ep[k].srv);
    }
    uv_async_init(&loop, &sc.wake, woken);
    uv_thread_t t;
    uv_thread_create(&t, scraper_thread, &sc);
    double cpu[2][SCRAPES], wall[2][SCRAPES], faults[2][SCRAPES];
    for (int i = 0; i < n * SCRAPES; i++) {
        int k = i % n;
        struct rusage r0, r1;
        getrusage(RUSAGE_THREAD, &r0);
        uint64_t w0 = otus_clock_mono_ns();
        atomic_store(&sc.want, i + 1);
        while (atomic_load(&sc.got) <= i)
            uv_run(&loop, UV_RUN_ONCE);
        uv_run(&loop, UV_RUN_NOWAIT); /* the write's completion: the buffer returned or freed */
        getrusage(RUSAGE_THREAD, &r1);
        wall[k][i / n] = (double)(otus_clock_mono_ns() - w0) / 1e6;
        cpu[k][i / n] = tv_ms(r0.ru_utime, r1.ru_utime) + tv_ms(r0.ru_stime, r1.ru_stime);
        faults[k][i / n] = (double)(r1.ru_minflt - r0.ru_minflt);
    }
    uv_thread_join(&t);
    for (int k = 0; k < n; k++) {
        /* The first scrape maps the kept buffer: the steady state is the rest. */
        printf("scrape %-9s %s: %6.1f ms loop CPU, %6.1f ms wall, %5.0f page faults per scrape "
               "(%.1f MB)\n",
               what, keeps[k] ? "kept buffer " : "fresh buffer", median(cpu[k] + 1, SCRAPES - 1),
               median(wall[k] + 1, SCRAPES - 1), median(faults[k] + 1, SCRAPES - 1),
               (double)sc.body_len[k] / 1e6);
    }
    uv_close((uv_handle_t *)&sc.wake, NULL);
    for (int k = 0; k < n; k++)
        endpoint_stop(&ep[k]);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

#define ACCEPT_PROTOBUF                                                                            \
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

/* Scrapes of the 100,000 series; formats: "text", "protobuf" or NULL for both. */
static void bench_scrapes(struct fx *reqs, const char *formats, const char *only)
{
    build_all(reqs, 1, 0);
    if (!formats || strcmp(formats, "text") == 0)
        bench_scrape(reqs, "text/plain;version=0.0.4", "text", only);
    if (!formats || strcmp(formats, "protobuf") == 0)
        bench_scrape(reqs, ACCEPT_PROTOBUF, "protobuf", only);
    free_all(reqs);
}

__attribute__((noinline)) static double ingest_update_round(struct prom_store *st, struct fx *reqs)
{
    return ingest_all(st, reqs, 2);
}

int main(int argc, char **argv)
{
    static struct fx reqs[SERVICES];
    if (argc > 1 && strcmp(argv[1], "scrape") == 0) {
        bench_scrapes(reqs, argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "render") == 0) {
        /* One render (for callgrind): render text|openmetrics|protobuf [exponential]. */
        enum prom_format fmt = strcmp(argv[2], "protobuf") == 0      ? PROM_FMT_PROTOBUF
                               : strcmp(argv[2], "openmetrics") == 0 ? PROM_FMT_OPENMETRICS
                                                                     : PROM_FMT_TEXT;
        struct prom_store *st = new_store();
        build_all(reqs, 1, argc > 3 ? 3 : 0);
        ingest_all(st, reqs, 1);
        free_all(reqs);
        struct otus_buf out;
        otus_buf_init(&out, 0);
        int rc = prom_expo_render(st, fmt, &out);
        printf("render %s: %d, %zu bytes\n", argv[2], rc, out.len);
        otus_buf_free(&out);
        prom_store_destroy(st);
        return rc ? 1 : 0;
    }
    if (argc > 1 && strcmp(argv[1], "update") == 0) {
        /* One round of updates of existing series, mixed (for callgrind: the update
         * round is the function ingest_update_round). */
        struct prom_store *st = new_store();
        build_all(reqs, 1, 0);
        ingest_all(st, reqs, 1);
        free_all(reqs);
        build_all(reqs, 2, 0);
        double t = ingest_update_round(st, reqs);
        free_all(reqs);
        printf("update round: %.1f ms\n", t * 1e3);
        prom_store_destroy(st);
        return 0;
    }
    struct prom_store *st = new_store();

    /* First points: every series created. */
    build_all(reqs, 1, 0);
    double create = ingest_all(st, reqs, 1);
    free_all(reqs);
    size_t n = prom_store_series(st);
    printf("store: %zu series, %zu bytes held, %zu bytes/series\n", n, prom_store_bytes(st),
           prom_store_bytes(st) / n);
    printf("ingest creating series:             %8.0f points/s\n", (double)n / create);

    /* Updates of existing series, by kind. */
    const char *names[3] = {"mixed", "counters", "histograms"};
    for (int kind = 0; kind < 3; kind++) {
        double rate[RUNS];
        for (int r = 0; r < RUNS; r++) {
            build_all(reqs, 2 + r, kind);
            size_t pts = 0;
            for (int s = 0; s < SERVICES; s++)
                pts += otus_batch_count_records(reqs[s].b);
            rate[r] = (double)pts / ingest_all(st, reqs, 2);
            free_all(reqs);
        }
        printf("ingest updating series, %-10s  %8.0f points/s\n", names[kind], median(rate, RUNS));
    }

    bench_render(st, PROM_FMT_TEXT, "text");
    bench_render(st, PROM_FMT_OPENMETRICS, "openmetrics");
    bench_render(st, PROM_FMT_PROTOBUF, "protobuf");
    prom_store_destroy(st);

    /* The histograms exponential: classic buckets in text, native ones in protobuf. */
    st = new_store();
    build_all(reqs, 1, 3);
    ingest_all(st, reqs, 1);
    free_all(reqs);
    printf("exponential histograms (scale 3, %d buckets):\n", EXP_BUCKETS);
    bench_render(st, PROM_FMT_TEXT, "text");
    bench_render(st, PROM_FMT_PROTOBUF, "protobuf");
    prom_store_destroy(st);

    bench_scrapes(reqs, NULL, NULL);
    return 0;
}
