/*
 * bench_es.c: the Elasticsearch exporter alone, on one core: documents encoded (ECS
 * documents, bulk action lines, content-derived _id) and sent over HTTP keep-alive
 * to a local sink that answers every bulk request at once with
 * {"took":0,"errors":false,"items":[]}. The exporter runs pinned to CPU 0 and the
 * sink, a forked process, to CPU 1, so the exporter's CPU time is its own.
 *
 * Reported per mode (compression none, then gzip level 1): documents per second of
 * wall time, CPU time per document (the whole process, and the loop thread alone: the
 * exporter encodes and gzips on the libuv thread pool, whose threads inherit the pin
 * to CPU 0), bytes per document before and after compression, the share of the CPU
 * that gzip takes (gzip alone over the same bodies, timed the same way), and the
 * process's peak RSS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <otus.h>

#include "agent/config.h"
#include "agent/self_metrics.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/elasticsearch/es.h"

#define RECORDS_PER_BATCH 1000
#define BATCHES_PER_SEND  10
#define IN_FLIGHT         4

/* ---- the sink ----------------------------------------------------------------------------- */

static void *sink_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char answer[] = "{\"took\":0,\"errors\":false,\"items\":[]}";
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "X-elastic-product: Elasticsearch\r\nContent-Length: %zu\r\n\r\n%s",
                      sizeof(answer) - 1, answer);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == cap)
                goto out;
            ssize_t r = read(fd, buf + len, cap - len);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        size_t hdr = (size_t)(end - buf) + 4;
        size_t body = 0;
        for (char *p = buf; p < end; p++) {
            if (strncasecmp(p, "\r\ncontent-length:", 17) == 0) {
                body = strtoull(p + 17, NULL, 10);
                break;
            }
        }
        size_t have = len - hdr;
        if (have >= body) {
            /* The whole body is buffered; keep what follows it (a pipelined request). */
            memmove(buf, buf + hdr + body, have - body);
            len = have - body;
        } else {
            len = 0;
            while (have < body) {
                char sink[1 << 16];
                size_t want = body - have < sizeof(sink) ? body - have : sizeof(sink);
                ssize_t r = read(fd, sink, want);
                if (r <= 0)
                    goto out;
                have += (size_t)r;
            }
        }
        if (write(fd, head, (size_t)hl) != hl)
            goto out;
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

