/*
 * test_prom_store.c: the Prometheus exporter's series store: delta points accumulated
 * into cumulative values, restarts of cumulative streams, out-of-order points, label
 * sets (sorting, collisions, reserved names, job and instance), TTL expiry, the series
 * and byte caps, histograms with changing bounds and exponential histograms merged
 * across scales.
 */
#include "otus_test.h"

#include <otus.h>

#include "exporters/prometheus/prom_store.h"
#include "test_prom_fixture.h"

#define SEC 1000000000ull

static struct prom_store_cfg cfg(void)
{
    struct prom_store_cfg c = {
        .ttl_ms = 60000,
        .max_series = 1000,
        .max_bytes = 64u << 20,
        .max_label_bytes = 4096,
        .max_buckets = 160,
        .resource_to_telemetry = 0,
        .scope_labels = 0,
    };
    return c;
}

/* Each test builds requests for one service. */
static void svc(struct fx *f)
{
    fx_begin(f);
    fx_resource(f, "service.name", "api", "service.instance.id", "i1", NULL);
}

#define LBL "job=\"api\",instance=\"i1\""

static void ingest(struct prom_store *s, struct fx *f, uint64_t now_ms)
{
    prom_store_ingest(s, f->req, now_ms);
    fx_end(f);
}

static struct prom_series *find(struct prom_store *s, const char *fam, const char *labels)
{
    struct prom_series *se = prom_store_find(s, fam, labels);
    if (!se)
        fail_msg("no series %s{%s}", fam, labels);
    return se;
}

static void delta_sums_accumulate(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    for (int i = 1; i <= 3; i++) {
        svc(&f);
        FxMetric *m = fx_metric(&f, "jobs", "", "");
        fx_sum(&f, m, 1, FX_DELTA, 5, i * SEC, (i + 1) * SEC, NULL);
        FxMetric *u = fx_metric(&f, "queue", "", "");
        fx_sum(&f, u, 0, FX_DELTA, i == 2 ? -4 : 3, i * SEC, (i + 1) * SEC, NULL);
        ingest(s, &f, 1);
    }
    struct prom_series *se = find(s, "jobs", LBL);
    assert_true(se->value == 15);
    assert_int_equal(se->fam->type, PROM_COUNTER);
    assert_true(se->start_ns == 1 * SEC); /* _created: the start of the first delta */
    se = find(s, "queue", LBL);
    assert_int_equal(se->fam->type, PROM_GAUGE);
    assert_true(se->value == 2);
    /* A repeated delta (not newer than the last) is not counted twice. */
    svc(&f);
    fx_sum(&f, fx_metric(&f, "jobs", "", ""), 1, FX_DELTA, 5, 3 * SEC, 4 * SEC, NULL);
    ingest(s, &f, 2);
    assert_true(find(s, "jobs", LBL)->value == 15);
    assert_int_equal(prom_store_stats(s)->dropped[PROM_DROP_OUT_OF_ORDER], 1);
    /* A negative delta on a monotonic sum is invalid. */
    svc(&f);
    fx_sum(&f, fx_metric(&f, "jobs", "", ""), 1, FX_DELTA, -1, 4 * SEC, 5 * SEC, NULL);
    ingest(s, &f, 2);
    assert_true(find(s, "jobs", LBL)->value == 15);
    assert_int_equal(prom_store_stats(s)->dropped[PROM_DROP_INVALID], 1);
    prom_store_destroy(s);
}

