/*
 * test_es_encode.c: the Elasticsearch exporter's encoder without any network. Bulk
 * bodies (data stream, time-based index, spans, replayed dead letters) and index
 * templates are compared byte for byte with golden files in tests/data/es/; set
 * OTUS_UPDATE_GOLDEN=1 to rewrite them after an intended change. Also: document IDs,
 * index names and patterns, and the body's NDJSON shape.
 */
#include "otus_test.h"

#include <otus.h>

#include "exporters/elasticsearch/es.h"

#define GOLDEN_DIR "tests/data/es/"

/* ---- building requests ------------------------------------------------------------------- */

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;

static AnyValue str_value(const char *s)
{
    AnyValue v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = (char *)s;
    return v;
}

static AnyValue int_value(int64_t n)
{
    AnyValue v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v.int_value = n;
    return v;
}

static KeyValue kv(const char *k, AnyValue *v)
{
    KeyValue x = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    x.key = (char *)k;
    x.value = v;
    return x;
}

static const uint8_t trace_id[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                     0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t span_id[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};

/* A request with one resource, one scope and three log records (one a day later,
 * one with a structured body and a nested attribute). */
struct logs_fixture {
    AnyValue svc, host, env, scope_attr, msg[3], seq[3], user_id, user, code;
    KeyValue res_kv[3], scope_kv[1], attr_kv[3][3], user_kv[1];
    KeyValue *res_attrs[3], *scope_attrs[1], *attrs[3][3];
    KeyValueList user_list;
    KeyValue *user_items[1];
    AnyValue body_map;
    KeyValueList body_list;
    KeyValue body_kv[2];
    KeyValue *body_items[2];
    AnyValue body_event, body_n;
    Opentelemetry__Proto__Resource__V1__Resource resource;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    Opentelemetry__Proto__Logs__V1__LogRecord lr[3];
    Opentelemetry__Proto__Logs__V1__LogRecord *lrs[3];
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sls[1];
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rls[1];
    otus_logs_req req;
    struct otus_batch batch;
};

static void logs_fixture_init(struct logs_fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->svc = str_value("checkout");
    f->host = str_value("h1");
    f->env = str_value("prod");
    f->res_kv[0] = kv("service.name", &f->svc);
    f->res_kv[1] = kv("host.name", &f->host);
    f->res_kv[2] = kv("deployment.environment", &f->env);
    for (int i = 0; i < 3; i++)
        f->res_attrs[i] = &f->res_kv[i];
    Opentelemetry__Proto__Resource__V1__Resource r =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    f->resource = r;
    f->resource.n_attributes = 3;
    f->resource.attributes = f->res_attrs;
    Opentelemetry__Proto__Common__V1__InstrumentationScope sc =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    f->scope = sc;
    f->scope.name = "otus.test";
    f->scope.version = "1.0";
    f->scope_attr = str_value("x");
    f->scope_kv[0] = kv("lib.flavor", &f->scope_attr);
    f->scope_attrs[0] = &f->scope_kv[0];
    f->scope.n_attributes = 1;
    f->scope.attributes = f->scope_attrs;

    static const char *const msgs[] = {"user \"bob\" logged in", "caf\xc3\xa9 ready", ""};
    static const uint64_t times[] = {1700000000123456789ull, 1700000000123456790ull,
                                     1700086400000000000ull};
    f->user_id = int_value(7);
    f->user_kv[0] = kv("id", &f->user_id);
    f->user_items[0] = &f->user_kv[0];
    KeyValueList kl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    f->user_list = kl;
    f->user_list.n_values = 1;
    f->user_list.values = f->user_items;
    f->user = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    f->user.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    f->user.kvlist_value = &f->user_list;
    f->code = int_value(200);
    f->body_event = str_value("login");
    f->body_n = int_value(3);
    f->body_kv[0] = kv("event", &f->body_event);
    f->body_kv[1] = kv("n", &f->body_n);
    f->body_items[0] = &f->body_kv[0];
    f->body_items[1] = &f->body_kv[1];
    f->body_list = kl;
    f->body_list.n_values = 2;
    f->body_list.values = f->body_items;
    f->body_map = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    f->body_map.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    f->body_map.kvlist_value = &f->body_list;
    for (int i = 0; i < 3; i++) {
        Opentelemetry__Proto__Logs__V1__LogRecord l =
            OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
        f->lr[i] = l;
        f->lr[i].time_unix_nano = times[i];
        f->lr[i].observed_time_unix_nano = times[i] + 5;
        f->lr[i].severity_number = i == 2 ? 17 : 9;
        f->lr[i].severity_text = i == 2 ? "" : "INFO";
        f->msg[i] = str_value(msgs[i]);
        f->lr[i].body = i == 2 ? &f->body_map : &f->msg[i];
        f->lr[i].trace_id.data = (uint8_t *)trace_id;
        f->lr[i].trace_id.len = 16;
        f->lr[i].span_id.data = (uint8_t *)span_id;
        f->lr[i].span_id.len = 8;
        f->seq[i] = int_value(i);
        f->attr_kv[i][0] = kv("seq", &f->seq[i]);
        f->attr_kv[i][1] = kv("user", &f->user);
        f->attr_kv[i][2] = kv("http.status_code", &f->code);
        for (int k = 0; k < 3; k++)
            f->attrs[i][k] = &f->attr_kv[i][k];
        f->lr[i].n_attributes = 3;
        f->lr[i].attributes = f->attrs[i];
        f->lrs[i] = &f->lr[i];
    }
    f->lr[1].time_unix_nano = 0; /* falls back to the observed time */
    Opentelemetry__Proto__Logs__V1__ScopeLogs s = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    f->sl = s;
    f->sl.scope = &f->scope;
    f->sl.n_log_records = 3;
    f->sl.log_records = f->lrs;
    f->sls[0] = &f->sl;
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    f->rl = rl;
    f->rl.resource = &f->resource;
    f->rl.n_scope_logs = 1;
    f->rl.scope_logs = f->sls;
    f->rls[0] = &f->rl;
    otus_logs_req q = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    f->req = q;
    f->req.n_resource_logs = 1;
    f->req.resource_logs = f->rls;
    f->batch.signal = OTUS_SIGNAL_LOGS;
    f->batch.req.logs = &f->req;
    f->batch.records = 3;
    f->batch.received_ns = 1700000000999000000ull;
}

/* ---- golden files ------------------------------------------------------------------------ */

static void golden(const char *name, const char *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), GOLDEN_DIR "%s", name);
    const char *update = getenv("OTUS_UPDATE_GOLDEN");
    if (update && *update == '1') {
        FILE *w = fopen(path, "wb");
        assert_non_null(w);
        assert_int_equal(fwrite(data, 1, len, w), len);
        fclose(w);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("missing golden file %s (run with OTUS_UPDATE_GOLDEN=1)", path);
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof(want), f);
    fclose(f);
    if (n != len || memcmp(want, data, len) != 0)
        fail_msg("%s differs from the encoder's output:\n%.*s", path, (int)len, data);
}

