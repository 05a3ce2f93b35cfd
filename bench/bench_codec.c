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
#include "bench/bench_logs.h"

#define RUNS 7

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    uint8_t *wire = bench_logs_wire(&len);
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