static void cumulative_restart_is_a_reset(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    svc(&f);
    fx_sum(&f, fx_metric(&f, "req", "", ""), 1, FX_CUMULATIVE, 100, 10 * SEC, 20 * SEC, NULL);
    ingest(s, &f, 1);
    struct prom_series *se = find(s, "req", LBL);
    assert_true(se->value == 100 && se->start_ns == 10 * SEC);
    /* The process restarted: new start time, lower value. The series starts over (a
     * reset for Prometheus) and _created moves to the new start. */
    svc(&f);
    fx_sum(&f, fx_metric(&f, "req", "", ""), 1, FX_CUMULATIVE, 3, 30 * SEC, 31 * SEC, NULL);
    ingest(s, &f, 2);
    assert_true(se->value == 3 && se->start_ns == 30 * SEC);
    /* A late point of the old run is dropped, not a jump back up. */
    svc(&f);
    fx_sum(&f, fx_metric(&f, "req", "", ""), 1, FX_CUMULATIVE, 120, 10 * SEC, 25 * SEC, NULL);
    ingest(s, &f, 3);
    assert_true(se->value == 3);
    /* Same run, older time: dropped too. */
    svc(&f);
    fx_sum(&f, fx_metric(&f, "req", "", ""), 1, FX_CUMULATIVE, 2, 30 * SEC, 30 * SEC, NULL);
    ingest(s, &f, 3);
    assert_true(se->value == 3);
    assert_int_equal(prom_store_stats(s)->dropped[PROM_DROP_OUT_OF_ORDER], 2);
    /* Histograms restart the same way, buckets and all. */
    double b[] = {1, 2};
    uint64_t c1[] = {5, 5, 5}, c2[] = {1, 0, 0};
    svc(&f);
    fx_hist(&f, fx_metric(&f, "lat", "s", ""), FX_CUMULATIVE, b, 2, c1, 20, 10 * SEC, 20 * SEC,
            NULL);
    ingest(s, &f, 4);
    svc(&f);
    fx_hist(&f, fx_metric(&f, "lat", "s", ""), FX_CUMULATIVE, b, 2, c2, 0.5, 40 * SEC, 41 * SEC,
            NULL);
    ingest(s, &f, 5);
    se = find(s, "lat_seconds", LBL);
    assert_true(se->count == 1 && se->value == 0.5 && se->u.h.counts[0] == 1 &&
                se->u.h.counts[2] == 0 && se->start_ns == 40 * SEC);
    prom_store_destroy(s);
}

static void delta_histograms(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    double b[] = {0.1, 0.5};
    uint64_t c1[] = {1, 2, 3};
    for (int i = 1; i <= 2; i++) {
        svc(&f);
        FxHistPoint *p = fx_hist(&f, fx_metric(&f, "d", "s", ""), FX_DELTA, b, 2, c1, 1.5, i * SEC,
                                 (i + 1) * SEC, NULL);
        FX_PUSH(&f, p->exemplars, p->n_exemplars, fx_exemplar(&f, 0.3, 1, 2, i * SEC));
        FX_PUSH(&f, p->exemplars, p->n_exemplars, fx_exemplar(&f, 0.4, 3, 4, i * SEC));
        ingest(s, &f, 1);
    }
    struct prom_series *se = find(s, "d_seconds", LBL);
    assert_int_equal(se->count, 12);
    assert_true(se->value == 3.0);
    assert_int_equal(se->u.h.counts[0], 2);
    assert_int_equal(se->u.h.counts[2], 6);
    /* The largest exemplar of the bucket (0.1, 0.5] is kept. */
    assert_true(se->u.h.ex[1].set && se->u.h.ex[1].value == 0.4 && se->u.h.ex[1].trace_id[0] == 3);
    assert_false(se->u.h.ex[0].set);
    /* New bounds on a delta stream: the series starts over with them. */
    double b2[] = {1};
    uint64_t c2[] = {4, 1};
    svc(&f);
    fx_hist(&f, fx_metric(&f, "d", "s", ""), FX_DELTA, b2, 1, c2, 2, 3 * SEC, 4 * SEC, NULL);
    ingest(s, &f, 2);
    assert_int_equal(se->count, 5);
    assert_int_equal(se->u.h.bounds->n, 1);
    /* Malformed: counts that do not match the bounds, bounds not increasing. */
    uint64_t bad[] = {1, 1};
    double nb[] = {2, 1};
    svc(&f);
    FxHistPoint *p =
        fx_hist(&f, fx_metric(&f, "d", "s", ""), FX_DELTA, b2, 1, bad, 2, 4 * SEC, 5 * SEC, NULL);
    p->n_bucket_counts = 1;
    fx_hist(&f, fx_metric(&f, "e", "s", ""), FX_DELTA, nb, 2, c1, 2, 4 * SEC, 5 * SEC, NULL);
    ingest(s, &f, 3);
    assert_int_equal(prom_store_stats(s)->dropped[PROM_DROP_INVALID], 2);
    assert_null(prom_store_find(s, "e_seconds", LBL));
    prom_store_destroy(s);
}

