/*
 * test_lib_alloc.c: the record paths allocate nothing once warm. The malloc family is
 * wrapped at link time (see LIB_TEST_LDFLAGS_alloc in the Makefile) and counted per
 * thread; after one warm-up call of each kind, thousands of counter adds (bound and
 * unbound), histogram and exponential histogram records, gauge sets, span starts and
 * ends with attributes, events, log records with fields and traceparent injections
 * and extractions must leave the count at zero.
 */
#include "test_lib.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static __thread long allocations;

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    allocations++;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    __real_free(p);
}

static void set_hdr(void *c, const char *name, const char *v, size_t n)
{
    (void)c;
    (void)name;
    (void)v;
    (void)n;
}

static size_t get_hdr(void *c, const char *name, const char **v, size_t *l, size_t max)
{
    (void)c;
    static const char tp[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    if (strcmp(name, "traceparent") != 0 || !max)
        return 0;
    v[0] = tp;
    l[0] = sizeof(tp) - 1;
    return 1;
}

static void one_round(struct otus_series *bound, struct otus_metric *unbound,
                      struct otus_series *hist, struct otus_series *exph, struct otus_series *gauge,
                      int i)
{
    struct otus_attr attrs[3] = {otus_attr_str("http.request.method", "GET"),
                                 otus_attr_str("url.scheme", "https"),
                                 otus_attr_int("http.response.status_code", 200)};
    otus_series_add(bound, 1);
    otus_metric_add(unbound, 1, attrs, 3);
    otus_series_record(hist, (double)(i % 50));
    otus_series_record(exph, 0.001 * (1 + i % 500));
    otus_series_set(gauge, (double)i);
    struct otus_span sp;
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = attrs;
    o.n_attrs = 2;
    otus_span_start(&sp, "op", OTUS_SPAN_SERVER, &o);
    otus_series_record(hist, 1.0); /* an exemplar */
    otus_span_add_event(&sp, "ev", attrs + 2, 1);
    otus_log_write(OTUS_LEVEL_INFO, "handled", attrs, 3);
    otus_context_inject(NULL, set_hdr, NULL);
    otus_span_end(&sp);
    struct otus_context ctx;
    otus_context_extract(&ctx, get_hdr, NULL);
}

static void record_paths_allocate_nothing(void **state)
{
    (void)state;
    allocations = 0;
    lib_start(NULL);
    assert_true(allocations > 0); /* the interposer sees libotus's own calls */
    struct otus_metric *unbound = otus_counter_create("a.unbound", NULL, NULL);
    struct otus_series *bound =
        otus_metric_bind(otus_counter_create("a.bound", NULL, NULL), NULL, 0);
    struct otus_series *hist =
        otus_metric_bind(otus_histogram_create("a.hist", "s", NULL, NULL, 0), NULL, 0);
    struct otus_series *exph =
        otus_metric_bind(otus_exp_histogram_create("a.exp", "s", NULL, 0, 0), NULL, 0);
    struct otus_series *gauge = otus_metric_bind(otus_gauge_create("a.gauge", NULL, NULL), NULL, 0);
    one_round(bound, unbound, hist, exph, gauge, 0); /* warm-up */
    trace_free(spans_drain(NULL));
    logs_free(logs_drain(NULL, NULL));

    for (int batch = 0; batch < 10; batch++) {
        allocations = 0;
        for (int i = 0; i < 500; i++)
            one_round(bound, unbound, hist, exph, gauge, i);
        long made = allocations;
        assert_int_equal(made, 0);
        /* Draining (the background thread's work) may allocate; it is not counted. */
        trace_free(spans_drain(NULL));
        logs_free(logs_drain(NULL, NULL));
    }

    /* A new attribute set on a record path takes arena memory, not malloc. */
    allocations = 0;
    for (int i = 0; i < 100; i++) {
        struct otus_attr a = otus_attr_int("user", i);
        otus_metric_add(unbound, 1, &a, 1);
    }
    assert_int_equal(allocations, 0);
    lib_stop();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_paths_allocate_nothing),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
