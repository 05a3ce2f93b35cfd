/*
 * bench_lib_record.c: libotus record-path benchmarks, with p50 and p99.9 and, when valgrind is
 * installed, instructions per operation from callgrind (stable where times are not).
 *
 * Times come from rdtscp, less the measured cost of timing nothing. p50 is of batches
 * (100 operations, 10 for spans and logs) divided by the batch size, since the TSC
 * advances in steps of about 10 ns on this machine; for spans and logs p99.9 is of
 * operations timed one by one, in 20 rounds with the background thread catching up
 * between them (medians of the rounds reported); for the others it is of batches. The
 * background thread runs as in production (with export of the measured signal off, so
 * the other core is not busy encoding); export cost is measured on its own: spans at
 * 50,000 per second to a local OTLP/HTTP receiver, and the background thread's CPU
 * time (the scheduler's run time) over wall time.
 *
 *   bench_lib_record        every case, then callgrind per case if valgrind exists
 *   bench_lib_record --case CASE  one case's timing
 *   bench_lib_record --export [none]  the export cost alone (none: without gzip)
 *   bench_lib_record --ir CASE N  (under callgrind) one case N times, collection toggled
 *                           around the loop only
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <otus.h>

#include "instrument-lib/src/internal.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#else
#define CALLGRIND_TOGGLE_COLLECT
#define HAVE_CALLGRIND 0
#endif

static struct otus_series *s_counter, *s_hist, *s_exp;
static struct otus_metric *m_unbound;
static struct otus_span_context unsampled_parent;
static struct otus_attr attrs10[10];
static const char traceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/* ---- operations (each a complete operation of the measured kind) ---------------------- */

static void op_counter_bound(void)
{
    otus_series_add(s_counter, 1);
}

static void op_counter_unbound3(void)
{
    struct otus_attr a[3] = {otus_attr_str("http.request.method", "GET"),
                             otus_attr_str("http.route", "/api/users/{id}"),
                             otus_attr_int("http.response.status_code", 200)};
    otus_metric_add(m_unbound, 1, a, 3);
}

static double hv;

static void op_hist(void)
{
    hv = hv > 9.0 ? 0.001 : hv * 1.7 + 0.0003;
    otus_series_record(s_hist, hv);
}

static void op_exp(void)
{
    hv = hv > 9.0 ? 0.001 : hv * 1.7 + 0.0003;
    otus_series_record(s_exp, hv);
}

static void op_span_sampled2(void)
{
    struct otus_attr a[2] = {otus_attr_str("db.system", "postgresql"),
                             otus_attr_int("db.rows", 42)};
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = a;
    o.n_attrs = 2;
    struct otus_span sp;
    otus_span_start(&sp, "SELECT users", OTUS_SPAN_CLIENT, &o);
    otus_span_end(&sp);
}

static void op_span_sampled10(void)
{
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = attrs10;
    o.n_attrs = 10;
    struct otus_span sp;
    otus_span_start(&sp, "GET /api/users/{id}", OTUS_SPAN_SERVER, &o);
    otus_span_end(&sp);
}

static void op_span_unsampled(void)
{
    struct otus_attr a[2] = {otus_attr_str("db.system", "postgresql"),
                             otus_attr_int("db.rows", 42)};
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &unsampled_parent;
    o.attrs = a;
    o.n_attrs = 2;
    struct otus_span sp;
    otus_span_start(&sp, "SELECT users", OTUS_SPAN_CLIENT, &o);
    otus_span_end(&sp);
}

static void op_log5(void)
{
    struct otus_attr f[5] = {otus_attr_str("user.id", "u-12345"), otus_attr_int("order.items", 3),
                             otus_attr_double("order.total", 99.95), otus_attr_bool("vip", 1),
                             otus_attr_str("payment.method", "card")};
    otus_log_write(OTUS_LEVEL_INFO, "order placed", f, 5);
}

static void op_log_disabled(void)
{
    otus_log_write(OTUS_LEVEL_DEBUG, "not written", NULL, 0);
}

