/*
 * bench_otlp.c: spans re-encoded and sent per second by the OTLP/HTTP exporter
 * ("jaeger" type) on one core.
 *
 * The exporter runs as the agent runs it: created from its configuration table, fed
 * sends of decoded batches (100 spans each, as SDKs batch them; 100 batches a send, the
 * default max_batch_records) with max_in_flight sends open, merging, encoding and
 * gzipping on the libuv thread pool and POSTing over keep-alive to a sink. This process
 * (loop and pool threads) is pinned to CPU 0; the sink is a child process on CPU 1
 * running the agent's own HTTP server, answering 200 to everything. Reported per case:
 * spans/s (wall clock, one core), CPU per span (this process's user+system time), the
 * bytes on the wire per span, and the peak RSS.
 *
 * Cases: gzip (the default), no compression, and "forwarding": each send's batches
 * first decoded from their wire bytes with the receiver's decoder, so the
 * figure covers what an agent does per span between accepting a request and sending
 * it on (short of the inbound HTTP). Then the parts alone, single-threaded: the
 * exporter's encoder, protobuf-c's packer on the same data, and gzip.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include <otus.h>

#include "agent/batch.h"
#include "agent/http_server.h"
#include "agent/otlp_decode.h"
#include "agent/self_metrics.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/exporter.h"
#include "exporters/otlp/otlp.h"

#define SPANS_PER_BATCH  100
#define BATCHES_PER_SEND 100
#define DISTINCT_BATCHES 200
#define RUNS             3

/* Sends a run (the "count" argument runs one short gzip case, for callgrind). */
static unsigned sends = 300;

extern const struct otus_exporter_ops otus_jaeger_exporter;

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

static uint64_t rng = 0x1234567;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static KeyValue *kv_str(struct otus_arena *a, const char *k, const char *v)
{
    KeyValue *kv = otus_arena_alloc(a, sizeof(*kv));
    AnyValue *av = otus_arena_alloc(a, sizeof(*av));
    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(av);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = otus_arena_strndup(a, v, strlen(v));
    kv->key = (char *)k;
    kv->value = av;
    return kv;
}

static KeyValue *kv_int(struct otus_arena *a, const char *k, int64_t v)
{
    KeyValue *kv = kv_str(a, k, "");
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    kv->value->int_value = v;
    return kv;
}

static ProtobufCBinaryData rid(struct otus_arena *a, size_t n)
{
    ProtobufCBinaryData d = {n, otus_arena_alloc(a, n)};
    for (size_t i = 0; i < n; i++)
        d.data[i] = (uint8_t)rnd();
    return d;
}

/*
 * One SDK batch in wire form: a service's resource (6 attributes), one scope, 100 HTTP
 * server spans with 8 attributes each (~415 bytes a span); every tenth span failed,
 * with an exception event.
 */