static void sink_run(int lfd)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof(set), &set);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t t;
        pthread_create(&t, NULL, sink_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

/* ---- data ------------------------------------------------------------------------------------ */

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static AnyValue *value_str(const char *s)
{
    AnyValue *v = malloc(sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = strdup(s);
    return v;
}

static AnyValue *value_int(int64_t n)
{
    AnyValue *v = malloc(sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = n;
    return v;
}

static KeyValue *kv(const char *k, AnyValue *v)
{
    KeyValue *x = malloc(sizeof(*x));
    opentelemetry__proto__common__v1__key_value__init(x);
    x->key = strdup(k);
    x->value = v;
    return x;
}

/* One request of RECORDS_PER_BATCH log records, shaped like a service's logs: a text
 * body, severity, trace context, five attributes, a resource with five attributes. */
static struct otus_batch *make_batch(int salt)
{
    Opentelemetry__Proto__Resource__V1__Resource *res = malloc(sizeof(*res));
    opentelemetry__proto__resource__v1__resource__init(res);
    res->n_attributes = 5;
    res->attributes = malloc(5 * sizeof(KeyValue *));
    res->attributes[0] = kv("service.name", value_str("checkout"));
    res->attributes[1] = kv("service.version", value_str("1.4.2"));
    res->attributes[2] = kv("host.name", value_str("web-17.prod.example.com"));
    res->attributes[3] = kv("deployment.environment", value_str("production"));
    res->attributes[4] = kv("k8s.pod.name", value_str("checkout-7d9f8c6b5-x2x4q"));
    Opentelemetry__Proto__Common__V1__InstrumentationScope *sc = malloc(sizeof(*sc));
    opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
    sc->name = strdup("com.example.checkout");
    sc->version = strdup("1.4.2");
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = malloc(sizeof(*sl));
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    sl->scope = sc;
    sl->n_log_records = RECORDS_PER_BATCH;
    sl->log_records = malloc(RECORDS_PER_BATCH * sizeof(*sl->log_records));
    /* Trace context, customer and amounts vary per record as they do in real logs (and
     * make the bodies as hard to compress as real ones). */
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(salt + 1);
    for (int r = 0; r < RECORDS_PER_BATCH; r++) {
        Opentelemetry__Proto__Logs__V1__LogRecord *lr = malloc(sizeof(*lr));
        opentelemetry__proto__logs__v1__log_record__init(lr);
        lr->time_unix_nano =
            1700000000000000000ull + (uint64_t)salt * 1000000000 + (uint64_t)r * 7919731;
        lr->observed_time_unix_nano = lr->time_unix_nano + 1000;
        lr->severity_number = 9;
        lr->severity_text = strdup("INFO");
        uint8_t *ids = malloc(24);
        for (int i = 0; i < 24; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ids[i] = (uint8_t)rng;
        }
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "order %d placed by customer %llu: %d items, total %llu.%02llu EUR",
                 salt * RECORDS_PER_BATCH + r, (unsigned long long)(rng % 1000003),
                 (int)(rng >> 20) % 9 + 1, (unsigned long long)(rng >> 32) % 500,
                 (unsigned long long)(rng >> 40) % 100);
        lr->body = value_str(msg);
        lr->trace_id.data = ids;
        lr->trace_id.len = 16;
        lr->span_id.data = ids + 16;
        lr->span_id.len = 8;
        lr->n_attributes = 5;
        lr->attributes = malloc(5 * sizeof(KeyValue *));
        lr->attributes[0] = kv("http.method", value_str("POST"));
        lr->attributes[1] = kv("http.route", value_str("/api/v1/orders"));
        lr->attributes[2] = kv("http.status_code", value_int(201));
        lr->attributes[3] = kv("order.id", value_int(salt * RECORDS_PER_BATCH + r));
        lr->attributes[4] = kv("user.tier", value_str("gold"));
        sl->log_records[r] = lr;
    }
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = malloc(sizeof(*rl));
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    rl->resource = res;
    rl->n_scope_logs = 1;
    rl->scope_logs = malloc(sizeof(*rl->scope_logs));
    rl->scope_logs[0] = sl;
    otus_logs_req *req = malloc(sizeof(*req));
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    req->n_resource_logs = 1;
    req->resource_logs = malloc(sizeof(*req->resource_logs));
    req->resource_logs[0] = rl;
    struct otus_batch *b = calloc(1, sizeof(*b));
    b->signal = OTUS_SIGNAL_LOGS;
    b->req.logs = req;
    b->records = RECORDS_PER_BATCH;
    b->received_ns = 1700000000000000000ull;
    return b;
}

/* ---- the run --------------------------------------------------------------------------------- */

struct run {
    uv_loop_t *loop;
    const struct otus_exporter_ops *ops;
    void *es;
    struct otus_batch *batches[BATCHES_PER_SEND];
    struct otus_send sends[IN_FLIGHT];
    uint64_t started, target, settled, failed;
};

static void start_send(struct run *r, struct otus_send *s);

static void send_done(struct otus_send *s, const struct otus_send_result *res)
{
    struct run *r = s->core;
    r->settled += res->sent;
    r->failed += res->failed + res->dropped;
    if (r->started < r->target)
        start_send(r, s);
}

static void start_send(struct run *r, struct otus_send *s)
{
    memset(s, 0, sizeof(*s));
    s->batches = r->batches;
    s->nbatches = BATCHES_PER_SEND;
    s->records = (size_t)RECORDS_PER_BATCH * BATCHES_PER_SEND;
    s->signal = OTUS_SIGNAL_LOGS;
    s->done = send_done;
    s->core = r;
    r->started += s->records;
    if (r->ops->send(r->es, s) != 0) {
        fprintf(stderr, "send refused\n");
        exit(1);
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU time of the calling thread alone: the loop's share, the thread pool's left out. */
static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void es_closed(void *arg)
{
    (void)arg;
}

static void run_mode(int port, const char *compression, uint64_t docs)
{
    struct otus__es_cfg cfg;
    struct otus_cfg_err err;
    memset(&cfg, 0, sizeof(cfg));
    if (otus_cfg_defaults(otus__es_table, &cfg, &err) != 0) {
        fprintf(stderr, "defaults: %s\n", err.msg);
        exit(1);
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    free(cfg.endpoints.items[0]);
    cfg.endpoints.items[0] = strdup(url);
    free(cfg.compression);
    cfg.compression = strdup(compression);
    cfg.manage_template = false;
    cfg.queue.max_in_flight = IN_FLIGHT;
    struct run r = {0};
    r.loop = uv_default_loop();
    r.ops = &otus_elasticsearch_exporter;
    struct otus_self_metrics *m = otus_self_metrics_create();
    struct otus_exporter_env env = {
        .loop = r.loop, .name = "elasticsearch", .data_dir = "/tmp", .metrics = m};
    const char *detail = NULL;
    if (r.ops->create(&env, &cfg, &r.es, &detail) != 0) {
        fprintf(stderr, "create: %s\n", detail ? detail : "failed");
        exit(1);
    }
    for (int i = 0; i < BATCHES_PER_SEND; i++)
        r.batches[i] = make_batch(i);
    /* Warm-up: connections, buffers. */
    r.target = (uint64_t)IN_FLIGHT * RECORDS_PER_BATCH * BATCHES_PER_SEND;
    for (int i = 0; i < IN_FLIGHT; i++)
        start_send(&r, &r.sends[i]);
    while (r.settled + r.failed < r.started)
        uv_run(r.loop, UV_RUN_ONCE);
    r.started = r.settled = r.failed = 0;
    r.target = docs;
    uint64_t t0 = otus_clock_mono_ns();
    double c0 = cpu_seconds(), l0 = thread_cpu_seconds();
    for (int i = 0; i < IN_FLIGHT; i++)
        start_send(&r, &r.sends[i]);
    while (r.settled + r.failed < r.started)
        uv_run(r.loop, UV_RUN_ONCE);
    double wall = (double)(otus_clock_mono_ns() - t0) / 1e9;
    double cpu = cpu_seconds() - c0;
    double loop_cpu = thread_cpu_seconds() - l0;
    /* Body sizes, and gzip alone over the same bodies. */
    struct otus__es_items it;
    otus__es_items_init(&it);
    otus__es_encode(otus__es_target_of(r.es, OTUS_SIGNAL_LOGS), 1, r.batches, BATCHES_PER_SEND,
                    &it);
    struct otus_deflater d;
    otus_deflater_init(&d, 1);
    struct otus_buf gz;
    otus_buf_init(&gz, 0);
    double g0 = cpu_seconds();
    int rounds = 20;
    for (int i = 0; i < rounds; i++) {
        otus_buf_reset(&gz);
        otus_deflater_gzip(&d, it.ndjson.data, it.ndjson.len, &gz);
    }
    double gzip_per_doc = (cpu_seconds() - g0) / ((double)rounds * (double)it.n);
    double enc0 = cpu_seconds();
    for (int i = 0; i < rounds; i++) {
        otus__es_items_reset(&it);
        otus__es_encode(otus__es_target_of(r.es, OTUS_SIGNAL_LOGS), 1, r.batches, BATCHES_PER_SEND,
                        &it);
    }
    double enc_per_doc = (cpu_seconds() - enc0) / ((double)rounds * (double)it.n);
    double bytes_per_doc = (double)it.ndjson.len / (double)it.n;
    double gz_per_doc = (double)gz.len / (double)it.n;
    double cpu_per_doc = cpu / (double)r.settled;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("compression=%-4s docs=%llu failed=%llu wall=%.2fs cpu=%.2fs loop-cpu=%.2fs "
           "docs/s=%.0f docs/cpu-s=%.0f cpu/doc=%.0fns loop-cpu/doc=%.0fns encode/doc=%.0fns "
           "body=%.0fB/doc",
           compression, (unsigned long long)r.settled, (unsigned long long)r.failed, wall, cpu,
           loop_cpu, (double)r.settled / wall, (double)r.settled / cpu, cpu_per_doc * 1e9,
           loop_cpu / (double)r.settled * 1e9, enc_per_doc * 1e9, bytes_per_doc);
    if (strcmp(compression, "gzip") == 0)
        printf(" gzipped=%.0fB/doc gzip/doc=%.0fns gzip-share=%.0f%% gzip-MB/s=%.0f", gz_per_doc,
               gzip_per_doc * 1e9, 100.0 * gzip_per_doc / cpu_per_doc,
               bytes_per_doc / gzip_per_doc / 1e6);
    printf(" peak-rss=%ldMiB\n", ru.ru_maxrss / 1024);
    fflush(stdout);
    otus_buf_free(&gz);
    otus_deflater_destroy(&d);
    otus__es_items_free(&it);
    r.ops->destroy(r.es, es_closed, NULL);
    uv_run(r.loop, UV_RUN_DEFAULT);
    otus_cfg_free(otus__es_table, &cfg);
    otus_self_metrics_destroy(m);
}

int main(int argc, char **argv)
{
    uint64_t docs = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("sink");
        return 1;
    }
    pid_t sink = fork();
    if (sink == 0) {
        sink_run(lfd);
        _exit(0);
    }
    close(lfd);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof(set), &set);
    printf("Elasticsearch exporter, one core, %d records per batch, %d batches per send, "
           "%d sends in flight, sink answering at once\n",
           RECORDS_PER_BATCH, BATCHES_PER_SEND, IN_FLIGHT);
    run_mode(ntohs(a.sin_port), "none", docs);
    run_mode(ntohs(a.sin_port), "gzip", docs / 2);
    kill(sink, SIGKILL);
    waitpid(sink, NULL, 0);
    return 0;
}
