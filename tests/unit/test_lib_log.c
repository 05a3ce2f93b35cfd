/*
 * test_lib_log.c: log records: the JSON line (valid for any input, typed fields,
 * trace_id/span_id/trace_flags inside a span), the OTLP LogRecord, the level
 * threshold, a full ring (dropped and counted), and the direct path used when the
 * library is not running.
 */
#include "test_lib.h"

#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

static int setup(void **state)
{
    (void)state;
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.log_level = OTUS_LEVEL_DEBUG;
    lib_start(&c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    logs_free(logs_drain(NULL, NULL));
    trace_free(spans_drain(NULL));
    lib_stop();
    return 0;
}

/* Parses the one JSON line in b (asserting it is valid JSON and one line). */
static json_t *one_line(struct otus_buf *b)
{
    assert_true(b->len > 0);
    assert_int_equal(b->data[b->len - 1], '\n');
    assert_null(memchr(b->data, '\n', b->len - 1));
    json_error_t err;
    json_t *j = json_loadb(b->data, b->len, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("invalid JSON: %s in %.*s", err.text, (int)b->len, b->data);
    return j;
}

static void json_line_fields(void **state)
{
    (void)state;
    const char *tags[] = {"a", "b"};
    struct otus_attr kv[1] = {otus_attr_int("n", 1)};
    struct otus_attr f[] = {
        otus_attr_str("user.id", "u-42"),
        otus_attr_int("attempt", 3),
        otus_attr_double("ratio", 0.25),
        otus_attr_bool("cached", 0),
        otus_attr_bytes("raw", "\x01\x02\xff", 3),
        otus_attr_array("tags", OTUS_TYPE_STRING_ARRAY, tags, 2),
        otus_attr_array("obj", OTUS_TYPE_KVLIST, kv, 1),
        otus_attr_str("message", "collides with the line's own key"),
        otus_attr_double("nan", NAN),
    };
    otus_log_write(OTUS_LEVEL_WARN, "payment declined", f, sizeof(f) / sizeof(f[0]));
    struct otus_buf b;
    otus_buf_init(&b, 0);
    size_t n;
    LogsReq *r = logs_drain(&b, &n);
    assert_int_equal(n, 1);
    json_t *j = one_line(&b);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "WARN");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "payment declined");
    assert_string_equal(json_string_value(json_object_get(j, "service.name")), "test-service");
    const char *ts = json_string_value(json_object_get(j, "timestamp"));
    assert_int_equal(strlen(ts), 30);
    assert_int_equal(ts[29], 'Z');
    assert_string_equal(json_string_value(json_object_get(j, "user.id")), "u-42");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 3);
    assert_true(json_real_value(json_object_get(j, "ratio")) == 0.25);
    assert_true(json_is_false(json_object_get(j, "cached")));
    assert_string_equal(json_string_value(json_object_get(j, "raw")), "AQL/");
    assert_int_equal(json_array_size(json_object_get(j, "tags")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "obj"), "n")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "_message")),
                        "collides with the line's own key");
    assert_string_equal(json_string_value(json_object_get(j, "nan")), "NaN");
    /* No span: no trace context. */
    assert_null(json_object_get(j, "trace_id"));
    json_decref(j);

    LogRecord *rec = logs_record(r, 0);
    assert_int_equal(rec->severity_number, OTUS_LEVEL_WARN);
    assert_string_equal(rec->severity_text, "WARN");
    assert_string_equal(rec->body->string_value, "payment declined");
    assert_int_equal(rec->n_attributes, sizeof(f) / sizeof(f[0]));
    assert_true(kv_has_str(rec->attributes, rec->n_attributes, "user.id", "u-42"));
    assert_int_equal(rec->trace_id.len, 0);
    assert_true(rec->time_unix_nano > 0 && rec->observed_time_unix_nano == rec->time_unix_nano);
    logs_free(r);
    otus_buf_free(&b);
}

/* String values whose lengths the helper knew (literals, with GCC optimizing) and ones
 * the library measures (built at run time, OTUS_NTS) give the same record; so does a
 * message of known length that is not NUL-terminated, and a NULL one. */
