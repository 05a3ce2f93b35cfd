/*
 * bench_logs.h: the log request the codec benchmarks share: 100 records, each with a
 * 60-byte string body, severity, time, trace and span IDs and four attributes like an
 * HTTP server's (three strings and a status code), in one resource and one scope.
 * bench_codec.c and bench_otlp_decode.c decode it as protobuf, bench_otlp_json.c as
 * OTLP/JSON, so their figures compare.
 */
#ifndef OTUS_BENCH_LOGS_H
#define OTUS_BENCH_LOGS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/batch.h"

#define BENCH_LOG_RECORDS 100

static uint8_t bench_trace_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t bench_span_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* Four attributes like an HTTP server's: three strings and a status code. */
static inline void bench_http_attributes(Opentelemetry__Proto__Common__V1__KeyValue kvs[4],
                                         Opentelemetry__Proto__Common__V1__KeyValue *kvp[4],
                                         Opentelemetry__Proto__Common__V1__AnyValue vals[4])
{
    static const char *keys[4] = {"http.request.method", "url.path", "http.response.status_code",
                                  "user.id"};
    for (int k = 0; k < 4; k++) {
        opentelemetry__proto__common__v1__key_value__init(&kvs[k]);
        opentelemetry__proto__common__v1__any_value__init(&vals[k]);
        kvs[k].key = (char *)keys[k];
        kvs[k].value = &vals[k];
        if (k == 2) {
            vals[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            vals[k].int_value = 200;
        } else {
            vals[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
            vals[k].string_value = k == 0 ? "GET" : k == 1 ? "/api/v1/users" : "u-12345";
        }
        kvp[k] = &kvs[k];
    }
}

/* The request, in static storage (built again on every call). */
static inline otus_logs_req *bench_logs_request(void)
{
    static Opentelemetry__Proto__Logs__V1__LogRecord recs[BENCH_LOG_RECORDS];
    static Opentelemetry__Proto__Logs__V1__LogRecord *recp[BENCH_LOG_RECORDS];
    static Opentelemetry__Proto__Common__V1__AnyValue bodies[BENCH_LOG_RECORDS],
        vals[BENCH_LOG_RECORDS][4];
    static Opentelemetry__Proto__Common__V1__KeyValue kvs[BENCH_LOG_RECORDS][4];
    static Opentelemetry__Proto__Common__V1__KeyValue *kvp[BENCH_LOG_RECORDS][4];
    static char msgs[BENCH_LOG_RECORDS][80];
    static Opentelemetry__Proto__Logs__V1__ScopeLogs sl;
    static Opentelemetry__Proto__Logs__V1__ScopeLogs *slp[1] = {&sl};
    static Opentelemetry__Proto__Logs__V1__ResourceLogs rl;
    static Opentelemetry__Proto__Logs__V1__ResourceLogs *rlp[1] = {&rl};
    static otus_logs_req req;
    for (int i = 0; i < BENCH_LOG_RECORDS; i++) {
        opentelemetry__proto__logs__v1__log_record__init(&recs[i]);
        opentelemetry__proto__common__v1__any_value__init(&bodies[i]);
        snprintf(msgs[i], sizeof(msgs[i]), "request %d served in %d ms for a user", i, i * 3);
        bodies[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        bodies[i].string_value = msgs[i];
        recs[i].body = &bodies[i];
        recs[i].time_unix_nano = 1700000000000000000ull + (uint64_t)i;
        recs[i].severity_number = 9;
        recs[i].severity_text = "INFO";
        recs[i].trace_id = (ProtobufCBinaryData){16, bench_trace_id};
        recs[i].span_id = (ProtobufCBinaryData){8, bench_span_id};
        bench_http_attributes(kvs[i], kvp[i], vals[i]);
        recs[i].attributes = kvp[i];
        recs[i].n_attributes = 4;
        recp[i] = &recs[i];
    }
    opentelemetry__proto__logs__v1__scope_logs__init(&sl);
    sl.log_records = recp;
    sl.n_log_records = BENCH_LOG_RECORDS;
    opentelemetry__proto__logs__v1__resource_logs__init(&rl);
    rl.scope_logs = slp;
    rl.n_scope_logs = 1;
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(&req);
    req.resource_logs = rlp;
    req.n_resource_logs = 1;
    return &req;
}

/* The request as protobuf bytes (malloc'd; the caller frees them). */
static inline uint8_t *bench_logs_wire(size_t *len)
{
    const ProtobufCMessage *m = &bench_logs_request()->base;
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *w = malloc(*len);
    if (!w || protobuf_c_message_pack(m, w) != *len)
        abort();
    return w;
}

#endif
