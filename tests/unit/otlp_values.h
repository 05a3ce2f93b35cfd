/*
 * otlp_values.h: the OTLP values the protobuf tests build requests from (test_proto.c
 * round-trips them through protobuf-c, test_otlp_decode.c decodes them both ways):
 * attributes of every AnyValue type (nested array and key-value list, bytes, a 64-bit
 * integer beyond double's precision, UTF-8), a resource with an entity reference and
 * dropped counts, a scope. build_common() links them up; call it before use.
 */
#ifndef OTUS_TESTS_OTLP_VALUES_H
#define OTUS_TESTS_OTLP_VALUES_H

#include <stdint.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;

#define AV(field) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##field

static AnyValue v_str = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_bool = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_int = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_dbl = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_bytes = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_arr = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static AnyValue v_kvl = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static ArrayValue arr = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
static KeyValueList kvl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
static KeyValue kv[7];
static KeyValue *kvp[7];
static KeyValue inner = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static KeyValue *innerp[1] = {&inner};
static AnyValue *arr_items[2];
static uint8_t raw_bytes[3] = {0x00, 0xff, 0x7f};
static Resource resource = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
static Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
static Opentelemetry__Proto__Common__V1__EntityRef entity =
    OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
static Opentelemetry__Proto__Common__V1__EntityRef *entityp[1] = {&entity};
static char *id_keys[2] = {"service.name", "service.namespace"};
static char *desc_keys[1] = {"host.name"};

static void build_common(void)
{
    static const char *keys[] = {"s", "b", "i", "d", "y", "a", "m"};
    AnyValue *vals[] = {&v_str, &v_bool, &v_int, &v_dbl, &v_bytes, &v_arr, &v_kvl};
    v_str.value_case = AV(STRING_VALUE);
    v_str.string_value = "text \xc3\xa9";
    v_bool.value_case = AV(BOOL_VALUE);
    v_bool.bool_value = 1;
    v_int.value_case = AV(INT_VALUE);
    v_int.int_value = -9007199254740993LL;
    v_dbl.value_case = AV(DOUBLE_VALUE);
    v_dbl.double_value = 2.5;
    v_bytes.value_case = AV(BYTES_VALUE);
    v_bytes.bytes_value.data = raw_bytes;
    v_bytes.bytes_value.len = 3;
    arr_items[0] = &v_int;
    arr_items[1] = &v_str;
    arr.values = arr_items;
    arr.n_values = 2;
    v_arr.value_case = AV(ARRAY_VALUE);
    v_arr.array_value = &arr;
    opentelemetry__proto__common__v1__key_value__init(&inner);
    inner.key = "nested";
    inner.value = &v_dbl;
    kvl.values = innerp;
    kvl.n_values = 1;
    v_kvl.value_case = AV(KVLIST_VALUE);
    v_kvl.kvlist_value = &kvl;
    for (int i = 0; i < 7; i++) {
        opentelemetry__proto__common__v1__key_value__init(&kv[i]);
        kv[i].key = (char *)keys[i];
        kv[i].value = vals[i];
        kvp[i] = &kv[i];
    }
    resource.attributes = kvp;
    resource.n_attributes = 7;
    resource.dropped_attributes_count = 3;
    entity.schema_url = "https://opentelemetry.io/schemas/1.26.0";
    entity.type = "service";
    entity.id_keys = id_keys;
    entity.n_id_keys = 2;
    entity.description_keys = desc_keys;
    entity.n_description_keys = 1;
    resource.entity_refs = entityp;
    resource.n_entity_refs = 1;
    scope.name = "otus.test";
    scope.version = "1.2.3";
    scope.attributes = kvp;
    scope.n_attributes = 2;
    scope.dropped_attributes_count = 1;
}

#endif
