/*
 * test_config.c: value parsers (durations, sizes, booleans), ${VAR} expansion, the
 * table-driven loader and the exact text of its error messages (file, line, key).
 */
#include "otus_test.h"

#include <unistd.h>

#include <otus.h>

#include "agent/agent_config.h"
#include "agent/config.h"
#include "exporters/exporter.h"

static void durations(void **state)
{
    (void)state;
    uint64_t ms;
    assert_int_equal(otus_parse_duration_ms("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(otus_parse_duration_ms("5s", &ms), 0);
    assert_int_equal(ms, 5000);
    assert_int_equal(otus_parse_duration_ms("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(otus_parse_duration_ms("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(otus_parse_duration_ms("2.5s", &ms), 0);
    assert_int_equal(ms, 2500);
    assert_int_equal(otus_parse_duration_ms("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(otus_parse_duration_ms("100us", &ms), 0);
    assert_int_equal(ms, 1); /* positive never rounds to zero */
    assert_int_equal(otus_parse_duration_ms("5", &ms), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_duration_ms("5x", &ms), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_duration_ms("-5s", &ms), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_duration_ms("", &ms), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_duration_ms("s", &ms), OTUS_ERR_INVALID);
}

static void sizes(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(otus_parse_size("512KiB", &b), 0);
    assert_int_equal(b, 512 * 1024);
    assert_int_equal(otus_parse_size("8MiB", &b), 0);
    assert_int_equal(b, 8u << 20);
    assert_int_equal(otus_parse_size("1GiB", &b), 0);
    assert_int_equal(b, 1u << 30);
    assert_int_equal(otus_parse_size("1.5MiB", &b), 0);
    assert_int_equal(b, 3u << 19);
    assert_int_equal(otus_parse_size("5MB", &b), 0);
    assert_int_equal(b, 5000000);
    assert_int_equal(otus_parse_size("1234", &b), 0);
    assert_int_equal(b, 1234);
    assert_int_equal(otus_parse_size("10B", &b), 0);
    assert_int_equal(b, 10);
    assert_int_equal(otus_parse_size("1.5", &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_size("5 MiB", &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_size("5mib", &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_size("-1", &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_parse_size("", &b), OTUS_ERR_INVALID);
}

static void expand(const char *in, const char *want)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    const char *bad = NULL;
    assert_int_equal(otus_cfg_expand_env(in, &b, &bad), 0);
    assert_int_equal(otus_buf_append_byte(&b, '\0'), 0);
    assert_string_equal(b.data, want);
    otus_buf_free(&b);
}

static void env_expansion(void **state)
{
    (void)state;
    setenv("OTUS_TEST_HOST", "es.local", 1);
    unsetenv("OTUS_TEST_UNSET");
    setenv("OTUS_TEST_EMPTY", "", 1);
    expand("http://${OTUS_TEST_HOST}:9200", "http://es.local:9200");
    expand("${OTUS_TEST_UNSET:-fallback}", "fallback");
    expand("${OTUS_TEST_EMPTY:-fallback}", "fallback");
    expand("${OTUS_TEST_HOST:-fallback}", "es.local");
    expand("[${OTUS_TEST_UNSET}]", "[]");
    expand("cost: $$5 and $x", "cost: $5 and $x");
    struct otus_buf b;
    otus_buf_init(&b, 0);
    const char *bad = NULL;
    assert_int_equal(otus_cfg_expand_env("a ${UNCLOSED", &b, &bad), OTUS_ERR_INVALID);
    assert_string_equal(bad, "${UNCLOSED");
    assert_int_equal(otus_cfg_expand_env("${}", &b, &bad), OTUS_ERR_INVALID);
    assert_int_equal(otus_cfg_expand_env("${BAD-NAME}", &b, &bad), OTUS_ERR_INVALID);
    otus_buf_free(&b);
}

/* Writes text to a temporary file and loads it as the agent's configuration. */
static int load_text(const char *text, struct otus_config *cfg, struct otus_cfg_err *err,
                     char *path)
{
    strcpy(path, "/tmp/otus-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = otus_config_load(cfg, path, err);
    unlink(path);
    return rc;
}

static void defaults(void **state)
{
    (void)state;
    struct otus_config cfg;
    struct otus_cfg_err err;
    assert_int_equal(otus_config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.source, "<embedded default>");
    assert_string_equal(cfg.service.log_level, "info");
    assert_string_equal(cfg.service.data_dir, "./otus-data");
    assert_int_equal(cfg.service.shutdown_timeout_ms, 10000);
    assert_string_equal(cfg.service.telemetry_listen, "127.0.0.1:9464");
    assert_int_equal(cfg.service.http.idle_timeout_ms, 60000);
    assert_int_equal(cfg.service.http.max_header_bytes, 16384);
    otus_config_free(&cfg);
}

static void file_values(void **state)
{
    (void)state;
    struct otus_config cfg;
    struct otus_cfg_err err;
    char path[64];
    setenv("OTUS_TEST_PORT", "19464", 1);
    int rc = load_text("service:\n"
                       "  log_level: debug\n"
                       "  shutdown_timeout: 2s\n"
                       "  telemetry:\n"
                       "    listen: 127.0.0.1:${OTUS_TEST_PORT}\n"
                       "  http:\n"
                       "    idle_timeout: 1500ms\n"
                       "    max_header_bytes: 32KiB\n",
                       &cfg, &err, path);
    if (rc)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg.service.log_level, "debug");
    assert_int_equal(cfg.service.shutdown_timeout_ms, 2000);
    assert_string_equal(cfg.service.telemetry_listen, "127.0.0.1:19464");
    assert_int_equal(cfg.service.http.idle_timeout_ms, 1500);
    assert_int_equal(cfg.service.http.max_header_bytes, 32768);
    assert_int_equal(cfg.service.http.request_timeout_ms, 30000); /* default kept */
    otus_config_free(&cfg);
}

/* Loads text and checks the error message ends with want after "path:". */
static void expect_error(const char *text, const char *want)
{
    struct otus_config cfg;
    struct otus_cfg_err err;
    char path[64];
    assert_int_equal(load_text(text, &cfg, &err, path), OTUS_ERR_CONFIG);
    char full[1024];
    snprintf(full, sizeof(full), "%s:%s", path, want);
    if (strcmp(err.msg, full) != 0)
        fail_msg("got  [%s]\nwant [%s]", err.msg, full);
}

static void errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("service:\n  log_levle: info\n",
                 "2: service.log_levle: unknown key (known here: log_level, data_dir, "
                 "shutdown_timeout, telemetry, http)");
    expect_error("service:\n  shutdown_timeout: 10\n",
                 "2: service.shutdown_timeout: \"10\" is not a duration (use e.g. 500ms, 5s, "
                 "5m, 1h)");
    expect_error("service:\n  log_level: loud\n",
                 "2: service.log_level: \"loud\" is not one of: debug, info, warn, error");
    expect_error("service:\n  http:\n    max_connections: many\n",
                 "3: service.http.max_connections: \"many\" is not an integer");
    expect_error("service:\n  http:\n    max_connections: 0\n",
                 "3: service.http.max_connections: 0 is out of range [1, 1000000]");
    expect_error("service:\n  http:\n    max_header_bytes: 16 KiB\n",
                 "3: service.http.max_header_bytes: \"16 KiB\" is not a size (use e.g. 512KiB, "
                 "8MiB, 1GiB)");
    expect_error("service:\n  data_dir: [a, b]\n",
                 "2: service.data_dir: expected a single value, found a list");
    expect_error("service: 5\n", "1: service: expected a mapping of settings");
    expect_error("servic:\n  log_level: info\n",
                 "1: servic: unknown key (known here: service, receivers, buffer, exporters, "
                 "pipelines)");
    expect_error("service:\n  data_dir: ${UNCLOSED\n",
                 "2: service.data_dir: bad environment reference at \"${UNCLOSED\" (use ${NAME} "
                 "or ${NAME:-default})");
    expect_error("service:\n  log_level: [\n",
                 "3: invalid YAML: did not find expected node content");
    expect_error("- a\n- b\n", "1: the configuration must be a mapping of sections");
}

static void exporters_and_pipelines(void **state)
{
    (void)state;
    struct otus_config cfg;
    struct otus_cfg_err err;
    char path[64];
    int rc = load_text("exporters:\n"
                       "  file:\n"
                       "    path: /tmp/a\n"
                       "  file/audit:\n"
                       "    path: /tmp/b\n"
                       "    max_files: 9\n"
                       "    flush_interval: 250ms\n"
                       "pipelines:\n"
                       "  logs: [file, file/audit]\n"
                       "  traces: [file]\n",
                       &cfg, &err, path);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg.exporters.n, 2);
    assert_string_equal(cfg.exporters.items[1].name, "file/audit");
    assert_string_equal(cfg.exporters.items[1].ops->type, "file");
    assert_int_equal(cfg.exporters.items[1].line, 4);
    /* The shared queue keys merge into the exporter's own. */
    const struct otus_queue_cfg *q = cfg.exporters.items[1].cfg;
    assert_int_equal(q->flush_interval_ms, 250);
    assert_int_equal(q->max_in_flight, 2);
    assert_int_equal(cfg.pipelines.signal[OTUS_SIGNAL_LOGS].n, 2);
    assert_string_equal(cfg.pipelines.signal[OTUS_SIGNAL_LOGS].items[1], "file/audit");
    assert_int_equal(cfg.pipelines.signal[OTUS_SIGNAL_METRICS].n, 0);
    assert_true(cfg.receivers.otlp.enabled);
    assert_string_equal(cfg.receivers.otlp.listen, "127.0.0.1:4318");
    assert_int_equal(cfg.receivers.otlp.max_request_bytes, 8u << 20);
    assert_string_equal(cfg.buffer.mode, "memory");
    otus_config_free(&cfg);

    expect_error("exporters:\n  kafka:\n    brokers: x\n",
                 "2: exporters.kafka: unknown exporter type \"kafka\" (known: file, prometheus, "
                 "elasticsearch, otlp, jaeger, null)");
    expect_error("exporters:\n  file/:\n    path: x\n",
                 "2: exporters.file/: an exporter is named \"type\" or \"type/name\" (letters, "
                 "digits, '_', '-', '.')");
    expect_error("exporters:\n  file:\n    pth: x\n",
                 "3: exporters.file.pth: unknown key (known here: flush_interval, "
                 "max_batch_bytes, max_batch_records, max_in_flight, queue_max_bytes, path, "
                 "max_file_bytes, max_files)");
    expect_error("exporters:\n  file:\n    max_files: 0\n",
                 "3: exporters.file.max_files: 0 is out of range [1, 1000]");
    expect_error("exporters:\n  file:\npipelines:\n  logs: [file, nope]\n",
                 "4: pipelines.logs: no exporter named \"nope\" is defined");
    expect_error("exporters:\n  file:\npipelines:\n  logs:\n    - file\n    - file\n",
                 "6: pipelines.logs: exporter \"file\" is listed twice");
    expect_error("pipelines:\n  profiles: [file]\n",
                 "2: pipelines.profiles: unknown key (known here: logs, traces, metrics)");
    expect_error("buffer:\n  mode: disk\n", "2: buffer.mode: \"disk\" is not one of: memory");
    expect_error("receivers:\n  otlp:\n    max_request_bytes: 10\n",
                 "3: receivers.otlp.max_request_bytes: 10 is out of range [1024, 1073741824] "
                 "bytes");
}

static void missing_file(void **state)
{
    (void)state;
    struct otus_config cfg;
    struct otus_cfg_err err;
    assert_int_equal(otus_config_load(&cfg, "/nonexistent/otus.yaml", &err), OTUS_ERR_IO);
    assert_string_equal(err.msg, "/nonexistent/otus.yaml: cannot read: No such file or directory");
}

static void describe(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_config_describe(&b), 0);
    assert_int_equal(otus_buf_append_byte(&b, '\0'), 0);
    assert_non_null(strstr(b.data, "| `service.http.idle_timeout` | duration | `60s` |"));
    assert_non_null(strstr(b.data, "One of: `debug`, `info`, `warn`, `error`."));
    otus_buf_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(durations),
    cmocka_unit_test(sizes),
    cmocka_unit_test(env_expansion),
    cmocka_unit_test(defaults),
    cmocka_unit_test(file_values),
    cmocka_unit_test(errors_name_file_line_key),
    cmocka_unit_test(exporters_and_pipelines),
    cmocka_unit_test(missing_file),
    cmocka_unit_test(describe),
};

OTUS_TEST_MAIN(tests)
