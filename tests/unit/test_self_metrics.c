/*
 * test_self_metrics.c: the agent's own metrics registry: families in name order,
 * shared series with reference counts (an exporter and its replacement during a
 * reload hold the same series), label escaping, and both exposition formats.
 */
#include "otus_test.h"

#include "agent/self_metrics.h"

static int collected;

static void collect(void *ctx)
{
    struct otus_metric_series *g = ctx;
    g->value = 42;
    collected++;
}

static void render(struct otus_self_metrics *m, int om, char *out, size_t n)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_self_metrics_render(m, om, &b), 0);
    assert_true(b.len < n);
    if (b.len)
        memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    otus_buf_free(&b);
}

static void exposition(void **state)
{
    (void)state;
    struct otus_self_metrics *m = otus_self_metrics_create();
    const char *labels[] = {"exporter", "reason"};
    struct otus_metric_family *f = otus_self_metrics_family(
        m, "otus_z_dropped_total", "Dropped records.", OTUS_METRIC_COUNTER, labels, 2);
    const char *v1[] = {"file", "queue_full"};
    const char *v2[] = {"es/\"a\"\\b\nc", "shutdown"};
    otus_self_metrics_series(f, v1)->value = 3;
    otus_self_metrics_series(f, v2)->value = 1.5;
    struct otus_metric_series *g =
        otus_self_metrics_simple(m, "otus_a_queue", "Queued.", OTUS_METRIC_GAUGE);
    assert_int_equal(otus_self_metrics_on_collect(m, collect, g), 0);
    char out[2048];
    render(m, 0, out, sizeof(out));
    assert_string_equal(
        out, "# HELP otus_a_queue Queued.\n"
             "# TYPE otus_a_queue gauge\n"
             "otus_a_queue 42\n"
             "# HELP otus_z_dropped_total Dropped records.\n"
             "# TYPE otus_z_dropped_total counter\n"
             "otus_z_dropped_total{exporter=\"file\",reason=\"queue_full\"} 3\n"
             "otus_z_dropped_total{exporter=\"es/\\\"a\\\"\\\\b\\nc\",reason=\"shutdown\"} 1.5\n");
    assert_int_equal(collected, 1);
    /* OpenMetrics names the counter family without _total. */
    render(m, 1, out, sizeof(out));
    assert_non_null(strstr(out, "# TYPE otus_z_dropped counter\n"));
    assert_non_null(strstr(out, "otus_z_dropped_total{exporter=\"file\""));
    otus_self_metrics_off_collect(m, collect, g);
    otus_self_metrics_destroy(m);
}

static void shared_series_are_counted(void **state)
{
    (void)state;
    struct otus_self_metrics *m = otus_self_metrics_create();
    const char *labels[] = {"exporter"};
    struct otus_metric_family *f =
        otus_self_metrics_family(m, "otus_sent_total", "Sent.", OTUS_METRIC_COUNTER, labels, 1);
    /* The same family by name, whoever asks. */
    assert_ptr_equal(
        otus_self_metrics_family(m, "otus_sent_total", "x", OTUS_METRIC_COUNTER, labels, 1), f);
    const char *v[] = {"file"};
    struct otus_metric_series *old = otus_self_metrics_series(f, v);
    old->value = 10;
    /* A replacement instance gets the same series, value included. */
    struct otus_metric_series *fresh = otus_self_metrics_series(f, v);
    assert_ptr_equal(old, fresh);
    /* The old instance goes: the series stays for the new one. */
    otus_self_metrics_series_remove(old);
    fresh->value += 5;
    char out[1024];
    render(m, 0, out, sizeof(out));
    assert_non_null(strstr(out, "otus_sent_total{exporter=\"file\"} 15\n"));
    /* The last holder goes: so does the series, and the family renders nothing. */
    otus_self_metrics_series_remove(fresh);
    render(m, 0, out, sizeof(out));
    assert_string_equal(out, "");
    otus_self_metrics_series_remove(NULL);
    otus_self_metrics_destroy(m);
    otus_self_metrics_destroy(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(exposition),
    cmocka_unit_test(shared_series_are_counted),
};

OTUS_TEST_MAIN(tests)
