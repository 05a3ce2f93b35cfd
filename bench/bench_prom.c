/*
 * bench_prom.c: the Prometheus exporter's store and renderer at scale. Builds 100,000
 * series (half counters, half histograms with 10 bounds, 100 services of 1,000 series
 * each, 6 labels per series), then measures: the render of one scrape in text 0.0.4
 * and OpenMetrics (into a buffer reserved from the previous scrape, as the endpoint
 * does, and into a fresh one), ingest throughput in data points per second (updates
 * of existing series, counters and histograms; and first points that create series),
 * and the store's memory per series. Prints medians of several runs, in CPU time of
 * the one thread (the machine is shared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "exporters/prometheus/prom_expo.h"
#include "exporters/prometheus/prom_store.h"
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

/*
 * One request per service: its 500 counters and 500 histograms, at round `round`
 * (values grow with it). kind: 0 both, 1 counters only, 2 histograms only.
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
    FxMetric *hm = kind != 1 ? fx_metric(f, "http.server.duration", "s", "Request time") : NULL;
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

int main(void)
{
    static struct fx reqs[SERVICES];
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
    prom_store_destroy(st);
    return 0;
}