/* Every line ends in '\n', lines alternate action and source, items cover the body. */
static void check_shape(const struct otus__es_items *it)
{
    const struct otus_buf *b = &it->ndjson;
    assert_true(b->len > 0 && b->data[b->len - 1] == '\n');
    size_t off = 0;
    for (size_t i = 0; i < it->n; i++) {
        assert_int_equal(it->v[i].off, off);
        const char *item = b->data + it->v[i].off;
        const char *nl = memchr(item, '\n', it->v[i].len);
        assert_non_null(nl);
        assert_int_equal((size_t)(nl - item) + 1, it->v[i].src);
        assert_int_equal(item[it->v[i].len - 1], '\n');
        assert_null(memchr(item + it->v[i].src, '\n', it->v[i].len - it->v[i].src - 1));
        off += it->v[i].len;
    }
    assert_int_equal(off, b->len);
}

static void logs_to_data_stream(void **state)
{
    (void)state;
    struct logs_fixture f;
    logs_fixture_init(&f);
    struct otus__es_target t;
    const char *why;
    assert_int_equal(otus__es_target_init(&t, "logs-otus-default", &why), 0);
    assert_true(t.data_stream);
    struct otus__es_items it;
    otus__es_items_init(&it);
    struct otus_batch *bs[] = {&f.batch};
    assert_int_equal(otus__es_encode(&t, 1, bs, 1, &it), 0);
    assert_int_equal(it.n, 3);
    check_shape(&it);
    golden("logs_data_stream.ndjson", it.ndjson.data, it.ndjson.len);
    /* The same records give the same IDs, however often they are encoded. */
    struct otus__es_items again;
    otus__es_items_init(&again);
    assert_int_equal(otus__es_encode(&t, 1, bs, 1, &again), 0);
    assert_int_equal(again.ndjson.len, it.ndjson.len);
    assert_memory_equal(again.ndjson.data, it.ndjson.data, it.ndjson.len);
    otus__es_items_free(&again);
    otus__es_items_free(&it);
}