static uint8_t *sdk_request(int service, size_t *len)
{
    struct otus_arena a;
    otus_arena_init(&a, 1 << 20, 0);
    static const char *const names[] = {"checkout", "frontend", "payments", "inventory"};
    otus_traces_req req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    KeyValue *rattrs[] = {kv_str(&a, "service.name", names[service % 4]),
                          kv_str(&a, "service.version", "1.4.2"),
                          kv_str(&a, "host.name", "web-03"),
                          kv_str(&a, "telemetry.sdk.language", "go"),
                          kv_str(&a, "telemetry.sdk.name", "opentelemetry"),
                          kv_str(&a, "telemetry.sdk.version", "1.24.0")};
    res.attributes = rattrs;
    res.n_attributes = 6;
    rs.resource = &res;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    scope.name = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp";
    scope.version = "0.49.0";
    ss.scope = &scope;
    Opentelemetry__Proto__Trace__V1__Span *spans[SPANS_PER_BATCH];
    for (int i = 0; i < SPANS_PER_BATCH; i++) {
        Opentelemetry__Proto__Trace__V1__Span *sp = otus_arena_alloc(&a, sizeof(*sp));
        opentelemetry__proto__trace__v1__span__init(sp);
        sp->trace_id = rid(&a, 16);
        sp->span_id = rid(&a, 8);
        sp->parent_span_id = rid(&a, 8);
        sp->name = "GET /api/v1/orders/{id}";
        sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
        sp->start_time_unix_nano = 1700000000000000000ull + (uint64_t)i * 1000003u;
        sp->end_time_unix_nano = sp->start_time_unix_nano + 1234567u;
        sp->flags = 0x301;
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/orders/%u", (unsigned)(rnd() % 99999));
        KeyValue **attrs = otus_arena_alloc(&a, 8 * sizeof(*attrs));
        attrs[0] = kv_str(&a, "http.request.method", "GET");
        attrs[1] = kv_str(&a, "url.path", path);
        attrs[2] = kv_str(&a, "http.route", "/api/v1/orders/{id}");
        attrs[3] = kv_int(&a, "http.response.status_code", i % 10 ? 200 : 500);
        attrs[4] = kv_str(&a, "server.address", "shop.example.com");
        attrs[5] = kv_str(&a, "network.protocol.version", "1.1");
        attrs[6] =
            kv_str(&a, "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0");
        attrs[7] = kv_str(&a, "client.address", "10.1.2.3");
        sp->attributes = attrs;
        sp->n_attributes = 8;
        if (i % 10 == 0) {
            Opentelemetry__Proto__Trace__V1__Span__Event *ev = otus_arena_alloc(&a, sizeof(*ev));
            opentelemetry__proto__trace__v1__span__event__init(ev);
            ev->name = "exception";
            ev->time_unix_nano = sp->start_time_unix_nano + 5;
            KeyValue **eattrs = otus_arena_alloc(&a, sizeof(*eattrs));
            eattrs[0] = kv_str(&a, "exception.message", "timeout talking to db");
            ev->attributes = eattrs;
            ev->n_attributes = 1;
            Opentelemetry__Proto__Trace__V1__Span__Event **evs = otus_arena_alloc(&a, sizeof(*evs));
            evs[0] = ev;
            sp->events = evs;
            sp->n_events = 1;
            Opentelemetry__Proto__Trace__V1__Status *st = otus_arena_alloc(&a, sizeof(*st));
            opentelemetry__proto__trace__v1__status__init(st);
            st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
            st->message = "deadline exceeded";
            sp->status = st;
        }
        spans[i] = sp;
    }
    ss.spans = spans;
    ss.n_spans = SPANS_PER_BATCH;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[] = {&ss};
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[] = {&rs};
    req.resource_spans = rsp;
    req.n_resource_spans = 1;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *out = malloc(*len);
    protobuf_c_message_pack(&req.base, out);
    otus_arena_destroy(&a);
    return out;
}

static struct otus_batch *decode(const uint8_t *p, size_t n)
{
    struct otus_batch *b = otus_batch_new(OTUS_SIGNAL_TRACES, n * 3 + 4096, 0, NULL);
    if (otus_otlp_decode(OTUS_SIGNAL_TRACES, p, n, &b->arena, &b->req.msg) != 0) {
        fprintf(stderr, "decode failed\n");
        exit(1);
    }
    b->records = otus_batch_count_records(b);
    b->charged = otus_arena_footprint(&b->arena);
    return b;
}

/* ---- the sink (child process on CPU 1) ----------------------------------------------------- */

static void sink_ok(struct otus_http_request *req, void *ctx)
{
    (void)ctx;
    otus_http_respond(req, 200, "application/x-protobuf", "", 0, NULL);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static pid_t start_sink(int *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        pin(1);
        uv_loop_t loop;
        uv_loop_init(&loop);
        struct otus_http_server *srv;
        struct otus_http_server_opts so = {.name = "sink", .max_body_bytes = 256u << 20};
        if (otus_http_server_create(&loop, "127.0.0.1:0", &so, &srv, NULL) != 0 ||
            otus_http_server_route(srv, "/v1/traces", 0, sink_ok, NULL) != 0)
            _exit(1);
        int p = otus_http_server_port(srv);
        if (write(fds[1], &p, sizeof(p)) != sizeof(p))
            _exit(1);
        close(fds[1]);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], port, sizeof(*port)) != sizeof(*port)) {
        fprintf(stderr, "sink did not start\n");
        exit(1);
    }
    close(fds[0]);
    return pid;
}

/* ---- driving the exporter as the core does --------------------------------------------------- */

struct bsend {
    struct otus_send s;
    struct otus_batch *batches[BATCHES_PER_SEND];
};

struct run {
    uv_loop_t *loop;
    const struct otus_exporter_ops *ops;
    void *self;
    int forward; /* decode each send's batches from wire bytes first */
    uint8_t *wire[DISTINCT_BATCHES];
    size_t wire_len[DISTINCT_BATCHES];
    struct otus_batch *decoded[DISTINCT_BATCHES];
    unsigned started, finished, max_in_flight;
    size_t sent, failed, dropped;
};

static void start_send(struct run *r);

static void send_done(struct otus_send *s, const struct otus_send_result *res)
{
    struct bsend *bs = (struct bsend *)s;
    struct run *r = s->core;
    r->sent += res->sent;
    r->failed += res->failed;
    r->dropped += res->dropped;
    r->finished++;
    for (size_t i = 0; i < s->nbatches; i++)
        otus_batch_unref(bs->batches[i]);
    free(bs);
    if (r->started < sends)
        start_send(r);
}

