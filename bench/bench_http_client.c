/*
 * bench_http_client.c: throughput of the outbound HTTP client over keep-alive
 * connections to the agent's own HTTP server on 127.0.0.1, both on one libuv loop
 * (one thread does the work of both ends, so the numbers are a floor for the client
 * alone). Cases: small requests one at a time, small requests with several in flight,
 * and multi-MB bodies like Elasticsearch _bulk batches. Prints the median of a few
 * runs and the connections the client opened (keep-alive means one per slot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "agent/http_client.h"
#include "agent/http_server.h"
#include "common/clock.h"

#define RUNS 3

struct run {
    uv_loop_t *loop;
    struct otus_http_client *cli;
    struct otus_http_call_opts opts;
    unsigned total, started, finished, failed;
};

static void on_done(struct otus_http_result *res, void *arg);

static void start_one(struct run *r)
{
    r->started++;
    if (otus_http_call_start(r->cli, &r->opts, on_done, r, NULL) != 0) {
        r->failed++;
        r->finished++;
    }
}

static void on_done(struct otus_http_result *res, void *arg)
{
    struct run *r = arg;
    r->finished++;
    if (res->status != 0)
        r->failed++;
    if (r->started < r->total)
        start_one(r);
}

static void h_ok(struct otus_http_request *req, void *ctx)
{
    (void)ctx;
    otus_http_respond(req, 200, "application/json", "{\"errors\":false}", 16, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

/* Runs total calls with inflight at once over at most conns connections; returns
 * calls per second and sets *opened to the connections the client opened. */
static double one_run(uv_loop_t *loop, const char *url, const void *body, size_t len,
                      unsigned total, unsigned inflight, unsigned conns, uint64_t *opened)
{
    struct run r = {.loop = loop, .total = total};
    struct otus_http_client_opts co = {.max_host_connections = conns};
    if (otus_http_client_create(loop, &co, &r.cli) != 0) {
        fprintf(stderr, "client create failed\n");
        exit(1);
    }
    static const char *const headers[] = {"Content-Type: application/x-ndjson", NULL};
    r.opts = (struct otus_http_call_opts){
        .url = url, .headers = headers, .body = body, .body_len = len, .timeout_ms = 60000};
    uint64_t t0 = otus_clock_mono_ns();
    for (unsigned i = 0; i < inflight && r.started < total; i++)
        start_one(&r);
    while (r.finished < total)
        uv_run(loop, UV_RUN_ONCE);
    double secs = (double)(otus_clock_mono_ns() - t0) / 1e9;
    struct otus_http_client_stats st;
    otus_http_client_stats(r.cli, &st);
    *opened = st.connections;
    int done = 0;
    otus_http_client_close(r.cli, closed, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    if (r.failed) {
        fprintf(stderr, "%u calls failed\n", r.failed);
        exit(1);
    }
    return total / secs;
}

static void bench(uv_loop_t *loop, const char *name, const char *url, size_t body_len,
                  unsigned total, unsigned inflight, unsigned conns)
{
    char *body = malloc(body_len ? body_len : 1);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (char)('a' + i % 26);
    double rate[RUNS];
    uint64_t opened = 0;
    for (int i = 0; i < RUNS; i++)
        rate[i] = one_run(loop, url, body, body_len, total, inflight, conns, &opened);
    qsort(rate, RUNS, sizeof(rate[0]), cmp_double);
    double mbs = rate[RUNS / 2] * (double)body_len / 1e6;
    printf("%-44s median %9.0f calls/s  %8.1f MB/s up  (%llu connections)\n", name, rate[RUNS / 2],
           mbs, (unsigned long long)opened);
    free(body);
}

int main(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct otus_http_server *srv;
    struct otus_http_server_opts so = {.name = "bench", .max_body_bytes = 64u << 20};
    const char *detail = NULL;
    if (otus_http_server_create(&loop, "127.0.0.1:0", &so, &srv, &detail) != 0 ||
        otus_http_server_route(srv, "/_bulk", 0, h_ok, NULL) != 0) {
        fprintf(stderr, "server: %s\n", detail ? detail : "failed");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_bulk", otus_http_server_port(srv));

    bench(&loop, "200 B POST, 1 in flight, 1 connection", url, 200, 20000, 1, 1);
    bench(&loop, "200 B POST, 8 in flight, 4 connections", url, 200, 40000, 8, 4);
    bench(&loop, "4 MiB POST, 4 in flight, 4 connections", url, 4u << 20, 200, 4, 4);

    int done = 0;
    otus_http_server_close(srv, closed, &done);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_loop_close(&loop);
    return 0;
}