static void exponential_histograms_merge(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    c.max_buckets = 4;
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    uint64_t a[] = {1, 1};
    svc(&f);
    fx_exp(&f, fx_metric(&f, "x", "", ""), FX_DELTA, 2, 0, a, 2, 1, 3, SEC, 2 * SEC, NULL);
    ingest(s, &f, 1);
    struct prom_series *se = find(s, "x", LBL);
    assert_true(se->exp);
    assert_int_equal(se->u.x.e.scale, 2);
    /* A point at a lower scale brings the series down to it: index 0..1 at scale 2
     * become index 0 at scale 1. */
    uint64_t b[] = {2};
    svc(&f);
    fx_exp(&f, fx_metric(&f, "x", "", ""), FX_DELTA, 1, 0, b, 1, 0, 4, 2 * SEC, 3 * SEC, NULL);
    ingest(s, &f, 2);
    assert_int_equal(se->u.x.e.scale, 1);
    assert_int_equal(se->u.x.e.pos_n, 1);
    assert_int_equal(se->u.x.e.pos[0], 4);
    assert_int_equal(se->u.x.e.zero_count, 1);
    assert_int_equal(se->count, 5);
    /* A range wider than max_buckets is downscaled until it fits. */
    uint64_t wide[16];
    for (int i = 0; i < 16; i++)
        wide[i] = 1;
    svc(&f);
    fx_exp(&f, fx_metric(&f, "x", "", ""), FX_DELTA, 1, 0, wide, 16, 0, 9, 3 * SEC, 4 * SEC, NULL);
    ingest(s, &f, 3);
    assert_true(se->u.x.e.pos_n <= 4);
    uint64_t total = se->u.x.e.zero_count;
    for (uint32_t i = 0; i < se->u.x.e.pos_n; i++)
        total += se->u.x.e.pos[i];
    assert_int_equal(total, 21);
    assert_int_equal(se->count, 21);
    prom_store_destroy(s);
}

static void label_sets(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    c.scope_labels = 1;
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    fx_begin(&f);
    fx_resource(&f, "service.name", "cart", "service.namespace", "shop", "host.name", "h7",
                "cloud.region", "eu", NULL);
    fx_scope(&f, "lib", "2.0");
    /* Unsorted keys, a key that collides after sanitising, reserved names. */
    fx_gauge(&f, fx_metric(&f, "g", "", ""), 1, SEC, "z", "1", "a.b", "x", "a_b", "y", "job",
             "mine", "le", "0", NULL);
    fx_hist(&f, fx_metric(&f, "h", "", ""), FX_CUMULATIVE, (double[]){1}, 1, (uint64_t[]){1, 1}, 1,
            SEC, SEC, "le", "5", NULL);
    ingest(s, &f, 1);
    const char *prefix = "job=\"shop/cart\",instance=\"h7\",otel_scope_name=\"lib\","
                         "otel_scope_version=\"2.0\"";
    char want[512];
    snprintf(want, sizeof(want), "%s,a_b=\"x;y\",exported_job=\"mine\",le=\"0\",z=\"1\"", prefix);
    find(s, "g", want);
    snprintf(want, sizeof(want), "%s,exported_le=\"5\"", prefix);
    find(s, "h", want);
    /* The other resource attributes are target_info's. */
    struct prom_resource *r = prom_store_resources(s);
    assert_non_null(r);
    assert_string_equal(r->info, "job=\"shop/cart\",instance=\"h7\",cloud_region=\"eu\","
                                 "host_name=\"h7\"");
    assert_null(r->next);
    prom_store_destroy(s);

    /* resource_to_telemetry puts them on every series. */
    c.resource_to_telemetry = 1;
    c.scope_labels = 0;
    s = prom_store_create(&c);
    fx_begin(&f);
    fx_resource(&f, "service.name", "cart", "cloud.region", "eu", NULL);
    fx_gauge(&f, fx_metric(&f, "g", "", ""), 1, SEC, "cloud.region", "us", NULL);
    ingest(s, &f, 1);
    find(s, "g", "job=\"cart\",cloud_region=\"eu\",exported_cloud_region=\"us\"");
    prom_store_destroy(s);
}

