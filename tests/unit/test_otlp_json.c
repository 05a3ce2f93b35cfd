/*
 * test_otlp_json.c: the OTLP/JSON codec (agent/otlp_json.h).
 *
 * Rich requests of every signal are built directly as protobuf-c structs; their JSON
 * form, written out by hand as an SDK sends it, must decode to the same structs field
 * by field, to the same protobuf bytes, and to exactly what protobuf-c's own unpack
 * makes of those bytes (down to which strings are the shared empty default). Encoding
 * a request and decoding the result must give the request back. Then every accepted
 * spelling (snake_case keys, integers as numbers or strings, enums by name, NaN and
 * infinities, both base64 alphabets, null) and every refusal with its message, limits
 * (depth, arena, 10,000 records) and the data-driven cases in tests/data/otlp_json/.
 */
#include "otus_test.h"

#include <dirent.h>
#include <math.h>

#include <jansson.h>
#include <otus.h>

#include "agent/otlp_json.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/hex.h"

/* JSON text written as C tokens: JSON({"a": 1}) is the string "{\"a\": 1}". */
#define JSON(...) #__VA_ARGS__

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary Summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets Buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

#define AV(field)       OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##field
#define METRIC(field)   OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##field
#define NUMBER(field)   OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_##field
#define EXEMPLAR(field) OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_##field

#define D_TRACES                                                                                   \
    (&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor)
#define D_METRICS                                                                                  \
    (&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor)
#define D_LOGS     (&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor)
#define D_ANY      (&opentelemetry__proto__common__v1__any_value__descriptor)
#define D_KV       (&opentelemetry__proto__common__v1__key_value__descriptor)
#define D_ARRAY    (&opentelemetry__proto__common__v1__array_value__descriptor)
#define D_KVLIST   (&opentelemetry__proto__common__v1__key_value_list__descriptor)
#define D_SCOPE    (&opentelemetry__proto__common__v1__instrumentation_scope__descriptor)
#define D_ENTITY   (&opentelemetry__proto__common__v1__entity_ref__descriptor)
#define D_RESOURCE (&opentelemetry__proto__resource__v1__resource__descriptor)
#define D_RSPANS   (&opentelemetry__proto__trace__v1__resource_spans__descriptor)
#define D_SSPANS   (&opentelemetry__proto__trace__v1__scope_spans__descriptor)
#define D_SPAN     (&opentelemetry__proto__trace__v1__span__descriptor)
#define D_EVENT    (&opentelemetry__proto__trace__v1__span__event__descriptor)
#define D_LINK     (&opentelemetry__proto__trace__v1__span__link__descriptor)
#define D_STATUS   (&opentelemetry__proto__trace__v1__status__descriptor)
#define D_RMETRICS (&opentelemetry__proto__metrics__v1__resource_metrics__descriptor)
#define D_SMETRICS (&opentelemetry__proto__metrics__v1__scope_metrics__descriptor)
#define D_METRIC   (&opentelemetry__proto__metrics__v1__metric__descriptor)
#define D_GAUGE    (&opentelemetry__proto__metrics__v1__gauge__descriptor)
#define D_SUM      (&opentelemetry__proto__metrics__v1__sum__descriptor)
#define D_HIST     (&opentelemetry__proto__metrics__v1__histogram__descriptor)
#define D_EXPHIST  (&opentelemetry__proto__metrics__v1__exponential_histogram__descriptor)
#define D_SUMMARY  (&opentelemetry__proto__metrics__v1__summary__descriptor)
#define D_NPOINT   (&opentelemetry__proto__metrics__v1__number_data_point__descriptor)
#define D_HPOINT   (&opentelemetry__proto__metrics__v1__histogram_data_point__descriptor)
#define D_EPOINT   (&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor)
#define D_BUCKETS                                                                                  \
    (&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__descriptor)
#define D_SPOINT (&opentelemetry__proto__metrics__v1__summary_data_point__descriptor)
#define D_QUANTILE                                                                                 \
    (&opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__descriptor)
#define D_EXEMPLAR (&opentelemetry__proto__metrics__v1__exemplar__descriptor)
#define D_RLOGS    (&opentelemetry__proto__logs__v1__resource_logs__descriptor)
#define D_SLOGS    (&opentelemetry__proto__logs__v1__scope_logs__descriptor)
#define D_RECORD   (&opentelemetry__proto__logs__v1__log_record__descriptor)

/* ---- fixture: one arena per test for built structs, one for decoding ------------------ */

static struct otus_arena build_arena; /* structs built by the tests */
static struct otus_arena dec_arena;   /* what the codec decodes */
static struct otus_buf err_buf;

static int setup(void **state)
{
    (void)state;
    otus_arena_init(&build_arena, 64 * 1024, 0);
    otus_arena_init(&dec_arena, 64 * 1024, 0);
    otus_buf_init(&err_buf, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otus_arena_destroy(&build_arena);
    otus_arena_destroy(&dec_arena);
    otus_buf_free(&err_buf);
    return 0;
}

static void *make(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = otus_arena_alloc(&build_arena, desc->sizeof_message);
    assert_non_null(m);
    desc->message_init(m);
    return m;
}

/* An array of n pointers given as arguments, in the build arena. */
static void *list(size_t n, ...)
{
    void **a = otus_arena_alloc(&build_arena, n * sizeof(void *));
    assert_non_null(a);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        a[i] = va_arg(ap, void *);
    va_end(ap);
    return a;
}

static ProtobufCBinaryData hexbin(const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *p = otus_arena_alloc(&build_arena, n);
    assert_int_equal(otus_hex_decode(hex, 2 * n, p, 0), 0);
    return (ProtobufCBinaryData){n, p};
}

static AnyValue *av_str(const char *s)
{
    AnyValue *v = make(D_ANY);
    v->value_case = AV(STRING_VALUE);
    v->string_value = (char *)s;
    return v;
}

static AnyValue *av_bool(int b)
{
    AnyValue *v = make(D_ANY);
    v->value_case = AV(BOOL_VALUE);
    v->bool_value = b;
    return v;
}

static AnyValue *av_int(int64_t i)
{
    AnyValue *v = make(D_ANY);
    v->value_case = AV(INT_VALUE);
    v->int_value = i;
    return v;
}

static AnyValue *av_double(double d)
{
    AnyValue *v = make(D_ANY);
    v->value_case = AV(DOUBLE_VALUE);
    v->double_value = d;
    return v;
}

static AnyValue *av_bytes(const char *hex)
{
    AnyValue *v = make(D_ANY);
    v->value_case = AV(BYTES_VALUE);
    v->bytes_value = hexbin(hex);
    return v;
}

static AnyValue *av_array(size_t n, void *items)
{
    AnyValue *v = make(D_ANY);
    ArrayValue *a = make(D_ARRAY);
    a->n_values = n;
    a->values = items;
    v->value_case = AV(ARRAY_VALUE);
    v->array_value = a;
    return v;
}

static AnyValue *av_kvlist(size_t n, void *kvs)
{
    AnyValue *v = make(D_ANY);
    KeyValueList *l = make(D_KVLIST);
    l->n_values = n;
    l->values = kvs;
    v->value_case = AV(KVLIST_VALUE);
    v->kvlist_value = l;
    return v;
}

static KeyValue *kv(const char *key, AnyValue *value)
{
    KeyValue *p = make(D_KV);
    p->key = (char *)key;
    p->value = value;
    return p;
}

/* ---- comparing decoded structs ----------------------------------------------------------- */

static char where[2048]; /* path of the field being compared */

static bool differs(const char *what)
{
    print_message("structs differ at %s: %s\n", where[0] ? where : "(top)", what);
    return false;
}

static bool same_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, bool strict);

/*
 * One value of field f. strict also compares what only the representation shows and
 * protobuf-c's unpack decides: which strings are the shared empty default, which
 * bytes have no data pointer.
 */
static bool same_value(const ProtobufCFieldDescriptor *f, const void *x, const void *y, bool strict)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_FLOAT:
        return memcmp(x, y, 4) == 0 || differs("32-bit value");
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)x == !*(const protobuf_c_boolean *)y ||
               differs("bool");
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return memcmp(x, y, 8) == 0 || differs("64-bit value");
    case PROTOBUF_C_TYPE_DOUBLE: {
        double a = *(const double *)x, b = *(const double *)y;
        return a == b || (isnan(a) && isnan(b)) || differs("double");
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *a = *(char *const *)x, *b = *(char *const *)y;
        if (strcmp(a ? a : "", b ? b : "") != 0)
            return differs("string");
        if (strict && (a == protobuf_c_empty_string) != (b == protobuf_c_empty_string))
            return differs("string: one is the shared default, the other a copy");
        return true;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *a = x, *b = y;
        if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
            return differs("bytes");
        if (strict && (a->data == NULL) != (b->data == NULL))
            return differs("bytes: data pointer");
        return true;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *a = *(ProtobufCMessage *const *)x;
        const ProtobufCMessage *b = *(ProtobufCMessage *const *)y;
        if (!a || !b)
            return (!a && !b) || differs("message present in one only");
        return same_msg(a, b, strict);
    }
    }
    return differs("unknown type");
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static bool same_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, bool strict)
{
    if (a->descriptor != b->descriptor)
        return differs("message types");
    const ProtobufCMessageDescriptor *d = a->descriptor;
    size_t mark = strlen(where);
    bool ok = true;
    for (unsigned i = 0; i < d->n_fields && ok; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *pa = (const char *)a, *pb = (const char *)b;
        snprintf(where + mark, sizeof(where) - mark, ".%s", f->name);
        size_t fmark = strlen(where);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)(pa + f->quantifier_offset);
            size_t nb = *(const size_t *)(pb + f->quantifier_offset);
            const char *ia = *(char *const *)(pa + f->offset);
            const char *ib = *(char *const *)(pb + f->offset);
            if (na != nb) {
                ok = differs("element counts");
                break;
            }
            if (strict && (ia == NULL) != (ib == NULL)) {
                ok = differs("array pointer");
                break;
            }
            size_t sz = elem_size(f->type);
            for (size_t k = 0; k < na && ok; k++) {
                snprintf(where + fmark, sizeof(where) - fmark, "[%zu]", k);
                ok = same_value(f, ia + k * sz, ib + k * sz, strict);
            }
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)(pa + f->quantifier_offset);
            uint32_t cb = *(const uint32_t *)(pb + f->quantifier_offset);
            if (ca != cb)
                ok = differs("oneof case");
            else if (ca == f->id)
                ok = same_value(f, pa + f->offset, pb + f->offset, strict);
        } else {
            ok = same_value(f, pa + f->offset, pb + f->offset, strict);
        }
    }
    where[mark] = '\0';
    return ok;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len ? *len : 1);
    assert_non_null(p);
    assert_int_equal(protobuf_c_message_pack(m, p), *len);
    return p;
}

/*
 * The three checks every decoded request passes against the request built directly:
 * the same fields, the same protobuf bytes, and exactly what protobuf-c's unpack makes
 * of those bytes.
 */
static void assert_same_request(const ProtobufCMessage *decoded, const ProtobufCMessage *built)
{
    where[0] = '\0';
    assert_true(same_msg(decoded, built, false));
    size_t la, lb;
    uint8_t *pa = pack(decoded, &la), *pb = pack(built, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    struct otus_arena ua;
    otus_arena_init(&ua, 0, 0);
    ProtobufCMessage *unpacked =
        protobuf_c_message_unpack(built->descriptor, otus_arena_protobuf(&ua), lb, pb);
    assert_non_null(unpacked);
    where[0] = '\0';
    assert_true(same_msg(decoded, unpacked, true));
    otus_arena_destroy(&ua);
    free(pa);
    free(pb);
}

/* ---- codec helpers -------------------------------------------------------------------------- */

static ProtobufCMessage *decode_ok(enum otus_signal s, const char *json)
{
    ProtobufCMessage *m = NULL;
    int rc = otus_otlp_json_decode(s, json, strlen(json), &dec_arena, &m, &err_buf);
    if (rc)
        print_message("decode failed (%d): %.*s\n", rc, (int)err_buf.len, err_buf.data);
    assert_int_equal(rc, 0);
    assert_non_null(m);
    assert_int_equal(err_buf.len, 0);
    return m;
}

static void decode_fails(enum otus_signal s, const char *json, int status, const char *msg)
{
    ProtobufCMessage *m = (ProtobufCMessage *)&m; /* must come back NULL */
    int rc = otus_otlp_json_decode(s, json, strlen(json), &dec_arena, &m, &err_buf);
    if (rc != status || err_buf.len != strlen(msg) || memcmp(err_buf.data, msg, err_buf.len))
        print_message("input:    %s\nexpected: %d %s\ngot:      %d %.*s\n", json, status, msg, rc,
                      (int)err_buf.len, err_buf.data ? err_buf.data : "");
    assert_int_equal(rc, status);
    assert_null(m);
    assert_int_equal(err_buf.len, strlen(msg));
    assert_memory_equal(err_buf.data, msg, err_buf.len);
}

/* Encodes m into a new NUL-terminated string (caller frees). */
static char *encode(enum otus_signal s, const ProtobufCMessage *m)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_otlp_json_encode(s, m, &b), 0);
    assert_int_equal(otus_buf_append_byte(&b, '\0'), 0);
    return otus_buf_steal(&b, NULL);
}

