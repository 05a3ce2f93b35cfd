/*
 * test_prom_pb.c: the Prometheus exporter's protobuf exposition (prom_pb.c).
 *
 * The mapping of OTLP exponential histograms to native histograms (scales, offsets and
 * the shift by one between OTLP and Prometheus bucket indices, negative buckets, the
 * zero bucket, downscaling from scale 20 to schema 8, scales without a native form,
 * empty histograms); a store with every kind of series rendered, compared with the
 * golden body tests/data/prometheus/every_kind.pb, decoded with the protobuf-c code
 * generated from our transcription of metrics.proto and checked field by field, and
 * re-encoded by protobuf-c to the same bytes (the encoding is canonical); classic
 * buckets of exponential histograms equal to the text format's; and the agent's own
 * metrics read from their text form.
 */
#include "otus_test.h"

#include <math.h>

#include <otus.h>

#include "exporters/prometheus/prom_expo.h"
#include "exporters/prometheus/prom_pb.h"
#include "io/prometheus/client/metrics.pb-c.h"
#include "test_prom_fixture.h"

#define SEC 1000000000ull

typedef Io__Prometheus__Client__MetricFamily MF;
typedef Io__Prometheus__Client__Metric PMetric;
typedef Io__Prometheus__Client__Histogram PHist;
typedef Io__Prometheus__Client__Exemplar PExemplar;

#define T_COUNTER   IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
#define T_GAUGE     IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE
#define T_SUMMARY   IO__PROMETHEUS__CLIENT__METRIC_TYPE__SUMMARY
#define T_UNTYPED   IO__PROMETHEUS__CLIENT__METRIC_TYPE__UNTYPED
#define T_HISTOGRAM IO__PROMETHEUS__CLIENT__METRIC_TYPE__HISTOGRAM

/* ---- the native mapping ---------------------------------------------------------------- */

static struct prom_exph exph(int32_t scale, int32_t pos_off, uint64_t *pos, uint32_t pos_n,
                             int32_t neg_off, uint64_t *neg, uint32_t neg_n, uint64_t zero,
                             double zero_threshold)
{
    struct prom_exph e = {
        .scale = scale,
        .pos_off = pos_off,
        .neg_off = neg_off,
        .pos_n = pos_n,
        .neg_n = neg_n,
        .pos = pos,
        .neg = neg,
        .zero_count = zero,
        .zero_threshold = zero_threshold,
    };
    return e;
}

static void assert_side(const struct prom_native_side *s, int32_t first, const uint64_t *want,
                        uint32_t n)
{
    assert_int_equal(s->n, n);
    if (n)
        assert_int_equal(s->first, first);
    for (uint32_t i = 0; i < n; i++)
        if (s->counts[i] != want[i])
            fail_msg("bucket %d: %llu, want %llu", first + (int32_t)i,
                     (unsigned long long)s->counts[i], (unsigned long long)want[i]);
}