static void start_send(struct run *r)
{
    struct bsend *bs = calloc(1, sizeof(*bs));
    unsigned base = r->started * BATCHES_PER_SEND;
    size_t records = 0;
    for (unsigned i = 0; i < BATCHES_PER_SEND; i++) {
        unsigned k = (base + i) % DISTINCT_BATCHES;
        bs->batches[i] =
            r->forward ? decode(r->wire[k], r->wire_len[k]) : otus_batch_ref(r->decoded[k]);
        records += bs->batches[i]->records;
    }
    bs->s.batches = bs->batches;
    bs->s.nbatches = BATCHES_PER_SEND;
    bs->s.records = records;
    bs->s.signal = OTUS_SIGNAL_TRACES;
    bs->s.done = send_done;
    bs->s.core = r;
    r->started++;
    if (r->ops->send(r->self, &bs->s) != 0) {
        fprintf(stderr, "send refused\n");
        exit(1);
    }
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct result {
    double spans_per_s, cpu_ns_per_span, bytes_per_span;
};

static struct result one_run(struct run *r, int port, const char *compression)
{
    struct otus_self_metrics *metrics = otus_self_metrics_create();
    struct otus_cfg_err err;
    void *cfg = calloc(1, r->ops->config_size);
    if (otus_cfg_defaults(r->ops->config, cfg, &err) != 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        exit(1);
    }
    struct otlp_cfg *oc = cfg;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
    free(oc->endpoint);
    oc->endpoint = strdup(url);
    free(oc->c.compression);
    oc->c.compression = strdup(compression);
    r->max_in_flight = (unsigned)oc->queue.max_in_flight;
    struct otus_exporter_env env = {
        .loop = r->loop, .name = "jaeger", .data_dir = "/tmp", .metrics = metrics};
    const char *detail = NULL;
    if (r->ops->create(&env, cfg, &r->self, &detail) != 0) {
        fprintf(stderr, "create: %s\n", detail ? detail : "failed");
        exit(1);
    }
    r->started = r->finished = 0;
    r->sent = r->failed = r->dropped = 0;
    double c0 = cpu_now();
    uint64_t t0 = otus_clock_mono_ns();
    CALLGRIND_START_INSTRUMENTATION;
    for (unsigned i = 0; i < r->max_in_flight; i++)
        start_send(r);
    while (r->finished < sends)
        uv_run(r->loop, UV_RUN_ONCE);
    CALLGRIND_STOP_INSTRUMENTATION;
    double secs = (double)(otus_clock_mono_ns() - t0) / 1e9;
    double cpu = cpu_now() - c0;
    struct otus_metric_family *f =
        otus_self_metrics_family(metrics, "otus_otlp_request_bytes_total", "", OTUS_METRIC_COUNTER,
                                 (const char *[]){"exporter"}, 1);
    double bytes = otus_self_metrics_series(f, (const char *[]){"jaeger"})->value;
    int done = 0;
    r->ops->destroy(r->self, closed, &done);
    while (!done)
        uv_run(r->loop, UV_RUN_ONCE);
    otus_cfg_free(r->ops->config, cfg);
    free(cfg);
    otus_self_metrics_destroy(metrics);
    if (r->failed || r->dropped) {
        fprintf(stderr, "%zu failed, %zu dropped\n", r->failed, r->dropped);
        exit(1);
    }
    return (struct result){r->sent / secs, cpu * 1e9 / (double)r->sent, bytes / (double)r->sent};
}

static int cmp_result(const void *a, const void *b)
{
    double x = ((const struct result *)a)->spans_per_s, y = ((const struct result *)b)->spans_per_s;
    return x < y ? -1 : x > y;
}

static void exporter_case(struct run *r, int port, const char *name, const char *compression,
                          int forward)
{
    struct result res[RUNS];
    r->forward = forward;
    for (int i = 0; i < RUNS; i++)
        res[i] = one_run(r, port, compression);
    qsort(res, RUNS, sizeof(res[0]), cmp_result);
    struct result m = res[RUNS / 2];
    printf("%-34s median %9.0f spans/s on one core  %6.0f ns CPU/span  %5.1f B/span on the wire"
           "  (peak RSS %ld MiB)\n",
           name, m.spans_per_s, m.cpu_ns_per_span, m.bytes_per_span, peak_rss_kb() / 1024);
}

/* ---- the parts alone ----------------------------------------------------------------------------
 */

static double per_span_ns(uint64_t t0, unsigned iters, size_t spans)
{
    return (double)(otus_clock_mono_ns() - t0) / iters / (double)spans;
}

static void parts(struct run *r)
{
    struct otus_batch *const *b = r->decoded;
    size_t spans = (size_t)BATCHES_PER_SEND * SPANS_PER_BATCH;
    struct otlp_encoder enc;
    otus__otlp_encoder_init(&enc);
    struct otus_buf out, gz;
    otus_buf_init(&out, 0);
    otus_buf_init(&gz, 0);
    double best_enc = 1e18, best_pack = 1e18, best_gz = 1e18, best_dec = 1e18;
    for (int run = 0; run < RUNS; run++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < 5; i++) {
            otus_buf_reset(&out);
            otus__otlp_encode(&enc, OTUS_SIGNAL_TRACES, b, BATCHES_PER_SEND, &out);
        }
        double e = per_span_ns(t0, 5, spans);
        best_enc = e < best_enc ? e : best_enc;
        /* protobuf-c on the same spans, one batch at a time (it cannot merge). */
        t0 = otus_clock_mono_ns();
        for (int i = 0; i < 5; i++) {
            otus_buf_reset(&gz);
            for (int k = 0; k < BATCHES_PER_SEND; k++) {
                size_t n = protobuf_c_message_get_packed_size(b[k]->req.msg);
                otus_buf_reserve(&gz, n);
                gz.len += protobuf_c_message_pack(b[k]->req.msg, (uint8_t *)gz.data + gz.len);
            }
        }
        e = per_span_ns(t0, 5, spans);
        best_pack = e < best_pack ? e : best_pack;
        struct otus_deflater d;
        otus_deflater_init(&d, 1);
        t0 = otus_clock_mono_ns();
        for (int i = 0; i < 5; i++) {
            otus_buf_reset(&gz);
            otus_deflater_gzip(&d, out.data, out.len, &gz);
        }
        e = per_span_ns(t0, 5, spans);
        best_gz = e < best_gz ? e : best_gz;
        otus_deflater_destroy(&d);
        t0 = otus_clock_mono_ns();
        for (int k = 0; k < BATCHES_PER_SEND; k++)
            otus_batch_unref(decode(r->wire[k], r->wire_len[k]));
        e = per_span_ns(t0, 1, spans);
        best_dec = e < best_dec ? e : best_dec;
    }
    printf("%-34s best %7.0f ns/span (%zu bytes a span)\n", "encode (merge + protobuf writer)",
           best_enc, out.len / spans);
    printf("%-34s best %7.0f ns/span\n", "protobuf-c pack, same spans", best_pack);
    printf("%-34s best %7.0f ns/span (%zu bytes a span)\n", "gzip level 1 of the encoded", best_gz,
           gz.len / spans);
    printf("%-34s best %7.0f ns/span\n", "the receiver's decoder", best_dec);
    otus_buf_free(&out);
    otus_buf_free(&gz);
    otus__otlp_encoder_destroy(&enc);
}