/* The same JSON with every object key turned from lowerCamelCase into snake_case. */
static json_t *snake_keys(json_t *v)
{
    if (json_is_array(v)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(out, snake_keys(json_array_get(v, i)));
        return out;
    }
    if (!json_is_object(v))
        return json_incref(v);
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        char snake[128];
        size_t n = 0;
        for (const char *p = key; *p && n + 2 < sizeof(snake); p++) {
            if (*p >= 'A' && *p <= 'Z') {
                snake[n++] = '_';
                snake[n++] = (char)(*p - 'A' + 'a');
            } else {
                snake[n++] = *p;
            }
        }
        snake[n] = '\0';
        json_object_set_new(out, snake, snake_keys(val));
    }
    return out;
}

static char *to_snake_case(const char *json)
{
    json_error_t e;
    json_t *root = json_loads(json, 0, &e);
    assert_non_null(root);
    json_t *snake = snake_keys(root);
    char *text = json_dumps(snake, JSON_COMPACT);
    json_decref(root);
    json_decref(snake);
    assert_non_null(text);
    return text;
}

/* ---- the rich requests: built directly, and as JSON ---------------------------------------- */

static Resource *build_resource(void)
{
    Resource *r = make(D_RESOURCE);
    AnyValue *inner = av_kvlist(1, list(1, kv("deep", av_str("x"))));
    KeyValue *empty = kv("empty", NULL);
    r->attributes =
        list(10, kv("service.name", av_str("checkout")),
             kv("s", av_str("caf\xc3\xa9 \"q\" \\ \n\xf0\x9f\x94\xa5")), kv("b", av_bool(1)),
             kv("i", av_int(-42)), kv("d", av_double(2.5)), kv("y", av_bytes("00ff7f")),
             kv("a", av_array(4, list(4, av_int(1), av_str("two"), av_array(1, list(1, av_bool(0))),
                                      make(D_ANY)))),
             kv("m", av_kvlist(2, list(2, kv("inner", inner), kv("n", av_double(-0.5))))), empty,
             kv("big", av_int(INT64_MIN)));
    r->n_attributes = 10;
    r->dropped_attributes_count = 3;
    EntityRef *e = make(D_ENTITY);
    e->schema_url = "https://opentelemetry.io/schemas/1.26.0";
    e->type = "service";
    e->id_keys = list(2, "service.name", "service.namespace");
    e->n_id_keys = 2;
    e->description_keys = list(1, "service.version");
    e->n_description_keys = 1;
    r->entity_refs = list(1, e);
    r->n_entity_refs = 1;
    return r;
}

#define RESOURCE_JSON                                                                              \
    JSON({                                                                                         \
        "attributes" : [                                                                           \
            {"key" : "service.name", "value" : {"stringValue" : "checkout"}},                      \
            {"key" : "s", "value" : {"stringValue" : "caf\u00e9 \"q\" \\ \n\ud83d\udd25"}},        \
            {"key" : "b", "value" : {"boolValue" : true}},                                         \
            {"key" : "i", "value" : {"intValue" : "-42"}},                                         \
            {"key" : "d", "value" : {"doubleValue" : 2.5}},                                        \
            {"key" : "y", "value" : {"bytesValue" : "AP9/"}}, {                                    \
                "key" : "a",                                                                       \
                "value" : {                                                                        \
                    "arrayValue" : {                                                               \
                        "values" : [                                                               \
                            {"intValue" : "1"}, {"stringValue" : "two"},                           \
                            {"arrayValue" : {"values" : [ {"boolValue" : false} ]}}, {}            \
                        ]                                                                          \
                    }                                                                              \
                }                                                                                  \
            },                                                                                     \
            {                                                                                      \
                "key" : "m",                                                                       \
                "value" : {                                                                        \
                    "kvlistValue" : {                                                              \
                        "values" : [                                                               \
                            {                                                                      \
                                "key" : "inner",                                                   \
                                "value" : {                                                        \
                                    "kvlistValue" : {                                              \
                                        "values" :                                                 \
                                            [ {"key" : "deep", "value" : {"stringValue" : "x"}} ]  \
                                    }                                                              \
                                }                                                                  \
                            },                                                                     \
                            {"key" : "n", "value" : {"doubleValue" : -0.5}}                        \
                        ]                                                                          \
                    }                                                                              \
                }                                                                                  \
            },                                                                                     \
            {"key" : "empty"}, {"key" : "big", "value" : {"intValue" : -9223372036854775808}}      \
        ],                                                                                         \
        "droppedAttributesCount" : 3,                                                              \
        "entityRefs" : [ {                                                                         \
            "schemaUrl" : "https://opentelemetry.io/schemas/1.26.0",                               \
            "type" : "service",                                                                    \
            "idKeys" : [ "service.name", "service.namespace" ],                                    \
            "descriptionKeys" : ["service.version"]                                                \
        } ]                                                                                        \
    })

static Scope *build_scope(void)
{
    Scope *s = make(D_SCOPE);
    s->name = "otus.test";
    s->version = "1.2.3";
    s->attributes = list(1, kv("scope.attr", av_str("v")));
    s->n_attributes = 1;
    s->dropped_attributes_count = 1;
    return s;
}

#define SCOPE_JSON                                                                                 \
    JSON({                                                                                         \
        "name" : "otus.test",                                                                      \
        "version" : "1.2.3",                                                                       \
        "attributes" : [ {"key" : "scope.attr", "value" : {"stringValue" : "v"}} ],                \
        "droppedAttributesCount" : 1                                                               \
    })

static otus_traces_req *build_traces(void)
{
    Span *s1 = make(D_SPAN);
    s1->trace_id = hexbin("5b8efff798038103d269b633813fc60c");
    s1->span_id = hexbin("eee19b7ec3c1b174");
    s1->trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
    s1->parent_span_id = hexbin("eee19b7ec3c1b173");
    s1->flags = 0x301;
    s1->name = "GET /api/orders";
    s1->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    s1->start_time_unix_nano = 1700000000123456789ull;
    s1->end_time_unix_nano = 1700000000987654321ull;
    s1->attributes = list(2, kv("http.request.method", av_str("GET")),
                          kv("http.response.status_code", av_int(200)));
    s1->n_attributes = 2;
    s1->dropped_attributes_count = 4;
    Event *e1 = make(D_EVENT);
    e1->time_unix_nano = 1700000000500000000ull;
    e1->name = "exception";
    e1->attributes = list(1, kv("exception.message", av_str("boom")));
    e1->n_attributes = 1;
    e1->dropped_attributes_count = 1;
    Event *e2 = make(D_EVENT);
    e2->name = "marker";
    s1->events = list(2, e1, e2);
    s1->n_events = 2;
    s1->dropped_events_count = 5;
    Link *l1 = make(D_LINK);
    l1->trace_id = hexbin("0af7651916cd43dd8448eb211c80319c");
    l1->span_id = hexbin("b7ad6b7169203331");
    l1->trace_state = "k=v";
    l1->attributes = list(1, kv("link.kind", av_str("follows")));
    l1->n_attributes = 1;
    l1->dropped_attributes_count = 2;
    l1->flags = 0x100;
    s1->links = list(1, l1);
    s1->n_links = 1;
    s1->dropped_links_count = 6;
    Status *st = make(D_STATUS);
    st->message = "boom";
    st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    s1->status = st;

    Span *s2 = make(D_SPAN);
    s2->trace_id = hexbin("5b8efff798038103d269b633813fc60c");
    s2->span_id = hexbin("00000000000000ff");
    s2->parent_span_id = hexbin("eee19b7ec3c1b174");
    s2->name = "SELECT orders";
    s2->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    s2->start_time_unix_nano = 1700000000200000000ull;
    s2->end_time_unix_nano = 1700000000300000000ull;
    Status *ok = make(D_STATUS);
    ok->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
    s2->status = ok;

    Span *s3 = make(D_SPAN);
    s3->trace_id = hexbin("ffffffffffffffffffffffffffffffff");
    s3->span_id = hexbin("0102030405060708");
    s3->name = "orphan";

    ScopeSpans *ss1 = make(D_SSPANS);
    ss1->scope = build_scope();
    ss1->spans = list(2, s1, s2);
    ss1->n_spans = 2;
    ss1->schema_url = "https://opentelemetry.io/schemas/1.24.0";
    ScopeSpans *ss2 = make(D_SSPANS);
    ss2->spans = list(1, s3);
    ss2->n_spans = 1;
    ResourceSpans *rs = make(D_RSPANS);
    rs->resource = build_resource();
    rs->scope_spans = list(2, ss1, ss2);
    rs->n_scope_spans = 2;
    rs->schema_url = "https://opentelemetry.io/schemas/1.26.0";
    ResourceSpans *rs2 = make(D_RSPANS);
    otus_traces_req *req = make(D_TRACES);
    req->resource_spans = list(2, rs, rs2);
    req->n_resource_spans = 2;
    return req;
}

#define SPANS_JSON                                                                                 \
    JSON([                                                                                         \
        {                                                                                          \
            "traceId" : "5b8efff798038103d269b633813fc60c",                                        \
            "spanId" : "eee19b7ec3c1b174",                                                         \
            "traceState" : "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",                              \
            "parentSpanId" : "eee19b7ec3c1b173",                                                   \
            "flags" : 769,                                                                         \
            "name" : "GET /api/orders",                                                            \
            "kind" : 2,                                                                            \
            "startTimeUnixNano" : "1700000000123456789",                                           \
            "endTimeUnixNano" : "1700000000987654321",                                             \
            "attributes" : [                                                                       \
                {"key" : "http.request.method", "value" : {"stringValue" : "GET"}},                \
                {"key" : "http.response.status_code", "value" : {"intValue" : "200"}}              \
            ],                                                                                     \
            "droppedAttributesCount" : 4,                                                          \
            "events" : [                                                                           \
                {                                                                                  \
                    "timeUnixNano" : "1700000000500000000",                                        \
                    "name" : "exception",                                                          \
                    "attributes" :                                                                 \
                        [ {"key" : "exception.message", "value" : {"stringValue" : "boom"}} ],     \
                    "droppedAttributesCount" : 1                                                   \
                },                                                                                 \
                {"name" : "marker"}                                                                \
            ],                                                                                     \
            "droppedEventsCount" : 5,                                                              \
            "links" : [ {                                                                          \
                "traceId" : "0af7651916cd43dd8448eb211c80319c",                                    \
                "spanId" : "b7ad6b7169203331",                                                     \
                "traceState" : "k=v",                                                              \
                "attributes" : [ {"key" : "link.kind", "value" : {"stringValue" : "follows"}} ],   \
                "droppedAttributesCount" : 2,                                                      \
                "flags" : 256                                                                      \
            } ],                                                                                   \
            "droppedLinksCount" : 6,                                                               \
            "status" : {"message" : "boom", "code" : 2}                                            \
        },                                                                                         \
        {                                                                                          \
            "traceId" : "5b8efff798038103d269b633813fc60c",                                        \
            "spanId" : "00000000000000ff",                                                         \
            "parentSpanId" : "eee19b7ec3c1b174",                                                   \
            "name" : "SELECT orders",                                                              \
            "kind" : 3,                                                                            \
            "startTimeUnixNano" : "1700000000200000000",                                           \
            "endTimeUnixNano" : "1700000000300000000",                                             \
            "status" : {"code" : 1}                                                                \
        }                                                                                          \
    ])

/* Assembled at run time: the macros above cannot nest inside another JSON(...). */
static char *traces_json(void)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_printf(&b,
                    "{\"resourceSpans\":[{\"resource\":%s,\"scopeSpans\":[{\"scope\":%s,"
                    "\"spans\":%s,\"schemaUrl\":\"https://opentelemetry.io/schemas/1.24.0\"},"
                    "{\"spans\":[{\"traceId\":\"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\",\"spanId\":"
                    "\"0102030405060708\",\"name\":\"orphan\"}]}],"
                    "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.26.0\"},{}]}",
                    RESOURCE_JSON, SCOPE_JSON, SPANS_JSON);
    otus_buf_append_byte(&b, '\0');
    return otus_buf_steal(&b, NULL);
}

static Exemplar *build_exemplar(int as_int)
{
    Exemplar *e = make(D_EXEMPLAR);
    e->filtered_attributes = list(1, kv("user.id", av_str("u-1")));
    e->n_filtered_attributes = 1;
    e->time_unix_nano = 1700000000000000001ull;
    if (as_int) {
        e->value_case = EXEMPLAR(AS_INT);
        e->as_int = -3;
    } else {
        e->value_case = EXEMPLAR(AS_DOUBLE);
        e->as_double = 0.25;
    }
    e->span_id = hexbin("eee19b7ec3c1b174");
    e->trace_id = hexbin("5b8efff798038103d269b633813fc60c");
    return e;
}

