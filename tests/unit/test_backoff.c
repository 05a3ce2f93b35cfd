/*
 * test_backoff.c: full-jitter delays stay within their growing bound and spread over
 * it, a fixed seed repeats its sequence, Retry-After is a floor, max_elapsed stops the
 * retries, and Retry-After values parse in both forms (all three date formats).
 */
#include "otus_test.h"

#include <otus.h>

#include "common/backoff.h"

static void bounds_grow_and_cap(void **state)
{
    (void)state;
    struct otus_backoff_opts o = {.initial_interval_ms = 100,
                                  .multiplier = 2.0,
                                  .max_interval_ms = 5000,
                                  .max_elapsed_ms = UINT64_MAX,
                                  .seed = 42};
    for (int run = 0; run < 200; run++) {
        o.seed = 42 + (uint64_t)run;
        struct otus_backoff b;
        otus_backoff_init(&b, &o);
        uint64_t bound = 100;
        for (int i = 0; i < 20; i++) {
            int64_t d = otus_backoff_next(&b, 1000, -1);
            assert_true(d >= 0);
            assert_true((uint64_t)d <= bound);
            bound = bound * 2 > 5000 ? 5000 : bound * 2;
        }
        assert_int_equal(b.attempts, 20);
    }
}

static void reaches_the_cap(void **state)
{
    (void)state;
    /* Late attempts draw from [0, max_interval]: over many draws some come close to
     * the cap and none pass it. */
    struct otus_backoff_opts o = {.initial_interval_ms = 10, .max_interval_ms = 1000, .seed = 7};
    struct otus_backoff b;
    otus_backoff_init(&b, &o);
    for (int i = 0; i < 10; i++)
        otus_backoff_next(&b, 0, -1);
    int64_t max = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t d = otus_backoff_next(&b, 0, -1);
        assert_true(d >= 0 && d <= 1000);
        if (d > max)
            max = d;
    }
    assert_true(max >= 950);
}

static void jitter_spreads_uniformly(void **state)
{
    (void)state;
    /* 20000 draws from [0, 999]: ten buckets of 2000 expected each. */
    struct otus_backoff b;
    otus_backoff_init(&b, &(struct otus_backoff_opts){.seed = 12345});
    int buckets[10] = {0};
    double sum = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t v = otus_backoff_uniform(&b, 999);
        assert_true(v <= 999);
        buckets[v / 100]++;
        sum += (double)v;
    }
    for (int i = 0; i < 10; i++)
        assert_true(buckets[i] > 1700 && buckets[i] < 2300);
    double mean = sum / 20000;
    assert_true(mean > 480 && mean < 520);

    /* Delays of one attempt across independent instances also spread. */
    int low = 0, high = 0;
    for (int i = 0; i < 1000; i++) {
        struct otus_backoff x;
        otus_backoff_init(&x, &(struct otus_backoff_opts){.initial_interval_ms = 1000});
        int64_t d = otus_backoff_next(&x, 0, -1);
        low += d < 250;
        high += d > 750;
    }
    assert_true(low > 150 && high > 150);

    /* Bound 0 gives 0; the full 64-bit range works. */
    assert_int_equal(otus_backoff_uniform(&b, 0), 0);
    (void)otus_backoff_uniform(&b, UINT64_MAX);
}

static void seeds(void **state)
{
    (void)state;
    struct otus_backoff a, b, c;
    otus_backoff_init(&a, &(struct otus_backoff_opts){.seed = 99});
    otus_backoff_init(&b, &(struct otus_backoff_opts){.seed = 99});
    otus_backoff_init(&c, &(struct otus_backoff_opts){.seed = 100});
    int same_c = 1;
    for (int i = 0; i < 50; i++) {
        uint64_t x = otus_backoff_uniform(&a, 1u << 30);
        assert_int_equal(x, otus_backoff_uniform(&b, 1u << 30));
        if (x != otus_backoff_uniform(&c, 1u << 30))
            same_c = 0;
    }
    assert_false(same_c);

    /* Seed 0: every instance its own sequence. */
    struct otus_backoff r1, r2;
    otus_backoff_init(&r1, NULL);
    otus_backoff_init(&r2, NULL);
    int same_r = 1;
    for (int i = 0; i < 8; i++)
        if (otus_backoff_uniform(&r1, UINT64_MAX) != otus_backoff_uniform(&r2, UINT64_MAX))
            same_r = 0;
    assert_false(same_r);
}

