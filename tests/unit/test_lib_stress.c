/*
 * test_lib_stress.c: many threads at once on the record paths, with the background
 * thread running, checking exact totals: counters, histograms and exponential
 * histograms sum to exactly what was recorded (through thread exits, slot reuse and
 * the shared cells used by threads past the exclusive slots), and every span and log
 * record is accounted for: exported, written or counted as dropped. Run under
 * ThreadSanitizer by make tsan.
 */
#include "test_lib.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

enum { THREADS = 4, ADDS = 20000, RECORDS = 5000, SPANS = 3000, LOGS = 3000 };

static struct otus_series *bound;
static struct otus_metric *unbound, *hist, *exph;
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
    long id = (long)arg;
    struct otus_attr shared[2] = {otus_attr_str("route", "/a"), otus_attr_int("code", 200)};
    struct otus_attr mine = otus_attr_int("thread", id);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < ADDS; i++) {
        otus_series_add(bound, 1);
        otus_metric_add(unbound, 2, shared, 2);
        if (i % 10 == 0)
            otus_metric_add(unbound, 1, &mine, 1);
    }
    for (int i = 0; i < RECORDS; i++) {
        otus_metric_record(hist, (double)(i % 100), NULL, 0);
        otus_metric_record(exph, 0.001 * (1 + i % 1000), NULL, 0);
    }
    for (int i = 0; i < SPANS; i++) {
        struct otus_span sp;
        struct otus_attr a = otus_attr_int("i", i);
        struct otus_span_opts o;
        memset(&o, 0, sizeof(o));
        o.attrs = &a;
        o.n_attrs = 1;
        otus_span_start(&sp, "work", OTUS_SPAN_INTERNAL, &o);
        if (i % 3 == 0)
            otus_log_write(OTUS_LEVEL_INFO, "inside a span", &a, 1);
        otus_span_end(&sp);
    }
    for (int i = 0; i < LOGS; i++) {
        struct otus_attr a = otus_attr_int("n", i);
        otus_log_write(OTUS_LEVEL_INFO, "log", &a, 1);
    }
    return NULL;
}

static int64_t sum_of(const Metric *m, const char *key, int64_t value_or_minus1, const char *skey,
                      const char *sval)
{
    int64_t t = 0;
    for (size_t i = 0; i < m->sum->n_data_points; i++) {
        Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = m->sum->data_points[i];
        if (key && !kv_has_int(p->attributes, p->n_attributes, key, value_or_minus1))
            continue;
        if (skey && !kv_has_str(p->attributes, p->n_attributes, skey, sval))
            continue;
        t += p->as_int;
    }
    return t;
}