static otus_metrics_req *build_metrics(void)
{
    /* gauge: a double point with an exemplar, an int point, a point without value */
    NumberPoint *g1 = make(D_NPOINT);
    g1->attributes = list(1, kv("cpu", av_int(0)));
    g1->n_attributes = 1;
    g1->start_time_unix_nano = 1700000000000000000ull;
    g1->time_unix_nano = 1700000010000000000ull;
    g1->value_case = NUMBER(AS_DOUBLE);
    g1->as_double = 1.5;
    g1->exemplars = list(1, build_exemplar(0));
    g1->n_exemplars = 1;
    NumberPoint *g2 = make(D_NPOINT);
    g2->time_unix_nano = 1700000010000000000ull;
    g2->value_case = NUMBER(AS_INT);
    g2->as_int = -7;
    NumberPoint *g3 = make(D_NPOINT);
    g3->time_unix_nano = 1700000010000000000ull;
    g3->flags = 1;
    Gauge *gauge = make(D_GAUGE);
    gauge->data_points = list(3, g1, g2, g3);
    gauge->n_data_points = 3;
    Metric *mg = make(D_METRIC);
    mg->name = "system.cpu.utilization";
    mg->description = "CPU use";
    mg->unit = "1";
    mg->data_case = METRIC(GAUGE);
    mg->gauge = gauge;
    mg->metadata = list(1, kv("meta", av_str("data")));
    mg->n_metadata = 1;

    /* sum: monotonic cumulative, an int beyond 2^53 and a zero double that is set */
    NumberPoint *s1 = make(D_NPOINT);
    s1->start_time_unix_nano = 1700000000000000000ull;
    s1->time_unix_nano = 1700000010000000000ull;
    s1->value_case = NUMBER(AS_INT);
    s1->as_int = 9007199254740993ll;
    s1->exemplars = list(1, build_exemplar(1));
    s1->n_exemplars = 1;
    NumberPoint *s2 = make(D_NPOINT);
    s2->value_case = NUMBER(AS_DOUBLE);
    s2->as_double = 0;
    Sum *sum = make(D_SUM);
    sum->data_points = list(2, s1, s2);
    sum->n_data_points = 2;
    sum->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    sum->is_monotonic = 1;
    Metric *ms = make(D_METRIC);
    ms->name = "http.server.requests";
    ms->unit = "{request}";
    ms->data_case = METRIC(SUM);
    ms->sum = sum;

    /* histogram: one point with sum, a zero min and a max; one with none of them */
    HistPoint *h1 = make(D_HPOINT);
    h1->attributes = list(1, kv("route", av_str("/a")));
    h1->n_attributes = 1;
    h1->start_time_unix_nano = 1700000000000000000ull;
    h1->time_unix_nano = 1700000010000000000ull;
    h1->count = 10;
    h1->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    h1->sum = 55.5;
    static uint64_t hb[] = {1, 2, 3, 4};
    static double bounds[] = {0, 5, 10};
    h1->bucket_counts = hb;
    h1->n_bucket_counts = 4;
    h1->explicit_bounds = bounds;
    h1->n_explicit_bounds = 3;
    h1->exemplars = list(1, build_exemplar(0));
    h1->n_exemplars = 1;
    h1->flags = 0;
    h1->_min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
    h1->min = 0;
    h1->_max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
    h1->max = 9.75;
    HistPoint *h2 = make(D_HPOINT);
    h2->time_unix_nano = 1700000010000000000ull;
    h2->flags = 1;
    Histogram *hist = make(D_HIST);
    hist->data_points = list(2, h1, h2);
    hist->n_data_points = 2;
    hist->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    Metric *mh = make(D_METRIC);
    mh->name = "http.server.duration";
    mh->unit = "ms";
    mh->data_case = METRIC(HISTOGRAM);
    mh->histogram = hist;

    /* exponential histogram with both bucket ranges, extremes of uint64 and double */
    ExpPoint *e1 = make(D_EPOINT);
    e1->attributes = list(1, kv("host", av_str("h1")));
    e1->n_attributes = 1;
    e1->start_time_unix_nano = 1700000000000000000ull;
    e1->time_unix_nano = 1700000010000000000ull;
    e1->count = 18446744073709551615ull;
    e1->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
    e1->sum = -12.125;
    e1->scale = -3;
    e1->zero_count = 2;
    Buckets *pos = make(D_BUCKETS);
    pos->offset = -2;
    static uint64_t pb[] = {1, 0, 18446744073709551615ull};
    pos->bucket_counts = pb;
    pos->n_bucket_counts = 3;
    Buckets *neg = make(D_BUCKETS);
    neg->offset = 5;
    static uint64_t nb[] = {7};
    neg->bucket_counts = nb;
    neg->n_bucket_counts = 1;
    e1->positive = pos;
    e1->negative = neg;
    e1->flags = 1;
    e1->exemplars = list(1, build_exemplar(1));
    e1->n_exemplars = 1;
    e1->_min_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN;
    e1->min = -1.5;
    e1->_max_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX;
    e1->max = 1e300;
    e1->zero_threshold = 1e-9;
    ExpPoint *e2 = make(D_EPOINT);
    e2->scale = 20;
    e2->positive = make(D_BUCKETS);
    ExpHistogram *eh = make(D_EXPHIST);
    eh->data_points = list(2, e1, e2);
    eh->n_data_points = 2;
    eh->aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    Metric *me = make(D_METRIC);
    me->name = "latency";
    me->data_case = METRIC(EXPONENTIAL_HISTOGRAM);
    me->exponential_histogram = eh;

    /* summary with quantiles */
    Quantile *q0 = make(D_QUANTILE), *q5 = make(D_QUANTILE), *q1 = make(D_QUANTILE);
    q0->quantile = 0;
    q0->value = 1;
    q5->quantile = 0.5;
    q5->value = 2.5;
    q1->quantile = 1;
    q1->value = 9;
    SummaryPoint *sp = make(D_SPOINT);
    sp->attributes = list(1, kv("k", av_str("v")));
    sp->n_attributes = 1;
    sp->start_time_unix_nano = 1700000000000000000ull;
    sp->time_unix_nano = 1700000010000000000ull;
    sp->count = 3;
    sp->sum = 12.5;
    sp->quantile_values = list(3, q0, q5, q1);
    sp->n_quantile_values = 3;
    sp->flags = 1;
    Summary *summary = make(D_SUMMARY);
    summary->data_points = list(1, sp);
    summary->n_data_points = 1;
    Metric *mq = make(D_METRIC);
    mq->name = "rpc.duration";
    mq->data_case = METRIC(SUMMARY);
    mq->summary = summary;

    Metric *mnone = make(D_METRIC);
    mnone->name = "no.data";

    ScopeMetrics *sm = make(D_SMETRICS);
    sm->scope = build_scope();
    sm->metrics = list(6, mg, ms, mh, me, mq, mnone);
    sm->n_metrics = 6;
    sm->schema_url = "https://opentelemetry.io/schemas/1.24.0";
    ResourceMetrics *rm = make(D_RMETRICS);
    rm->resource = build_resource();
    rm->scope_metrics = list(1, sm);
    rm->n_scope_metrics = 1;
    rm->schema_url = "https://opentelemetry.io/schemas/1.26.0";
    otus_metrics_req *req = make(D_METRICS);
    req->resource_metrics = list(1, rm);
    req->n_resource_metrics = 1;
    return req;
}

#define EXEMPLAR_DOUBLE_JSON                                                                       \
    JSON({                                                                                         \
        "filteredAttributes" : [ {"key" : "user.id", "value" : {"stringValue" : "u-1"}} ],         \
        "timeUnixNano" : "1700000000000000001",                                                    \
        "asDouble" : 0.25,                                                                         \
        "spanId" : "eee19b7ec3c1b174",                                                             \
        "traceId" : "5b8efff798038103d269b633813fc60c"                                             \
    })

#define EXEMPLAR_INT_JSON                                                                          \
    JSON({                                                                                         \
        "filteredAttributes" : [ {"key" : "user.id", "value" : {"stringValue" : "u-1"}} ],         \
        "timeUnixNano" : "1700000000000000001",                                                    \
        "asInt" : "-3",                                                                            \
        "spanId" : "eee19b7ec3c1b174",                                                             \
        "traceId" : "5b8efff798038103d269b633813fc60c"                                             \
    })

#define GAUGE_JSON                                                                                 \
    JSON({                                                                                         \
        "name" : "system.cpu.utilization",                                                         \
        "description" : "CPU use",                                                                 \
        "unit" : "1",                                                                              \
        "gauge" : {                                                                                \
            "dataPoints" : [                                                                       \
                {                                                                                  \
                    "attributes" : [ {"key" : "cpu", "value" : {"intValue" : "0"}} ],              \
                    "startTimeUnixNano" : "1700000000000000000",                                   \
                    "timeUnixNano" : "1700000010000000000",                                        \
                    "asDouble" : 1.5,                                                              \
                    "exemplars" : "@EXD@"                                                          \
                },                                                                                 \
                {"timeUnixNano" : "1700000010000000000", "asInt" : "-7"},                          \
                {"timeUnixNano" : "1700000010000000000", "flags" : 1}                              \
            ]                                                                                      \
        },                                                                                         \
        "metadata" : [ {"key" : "meta", "value" : {"stringValue" : "data"}} ]                      \
    })

#define SUM_JSON                                                                                   \
    JSON({                                                                                         \
        "name" : "http.server.requests",                                                           \
        "unit" : "{request}",                                                                      \
        "sum" : {                                                                                  \
            "dataPoints" : [                                                                       \
                {                                                                                  \
                    "startTimeUnixNano" : "1700000000000000000",                                   \
                    "timeUnixNano" : "1700000010000000000",                                        \
                    "asInt" : "9007199254740993",                                                  \
                    "exemplars" : "@EXI@"                                                          \
                },                                                                                 \
                {"asDouble" : 0}                                                                   \
            ],                                                                                     \
            "aggregationTemporality" : 2,                                                          \
            "isMonotonic" : true                                                                   \
        }                                                                                          \
    })

#define HISTOGRAM_JSON                                                                             \
    JSON({                                                                                         \
        "name" : "http.server.duration",                                                           \
        "unit" : "ms",                                                                             \
        "histogram" : {                                                                            \
            "dataPoints" : [                                                                       \
                {                                                                                  \
                    "attributes" : [ {"key" : "route", "value" : {"stringValue" : "/a"}} ],        \
                    "startTimeUnixNano" : "1700000000000000000",                                   \
                    "timeUnixNano" : "1700000010000000000",                                        \
                    "count" : "10",                                                                \
                    "sum" : 55.5,                                                                  \
                    "bucketCounts" : [ "1", "2", "3", "4" ],                                       \
                    "explicitBounds" : [ 0, 5, 10 ],                                               \
                    "exemplars" : "@EXD@",                                                         \
                    "min" : 0,                                                                     \
                    "max" : 9.75                                                                   \
                },                                                                                 \
                {"timeUnixNano" : "1700000010000000000", "flags" : 1}                              \
            ],                                                                                     \
            "aggregationTemporality" : 1                                                           \
        }                                                                                          \
    })

#define EXPHIST_JSON                                                                               \
    JSON({                                                                                         \
        "name" : "latency",                                                                        \
        "exponentialHistogram" : {                                                                 \
            "dataPoints" : [                                                                       \
                {                                                                                  \
                    "attributes" : [ {"key" : "host", "value" : {"stringValue" : "h1"}} ],         \
                    "startTimeUnixNano" : "1700000000000000000",                                   \
                    "timeUnixNano" : "1700000010000000000",                                        \
                    "count" : "18446744073709551615",                                              \
                    "sum" : -12.125,                                                               \
                    "scale" : -3,                                                                  \
                    "zeroCount" : "2",                                                             \
                    "positive" :                                                                   \
                        {"offset" : -2, "bucketCounts" : [ "1", "0", "18446744073709551615" ]},    \
                    "negative" : {"offset" : 5, "bucketCounts" : ["7"]},                           \
                    "flags" : 1,                                                                   \
                    "exemplars" : "@EXI@",                                                         \
                    "min" : -1.5,                                                                  \
                    "max" : 1e300,                                                                 \
                    "zeroThreshold" : 1e-9                                                         \
                },                                                                                 \
                {"scale" : 20, "positive" : {}}                                                    \
            ],                                                                                     \
            "aggregationTemporality" : 1                                                           \
        }                                                                                          \
    })

#define SUMMARY_JSON                                                                               \
    JSON({                                                                                         \
        "name" : "rpc.duration",                                                                   \
        "summary" : {                                                                              \
            "dataPoints" : [ {                                                                     \
                "attributes" : [ {"key" : "k", "value" : {"stringValue" : "v"}} ],                 \
                "startTimeUnixNano" : "1700000000000000000",                                       \
                "timeUnixNano" : "1700000010000000000",                                            \
                "count" : "3",                                                                     \
                "sum" : 12.5,                                                                      \
                "quantileValues" : [                                                               \
                    {"value" : 1}, {"quantile" : 0.5, "value" : 2.5},                              \
                    {"quantile" : 1, "value" : 9}                                                  \
                ],                                                                                 \
                "flags" : 1                                                                        \
            } ]                                                                                    \
        }                                                                                          \
    })

