/*
 * test_lib_env.c: libotus configuration from OTEL_* variables, parsed and defaulted as
 * the OpenTelemetry environment variable and OTLP exporter specifications say, and
 * struct otus_sdk_config taking precedence. The environment comes from a table, not
 * the process, and warnings are captured through the diagnostic callback.
 */
#include "test_lib.h"

static const char *const *env_table;

static const char *fake_getenv(const char *name)
{
    for (const char *const *e = env_table; e && *e; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

static char warnings[8192];

static void capture(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

/* Loads settings from env (name, value, ..., NULL) and cfg (may be NULL). */
static void load(struct otus__settings *s, const char *const *env, struct otus_sdk_config *cfg)
{
    struct otus_sdk_config c;
    if (!cfg) {
        otus_sdk_config_init(&c);
        cfg = &c;
    }
    cfg->diag = capture;
    warnings[0] = '\0';
    env_table = env;
    assert_int_equal(otus__settings_load(s, cfg, fake_getenv), 0);
}

static void defaults(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {NULL};
    load(&s, env, NULL);
    assert_string_equal(s.url[OTUS__TRACES], "http://localhost:4318/v1/traces");
    assert_string_equal(s.url[OTUS__METRICS], "http://localhost:4318/v1/metrics");
    assert_string_equal(s.url[OTUS__LOGS], "http://localhost:4318/v1/logs");
    assert_int_equal(s.timeout_ms[OTUS__TRACES], 10000);
    assert_int_equal(s.gzip[OTUS__LOGS], 1);
    assert_int_equal(s.sampler, OTUS_SAMPLER_PARENTBASED_ALWAYS_ON);
    assert_int_equal(s.propagators, OTUS_PROPAGATOR_TRACECONTEXT | OTUS_PROPAGATOR_BAGGAGE);
    assert_int_equal(s.metric_interval_ms, 60000);
    assert_int_equal(s.metric_timeout_ms, 30000);
    assert_int_equal(s.span_queue, 2048);
    assert_int_equal(s.span_batch, 512);
    assert_int_equal(s.span_delay_ms, 5000);
    assert_int_equal(s.span_timeout_ms, 30000);
    assert_int_equal(s.log_queue, 2048);
    assert_int_equal(s.log_batch, 512);
    assert_int_equal(s.log_delay_ms, 1000);
    assert_int_equal(s.span_attr_limit, 128);
    assert_int_equal(s.span_event_limit, 128);
    assert_int_equal(s.span_value_limit, UINT32_MAX);
    assert_int_equal(s.max_series, 2000);
    assert_int_equal(s.disabled, 0);
    assert_int_equal(s.log_output, OTUS_LOG_OUTPUT_STDERR);
    assert_int_equal(s.log_level, OTUS_LEVEL_INFO);
    /* service.name: unknown_service:<executable> */
    assert_string_equal(s.service_name, "unknown_service:test_lib_env");
    assert_string_equal(warnings, "");
    otus__settings_free(&s);
}

static void generic_endpoint_gets_signal_paths(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/mycollector/", NULL};
    load(&s, env, NULL);
    assert_string_equal(s.url[OTUS__TRACES], "http://collector:4318/mycollector/v1/traces");
    assert_string_equal(s.url[OTUS__LOGS], "http://collector:4318/mycollector/v1/logs");
    otus__settings_free(&s);

    const char *env2[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://h:4318", NULL};
    load(&s, env2, NULL);
    assert_string_equal(s.url[OTUS__METRICS], "https://h:4318/v1/metrics");
    otus__settings_free(&s);

    const char *env3[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/base", NULL};
    load(&s, env3, NULL);
    assert_string_equal(s.url[OTUS__TRACES], "http://h:4318/base/v1/traces");
    otus__settings_free(&s);
}

static void per_signal_endpoint_used_as_given(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                         "http://collector:4318/mycollector/",
                         "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                         "http://collector:4318",
                         "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                         "https://collector.example.com/v1/metrics/",
                         NULL};
    load(&s, env, NULL);
    /* No path: the root path, and no /v1/traces added. */
    assert_string_equal(s.url[OTUS__TRACES], "http://collector:4318/");
    assert_string_equal(s.url[OTUS__METRICS], "https://collector.example.com/v1/metrics/");
    assert_string_equal(s.url[OTUS__LOGS], "http://collector:4318/mycollector/v1/logs");
    otus__settings_free(&s);

    const char *env2[] = {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://x:1/custom/path", NULL};
    load(&s, env2, NULL);
    assert_string_equal(s.url[OTUS__LOGS], "http://x:1/custom/path");
    assert_string_equal(s.url[OTUS__TRACES], "http://localhost:4318/v1/traces");
    otus__settings_free(&s);
}

static void invalid_endpoint_warned_and_ignored(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318",
                         "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x/", NULL};
    load(&s, env, NULL);
    assert_string_equal(s.url[OTUS__TRACES], "http://localhost:4318/v1/traces");
    assert_non_null(strstr(warnings, "OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318'"));
    assert_non_null(strstr(warnings, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='ftp://x/'"));
    otus__settings_free(&s);
}

static void empty_value_is_unset(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                         "",
                         "OTEL_BSP_MAX_QUEUE_SIZE",
                         "",
                         "OTEL_SERVICE_NAME",
                         "",
                         "OTEL_SDK_DISABLED",
                         "",
                         NULL};
    load(&s, env, NULL);
    assert_string_equal(s.url[OTUS__TRACES], "http://localhost:4318/v1/traces");
    assert_int_equal(s.span_queue, 2048);
    assert_int_equal(s.disabled, 0);
    assert_string_equal(warnings, "");
    otus__settings_free(&s);
}

static void booleans(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *t1[] = {"OTEL_SDK_DISABLED", "TRUE", NULL};
    load(&s, t1, NULL);
    assert_int_equal(s.disabled, 1);
    otus__settings_free(&s);
    const char *t2[] = {"OTEL_SDK_DISABLED", "False", NULL};
    load(&s, t2, NULL);
    assert_int_equal(s.disabled, 0);
    assert_string_equal(warnings, "");
    otus__settings_free(&s);
    /* Only "true" is true; anything else is false, with a warning. */
    const char *t3[] = {"OTEL_SDK_DISABLED", "1", NULL};
    load(&s, t3, NULL);
    assert_int_equal(s.disabled, 0);
    assert_non_null(strstr(warnings, "OTEL_SDK_DISABLED='1'"));
    otus__settings_free(&s);
}

static void numbers(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *ok[] = {"OTEL_BSP_MAX_QUEUE_SIZE",
                        "100",
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                        "50",
                        "OTEL_BSP_SCHEDULE_DELAY",
                        "250",
                        "OTEL_BLRP_SCHEDULE_DELAY",
                        "0",
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        "1500",
                        "OTEL_EXPORTER_OTLP_TIMEOUT",
                        "0",
                        NULL};
    load(&s, ok, NULL);
    assert_int_equal(s.span_queue, 100);
    assert_int_equal(s.span_batch, 50);
    assert_int_equal(s.span_delay_ms, 250);
    assert_int_equal(s.log_delay_ms, 0);
    assert_int_equal(s.metric_interval_ms, 1500);
    /* A timeout of 0 means no limit. */
    assert_int_equal(s.timeout_ms[OTUS__TRACES], 0x7fffffff);
    assert_string_equal(warnings, "");
    otus__settings_free(&s);

    const char *bad[] = {"OTEL_BSP_MAX_QUEUE_SIZE",
                         "abc",
                         "OTEL_BLRP_MAX_QUEUE_SIZE",
                         "-5",
                         "OTEL_BSP_SCHEDULE_DELAY",
                         "-1",
                         "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
                         "0",
                         "OTEL_METRIC_EXPORT_INTERVAL",
                         "10s",
                         "OTEL_SPAN_EVENT_COUNT_LIMIT",
                         "99999999999",
                         NULL};
    load(&s, bad, NULL);
    /* Invalid values are ignored: the defaults stay. */
    assert_int_equal(s.span_queue, 2048);
    assert_int_equal(s.log_queue, 2048);
    assert_int_equal(s.span_delay_ms, 5000);
    assert_int_equal(s.log_batch, 512);
    assert_int_equal(s.metric_interval_ms, 60000);
    assert_int_equal(s.span_event_limit, 128);
    assert_non_null(strstr(warnings, "OTEL_BSP_MAX_QUEUE_SIZE='abc'"));
    assert_non_null(strstr(warnings, "OTEL_BLRP_MAX_QUEUE_SIZE='-5'"));
    assert_non_null(strstr(warnings, "OTEL_BSP_SCHEDULE_DELAY='-1'"));
    assert_non_null(strstr(warnings, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE='0'"));
    assert_non_null(strstr(warnings, "OTEL_METRIC_EXPORT_INTERVAL='10s'"));
    assert_non_null(strstr(warnings, "OTEL_SPAN_EVENT_COUNT_LIMIT='99999999999'"));
    otus__settings_free(&s);

    /* The batch may not exceed the queue. */
    const char *big[] = {"OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200",
                         NULL};
    load(&s, big, NULL);
    assert_int_equal(s.span_queue, 100);
    assert_int_equal(s.span_batch, 100);
    assert_non_null(strstr(warnings, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=200"));
    otus__settings_free(&s);
}

static void sampler(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *r[] = {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG",
                       "0.25", NULL};
    load(&s, r, NULL);
    assert_int_equal(s.sampler, OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO);
    assert_true(s.ratio == 0.25);
    otus__settings_free(&s);

    const char *bad_arg[] = {"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG",
                             "1.5", NULL};
    load(&s, bad_arg, NULL);
    assert_int_equal(s.sampler, OTUS_SAMPLER_TRACEIDRATIO);
    assert_true(s.ratio == 1.0);
    assert_non_null(strstr(warnings, "OTEL_TRACES_SAMPLER_ARG='1.5'"));
    otus__settings_free(&s);

    /* The argument alone means nothing. */
    const char *arg_only[] = {"OTEL_TRACES_SAMPLER_ARG", "0.1", NULL};
    load(&s, arg_only, NULL);
    assert_int_equal(s.sampler, OTUS_SAMPLER_PARENTBASED_ALWAYS_ON);
    assert_true(s.ratio == 1.0);
    otus__settings_free(&s);

    const char *unknown[] = {"OTEL_TRACES_SAMPLER", "sometimes", NULL};
    load(&s, unknown, NULL);
    assert_int_equal(s.sampler, OTUS_SAMPLER_PARENTBASED_ALWAYS_ON);
    assert_non_null(strstr(warnings, "OTEL_TRACES_SAMPLER='sometimes'"));
    otus__settings_free(&s);

    const char *off[] = {"OTEL_TRACES_SAMPLER", "always_off", NULL};
    load(&s, off, NULL);
    assert_int_equal(s.sampler, OTUS_SAMPLER_ALWAYS_OFF);
    otus__settings_free(&s);
}

static void propagators(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *none[] = {"OTEL_PROPAGATORS", "none", NULL};
    load(&s, none, NULL);
    assert_int_equal(s.propagators, 0);
    otus__settings_free(&s);
    const char *tc[] = {"OTEL_PROPAGATORS", " tracecontext , tracecontext", NULL};
    load(&s, tc, NULL);
    assert_int_equal(s.propagators, OTUS_PROPAGATOR_TRACECONTEXT);
    otus__settings_free(&s);
    const char *b3[] = {"OTEL_PROPAGATORS", "baggage,b3", NULL};
    load(&s, b3, NULL);
    assert_int_equal(s.propagators, OTUS_PROPAGATOR_BAGGAGE);
    assert_non_null(strstr(warnings, "'b3' is not supported"));
    otus__settings_free(&s);
}

static void headers_and_compression(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_EXPORTER_OTLP_HEADERS",
                         "api-key=secret,x-team=a%20b",
                         "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                         "only=logs",
                         "OTEL_EXPORTER_OTLP_COMPRESSION",
                         "none",
                         "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                         "gzip",
                         "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
                         "1234",
                         NULL};
    load(&s, env, NULL);
    assert_int_equal(s.n_headers[OTUS__TRACES], 2);
    assert_string_equal(s.headers[OTUS__TRACES][0].key, "api-key");
    assert_string_equal(s.headers[OTUS__TRACES][0].value, "secret");
    assert_string_equal(s.headers[OTUS__TRACES][1].value, "a b");
    assert_int_equal(s.n_headers[OTUS__LOGS], 1);
    assert_string_equal(s.headers[OTUS__LOGS][0].key, "only");
    assert_int_equal(s.gzip[OTUS__TRACES], 1);
    assert_int_equal(s.gzip[OTUS__METRICS], 0);
    assert_int_equal(s.gzip[OTUS__LOGS], 0);
    assert_int_equal(s.timeout_ms[OTUS__METRICS], 1234);
    assert_int_equal(s.timeout_ms[OTUS__LOGS], 10000);
    otus__settings_free(&s);

    const char *bad[] = {"OTEL_EXPORTER_OTLP_HEADERS", "novalue", "OTEL_EXPORTER_OTLP_COMPRESSION",
                         "zstd", NULL};
    load(&s, bad, NULL);
    assert_int_equal(s.n_headers[OTUS__TRACES], 0);
    assert_int_equal(s.gzip[OTUS__TRACES], 1);
    assert_non_null(strstr(warnings, "OTEL_EXPORTER_OTLP_HEADERS='novalue'"));
    assert_non_null(strstr(warnings, "OTEL_EXPORTER_OTLP_COMPRESSION='zstd'"));
    otus__settings_free(&s);
}

static void resource(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_RESOURCE_ATTRIBUTES",
                         "service.name=from-attrs, deployment.environment=prod,team=a%2Cb", NULL};
    load(&s, env, NULL);
    assert_string_equal(s.service_name, "from-attrs");
    assert_int_equal(s.n_resource, 2);
    assert_string_equal(s.resource[0].key, "deployment.environment");
    assert_string_equal(s.resource[0].value, "prod");
    assert_string_equal(s.resource[1].value, "a,b");
    otus__settings_free(&s);

    /* OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES' service.name. */
    const char *env2[] = {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs",
                          "OTEL_SERVICE_NAME", "checkout", NULL};
    load(&s, env2, NULL);
    assert_string_equal(s.service_name, "checkout");
    otus__settings_free(&s);

    /* A malformed list is discarded as a whole. */
    const char *env3[] = {"OTEL_RESOURCE_ATTRIBUTES", "a=1,b=has space", NULL};
    load(&s, env3, NULL);
    assert_int_equal(s.n_resource, 0);
    assert_non_null(strstr(warnings, "OTEL_RESOURCE_ATTRIBUTES="));
    otus__settings_free(&s);
}

static void config_struct_wins(void **state)
{
    (void)state;
    struct otus__settings s;
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.service_name = "from-code";
    c.endpoint = "http://code:1234";
    c.sampler = OTUS_SAMPLER_TRACEIDRATIO;
    c.sampler_ratio = 0.5;
    c.span_queue_size = 64;
    c.compression = OTUS_COMPRESSION_NONE;
    c.propagators = OTUS_PROPAGATOR_NONE;
    c.flags = OTUS_SDK_NO_LOG_EXPORT;
    const char *env[] = {"OTEL_SERVICE_NAME",
                         "from-env",
                         "OTEL_EXPORTER_OTLP_ENDPOINT",
                         "http://env:1",
                         "OTEL_TRACES_SAMPLER",
                         "always_off",
                         "OTEL_BSP_MAX_QUEUE_SIZE",
                         "999",
                         "OTEL_PROPAGATORS",
                         "tracecontext",
                         NULL};
    load(&s, env, &c);
    assert_string_equal(s.service_name, "from-code");
    assert_string_equal(s.url[OTUS__TRACES], "http://code:1234/v1/traces");
    assert_int_equal(s.sampler, OTUS_SAMPLER_TRACEIDRATIO);
    assert_true(s.ratio == 0.5);
    assert_int_equal(s.span_queue, 64);
    assert_int_equal(s.gzip[OTUS__TRACES], 0);
    assert_int_equal(s.propagators, 0);
    assert_int_equal(s.export_enabled[OTUS__LOGS], 0);
    assert_int_equal(s.export_enabled[OTUS__TRACES], 1);
    otus__settings_free(&s);

    /* IGNORE_ENV: the environment is not read at all. */
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_IGNORE_ENV;
    load(&s, env, &c);
    assert_int_equal(s.span_queue, 2048);
    assert_int_equal(s.sampler, OTUS_SAMPLER_PARENTBASED_ALWAYS_ON);
    otus__settings_free(&s);
}

static void exporters_and_log_sink(void **state)
{
    (void)state;
    struct otus__settings s;
    const char *env[] = {"OTEL_TRACES_EXPORTER",
                         "none",
                         "OTEL_METRICS_EXPORTER",
                         "prometheus",
                         "OTUS_LOG_OUTPUT",
                         "/tmp/x.log",
                         "OTUS_LOG_LEVEL",
                         "debug",
                         NULL};
    load(&s, env, NULL);
    assert_int_equal(s.export_enabled[OTUS__TRACES], 0);
    assert_int_equal(s.export_enabled[OTUS__METRICS], 1);
    assert_non_null(strstr(warnings, "'prometheus' is not supported"));
    assert_int_equal(s.log_output, OTUS_LOG_OUTPUT_FILE);
    assert_string_equal(s.log_path, "/tmp/x.log");
    assert_int_equal(s.log_level, OTUS_LEVEL_DEBUG);
    otus__settings_free(&s);

    const char *env2[] = {"OTUS_LOG_OUTPUT", "none", "OTUS_LOG_LEVEL", "loud", NULL};
    load(&s, env2, NULL);
    assert_int_equal(s.log_output, OTUS_LOG_OUTPUT_NONE);
    assert_int_equal(s.log_level, OTUS_LEVEL_INFO);
    assert_non_null(strstr(warnings, "OTUS_LOG_LEVEL='loud'"));
    otus__settings_free(&s);
}

static void kvlist_parser(void **state)
{
    (void)state;
    struct otus__kv *kv;
    size_t n;
    assert_int_equal(otus__kvlist_parse("a=1, b = 2 ,,c=x%3Dy", &kv, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(kv[1].key, "b");
    assert_string_equal(kv[1].value, "2");
    assert_string_equal(kv[2].value, "x=y");
    otus__kvlist_free(kv, n);
    /* Later duplicates win. */
    assert_int_equal(otus__kvlist_parse("a=1,a=2", &kv, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].value, "2");
    otus__kvlist_free(kv, n);
    assert_int_equal(otus__kvlist_parse("a=%zz", &kv, &n), OTUS_ERR_PARSE);
    assert_int_equal(otus__kvlist_parse("=1", &kv, &n), OTUS_ERR_PARSE);
    assert_int_equal(otus__kvlist_parse("a b=1", &kv, &n), OTUS_ERR_PARSE);
    assert_int_equal(otus__kvlist_parse("a=\"q\"", &kv, &n), OTUS_ERR_PARSE);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(generic_endpoint_gets_signal_paths),
        cmocka_unit_test(per_signal_endpoint_used_as_given),
        cmocka_unit_test(invalid_endpoint_warned_and_ignored),
        cmocka_unit_test(empty_value_is_unset),
        cmocka_unit_test(booleans),
        cmocka_unit_test(numbers),
        cmocka_unit_test(sampler),
        cmocka_unit_test(propagators),
        cmocka_unit_test(headers_and_compression),
        cmocka_unit_test(resource),
        cmocka_unit_test(config_struct_wins),
        cmocka_unit_test(exporters_and_log_sink),
        cmocka_unit_test(kvlist_parser),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