static void exact_totals(void **state)
{
    (void)state;
    char path[] = "/tmp/otus-stress-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_IGNORE_ENV | OTUS_SDK_NO_METRIC_EXPORT | OTUS_SDK_NO_LOG_EXPORT;
    c.endpoint = "http://127.0.0.1:1"; /* nothing listens: every export fails */
    c.service_name = "stress";
    c.log_output = OTUS_LOG_OUTPUT_FILE;
    c.log_path = path;
    c.span_schedule_delay_ms = 20;
    c.diag = lib_diag;
    otus__exporter_manual = 0;
    assert_int_equal(otus_init(&c), 0);
    struct otus_stats before;
    otus_stats_get(&before);

    struct otus_metric *bc = otus_counter_create("s.bound", NULL, NULL);
    bound = otus_metric_bind(bc, NULL, 0);
    unbound = otus_counter_create("s.unbound", NULL, NULL);
    hist = otus_histogram_create("s.hist", NULL, NULL, NULL, 0);
    exph = otus_exp_histogram_create("s.exp", NULL, NULL, 0, 0);

    pthread_t th[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);

    MetricsReq *r = metrics_collect();
    assert_int_equal(sum_of(metric_find(r, "s.bound"), NULL, 0, NULL, NULL),
                     (int64_t)THREADS * ADDS);
    const Metric *u = metric_find(r, "s.unbound");
    assert_int_equal(sum_of(u, NULL, 0, "route", "/a"), (int64_t)THREADS * ADDS * 2);
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(sum_of(u, "thread", i, NULL, NULL), ADDS / 10);
    const Metric *h = metric_find(r, "s.hist");
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hp = h->histogram->data_points[0];
    assert_int_equal(hp->count, (uint64_t)THREADS * RECORDS);
    uint64_t buckets = 0;
    for (size_t i = 0; i < hp->n_bucket_counts; i++)
        buckets += hp->bucket_counts[i];
    assert_int_equal(buckets, hp->count);
    /* Each thread records 0..99 fifty times: sum 4950 * 50 per thread. */
    assert_true(hp->sum == (double)THREADS * 4950 * (RECORDS / 100));
    assert_int_equal(hp->bucket_counts[0], (uint64_t)THREADS * (RECORDS / 100)); /* the zeros */
    const Metric *x = metric_find(r, "s.exp");
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *xp =
        x->exponential_histogram->data_points[0];
    assert_int_equal(xp->count, (uint64_t)THREADS * RECORDS);
    uint64_t eb = 0;
    for (size_t i = 0; i < xp->positive->n_bucket_counts; i++)
        eb += xp->positive->bucket_counts[i];
    assert_int_equal(eb, xp->count);
    metrics_free(r);

    /* Every span and log record is accounted for. */
    otus_shutdown(5000); /* OTUS_ERR_TIMEOUT: the unsent spans are dropped, and counted */
    struct otus_stats after;
    otus_stats_get(&after);
    uint64_t spans = (uint64_t)THREADS * SPANS;
    uint64_t accounted = (after.spans_dropped - before.spans_dropped) +
                         (after.export_dropped - before.export_dropped) +
                         (after.spans_exported - before.spans_exported);
    assert_int_equal(accounted, spans);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[1024];
    uint64_t lines = 0;
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, "\"logger\":\"otus\"") == NULL)
            lines++;
    fclose(fp);
    unlink(path);
    uint64_t logs = (uint64_t)THREADS * (LOGS + SPANS / 3);
    assert_int_equal(lines + (after.logs_dropped - before.logs_dropped), logs);
}

/* ---- more live threads than exclusive slots --------------------------------------- */

enum { MANY = 150, MANY_ADDS = 200 };
static struct otus_series *many_counter, *many_hist;
static struct otus_metric *many_exp;
static pthread_barrier_t many_barrier;

static void *many_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&many_barrier); /* all alive at once */
    for (int i = 0; i < MANY_ADDS; i++) {
        otus_series_add(many_counter, 1);
        otus_series_record(many_hist, 1.0);
        otus_metric_record(many_exp, 2.0, NULL, 0);
    }
    pthread_barrier_wait(&many_barrier);
    return NULL;
}

static void shared_slots(void **state)
{
    (void)state;
    lib_start(NULL);
    many_counter = otus_metric_bind(otus_counter_create("s.many", NULL, NULL), NULL, 0);
    many_hist = otus_metric_bind(otus_histogram_create("s.many.h", NULL, NULL, NULL, 0), NULL, 0);
    many_exp = otus_exp_histogram_create("s.many.e", NULL, NULL, 0, 0);
    static pthread_t th[MANY];
    pthread_barrier_init(&many_barrier, NULL, MANY);
    int started = 0;
    for (int i = 0; i < MANY; i++)
        if (pthread_create(&th[i], NULL, many_worker, NULL) == 0)
            started++;
    assert_int_equal(started, MANY);
    for (int i = 0; i < MANY; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&many_barrier);
    MetricsReq *r = metrics_collect();
    assert_int_equal(metric_find(r, "s.many")->sum->data_points[0]->as_int, MANY * MANY_ADDS);
    assert_int_equal(metric_find(r, "s.many.h")->histogram->data_points[0]->count,
                     MANY * MANY_ADDS);
    assert_int_equal(metric_find(r, "s.many.e")->exponential_histogram->data_points[0]->count,
                     MANY * MANY_ADDS);
    metrics_free(r);
    /* Threads that exited gave their slots back and their values stayed. */
    pthread_t again;
    pthread_barrier_init(&many_barrier, NULL, 1);
    pthread_create(&again, NULL, many_worker, NULL);
    pthread_join(again, NULL);
    pthread_barrier_destroy(&many_barrier);
    r = metrics_collect();
    assert_int_equal(metric_find(r, "s.many")->sum->data_points[0]->as_int, (MANY + 1) * MANY_ADDS);
    metrics_free(r);
    lib_stop();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_totals),
        cmocka_unit_test(shared_slots),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