int main(int argc, char **argv)
{
    int count_only = argc > 1 && strcmp(argv[1], "count") == 0;
    int port;
    pid_t sink = start_sink(&port);
    pin(0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct run r = {.loop = &loop, .ops = &otus_jaeger_exporter};
    for (int i = 0; i < DISTINCT_BATCHES; i++) {
        r.wire[i] = sdk_request(i, &r.wire_len[i]);
        r.decoded[i] = decode(r.wire[i], r.wire_len[i]);
    }
    if (count_only) {
        /* valgrind --tool=callgrind --instr-atstart=no build/bench/bench_otlp count:
         * the instructions of 20 sends (200,000 spans), all threads. */
        sends = 20;
        r.forward = 0;
        one_run(&r, port, "gzip");
        printf("%u spans sent under instrumentation\n", sends * BATCHES_PER_SEND * SPANS_PER_BATCH);
        kill(sink, SIGTERM);
        waitpid(sink, NULL, 0);
        return 0;
    }
    printf("%d spans a batch, %d batches a send, %u sends a run; this process on CPU 0, sink on "
           "CPU 1; RSS with the test batches decoded: %ld MiB\n",
           SPANS_PER_BATCH, BATCHES_PER_SEND, sends, peak_rss_kb() / 1024);
    exporter_case(&r, port, "jaeger exporter, gzip", "gzip", 0);
    exporter_case(&r, port, "jaeger exporter, no compression", "none", 0);
    exporter_case(&r, port, "forwarding (decode + the above)", "gzip", 1);
    parts(&r);
    for (int i = 0; i < DISTINCT_BATCHES; i++) {
        otus_batch_unref(r.decoded[i]);
        free(r.wire[i]);
    }
    uv_loop_close(&loop);
    kill(sink, SIGTERM);
    waitpid(sink, NULL, 0);
    return 0;
}
