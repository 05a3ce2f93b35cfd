/*
 * test_arena.c: the bump allocator: alignment, chunk growth, big allocations, the
 * hard maximum, reset, and use as a protobuf-c allocator.
 */
#include "otus_test.h"

#include <otus.h>

#include "common/arena.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

static void alignment_and_contents(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 1024, 0);
    char *prev = NULL;
    for (int i = 1; i < 200; i++) {
        char *p = otus_arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % OTUS_ARENA_ALIGN, 0);
        memset(p, i, (size_t)i); /* ASan catches overlap or overflow */
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    char *s = otus_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    otus_arena_destroy(&a);
    otus_arena_destroy(&a); /* twice is harmless */
    otus_arena_destroy(NULL);
}

static void big_allocation_keeps_head(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 4096, 0);
    char *small1 = otus_arena_alloc(&a, 16);
    char *big = otus_arena_alloc(&a, 100000);
    char *small2 = otus_arena_alloc(&a, 16);
    assert_non_null(big);
    memset(big, 0xab, 100000);
    /* The big block has its own chunk, so small ones continue in the first chunk. */
    assert_ptr_equal(small2, small1 + 16);
    assert_int_equal(otus_arena_footprint(&a), 4096 + 100000);
    otus_arena_destroy(&a);
}

static void maximum_is_hard(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 1024, 4096);
    size_t got = 0;
    while (otus_arena_alloc(&a, 100))
        got += 100;
    assert_true(got >= 3000 && got <= 4096);
    assert_true(otus_arena_footprint(&a) <= 4096);
    assert_null(otus_arena_alloc(&a, 1 << 20));
    otus_arena_destroy(&a);
}

static void reset_reuses_memory(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 1024, 0);
    for (int i = 0; i < 100; i++)
        assert_non_null(otus_arena_alloc(&a, 100));
    size_t before = otus_arena_footprint(&a);
    assert_true(before > 1024);
    otus_arena_reset(&a);
    assert_int_equal(otus_arena_footprint(&a), 1024);
    void *p = otus_arena_alloc(&a, 8);
    assert_non_null(p);
    assert_int_equal(otus_arena_footprint(&a), 1024);
    otus_arena_destroy(&a);
}

static void protobuf_allocator(void **state)
{
    (void)state;
    /* Encode a logs request, then decode it with the arena as allocator: every object
     * of the decoded tree comes from the arena and nothing needs freeing one by one. */
    Opentelemetry__Proto__Logs__V1__LogRecord rec =
        OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    Opentelemetry__Proto__Common__V1__AnyValue body =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    body.string_value = "hello";
    rec.body = &body;
    rec.time_unix_nano = 1234;
    Opentelemetry__Proto__Logs__V1__LogRecord *recs[] = {&rec};
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.n_log_records = 1;
    sl.log_records = recs;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sls[] = {&sl};
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.n_scope_logs = 1;
    rl.scope_logs = sls;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rls[] = {&rl};
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.n_resource_logs = 1;
    req.resource_logs = rls;
    uint8_t wire[256];
    size_t n =
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, wire);

    struct otus_arena a;
    otus_arena_init(&a, 512, 0);
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *got =
        opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
            otus_arena_protobuf(&a), n, wire);
    assert_non_null(got);
    assert_int_equal(got->n_resource_logs, 1);
    assert_string_equal(got->resource_logs[0]->scope_logs[0]->log_records[0]->body->string_value,
                        "hello");
    assert_true(otus_arena_footprint(&a) >= 512);
    /* A too-small arena makes decoding fail cleanly instead of overrunning. */
    struct otus_arena tiny;
    otus_arena_init(&tiny, 64, 64);
    assert_null(opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
        otus_arena_protobuf(&tiny), n, wire));
    otus_arena_destroy(&tiny);
    otus_arena_destroy(&a);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(alignment_and_contents), cmocka_unit_test(big_allocation_keeps_head),
    cmocka_unit_test(maximum_is_hard),        cmocka_unit_test(reset_reuses_memory),
    cmocka_unit_test(protobuf_allocator),
};

OTUS_TEST_MAIN(tests)