static void defaults(void **state)
{
    (void)state;
    struct otus_backoff b;
    otus_backoff_init(&b, NULL);
    assert_int_equal(b.opts.initial_interval_ms, OTUS_BACKOFF_DEFAULT_INITIAL_MS);
    assert_int_equal(b.opts.max_interval_ms, OTUS_BACKOFF_DEFAULT_MAX_INTERVAL_MS);
    assert_int_equal(b.opts.max_elapsed_ms, OTUS_BACKOFF_DEFAULT_MAX_ELAPSED_MS);
    assert_true(b.opts.multiplier == 2.0);
    /* A multiplier below 1 means a constant bound. */
    otus_backoff_init(&b, &(struct otus_backoff_opts){.initial_interval_ms = 50,
                                                      .multiplier = 0.5,
                                                      .max_elapsed_ms = UINT64_MAX,
                                                      .seed = 3});
    for (int i = 0; i < 100; i++)
        assert_true(otus_backoff_next(&b, 0, -1) <= 50);
    /* An initial interval above the cap starts at the cap. */
    otus_backoff_init(&b, &(struct otus_backoff_opts){
                              .initial_interval_ms = 9000, .max_interval_ms = 100, .seed = 3});
    for (int i = 0; i < 100; i++)
        assert_true(otus_backoff_next(&b, 0, -1) <= 100);
}

static void retry_after_is_a_floor(void **state)
{
    (void)state;
    struct otus_backoff b;
    otus_backoff_init(&b, &(struct otus_backoff_opts){.initial_interval_ms = 100,
                                                      .max_interval_ms = 400,
                                                      .max_elapsed_ms = UINT64_MAX,
                                                      .seed = 5});
    for (int i = 0; i < 500; i++) {
        int64_t d = otus_backoff_next(&b, 0, 3000);
        assert_int_equal(d, 3000); /* every jittered delay is below the server's */
    }
    /* A small Retry-After does not shorten a longer jittered delay: the result is
     * at least the floor and within the bound. */
    otus_backoff_reset(&b);
    for (int i = 0; i < 500; i++) {
        int64_t d = otus_backoff_next(&b, 0, 10);
        assert_true(d >= 10 && d <= 400);
    }
    /* Retry-After: 0 is a floor of zero. */
    assert_true(otus_backoff_next(&b, 0, 0) >= 0);
}

static void max_elapsed_stops(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct otus_backoff b;
        otus_backoff_init(&b, &(struct otus_backoff_opts){.initial_interval_ms = 100,
                                                          .max_interval_ms = 2000,
                                                          .max_elapsed_ms = 10000,
                                                          .seed = seed});
        uint64_t start = 50000, now = start;
        int tries = 0;
        for (;;) {
            int64_t d = otus_backoff_next(&b, now, -1);
            if (d == OTUS_BACKOFF_STOP)
                break;
            assert_true(d >= 0);
            /* No retry is ever scheduled past the deadline. */
            assert_true(now + (uint64_t)d <= start + 10000);
            now += (uint64_t)d + 3; /* the attempt itself takes 3 ms */
            tries++;
            assert_true(tries < 100000);
        }
        assert_true(now >= start + 10000);
        assert_true(tries >= 5);
    }
}

static void retry_after_past_deadline_stops(void **state)
{
    (void)state;
    struct otus_backoff b;
    otus_backoff_init(&b, &(struct otus_backoff_opts){.max_elapsed_ms = 60000, .seed = 1});
    assert_true(otus_backoff_next(&b, 1000, 30000) >= 30000);
    /* 40 s later, a server asking for another 30 s would take us past the minute. */
    assert_int_equal(otus_backoff_next(&b, 41000, 30000), OTUS_BACKOFF_STOP);
    /* A reset starts a new minute. */
    otus_backoff_reset(&b);
    assert_int_equal(b.attempts, 0);
    assert_int_equal(otus_backoff_next(&b, 41000, 30000), 30000);
    /* No limit at all: even after 2^40 ms a delay comes back. */
    otus_backoff_init(&b, &(struct otus_backoff_opts){.max_elapsed_ms = UINT64_MAX, .seed = 1});
    assert_true(otus_backoff_next(&b, 0, -1) >= 0);
    assert_true(otus_backoff_next(&b, 1ull << 40, 5) >= 5);
}

