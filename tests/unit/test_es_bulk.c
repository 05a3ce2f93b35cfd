/*
 * test_es_bulk.c: reading bulk answers and dead-letter lines. The answers are
 * data-driven, one case per file pair in tests/data/es/responses/: NAME.json is what
 * Elasticsearch answered, NAME.expect the outcome of each item, one per line ("ok",
 * "retry", "failure_store", "rejected STATUS TYPE"), or "parse_error" for an answer
 * that cannot be read item by item.
 */
#include "otus_test.h"

#include <otus.h>

#include "exporters/elasticsearch/es.h"

#define CASES_DIR "tests/data/es/responses/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void run_case(const char *name)
{
    char path[256];
    size_t jlen, elen;
    snprintf(path, sizeof(path), CASES_DIR "%s.json", name);
    char *json = slurp(path, &jlen);
    snprintf(path, sizeof(path), CASES_DIR "%s.expect", name);
    char *expect = slurp(path, &elen);
    size_t n = 0;
    for (size_t i = 0; i < elen; i++)
        n += expect[i] == '\n';
    struct otus__es_item_result *res = calloc(n, sizeof(*res));
    assert_non_null(res);
    int rc = otus__es_bulk_parse(json, jlen, n, res);
    char *save = NULL;
    size_t k = 0;
    for (char *line = strtok_r(expect, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), k++) {
        char got[256];
        if (rc == OTUS_ERR_PARSE) {
            snprintf(got, sizeof(got), "parse_error");
        } else {
            assert_int_equal(rc, 0);
            switch (res[k].outcome) {
            case OTUS__ES_OK:
                snprintf(got, sizeof(got), "ok");
                break;
            case OTUS__ES_RETRY:
                snprintf(got, sizeof(got), "retry");
                break;
            case OTUS__ES_FAILURE_ST:
                snprintf(got, sizeof(got), "failure_store");
                break;
            case OTUS__ES_REJECTED: {
                const char *t = res[k].error ? strstr(res[k].error, "\"type\":\"") : NULL;
                int tl = t ? (int)strcspn(t + 8, "\"") : 0;
                snprintf(got, sizeof(got), "rejected %d %.*s", res[k].status, tl, t ? t + 8 : "");
                break;
            }
            }
        }
        if (strcmp(got, line) != 0)
            fail_msg("%s item %zu: got \"%s\", expected \"%s\"", name, k, got, line);
    }
    assert_int_equal(k, n);
    otus__es_results_free(res, n);
    free(res);
    free(json);
    free(expect);
}

static void responses(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "all_created", "mixed",       "failure_store_without_errors", "fewer_items", "not_bulk",
        "html",        "errors_last",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(cases[i]);
}

static void rejected_items_keep_their_error(void **state)
{
    (void)state;
    size_t len;
    char *json = slurp(CASES_DIR "mixed.json", &len);
    struct otus__es_item_result res[8];
    assert_int_equal(otus__es_bulk_parse(json, len, 8, res), 0);
    assert_int_equal(res[4].status, 400);
    assert_non_null(strstr(res[4].error, "failed to parse field [attributes.code] of type [long]"));
    assert_null(res[0].error);
    otus__es_results_free(res, 8);
    free(json);
}

static void action_lines(void **state)
{
    (void)state;
    char op[16], index[64], id[64];
    const char *a = "{\"create\":{\"_index\":\"logs-x\",\"_id\":\"abc\"}}\n{\"doc\":1}\n";
    assert_int_equal(
        otus__es_action_parse(a, strlen(a), op, sizeof(op), index, sizeof(index), id, sizeof(id)),
        0);
    assert_string_equal(op, "create");
    assert_string_equal(index, "logs-x");
    assert_string_equal(id, "abc");
    const char *b = "{\"index\":{\"_id\":\"q\"}}\n";
    assert_int_equal(
        otus__es_action_parse(b, strlen(b), op, sizeof(op), index, sizeof(index), id, sizeof(id)),
        0);
    assert_string_equal(op, "index");
    assert_string_equal(index, "");
    assert_int_equal(
        otus__es_action_parse("[1]", 3, op, sizeof(op), index, sizeof(index), id, sizeof(id)),
        OTUS_ERR_PARSE);
}

static void dead_letter_round_trip(void **state)
{
    (void)state;
    const char *item =
        "{\"create\":{\"_id\":\"id-1\"}}\n"
        "{\"@timestamp\":\"2023-11-14T22:13:20Z\",\"message\":\"has \\\"document\\\": "
        "inside\",\"attributes\":{\"document\":{\"x\":[1,{\"y\":\"}\"}]}}}\n";
    size_t len = strlen(item);
    uint32_t src = (uint32_t)(strchr(item, '\n') - item + 1);
    struct otus_buf out;
    otus_buf_init(&out, 0);
    const char *err = "{\"type\":\"document_parsing_exception\",\"reason\":\"[1:9] bad\"}";
    assert_int_equal(otus__es_dead_letter_line(&out, "elasticsearch/app", "logs-otus-default", item,
                                               len, src, 400, err, NULL, NULL,
                                               1700000000000000000ull),
                     0);
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_null(memchr(out.data, '\n', out.len - 1));
    assert_non_null(strstr(out.data, "\"@timestamp\":\"2023-11-14T22:13:20.000000000Z\","
                                     "\"exporter\":\"elasticsearch/app\",\"index\":"
                                     "\"logs-otus-default\",\"op_type\":\"create\",\"_id\":"
                                     "\"id-1\",\"status\":400,\"document\":{"));
    struct otus__es_dead_letter dl;
    assert_int_equal(otus__es_dead_letter_parse(out.data, out.len - 1, &dl), 0);
    assert_string_equal(dl.exporter, "elasticsearch/app");
    assert_string_equal(dl.index, "logs-otus-default");
    assert_string_equal(dl.op, "create");
    assert_string_equal(dl.id, "id-1");
    assert_int_equal(dl.doclen, len - src - 1);
    assert_memory_equal(dl.doc, item + src, dl.doclen);
    /* Without an error object from the cluster, type and reason stand in. */
    otus_buf_reset(&out);
    assert_int_equal(otus__es_dead_letter_line(&out, "es", "idx", item, len, src, 0, NULL,
                                               "request_entity_too_large", "too big", 0),
                     0);
    assert_non_null(strstr(out.data, "\"error\":{\"type\":\"request_entity_too_large\","
                                     "\"reason\":\"too big\"}}"));
    otus_buf_free(&out);
    /* Lines that are not dead letters. */
    assert_int_equal(otus__es_dead_letter_parse("{}", 2, &dl), OTUS_ERR_PARSE);
    const char *bad_op = "{\"index\":\"i\",\"op_type\":\"delete\",\"document\":{}}";
    assert_int_equal(otus__es_dead_letter_parse(bad_op, strlen(bad_op), &dl), OTUS_ERR_PARSE);
    const char *trunc = "{\"index\":\"i\",\"op_type\":\"create\",\"document\":{\"a\":";
    assert_int_equal(otus__es_dead_letter_parse(trunc, strlen(trunc), &dl), OTUS_ERR_PARSE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(responses),
    cmocka_unit_test(rejected_items_keep_their_error),
    cmocka_unit_test(action_lines),
    cmocka_unit_test(dead_letter_round_trip),
};

OTUS_TEST_MAIN(tests)