static void native_offsets_shift_by_one(void **state)
{
    (void)state;
    struct otus_buf scratch;
    otus_buf_init(&scratch, 0);
    struct prom_native n;
    /* OTLP bucket 5 at scale 3 is (2^(5/8), 2^(6/8)]: Prometheus bucket 6. */
    uint64_t pos[] = {1, 2, 3};
    struct prom_exph e = exph(3, 5, pos, 3, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, 3);
    assert_side(&n.pos, 6, (uint64_t[]){1, 2, 3}, 3);
    assert_side(&n.neg, 0, NULL, 0);
    assert_int_equal(n.count, 6);
    assert_int_equal(n.zero_count, 0);
    /* Negative offsets: OTLP -3..-1 are Prometheus -2..0, (2^-3, 1] at scale 0. */
    e = exph(0, -3, pos, 3, 0, NULL, 0, 4, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_side(&n.pos, -2, (uint64_t[]){1, 2, 3}, 3);
    assert_int_equal(n.zero_count, 4);
    assert_int_equal(n.count, 10);
    /* The bucket boundaries agree: Prometheus i is (base^(i-1), base^i]. */
    assert_true(prom_exp_bound(0, -2) == 0.25);
    otus_buf_free(&scratch);
}

static void native_negative_and_zero_buckets(void **state)
{
    (void)state;
    struct otus_buf scratch;
    otus_buf_init(&scratch, 0);
    struct prom_native n;
    /* Negative OTLP buckets 1, 2 (magnitudes (2, 4], (4, 8]) are Prometheus 2, 3. */
    uint64_t neg[] = {3, 4};
    uint64_t pos[] = {2, 0, 1};
    struct prom_exph e = exph(0, -1, pos, 3, 1, neg, 2, 5, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_side(&n.neg, 2, neg, 2);
    assert_side(&n.pos, 0, pos, 3);
    assert_int_equal(n.zero_count, 5);
    assert_true(n.zero_threshold == 0);
    assert_int_equal(n.count, 15);
    /* A zero threshold of 1: Prometheus bucket 0, (1/2, 1], lies inside [-1, 1] and
     * counts in the zero bucket; bucket 1, (1, 2], does not. Negative buckets too. */
    uint64_t neg2[] = {6, 7};
    e = exph(0, -1, pos, 3, -1, neg2, 2, 5, 1.0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_side(&n.pos, 1, (uint64_t[]){0, 1}, 2);
    assert_side(&n.neg, 1, (uint64_t[]){7}, 1);
    assert_int_equal(n.zero_count, 5 + 2 + 6);
    assert_true(n.zero_threshold == 1.0);
    assert_int_equal(n.count, 5 + 2 + 6 + 1 + 7);
    otus_buf_free(&scratch);
}

static void native_downscale_20_to_8(void **state)
{
    (void)state;
    struct otus_buf scratch;
    otus_buf_init(&scratch, 0);
    struct prom_native n;
    /* 2^12 buckets at scale 20 make one at schema 8: OTLP 4095 and 4096 fall into 0 and
     * 1 at scale 8, Prometheus 1 and 2; -4097 into -2, -4096 and -4095 into -1. */
    uint64_t pos[] = {1, 1};
    uint64_t neg[] = {1, 1, 1};
    struct prom_exph e = exph(20, 4095, pos, 2, -4097, neg, 3, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, 8);
    assert_side(&n.pos, 1, (uint64_t[]){1, 1}, 2);
    assert_side(&n.neg, -1, (uint64_t[]){1, 2}, 2);
    assert_int_equal(n.count, 5);
    /* Every OTLP bucket j at scale 20, (2^(j/2^20), 2^((j+1)/2^20)], lies inside the
     * Prometheus bucket p it lands in, (2^((p-1)/2^8), 2^(p/2^8)]. */
    uint64_t one = 1;
    for (int32_t j = -20000; j <= 20000; j += 37) {
        e = exph(20, j, &one, 1, 0, NULL, 0, 0, 0);
        assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
        int64_t p = n.pos.first;
        if (!((p - 1) * 4096 <= j && (int64_t)j + 1 <= p * 4096))
            fail_msg("OTLP bucket %d at scale 20 mapped to %lld at schema 8", j, (long long)p);
    }
    /* Scales from 9 up are lowered to 8 (OTLP 2 and 3 at scale 9 are 1 at scale 8),
     * 8 and below are kept. */
    e = exph(9, 2, pos, 2, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, 8);
    assert_side(&n.pos, 2, (uint64_t[]){2}, 1);
    e = exph(8, 3, pos, 2, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, 8);
    assert_side(&n.pos, 4, pos, 2);
    otus_buf_free(&scratch);
}

static void native_low_scales_and_empty(void **state)
{
    (void)state;
    struct otus_buf scratch;
    otus_buf_init(&scratch, 0);
    struct prom_native n;
    uint64_t pos[] = {1};
    struct prom_exph e = exph(-4, 0, pos, 1, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, -4);
    assert_side(&n.pos, 1, pos, 1);
    /* Below -4 there is no native form (buckets cannot be split). */
    e = exph(-5, 0, pos, 1, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), OTUS_ERR_INVALID);
    e = exph(2, 0, NULL, 0, 0, NULL, 0, 0, 0);
    assert_int_equal(prom_native_from_exp(&e, &n, &scratch), 0);
    assert_int_equal(n.schema, 2);
    assert_int_equal(n.pos.n + n.neg.n, 0);
    assert_int_equal(n.count, 0);
    otus_buf_free(&scratch);
}

/* ---- rendering and decoding --------------------------------------------------------------- */

static FxExpPoint *exp_point(struct fx *f, const char *name, const char *unit, int scale,
                             int32_t off, const uint64_t *pos, size_t np, uint64_t zero, double sum)
{
    return fx_exp(f, fx_metric(f, name, unit, name), FX_CUMULATIVE, scale, off, pos, np, zero, sum,
                  1 * SEC, 2 * SEC, NULL);
}

static void exp_negative(struct fx *f, FxExpPoint *p, int32_t off, const uint64_t *neg, size_t n)
{
    p->negative = fx_alloc(f, sizeof(*p->negative));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(p->negative);
    p->negative->offset = off;
    p->negative->bucket_counts = fx_alloc(f, sizeof(uint64_t) * (n + 1));
    memcpy(p->negative->bucket_counts, neg, sizeof(uint64_t) * n);
    p->negative->n_bucket_counts = n;
    for (size_t i = 0; i < n; i++)
        p->count += neg[i];
}

/* The request behind tests/data/prometheus/every_kind.pb. */
static void kinds(struct fx *f)
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
    fx_sum(f, fx_metric(f, "inflight", "", "Bad \xff help"), 0, FX_CUMULATIVE, -2, SEC, 2 * SEC,
           NULL);
    /* Native: positive buckets, the zero bucket, an exemplar. */
    FxExpPoint *x = exp_point(f, "rpc.size", "By", 1, 0, (uint64_t[]){1, 2, 3}, 3, 1, 100);
    FX_PUSH(f, x->exemplars, x->n_exemplars, fx_exemplar(f, 2.5, 0x33, 0x44, 1800000000));
    /* Negative buckets, a zero threshold that takes in a positive bucket, gaps. */
    x = exp_point(f, "rpc.latency", "s", 0, -1, (uint64_t[]){2, 0, 1, 0, 0, 0, 5}, 7, 2, -3.5);
    exp_negative(f, x, 1, (uint64_t[]){3, 4}, 2);
    x->zero_threshold = 1.0;
    /* Gaps of two empty buckets (sent as zeros) and of three (a new span). */
    exp_point(f, "gap.sizes", "", 1, 0, (uint64_t[]){1, 0, 0, 2, 0, 0, 0, 3}, 8, 0, 9);
    /* Scale 20, downscaled to schema 8. */
    x = exp_point(f, "fine.sizes", "", 20, 4095, (uint64_t[]){1, 1}, 2, 0, 4);
    exp_negative(f, x, -4097, (uint64_t[]){1, 1, 1}, 3);
    /* Nothing observed yet. */
    exp_point(f, "idle.sizes", "", 3, 0, (uint64_t[]){0}, 0, 0, 0);
    /* Scale -6 has no native form: classic buckets. */
    exp_point(f, "coarse.sizes", "", -6, 0, (uint64_t[]){1}, 1, 0, 5);
    fx_summary(f, fx_metric(f, "gc.pause", "s", "GC"), (double[]){0.5, 0.99}, (double[]){0.01, 0.2},
               2, 10, 0.5, SEC, 2 * SEC, NULL);
}

static struct prom_store *kinds_store(void)
{
    struct prom_store_cfg c = {
        .ttl_ms = 60000,
        .max_series = 1000,
        .max_bytes = 64u << 20,
        .max_label_bytes = 4096,
        .max_buckets = 160,
        .scope_labels = 1,
    };
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    kinds(&f);
    prom_store_ingest(s, f.req, 1);
    fx_end(&f);
    assert_int_equal(prom_store_stats(s)->points, 11);
    return s;
}

struct decoded {
    MF *f[64];
    size_t n;
};

/* Splits a delimited stream into MetricFamily messages, each unpacked by protobuf-c and
 * packed again by it to exactly the bytes it came from. */
static void decode(const struct otus_buf *b, struct decoded *d)
{
    memset(d, 0, sizeof(*d));
    const uint8_t *p = (const uint8_t *)b->data, *end = p + b->len;
    while (p < end) {
        uint64_t len = 0;
        int shift = 0;
        while (p < end && (*p & 0x80)) {
            len |= (uint64_t)(*p++ & 0x7f) << shift;
            shift += 7;
        }
        assert_true(p < end);
        len |= (uint64_t)*p++ << shift;
        assert_true(len <= (uint64_t)(end - p));
        assert_true(d->n < 64);
        MF *f = io__prometheus__client__metric_family__unpack(NULL, len, p);
        if (!f)
            fail_msg("MetricFamily %zu does not decode", d->n);
        size_t packed = io__prometheus__client__metric_family__get_packed_size(f);
        assert_int_equal(packed, len);
        uint8_t *again = malloc(packed);
        io__prometheus__client__metric_family__pack(f, again);
        if (memcmp(again, p, len) != 0)
            fail_msg("%s: not what protobuf-c encodes", f->name);
        free(again);
        d->f[d->n++] = f;
        p += len;
    }
}

static void decoded_free(struct decoded *d)
{
    for (size_t i = 0; i < d->n; i++)
        io__prometheus__client__metric_family__free_unpacked(d->f[i], NULL);
}

static MF *family(struct decoded *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->f[i]->name, name) == 0)
            return d->f[i];
    fail_msg("no family %s", name);
    return NULL;
}