static void null_setter(void *c, const char *name, const char *v, size_t n)
{
    (void)c;
    (void)name;
    (void)v;
    (void)n;
}

static size_t tp_getter(void *c, const char *name, const char **v, size_t *l, size_t max)
{
    (void)c;
    if (name[5] != 'p' || !max) /* "traceparent"; no tracestate */
        return 0;
    v[0] = traceparent;
    l[0] = sizeof(traceparent) - 1;
    return 1;
}

static struct otus_span_context inject_ctx;

static void op_inject(void)
{
    otus_context_inject(&inject_ctx, null_setter, NULL);
}

static struct otus_context extracted;

static void op_extract(void)
{
    otus_context_extract(&extracted, tp_getter, NULL);
}

static void op_nothing(void) {}

struct bench_case {
    const char *name;
    const char *what;
    const char *target;
    void (*op)(void);
    int batch;  /* operations per timed sample for p50 (and p99.9 when single is 0) */
    int single; /* p99.9 from operations timed one by one */
};

/* The TSC of this machine advances in steps of about 10 ns, so p50 comes from batches;
 * tails of slower operations are timed one by one, where 10 ns steps do not matter. */
static const struct bench_case cases[] = {
    {"counter_bound", "counter add, bound", "2 ns", op_counter_bound, 100, 0},
    {"counter_unbound3", "counter add, 3 attributes, unbound", "25 ns", op_counter_unbound3, 100,
     0},
    {"hist_bound14", "histogram record, bound, 14 buckets", "8 ns", op_hist, 100, 0},
    {"exphist_bound", "exponential histogram record, bound", "8 ns", op_exp, 100, 0},
    {"span_sampled2", "span start+end, sampled, 2 attributes", "100 ns", op_span_sampled2, 10, 1},
    {"span_unsampled", "span start+end, not sampled", "10 ns", op_span_unsampled, 100, 0},
    {"span_sampled10", "span start+end, sampled, 10 attributes", "300 ns", op_span_sampled10, 10,
     1},
    {"log5", "log record, 5 typed fields, into the ring", "p50 30, p99.9 100 ns", op_log5, 10, 1},
    {"log_disabled", "log call at a disabled level", "1 ns", op_log_disabled, 100, 0},
    {"inject", "traceparent inject", "30 ns", op_inject, 100, 0},
    {"extract", "traceparent extract, validated", "40 ns", op_extract, 100, 0},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- set-up ---------------------------------------------------------------------------- */

static void start(int manual)
{
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_IGNORE_ENV | OTUS_SDK_NO_TRACE_EXPORT | OTUS_SDK_NO_LOG_EXPORT |
              OTUS_SDK_NO_METRIC_EXPORT;
    c.service_name = "bench";
    c.log_output = OTUS_LOG_OUTPUT_NONE;
    c.span_queue_size = 65536;
    c.log_queue_size = 65536;
    otus__exporter_manual = manual;
    if (otus_init(&c) != 0) {
        fprintf(stderr, "otus_init failed\n");
        exit(1);
    }
    s_counter = otus_metric_bind(otus_counter_create("bench.counter", NULL, NULL), NULL, 0);
    static const double b14[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                 0.5,   0.75, 1,     2.5,  5,     7.5, 10};
    s_hist = otus_metric_bind(otus_histogram_create("bench.hist", "s", NULL, b14, 14), NULL, 0);
    s_exp = otus_metric_bind(otus_exp_histogram_create("bench.exp", "s", NULL, 0, 0), NULL, 0);
    m_unbound = otus_counter_create("bench.unbound", NULL, NULL);
    otus_traceparent_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", 55,
                           &unsampled_parent);
    otus_traceparent_parse(traceparent, 55, &inject_ctx);
    static const char *keys[10] = {"http.request.method",
                                   "url.path",
                                   "url.scheme",
                                   "http.route",
                                   "server.address",
                                   "server.port",
                                   "client.address",
                                   "user_agent.original",
                                   "network.protocol.version",
                                   "http.response.status_code"};
    for (int i = 0; i < 10; i++)
        attrs10[i] = i == 5 || i == 9 ? otus_attr_int(keys[i], i == 5 ? 8080 : 200)
                                      : otus_attr_str(keys[i], "a-typical-value");
}

