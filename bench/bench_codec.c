/*
 * bench_codec.c: microbenchmarks of the codec pieces every record passes through:
 * protobuf decoding of an OTLP logs request (arena vs malloc), JSON string escaping,
 * RFC 3339 formatting, and gzip level 1. Prints one line per case with the median of
 * several runs; instruction counts come from running it under callgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "common/json.h"
#include "agent/batch.h"
#include "exporters/documents.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

#define RUNS 7

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A request of 100 log records with 4 attributes each, like an SDK batch. */
static uint8_t *make_logs_request(size_t *len)
{
    static Opentelemetry__Proto__Logs__V1__LogRecord recs[100];
    static Opentelemetry__Proto__Logs__V1__LogRecord *recp[100];
    static Opentelemetry__Proto__Common__V1__AnyValue bodies[100], vals[100][4];
    static Opentelemetry__Proto__Common__V1__KeyValue kvs[100][4];
    static Opentelemetry__Proto__Common__V1__KeyValue *kvp[100][4];
    static char msgs[100][80];
    static uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static uint8_t sid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const char *keys[4] = {"http.request.method", "url.path", "http.response.status_code",
                                  "user.id"};
    for (int i = 0; i < 100; i++) {
        opentelemetry__proto__logs__v1__log_record__init(&recs[i]);
        opentelemetry__proto__common__v1__any_value__init(&bodies[i]);
        snprintf(msgs[i], sizeof(msgs[i]), "request %d served in %d ms for a user", i, i * 3);
        bodies[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        bodies[i].string_value = msgs[i];
        recs[i].body = &bodies[i];
        recs[i].time_unix_nano = 1700000000000000000ull + (uint64_t)i;
        recs[i].severity_number = 9;
        recs[i].severity_text = "INFO";
        recs[i].trace_id = (ProtobufCBinaryData){16, tid};
        recs[i].span_id = (ProtobufCBinaryData){8, sid};
        for (int k = 0; k < 4; k++) {
            opentelemetry__proto__common__v1__key_value__init(&kvs[i][k]);
            opentelemetry__proto__common__v1__any_value__init(&vals[i][k]);
            kvs[i][k].key = (char *)keys[k];
            kvs[i][k].value = &vals[i][k];
            if (k == 2) {
                vals[i][k].value_case =
                    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
                vals[i][k].int_value = 200;
            } else {
                vals[i][k].value_case =
                    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
                vals[i][k].string_value = k == 0 ? "GET" : k == 1 ? "/api/v1/users" : "u-12345";
            }
            kvp[i][k] = &kvs[i][k];
        }
        recs[i].attributes = kvp[i];
        recs[i].n_attributes = 4;
        recp[i] = &recs[i];
    }
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.log_records = recp;
    sl.n_log_records = 100;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *slp[] = {&sl};
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.scope_logs = slp;
    rl.n_scope_logs = 1;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rlp[] = {&rl};
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.resource_logs = rlp;
    req.n_resource_logs = 1;
    *len = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(
        &req);
    uint8_t *wire = malloc(*len);
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, wire);
    return wire;
}

static void report(const char *name, double *ns_per_op, const char *unit_note)
{
    qsort(ns_per_op, RUNS, sizeof(double), cmp_double);
    printf("%-36s median %9.1f ns/%s  (min %.1f, max %.1f)\n", name, ns_per_op[RUNS / 2], unit_note,
           ns_per_op[0], ns_per_op[RUNS - 1]);
}

int main(void)
{
    size_t len;
    uint8_t *wire = make_logs_request(&len);
    double t[RUNS];
    const int iters = 2000;

    for (int r = 0; r < RUNS; r++) {
        struct otus_arena a;
        otus_arena_init(&a, 64 * 1024, 0);
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            void *m =
                opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
                    otus_arena_protobuf(&a), len, wire);
            if (!m)
                abort();
            otus_arena_reset(&a);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * 100.0);
        otus_arena_destroy(&a);
    }
    report("protobuf decode, arena", t, "record");

    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *m =
                opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
                    NULL, len, wire);
            if (!m)
                abort();
            opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
                m, NULL);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * 100.0);
    }
    report("protobuf decode, malloc", t, "record");

    /* ECS documents for the same 100 records (what the file and Elasticsearch
     * exporters write). */
    {
        struct otus_batch *b = otus_batch_new(OTUS_SIGNAL_LOGS, 64 * 1024, 0, NULL);
        b->req.msg = protobuf_c_message_unpack(
            &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
            otus_arena_protobuf(&b->arena), len, wire);
        struct otus_buf docs;
        otus_buf_init(&docs, 0);
        for (int r = 0; r < RUNS; r++) {
            uint64_t t0 = otus_clock_mono_ns();
            for (int i = 0; i < iters; i++) {
                otus_buf_reset(&docs);
                if (otus_doc_batch(&docs, b) != 0)
                    abort();
            }
            t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * 100.0);
        }
        report("ECS log documents", t, "record");
        printf("%-36s %zu bytes/record\n", "", docs.len / 100);
        otus_buf_free(&docs);
        otus_batch_unref(b);
    }

    const char *msg = "GET /api/v1/users?id=12345 served in 3 ms \"ok\" caf\xc3\xa9";
    size_t mlen = strlen(msg);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < 200000; i++) {
            otus_buf_reset(&b);
            otus_json_escape(&b, msg, mlen);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / 200000.0;
    }
    report("json escape, 56-byte string", t, "string");

    char ts[OTUS_RFC3339_BUF];
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < 1000000; i++)
            otus_time_rfc3339_nano(1700000000000000000ull + (uint64_t)i * 1000003u, ts);
        t[r] = (double)(otus_clock_mono_ns() - t0) / 1000000.0;
    }
    report("rfc3339 format", t, "timestamp");

    /* gzip level 1 on NDJSON-like text: MB/s. */
    otus_buf_reset(&b);
    for (int i = 0; b.len < 4u << 20; i++)
        otus_buf_printf(&b,
                        "{\"@timestamp\":\"2026-11-30T10:49:28.%09dZ\",\"message\":\"request %d "
                        "served\",\"log.level\":\"info\",\"service.name\":\"api\"}\n",
                        i, i);
    struct otus_deflater d;
    otus_deflater_init(&d, 1);
    struct otus_buf z;
    otus_buf_init(&z, 0);
    for (int r = 0; r < RUNS; r++) {
        otus_buf_reset(&z);
        uint64_t t0 = otus_clock_mono_ns();
        otus_deflater_gzip(&d, b.data, b.len, &z);
        double secs = (double)(otus_clock_mono_ns() - t0) / 1e9;
        t[r] = (double)b.len / secs / 1e6;
    }
    qsort(t, RUNS, sizeof(double), cmp_double);
    printf("%-36s median %9.1f MB/s   (ratio %.1fx)\n", "gzip level 1, NDJSON", t[RUNS / 2],
           (double)b.len / (double)z.len);
    otus_deflater_destroy(&d);
    otus_buf_free(&z);
    otus_buf_free(&b);
    free(wire);
    return 0;
}