static void logs_to_time_based_index(void **state)
{
    (void)state;
    struct logs_fixture f;
    logs_fixture_init(&f);
    struct otus__es_target t;
    const char *why;
    assert_int_equal(otus__es_target_init(&t, "otus-logs-%Y.%m.%d", &why), 0);
    assert_true(t.time_based);
    assert_string_equal(t.tmpl_pattern, "otus-logs-*.*.*");
    assert_string_equal(t.tmpl_name, "otus-otus-logs");
    struct otus__es_items it;
    otus__es_items_init(&it);
    struct otus_batch *bs[] = {&f.batch};
    assert_int_equal(otus__es_encode(&t, 0, bs, 1, &it), 0);
    check_shape(&it);
    golden("logs_time_based.ndjson", it.ndjson.data, it.ndjson.len);
    otus__es_items_free(&it);
}

static void spans_to_data_stream(void **state)
{
    (void)state;
    AnyValue svc = str_value("api"), route = str_value("/a");
    KeyValue rkv = kv("service.name", &svc), akv = kv("http.route", &route);
    KeyValue *rattrs[] = {&rkv}, *attrs[] = {&akv};
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 1;
    res.attributes = rattrs;
    Opentelemetry__Proto__Trace__V1__Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st.code = 2;
    st.message = "boom";
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.trace_id.data = (uint8_t *)trace_id;
    sp.trace_id.len = 16;
    sp.span_id.data = (uint8_t *)span_id;
    sp.span_id.len = 8;
    sp.name = "GET /a";
    sp.kind = 2;
    sp.start_time_unix_nano = 1700000000000000000ull;
    sp.end_time_unix_nano = 1700000000250000000ull;
    sp.n_attributes = 1;
    sp.attributes = attrs;
    sp.status = &st;
    Opentelemetry__Proto__Trace__V1__Span *sps[] = {&sp};
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.n_spans = 1;
    ss.spans = sps;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *sss[] = {&ss};
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = sss;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rss[] = {&rs};
    otus_traces_req req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 1;
    req.resource_spans = rss;
    struct otus_batch b = {.signal = OTUS_SIGNAL_TRACES, .records = 1};
    b.req.traces = &req;
    struct otus__es_target t;
    const char *why;
    assert_int_equal(otus__es_target_init(&t, "traces-otus-default", &why), 0);
    struct otus__es_items it;
    otus__es_items_init(&it);
    struct otus_batch *bs[] = {&b};
    assert_int_equal(otus__es_encode(&t, 0, bs, 1, &it), 0);
    check_shape(&it);
    golden("spans_data_stream.ndjson", it.ndjson.data, it.ndjson.len);
    otus__es_items_free(&it);
}

static void templates(void **state)
{
    (void)state;
    struct otus__es_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.template_priority = 200;
    struct otus__es_target t;
    const char *why;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus__es_target_init(&t, "logs-otus-default", &why), 0);
    assert_int_equal(otus__es_template_body(&t, OTUS_SIGNAL_LOGS, &cfg, &b), 0);
    assert_int_equal(otus_buf_append_byte(&b, '\n'), 0);
    golden("template_logs_data_stream.json", b.data, b.len);
    otus_buf_reset(&b);
    cfg.ignore_malformed = true;
    assert_int_equal(otus__es_target_init(&t, "otus-spans-%Y.%m.%d-%H", &why), 0);
    assert_int_equal(otus__es_template_body(&t, OTUS_SIGNAL_TRACES, &cfg, &b), 0);
    assert_int_equal(otus_buf_append_byte(&b, '\n'), 0);
    golden("template_spans_hourly.json", b.data, b.len);
    otus_buf_free(&b);
}