/* Checks m's labels against a NULL-terminated list of names and values, after the four
 * labels every series of the request has. */
static void assert_labels(const PMetric *m, ...)
{
    static const char *const common[] = {
        "job",  "shop/checkout",      "instance", "pod-1", "otel_scope_name",
        "otus", "otel_scope_version", "0.1.0"};
    size_t i = 0;
    for (; i < 4; i++) {
        assert_true(i < m->n_label);
        assert_string_equal(m->label[i]->name, common[2 * i]);
        assert_string_equal(m->label[i]->value, common[2 * i + 1]);
    }
    va_list ap;
    va_start(ap, m);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL; i++) {
        const char *v = va_arg(ap, const char *);
        assert_true(i < m->n_label);
        assert_string_equal(m->label[i]->name, k);
        assert_string_equal(m->label[i]->value, v);
    }
    va_end(ap);
    assert_int_equal(m->n_label, i);
}

static void assert_ts(const Google__Protobuf__Timestamp *t, int64_t s, int32_t ns)
{
    assert_non_null(t);
    assert_int_equal(t->seconds, s);
    assert_int_equal(t->nanos, ns);
}

static void assert_exemplar(const PExemplar *e, const char *trace, const char *span, double v,
                            int64_t s, int32_t ns)
{
    assert_non_null(e);
    assert_int_equal(e->n_label, 2);
    assert_string_equal(e->label[0]->name, "trace_id");
    assert_string_equal(e->label[0]->value, trace);
    assert_string_equal(e->label[1]->name, "span_id");
    assert_string_equal(e->label[1]->value, span);
    assert_true(e->has_value && e->value == v);
    assert_ts(e->timestamp, s, ns);
}