/* ---- timing ---------------------------------------------------------------------------- */

static inline uint64_t tsc(void)
{
    unsigned aux;
    return __rdtscp(&aux);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double p50, p999, mean;
};

/* Per-operation times (ns) of n samples of batch operations each. */
static struct result measure(void (*op)(void), int batch, size_t n, double overhead_ticks)
{
    double *v = malloc(n * sizeof(double));
    double ns_per_tick = otus__ticks_to_seconds(1000000) * 1e3; /* ns per tick */
    for (int w = 0; w < 2000; w++)
        op();
    double sum = 0;
    for (size_t s = 0; s < n; s++) {
        uint64_t t0 = tsc();
        for (int k = 0; k < batch; k++)
            op();
        uint64_t t1 = tsc();
        double ticks = (double)(t1 - t0) - overhead_ticks;
        if (ticks < 0)
            ticks = 0;
        v[s] = ticks * ns_per_tick / batch;
        sum += v[s];
    }
    qsort(v, n, sizeof(double), cmp_double);
    struct result r = {v[n / 2], v[n - 1 - n / 1000], sum / (double)n};
    free(v);
    return r;
}

static double timing_overhead(int batch)
{
    double *v = malloc(20000 * sizeof(double));
    for (int s = 0; s < 20000; s++) {
        uint64_t t0 = tsc();
        for (int k = 0; k < batch; k++)
            op_nothing();
        v[s] = (double)(tsc() - t0);
    }
    qsort(v, 20000, sizeof(double), cmp_double);
    double r = v[10000];
    free(v);
    return r;
}

/* Keeps the span queue and log ring from filling during long runs. */
static void settle(void)
{
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- threads on one counter ------------------------------------------------------------- */

struct thr {
    pthread_t t;
    pthread_barrier_t *b;
    struct result r;
};

static void *counter_thread(void *arg)
{
    struct thr *t = arg;
    pthread_barrier_wait(t->b);
    t->r = measure(op_counter_bound, 100, 50000, 0);
    return NULL;
}

static void threads_case(int n)
{
    struct thr th[8];
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        th[i].b = &b;
        pthread_create(&th[i].t, NULL, counter_thread, &th[i]);
    }
    double p50 = 0, p999 = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i].t, NULL);
        p50 += th[i].r.p50 / n;
        if (th[i].r.p999 > p999)
            p999 = th[i].r.p999;
    }
    pthread_barrier_destroy(&b);
    char what[96];
    snprintf(what, sizeof(what), "counter add, bound, %d threads, same counter", n);
    printf("%-46s p50 %6.1f ns (batches of 100)  p99.9 %7.1f ns (batches)   target %s, per op "
           "per thread\n",
           what, p50, p999, n == 2 ? "3 ns" : "flat with threads");
}

/* ---- export cost: 50,000 spans/s to a local OTLP/HTTP receiver ------------------------- */

static int recv_fd;
static volatile int recv_stop;
static unsigned long recv_requests;

static void *receiver(void *arg)
{
    (void)arg;
    while (!recv_stop) {
        int c = accept(recv_fd, NULL, NULL);
        if (c < 0)
            continue;
        static char buf[1 << 20];
        size_t have = 0;
        for (;;) {
            char *hdr_end = NULL;
            while (!(hdr_end = memmem(buf, have, "\r\n\r\n", 4))) {
                ssize_t n = read(c, buf + have, sizeof(buf) - have);
                if (n <= 0)
                    goto done;
                have += (size_t)n;
            }
            size_t hlen = (size_t)(hdr_end - buf) + 4;
            size_t clen = 0;
            char *cl = strcasestr(buf, "content-length:");
            if (cl && cl < hdr_end)
                clen = strtoul(cl + 15, NULL, 10);
            while (have < hlen + clen) {
                ssize_t n = read(c, buf + have, sizeof(buf) - have);
                if (n <= 0)
                    goto done;
                have += (size_t)n;
            }
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: "
                                     "application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
            if (write(c, ok, sizeof(ok) - 1) < 0)
                goto done;
            recv_requests++;
            memmove(buf, buf + hlen + clen, have - hlen - clen);
            have -= hlen + clen;
        }
    done:
        close(c);
    }
    return NULL;
}