/* Label names of keys seen before come from a cache: the same keys again, keys that
 * share a cache slot (same length, first and last characters), a key valid as it is,
 * one that needs a "key_" prefix, and one too long to be cached all get their names. */
static void label_names_again(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    struct prom_store *s = prom_store_create(&c);
    const char *long_key = "a.very.long.attribute.key.that.is.longer.than.fifty.bytes";
    for (int round = 0; round < 3; round++) {
        struct fx f;
        fx_begin(&f);
        fx_resource(&f, "service.name", "cart", NULL);
        fx_gauge(&f, fx_metric(&f, "g", "", ""), round, SEC, "ab.c", "1", "ax.c", "2", "plain", "3",
                 "9lives", "4", long_key, "5", NULL);
        fx_gauge(&f, fx_metric(&f, "h", "", ""), round, SEC, "ax.c", "6", "ab.c", "7", NULL);
        ingest(s, &f, 1);
        find(s, "g",
             "job=\"cart\",a_very_long_attribute_key_that_is_longer_than_fifty_bytes=\"5\","
             "ab_c=\"1\",ax_c=\"2\",key_9lives=\"4\",plain=\"3\"");
        find(s, "h", "job=\"cart\",ab_c=\"7\",ax_c=\"6\"");
    }
    assert_int_equal(prom_store_series(s), 2);
    prom_store_destroy(s);
}

static void type_conflicts_and_limits(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    c.max_label_bytes = 256;
    c.max_buckets = 3;
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    svc(&f);
    fx_gauge(&f, fx_metric(&f, "things", "", ""), 1, SEC, NULL);
    /* The same Prometheus name as a counter: dropped whole, the gauge stays. */
    fx_sum(&f, fx_metric(&f, "things_total", "", ""), 0, FX_CUMULATIVE, 2, SEC, SEC, NULL);
    fx_sum(&f, fx_metric(&f, "things", "", ""), 1, FX_CUMULATIVE, 2, SEC, SEC, NULL);
    char big[300];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fx_gauge(&f, fx_metric(&f, "long", "", ""), 1, SEC, "k", big, NULL);
    fx_hist(&f, fx_metric(&f, "many", "", ""), FX_CUMULATIVE, (double[]){1, 2, 3, 4}, 4,
            (uint64_t[]){1, 1, 1, 1, 1}, 1, SEC, SEC, NULL);
    ingest(s, &f, 1);
    const struct prom_stats *st = prom_store_stats(s);
    assert_int_equal(st->dropped[PROM_DROP_TYPE_CONFLICT], 1);
    assert_int_equal(st->dropped[PROM_DROP_TOO_LARGE], 2);
    assert_int_equal(prom_store_series(s), 2); /* things, things_total */
    assert_null(prom_store_find(s, "many", LBL));
    prom_store_destroy(s);
}

static void max_series_cap(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    c.max_series = 3;
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    svc(&f);
    FxMetric *m = fx_metric(&f, "g", "", "");
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        fx_gauge(&f, m, i, SEC, "i", v, NULL);
    }
    ingest(s, &f, 1);
    assert_int_equal(prom_store_series(s), 3);
    assert_int_equal(prom_store_stats(s)->series_refused, 7);
    /* Existing series keep updating; new ones are still refused. */
    svc(&f);
    m = fx_metric(&f, "g", "", "");
    fx_gauge(&f, m, 42, 2 * SEC, "i", "1", NULL);
    fx_gauge(&f, m, 42, 2 * SEC, "i", "9", NULL);
    ingest(s, &f, 2);
    assert_true(find(s, "g", LBL ",i=\"1\"")->value == 42);
    assert_int_equal(prom_store_stats(s)->series_refused, 8);
    prom_store_destroy(s);

    /* The byte cap refuses new series too, whatever the count. */
    c = cfg();
    c.max_bytes = 1; /* below what an empty store holds */
    s = prom_store_create(&c);
    svc(&f);
    fx_gauge(&f, fx_metric(&f, "g", "", ""), 1, SEC, NULL);
    ingest(s, &f, 1);
    assert_int_equal(prom_store_series(s), 0);
    assert_int_equal(prom_store_stats(s)->series_refused, 1);
    assert_null(prom_store_resources(s));
    prom_store_destroy(s);
}