/* Appends tmpl with every "@EXD@" and "@EXI@" (quotes included) replaced by a list of
 * one exemplar. */
static void put_exemplars(struct otus_buf *b, const char *tmpl)
{
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "\"@EXD@\"", 7) == 0) {
            otus_buf_printf(b, "[%s]", EXEMPLAR_DOUBLE_JSON);
            p += 7;
        } else if (strncmp(p, "\"@EXI@\"", 7) == 0) {
            otus_buf_printf(b, "[%s]", EXEMPLAR_INT_JSON);
            p += 7;
        } else {
            otus_buf_append_byte(b, *p++);
        }
    }
}

static char *metrics_json(void)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_printf(&b,
                    "{\"resourceMetrics\":[{\"resource\":%s,\"scopeMetrics\":[{\"scope\":%s,"
                    "\"metrics\":[",
                    RESOURCE_JSON, SCOPE_JSON);
    put_exemplars(&b, GAUGE_JSON);
    otus_buf_append_byte(&b, ',');
    put_exemplars(&b, SUM_JSON);
    otus_buf_append_byte(&b, ',');
    put_exemplars(&b, HISTOGRAM_JSON);
    otus_buf_append_byte(&b, ',');
    put_exemplars(&b, EXPHIST_JSON);
    otus_buf_append_byte(&b, ',');
    otus_buf_append_str(&b, SUMMARY_JSON);
    otus_buf_append_str(&b, ",{\"name\":\"no.data\"}],\"schemaUrl\":"
                            "\"https://opentelemetry.io/schemas/1.24.0\"}],\"schemaUrl\":"
                            "\"https://opentelemetry.io/schemas/1.26.0\"}]}");
    otus_buf_append_byte(&b, '\0');
    return otus_buf_steal(&b, NULL);
}

static otus_logs_req *build_logs(void)
{
    LogRecord *r1 = make(D_RECORD);
    r1->time_unix_nano = 1700000000123456789ull;
    r1->observed_time_unix_nano = 1700000000223456789ull;
    r1->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR;
    r1->severity_text = "ERROR";
    r1->body = av_kvlist(2, list(2, kv("msg", av_str("payment failed")), kv("code", av_int(402))));
    r1->attributes = list(2, kv("order.id", av_str("o-17")), kv("retry", av_bool(1)));
    r1->n_attributes = 2;
    r1->dropped_attributes_count = 2;
    r1->flags = 1;
    r1->trace_id = hexbin("5b8efff798038103d269b633813fc60c");
    r1->span_id = hexbin("eee19b7ec3c1b174");
    r1->event_name = "app.payment.failed";
    LogRecord *r2 = make(D_RECORD);
    r2->time_unix_nano = 1700000001000000000ull;
    r2->severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
    r2->body = av_str("plain text line");
    LogRecord *r3 = make(D_RECORD);
    r3->body = av_array(2, list(2, av_double(INFINITY), av_double(NAN)));
    LogRecord *r4 = make(D_RECORD);
    r4->observed_time_unix_nano = 1;
    ScopeLogs *sl = make(D_SLOGS);
    sl->scope = build_scope();
    sl->log_records = list(4, r1, r2, r3, r4);
    sl->n_log_records = 4;
    sl->schema_url = "https://opentelemetry.io/schemas/1.24.0";
    ResourceLogs *rl = make(D_RLOGS);
    rl->resource = build_resource();
    rl->scope_logs = list(1, sl);
    rl->n_scope_logs = 1;
    otus_logs_req *req = make(D_LOGS);
    req->resource_logs = list(1, rl);
    req->n_resource_logs = 1;
    return req;
}

#define RECORDS_JSON                                                                               \
    JSON([                                                                                         \
        {                                                                                          \
            "timeUnixNano" : "1700000000123456789",                                                \
            "observedTimeUnixNano" : "1700000000223456789",                                        \
            "severityNumber" : 17,                                                                 \
            "severityText" : "ERROR",                                                              \
            "body" : {                                                                             \
                "kvlistValue" : {                                                                  \
                    "values" : [                                                                   \
                        {"key" : "msg", "value" : {"stringValue" : "payment failed"}},             \
                        {"key" : "code", "value" : {"intValue" : 402}}                             \
                    ]                                                                              \
                }                                                                                  \
            },                                                                                     \
            "attributes" : [                                                                       \
                {"key" : "order.id", "value" : {"stringValue" : "o-17"}},                          \
                {"key" : "retry", "value" : {"boolValue" : true}}                                  \
            ],                                                                                     \
            "droppedAttributesCount" : 2,                                                          \
            "flags" : 1,                                                                           \
            "traceId" : "5b8efff798038103d269b633813fc60c",                                        \
            "spanId" : "eee19b7ec3c1b174",                                                         \
            "eventName" : "app.payment.failed"                                                     \
        },                                                                                         \
        {                                                                                          \
            "timeUnixNano" : "1700000001000000000",                                                \
            "severityNumber" : 9,                                                                  \
            "body" : {"stringValue" : "plain text line"}                                           \
        },                                                                                         \
        {                                                                                          \
            "body" : {                                                                             \
                "arrayValue" :                                                                     \
                    {"values" : [ {"doubleValue" : "Infinity"}, {"doubleValue" : "NaN"} ]}         \
            }                                                                                      \
        },                                                                                         \
        {"observedTimeUnixNano" : "1"}                                                             \
    ])

static char *logs_json(void)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_printf(&b,
                    "{\"resourceLogs\":[{\"resource\":%s,\"scopeLogs\":[{\"scope\":%s,"
                    "\"logRecords\":%s,\"schemaUrl\":\"https://opentelemetry.io/schemas/1.24.0\"}]"
                    "}]}",
                    RESOURCE_JSON, SCOPE_JSON, RECORDS_JSON);
    otus_buf_append_byte(&b, '\0');
    return otus_buf_steal(&b, NULL);
}

/* ---- decoding the rich requests ----------------------------------------------------------------
 */

static void decode_traces_every_field(void **state)
{
    (void)state;
    char *json = traces_json();
    otus_traces_req *got = (otus_traces_req *)decode_ok(OTUS_SIGNAL_TRACES, json);
    otus_traces_req *want = build_traces();
    assert_same_request(&got->base, &want->base);

    /* A few fields spelled out, so that a failure reads without the comparer. */
    assert_int_equal(got->n_resource_spans, 2);
    ResourceSpans *rs = got->resource_spans[0];
    assert_string_equal(rs->schema_url, "https://opentelemetry.io/schemas/1.26.0");
    assert_int_equal(rs->resource->n_attributes, 10);
    assert_int_equal(rs->resource->dropped_attributes_count, 3);
    assert_string_equal(rs->resource->entity_refs[0]->id_keys[1], "service.namespace");
    assert_string_equal(rs->resource->attributes[1]->value->string_value,
                        "caf\xc3\xa9 \"q\" \\ \n\xf0\x9f\x94\xa5");
    assert_null(rs->resource->attributes[8]->value);
    Span *s = rs->scope_spans[0]->spans[0];
    assert_int_equal(s->trace_id.len, 16);
    assert_int_equal(s->trace_id.data[0], 0x5b);
    assert_int_equal(s->span_id.len, 8);
    assert_int_equal(s->parent_span_id.data[7], 0x73);
    assert_int_equal(s->flags, 0x301);
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
    assert_true(s->start_time_unix_nano == 1700000000123456789ull);
    assert_int_equal(s->n_events, 2);
    assert_int_equal(s->dropped_events_count, 5);
    assert_int_equal(s->links[0]->flags, 0x100);
    assert_int_equal(s->dropped_links_count, 6);
    assert_int_equal(s->status->code, 2);
    assert_string_equal(s->status->message, "boom");
    Span *orphan = rs->scope_spans[1]->spans[0];
    assert_null(rs->scope_spans[1]->scope);
    assert_int_equal(orphan->trace_id.data[15], 0xff);
    assert_int_equal(orphan->parent_span_id.len, 0);
    assert_null(orphan->parent_span_id.data);
    assert_ptr_equal(orphan->trace_state, protobuf_c_empty_string);
    assert_null(orphan->status);
    assert_non_null(got->resource_spans[1]);
    assert_null(got->resource_spans[1]->resource);
    free(json);
}

static void decode_metrics_every_field(void **state)
{
    (void)state;
    char *json = metrics_json();
    otus_metrics_req *got = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, json);
    otus_metrics_req *want = build_metrics();
    assert_same_request(&got->base, &want->base);

    Metric **m = got->resource_metrics[0]->scope_metrics[0]->metrics;
    assert_int_equal(m[0]->data_case, METRIC(GAUGE));
    assert_int_equal(m[0]->gauge->data_points[0]->value_case, NUMBER(AS_DOUBLE));
    assert_int_equal(m[0]->gauge->data_points[2]->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET);
    assert_string_equal(m[0]->metadata[0]->key, "meta");
    assert_int_equal(m[0]->gauge->data_points[0]->exemplars[0]->span_id.len, 8);
    assert_int_equal(m[1]->data_case, METRIC(SUM));
    assert_true(m[1]->sum->data_points[0]->as_int == 9007199254740993ll);
    assert_int_equal(m[1]->sum->data_points[1]->value_case, NUMBER(AS_DOUBLE));
    assert_true(m[1]->sum->is_monotonic);
    HistPoint *h = m[2]->histogram->data_points[0];
    assert_int_equal(h->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_int_equal(h->_min_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);
    assert_true(h->min == 0);
    assert_int_equal(h->n_bucket_counts, 4);
    assert_true(h->explicit_bounds[2] == 10);
    HistPoint *h2 = m[2]->histogram->data_points[1];
    assert_int_equal(h2->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_int_equal(h2->_max_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX__NOT_SET);
    ExpPoint *e = m[3]->exponential_histogram->data_points[0];
    assert_true(e->count == UINT64_MAX);
    assert_int_equal(e->scale, -3);
    assert_int_equal(e->positive->offset, -2);
    assert_true(e->positive->bucket_counts[2] == UINT64_MAX);
    assert_int_equal(e->negative->n_bucket_counts, 1);
    assert_true(e->max == 1e300);
    assert_true(e->zero_threshold == 1e-9);
    SummaryPoint *q = m[4]->summary->data_points[0];
    assert_int_equal(q->n_quantile_values, 3);
    assert_true(q->quantile_values[1]->quantile == 0.5);
    assert_int_equal(m[5]->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA__NOT_SET);
    free(json);
}

static void decode_logs_every_field(void **state)
{
    (void)state;
    char *json = logs_json();
    otus_logs_req *got = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, json);
    otus_logs_req *want = build_logs();
    assert_same_request(&got->base, &want->base);

    LogRecord **r = got->resource_logs[0]->scope_logs[0]->log_records;
    assert_true(r[0]->observed_time_unix_nano == 1700000000223456789ull);
    assert_int_equal(r[0]->severity_number, 17);
    assert_string_equal(r[0]->event_name, "app.payment.failed");
    assert_int_equal(r[0]->flags, 1);
    assert_int_equal(r[0]->body->value_case, AV(KVLIST_VALUE));
    assert_true(r[0]->body->kvlist_value->values[1]->value->int_value == 402);
    assert_string_equal(r[1]->body->string_value, "plain text line");
    assert_true(isinf(r[2]->body->array_value->values[0]->double_value));
    assert_true(isnan(r[2]->body->array_value->values[1]->double_value));
    assert_null(r[3]->body);
    free(json);
}

/* Every key in its snake_case spelling decodes to the same request. */
static void decode_snake_case_names(void **state)
{
    (void)state;
    char *(*const texts[])(void) = {traces_json, metrics_json, logs_json};
    const enum otus_signal sig[] = {OTUS_SIGNAL_TRACES, OTUS_SIGNAL_METRICS, OTUS_SIGNAL_LOGS};
    for (int i = 0; i < 3; i++) {
        char *camel = texts[i]();
        char *snake = to_snake_case(camel);
        assert_non_null(strstr(snake, "_unix_nano"));
        ProtobufCMessage *a = decode_ok(sig[i], camel);
        ProtobufCMessage *b = decode_ok(sig[i], snake);
        where[0] = '\0';
        assert_true(same_msg(a, b, true));
        free(camel);
        free(snake);
    }
}

/* ---- round trips
 * ----------------------------------------------------------------------------------- */

static void round_trip(enum otus_signal s, ProtobufCMessage *built)
{
    char *json = encode(s, built);
    ProtobufCMessage *back = decode_ok(s, json);
    assert_same_request(back, built);
    /* Encoding is deterministic: the decoded request encodes to the same text. */
    char *again = encode(s, back);
    assert_string_equal(json, again);
    free(json);
    free(again);
}

static void round_trip_every_signal(void **state)
{
    (void)state;
    round_trip(OTUS_SIGNAL_TRACES, &build_traces()->base);
    round_trip(OTUS_SIGNAL_METRICS, &build_metrics()->base);
    round_trip(OTUS_SIGNAL_LOGS, &build_logs()->base);
}

