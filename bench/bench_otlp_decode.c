/*
 * bench_otlp_decode.c: the receiver's OTLP decoder (agent/otlp_decode.h) against
 * protobuf-c's generic unpack with the same arena, on three requests like an SDK
 * sends: 100 log records (the request of bench_codec.c), 100 spans, and metrics with
 * 100 data points (sums, gauges, histograms). Prints the median and the minimum ns per
 * record of several runs for each decoder, run in alternation.
 *
 * With arguments it decodes one request a given number of times and exits, for
 * instruction counts under callgrind (bench/callgrind_otlp_decode.sh subtracts a run
 * of 0 decodes to leave the decoding alone):
 *   bench_otlp_decode logs|traces|metrics otus|protobuf-c ITERATIONS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/otlp_decode.h"
#include "common/arena.h"
#include "common/clock.h"
#include "bench/bench_logs.h"

#define RUNS    11
#define RECORDS 100

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static const ProtobufCMessageDescriptor *const descs[OTUS_SIGNAL_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *w = malloc(*len);
    if (!w || protobuf_c_message_pack(m, w) != *len)
        abort();
    return w;
}

/* Attribute storage for the builders: n key/values with string, int, double or bool. */
struct attrs {
    KeyValue kv[8];
    AnyValue v[8];
    KeyValue *p[8];
};