static void ttl_expiry(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    c.ttl_ms = 1000;
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    fx_begin(&f);
    fx_resource(&f, "service.name", "a", "env", "x", NULL);
    fx_gauge(&f, fx_metric(&f, "old", "", ""), 1, SEC, NULL);
    fx_hist(&f, fx_metric(&f, "h", "", ""), FX_CUMULATIVE, (double[]){1}, 1, (uint64_t[]){1, 1}, 1,
            SEC, SEC, NULL);
    fx_resource(&f, "service.name", "b", "env", "y", NULL);
    fx_gauge(&f, fx_metric(&f, "new", "", ""), 1, SEC, NULL);
    ingest(s, &f, 10000);
    size_t empty_bytes;
    {
        struct prom_store *e = prom_store_create(&c);
        empty_bytes = prom_store_bytes(e);
        prom_store_destroy(e);
    }
    assert_int_equal(prom_store_series(s), 3);
    /* b keeps updating; a does not. */
    fx_begin(&f);
    fx_resource(&f, "service.name", "b", "env", "y", NULL);
    fx_gauge(&f, fx_metric(&f, "new", "", ""), 2, 2 * SEC, NULL);
    ingest(s, &f, 10800);
    assert_int_equal(prom_store_expire(s, 10900), 0);
    assert_int_equal(prom_store_expire(s, 11001), 2);
    assert_int_equal(prom_store_series(s), 1);
    assert_null(prom_store_find(s, "old", "job=\"a\""));
    /* The family, bounds and resource of the expired series are gone too. */
    struct prom_family **fams;
    assert_int_equal(prom_store_families(s, &fams), 1);
    assert_string_equal(fams[0]->name, "new");
    assert_string_equal(prom_store_resources(s)->id, "job=\"b\"");
    assert_null(prom_store_resources(s)->next);
    assert_int_equal(prom_store_stats(s)->series_expired, 2);
    assert_int_equal(prom_store_expire(s, 20000), 1);
    assert_int_equal(prom_store_series(s), 0);
    assert_null(prom_store_resources(s));
    /* Everything went back: the store holds what an empty one holds (the hash tables
     * it grew to aside, none here). */
    assert_int_equal(prom_store_bytes(s), empty_bytes);
    prom_store_destroy(s);
}

static void summaries_and_gauges(void **state)
{
    (void)state;
    struct prom_store_cfg c = cfg();
    struct prom_store *s = prom_store_create(&c);
    struct fx f;
    svc(&f);
    fx_summary(&f, fx_metric(&f, "rt", "s", ""), (double[]){0.99, 0.5}, (double[]){9, 5}, 2, 10, 60,
               SEC, 2 * SEC, NULL);
    fx_gauge(&f, fx_metric(&f, "t", "", ""), 5, 5 * SEC, NULL);
    ingest(s, &f, 1);
    struct prom_series *se = find(s, "rt_seconds", LBL);
    assert_int_equal(se->u.s.n, 2);
    assert_true(se->u.s.q[0] == 0.5 && se->u.s.q[2] == 5 && se->u.s.q[1] == 0.99);
    assert_int_equal(se->count, 10);
    /* An older gauge point does not overwrite a newer one. */
    svc(&f);
    fx_gauge(&f, fx_metric(&f, "t", "", ""), 1, 4 * SEC, NULL);
    ingest(s, &f, 2);
    assert_true(find(s, "t", LBL)->value == 5);
    prom_store_destroy(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delta_sums_accumulate),
        cmocka_unit_test(cumulative_restart_is_a_reset),
        cmocka_unit_test(delta_histograms),
        cmocka_unit_test(exponential_histograms_merge),
        cmocka_unit_test(label_sets),
        cmocka_unit_test(label_names_again),
        cmocka_unit_test(type_conflicts_and_limits),
        cmocka_unit_test(max_series_cap),
        cmocka_unit_test(ttl_expiry),
        cmocka_unit_test(summaries_and_gauges),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