/* ---- the encoder's exact output
 * ------------------------------------------------------------------ */

static void encode_exact_form(void **state)
{
    (void)state;
    Span *s = make(D_SPAN);
    s->trace_id = hexbin("5B8EFFF798038103D269B633813FC60C");
    s->span_id = hexbin("00f067aa0ba902b7");
    s->name = "n";
    s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER;
    s->start_time_unix_nano = 18446744073709551615ull;
    s->attributes = list(4, kv("i", av_int(0)), kv("d", av_double(0)), kv("s", av_str("")),
                         kv("y", av_bytes("fbff")));
    s->n_attributes = 4;
    s->flags = 1;
    ScopeSpans *ss = make(D_SSPANS);
    ss->spans = list(1, s);
    ss->n_spans = 1;
    ResourceSpans *rs = make(D_RSPANS);
    rs->scope_spans = list(1, ss);
    rs->n_scope_spans = 1;
    otus_traces_req *req = make(D_TRACES);
    req->resource_spans = list(1, rs);
    req->n_resource_spans = 1;
    char *json = encode(OTUS_SIGNAL_TRACES, &req->base);
    assert_string_equal(
        json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
              "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"00f067aa0ba902b7\",\"name\":\"n\","
              "\"kind\":4,\"startTimeUnixNano\":\"18446744073709551615\",\"attributes\":["
              "{\"key\":\"i\",\"value\":{\"intValue\":\"0\"}},{\"key\":\"d\",\"value\":{"
              "\"doubleValue\":0.0}},{\"key\":\"s\",\"value\":{\"stringValue\":\"\"}},{\"key\":"
              "\"y\",\"value\":{\"bytesValue\":\"+/8=\"}}],\"flags\":1}]}]}]}");
    free(json);

    otus_traces_req *empty = make(D_TRACES);
    json = encode(OTUS_SIGNAL_TRACES, &empty->base);
    assert_string_equal(json, "{}");
    free(json);
}

static void encode_refusals(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_traces_req *req = build_traces();
    /* the wrong signal, or no request */
    assert_int_equal(otus_otlp_json_encode(OTUS_SIGNAL_LOGS, &req->base, &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_otlp_json_encode(OTUS_SIGNAL_TRACES, NULL, &b), OTUS_ERR_INVALID);
    assert_int_equal(otus_otlp_json_encode((enum otus_signal)7, &req->base, &b), OTUS_ERR_INVALID);
    /* a full buffer leaves what was there */
    otus_buf_free(&b);
    otus_buf_init(&b, 100);
    otus_buf_append_str(&b, "keep");
    assert_int_equal(otus_otlp_json_encode(OTUS_SIGNAL_TRACES, &req->base, &b), OTUS_ERR_TOO_BIG);
    assert_buf_eq(&b, "keep");
    /* nesting beyond the writer's depth */
    AnyValue *v = av_str("leaf");
    for (int i = 0; i < 40; i++)
        v = av_array(1, list(1, v));
    LogRecord *r = make(D_RECORD);
    r->body = v;
    ScopeLogs *sl = make(D_SLOGS);
    sl->log_records = list(1, r);
    sl->n_log_records = 1;
    ResourceLogs *rl = make(D_RLOGS);
    rl->scope_logs = list(1, sl);
    rl->n_scope_logs = 1;
    otus_logs_req *deep = make(D_LOGS);
    deep->resource_logs = list(1, rl);
    deep->n_resource_logs = 1;
    struct otus_buf unbounded;
    otus_buf_init(&unbounded, 0);
    otus_buf_append_str(&unbounded, "keep");
    assert_int_equal(otus_otlp_json_encode(OTUS_SIGNAL_LOGS, &deep->base, &unbounded),
                     OTUS_ERR_INVALID);
    assert_buf_eq(&unbounded, "keep");
    otus_buf_free(&unbounded);
    otus_buf_free(&b);
}

static void encode_responses(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_TRACES, 0, NULL, &b), 0);
    assert_buf_eq(&b, "{}");
    otus_buf_reset(&b);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_METRICS, 0, "", &b), 0);
    assert_buf_eq(&b, "{}");
    otus_buf_reset(&b);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_TRACES, 2, "bad \"ids\"", &b), 0);
    assert_buf_eq(&b, "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"bad "
                      "\\\"ids\\\"\"}}");
    otus_buf_reset(&b);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_METRICS, 9000000000, NULL, &b), 0);
    assert_buf_eq(&b, "{\"partialSuccess\":{\"rejectedDataPoints\":\"9000000000\"}}");
    otus_buf_reset(&b);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_LOGS, 1, "x", &b), 0);
    assert_buf_eq(&b, "{\"partialSuccess\":{\"rejectedLogRecords\":\"1\",\"errorMessage\":\"x\"}}");
    otus_buf_reset(&b);
    /* a warning without rejections */
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_LOGS, 0, "slow down", &b), 0);
    assert_buf_eq(&b, "{\"partialSuccess\":{\"errorMessage\":\"slow down\"}}");
    otus_buf_reset(&b);
    assert_int_equal(otus_otlp_json_encode_response(OTUS_SIGNAL_LOGS, -1, NULL, &b),
                     OTUS_ERR_INVALID);
    assert_int_equal(otus_otlp_json_encode_response((enum otus_signal)3, 1, NULL, &b),
                     OTUS_ERR_INVALID);
    assert_int_equal(b.len, 0);
    otus_buf_free(&b);
}

/* ---- accepted spellings ---------------------------------------------------------------------- */

#define BODY_PATH "resourceLogs[0].scopeLogs[0].logRecords[0].body"
#define SPAN_PATH "resourceSpans[0].scopeSpans[0].spans[0]"
#define EXP_PATH  "resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0]"

static char *wrap(const char *fmt, const char *inner)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_printf(&b, fmt, inner);
    otus_buf_append_byte(&b, '\0');
    return otus_buf_steal(&b, NULL);
}

static const char body_fmt[] =
    "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":%s}]}]}]}";
static const char span_fmt[] = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{%s}]}]}]}";
static const char exp_fmt[] = "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{"
                              "\"exponentialHistogram\":{\"dataPoints\":[{%s}]}}]}]}]}";

static AnyValue *body(const char *value)
{
    char *json = wrap(body_fmt, value);
    otus_logs_req *r = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, json);
    free(json);
    return r->resource_logs[0]->scope_logs[0]->log_records[0]->body;
}

static Span *span(const char *fields)
{
    char *json = wrap(span_fmt, fields);
    otus_traces_req *r = (otus_traces_req *)decode_ok(OTUS_SIGNAL_TRACES, json);
    free(json);
    return r->resource_spans[0]->scope_spans[0]->spans[0];
}

static ExpPoint *exp_point(const char *fields)
{
    char *json = wrap(exp_fmt, fields);
    otus_metrics_req *r = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, json);
    free(json);
    return r->resource_metrics[0]
        ->scope_metrics[0]
        ->metrics[0]
        ->exponential_histogram->data_points[0];
}

/* Decoding fmt around inner fails with "<path>: <msg>". */
static void fails_at(enum otus_signal s, const char *fmt, const char *inner, const char *path,
                     const char *msg)
{
    char *json = wrap(fmt, inner);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", path, msg);
    decode_fails(s, json, OTUS_ERR_PARSE, want);
    free(json);
}

static void anyvalue_every_kind(void **state)
{
    (void)state;
    AnyValue *v = body(JSON({"stringValue" : "x"}));
    assert_int_equal(v->value_case, AV(STRING_VALUE));
    assert_string_equal(v->string_value, "x");
    v = body(JSON({"stringValue" : ""}));
    assert_int_equal(v->value_case, AV(STRING_VALUE));
    assert_string_equal(v->string_value, "");
    v = body(JSON({"boolValue" : false}));
    assert_int_equal(v->value_case, AV(BOOL_VALUE));
    assert_false(v->bool_value);
    v = body(JSON({"boolValue" : true}));
    assert_true(v->bool_value);

    const char *ints[] = {JSON({"intValue" : "-5"}),      JSON({"intValue" : -5}),
                          JSON({"intValue" : -5.0}),      JSON({"intValue" : "-5e0"}),
                          JSON({"intValue" : "-0.05e2"}), JSON({"intValue" : -500e-2})};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        v = body(ints[i]);
        assert_int_equal(v->value_case, AV(INT_VALUE));
        assert_true(v->int_value == -5);
    }
    assert_true(body(JSON({"intValue" : "9223372036854775807"}))->int_value == INT64_MAX);
    assert_true(body(JSON({"intValue" : -9223372036854775808}))->int_value == INT64_MIN);
    assert_true(body(JSON({"intValue" : "-9223372036854775808"}))->int_value == INT64_MIN);
    assert_true(body(JSON({"intValue" : "-0"}))->int_value == 0);
    assert_true(body(JSON({"intValue" : "007"}))->int_value == 7);
    assert_int_equal(body(JSON({"intValue" : 0}))->value_case, AV(INT_VALUE));

    struct {
        const char *json;
        double want;
    } dbl[] = {
        {JSON({"doubleValue" : 1}), 1},
        {JSON({"doubleValue" : 2.5}), 2.5},
        {JSON({"doubleValue" : "2.5"}), 2.5},
        {JSON({"doubleValue" : "-1E2"}), -100},
        {JSON({"doubleValue" : "7"}), 7},
        {JSON({"doubleValue" : 1e-320}), 1e-320},
        {JSON({"doubleValue" : -0.0}), -0.0},
        {JSON({"doubleValue" : "Infinity"}), INFINITY},
        {JSON({"doubleValue" : "-Infinity"}), -INFINITY},
        {JSON({"doubleValue" : 12345678901234567890123}), 12345678901234567890123.0},
        {JSON({"doubleValue" : -12345678901234567890}), -12345678901234567890.0},
        {JSON({"doubleValue" : "123456789012345678901234567890"}), 1.2345678901234568e29},
    };
    for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
        v = body(dbl[i].json);
        assert_int_equal(v->value_case, AV(DOUBLE_VALUE));
        assert_true(v->double_value == dbl[i].want);
        assert_int_equal(!!signbit(v->double_value), !!signbit(dbl[i].want));
    }
    v = body(JSON({"doubleValue" : "NaN"}));
    assert_true(isnan(v->double_value));

    struct {
        const char *json;
        const char *hex;
    } bytes[] = {
        {JSON({"bytesValue" : "AP9/"}), "00ff7f"},
        {JSON({"bytesValue" : "AP9_"}), "00ff7f"},
        {JSON({"bytesValue" : "AP8="}), "00ff"},
        {JSON({"bytesValue" : "AP8"}), "00ff"},
        {JSON({"bytesValue" : "-_8"}), "fbff"},
        {JSON({"bytesValue" : "+/8="}), "fbff"},
        {JSON({"bytesValue" : "AA=="}), "00"},
        {JSON({"bytesValue" : "AA"}), "00"},
        {JSON({"bytesValue" : "SGVsbG8h"}), "48656c6c6f21"},
        {JSON({"bytesValue" : "AB"}), "00"}, /* non-zero spare bits are tolerated */
    };
    for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
        v = body(bytes[i].json);
        assert_int_equal(v->value_case, AV(BYTES_VALUE));
        char hex[64];
        assert_true(v->bytes_value.len * 2 < sizeof(hex));
        otus_hex_encode(v->bytes_value.data, v->bytes_value.len, hex);
        hex[v->bytes_value.len * 2] = '\0';
        assert_string_equal(hex, bytes[i].hex);
    }
    v = body(JSON({"bytesValue" : ""}));
    assert_int_equal(v->value_case, AV(BYTES_VALUE));
    assert_int_equal(v->bytes_value.len, 0);
    assert_null(v->bytes_value.data);

    v = body(JSON({"arrayValue" : {}}));
    assert_int_equal(v->value_case, AV(ARRAY_VALUE));
    assert_int_equal(v->array_value->n_values, 0);
    assert_null(v->array_value->values);
    v = body(JSON({"arrayValue" : {"values" : []}}));
    assert_int_equal(v->array_value->n_values, 0);
    v = body(JSON({"kvlistValue" : {"values" : null}}));
    assert_int_equal(v->value_case, AV(KVLIST_VALUE));
    assert_int_equal(v->kvlist_value->n_values, 0);

    v = body(JSON({}));
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    v = body(JSON({"stringValue" : null}));
    assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    v = body(JSON({"stringValue" : null, "intValue" : "3"}));
    assert_int_equal(v->value_case, AV(INT_VALUE));
}