static void parse_ra(const char *value, const char *date, uint64_t now_ms, int want_rc,
                     int64_t want_ms)
{
    int64_t ms = -12345;
    int rc = otus_retry_after_parse(value, date, now_ms, &ms);
    if (rc != want_rc)
        fail_msg("'%s': rc %d, want %d", value, rc, want_rc);
    if (rc == 0 && ms != want_ms)
        fail_msg("'%s': %lld ms, want %lld", value, (long long)ms, (long long)want_ms);
}

static void retry_after_values(void **state)
{
    (void)state;
    /* 1994-11-06T08:49:37Z */
    const uint64_t t = 784111777ull * 1000;
    parse_ra("120", NULL, t, 0, 120000);
    parse_ra("0", NULL, t, 0, 0);
    parse_ra("  7 ", NULL, t, 0, 7000);
    parse_ra("99999999999999999999999", NULL, t, 0, (INT64_MAX / 1000) * 1000);
    parse_ra("", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("-1", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("1.5", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("10s", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("soon", NULL, t, OTUS_ERR_PARSE, 0);

    /* The three date forms, measured against now. */
    parse_ra("Sun, 06 Nov 1994 08:49:47 GMT", NULL, t, 0, 10000);
    parse_ra("Sunday, 06-Nov-94 08:49:47 GMT", NULL, t, 0, 10000);
    parse_ra("Sun Nov  6 08:49:47 1994", NULL, t, 0, 10000);
    parse_ra("Sun Nov 16 08:49:37 1994", NULL, t, 0, 10ll * 86400 * 1000);
    /* Against the response's Date header instead (our clock is ignored). */
    parse_ra("Sun, 06 Nov 1994 08:50:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", 0, 0, 60000);
    /* An unusable Date header falls back to now. */
    parse_ra("Sun, 06 Nov 1994 08:50:37 GMT", "yesterday", t, 0, 60000);
    /* In the past: no wait. */
    parse_ra("Sun, 06 Nov 1994 08:49:00 GMT", NULL, t, 0, 0);
    /* Malformed dates. */
    parse_ra("Sun, 6 Nov 1994 08:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sun, 06 Nov 1994 08:49:37 UTC", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sun, 31 Nov 1994 08:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sun, 06 Nov 1994 24:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sun, 06 Nov 1994 08:49:37 GMT x", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sunday, 06 Nov 1994 08:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sund, 06-Nov-94 08:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Foo, 06 Nov 1994 08:49:37 GMT", NULL, t, OTUS_ERR_PARSE, 0);
    parse_ra("Sun Nov 6 08:49:37 1994", NULL, t, OTUS_ERR_PARSE, 0);
}

static void http_dates(void **state)
{
    (void)state;
    int64_t s;
    assert_int_equal(otus_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(otus_http_date_parse("Tue, 29 Feb 2000 12:00:00 GMT", &s), 0);
    assert_int_equal(s, 951825600);
    assert_int_equal(otus_http_date_parse("Tue, 29 Feb 2100 12:00:00 GMT", &s), OTUS_ERR_PARSE);
    assert_int_equal(otus_http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", &s), 0);
    assert_int_equal(s, 253402300799);
    /* Two-digit years: never more than 50 years ahead of today. */
    assert_int_equal(otus_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &s), 0);
    assert_int_equal(s, 784111777);
    assert_int_equal(otus_http_date_parse("Saturday, 01-Jan-00 00:00:00 GMT", &s), 0);
    assert_int_equal(s, 946684800);
    /* Leap second accepted. */
    assert_int_equal(otus_http_date_parse("Sat, 31 Dec 2016 23:59:60 GMT", &s), 0);
    assert_int_equal(s, 1483228800);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(bounds_grow_and_cap),
    cmocka_unit_test(reaches_the_cap),
    cmocka_unit_test(jitter_spreads_uniformly),
    cmocka_unit_test(seeds),
    cmocka_unit_test(defaults),
    cmocka_unit_test(retry_after_is_a_floor),
    cmocka_unit_test(max_elapsed_stops),
    cmocka_unit_test(retry_after_past_deadline_stops),
    cmocka_unit_test(retry_after_values),
    cmocka_unit_test(http_dates),
};

OTUS_TEST_MAIN(tests)
