/*
 * test_clock.c: clocks move the right way and RFC 3339 formatting is exact around
 * the awkward dates (epoch, leap days, century rules, the end of year 9999).
 */
#include "otus_test.h"

#include <time.h>

#include "common/clock.h"

static void clocks(void **state)
{
    (void)state;
    uint64_t m1 = otus_clock_mono_ns();
    uint64_t m2 = otus_clock_mono_ns();
    assert_true(m2 >= m1);
    uint64_t w = otus_clock_wall_ns();
    /* After 2020-01-01 and before 2200-01-01. */
    assert_true(w > 1577836800ull * 1000000000ull);
    assert_true(w < 7258118400ull * 1000000000ull);
}

static void check(uint64_t ns, const char *want)
{
    char out[OTUS_RFC3339_BUF];
    size_t n = otus_time_rfc3339_nano(ns, out);
    assert_int_equal(n, OTUS_RFC3339_NANO_LEN);
    assert_string_equal(out, want);
}

static void rfc3339(void **state)
{
    (void)state;
    check(0, "1970-01-01T00:00:00.000000000Z");
    check(1, "1970-01-01T00:00:00.000000001Z");
    check(951782400ull * 1000000000ull, "2000-02-29T00:00:00.000000000Z"); /* leap, /400 */
    check(4107542400ull * 1000000000ull + 999999999, "2100-03-01T00:00:00.999999999Z");
    check(1700000000123456789ull, "2023-11-14T22:13:20.123456789Z");
    check(UINT64_MAX, "2554-07-21T23:34:33.709551615Z");
}

static void civil_matches_gmtime(void **state)
{
    (void)state;
    /* Compare against libc across a wide range of days. */
    for (int64_t s = -86400LL * 365 * 3; s < 86400LL * 365 * 400; s += 86400 * 7 + 3601) {
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        int y, mo, d, h, mi, se;
        otus_time_civil(s, &y, &mo, &d, &h, &mi, &se);
        assert_int_equal(y, tm.tm_year + 1900);
        assert_int_equal(mo, tm.tm_mon + 1);
        assert_int_equal(d, tm.tm_mday);
        assert_int_equal(h, tm.tm_hour);
        assert_int_equal(mi, tm.tm_min);
        assert_int_equal(se, tm.tm_sec);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(clocks),
    cmocka_unit_test(rfc3339),
    cmocka_unit_test(civil_matches_gmtime),
};

OTUS_TEST_MAIN(tests)