static void anyvalue_nested_kvlists(void **state)
{
    (void)state;
    AnyValue *v = body(JSON({
        "kvlistValue" : {
            "values" : [
                {
                    "key" : "a",
                    "value" : {
                        "kvlistValue" : {
                            "values" : [
                                {
                                    "key" : "b",
                                    "value" : {
                                        "arrayValue" : {
                                            "values" : [
                                                {
                                                    "kvlistValue" : {
                                                        "values" : [ {
                                                            "key" : "c",
                                                            "value" : {"intValue" : "1"}
                                                        } ]
                                                    }
                                                },
                                                {"kvlistValue" : {}}, {
                                                    "arrayValue" :
                                                        {"values" : [ {"boolValue" : true} ]}
                                                }
                                            ]
                                        }
                                    }
                                },
                                {"key" : "", "value" : {"stringValue" : "empty key"}}
                            ]
                        }
                    }
                },
                {"key" : "z", "value" : {"bytesValue" : "AQ=="}}
            ]
        }
    }));
    assert_int_equal(v->value_case, AV(KVLIST_VALUE));
    KeyValueList *top = v->kvlist_value;
    assert_int_equal(top->n_values, 2);
    assert_string_equal(top->values[0]->key, "a");
    KeyValueList *a = top->values[0]->value->kvlist_value;
    assert_int_equal(a->n_values, 2);
    ArrayValue *b = a->values[0]->value->array_value;
    assert_int_equal(b->n_values, 3);
    assert_string_equal(b->values[0]->kvlist_value->values[0]->key, "c");
    assert_true(b->values[0]->kvlist_value->values[0]->value->int_value == 1);
    assert_int_equal(b->values[1]->kvlist_value->n_values, 0);
    assert_true(b->values[2]->array_value->values[0]->bool_value);
    assert_ptr_equal(a->values[1]->key, protobuf_c_empty_string);
    assert_int_equal(top->values[1]->value->bytes_value.data[0], 1);

    /* Nesting as deep as the limit allows decodes and encodes again. Each array level
     * takes three JSON containers; the body's own object is the 8th. */
    struct otus_buf b2;
    otus_buf_init(&b2, 0);
    for (int i = 0; i < 18; i++)
        otus_buf_append_str(&b2, "{\"arrayValue\":{\"values\":[");
    otus_buf_append_str(&b2, "{\"stringValue\":\"deep\"}");
    for (int i = 0; i < 18; i++)
        otus_buf_append_str(&b2, "]}}");
    otus_buf_append_byte(&b2, '\0');
    char *json = wrap(body_fmt, b2.data);
    ProtobufCMessage *m = decode_ok(OTUS_SIGNAL_LOGS, json);
    char *again = encode(OTUS_SIGNAL_LOGS, m);
    assert_string_equal(json, again);
    free(json);
    free(again);
    otus_buf_free(&b2);
}

static void integers_as_numbers_and_strings(void **state)
{
    (void)state;
    /* uint32, fixed32, fixed64 in each form */
    const char *forms[] = {
        JSON("droppedAttributesCount" : 7, "flags" : 7, "startTimeUnixNano" : 7),
        JSON("droppedAttributesCount"
             : "7", "flags"
             : "7", "startTimeUnixNano"
             : "7"),
        JSON("droppedAttributesCount" : 7.0, "flags" : 0.7e1, "startTimeUnixNano" : 700e-2),
        JSON("droppedAttributesCount"
             : "7.0", "flags"
             : "7E0", "startTimeUnixNano"
             : "0.07e2"),
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        Span *s = span(forms[i]);
        assert_int_equal(s->dropped_attributes_count, 7);
        assert_int_equal(s->flags, 7);
        assert_true(s->start_time_unix_nano == 7);
    }
    Span *s =
        span(JSON("droppedAttributesCount" : 4294967295, "flags"
                  : "4294967295", "startTimeUnixNano" : 18446744073709551615, "endTimeUnixNano"
                  : "18446744073709551615"));
    assert_int_equal(s->dropped_attributes_count, UINT32_MAX);
    assert_int_equal(s->flags, UINT32_MAX);
    assert_true(s->start_time_unix_nano == UINT64_MAX);
    assert_true(s->end_time_unix_nano == UINT64_MAX);
    s = span(JSON("startTimeUnixNano" : 1.8446744073709550e19, "endTimeUnixNano" : "-0"));
    assert_true(s->start_time_unix_nano == 18446744073709549568ull);
    assert_true(s->end_time_unix_nano == 0);

    /* sint32 scale and offset, uint64 bucket counts */
    ExpPoint *p =
        exp_point(JSON("scale"
                       : "-20", "positive"
                       : {"offset" : -2147483648, "bucketCounts" : [ 1, "2", 3e0 ]}, "negative"
                       : {"offset" : "2147483647"}, "zeroCount" : 5));
    assert_int_equal(p->scale, -20);
    assert_int_equal(p->positive->offset, INT32_MIN);
    assert_int_equal(p->positive->n_bucket_counts, 3);
    assert_true(p->positive->bucket_counts[2] == 3);
    assert_int_equal(p->negative->offset, INT32_MAX);
    assert_true(p->zero_count == 5);

    /* sfixed64 asInt as a number beyond 2^53 keeps every digit */
    char *json = wrap("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{"
                      "\"dataPoints\":[{%s}]}}]}]}]}",
                      JSON("asInt" : 9007199254740993));
    otus_metrics_req *m = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, json);
    free(json);
    NumberPoint *np = m->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->data_points[0];
    assert_true(np->as_int == 9007199254740993ll);

    /* out of range and not integers */
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("droppedAttributesCount"
                  : -1),
             SPAN_PATH ".droppedAttributesCount", "out of range for uint32");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("droppedAttributesCount" : 4294967296),
             SPAN_PATH ".droppedAttributesCount", "out of range for uint32");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("flags"
                  : "1e10"),
             SPAN_PATH ".flags", "out of range for uint32");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "-1"),
             SPAN_PATH ".startTimeUnixNano", "out of range for uint64");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("startTimeUnixNano" : 18446744073709551616),
             SPAN_PATH ".startTimeUnixNano", "out of range for uint64");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "99999999999999999999999"),
             SPAN_PATH ".startTimeUnixNano", "out of range for uint64");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("startTimeUnixNano" : 1e300),
             SPAN_PATH ".startTimeUnixNano", "out of range for uint64");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "1e999"),
             SPAN_PATH ".startTimeUnixNano", "out of range for uint64");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("startTimeUnixNano" : 1.5),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "1.5"),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "+1"),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : " 1"),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : ""),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "0x10"),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : "NaN"),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : true),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("startTimeUnixNano"
                  : [1]),
             SPAN_PATH ".startTimeUnixNano", "expected an integer");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"intValue" : "9223372036854775808"}),
             BODY_PATH ".intValue", "out of range for int64");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"intValue" : -9223372036854775809}),
             BODY_PATH ".intValue", "out of range for int64");
    fails_at(OTUS_SIGNAL_METRICS, exp_fmt, JSON("scale" : 2147483648), EXP_PATH ".scale",
             "out of range for int32");
    fails_at(OTUS_SIGNAL_METRICS, exp_fmt,
             JSON("scale"
                  : "-2147483649"),
             EXP_PATH ".scale", "out of range for int32");
    fails_at(OTUS_SIGNAL_METRICS, exp_fmt,
             JSON("positive"
                  : {"bucketCounts" : [ 1, -1 ]}),
             EXP_PATH ".positive.bucketCounts[1]", "out of range for uint64");
    fails_at(OTUS_SIGNAL_METRICS, exp_fmt,
             JSON("positive"
                  : {"bucketCounts" : [null]}),
             EXP_PATH ".positive.bucketCounts[0]", "expected an integer");
}

static void doubles_refused(void **state)
{
    (void)state;
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : "nan"}), BODY_PATH ".doubleValue",
             "expected a number");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : "inf"}), BODY_PATH ".doubleValue",
             "expected a number");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : "1.5x"}), BODY_PATH ".doubleValue",
             "expected a number");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : ".5"}), BODY_PATH ".doubleValue",
             "expected a number");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : "1e400"}), BODY_PATH ".doubleValue",
             "out of range for double");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : true}), BODY_PATH ".doubleValue",
             "expected a number");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"doubleValue" : {}}), BODY_PATH ".doubleValue",
             "expected a number");
}

static void enums_as_numbers_and_names(void **state)
{
    (void)state;
    assert_int_equal(span(JSON("kind" : "SPAN_KIND_SERVER"))->kind, 2);
    assert_int_equal(span(JSON("kind" : 2))->kind, 2);
    assert_int_equal(span(JSON("kind" : 2.0))->kind, 2);
    assert_int_equal(span(JSON("kind" : "SPAN_KIND_UNSPECIFIED"))->kind, 0);
    assert_int_equal(span(JSON("kind" : 99))->kind, 99); /* proto3 enums are open */
    assert_int_equal((int32_t)span(JSON("kind" : -1))->kind, -1);
    assert_int_equal(span(JSON("status" : {"code" : "STATUS_CODE_ERROR"}))->status->code, 2);

    char *json = wrap("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{%s}]}]}]}",
                      JSON("severityNumber"
                           : "SEVERITY_NUMBER_WARN"));
    otus_logs_req *l = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, json);
    free(json);
    assert_int_equal(l->resource_logs[0]->scope_logs[0]->log_records[0]->severity_number, 13);
    json = wrap("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{%s}]}]}]}",
                JSON("sum"
                     : {"aggregationTemporality" : "AGGREGATION_TEMPORALITY_CUMULATIVE"}));
    otus_metrics_req *m = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, json);
    free(json);
    assert_int_equal(
        m->resource_metrics[0]->scope_metrics[0]->metrics[0]->sum->aggregation_temporality, 2);

    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("kind"
                  : "SPAN_KIND_BOGUS"),
             SPAN_PATH ".kind", "not a value name of SpanKind");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("kind"
                  : "span_kind_server"),
             SPAN_PATH ".kind", "not a value name of SpanKind");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("kind"
                  : "2"),
             SPAN_PATH ".kind", "not a value name of SpanKind");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("kind" : 2147483648), SPAN_PATH ".kind",
             "out of range for an enum");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("kind" : 1.5), SPAN_PATH ".kind",
             "expected an integer");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("kind"
                  : true),
             SPAN_PATH ".kind", "expected an integer or a value name of SpanKind");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("status"
                  : {"code" : "SPAN_KIND_SERVER"}),
             SPAN_PATH ".status.code", "not a value name of StatusCode");
}

static void ids_in_hex(void **state)
{
    (void)state;
    Span *s = span(JSON("traceId"
                        : "5B8EFFF798038103d269b633813fc60c", "spanId"
                        : "", "parentSpanId"
                        : "FFFFFFFFFFFFFFFF"));
    assert_int_equal(s->trace_id.len, 16);
    assert_int_equal(s->trace_id.data[0], 0x5b);
    assert_int_equal(s->trace_id.data[15], 0x0c);
    assert_int_equal(s->span_id.len, 0);
    assert_null(s->span_id.data);
    assert_int_equal(s->parent_span_id.data[0], 0xff);
    s = span(JSON("traceId" : "", "spanId" : null));
    assert_int_equal(s->trace_id.len, 0);

    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("traceId"
                  : "5b8efff798038103d269b633813fc60"),
             SPAN_PATH ".traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("traceId"
                  : "5b8efff798038103d269b633813fc60c00"),
             SPAN_PATH ".traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("traceId"
                  : "5b8efff798038103d269b633813fc60g"),
             SPAN_PATH ".traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("traceId"
                  : "W46P95gDgQPSabYzgT/GDA=="),
             SPAN_PATH ".traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("traceId" : 5), SPAN_PATH ".traceId",
             "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("spanId"
                  : "eee19b7ec3c1b17"),
             SPAN_PATH ".spanId", "expected 16 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("spanId"
                  : "eee19b7ec3c1b174 "),
             SPAN_PATH ".spanId", "expected 16 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("parentSpanId"
                  : "-ee19b7ec3c1b174"),
             SPAN_PATH ".parentSpanId", "expected 16 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("links"
                  : [ {"traceId" : "00"} ]),
             SPAN_PATH ".links[0].traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("links"
                  : [ {}, {"spanId" : []} ]),
             SPAN_PATH ".links[1].spanId", "expected 16 hex digits");
    fails_at(OTUS_SIGNAL_LOGS, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{%s}]}]}]}",
             JSON("spanId"
                  : "xyz"),
             "resourceLogs[0].scopeLogs[0].logRecords[0].spanId", "expected 16 hex digits");
    fails_at(OTUS_SIGNAL_METRICS,
             "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"dataPoints\":["
             "{\"exemplars\":[{%s}]}]}}]}]}]}",
             JSON("trace_id"
                  : "0123"),
             "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0]."
             "trace_id",
             "expected 32 hex digits");
}

static void base64_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        JSON({"bytesValue" : "A"}),     JSON({"bytesValue" : "AAAAA"}),
        JSON({"bytesValue" : "A==="}),  JSON({"bytesValue" : "AA="}),
        JSON({"bytesValue" : "AAA=="}), JSON({"bytesValue" : "=AAA"}),
        JSON({"bytesValue" : "AA=A"}),  JSON({"bytesValue" : "AA AA"}),
        JSON({"bytesValue" : "AA\nA"}), JSON({"bytesValue" : "AAA!"}),
        JSON({"bytesValue" : "===="}),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        fails_at(OTUS_SIGNAL_LOGS, body_fmt, bad[i], BODY_PATH ".bytesValue", "invalid base64");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"bytesValue" : "+-AA"}), BODY_PATH ".bytesValue",
             "invalid base64 (mixes the standard and URL alphabets)");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"bytesValue" : 1}), BODY_PATH ".bytesValue",
             "expected a base64 string");
}

