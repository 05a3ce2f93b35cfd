/*
 * bench_otlp_json.c: microbenchmarks of the OTLP/JSON codec (agent/otlp_json.h) on the
 * requests SDKs send most: 100 log records (the same records bench_codec.c decodes as
 * protobuf, so the two figures compare) and 100 spans. Reports the median of several
 * runs in ns per record for decoding (the JSON parse alone too, to show its share, and
 * jansson's parse of the same body for comparison), for protobuf decoding of the same
 * request (protobuf-c's and the receiver's own, otlp_decode.h), and for encoding.
 *
 * Under callgrind, "bench_otlp_json decode|parse logs|traces N" only decodes (or only
 * parses) the request N times, so that --toggle-collect=otus_otlp_json_decode (or
 * otus_json_parse) gives the instructions of N requests of one kind; see
 * bench/callgrind_otlp_json.sh.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/otlp_decode.h"
#include "agent/otlp_json.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json_parse.h"
#include "bench/bench_logs.h"

#define RUNS    7
#define RECORDS 100

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *ns)
{
    qsort(ns, RUNS, sizeof(double), cmp_double);
    printf("%-44s median %9.1f ns/record  (min %.1f, max %.1f)\n", name, ns[RUNS / 2], ns[0],
           ns[RUNS - 1]);
}

/* 100 server spans with IDs, a parent, times, 4 attributes and a status. */
static otus_traces_req *make_traces(void)
{
    static Opentelemetry__Proto__Trace__V1__Span spans[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Span *spanp[RECORDS];
    static Opentelemetry__Proto__Trace__V1__Status status;
    static AnyValue vals[RECORDS][4];
    static KeyValue kvs[RECORDS][4];
    static KeyValue *kvp[RECORDS][4];
    static Opentelemetry__Proto__Trace__V1__ScopeSpans ss;
    static Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[1] = {&ss};
    static Opentelemetry__Proto__Trace__V1__ResourceSpans rs;
    static Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[1] = {&rs};
    static otus_traces_req req;
    opentelemetry__proto__trace__v1__status__init(&status);
    status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
    for (int i = 0; i < RECORDS; i++) {
        Opentelemetry__Proto__Trace__V1__Span *s = &spans[i];
        opentelemetry__proto__trace__v1__span__init(s);
        s->trace_id = (ProtobufCBinaryData){16, bench_trace_id};
        s->span_id = (ProtobufCBinaryData){8, bench_span_id};
        s->parent_span_id = (ProtobufCBinaryData){8, bench_span_id};
        s->flags = 0x301;
        s->name = "GET /api/v1/users";
        s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
        s->start_time_unix_nano = 1700000000000000000ull + (uint64_t)i * 1000;
        s->end_time_unix_nano = s->start_time_unix_nano + 3000000;
        bench_http_attributes(kvs[i], kvp[i], vals[i]);
        s->attributes = kvp[i];
        s->n_attributes = 4;
        s->status = &status;
        spanp[i] = s;
    }
    opentelemetry__proto__trace__v1__scope_spans__init(&ss);
    ss.spans = spanp;
    ss.n_spans = RECORDS;
    opentelemetry__proto__trace__v1__resource_spans__init(&rs);
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
    req.resource_spans = rsp;
    req.n_resource_spans = 1;
    return &req;
}

static void bench_decode(const char *name, enum otus_signal s, const struct otus_buf *json)
{
    double t[RUNS];
    const int iters = 300;
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            ProtobufCMessage *m;
            if (otus_otlp_json_decode(s, json->data, json->len, &a, &m, NULL) != 0)
                abort();
            otus_arena_reset(&a);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    otus_arena_destroy(&a);
    report(name, t);
}

static void bench_parse_only(const char *name, const struct otus_buf *json)
{
    double t[RUNS];
    const int iters = 300;
    struct otus_arena a;
    otus_arena_init(&a, 256 * 1024, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            const struct otus_json_node *root;
            if (otus_json_parse(json->data, json->len, &a, &root, NULL) != 0)
                abort();
            otus_arena_reset(&a);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    otus_arena_destroy(&a);
    report(name, t);
}

static void bench_jansson(const char *name, const struct otus_buf *json)
{
    double t[RUNS];
    const int iters = 100;
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            json_t *root = json_loadb(json->data, json->len, JSON_REJECT_DUPLICATES, NULL);
            if (!root)
                abort();
            json_decref(root);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    report(name, t);
}

/* The callgrind mode: only decode, or only parse, one request n times. */
static int run_only(const char *what, const char *which, int n, const struct otus_buf *lj,
                    const struct otus_buf *tj)
{
    bool logs = strcmp(which, "logs") == 0;
    if ((!logs && strcmp(which, "traces") != 0) || n <= 0)
        return 2;
    const struct otus_buf *json = logs ? lj : tj;
    struct otus_arena a;
    otus_arena_init(&a, 256 * 1024, 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(what, "decode") == 0) {
            ProtobufCMessage *m;
            if (otus_otlp_json_decode(logs ? OTUS_SIGNAL_LOGS : OTUS_SIGNAL_TRACES, json->data,
                                      json->len, &a, &m, NULL) != 0)
                abort();
        } else if (strcmp(what, "parse") == 0) {
            const struct otus_json_node *root;
            if (otus_json_parse(json->data, json->len, &a, &root, NULL) != 0)
                abort();
        } else {
            return 2;
        }
        otus_arena_reset(&a);
    }
    otus_arena_destroy(&a);
    return 0;
}

static void bench_protobuf(const char *name, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *wire = malloc(len);
    if (!wire)
        abort();
    protobuf_c_message_pack(m, wire);
    double t[RUNS];
    const int iters = 2000;
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            if (!protobuf_c_message_unpack(m->descriptor, otus_arena_protobuf(&a), len, wire))
                abort();
            otus_arena_reset(&a);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    otus_arena_destroy(&a);
    free(wire);
    report(name, t);
}

/* The receiver's own protobuf decoder (otlp_decode.h) on the same request. */
static void bench_otus_protobuf(const char *name, enum otus_signal s, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *wire = malloc(len);
    if (!wire)
        abort();
    protobuf_c_message_pack(m, wire);
    double t[RUNS];
    const int iters = 2000;
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            ProtobufCMessage *out;
            if (otus_otlp_decode(s, wire, len, &a, &out) != 0)
                abort();
            otus_arena_reset(&a);
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    otus_arena_destroy(&a);
    free(wire);
    report(name, t);
}

static void bench_encode(const char *name, enum otus_signal s, const ProtobufCMessage *m)
{
    double t[RUNS];
    const int iters = 1000;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = otus_clock_mono_ns();
        for (int i = 0; i < iters; i++) {
            otus_buf_reset(&b);
            if (otus_otlp_json_encode(s, m, &b) != 0)
                abort();
        }
        t[r] = (double)(otus_clock_mono_ns() - t0) / (iters * (double)RECORDS);
    }
    otus_buf_free(&b);
    report(name, t);
}