static void assert_spans(Io__Prometheus__Client__BucketSpan **sp, size_t n, const int32_t *want,
                         size_t nwant)
{
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_true(sp[i]->has_offset && sp[i]->has_length);
        assert_int_equal(sp[i]->offset, want[2 * i]);
        assert_int_equal(sp[i]->length, (uint32_t)want[2 * i + 1]);
    }
}

static void assert_deltas(const int64_t *d, size_t n, const int64_t *want, size_t nwant)
{
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(d[i], want[i]);
}

static PHist *one_histogram(struct decoded *d, const char *name)
{
    MF *f = family(d, name);
    assert_int_equal(f->type, T_HISTOGRAM);
    assert_int_equal(f->n_metric, 1);
    assert_labels(f->metric[0], NULL);
    assert_non_null(f->metric[0]->histogram);
    return f->metric[0]->histogram;
}

static void render(struct prom_store *s, int native, int classic, struct otus_buf *out,
                   struct decoded *d)
{
    struct prom_pb_opts o = {.native = native, .classic_for_native = classic};
    otus_buf_init(out, 0);
    assert_int_equal(prom_pb_render(s, &o, out), 0);
    decode(out, d);
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

static void golden_protobuf(void **state)
{
    (void)state;
    struct prom_store *s = kinds_store();
    struct otus_buf out;
    struct decoded d;
    render(s, 1, 0, &out, &d);
    size_t n;
    const char *want = slurp("tests/data/prometheus/every_kind.pb", &n);
    if (out.len != n || memcmp(out.data, want, n) != 0) {
        FILE *fp = fopen("build/prom_golden_got.pb", "wb");
        if (fp) {
            fwrite(out.data, 1, out.len, fp);
            fclose(fp);
        }
        fail_msg("every_kind.pb differs (got in build/prom_golden_got.pb)");
    }
    /* Families in the order of the text formats: target_info, then by name. */
    static const char *const order[] = {"target_info",
                                        "coarse_sizes",
                                        "fine_sizes",
                                        "gap_sizes",
                                        "gc_pause_seconds",
                                        "http_server_duration_milliseconds",
                                        "http_server_requests_total",
                                        "idle_sizes",
                                        "inflight",
                                        "queue_depth",
                                        "rpc_latency_seconds",
                                        "rpc_size_bytes"};
    assert_int_equal(d.n, sizeof(order) / sizeof(order[0]));
    for (size_t i = 0; i < d.n; i++)
        assert_string_equal(d.f[i]->name, order[i]);

    MF *f = family(&d, "target_info");
    assert_string_equal(f->help, "Target metadata");
    assert_int_equal(f->type, T_GAUGE);
    assert_int_equal(f->n_metric, 1);
    assert_int_equal(f->metric[0]->n_label, 3);
    assert_string_equal(f->metric[0]->label[2]->name, "deployment_environment");
    assert_string_equal(f->metric[0]->label[2]->value, "prod");
    assert_true(f->metric[0]->gauge->value == 1);

    /* A counter: named with _total, HELP as it was sent, label values unescaped, its
     * exemplar and start time. */
    f = family(&d, "http_server_requests_total");
    assert_string_equal(f->help, "Requests \"served\"\n\\");
    assert_int_equal(f->type, T_COUNTER);
    assert_null(f->unit);
    assert_labels(f->metric[0], "http_method", "GET", "path", "/a\"b\\c\nd", NULL);
    assert_true(f->metric[0]->counter->value == 42);
    assert_exemplar(f->metric[0]->counter->exemplar, "abababababababababababababababab",
                    "cdcdcdcdcdcdcdcd", 1, 1, 500000000);
    assert_ts(f->metric[0]->counter->created_timestamp, 1, 0);
    assert_false(f->metric[0]->has_timestamp_ms);

    f = family(&d, "queue_depth");
    assert_int_equal(f->type, T_GAUGE);
    assert_true(f->metric[0]->gauge->value == 3.25);
    f = family(&d, "inflight");
    assert_string_equal(f->help, "Bad \xEF\xBF\xBD help");
    assert_true(f->metric[0]->gauge->value == -2);

    /* A classic histogram: cumulative buckets up to +Inf; the exemplar on its bucket
     * and, as in OpenMetrics, on the buckets above it that have none. */
    f = family(&d, "http_server_duration_milliseconds");
    assert_string_equal(f->unit, "milliseconds");
    PHist *h = one_histogram(&d, "http_server_duration_milliseconds");
    assert_int_equal(h->sample_count, 10);
    assert_true(h->has_sample_sum && h->sample_sum == 123.5);
    assert_int_equal(h->n_bucket, 4);
    static const double ub[] = {5, 10, 25, INFINITY};
    static const uint64_t cum[] = {1, 3, 6, 10};
    for (int i = 0; i < 4; i++) {
        assert_true(h->bucket[i]->upper_bound == ub[i]);
        assert_int_equal(h->bucket[i]->cumulative_count, cum[i]);
        if (i == 0)
            assert_null(h->bucket[i]->exemplar);
        else
            assert_exemplar(h->bucket[i]->exemplar, "11111111111111111111111111111111",
                            "2222222222222222", 7, 1, 700000000);
    }
    assert_false(h->has_schema);
    assert_int_equal(h->n_positive_span, 0);
    assert_ts(h->created_timestamp, 1, 0);

    /* Native: schema = scale, OTLP buckets 0..2 are Prometheus 1..3, the exemplar with
     * its timestamp, no classic buckets. */
    h = one_histogram(&d, "rpc_size_bytes");
    assert_true(h->has_schema && h->schema == 1);
    assert_true(h->has_zero_threshold && h->zero_threshold == 0);
    assert_true(h->has_zero_count && h->zero_count == 1);
    assert_int_equal(h->sample_count, 7);
    assert_true(h->sample_sum == 100);
    assert_int_equal(h->n_bucket, 0);
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){1, 3}, 1);
    assert_deltas(h->positive_delta, h->n_positive_delta, (int64_t[]){1, 1, 1}, 3);
    assert_int_equal(h->n_negative_span + h->n_negative_delta, 0);
    assert_int_equal(h->n_exemplars, 1);
    assert_exemplar(h->exemplars[0], "33333333333333333333333333333333", "4444444444444444", 2.5, 1,
                    800000000);
    assert_ts(h->created_timestamp, 1, 0);

    /* Negative buckets; the zero threshold 1 takes in Prometheus bucket 0 (1/2, 1]; a
     * gap of three empty buckets starts a new span; the sum, though negative, is kept. */
    h = one_histogram(&d, "rpc_latency_seconds");
    assert_int_equal(h->schema, 0);
    assert_true(h->zero_threshold == 1.0);
    assert_int_equal(h->zero_count, 4);
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){2, 1, 3, 1}, 2);
    assert_deltas(h->positive_delta, h->n_positive_delta, (int64_t[]){1, 4}, 2);
    assert_spans(h->negative_span, h->n_negative_span, (int32_t[]){2, 2}, 1);
    assert_deltas(h->negative_delta, h->n_negative_delta, (int64_t[]){3, 1}, 2);
    assert_int_equal(h->sample_count, 4 + 1 + 5 + 3 + 4);
    assert_true(h->has_sample_sum && h->sample_sum == -3.5);

    /* Two empty buckets are sent as zeros, three start a new span. */
    h = one_histogram(&d, "gap_sizes");
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){1, 4, 3, 1}, 2);
    assert_deltas(h->positive_delta, h->n_positive_delta, (int64_t[]){1, -1, 0, 2, 1}, 5);

    /* Scale 20 downscaled to schema 8. */
    h = one_histogram(&d, "fine_sizes");
    assert_int_equal(h->schema, 8);
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){1, 2}, 1);
    assert_deltas(h->positive_delta, h->n_positive_delta, (int64_t[]){1, 0}, 2);
    assert_spans(h->negative_span, h->n_negative_span, (int32_t[]){-1, 2}, 1);
    assert_deltas(h->negative_delta, h->n_negative_delta, (int64_t[]){1, 1}, 2);
    assert_int_equal(h->sample_count, 5);

    /* Nothing observed: still native, by its span of offset 0 and length 0. */
    h = one_histogram(&d, "idle_sizes");
    assert_true(h->has_schema && h->schema == 3);
    assert_int_equal(h->sample_count, 0);
    assert_int_equal(h->zero_count, 0);
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){0, 0}, 1);
    assert_int_equal(h->n_positive_delta + h->n_negative_span + h->n_negative_delta, 0);

    /* Scale -6: classic buckets only (the zero bucket, 2^64, +Inf). */
    h = one_histogram(&d, "coarse_sizes");
    assert_false(h->has_schema);
    assert_int_equal(h->n_positive_span, 0);
    assert_int_equal(h->n_bucket, 3);
    assert_true(h->bucket[0]->upper_bound == 0 && h->bucket[0]->cumulative_count == 0);
    assert_true(h->bucket[1]->upper_bound == ldexp(1, 64) && h->bucket[1]->cumulative_count == 1);
    assert_true(isinf(h->bucket[2]->upper_bound) && h->bucket[2]->cumulative_count == 1);

    f = family(&d, "gc_pause_seconds");
    assert_int_equal(f->type, T_SUMMARY);
    Io__Prometheus__Client__Summary *sm = f->metric[0]->summary;
    assert_int_equal(sm->sample_count, 10);
    assert_true(sm->sample_sum == 0.5);
    assert_int_equal(sm->n_quantile, 2);
    assert_true(sm->quantile[0]->quantile == 0.5 && sm->quantile[0]->value == 0.01);
    assert_true(sm->quantile[1]->quantile == 0.99 && sm->quantile[1]->value == 0.2);
    assert_ts(sm->created_timestamp, 1, 0);

    decoded_free(&d);
    otus_buf_free(&out);
    prom_store_destroy(s);
}