/* CPU time (ns) of this process's thread named name: the scheduler's run time from
 * /proc/self/task/TID/schedstat, in nanoseconds. */
static uint64_t thread_cpu_ns(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    uint64_t ns = 0;
    while (d && (e = readdir(d))) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
        f = fopen(path, "r");
        unsigned long long run = 0;
        if (f && fscanf(f, "%llu", &run) == 1)
            ns = run;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return ns;
}

static void export_cost(int compression)
{
    recv_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(recv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(recv_fd, (struct sockaddr *)&a, sizeof(a)) || listen(recv_fd, 8)) {
        perror("receiver");
        return;
    }
    socklen_t al = sizeof(a);
    getsockname(recv_fd, (struct sockaddr *)&a, &al);
    struct timeval tv = {0, 200000};
    setsockopt(recv_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    pthread_t rt;
    pthread_create(&rt, NULL, receiver, NULL);

    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_IGNORE_ENV | OTUS_SDK_NO_LOG_EXPORT | OTUS_SDK_NO_METRIC_EXPORT;
    c.endpoint = endpoint;
    c.service_name = "bench";
    c.log_output = OTUS_LOG_OUTPUT_NONE;
    c.compression = compression;
    otus__exporter_manual = 0;
    otus_init(&c);
    struct otus_stats before;
    otus_stats_get(&before);
    const int seconds = 5, rate = 50000, per_tick = 500; /* 100 ticks of 10 ms per second */
    uint64_t cpu0 = thread_cpu_ns("otus-export");
    uint64_t t0 = otus__mono_ns();
    for (int tick = 0; tick < seconds * rate / per_tick; tick++) {
        for (int i = 0; i < per_tick; i++)
            op_span_sampled2();
        uint64_t next = t0 + (uint64_t)(tick + 1) * 10000000ull;
        uint64_t now = otus__mono_ns();
        if (next > now) {
            struct timespec ts = {0, (long)(next - now)};
            nanosleep(&ts, NULL);
        }
    }
    otus_flush(5000);
    uint64_t wall = otus__mono_ns() - t0;
    uint64_t cpu = thread_cpu_ns("otus-export") - cpu0;
    struct otus_stats after;
    otus_stats_get(&after);
    otus_shutdown(5000);
    recv_stop = 1;
    pthread_join(rt, NULL);
    close(recv_fd);
    printf("%-48s %5.2f %% of one core   (%llu spans exported in %lu requests, %llu dropped; "
           "target < 3 %%)\n",
           compression == OTUS_COMPRESSION_NONE ? "export at 50,000 spans/s, no compression"
                                                : "export at 50,000 spans/s, gzip",
           100.0 * (double)cpu / (double)wall,
           (unsigned long long)(after.spans_exported - before.spans_exported), recv_requests,
           (unsigned long long)(after.spans_dropped - before.spans_dropped + after.export_dropped -
                                before.export_dropped));
}

/* ---- callgrind ----------------------------------------------------------------------------- */

static int run_ir(const char *name, long n)
{
    start(1); /* no background thread: only the measured loop is counted */
    for (size_t i = 0; i < NCASES; i++) {
        if (strcmp(cases[i].name, name) != 0)
            continue;
        for (int w = 0; w < 100; w++)
            cases[i].op();
        CALLGRIND_TOGGLE_COLLECT;
        for (long k = 0; k < n; k++)
            cases[i].op();
        CALLGRIND_TOGGLE_COLLECT;
        return 0;
    }
    if (strcmp(name, "nothing") == 0) {
        CALLGRIND_TOGGLE_COLLECT;
        for (long k = 0; k < n; k++)
            op_nothing();
        CALLGRIND_TOGGLE_COLLECT;
        return 0;
    }
    return 1;
}

/* Instructions collected by one callgrind run of a case, or -1. */
static double callgrind_ir(const char *self, const char *name, long n)
{
    char out[256], cmd[1024];
    snprintf(out, sizeof(out), "/tmp/otus-bench-callgrind.%d.%s", (int)getpid(), name);
    snprintf(
        cmd, sizeof(cmd),
        "valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=%s %s --ir %s %ld "
        ">/dev/null 2>&1",
        out, self, name, n);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(out, "r");
    double ir = -1;
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0)
            ir = strtod(line + (line[0] == 't' ? 7 : 8), NULL);
    }
    if (f)
        fclose(f);
    unlink(out);
    return ir;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--ir") == 0)
        return run_ir(argv[2], atol(argv[3]));
    if (argc >= 2 && strcmp(argv[1], "--export") == 0) {
        export_cost(argc == 3 && strcmp(argv[2], "none") == 0 ? OTUS_COMPRESSION_NONE
                                                              : OTUS_COMPRESSION_GZIP);
        return 0;
    }

    const char *only = argc == 3 && strcmp(argv[1], "--case") == 0 ? argv[2] : NULL;
    start(0);
    double ov1 = timing_overhead(1), ov10 = timing_overhead(10), ov100 = timing_overhead(100);
    printf("libotus record paths (single thread unless said; p50/p99.9 per operation)\n");
    for (size_t i = 0; i < NCASES; i++) {
        const struct bench_case *c = &cases[i];
        if (only && strcmp(only, c->name) != 0)
            continue;
        double ov = c->batch == 10 ? ov10 : ov100;
        struct result r;
        double p999;
        if (c->single) {
            /* Spans and logs in rounds, so the background thread keeps up as it would. */
            double p50s[20], p999s[20];
            for (int round = 0; round < 20; round++) {
                p50s[round] = measure(c->op, c->batch, 2000, ov).p50;
                p999s[round] = measure(c->op, 1, 10000, ov1).p999;
                settle();
            }
            qsort(p50s, 20, sizeof(double), cmp_double);
            qsort(p999s, 20, sizeof(double), cmp_double);
            r.p50 = p50s[10];
            p999 = p999s[10];
        } else {
            r = measure(c->op, c->batch, 50000, ov);
            p999 = r.p999;
        }
        printf("%-46s p50 %6.1f ns (batches of %3d)  p99.9 %7.1f ns (%s)   target %s\n", c->what,
               r.p50, c->batch, p999, c->single ? "single ops" : "batches", c->target);
    }
    struct otus_stats st;
    otus_stats_get(&st);
    printf("(spans dropped during the run: %llu, log records dropped: %llu)\n",
           (unsigned long long)st.spans_dropped, (unsigned long long)st.logs_dropped);
    otus_shutdown(1000);
    if (only)
        return 0;
    threads_case(1);
    start(0);
    threads_case(2);
    threads_case(4);
    otus_shutdown(1000);
    export_cost(OTUS_COMPRESSION_GZIP);
    recv_requests = 0;
    recv_stop = 0;
    export_cost(OTUS_COMPRESSION_NONE);

    if (HAVE_CALLGRIND && system("valgrind --version >/dev/null 2>&1") == 0) {
        printf("\ninstructions per operation (callgrind)\n");
        const long n = 20000;
        double base = callgrind_ir(argv[0], "nothing", n);
        for (size_t i = 0; i < NCASES; i++) {
            double ir = callgrind_ir(argv[0], cases[i].name, n);
            if (ir < 0) {
                printf("%-48s (callgrind failed)\n", cases[i].what);
                continue;
            }
            printf("%-48s %7.1f instructions/op\n", cases[i].what,
                   (ir - (base > 0 ? base : 0)) / (double)n);
        }
    } else {
        printf("\n(valgrind not installed: no instruction counts)\n");
    }
    return 0;
}