static void lengths_known_and_measured(void **state)
{
    (void)state;
    struct otus_attr lit = otus_attr_str("order.id", "o-9");
    assert_true(lit.len == OTUS_NTS || lit.len == 3);
    char key[16], val[16];
    snprintf(key, sizeof(key), "order.%s", "id");
    snprintf(val, sizeof(val), "o-%d", 9);
    struct otus_attr dyn = otus_attr_str(key, val);
    assert_int_equal(dyn.len, OTUS_NTS);
    struct otus_attr num = otus_attr_int("order", 5);
    struct otus_attr nul_value = otus_attr_str("none", NULL);
    struct otus_attr f[] = {lit, dyn, num, nul_value};
    char msg[] = "abcdef";
    otus_log_emitn(OTUS_LEVEL_INFO, msg, 3, f, 2); /* "abc", known length */
    otus_log_emitn(OTUS_LEVEL_INFO, msg, OTUS_NTS, f + 2, 2);
    otus_log_emitn(OTUS_LEVEL_INFO, NULL, 5, NULL, 0);
    otus_log_write(OTUS_LEVEL_INFO, "literal", f, 1);
    size_t n;
    LogsReq *r = logs_drain(NULL, &n);
    assert_int_equal(n, 4);
    LogRecord *a = logs_record(r, 0), *b = logs_record(r, 1), *c = logs_record(r, 2);
    LogRecord *d = logs_record(r, 3);
    assert_string_equal(a->body->string_value, "abc");
    /* The same key twice: the last value wins, and both had the same bytes. */
    assert_int_equal(a->n_attributes, 1);
    assert_true(kv_has_str(a->attributes, a->n_attributes, "order.id", "o-9"));
    assert_string_equal(b->body->string_value, "abcdef");
    assert_int_equal(b->n_attributes, 2);
    assert_true(kv_has_int(b->attributes, b->n_attributes, "order", 5));
    assert_true(kv_has_str(b->attributes, b->n_attributes, "none", ""));
    assert_string_equal(c->body->string_value, "");
    assert_string_equal(d->body->string_value, "literal");
    assert_true(kv_has_str(d->attributes, d->n_attributes, "order.id", "o-9"));
    logs_free(r);
}

static void escaping_and_bad_utf8(void **state)
{
    (void)state;
    const char msg[] =
        "quote \" backslash \\ newline \n tab \t nul-free \x01 bad \xc3\x28 \xff end \xe2\x82";
    struct otus_attr f = otus_attr_strn("bin\"key", "\x00\x80z", 3);
    otus_log_write(OTUS_LEVEL_ERROR, msg, &f, 1);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    LogsReq *r = logs_drain(&b, NULL);
    json_t *j = one_line(&b);
    const char *m = json_string_value(json_object_get(j, "message"));
    assert_non_null(strstr(m, "quote \" backslash \\ newline \n tab \t"));
    assert_non_null(strstr(m, "bad \xef\xbf\xbd( \xef\xbf\xbd end \xef\xbf\xbd"));
    json_t *v = json_object_get(j, "bin\"key");
    assert_non_null(v);
    assert_int_equal(json_string_length(v), 1 + 3 + 1); /* NUL, U+FFFD, z */
    json_decref(j);
    /* OTLP strings are valid UTF-8 too. */
    assert_non_null(strstr(logs_record(r, 0)->body->string_value, "\xef\xbf\xbd"));
    logs_free(r);
    otus_buf_free(&b);
}

static void trace_context_in_span(void **state)
{
    (void)state;
    struct otus_span sp;
    otus_span_start(&sp, "request", OTUS_SPAN_SERVER, NULL);
    otus_log_write(OTUS_LEVEL_INFO, "inside", NULL, 0);
    otus_span_end(&sp);
    otus_log_write(OTUS_LEVEL_INFO, "outside", NULL, 0);
    /* An explicit context for event loops. */
    otus_log_emit_ctx(OTUS_LEVEL_INFO, &sp.ctx, "explicit", NULL, 0);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    size_t n;
    LogsReq *r = logs_drain(&b, &n);
    assert_int_equal(n, 3);
    char tid[33], sid[17];
    for (int i = 0; i < 16; i++)
        sprintf(tid + 2 * i, "%02x", sp.ctx.trace_id[i]);
    for (int i = 0; i < 8; i++)
        sprintf(sid + 2 * i, "%02x", sp.ctx.span_id[i]);
    char *line2 = (char *)memchr(b.data, '\n', b.len) + 1;
    char *line3 = (char *)memchr(line2, '\n', b.len - (size_t)(line2 - b.data)) + 1;
    struct otus_buf one;
    otus_buf_init(&one, 0);
    otus_buf_append(&one, b.data, (size_t)(line2 - b.data));
    json_t *j = one_line(&one);
    assert_string_equal(json_string_value(json_object_get(j, "trace_id")), tid);
    assert_string_equal(json_string_value(json_object_get(j, "span_id")), sid);
    assert_string_equal(json_string_value(json_object_get(j, "trace_flags")), "01");
    json_decref(j);
    otus_buf_reset(&one);
    otus_buf_append(&one, line2, (size_t)(line3 - line2));
    j = one_line(&one);
    assert_null(json_object_get(j, "trace_id"));
    json_decref(j);
    otus_buf_free(&one);

    LogRecord *rec = logs_record(r, 0);
    assert_int_equal(rec->trace_id.len, 16);
    assert_memory_equal(rec->trace_id.data, sp.ctx.trace_id, 16);
    assert_memory_equal(rec->span_id.data, sp.ctx.span_id, 8);
    assert_int_equal(rec->flags, 1);
    assert_int_equal(logs_record(r, 1)->trace_id.len, 0);
    assert_memory_equal(logs_record(r, 2)->span_id.data, sp.ctx.span_id, 8);
    logs_free(r);
    otus_buf_free(&b);
}

