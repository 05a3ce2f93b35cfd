/*
 * test_prom_names.c: the naming rules of the OpenTelemetry-to-Prometheus compatibility
 * specification (metric and label names, unit suffixes, _total), label value and HELP
 * escaping, and the number formats of the exposition.
 */
#include "otus_test.h"

#include <math.h>

#include <otus.h>

#include "exporters/prometheus/prom_names.h"

static void check_family(const char *name, const char *unit, int counter, const char *want,
                         const char *want_unit)
{
    struct otus_buf b;
    char u[PROM_UNIT_MAX];
    otus_buf_init(&b, 0);
    assert_int_equal(prom_family_name(name, unit, counter, &b, u), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("family(%s, %s): got [%.*s] want [%s]", name, unit, (int)b.len, b.data, want);
    assert_string_equal(u, want_unit);
    otus_buf_free(&b);
}

static void family_names(void **state)
{
    (void)state;
    check_family("http.server.duration", "ms", 0, "http_server_duration_milliseconds",
                 "milliseconds");
    check_family("http.server.duration", "s", 0, "http_server_duration_seconds", "seconds");
    check_family("system.memory.usage", "By", 0, "system_memory_usage_bytes", "bytes");
    check_family("system.cpu.utilization", "1", 0, "system_cpu_utilization_ratio", "ratio");
    check_family("system.network.io", "By/s", 0, "system_network_io_bytes_per_second",
                 "bytes_per_second");
    check_family("packets", "{packet}/s", 0, "packets_per_second", "per_second");
    check_family("http.server.requests", "{request}", 1, "http_server_requests", "");
    check_family("requests", "{request}", 1, "requests", "");
    check_family("disk.io", "KiBy", 0, "disk_io_kibibytes", "kibibytes");
    check_family("temp", "Cel", 0, "temp_celsius", "celsius");
    /* Counters: the family name drops _total (the samples add it back), and the unit
     * goes before the type suffix. */
    check_family("requests_total", "", 1, "requests", "");
    check_family("cpu.time_total", "s", 1, "cpu_time_seconds", "seconds");
    check_family("gc_total", "", 0, "gc_total", "");
    /* A name that already ends with the unit keeps it once. */
    check_family("latency_seconds", "s", 0, "latency_seconds", "seconds");
    check_family("seconds", "s", 0, "seconds", "seconds");
    check_family("up_seconds_ago", "s", 0, "up_seconds_ago_seconds", "seconds");
    /* Sanitising: invalid characters become '_', runs collapse, ends trimmed, a digit
     * first gets '_' before it, colons stay. */
    check_family("(lambda).function.executions(#)", "", 0, "lambda_function_executions", "");
    check_family("a..b__c", "", 0, "a_b_c", "");
    check_family("9lives", "", 0, "_9lives", "");
    check_family("ns:rule:rate5m", "", 0, "ns:rule:rate5m", "");
    check_family("caf\xc3\xa9.orders", "", 0, "caf_orders", "");
    /* Units not in the table are sanitised as they are. */
    check_family("flow", "m3/h", 0, "flow_m3_per_hour", "m3_per_hour");
    check_family("weird", "{a}ms{b}", 0, "weird_milliseconds", "milliseconds");
    struct otus_buf b;
    char u[PROM_UNIT_MAX];
    otus_buf_init(&b, 0);
    assert_int_equal(prom_family_name("...", "", 0, &b, u), OTUS_ERR_INVALID);
    otus_buf_free(&b);
}

static void check_label(const char *key, const char *want)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(prom_label_name(key, &b), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("label(%s): got [%.*s] want [%s]", key, (int)b.len, b.data, want);
    /* A name that is clean is exactly what the sanitiser makes of it. */
    assert_int_equal(prom_label_name_clean_len(key), strcmp(key, want) == 0 ? strlen(key) : 0);
    otus_buf_free(&b);
}

static void label_names(void **state)
{
    (void)state;
    check_label("http.method", "http_method");
    check_label("method", "method");
    check_label("a_b", "a_b");
    check_label("a..b", "a_b");
    check_label("a__b", "a_b");
    check_label("3d", "key_3d");
    check_label("_private", "key_private");
    check_label("__meta", "key_meta");
    check_label("k8s.pod.name", "k8s_pod_name");
    check_label("x-y z", "x_y_z");
    check_label("trailing.", "trailing_");
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(prom_label_name("", &b), OTUS_ERR_INVALID);
    otus_buf_free(&b);
}

static void check_escape(const char *in, size_t n, int help, int om, const char *want)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    if (help)
        assert_int_equal(prom_escape_help(&b, in, n, om), 0);
    else
        assert_int_equal(prom_escape_value(&b, in, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("escape: got [%.*s] want [%s]", (int)b.len, b.data, want);
    otus_buf_free(&b);
}

static void escaping(void **state)
{
    (void)state;
    check_escape("plain", 5, 0, 0, "plain");
    check_escape("a\\b\"c\nd", 7, 0, 0, "a\\\\b\\\"c\\nd");
    check_escape("tab\there", 8, 0, 0, "tab\there");
    check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 0, 0,
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Invalid UTF-8 would make Prometheus refuse the whole scrape: replaced. */
    check_escape("bad\xff", 4, 0, 0, "bad\xef\xbf\xbd");
    check_escape("\xc3", 1, 0, 0, "\xef\xbf\xbd");
    check_escape("\xed\xa0\x80", 3, 0, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* HELP: the text format escapes backslash and line feed only, OpenMetrics the quote
     * too. */
    check_escape("say \"hi\"\\\n", 10, 1, 0, "say \"hi\"\\\\\\n");
    check_escape("say \"hi\"\\\n", 10, 1, 1, "say \\\"hi\\\"\\\\\\n");
}

static void check_double(double v, const char *want)
{
    char out[PROM_NUM_MAX + 1];
    size_t n = prom_fmt_double(v, out);
    out[n] = '\0';
    assert_string_equal(out, want);
    if (isfinite(v))
        assert_true(strtod(out, NULL) == v);
}

static void numbers(void **state)
{
    (void)state;
    check_double(0, "0");
    check_double(42, "42");
    check_double(-7, "-7");
    check_double(3.25, "3.25");
    check_double(0.1, "0.1");
    check_double(-0.001, "-0.001");
    check_double(123.5, "123.5");
    check_double(1e20, "1e+20");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(NAN, "NaN");
    check_double(INFINITY, "+Inf");
    check_double(-INFINITY, "-Inf");
    check_double(9007199254740993.0, "9007199254740992");
    /* Every value reads back exactly. */
    for (int i = 0; i < 100000; i++) {
        double v = (double)i * 1.37e-3 + (double)i * i * 1e-7;
        char out[PROM_NUM_MAX + 1];
        out[prom_fmt_double(v, out)] = '\0';
        assert_true(strtod(out, NULL) == v);
    }
    /* Random magnitudes and random bit patterns: all read back exactly. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        if (i & 1) {
            memcpy(&v, &x, sizeof(v));
            if (!isfinite(v))
                continue;
        } else {
            v = (double)(x >> 11) / 9007199254740992.0 * pow(10, (double)(i % 24) - 7);
        }
        char out[PROM_NUM_MAX + 1];
        out[prom_fmt_double(v, out)] = '\0';
        if (strtod(out, NULL) != v)
            fail_msg("%.17g written as %s", v, out);
    }
    check_double(1234.5678901234567, "1234.5678901234567");
    check_double(1e-5 * 3, "0.000030000000000000004");
    check_double(123456.789, "123456.789");
    check_double(0.1 * 3, "0.30000000000000004");
    char out[PROM_NUM_MAX];
    assert_int_equal(prom_fmt_u64(0, out), 1);
    out[prom_fmt_u64(18446744073709551615ull, out)] = '\0';
    assert_memory_equal(out, "18446744073709551615", 20);
    out[prom_fmt_unix_ns(1520879607789000000ull, out)] = '\0';
    assert_string_equal(out, "1520879607.789");
    out[prom_fmt_unix_ns(1520879607000000000ull, out)] = '\0';
    assert_string_equal(out, "1520879607");
    out[prom_fmt_unix_ns(1000000001ull, out)] = '\0';
    assert_string_equal(out, "1.000000001");
}

static void canonical_numbers(void **state)
{
    (void)state;
    /* The examples of OpenMetrics' "Canonical Numbers". */
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.0, "0.0"},
        {0.001, "0.001"},
        {0.002, "0.002"},
        {0.01, "0.01"},
        {0.1, "0.1"},
        {0.9, "0.9"},
        {0.95, "0.95"},
        {0.99, "0.99"},
        {0.999, "0.999"},
        {1.0, "1.0"},
        {1.7, "1.7"},
        {10.0, "10.0"},
        {1e-10, "1e-10"},
        {1e-09, "1e-09"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {100000.0, "100000.0"},
        {1e+06, "1e+06"},
        {1e+10, "1e+10"},
        {INFINITY, "+Inf"},
        {-5, "-5.0"},
        {2.5e-3, "0.0025"},
        {1.4142135623730951, "1.4142135623730951"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[PROM_NUM_MAX];
        prom_fmt_canonical(cases[i].v, out);
        if (strcmp(out, cases[i].s) != 0)
            fail_msg("canonical(%g): got %s want %s", cases[i].v, out, cases[i].s);
    }
}

static void attribute_values(void **state)
{
    (void)state;
    Opentelemetry__Proto__Common__V1__AnyValue
        v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
        a = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    Opentelemetry__Proto__Common__V1__AnyValue *items[2] = {&a, &v};
    Opentelemetry__Proto__Common__V1__ArrayValue arr =
        OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v.int_value = -12;
    assert_int_equal(prom_any_value(&b, &v), 0);
    assert_buf_eq(&b, "-12");
    otus_buf_reset(&b);
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v.bool_value = 1;
    assert_int_equal(prom_any_value(&b, &v), 0);
    assert_buf_eq(&b, "true");
    otus_buf_reset(&b);
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v.double_value = 2.5;
    assert_int_equal(prom_any_value(&b, &v), 0);
    assert_buf_eq(&b, "2.5");
    otus_buf_reset(&b);
    uint8_t raw[] = {0xde, 0xad, 0xbe, 0xef};
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    v.bytes_value.data = raw;
    v.bytes_value.len = 4;
    assert_int_equal(prom_any_value(&b, &v), 0);
    assert_buf_eq(&b, "3q2+7w==");
    otus_buf_reset(&b);
    a.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    a.string_value = "x\"y";
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v.int_value = 3;
    arr.values = items;
    arr.n_values = 2;
    Opentelemetry__Proto__Common__V1__AnyValue outer =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    outer.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    outer.array_value = &arr;
    assert_int_equal(prom_any_value(&b, &outer), 0);
    assert_buf_eq(&b, "[\"x\\\"y\",3]");
    otus_buf_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_names),      cmocka_unit_test(label_names),
        cmocka_unit_test(escaping),          cmocka_unit_test(numbers),
        cmocka_unit_test(canonical_numbers), cmocka_unit_test(attribute_values),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
