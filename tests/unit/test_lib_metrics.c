/*
 * test_lib_metrics.c: every instrument and aggregation of libotus, checked in the
 * OTLP the library exports: counter and up-down counter sums, gauges, explicit bucket
 * histograms (OpenTelemetry's default boundaries, upper-inclusive buckets), base-2
 * exponential histograms (index mapping, scale changes, merging), attribute sets
 * (order, duplicates), the series limit with its overflow series, and exemplars.
 */
#include "test_lib.h"

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpPoint;

static int setup(void **state)
{
    (void)state;
    lib_start(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lib_stop();
    return 0;
}

static const NumberPoint *sum_point(const Metric *m, const char *key, const char *value)
{
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    for (size_t i = 0; i < m->sum->n_data_points; i++) {
        const NumberPoint *p = m->sum->data_points[i];
        if (!key || kv_has_str(p->attributes, p->n_attributes, key, value))
            return p;
    }
    return NULL;
}

static void counter(void **state)
{
    (void)state;
    struct otus_metric *c = otus_counter_create("t.requests", "{request}", "Requests served");
    assert_non_null(c);
    /* The same identity gives the same instrument. */
    assert_ptr_equal(otus_counter_create("t.requests", "{request}", "Requests served"), c);
    struct otus_attr a[2] = {otus_attr_str("method", "GET"), otus_attr_int("code", 200)};
    struct otus_attr b[2] = {otus_attr_int("code", 200), otus_attr_str("method", "GET")};
    struct otus_series *s = otus_metric_bind(c, a, 2);
    assert_ptr_equal(otus_metric_bind(c, b, 2), s); /* order does not matter */
    for (int i = 0; i < 1000; i++)
        otus_series_add(s, 2);
    otus_metric_add(c, 5, b, 2);
    struct otus_attr post = otus_attr_str("method", "POST");
    otus_metric_add(c, 7, &post, 1);
    otus_series_add(s, -1); /* refused: a counter only goes up */
    uint64_t dropped = otus__stat_get(OTUS__STAT_MEAS_DROPPED);
    assert_true(dropped >= 1);

    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.requests");
    assert_non_null(m);
    assert_string_equal(m->unit, "{request}");
    assert_string_equal(m->description, "Requests served");
    assert_true(m->sum->is_monotonic);
    assert_int_equal(
        m->sum->aggregation_temporality,
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    assert_int_equal(m->sum->n_data_points, 2);
    const NumberPoint *g = sum_point(m, "method", "GET");
    assert_int_equal(g->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    assert_int_equal(g->as_int, 2005);
    assert_true(kv_has_int(g->attributes, g->n_attributes, "code", 200));
    assert_true(g->start_time_unix_nano > 0 && g->time_unix_nano >= g->start_time_unix_nano);
    assert_int_equal(sum_point(m, "method", "POST")->as_int, 7);
    /* Resource and scope. */
    Opentelemetry__Proto__Resource__V1__Resource *res = r->resource_metrics[0]->resource;
    assert_true(kv_has_str(res->attributes, res->n_attributes, "service.name", "test-service"));
    assert_true(kv_has_str(res->attributes, res->n_attributes, "telemetry.sdk.name", "otus"));
    assert_string_equal(r->resource_metrics[0]->scope_metrics[0]->scope->name, "otus");
    metrics_free(r);

    /* Cumulative: the next collection carries on. */
    otus_series_add(s, 1);
    r = metrics_collect();
    assert_int_equal(sum_point(metric_find(r, "t.requests"), "method", "GET")->as_int, 2006);
    metrics_free(r);
}

static void updown_and_double(void **state)
{
    (void)state;
    struct otus_metric *u = otus_updown_counter_create("t.queue", "{item}", NULL);
    otus_metric_add(u, 10, NULL, 0);
    otus_metric_add(u, -25, NULL, 0);
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = OTUS_COUNTER;
    o.name = "t.bytes";
    o.value_type = OTUS_VALUE_DOUBLE;
    struct otus_metric *d = otus_metric_create(&o);
    otus_metric_add_double(d, 1.5, NULL, 0);
    otus_metric_add_double(d, 2.25, NULL, 0);
    otus_metric_add(d, 1, NULL, 0);
    otus_metric_add_double(d, NAN, NULL, 0); /* refused */
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.queue");
    assert_false(m->sum->is_monotonic);
    assert_int_equal(sum_point(m, NULL, NULL)->as_int, -15);
    m = metric_find(r, "t.bytes");
    const NumberPoint *p = sum_point(m, NULL, NULL);
    assert_int_equal(p->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
    assert_true(p->as_double == 4.75);
    metrics_free(r);
}

static void gauge(void **state)
{
    (void)state;
    struct otus_metric *g = otus_gauge_create("t.temp", "Cel", NULL);
    struct otus_attr room = otus_attr_str("room", "a");
    otus_metric_set(g, 20.5, &room, 1);
    otus_metric_set(g, 21.25, &room, 1);
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.temp");
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_int_equal(m->gauge->n_data_points, 1);
    assert_true(m->gauge->data_points[0]->as_double == 21.25);
    metrics_free(r);
}

static const HistPoint *hist_point(const MetricsReq *r, const char *name)
{
    const Metric *m = metric_find(r, name);
    assert_non_null(m);
    assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
    assert_int_equal(m->histogram->n_data_points, 1);
    return m->histogram->data_points[0];
}

static void histogram_default_buckets(void **state)
{
    (void)state;
    struct otus_metric *h = otus_histogram_create("t.size", "By", NULL, NULL, 0);
    struct otus_series *s = otus_metric_bind(h, NULL, 0);
    /* Upper-inclusive: 0 -> (-inf, 0], 5 -> (0, 5], 5.0001 -> (5, 10], 10001 -> (10000, +inf). */
    double v[] = {0, 5, 5.0001, 7, 10000, 10001, 250};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        otus_series_record(s, v[i]);
    otus_series_record(s, INFINITY); /* refused */
    MetricsReq *r = metrics_collect();
    const HistPoint *p = hist_point(r, "t.size");
    static const double bounds[] = {0,   5,   10,   25,   50,   75,   100,  250,
                                    500, 750, 1000, 2500, 5000, 7500, 10000};
    assert_int_equal(p->n_explicit_bounds, 15);
    for (int i = 0; i < 15; i++)
        assert_true(p->explicit_bounds[i] == bounds[i]);
    assert_int_equal(p->n_bucket_counts, 16);
    uint64_t want[16] = {1, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1};
    for (int i = 0; i < 16; i++)
        assert_int_equal(p->bucket_counts[i], want[i]);
    assert_int_equal(p->count, 7);
    assert_int_equal(p->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_true(fabs(p->sum - 20268.0001) < 1e-6);
    assert_true(p->min == 0 && p->max == 10001);
    metrics_free(r);
}

static void histogram_custom_and_negative(void **state)
{
    (void)state;
    double b[] = {-1, 1, 2};
    struct otus_metric *h = otus_histogram_create("t.delta", "1", NULL, b, 3);
    otus_metric_record(h, -5, NULL, 0);
    otus_metric_record(h, 1, NULL, 0);
    otus_metric_record(h, 3, NULL, 0);
    MetricsReq *r = metrics_collect();
    const HistPoint *p = hist_point(r, "t.delta");
    assert_int_equal(p->n_bucket_counts, 4);
    assert_int_equal(p->bucket_counts[0], 1);
    assert_int_equal(p->bucket_counts[1], 1);
    assert_int_equal(p->bucket_counts[3], 1);
    /* With a negative measurement the sum is left out. */
    assert_int_equal(p->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_true(p->min == -5 && p->max == 3);
    metrics_free(r);
    /* Bounds that do not increase fall back to the defaults. */
    double bad[] = {1, 1};
    struct otus_metric *h2 = otus_histogram_create("t.bad", "1", NULL, bad, 2);
    otus_metric_record(h2, 1, NULL, 0);
    assert_non_null(strstr(lib_diag_text, "bounds must be finite and increasing"));
    r = metrics_collect();
    assert_int_equal(hist_point(r, "t.bad")->n_explicit_bounds, 15);
    metrics_free(r);
}

/* ---- exponential histograms --------------------------------------------------------- */

static void exp_mapping(void **state)
{
    (void)state;
    otus__exp_init();
    /* Scale 0: bucket i holds (2^i, 2^(i+1)]. */
    assert_int_equal(otus__exp_index(1.0, 0), -1);
    assert_int_equal(otus__exp_index(1.5, 0), 0);
    assert_int_equal(otus__exp_index(2.0, 0), 0);
    assert_int_equal(otus__exp_index(2.0000001, 0), 1);
    assert_int_equal(otus__exp_index(4.0, 0), 1);
    assert_int_equal(otus__exp_index(0.5, 0), -2);
    assert_int_equal(otus__exp_index(0.75, 0), -1);
    /* Negative scales: bucket i holds (4^i, 4^(i+1)] at -1. */
    assert_int_equal(otus__exp_index(4.0, -1), 0);
    assert_int_equal(otus__exp_index(5.0, -1), 1);
    assert_int_equal(otus__exp_index(16.0, -1), 1);
    assert_int_equal(otus__exp_index(17.0, -1), 2);
    assert_int_equal(otus__exp_index(1.0, -10), -1);
    /* Powers of two are lower bucket boundaries at every scale. */
    for (int s = -10; s <= 20; s++) {
        for (int e = -1022; e <= 1023; e += 77) {
            double v = ldexp(1.0, e);
            int32_t want = s >= 0 ? (int32_t)((uint32_t)e << s) - 1 : ((e - 1) >> -s);
            assert_int_equal(otus__exp_index(v, s), want);
        }
    }
    /* Every scale agrees with the definition (2^(i/2^s), 2^((i+1)/2^s)]. */
    for (int s = 1; s <= 20; s += 1) {
        for (double v = 1.0001; v < 1e6; v *= 1.37) {
            int32_t i = otus__exp_index(v, s);
            double lo = exp2((double)i / (double)(1 << s)),
                   hi = exp2((double)(i + 1) / (double)(1 << s));
            assert_true(v > lo * (1 - 1e-12) && v <= hi * (1 + 1e-12));
        }
    }
    /* Extremes: the largest double and the smallest subnormal (as the smallest normal). */
    assert_int_equal(otus__exp_index(1.7976931348623157e308, 0), 1023);
    assert_int_equal(otus__exp_index(4.9e-324, 0), -1023);
    assert_int_equal(otus__exp_index(4.9e-324, 20), otus__exp_index(2.2250738585072014e-308, 20));
}

/* The inline mapping of the record path's common case (scales 1 to 10) gives the same
 * index as the reference for powers of two, their neighbours, table boundaries and a
 * sweep of values across the whole exponent range. */
static void exp_inline_mapping_matches(void **state)
{
    (void)state;
    otus__exp_init();
    for (int s = 1; s <= 10; s++) {
        for (int e = -1022; e <= 1023; e += 13) {
            double p = ldexp(1.0, e);
            double vs[] = {p, nextafter(p, 0), nextafter(p, INFINITY), p * 1.5, p * 1.9999999};
            for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
                double v = vs[k];
                uint64_t b;
                memcpy(&b, &v, 8);
                if (b < OTUS__EXP_MIN_NORMAL || b >= OTUS__EXP_INF)
                    continue;
                assert_int_equal(otus__exp_index_small(b, s), otus__exp_index(v, s));
            }
        }
        for (int j = 0; j <= 1024; j++) { /* at and just above every scale-10 boundary */
            double v = otus__exp_bound10[j], w = nextafter(v, INFINITY);
            uint64_t b;
            memcpy(&b, &v, 8);
            assert_int_equal(otus__exp_index_small(b, s), otus__exp_index(v, s));
            memcpy(&b, &w, 8);
            assert_int_equal(otus__exp_index_small(b, s), otus__exp_index(w, s));
        }
        for (double v = 1e-300; v < 1e300; v *= 1.0137) {
            uint64_t b;
            memcpy(&b, &v, 8);
            assert_int_equal(otus__exp_index_small(b, s), otus__exp_index(v, s));
        }
    }
}

static const ExpPoint *exp_point(const MetricsReq *r, const char *name)
{
    const Metric *m = metric_find(r, name);
    assert_non_null(m);
    assert_int_equal(m->data_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
    assert_int_equal(m->exponential_histogram->n_data_points, 1);
    return m->exponential_histogram->data_points[0];
}

static uint64_t
bucket_total(const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b)
{
    uint64_t t = 0;
    for (size_t i = 0; b && i < b->n_bucket_counts; i++)
        t += b->bucket_counts[i];
    return t;
}

static void exp_single_value_max_scale(void **state)
{
    (void)state;
    struct otus_metric *h = otus_exp_histogram_create("t.exp1", "s", NULL, 0, 0);
    otus_metric_record(h, 3.0, NULL, 0);
    otus_metric_record(h, 3.0, NULL, 0);
    MetricsReq *r = metrics_collect();
    const ExpPoint *p = exp_point(r, "t.exp1");
    assert_int_equal(p->scale, 20);
    assert_int_equal(p->count, 2);
    assert_int_equal(p->positive->n_bucket_counts, 1);
    assert_int_equal(p->positive->bucket_counts[0], 2);
    assert_int_equal(p->positive->offset, otus__exp_index(3.0, 20));
    assert_true(p->sum == 6.0 && p->min == 3.0 && p->max == 3.0);
    metrics_free(r);
}

static void exp_rescale(void **state)
{
    (void)state;
    /* 1 ms to 100 s fits 160 buckets at scale 3 (contrast 1e5, per the spec's table). */
    struct otus_metric *h = otus_exp_histogram_create("t.exp2", "s", NULL, 0, 0);
    struct otus_series *s = otus_metric_bind(h, NULL, 0);
    uint64_t n = 0;
    for (double v = 0.001; v <= 100.0; v *= 1.01, n++)
        otus_series_record(s, v);
    otus_series_record(s, 0.0);
    MetricsReq *r = metrics_collect();
    const ExpPoint *p = exp_point(r, "t.exp2");
    assert_int_equal(p->scale, 3);
    assert_true(p->positive->n_bucket_counts <= 160);
    assert_int_equal(bucket_total(p->positive) + p->zero_count, p->count);
    assert_int_equal(p->count, n + 1);
    assert_int_equal(p->zero_count, 1);
    /* Each bucket holds what the mapping at the final scale says. */
    assert_int_equal(p->positive->offset, otus__exp_index(0.001, 3));
    metrics_free(r);

    /* A narrow range keeps a high scale; the maximum size is respected. */
    struct otus_metric *h2 = otus_exp_histogram_create("t.exp3", "s", NULL, 20, 0);
    for (int i = 0; i < 1000; i++)
        otus_metric_record(h2, 1.0 + i * 0.001, NULL, 0);
    r = metrics_collect();
    p = exp_point(r, "t.exp3");
    assert_true(p->positive->n_bucket_counts <= 20);
    assert_true(p->positive->n_bucket_counts > 10); /* the best scale uses more than half */
    assert_int_equal(bucket_total(p->positive), 1000);
    int32_t lo = otus__exp_index(1.0, p->scale), hi = otus__exp_index(1.999, p->scale);
    assert_int_equal(p->positive->offset, lo);
    assert_int_equal((int32_t)p->positive->n_bucket_counts, hi - lo + 1);
    metrics_free(r);
}

/* Random values of every sign and magnitude class, recorded through the inline fast path
 * and the rescaling slow path: every bucket holds exactly the values that the reference
 * mapping puts there at the final scale. */
static void exp_random_buckets_exact(void **state)
{
    (void)state;
    enum { N = 20000 };
    static double vals[N];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Mostly within two decades, some far out, some exact powers of two. */
        double u = (double)(x >> 11) / 9007199254740992.0;
        double v =
            i % 97 == 0 ? ldexp(1.0, (int)(x % 16) - 8) : exp2(u * (i % 5 == 0 ? 24 : 6) - 3);
        vals[i] = i % 11 == 0 ? -v : v;
    }
    struct otus_metric *h = otus_exp_histogram_create("t.exprand", "s", NULL, 0, 0);
    struct otus_series *s = otus_metric_bind(h, NULL, 0);
    for (int i = 0; i < N; i++)
        otus_series_record(s, vals[i]);
    MetricsReq *r = metrics_collect();
    const ExpPoint *p = exp_point(r, "t.exprand");
    assert_int_equal(p->count, N);
    assert_true(p->positive->n_bucket_counts <= 160 && p->negative->n_bucket_counts <= 160);
    uint64_t *want_pos = calloc(p->positive->n_bucket_counts, sizeof(uint64_t));
    uint64_t *want_neg = calloc(p->negative->n_bucket_counts, sizeof(uint64_t));
    assert_non_null(want_pos);
    assert_non_null(want_neg);
    for (int i = 0; i < N; i++) {
        const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b =
            vals[i] > 0 ? p->positive : p->negative;
        int64_t k = (int64_t)otus__exp_index(fabs(vals[i]), p->scale) - b->offset;
        assert_true(k >= 0 && k < (int64_t)b->n_bucket_counts);
        (vals[i] > 0 ? want_pos : want_neg)[k]++;
    }
    for (size_t k = 0; k < p->positive->n_bucket_counts; k++)
        assert_int_equal(p->positive->bucket_counts[k], want_pos[k]);
    for (size_t k = 0; k < p->negative->n_bucket_counts; k++)
        assert_int_equal(p->negative->bucket_counts[k], want_neg[k]);
    free(want_pos);
    free(want_neg);
    metrics_free(r);
}

static void exp_negative_and_merge(void **state)
{
    (void)state;
    struct otus_metric *h = otus_exp_histogram_create("t.exp4", "1", NULL, 0, 0);
    otus_metric_record(h, -2.0, NULL, 0);
    otus_metric_record(h, -1000.0, NULL, 0);
    otus_metric_record(h, 0.5, NULL, 0);
    MetricsReq *r = metrics_collect();
    const ExpPoint *p = exp_point(r, "t.exp4");
    assert_int_equal(bucket_total(p->negative), 2);
    assert_int_equal(bucket_total(p->positive), 1);
    assert_int_equal(
        p->_sum_case,
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_true(p->min == -1000 && p->max == 0.5);
    metrics_free(r);

    /* Cells at different scales merge at the lower one. */
    struct otus__expagg agg;
    assert_int_equal(otus__expagg_init(&agg, 160, 20), 0);
    size_t bytes = sizeof(struct otus__ecell) + 2 * 160 * sizeof(uint64_t);
    struct otus__ecell *a = calloc(1, bytes), *b = calloc(1, bytes);
    for (double v = 1; v < 2; v += 0.01)
        otus__exp_record(a, 160, 20, v);
    for (double v = 1; v < 1000; v *= 1.5)
        otus__exp_record(b, 160, 20, v);
    assert_true(atomic_load(&a->scale) > atomic_load(&b->scale));
    otus__expagg_merge_cell(&agg, a, 160);
    otus__expagg_merge_cell(&agg, b, 160);
    assert_int_equal(agg.scale, atomic_load(&b->scale));
    uint64_t total = 0;
    for (size_t i = 0; i < agg.pos_n; i++)
        total += agg.pos[i];
    assert_int_equal(total, atomic_load(&a->count) + atomic_load(&b->count));
    assert_true(agg.pos_n <= 160);
    otus__expagg_free(&agg);
    free(a);
    free(b);
}

/* ---- attribute sets, limits, exemplars ---------------------------------------------- */

static void duplicate_keys_last_wins(void **state)
{
    (void)state;
    struct otus_metric *c = otus_counter_create("t.dups", NULL, NULL);
    struct otus_attr a[3] = {otus_attr_str("k", "first"), otus_attr_str("x", "1"),
                             otus_attr_str("k", "last")};
    otus_metric_add(c, 1, a, 3);
    struct otus_attr b[2] = {otus_attr_str("x", "1"), otus_attr_str("k", "last")};
    otus_metric_add(c, 1, b, 2);
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.dups");
    assert_int_equal(m->sum->n_data_points, 1);
    const NumberPoint *p = m->sum->data_points[0];
    assert_int_equal(p->n_attributes, 2);
    assert_true(kv_has_str(p->attributes, p->n_attributes, "k", "last"));
    assert_int_equal(p->as_int, 2);
    metrics_free(r);
}

/* The per-thread lookup cache is keyed by pointers: a buffer reused with other
 * contents must still reach the right series. */
static void lookup_cache_reused_buffers(void **state)
{
    (void)state;
    struct otus_metric *c = otus_counter_create("t.reuse", NULL, NULL);
    char key[16], val[16];
    struct otus_attr a[2] = {otus_attr_str(key, val), otus_attr_int("n", 1)};
    const char *const vals[] = {"alice", "bob", "alice", "ali", "alicex", "alice", "", "bob"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        strcpy(key, "user");
        strcpy(val, vals[i]);
        otus_metric_add(c, 1, a, 2);
    }
    strcpy(key, "usr"); /* a shorter key at the same address */
    strcpy(val, "alice");
    otus_metric_add(c, 10, a, 2);
    a[1].v.i = 2; /* a different number */
    strcpy(key, "user");
    otus_metric_add(c, 100, a, 2);
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.reuse");
    int64_t alice = 0, bob = 0, ali = 0, alicex = 0, empty = 0, usr = 0, n2 = 0;
    for (size_t i = 0; i < m->sum->n_data_points; i++) {
        const NumberPoint *p = m->sum->data_points[i];
        if (kv_has_int(p->attributes, p->n_attributes, "n", 2)) {
            n2 += p->as_int;
            continue;
        }
        if (kv_has_str(p->attributes, p->n_attributes, "usr", "alice"))
            usr += p->as_int;
        else if (kv_has_str(p->attributes, p->n_attributes, "user", "alice"))
            alice += p->as_int;
        else if (kv_has_str(p->attributes, p->n_attributes, "user", "bob"))
            bob += p->as_int;
        else if (kv_has_str(p->attributes, p->n_attributes, "user", "ali"))
            ali += p->as_int;
        else if (kv_has_str(p->attributes, p->n_attributes, "user", "alicex"))
            alicex += p->as_int;
        else if (kv_has_str(p->attributes, p->n_attributes, "user", ""))
            empty += p->as_int;
    }
    assert_int_equal(alice, 3);
    assert_int_equal(bob, 2);
    assert_int_equal(ali, 1);
    assert_int_equal(alicex, 1);
    assert_int_equal(empty, 1);
    assert_int_equal(usr, 10);
    assert_int_equal(n2, 100);
    assert_int_equal(m->sum->n_data_points, 7);
    metrics_free(r);
}

static void all_attribute_types(void **state)
{
    (void)state;
    struct otus_metric *c = otus_counter_create("t.types", NULL, NULL);
    const char *strs[] = {"a", "b"};
    int64_t ints[] = {1, 2, 3};
    struct otus_attr nested[2] = {otus_attr_int("n", 7), otus_attr_str("s", "v")};
    struct otus_attr a[] = {
        otus_attr_str("s", "v"),
        otus_attr_int("i", -3),
        otus_attr_double("d", 1.25),
        otus_attr_bool("b", 1),
        otus_attr_bytes("y", "\x00\x01", 2),
        otus_attr_array("sa", OTUS_TYPE_STRING_ARRAY, strs, 2),
        otus_attr_array("ia", OTUS_TYPE_INT_ARRAY, ints, 3),
        otus_attr_array("kv", OTUS_TYPE_KVLIST, nested, 2),
    };
    size_t n = sizeof(a) / sizeof(a[0]);
    otus_metric_add(c, 1, a, n);
    otus_metric_add(c, 1, a, n);
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.types");
    assert_int_equal(m->sum->n_data_points, 1);
    const NumberPoint *p = m->sum->data_points[0];
    assert_int_equal(p->as_int, 2);
    assert_int_equal(p->n_attributes, n);
    const AnyValue *v = kv_find(p->attributes, p->n_attributes, "d");
    assert_true(v->value_case == ANY(DOUBLE_VALUE) && v->double_value == 1.25);
    v = kv_find(p->attributes, p->n_attributes, "y");
    assert_true(v->value_case == ANY(BYTES_VALUE) && v->bytes_value.len == 2);
    v = kv_find(p->attributes, p->n_attributes, "ia");
    assert_true(v->value_case == ANY(ARRAY_VALUE) && v->array_value->n_values == 3);
    assert_int_equal(v->array_value->values[2]->int_value, 3);
    v = kv_find(p->attributes, p->n_attributes, "kv");
    assert_true(v->value_case == ANY(KVLIST_VALUE) && v->kvlist_value->n_values == 2);
    metrics_free(r);
}

static void series_limit_overflow(void **state)
{
    (void)state;
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = OTUS_COUNTER;
    o.name = "t.limited";
    o.max_series = 10;
    struct otus_metric *c = otus_metric_create(&o);
    uint64_t before = otus__stat_get(OTUS__STAT_OVERFLOW);
    for (int i = 0; i < 25; i++) {
        struct otus_attr a = otus_attr_int("user", i);
        otus_metric_add(c, 1, &a, 1);
    }
    assert_int_equal(otus__stat_get(OTUS__STAT_OVERFLOW) - before, 15);
    MetricsReq *r = metrics_collect();
    const Metric *m = metric_find(r, "t.limited");
    assert_int_equal(m->sum->n_data_points, 11);
    int64_t total = 0, overflow = 0;
    for (size_t i = 0; i < m->sum->n_data_points; i++) {
        const NumberPoint *p = m->sum->data_points[i];
        total += p->as_int;
        const AnyValue *v = kv_find(p->attributes, p->n_attributes, "otel.metric.overflow");
        if (v) {
            assert_true(v->value_case == ANY(BOOL_VALUE) && v->bool_value);
            overflow = p->as_int;
        }
    }
    /* Every measurement is in exactly one point. */
    assert_int_equal(total, 25);
    assert_int_equal(overflow, 15);
    metrics_free(r);
}

static void exemplars_from_sampled_span(void **state)
{
    (void)state;
    struct otus_metric *h = otus_histogram_create("t.ex", "s", NULL, NULL, 0);
    struct otus_series *s = otus_metric_bind(h, NULL, 0);
    otus_series_record(s, 3); /* outside a span: no exemplar */
    struct otus_span sp;
    otus_span_start(&sp, "op", OTUS_SPAN_INTERNAL, NULL);
    otus_series_record(s, 42);
    otus_span_end(&sp);
    MetricsReq *r = metrics_collect();
    const HistPoint *p = hist_point(r, "t.ex");
    assert_int_equal(p->n_exemplars, 1);
    const Opentelemetry__Proto__Metrics__V1__Exemplar *e = p->exemplars[0];
    assert_true(e->as_double == 42);
    assert_int_equal(e->trace_id.len, 16);
    assert_memory_equal(e->trace_id.data, sp.ctx.trace_id, 16);
    assert_memory_equal(e->span_id.data, sp.ctx.span_id, 8);
    assert_true(e->time_unix_nano > 0);
    metrics_free(r);
    /* Exemplars are those of the interval: the next collection has none. */
    r = metrics_collect();
    assert_int_equal(hist_point(r, "t.ex")->n_exemplars, 0);
    metrics_free(r);
    trace_free(spans_drain(NULL));

    /* Exponential histograms keep a reservoir. */
    struct otus_metric *x = otus_exp_histogram_create("t.ex2", "s", NULL, 0, 0);
    otus_span_start(&sp, "op2", OTUS_SPAN_INTERNAL, NULL);
    for (int i = 1; i <= 50; i++)
        otus_metric_record(x, i, NULL, 0);
    otus_span_end(&sp);
    r = metrics_collect();
    const ExpPoint *q = exp_point(r, "t.ex2");
    assert_int_equal(q->n_exemplars, OTUS__EXP_RESERVOIR);
    assert_memory_equal(q->exemplars[0]->span_id.data, sp.ctx.span_id, 8);
    metrics_free(r);
    trace_free(spans_drain(NULL));
}

static void invalid_and_null(void **state)
{
    (void)state;
    assert_null(otus_counter_create("9starts-with-digit", NULL, NULL));
    assert_null(otus_counter_create("has space", NULL, NULL));
    assert_null(otus_metric_create(NULL));
    /* NULL handles are no-ops. */
    otus_series_add(NULL, 1);
    otus_series_record(NULL, 1);
    otus_metric_add(NULL, 1, NULL, 0);
    assert_null(otus_metric_bind(NULL, NULL, 0));
    /* The wrong call for the kind is counted. */
    struct otus_metric *c = otus_counter_create("t.kind", NULL, NULL);
    uint64_t before = otus__stat_get(OTUS__STAT_MEAS_DROPPED);
    otus_metric_record(c, 1.0, NULL, 0);
    otus_metric_set(c, 1.0, NULL, 0);
    assert_int_equal(otus__stat_get(OTUS__STAT_MEAS_DROPPED) - before, 2);
    /* NaN and infinities are refused and counted by warm bound histograms of both kinds,
     * whose cells are already in use (the inline paths); the values around them count. */
    struct otus_series *hs =
        otus_metric_bind(otus_histogram_create("t.nan.h", "s", NULL, NULL, 0), NULL, 0);
    struct otus_series *es =
        otus_metric_bind(otus_exp_histogram_create("t.nan.e", "s", NULL, 0, 0), NULL, 0);
    otus_series_record(hs, 1.0);
    otus_series_record(es, 1.0);
    before = otus__stat_get(OTUS__STAT_MEAS_DROPPED);
    otus_series_record(hs, NAN);
    otus_series_record(es, NAN);
    otus_series_record(hs, INFINITY);
    otus_series_record(es, INFINITY);
    otus_series_record(es, -INFINITY);
    otus_series_record(es, 1.5);
    assert_int_equal(otus__stat_get(OTUS__STAT_MEAS_DROPPED) - before, 5);
    MetricsReq *r = metrics_collect();
    assert_int_equal(hist_point(r, "t.nan.h")->count, 1);
    const ExpPoint *ep = exp_point(r, "t.nan.e");
    assert_int_equal(ep->count, 2);
    assert_true(ep->sum == 2.5 && ep->min == 1.0 && ep->max == 1.5);
    metrics_free(r);
    /* Name conflicts are warned about and both instruments work. */
    struct otus_metric *other = otus_updown_counter_create("t.kind", NULL, NULL);
    assert_non_null(strstr(lib_diag_text, "registered again"));
    assert_non_null(other);
    assert_ptr_not_equal(other, c);
}

static void self_metrics_exported(void **state)
{
    (void)state;
    MetricsReq *r = metrics_collect();
    assert_non_null(metric_find(r, "otus.lib.spans.dropped"));
    assert_non_null(metric_find(r, "otus.lib.logs.dropped"));
    assert_non_null(metric_find(r, "otus.lib.export.failures"));
    const Metric *m = metric_find(r, "otus.lib.exported");
    assert_int_equal(m->sum->n_data_points, 3);
    metrics_free(r);
}

static void disabled_sdk(void **state)
{
    (void)state;
    lib_stop();
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_DISABLED;
    c.log_output = OTUS_LOG_OUTPUT_NONE;
    otus__exporter_manual = 1;
    c.flags |= OTUS_SDK_IGNORE_ENV;
    c.diag = lib_diag;
    assert_int_equal(otus_init(&c), OTUS_ERR_DISABLED);
    assert_null(otus_counter_create("t.disabled", NULL, NULL));
    lib_stop();
    lib_start(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter),
        cmocka_unit_test(updown_and_double),
        cmocka_unit_test(gauge),
        cmocka_unit_test(histogram_default_buckets),
        cmocka_unit_test(histogram_custom_and_negative),
        cmocka_unit_test(exp_mapping),
        cmocka_unit_test(exp_inline_mapping_matches),
        cmocka_unit_test(exp_single_value_max_scale),
        cmocka_unit_test(exp_rescale),
        cmocka_unit_test(exp_random_buckets_exact),
        cmocka_unit_test(exp_negative_and_merge),
        cmocka_unit_test(duplicate_keys_last_wins),
        cmocka_unit_test(lookup_cache_reused_buffers),
        cmocka_unit_test(all_attribute_types),
        cmocka_unit_test(series_limit_overflow),
        cmocka_unit_test(exemplars_from_sampled_span),
        cmocka_unit_test(invalid_and_null),
        cmocka_unit_test(self_metrics_exported),
        cmocka_unit_test(disabled_sdk),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