static void level_threshold(void **state)
{
    (void)state;
    assert_int_equal(*otus_log_threshold(), OTUS_LEVEL_DEBUG);
    assert_false(otus_log_enabled(OTUS_LEVEL_TRACE));
    assert_true(otus_log_enabled(OTUS_LEVEL_DEBUG));
    otus_log_write(OTUS_LEVEL_TRACE, "too low", NULL, 0);
    otus_log_emit(OTUS_LEVEL_TRACE, "too low too", NULL, 0);
    otus_log_write(OTUS_LEVEL_DEBUG, "kept", NULL, 0);
    size_t n;
    LogsReq *r = logs_drain(NULL, &n);
    assert_int_equal(n, 1);
    assert_string_equal(logs_record(r, 0)->body->string_value, "kept");
    logs_free(r);
}

static void ring_full_drops_and_counts(void **state)
{
    (void)state;
    uint64_t before = otus__stat_get(OTUS__STAT_LOGS_DROPPED);
    struct otus__ring *ring = atomic_load(&otus__g.log_ring);
    char msg[400];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    size_t writes = (size_t)(ring->cap / 400) + 100;
    for (size_t i = 0; i < writes; i++)
        otus_log_write(OTUS_LEVEL_INFO, msg, NULL, 0);
    uint64_t dropped = otus__stat_get(OTUS__STAT_LOGS_DROPPED) - before;
    size_t n;
    logs_free(logs_drain(NULL, &n));
    assert_true(dropped > 0);
    assert_int_equal(n + dropped, writes);
    /* Space is back once drained, across the wrap-around. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3000; i++)
            otus_log_write(OTUS_LEVEL_INFO, "x", NULL, 0);
        logs_free(logs_drain(NULL, &n));
        assert_int_equal(n, 3000);
    }
}

static void direct_when_stopped(void **state)
{
    (void)state;
    lib_stop();
    /* Not running: the line goes to stderr on the spot. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    struct otus_attr f = otus_attr_int("k", 7);
    otus_log_write(OTUS_LEVEL_ERROR, "late", &f, 1);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    close(fds[0]);
    assert_true(n > 0);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_append(&b, buf, (size_t)n);
    json_t *j = one_line(&b);
    assert_string_equal(json_string_value(json_object_get(j, "message")), "late");
    assert_int_equal(json_integer_value(json_object_get(j, "k")), 7);
    json_decref(j);
    otus_buf_free(&b);
    setup(NULL);
}

static void file_sink_via_thread(void **state)
{
    (void)state;
    /* With the background thread: records reach the file sink on their own. */
    lib_stop();
    char path[] = "build/scratch-log-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        char tmp[] = "/tmp/otus-log-XXXXXX";
        fd = mkstemp(tmp);
        memcpy(path, tmp, sizeof(tmp) < sizeof(path) ? sizeof(tmp) : sizeof(path));
    }
    assert_true(fd >= 0);
    close(fd);
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_IGNORE_ENV | OTUS_SDK_NO_TRACE_EXPORT | OTUS_SDK_NO_METRIC_EXPORT |
              OTUS_SDK_NO_LOG_EXPORT;
    c.log_output = OTUS_LOG_OUTPUT_FILE;
    c.log_path = path;
    c.diag = lib_diag;
    otus__exporter_manual = 0;
    assert_int_equal(otus_init(&c), 0);
    for (int i = 0; i < 100; i++) {
        struct otus_attr f = otus_attr_int("i", i);
        otus_log_write(OTUS_LEVEL_INFO, "line", &f, 1);
    }
    assert_int_equal(otus_shutdown(2000), 0);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), fp)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "i")), count);
        json_decref(j);
        count++;
    }
    fclose(fp);
    unlink(path);
    assert_int_equal(count, 100);
    setup(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_line_fields),      cmocka_unit_test(lengths_known_and_measured),
        cmocka_unit_test(escaping_and_bad_utf8), cmocka_unit_test(trace_context_in_span),
        cmocka_unit_test(level_threshold),       cmocka_unit_test(ring_full_drops_and_counts),
        cmocka_unit_test(direct_when_stopped),   cmocka_unit_test(file_sink_via_thread),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