int main(int argc, char **argv)
{
    otus_logs_req *logs = bench_logs_request();
    otus_traces_req *traces = make_traces();
    struct otus_buf lj, tj;
    otus_buf_init(&lj, 0);
    otus_buf_init(&tj, 0);
    if (otus_otlp_json_encode(OTUS_SIGNAL_LOGS, &logs->base, &lj) != 0 ||
        otus_otlp_json_encode(OTUS_SIGNAL_TRACES, &traces->base, &tj) != 0)
        abort();
    if (argc == 4) {
        int rc = run_only(argv[1], argv[2], atoi(argv[3]), &lj, &tj);
        if (rc)
            fprintf(stderr, "usage: %s [decode|parse logs|traces N]\n", argv[0]);
        otus_buf_free(&lj);
        otus_buf_free(&tj);
        return rc;
    }
    printf("logs request: %zu bytes of JSON, %zu of protobuf; traces request: %zu bytes of "
           "JSON, %zu of protobuf\n",
           lj.len, protobuf_c_message_get_packed_size(&logs->base), tj.len,
           protobuf_c_message_get_packed_size(&traces->base));

    bench_decode("otlp/json decode, 100 log records", OTUS_SIGNAL_LOGS, &lj);
    bench_parse_only("  of which the JSON parse (json_parse.h)", &lj);
    bench_jansson("jansson's parse and free of the same body", &lj);
    bench_protobuf("protobuf-c decode of the same, arena", &logs->base);
    bench_otus_protobuf("otus protobuf decode of the same", OTUS_SIGNAL_LOGS, &logs->base);
    bench_encode("otlp/json encode, 100 log records", OTUS_SIGNAL_LOGS, &logs->base);
    bench_decode("otlp/json decode, 100 spans", OTUS_SIGNAL_TRACES, &tj);
    bench_parse_only("  of which the JSON parse (json_parse.h)", &tj);
    bench_jansson("jansson's parse and free of the same body", &tj);
    bench_protobuf("protobuf-c decode of the same, arena", &traces->base);
    bench_otus_protobuf("otus protobuf decode of the same", OTUS_SIGNAL_TRACES, &traces->base);
    bench_encode("otlp/json encode, 100 spans", OTUS_SIGNAL_TRACES, &traces->base);

    otus_buf_free(&lj);
    otus_buf_free(&tj);
    return 0;
}