/* With classic buckets for native histograms both forms are in one message; without
 * native histograms only the classic ones. */
static void classic_buckets_for_native(void **state)
{
    (void)state;
    struct prom_store *s = kinds_store();
    struct otus_buf out;
    struct decoded d;
    render(s, 1, 1, &out, &d);
    PHist *h = one_histogram(&d, "rpc_size_bytes");
    assert_true(h->has_schema && h->schema == 1);
    assert_spans(h->positive_span, h->n_positive_span, (int32_t[]){1, 3}, 1);
    /* le 0 (zero bucket), 2^(1/2), 2, 2^(3/2), +Inf; the exemplar (2.5) from 2^(3/2). */
    assert_int_equal(h->n_bucket, 5);
    static const uint64_t cum[] = {1, 2, 4, 7, 7};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h->bucket[i]->cumulative_count, cum[i]);
        assert_true((h->bucket[i]->exemplar != NULL) == (i >= 3));
    }
    assert_true(h->bucket[1]->upper_bound == sqrt(2.0));
    assert_int_equal(h->n_exemplars, 1);
    /* Negative observations: the sum stays, as the native histogram takes it. */
    h = one_histogram(&d, "rpc_latency_seconds");
    assert_true(h->has_sample_sum && h->n_bucket > 0 && h->has_schema);
    decoded_free(&d);
    otus_buf_free(&out);

    render(s, 0, 0, &out, &d);
    h = one_histogram(&d, "rpc_size_bytes");
    assert_false(h->has_schema);
    assert_int_equal(h->n_positive_span + h->n_exemplars, 0);
    assert_int_equal(h->n_bucket, 5);
    /* Classic only: no sum with negative observations (as in the text formats). */
    h = one_histogram(&d, "rpc_latency_seconds");
    assert_false(h->has_sample_sum);
    assert_int_equal(one_histogram(&d, "idle_sizes")->n_bucket, 2);
    decoded_free(&d);
    otus_buf_free(&out);
    prom_store_destroy(s);
}