static void null_means_default(void **state)
{
    (void)state;
    Span *s = span(JSON("traceId"
                        : null, "spanId"
                        : null, "traceState"
                        : null, "parentSpanId"
                        : null, "flags"
                        : null, "name"
                        : null, "kind"
                        : null, "startTimeUnixNano"
                        : null, "endTimeUnixNano"
                        : null, "attributes"
                        : null, "droppedAttributesCount"
                        : null, "events"
                        : null, "droppedEventsCount"
                        : null, "links"
                        : null, "droppedLinksCount"
                        : null, "status"
                        : null));
    Span *fresh = make(D_SPAN);
    where[0] = '\0';
    assert_true(same_msg(&s->base, &fresh->base, true));

    char *json = wrap("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{%s}]}]}]}",
                      JSON("name"
                           : null, "gauge"
                           : null, "sum"
                           : null, "histogram"
                           : null, "exponentialHistogram"
                           : null, "summary"
                           : null, "metadata"
                           : null));
    otus_metrics_req *m = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, json);
    free(json);
    Metric *fresh_metric = make(D_METRIC);
    where[0] = '\0';
    assert_true(same_msg(&m->resource_metrics[0]->scope_metrics[0]->metrics[0]->base,
                         &fresh_metric->base, true));

    ExpPoint *p = exp_point(JSON("sum" : null, "min" : null, "max" : null, "positive" : null));
    assert_int_equal(
        p->_sum_case,
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_int_equal(
        p->_min_case,
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN__NOT_SET);
    assert_null(p->positive);
    /* presence of a zero */
    p = exp_point(JSON("sum" : 0, "min" : -0.0, "max" : "0"));
    assert_int_equal(p->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_int_equal(p->_max_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX);
    assert_true(signbit(p->min));
}

static void unknown_fields_ignored(void **state)
{
    (void)state;
    const char *json = JSON({
        "future" : {"deep" : [[[[ {"x" : null} ]]]]},
        "resourceSpans" : [ {
            "resource" : {"newField" : 1, "attributes" : [ {"key" : "k", "extra" : true} ]},
            "unknown" : "x",
            "scopeSpans" : [ {
                "scope" : {"name" : "s", "Name" : 5, "nAme" : []},
                "spans" : [ {
                    "name" : "x",
                    "traceid" : 5,
                    "TraceId" : 5,
                    "trace_Id" : 5,
                    "trace__id" : 5,
                    "traceId_" : 5,
                    "_traceId" : 5,
                    "kind" : 2,
                    "status" : {"code" : 1, "deprecatedCode" : 3}
                } ]
            } ]
        } ]
    });
    otus_traces_req *r = (otus_traces_req *)decode_ok(OTUS_SIGNAL_TRACES, json);
    Span *s = r->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(s->name, "x");
    assert_int_equal(s->trace_id.len, 0);
    assert_int_equal(s->kind, 2);
    assert_int_equal(s->status->code, 1);
    assert_string_equal(r->resource_spans[0]->scope_spans[0]->scope->name, "s");
    assert_null(r->resource_spans[0]->resource->attributes[0]->value);

    /* A request of another signal is only unknown fields. */
    otus_logs_req *l = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, json);
    assert_int_equal(l->n_resource_logs, 0);
}

static void empty_requests(void **state)
{
    (void)state;
    const char *empty[] = {"{}", " { } ", "{\"resourceSpans\":[]}", "{\"resourceSpans\":null}",
                           "{\"resource_spans\":[]}"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        otus_traces_req *r = (otus_traces_req *)decode_ok(OTUS_SIGNAL_TRACES, empty[i]);
        assert_ptr_equal(r->base.descriptor, D_TRACES);
        assert_int_equal(r->n_resource_spans, 0);
        assert_null(r->resource_spans);
    }
    otus_metrics_req *m = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, "{}");
    assert_ptr_equal(m->base.descriptor, D_METRICS);
    otus_logs_req *l = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, "{\"resourceLogs\":[{}]}");
    assert_ptr_equal(l->base.descriptor, D_LOGS);
    assert_int_equal(l->n_resource_logs, 1);
    assert_null(l->resource_logs[0]->resource);
    assert_int_equal(l->resource_logs[0]->n_scope_logs, 0);
    assert_ptr_equal(l->resource_logs[0]->schema_url, protobuf_c_empty_string);

    /* err may be NULL; the input need not be NUL-terminated */
    ProtobufCMessage *out;
    assert_int_equal(otus_otlp_json_decode(OTUS_SIGNAL_LOGS, "{}xyz", 2, &dec_arena, &out, NULL),
                     0);
    assert_int_equal(otus_otlp_json_decode(OTUS_SIGNAL_LOGS, "{", 1, &dec_arena, &out, NULL),
                     OTUS_ERR_PARSE);
    assert_null(out);
}

/* 10,000 log records and 10,000 histogram buckets in one request. */
static void huge_batches(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_append_str(&b, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[");
    for (int i = 0; i < 10000; i++)
        otus_buf_printf(
            &b,
            "%s{\"timeUnixNano\":\"%d\",\"severityNumber\":9,\"body\":{\"stringValue\":"
            "\"record %d\"},\"attributes\":[{\"key\":\"i\",\"value\":{\"intValue\":%d}}],"
            "\"traceId\":\"%032x\",\"spanId\":\"%016x\"}",
            i ? "," : "", 1000 + i, i, i, i + 1, i + 1);
    otus_buf_append_str(&b, "]}]}]}");
    otus_buf_append_byte(&b, '\0');
    otus_logs_req *r = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, b.data);
    ScopeLogs *sl = r->resource_logs[0]->scope_logs[0];
    assert_int_equal(sl->n_log_records, 10000);
    for (int i = 0; i < 10000; i += 999) {
        LogRecord *rec = sl->log_records[i];
        char text[32];
        snprintf(text, sizeof(text), "record %d", i);
        assert_string_equal(rec->body->string_value, text);
        assert_true(rec->time_unix_nano == (uint64_t)(1000 + i));
        assert_true(rec->attributes[0]->value->int_value == i);
        assert_int_equal(rec->trace_id.data[15], (uint8_t)(i + 1));
    }
    char *again = encode(OTUS_SIGNAL_LOGS, &r->base);
    otus_logs_req *back = (otus_logs_req *)decode_ok(OTUS_SIGNAL_LOGS, again);
    where[0] = '\0';
    assert_true(same_msg(&r->base, &back->base, true));
    free(again);

    otus_buf_reset(&b);
    otus_buf_append_str(&b, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":"
                            "{\"dataPoints\":[{\"bucketCounts\":[");
    for (int i = 0; i < 10000; i++)
        otus_buf_printf(&b, i % 2 ? "%s%d" : "%s\"%d\"", i ? "," : "", i);
    otus_buf_append_str(&b, "]}]}}]}]}]}");
    otus_buf_append_byte(&b, '\0');
    otus_metrics_req *m = (otus_metrics_req *)decode_ok(OTUS_SIGNAL_METRICS, b.data);
    HistPoint *h = m->resource_metrics[0]->scope_metrics[0]->metrics[0]->histogram->data_points[0];
    assert_int_equal(h->n_bucket_counts, 10000);
    assert_true(h->bucket_counts[9999] == 9999);
    otus_buf_free(&b);
}

/* ---- refusals ---------------------------------------------------------------------------------
 */

static void malformed_inputs(void **state)
{
    (void)state;
    static const struct {
        enum otus_signal signal;
        const char *json;
        const char *msg;
    } cases[] = {
        {OTUS_SIGNAL_TRACES, "",
         "invalid JSON at line 1, column 0: unexpected token near end of file"},
        {OTUS_SIGNAL_TRACES, "not json",
         "invalid JSON at line 1, column 3: invalid token near 'not'"},
        {OTUS_SIGNAL_TRACES, "{\"a\":1,}",
         "invalid JSON at line 1, column 8: string or '}' expected near '}'"},
        {OTUS_SIGNAL_TRACES, "{} {}",
         "invalid JSON at line 1, column 4: end of file expected near '{'"},
        {OTUS_SIGNAL_TRACES, "{\"a\":\"\\u0000\"}",
         "invalid JSON at line 1, column 13: strings may not contain \\u0000"},
        {OTUS_SIGNAL_TRACES, "{\"a\":\"\xff\"}",
         "invalid JSON at line 1, column 6: unable to decode byte 0xff near '\"'"},
        {OTUS_SIGNAL_TRACES, "{\"a\":1,\"a\":2}",
         "invalid JSON at line 1, column 10: duplicate object key near '\"a\"'"},
        {OTUS_SIGNAL_TRACES, "{\"a\":1e999}",
         "invalid JSON at line 1, column 10: real number overflow near '1e999'"},
        {OTUS_SIGNAL_TRACES, "[]", "expected a JSON object at the top level"},
        {OTUS_SIGNAL_TRACES, "\"resourceSpans\"", "expected a JSON object at the top level"},
        {OTUS_SIGNAL_TRACES, "null", "expected a JSON object at the top level"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":{}}", "resourceSpans: expected an array"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[1]}", "resourceSpans[0]: expected an object"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[null]}", "resourceSpans[0]: expected an object"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[{\"resource\":[]}]}",
         "resourceSpans[0].resource: expected an object"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[{\"schemaUrl\":1}]}",
         "resourceSpans[0].schemaUrl: expected a string"},
        {OTUS_SIGNAL_TRACES,
         "{\"resourceSpans\":[{\"scopeSpans\":[{},{\"spans\":[{},{},{},{\"traceId\":\"abc\"}]}]}]}",
         "resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits"},
        {OTUS_SIGNAL_TRACES,
         "{\"resource_spans\":[{\"scope_spans\":[{\"spans\":[{\"name\":{}}]}]}]}",
         "resource_spans[0].scope_spans[0].spans[0].name: expected a string"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[],\"resource_spans\":[]}",
         "resource_spans: field given twice (as resourceSpans and resource_spans)"},
        {OTUS_SIGNAL_TRACES,
         "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{"
         "\"stringValue\":\"a\",\"intValue\":\"1\"}}]}}]}",
         "resourceSpans[0].resource.attributes[0].value.intValue: conflicts with stringValue: "
         "only one of them may be set"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":7}]}}]}",
         "resourceSpans[0].resource.attributes[0].key: expected a string"},
        {OTUS_SIGNAL_TRACES,
         "{\"resourceSpans\":[{\"resource\":{\"entityRefs\":[{\"idKeys\":[\"a\",1]}]}}]}",
         "resourceSpans[0].resource.entityRefs[0].idKeys[1]: expected a string"},
        {OTUS_SIGNAL_TRACES, "{\"resourceSpans\":[{\"resource\":{\"attributes\":{\"k\":\"v\"}}}]}",
         "resourceSpans[0].resource.attributes: expected an array"},
        {OTUS_SIGNAL_METRICS,
         "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{},\"sum\":{}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].sum: conflicts with gauge: only one of "
         "them may be set"},
        {OTUS_SIGNAL_METRICS,
         "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{"
         "\"as_int\":1,\"asDouble\":2}]}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble: conflicts "
         "with asInt: only one of them may be set"},
        {OTUS_SIGNAL_METRICS,
         "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"sum\":{\"isMonotonic\":1}}]}]}"
         "]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: expected true or false"},
        {OTUS_SIGNAL_METRICS,
         "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"histogram\":{\"dataPoints\":[{"
         "\"explicitBounds\":[1,\"x\"]}]}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds[1]: "
         "expected a number"},
        {OTUS_SIGNAL_METRICS,
         "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"summary\":{\"dataPoints\":[{"
         "\"quantileValues\":[{\"quantile\":\"high\"}]}]}}]}]}]}",
         "resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0].quantileValues[0]."
         "quantile: expected a number"},
        {OTUS_SIGNAL_LOGS,
         "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":\"text\"}]}]}]}",
         "resourceLogs[0].scopeLogs[0].logRecords[0].body: expected an object"},
        {OTUS_SIGNAL_LOGS,
         "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"boolValue\":\"true\"}}]"
         "}]}]}",
         "resourceLogs[0].scopeLogs[0].logRecords[0].body.boolValue: expected true or false"},
        {OTUS_SIGNAL_LOGS,
         "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"arrayValue\":[]}}]}]}]}",
         "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue: expected an object"},
        {OTUS_SIGNAL_LOGS,
         "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"kvlistValue\":{"
         "\"values\":[{\"key\":\"a\",\"value\":5}]}}}]}]}]}",
         "resourceLogs[0].scopeLogs[0].logRecords[0].body.kvlistValue.values[0].value: expected "
         "an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        decode_fails(cases[i].signal, cases[i].json, OTUS_ERR_PARSE, cases[i].msg);

    ProtobufCMessage *out;
    assert_int_equal(
        otus_otlp_json_decode((enum otus_signal)9, "{}", 2, &dec_arena, &out, &err_buf),
        OTUS_ERR_INVALID);
    assert_buf_eq(&err_buf, "unknown signal 9");
    /* an empty body may come without a buffer at all */
    assert_int_equal(otus_otlp_json_decode(OTUS_SIGNAL_LOGS, NULL, 0, &dec_arena, &out, &err_buf),
                     OTUS_ERR_PARSE);
    assert_buf_eq(&err_buf, "invalid JSON at line 1, column 0: unexpected token near end of file");
}

/* Integer literals beyond a long long are numbers where numbers may stand, and refused
 * everywhere else just as a small number would be. */
static void long_integer_literals(void **state)
{
    (void)state;
    Span *s = span(JSON("startTimeUnixNano" : 18446744073709551615, "name"
                        : "n", "endTimeUnixNano" : 9223372036854775808));
    assert_true(s->start_time_unix_nano == UINT64_MAX);
    assert_true(s->end_time_unix_nano == 9223372036854775808ull);
    assert_string_equal(s->name, "n");
    /* a string that looks like a rewritten literal stays a string */
    s = span(JSON("startTimeUnixNano" : 18446744073709551615, "name" : "\\u0000 1"));
    assert_string_equal(s->name, "\\u0000 1");

    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("name" : 99999999999999999999), SPAN_PATH ".name",
             "expected a string");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("traceId" : 99999999999999999999),
             SPAN_PATH ".traceId", "expected 32 hex digits");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("kind" : 99999999999999999999), SPAN_PATH ".kind",
             "out of range for an enum");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("status" : 99999999999999999999),
             SPAN_PATH ".status", "expected an object");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt, JSON("events" : 99999999999999999999),
             SPAN_PATH ".events", "expected an array");
    fails_at(OTUS_SIGNAL_TRACES, span_fmt,
             JSON("flags"
                  : -99999999999999999999),
             SPAN_PATH ".flags", "out of range for uint32");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"boolValue" : 99999999999999999999}),
             BODY_PATH ".boolValue", "expected true or false");
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, JSON({"bytesValue" : 99999999999999999999}),
             BODY_PATH ".bytesValue", "expected a base64 string");
    /* ignored where unknown */
    span(JSON("future" : [ 99999999999999999999, -99999999999999999999 ], "name" : "x"));
    /* a long literal beside an escaped U+0000: the string is what is refused */
    char *json = wrap(span_fmt, JSON("flags" : 99999999999999999999, "name" : "\u0000"));
    ProtobufCMessage *out;
    assert_int_equal(
        otus_otlp_json_decode(OTUS_SIGNAL_TRACES, json, strlen(json), &dec_arena, &out, &err_buf),
        OTUS_ERR_PARSE);
    assert_non_null(strstr(err_buf.data, ": strings may not contain \\u0000"));
    free(json);
    /* a syntax error after a long literal: line and column of the input */
    decode_fails(OTUS_SIGNAL_TRACES, "{\"a\":99999999999999999999,\n\"b\":}", OTUS_ERR_PARSE,
                 "invalid JSON at line 2, column 5: unexpected token near '}'");
    /* literals of any length, in unknown fields and as doubles */
    span(JSON("future" : 123456789012345678901234567890123456789012345678901234567890));
    AnyValue *v = body(JSON({"doubleValue" : -0}));
    assert_true(v->double_value == 0 && !signbit(v->double_value));
    v = body(JSON({"doubleValue" : "-0"}));
    assert_true(v->double_value == 0 && signbit(v->double_value));
}