static void set_attrs(struct attrs *a, size_t n, const char *const *keys, int seed)
{
    static char strs[8][RECORDS * 3][24];
    static int next;
    for (size_t k = 0; k < n; k++) {
        opentelemetry__proto__common__v1__key_value__init(&a->kv[k]);
        opentelemetry__proto__common__v1__any_value__init(&a->v[k]);
        a->kv[k].key = (char *)keys[k];
        a->kv[k].value = &a->v[k];
        a->p[k] = &a->kv[k];
        switch (k % 4) {
        case 0:
        case 1:
            a->v[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            snprintf(strs[k][next % (RECORDS * 3)], 24, "v%d-%zu", seed, k);
            a->v[k].string_value = strs[k][next % (RECORDS * 3)];
            break;
        case 2:
            a->v[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            a->v[k].int_value = 200 + seed % 5;
            break;
        default:
            a->v[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            a->v[k].bool_value = seed & 1;
            break;
        }
    }
    next++;
}

static const char *const res_keys[] = {"service.name", "service.version", "host.name",
                                       "process.pid"};

/* 100 server spans with 6 attributes and a status; every tenth has an event. */
static uint8_t *make_traces(size_t *len)
{
    static Opentelemetry__Proto__Trace__V1__Span spans[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Span *spanp[RECORDS];
    static struct attrs at[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Status st[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Span__Event ev[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Span__Event *evp[RECORDS];
    static struct attrs res;
    static const char *keys[6] = {
        "http.request.method", "url.path",       "http.response.status_code",
        "http.route.matched",  "server.address", "user_agent.original"};
    for (int i = 0; i < RECORDS; i++) {
        Opentelemetry__Proto__Trace__V1__Span *s = &spans[i];
        opentelemetry__proto__trace__v1__span__init(s);
        opentelemetry__proto__trace__v1__status__init(&st[i]);
        s->trace_id = (ProtobufCBinaryData){16, bench_trace_id};
        s->span_id = (ProtobufCBinaryData){8, bench_span_id};
        s->parent_span_id = (ProtobufCBinaryData){8, bench_span_id};
        s->name = "GET /api/v1/users/{id}";
        s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
        s->start_time_unix_nano = 1700000000000000000ull + (uint64_t)i * 1000;
        s->end_time_unix_nano = s->start_time_unix_nano + 2500000;
        s->flags = 0x101;
        set_attrs(&at[i], 6, keys, i);
        s->attributes = at[i].p;
        s->n_attributes = 6;
        st[i].code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
        s->status = &st[i];
        if (i % 10 == 0) {
            opentelemetry__proto__trace__v1__span__event__init(&ev[i]);
            ev[i].name = "cache.miss";
            ev[i].time_unix_nano = s->start_time_unix_nano + 100;
            evp[i] = &ev[i];
            s->events = &evp[i];
            s->n_events = 1;
        }
        spanp[i] = s;
    }
    set_attrs(&res, 4, res_keys, 1);
    Opentelemetry__Proto__Resource__V1__Resource r =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    r.attributes = res.p;
    r.n_attributes = 4;
    Opentelemetry__Proto__Common__V1__InstrumentationScope sc =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    sc.name = "io.opentelemetry.http";
    sc.version = "1.32.0";
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.scope = &sc;
    ss.spans = spanp;
    ss.n_spans = RECORDS;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[] = {&ss};
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &r;
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[] = {&rs};
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.resource_spans = rsp;
    req.n_resource_spans = 1;
    return pack(&req.base, len);
}

/* 10 metrics of 10 data points each: 4 sums (int), 3 gauges (double), 3 histograms
 * (10 buckets); every point has 3 attributes. */
static uint8_t *make_metrics(size_t *len)
{
    static Opentelemetry__Proto__Metrics__V1__Metric m[10];
    static Opentelemetry__Proto__Metrics__V1__Metric *mp[10];
    static Opentelemetry__Proto__Metrics__V1__Sum sums[10];
    static Opentelemetry__Proto__Metrics__V1__Gauge gauges[10];
    static Opentelemetry__Proto__Metrics__V1__Histogram hists[10];
    static Opentelemetry__Proto__Metrics__V1__NumberDataPoint ndp[10][10];
    static Opentelemetry__Proto__Metrics__V1__NumberDataPoint *ndpp[10][10];
    static Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hdp[10][10];
    static Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hdpp[10][10];
    static struct attrs at[10][10];
    static uint64_t counts[10] = {1, 4, 9, 16, 25, 36, 25, 16, 4, 1};
    static double bounds[9] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    static const char *names[10] = {"http.server.requests", "http.server.errors",   "db.calls",
                                    "cache.hits",           "process.memory",       "cpu.load",
                                    "queue.depth",          "http.server.duration", "db.duration",
                                    "rpc.duration"};
    static const char *keys[3] = {"http.request.method", "http.route", "http.response.status_code"};
    static struct attrs res;
    for (int i = 0; i < 10; i++) {
        opentelemetry__proto__metrics__v1__metric__init(&m[i]);
        m[i].name = (char *)names[i];
        m[i].description = "a metric of the benchmark";
        m[i].unit = i < 7 ? "1" : "s";
        mp[i] = &m[i];
        for (int k = 0; k < 10; k++) {
            set_attrs(&at[i][k], 3, keys, i * 10 + k);
            if (i < 7) {
                Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = &ndp[i][k];
                opentelemetry__proto__metrics__v1__number_data_point__init(p);
                p->attributes = at[i][k].p;
                p->n_attributes = 3;
                p->start_time_unix_nano = 1700000000000000000ull;
                p->time_unix_nano = 1700000060000000000ull;
                if (i < 4) {
                    p->value_case =
                        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                    p->as_int = 1000 + k;
                } else {
                    p->value_case =
                        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                    p->as_double = 0.5 * k;
                }
                ndpp[i][k] = p;
            } else {
                Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p = &hdp[i][k];
                opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
                p->attributes = at[i][k].p;
                p->n_attributes = 3;
                p->start_time_unix_nano = 1700000000000000000ull;
                p->time_unix_nano = 1700000060000000000ull;
                p->count = 137;
                p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
                p->sum = 12.5;
                p->bucket_counts = counts;
                p->n_bucket_counts = 10;
                p->explicit_bounds = bounds;
                p->n_explicit_bounds = 9;
                hdpp[i][k] = p;
            }
        }
        if (i < 4) {
            opentelemetry__proto__metrics__v1__sum__init(&sums[i]);
            sums[i].data_points = ndpp[i];
            sums[i].n_data_points = 10;
            sums[i].aggregation_temporality = 2;
            sums[i].is_monotonic = 1;
            m[i].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            m[i].sum = &sums[i];
        } else if (i < 7) {
            opentelemetry__proto__metrics__v1__gauge__init(&gauges[i]);
            gauges[i].data_points = ndpp[i];
            gauges[i].n_data_points = 10;
            m[i].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            m[i].gauge = &gauges[i];
        } else {
            opentelemetry__proto__metrics__v1__histogram__init(&hists[i]);
            hists[i].data_points = hdpp[i];
            hists[i].n_data_points = 10;
            hists[i].aggregation_temporality = 2;
            m[i].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
            m[i].histogram = &hists[i];
        }
    }
    set_attrs(&res, 4, res_keys, 2);
    Opentelemetry__Proto__Resource__V1__Resource r =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    r.attributes = res.p;
    r.n_attributes = 4;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.metrics = mp;
    sm.n_metrics = 10;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp[] = {&sm};
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &r;
    rm.scope_metrics = smp;
    rm.n_scope_metrics = 1;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp[] = {&rm};
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.resource_metrics = rmp;
    req.n_resource_metrics = 1;
    return pack(&req.base, len);
}

static uint8_t *make(enum otus_signal s, size_t *len)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES:
        return make_traces(len);
    case OTUS_SIGNAL_METRICS:
        return make_metrics(len);
    default:
        return bench_logs_wire(len);
    }
}

/* One decode into a reset arena, with either decoder; aborts on failure. */
static void decode_once(enum otus_signal s, int ours, const uint8_t *w, size_t len,
                        struct otus_arena *a)
{
    otus_arena_reset(a);
    if (ours) {
        ProtobufCMessage *m = NULL;
        if (otus_otlp_decode(s, w, len, a, &m) != 0)
            abort();
    } else if (!protobuf_c_message_unpack(descs[s], otus_arena_protobuf(a), len, w)) {
        abort();
    }
}

/* Both decoders give requests that re-encode to the input bytes. */
static void check(enum otus_signal s, const uint8_t *w, size_t len)
{
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    ProtobufCMessage *m = NULL;
    if (otus_otlp_decode(s, w, len, &a, &m) != 0 || protobuf_c_message_get_packed_size(m) != len)
        abort();
    uint8_t *again = malloc(len);
    if (!again || protobuf_c_message_pack(m, again) != len || memcmp(again, w, len) != 0)
        abort();
    free(again);
    otus_arena_destroy(&a);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/*
 * Times both decoders in alternation, RUNS batches each, so that load from elsewhere on
 * a shared machine falls on both alike; t[0] gets protobuf-c's ns per record, sorted,
 * t[1] the decoder's.
 */
static void time_both(enum otus_signal s, const uint8_t *w, size_t len, double t[2][RUNS])
{
    const int iters = 1000;
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    for (int i = 0; i < 50; i++) {
        decode_once(s, 0, w, len, &a); /* warm the arena's chunk and the caches */
        decode_once(s, 1, w, len, &a);
    }
    for (int r = 0; r < RUNS; r++) {
        for (int ours = 0; ours < 2; ours++) {
            uint64_t t0 = otus_clock_mono_ns();
            for (int i = 0; i < iters; i++)
                decode_once(s, ours, w, len, &a);
            t[ours][r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
        }
    }
    otus_arena_destroy(&a);
    qsort(t[0], RUNS, sizeof(double), cmp_double);
    qsort(t[1], RUNS, sizeof(double), cmp_double);
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        enum otus_signal s;
        if (otus_signal_parse(argv[1], &s) != 0)
            return 2;
        int ours = strcmp(argv[2], "otus") == 0;
        long n = strtol(argv[3], NULL, 10);
        size_t len;
        uint8_t *w = make(s, &len);
        struct otus_arena a;
        otus_arena_init(&a, 64 * 1024, 0);
        for (long i = 0; i < n; i++)
            decode_once(s, ours, w, len, &a);
        otus_arena_destroy(&a);
        free(w);
        return 0;
    }
    static const enum otus_signal order[] = {OTUS_SIGNAL_LOGS, OTUS_SIGNAL_TRACES,
                                             OTUS_SIGNAL_METRICS};
    for (int i = 0; i < 3; i++) {
        enum otus_signal s = order[i];
        size_t len;
        uint8_t *w = make(s, &len);
        check(s, w, len);
        double t[2][RUNS];
        time_both(s, w, len, t);
        printf("otlp decode %-8s %6zu bytes  median ns/record: protobuf-c %7.1f  otus %7.1f "
               "(%.2fx)  min: %.1f, %.1f\n",
               otus_signal_name(s), len, t[0][RUNS / 2], t[1][RUNS / 2],
               t[0][RUNS / 2] / t[1][RUNS / 2], t[0][0], t[1][0]);
        free(w);
    }
    return 0;
}