/* The classic buckets of every histogram are the text format's "le" lines. */
static void classic_buckets_match_text(void **state)
{
    (void)state;
    struct prom_store *s = kinds_store();
    struct otus_buf text, out;
    otus_buf_init(&text, 0);
    assert_int_equal(prom_expo_render(s, PROM_FMT_TEXT, &text), 0);
    assert_int_equal(otus_buf_append_byte(&text, '\0'), 0);
    struct decoded d;
    render(s, 0, 0, &out, &d);
    size_t checked = 0;
    for (size_t i = 0; i < d.n; i++) {
        MF *f = d.f[i];
        if (f->type != T_HISTOGRAM)
            continue;
        PHist *h = f->metric[0]->histogram;
        const char *p = text.data;
        for (size_t k = 0; k < h->n_bucket; k++) {
            char le[PROM_NUM_MAX + 16], want[256];
            prom_fmt_canonical(h->bucket[k]->upper_bound, le);
            snprintf(want, sizeof(want), "%s_bucket{", f->name);
            p = strstr(p, want);
            assert_non_null(p);
            snprintf(want, sizeof(want), "le=\"%s\"} %llu\n", le,
                     (unsigned long long)h->bucket[k]->cumulative_count);
            const char *eol = strchr(p, '\n');
            if (strncmp(eol - strlen(want) + 1, want, strlen(want)) != 0)
                fail_msg("%s bucket %zu: text has %.*s", f->name, k, (int)(eol - p), p);
            p = eol;
            checked++;
        }
        /* _count is the +Inf bucket; _sum is there when the protobuf has one. */
        char want[256];
        snprintf(want, sizeof(want), "\n%s_count{", f->name);
        const char *c = strstr(text.data, want);
        assert_non_null(c);
        c = strchr(c + 1, '\n');
        while (c[-1] != ' ')
            c--;
        assert_int_equal(strtoull(c, NULL, 10), h->sample_count);
        snprintf(want, sizeof(want), "\n%s_sum{", f->name);
        assert_int_equal(strstr(text.data, want) != NULL, h->has_sample_sum);
    }
    assert_true(checked >= 20);
    decoded_free(&d);
    otus_buf_free(&out);
    otus_buf_free(&text);
    prom_store_destroy(s);
}