static void depth_limit(void **state)
{
    (void)state;
    /* 19 array levels put the innermost values array at depth 64. */
    struct otus_buf b, path;
    otus_buf_init(&b, 0);
    otus_buf_init(&path, 0);
    otus_buf_append_str(&path, BODY_PATH);
    for (int i = 0; i < 19; i++) {
        otus_buf_append_str(&b, "{\"arrayValue\":{\"values\":[");
        otus_buf_append_str(&path, i < 18 ? ".arrayValue.values[0]" : ".arrayValue.values");
    }
    otus_buf_append_str(&b, "{\"stringValue\":\"deep\"}");
    for (int i = 0; i < 19; i++)
        otus_buf_append_str(&b, "]}}");
    otus_buf_append_byte(&b, '\0');
    otus_buf_append_byte(&path, '\0');
    fails_at(OTUS_SIGNAL_LOGS, body_fmt, b.data, path.data, "nested deeper than 63 levels");

    /* Far deeper than the stack could take: jansson stops first. */
    otus_buf_reset(&b);
    otus_buf_append_str(&b, "{\"resourceLogs\":");
    for (int i = 0; i < 100000; i++)
        otus_buf_append_byte(&b, '[');
    otus_buf_append_byte(&b, '\0');
    ProtobufCMessage *out;
    assert_int_equal(
        otus_otlp_json_decode(OTUS_SIGNAL_LOGS, b.data, b.len - 1, &dec_arena, &out, &err_buf),
        OTUS_ERR_PARSE);
    assert_non_null(strstr(err_buf.data, "maximum parsing depth reached"));
    /* and a kvlist chain that jansson takes but the limit refuses */
    otus_buf_reset(&b);
    for (int i = 0; i < 500; i++)
        otus_buf_append_str(&b, "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":");
    otus_buf_append_str(&b, "{}");
    for (int i = 0; i < 500; i++)
        otus_buf_append_str(&b, "}]}}");
    otus_buf_append_byte(&b, '\0');
    char *json = wrap(body_fmt, b.data);
    assert_int_equal(
        otus_otlp_json_decode(OTUS_SIGNAL_LOGS, json, strlen(json), &dec_arena, &out, &err_buf),
        OTUS_ERR_PARSE);
    assert_non_null(strstr(err_buf.data, ": nested deeper than 63 levels"));
    free(json);
    otus_buf_free(&b);
    otus_buf_free(&path);
}

static void arena_exhaustion(void **state)
{
    (void)state;
    char *json = traces_json();
    struct otus_arena small;
    otus_arena_init(&small, 1024, 4096);
    ProtobufCMessage *out = NULL;
    assert_int_equal(
        otus_otlp_json_decode(OTUS_SIGNAL_TRACES, json, strlen(json), &small, &out, &err_buf),
        OTUS_ERR_TOO_BIG);
    assert_null(out);
    assert_non_null(strstr(err_buf.data, "the decoded request exceeds its memory limit"));
    otus_arena_destroy(&small);
    /* the same request fits a larger one */
    otus_arena_init(&small, 1024, 1 << 20);
    assert_int_equal(
        otus_otlp_json_decode(OTUS_SIGNAL_TRACES, json, strlen(json), &small, &out, &err_buf), 0);
    assert_true(otus_arena_footprint(&small) <= (1 << 20));
    otus_arena_destroy(&small);
    free(json);
}

/* ---- the data-driven cases in tests/data/otlp_json --------------------------------------------
 */

/*
 * A case file holds sections, each a line "<name>", its content, and a line "</name>":
 *   <info>    what the case is about
 *   <signal>  traces, metrics or logs
 *   <arena>   optional: the decode arena's maximum in bytes
 *   <input>   the request body, byte for byte (without the newline before </input>)
 *   <expect>  the request encoded again after decoding, compared as JSON values, or
 *   <error>   the status (parse, too-big) on one line and the exact message on the next
 */
static const char *section(const char *text, size_t len, const char *name, size_t *n)
{
    char open[32], close[32];
    snprintf(open, sizeof(open), "<%s>\n", name);
    snprintf(close, sizeof(close), "\n</%s>", name);
    const char *start = memmem(text, len, open, strlen(open));
    if (!start)
        return NULL;
    start += strlen(open);
    const char *end = memmem(start, (size_t)(text + len - start), close, strlen(close));
    if (!end && memcmp(start, close + 1, strlen(close) - 1) == 0)
        end = start; /* empty content */
    if (!end)
        return NULL;
    *n = (size_t)(end - start);
    return start;
}

static bool run_case(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof(text), f);
    fclose(f);
    size_t ns, ni, nx = 0, ne = 0, na = 0;
    const char *sig = section(text, len, "signal", &ns);
    const char *input = section(text, len, "input", &ni);
    const char *expect = section(text, len, "expect", &nx);
    const char *error = section(text, len, "error", &ne);
    const char *arena_max = section(text, len, "arena", &na);
    if (!sig || !input || (!expect == !error)) {
        print_message("%s: needs <signal>, <input> and one of <expect>, <error>\n", path);
        return false;
    }
    enum otus_signal s;
    char signame[16];
    snprintf(signame, sizeof(signame), "%.*s", (int)ns, sig);
    if (otus_signal_parse(signame, &s) != 0) {
        print_message("%s: unknown signal '%s'\n", path, signame);
        return false;
    }
    struct otus_arena a;
    otus_arena_init(&a, 4096, arena_max ? strtoul(arena_max, NULL, 10) : 0);
    ProtobufCMessage *m;
    int rc = otus_otlp_json_decode(s, input, ni, &a, &m, &err_buf);
    bool ok = true;
    if (error) {
        const char *nl = memchr(error, '\n', ne);
        int want = OTUS_ERR_PARSE;
        if (nl && (size_t)(nl - error) == 7 && memcmp(error, "too-big", 7) == 0)
            want = OTUS_ERR_TOO_BIG;
        else if (!nl || (size_t)(nl - error) != 5 || memcmp(error, "parse", 5) != 0)
            want = 0;
        size_t mlen = nl ? ne - (size_t)(nl + 1 - error) : 0;
        if (!want || rc != want || err_buf.len != mlen || memcmp(err_buf.data, nl + 1, mlen)) {
            print_message("%s:\n  expected %.*s\n  got      %d %.*s\n", path, (int)ne, error, rc,
                          (int)err_buf.len, err_buf.data ? err_buf.data : "");
            ok = false;
        }
    } else if (rc != 0) {
        print_message("%s: decoding failed: %.*s\n", path, (int)err_buf.len, err_buf.data);
        ok = false;
    } else {
        struct otus_buf out;
        otus_buf_init(&out, 0);
        rc = otus_otlp_json_encode(s, m, &out);
        json_error_t je;
        json_t *got = rc ? NULL : json_loadb(out.data, out.len, 0, &je);
        json_t *want = json_loadb(expect, nx, 0, &je);
        if (!want)
            print_message("%s: <expect> is not JSON: %s\n", path, je.text);
        if (!got || !want || !json_equal(got, want)) {
            print_message("%s:\n  expected %.*s\n  got      %.*s\n", path, (int)nx, expect,
                          (int)out.len, out.data ? out.data : "");
            ok = false;
        }
        json_decref(got);
        json_decref(want);
        otus_buf_free(&out);
    }
    otus_arena_destroy(&a);
    return ok;
}

static int case_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".txt") == 0;
}

static void data_driven_cases(void **state)
{
    (void)state;
    const char *dir = getenv("OTUS_TEST_DATA");
    char base[512];
    snprintf(base, sizeof(base), "%s/otlp_json", dir ? dir : "tests/data");
    struct dirent **names;
    int n = scandir(base, &names, case_file, alphasort);
    if (n < 0)
        print_message("cannot read %s (run from the source tree or set OTUS_TEST_DATA)\n", base);
    assert_true(n >= 40);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", base, names[i]->d_name);
        if (!run_case(path))
            failed++;
        free(names[i]);
    }
    free(names);
    assert_int_equal(failed, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(decode_traces_every_field, setup, teardown),
    cmocka_unit_test_setup_teardown(decode_metrics_every_field, setup, teardown),
    cmocka_unit_test_setup_teardown(decode_logs_every_field, setup, teardown),
    cmocka_unit_test_setup_teardown(decode_snake_case_names, setup, teardown),
    cmocka_unit_test_setup_teardown(round_trip_every_signal, setup, teardown),
    cmocka_unit_test_setup_teardown(encode_exact_form, setup, teardown),
    cmocka_unit_test_setup_teardown(encode_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(encode_responses, setup, teardown),
    cmocka_unit_test_setup_teardown(anyvalue_every_kind, setup, teardown),
    cmocka_unit_test_setup_teardown(anyvalue_nested_kvlists, setup, teardown),
    cmocka_unit_test_setup_teardown(integers_as_numbers_and_strings, setup, teardown),
    cmocka_unit_test_setup_teardown(doubles_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(enums_as_numbers_and_names, setup, teardown),
    cmocka_unit_test_setup_teardown(ids_in_hex, setup, teardown),
    cmocka_unit_test_setup_teardown(base64_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(null_means_default, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_fields_ignored, setup, teardown),
    cmocka_unit_test_setup_teardown(empty_requests, setup, teardown),
    cmocka_unit_test_setup_teardown(huge_batches, setup, teardown),
    cmocka_unit_test_setup_teardown(malformed_inputs, setup, teardown),
    cmocka_unit_test_setup_teardown(long_integer_literals, setup, teardown),
    cmocka_unit_test_setup_teardown(depth_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(arena_exhaustion, setup, teardown),
    cmocka_unit_test_setup_teardown(data_driven_cases, setup, teardown),
};

OTUS_TEST_MAIN(tests)
