/*
 * test_otlp_export_config.c: the OTLP exporter's configuration (exporters/otlp/
 * otlp_config.c): defaults of both types, the URL of each signal as the OpenTelemetry
 * exporter configuration defines it, request headers, and the checks across keys.
 */
#include "otus_test.h"

#include <otus.h>

#include "agent/config.h"
#include "exporters/otlp/otlp.h"

/* Parses yaml (a mapping of the exporter's keys) into cfg with table's defaults. */
static int load(const struct otus_cfg_entry *table, const char *yaml, struct otlp_cfg *cfg,
                struct otus_cfg_err *err)
{
    struct otus_cfg_doc d;
    memset(cfg, 0, sizeof(*cfg));
    int rc = otus_cfg_defaults(table, cfg, err);
    assert_int_equal(rc, 0);
    rc = otus_cfg_doc_load_string(&d, "test", yaml, err);
    assert_int_equal(rc, 0);
    yaml_node_t *root = otus_cfg_root(&d);
    if (root)
        rc = otus_cfg_apply(&d, root, "exporters.otlp", table, cfg, err);
    if (!rc)
        rc = otus__otlp_check(cfg, err);
    otus_cfg_doc_free(&d);
    return rc;
}

static void expect_url(const struct otlp_cfg *cfg, enum otus_signal s, int append, const char *want)
{
    char *u = NULL;
    assert_int_equal(otus__otlp_url(cfg, s, append, &u), 0);
    assert_string_equal(u, want);
    free(u);
}

static void otlp_defaults_and_urls(void **state)
{
    (void)state;
    struct otlp_cfg cfg;
    struct otus_cfg_err err;
    assert_int_equal(load(otus__otlp_table, "", &cfg, &err), 0);
    assert_string_equal(cfg.endpoint, "http://127.0.0.1:4318");
    assert_string_equal(cfg.c.compression, "gzip");
    assert_string_equal(cfg.c.encoding, "protobuf");
    assert_int_equal(cfg.c.timeout_ms, 10000);
    assert_int_equal(cfg.c.retry.initial_interval_ms, 1000);
    assert_int_equal(cfg.c.retry.max_elapsed_ms, 300000);
    assert_int_equal(cfg.c.breaker.failure_threshold, 5);
    expect_url(&cfg, OTUS_SIGNAL_TRACES, 1, "http://127.0.0.1:4318/v1/traces");
    expect_url(&cfg, OTUS_SIGNAL_METRICS, 1, "http://127.0.0.1:4318/v1/metrics");
    expect_url(&cfg, OTUS_SIGNAL_LOGS, 1, "http://127.0.0.1:4318/v1/logs");
    otus_cfg_free(otus__otlp_table, &cfg);

    /* A base with a path and trailing slashes; a per-signal endpoint used as given. */
    assert_int_equal(load(otus__otlp_table,
                          "endpoint: https://gw.example.com:443/otlp//\n"
                          "logs_endpoint: http://logs.example.com/ingest?tenant=a\n",
                          &cfg, &err),
                     0);
    expect_url(&cfg, OTUS_SIGNAL_TRACES, 1, "https://gw.example.com:443/otlp/v1/traces");
    expect_url(&cfg, OTUS_SIGNAL_LOGS, 1, "http://logs.example.com/ingest?tenant=a");
    otus_cfg_free(otus__otlp_table, &cfg);
}

static void jaeger_defaults(void **state)
{
    (void)state;
    struct otlp_cfg cfg;
    struct otus_cfg_err err;
    assert_int_equal(load(otus__jaeger_table, "", &cfg, &err), 0);
    expect_url(&cfg, OTUS_SIGNAL_TRACES, 0, "http://127.0.0.1:4318/v1/traces");
    otus_cfg_free(otus__jaeger_table, &cfg);
    /* jaeger takes the full URL as given and has no per-signal keys. */
    assert_int_equal(load(otus__jaeger_table, "endpoint: http://jaeger:4318/custom\n", &cfg, &err),
                     0);
    expect_url(&cfg, OTUS_SIGNAL_TRACES, 0, "http://jaeger:4318/custom");
    otus_cfg_free(otus__jaeger_table, &cfg);
    assert_int_equal(load(otus__jaeger_table, "logs_endpoint: http://x\n", &cfg, &err),
                     OTUS_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "logs_endpoint"));
    otus_cfg_free(otus__jaeger_table, &cfg);
}

static void headers(void **state)
{
    (void)state;
    struct otlp_cfg cfg;
    struct otus_cfg_err err;
    assert_int_equal(load(otus__otlp_table,
                          "headers:\n  authorization: Bearer abc\n  x-scope-orgid: \"42\"\n", &cfg,
                          &err),
                     0);
    char **h = NULL;
    assert_int_equal(otus__otlp_headers(&cfg, &h), 0);
    assert_string_equal(h[0], "Content-Type: application/x-protobuf");
    assert_string_equal(h[1], "Content-Encoding: gzip");
    assert_string_equal(h[2], "authorization: Bearer abc");
    assert_string_equal(h[3], "x-scope-orgid: 42");
    assert_null(h[4]);
    free(h);
    otus_cfg_free(otus__otlp_table, &cfg);
    assert_int_equal(load(otus__otlp_table, "compression: none\nencoding: json\n", &cfg, &err), 0);
    assert_int_equal(otus__otlp_headers(&cfg, &h), 0);
    assert_string_equal(h[0], "Content-Type: application/json");
    assert_null(h[1]);
    free(h);
    otus_cfg_free(otus__otlp_table, &cfg);
}

static void refused(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *needle;
    } cases[] = {
        {"endpoint: 127.0.0.1:4318\n", "http://"},
        {"endpoint: \"http://\"\n", "no host"},
        {"endpoint: http://u:p@h:1\n", "credentials"},
        {"endpoint: \"http://h:1/a b\"\n", "space"},
        {"traces_endpoint: ftp://h\n", "traces_endpoint"},
        {"headers:\n  \"bad name\": x\n", "header name"},
        {"headers:\n  Content-Encoding: br\n", "set by the exporter"},
        {"compression: zstd\n", "zstd"},
        {"encoding: thrift\n", "thrift"},
        {"compression_level: 10\n", "compression_level"},
        {"retry:\n  initial_interval: 1m\n  max_interval: 1s\n", "retry.initial_interval"},
        {"breaker:\n  open_timeout: 10m\n  max_open_timeout: 1m\n", "breaker.open_timeout"},
        {"unknown_key: 1\n", "unknown_key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct otlp_cfg cfg;
        struct otus_cfg_err err = {{0}};
        int rc = load(otus__otlp_table, cases[i].yaml, &cfg, &err);
        if (rc != OTUS_ERR_CONFIG || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu (%s): rc %d, message [%s]", i, cases[i].yaml, rc, err.msg);
        otus_cfg_free(otus__otlp_table, &cfg);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(otlp_defaults_and_urls),
        cmocka_unit_test(jaeger_defaults),
        cmocka_unit_test(headers),
        cmocka_unit_test(refused),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