/* ---- the agent's own metrics from text ---------------------------------------------------- */

static void self_metrics_from_text(void **state)
{
    (void)state;
    static const char text[] = "# HELP otus_up Whether the agent runs.\n"
                               "# TYPE otus_up gauge\n"
                               "otus_up 1\n"
                               "# HELP otus_sent_total Records sent, by \\\\ exporter\\nand more.\n"
                               "# TYPE otus_sent_total counter\n"
                               "otus_sent_total{exporter=\"es\",path=\"a\\\"b}\\\\c\\nd\"} 1234\n"
                               "otus_sent_total{exporter=\"file\"} +Inf\n"
                               "otus_lag NaN\n"
                               "# TYPE otus_wait histogram\n"
                               "otus_wait_bucket{le=\"1.0\"} 2\n"
                               "otus_wait_bucket{le=\"+Inf\"} 3\n"
                               "otus_wait_count 3\n"
                               "not a sample line\n"
                               "# TYPE otus_ratio gauge\n"
                               "otus_ratio -0.25 1700000000000";
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(prom_pb_from_text(text, sizeof(text) - 1, &out), 0);
    struct decoded d;
    decode(&out, &d);
    static const char *const names[] = {"otus_up",          "otus_sent_total", "otus_lag",
                                        "otus_wait_bucket", "otus_wait_count", "otus_ratio"};
    assert_int_equal(d.n, 6);
    for (size_t i = 0; i < d.n; i++)
        assert_string_equal(d.f[i]->name, names[i]);
    MF *f = d.f[0];
    assert_string_equal(f->help, "Whether the agent runs.");
    assert_int_equal(f->type, T_GAUGE);
    assert_int_equal(f->metric[0]->n_label, 0);
    assert_true(f->metric[0]->gauge->value == 1);
    f = d.f[1];
    assert_string_equal(f->help, "Records sent, by \\ exporter\nand more.");
    assert_int_equal(f->type, T_COUNTER);
    assert_int_equal(f->n_metric, 2);
    assert_int_equal(f->metric[0]->n_label, 2);
    assert_string_equal(f->metric[0]->label[1]->name, "path");
    assert_string_equal(f->metric[0]->label[1]->value, "a\"b}\\c\nd");
    assert_true(f->metric[0]->counter->value == 1234);
    assert_true(isinf(f->metric[1]->counter->value));
    f = d.f[2];
    assert_null(f->help);
    assert_int_equal(f->type, T_UNTYPED);
    assert_true(isnan(f->metric[0]->untyped->value));
    /* A histogram's samples keep their series as untyped families. */
    f = d.f[3];
    assert_int_equal(f->type, T_UNTYPED);
    assert_int_equal(f->n_metric, 2);
    assert_string_equal(f->metric[1]->label[0]->value, "+Inf");
    assert_true(f->metric[1]->untyped->value == 3);
    f = d.f[5];
    assert_int_equal(f->type, T_GAUGE);
    assert_true(f->metric[0]->gauge->value == -0.25);
    decoded_free(&d);
    otus_buf_free(&out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(native_offsets_shift_by_one),
        cmocka_unit_test(native_negative_and_zero_buckets),
        cmocka_unit_test(native_downscale_20_to_8),
        cmocka_unit_test(native_low_scales_and_empty),
        cmocka_unit_test(golden_protobuf),
        cmocka_unit_test(classic_buckets_for_native),
        cmocka_unit_test(classic_buckets_match_text),
        cmocka_unit_test(self_metrics_from_text),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