static void replayed_items(void **state)
{
    (void)state;
    struct otus__es_items it;
    otus__es_items_init(&it);
    const char *doc = "{\"@timestamp\":\"2023-11-14T22:13:20.000000000Z\",\"message\":\"x\"}";
    assert_int_equal(
        otus__es_item_raw(&it, "create", "logs-otus-default", "abc\"def", doc, strlen(doc)), 0);
    assert_int_equal(otus__es_item_raw(&it, "index", "otus-logs-2023.11.14", "", doc, strlen(doc)),
                     0);
    check_shape(&it);
    golden("replayed.ndjson", it.ndjson.data, it.ndjson.len);
    otus__es_items_free(&it);
}

static void doc_ids(void **state)
{
    (void)state;
    char a[OTUS__ES_ID_LEN + 1] = {0}, b[OTUS__ES_ID_LEN + 1] = {0};
    otus__es_doc_id("{}", 2, a);
    otus__es_doc_id("{}", 2, b);
    assert_string_equal(a, b);
    for (int i = 0; i < OTUS__ES_ID_LEN; i++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
    /* Every length through the hash's tail cases gives a different ID. */
    char text[40], seen[40][OTUS__ES_ID_LEN + 1];
    memset(text, 'q', sizeof(text));
    for (int n = 0; n < 40; n++) {
        memset(seen[n], 0, sizeof(seen[n]));
        otus__es_doc_id(text, (size_t)n, seen[n]);
        for (int k = 0; k < n; k++)
            assert_string_not_equal(seen[k], seen[n]);
    }
    /* Stable across releases: a stored _id must match a re-encoded record's. */
    otus__es_doc_id("The quick brown fox jumps over the lazy dog", 43, a);
    assert_string_equal(a, "XVF_w1pki_Is6e34AjWDaw");
}

static void index_names(void **state)
{
    (void)state;
    struct otus__es_target t;
    const char *why = NULL;
    assert_int_equal(otus__es_target_init(&t, "Logs", &why), OTUS_ERR_CONFIG);
    assert_string_equal(why, "an index name is lowercase");
    assert_int_equal(otus__es_target_init(&t, "_logs", &why), OTUS_ERR_CONFIG);
    assert_int_equal(otus__es_target_init(&t, "logs/a", &why), OTUS_ERR_CONFIG);
    assert_int_equal(otus__es_target_init(&t, "logs-%Q", &why), OTUS_ERR_CONFIG);
    assert_int_equal(otus__es_target_init(&t, ".ds-logs", &why), OTUS_ERR_CONFIG);
    assert_int_equal(otus__es_target_init(&t, "..", &why), OTUS_ERR_CONFIG);
    assert_int_equal(otus__es_target_init(&t, "a%%b-%Y%m%d%H", &why), 0);
    size_t n;
    const char *name = otus__es_target_index(&t, 1700000000123456789ull, &n);
    assert_string_equal(name, "a%b-2023111422");
    assert_int_equal(n, strlen(name));
    assert_int_equal(t.granularity_s, 3600);
    name = otus__es_target_index(&t, 1700003600000000000ull, &n);
    assert_string_equal(name, "a%b-2023111423");
    assert_int_equal(otus__es_target_init(&t, "logs-%y", &why), 0);
    assert_string_equal(otus__es_target_index(&t, 1700000000000000000ull, &n), "logs-23");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(logs_to_data_stream),  cmocka_unit_test(logs_to_time_based_index),
    cmocka_unit_test(spans_to_data_stream), cmocka_unit_test(templates),
    cmocka_unit_test(replayed_items),       cmocka_unit_test(doc_ids),
    cmocka_unit_test(index_names),
};

OTUS_TEST_MAIN(tests)
