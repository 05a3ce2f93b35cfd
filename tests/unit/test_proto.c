/*
 * test_proto.c: the OTLP messages generated from proto/ round-trip through
 * protobuf-c field for field, and a request whose bytes were worked out by hand from
 * the OTLP field numbers decodes to what those bytes say. Together these pin the
 * transcription in proto/ to the published wire format.
 */
#include "otus_test.h"

#include "common/arena.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otlp_values.h"

/* ---- a resource and scope with attributes of every AnyValue type -------------------- */

static void check_attrs(KeyValue **got, size_t n, size_t want_n)
{
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i]->key, kv[i].key);
        AnyValue *g = got[i]->value, *w = kv[i].value;
        assert_int_equal(g->value_case, w->value_case);
        switch (w->value_case) {
        case AV(STRING_VALUE):
            assert_string_equal(g->string_value, w->string_value);
            break;
        case AV(BOOL_VALUE):
            assert_int_equal(g->bool_value, w->bool_value);
            break;
        case AV(INT_VALUE):
            assert_true(g->int_value == w->int_value);
            break;
        case AV(DOUBLE_VALUE):
            assert_true(g->double_value == w->double_value);
            break;
        case AV(BYTES_VALUE):
            assert_int_equal(g->bytes_value.len, 3);
            assert_memory_equal(g->bytes_value.data, raw_bytes, 3);
            break;
        case AV(ARRAY_VALUE):
            assert_int_equal(g->array_value->n_values, 2);
            assert_true(g->array_value->values[0]->int_value == v_int.int_value);
            assert_string_equal(g->array_value->values[1]->string_value, v_str.string_value);
            break;
        case AV(KVLIST_VALUE):
            assert_int_equal(g->kvlist_value->n_values, 1);
            assert_string_equal(g->kvlist_value->values[0]->key, "nested");
            assert_true(g->kvlist_value->values[0]->value->double_value == 2.5);
            break;
        default:
            fail();
        }
    }
}

static void check_resource_scope(Resource *r, Scope *s)
{
    check_attrs(r->attributes, r->n_attributes, 7);
    assert_int_equal(r->dropped_attributes_count, 3);
    assert_int_equal(r->n_entity_refs, 1);
    assert_string_equal(r->entity_refs[0]->type, "service");
    assert_string_equal(r->entity_refs[0]->id_keys[0], "service.name");
    assert_string_equal(s->name, "otus.test");
    assert_string_equal(s->version, "1.2.3");
    check_attrs(s->attributes, s->n_attributes, 2);
    assert_int_equal(s->dropped_attributes_count, 1);
}

/* Packs with protobuf-c, then unpacks into an arena. */
static void *round_trip(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d,
                        struct otus_arena *a)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *wire = malloc(n);
    assert_non_null(wire);
    assert_int_equal(protobuf_c_message_pack(m, wire), n);
    void *got = protobuf_c_message_unpack(d, otus_arena_protobuf(a), n, wire);
    free(wire);
    assert_non_null(got);
    return got;
}

/* ---- traces ----------------------------------------------------------------------------- */

static void traces_round_trip(void **state)
{
    (void)state;
    build_common();
    static uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static uint8_t sid[8] = {21, 22, 23, 24, 25, 26, 27, 28};
    static uint8_t pid[8] = {31, 32, 33, 34, 35, 36, 37, 38};
    Opentelemetry__Proto__Trace__V1__Span__Event ev =
        OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    ev.time_unix_nano = 1700000000000000123ull;
    ev.name = "exception";
    ev.attributes = kvp;
    ev.n_attributes = 1;
    ev.dropped_attributes_count = 4;
    Opentelemetry__Proto__Trace__V1__Span__Event *evp[] = {&ev};
    Opentelemetry__Proto__Trace__V1__Span__Link ln =
        OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
    ln.trace_id = (ProtobufCBinaryData){16, tid};
    ln.span_id = (ProtobufCBinaryData){8, pid};
    ln.trace_state = "k=v";
    ln.attributes = kvp;
    ln.n_attributes = 3;
    ln.dropped_attributes_count = 5;
    ln.flags = 0x301;
    Opentelemetry__Proto__Trace__V1__Span__Link *lnp[] = {&ln};
    Opentelemetry__Proto__Trace__V1__Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    st.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    st.message = "boom";
    Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp.trace_id = (ProtobufCBinaryData){16, tid};
    sp.span_id = (ProtobufCBinaryData){8, sid};
    sp.parent_span_id = (ProtobufCBinaryData){8, pid};
    sp.trace_state = "rojo=00f067aa0ba902b7";
    sp.flags = 0x101;
    sp.name = "GET /users";
    sp.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
    sp.start_time_unix_nano = 1700000000000000001ull;
    sp.end_time_unix_nano = 1700000000999999999ull;
    sp.attributes = kvp;
    sp.n_attributes = 7;
    sp.dropped_attributes_count = 6;
    sp.events = evp;
    sp.n_events = 1;
    sp.dropped_events_count = 7;
    sp.links = lnp;
    sp.n_links = 1;
    sp.dropped_links_count = 8;
    sp.status = &st;
    Opentelemetry__Proto__Trace__V1__Span *spp[] = {&sp};
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.scope = &scope;
    ss.spans = spp;
    ss.n_spans = 1;
    ss.schema_url = "scope-schema";
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[] = {&ss};
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &resource;
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    rs.schema_url = "resource-schema";
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[] = {&rs};
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.resource_spans = rsp;
    req.n_resource_spans = 1;

    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *got = round_trip(
        &req.base,
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor, &a);
    assert_int_equal(got->n_resource_spans, 1);
    Opentelemetry__Proto__Trace__V1__ResourceSpans *grs = got->resource_spans[0];
    assert_string_equal(grs->schema_url, "resource-schema");
    assert_int_equal(grs->n_scope_spans, 1);
    assert_string_equal(grs->scope_spans[0]->schema_url, "scope-schema");
    check_resource_scope(grs->resource, grs->scope_spans[0]->scope);
    Opentelemetry__Proto__Trace__V1__Span *g = grs->scope_spans[0]->spans[0];
    assert_memory_equal(g->trace_id.data, tid, 16);
    assert_memory_equal(g->span_id.data, sid, 8);
    assert_memory_equal(g->parent_span_id.data, pid, 8);
    assert_string_equal(g->trace_state, "rojo=00f067aa0ba902b7");
    assert_int_equal(g->flags, 0x101);
    assert_string_equal(g->name, "GET /users");
    assert_int_equal(g->kind, sp.kind);
    assert_true(g->start_time_unix_nano == sp.start_time_unix_nano);
    assert_true(g->end_time_unix_nano == sp.end_time_unix_nano);
    check_attrs(g->attributes, g->n_attributes, 7);
    assert_int_equal(g->dropped_attributes_count, 6);
    assert_int_equal(g->n_events, 1);
    assert_true(g->events[0]->time_unix_nano == ev.time_unix_nano);
    assert_string_equal(g->events[0]->name, "exception");
    check_attrs(g->events[0]->attributes, g->events[0]->n_attributes, 1);
    assert_int_equal(g->events[0]->dropped_attributes_count, 4);
    assert_int_equal(g->dropped_events_count, 7);
    assert_int_equal(g->n_links, 1);
    assert_memory_equal(g->links[0]->trace_id.data, tid, 16);
    assert_memory_equal(g->links[0]->span_id.data, pid, 8);
    assert_string_equal(g->links[0]->trace_state, "k=v");
    check_attrs(g->links[0]->attributes, g->links[0]->n_attributes, 3);
    assert_int_equal(g->links[0]->dropped_attributes_count, 5);
    assert_int_equal(g->links[0]->flags, 0x301);
    assert_int_equal(g->dropped_links_count, 8);
    assert_int_equal(g->status->code, st.code);
    assert_string_equal(g->status->message, "boom");

    /* The response with a partial success. */
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = 2;
    ps.error_message = "2 spans had invalid IDs";
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *gr = round_trip(
        &resp.base,
        &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor, &a);
    assert_int_equal(gr->partial_success->rejected_spans, 2);
    assert_string_equal(gr->partial_success->error_message, "2 spans had invalid IDs");
    otus_arena_destroy(&a);
}

/* ---- logs ------------------------------------------------------------------------------- */

static void logs_round_trip(void **state)
{
    (void)state;
    build_common();
    static uint8_t tid[16] = {0xa1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static uint8_t sid[8] = {0xb1, 22, 23, 24, 25, 26, 27, 28};
    Opentelemetry__Proto__Logs__V1__LogRecord lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    lr.time_unix_nano = 1700000000000000001ull;
    lr.observed_time_unix_nano = 1700000000000000002ull;
    lr.severity_number = OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN3;
    lr.severity_text = "WARN";
    lr.body = &v_kvl;
    lr.attributes = kvp;
    lr.n_attributes = 7;
    lr.dropped_attributes_count = 2;
    lr.flags = 1;
    lr.trace_id = (ProtobufCBinaryData){16, tid};
    lr.span_id = (ProtobufCBinaryData){8, sid};
    lr.event_name = "user.login";
    Opentelemetry__Proto__Logs__V1__LogRecord *lrp[] = {&lr};
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.scope = &scope;
    sl.log_records = lrp;
    sl.n_log_records = 1;
    sl.schema_url = "s2";
    Opentelemetry__Proto__Logs__V1__ScopeLogs *slp[] = {&sl};
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.resource = &resource;
    rl.scope_logs = slp;
    rl.n_scope_logs = 1;
    rl.schema_url = "s1";
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rlp[] = {&rl};
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.resource_logs = rlp;
    req.n_resource_logs = 1;

    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *got = round_trip(
        &req.base,
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor, &a);
    Opentelemetry__Proto__Logs__V1__ResourceLogs *grl = got->resource_logs[0];
    assert_string_equal(grl->schema_url, "s1");
    assert_string_equal(grl->scope_logs[0]->schema_url, "s2");
    check_resource_scope(grl->resource, grl->scope_logs[0]->scope);
    Opentelemetry__Proto__Logs__V1__LogRecord *g = grl->scope_logs[0]->log_records[0];
    assert_true(g->time_unix_nano == lr.time_unix_nano);
    assert_true(g->observed_time_unix_nano == lr.observed_time_unix_nano);
    assert_int_equal(g->severity_number, 15);
    assert_string_equal(g->severity_text, "WARN");
    assert_int_equal(g->body->value_case, AV(KVLIST_VALUE));
    assert_string_equal(g->body->kvlist_value->values[0]->key, "nested");
    check_attrs(g->attributes, g->n_attributes, 7);
    assert_int_equal(g->dropped_attributes_count, 2);
    assert_int_equal(g->flags, 1);
    assert_memory_equal(g->trace_id.data, tid, 16);
    assert_memory_equal(g->span_id.data, sid, 8);
    assert_string_equal(g->event_name, "user.login");

    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
    ps.rejected_log_records = 9;
    ps.error_message = "m";
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *gr = round_trip(
        &resp.base,
        &opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor, &a);
    assert_int_equal(gr->partial_success->rejected_log_records, 9);
    otus_arena_destroy(&a);
}

/* ---- metrics ---------------------------------------------------------------------------- */

typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;

static void metrics_round_trip(void **state)
{
    (void)state;
    build_common();
    static uint8_t tid[16] = {0xc1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static uint8_t sid[8] = {0xd1, 22, 23, 24, 25, 26, 27, 28};
    Opentelemetry__Proto__Metrics__V1__Exemplar ex =
        OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    ex.filtered_attributes = kvp;
    ex.n_filtered_attributes = 1;
    ex.time_unix_nano = 5;
    ex.value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    ex.as_double = 0.25;
    ex.trace_id = (ProtobufCBinaryData){16, tid};
    ex.span_id = (ProtobufCBinaryData){8, sid};
    Opentelemetry__Proto__Metrics__V1__Exemplar *exp_[] = {&ex};

    /* Sum (monotonic, delta, int). */
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint ndp =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    ndp.attributes = kvp;
    ndp.n_attributes = 7;
    ndp.start_time_unix_nano = 10;
    ndp.time_unix_nano = 20;
    ndp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    ndp.as_int = -5;
    ndp.exemplars = exp_;
    ndp.n_exemplars = 1;
    ndp.flags = 1;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *ndpp[] = {&ndp};
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum.data_points = ndpp;
    sum.n_data_points = 1;
    sum.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    sum.is_monotonic = 1;
    /* Gauge (double). */
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint gdp =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    gdp.time_unix_nano = 30;
    gdp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    gdp.as_double = 3.75;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *gdpp[] = {&gdp};
    Opentelemetry__Proto__Metrics__V1__Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    gauge.data_points = gdpp;
    gauge.n_data_points = 1;
    /* Histogram with sum/min/max present. */
    uint64_t counts[3] = {1, 2, 3};
    double bounds[2] = {0.5, 1.0};
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hdp =
        OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    hdp.attributes = kvp;
    hdp.n_attributes = 1;
    hdp.start_time_unix_nano = 1;
    hdp.time_unix_nano = 2;
    hdp.count = 6;
    hdp._sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    hdp.sum = 4.5;
    hdp.bucket_counts = counts;
    hdp.n_bucket_counts = 3;
    hdp.explicit_bounds = bounds;
    hdp.n_explicit_bounds = 2;
    hdp.exemplars = exp_;
    hdp.n_exemplars = 1;
    hdp.flags = 0;
    hdp._min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
    hdp.min = 0.1;
    hdp._max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
    hdp.max = 2.0;
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *hdpp[] = {&hdp};
    Opentelemetry__Proto__Metrics__V1__Histogram hist =
        OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    hist.data_points = hdpp;
    hist.n_data_points = 1;
    hist.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
    /* Exponential histogram; sum absent. */
    uint64_t pos[2] = {4, 5}, neg[1] = {6};
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    pb.offset = -3;
    pb.bucket_counts = pos;
    pb.n_bucket_counts = 2;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets nb =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    nb.offset = 7;
    nb.bucket_counts = neg;
    nb.n_bucket_counts = 1;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint edp =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    edp.count = 17;
    edp.scale = -2;
    edp.zero_count = 2;
    edp.positive = &pb;
    edp.negative = &nb;
    edp.zero_threshold = 1e-9;
    edp._max_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX;
    edp.max = 99;
    edp.exemplars = exp_;
    edp.n_exemplars = 1;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *edpp[] = {&edp};
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogram eh =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    eh.data_points = edpp;
    eh.n_data_points = 1;
    eh.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    /* Summary. */
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile q1 =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    q1.quantile = 0.99;
    q1.value = 12.5;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile *qp[] = {&q1};
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sdp =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    sdp.count = 100;
    sdp.sum = 250.5;
    sdp.quantile_values = qp;
    sdp.n_quantile_values = 1;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *sdpp[] = {&sdp};
    Opentelemetry__Proto__Metrics__V1__Summary summ =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    summ.data_points = sdpp;
    summ.n_data_points = 1;

    Metric m[5];
    Metric *mp[5];
    for (int i = 0; i < 5; i++) {
        opentelemetry__proto__metrics__v1__metric__init(&m[i]);
        mp[i] = &m[i];
    }
    m[0].name = "requests";
    m[0].description = "Requests served";
    m[0].unit = "{request}";
    m[0].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m[0].sum = &sum;
    m[0].metadata = kvp;
    m[0].n_metadata = 1;
    m[1].name = "temperature";
    m[1].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m[1].gauge = &gauge;
    m[2].name = "latency";
    m[2].unit = "s";
    m[2].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    m[2].histogram = &hist;
    m[3].name = "sizes";
    m[3].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m[3].exponential_histogram = &eh;
    m[4].name = "legacy";
    m[4].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    m[4].summary = &summ;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
        OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    sm.scope = &scope;
    sm.metrics = mp;
    sm.n_metrics = 5;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp[] = {&sm};
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &resource;
    rm.scope_metrics = smp;
    rm.n_scope_metrics = 1;
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp[] = {&rm};
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.resource_metrics = rmp;
    req.n_resource_metrics = 1;

    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *got = round_trip(
        &req.base,
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
        &a);
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *gsm =
        got->resource_metrics[0]->scope_metrics[0];
    check_resource_scope(got->resource_metrics[0]->resource, gsm->scope);
    assert_int_equal(gsm->n_metrics, 5);

    Metric *g0 = gsm->metrics[0];
    assert_string_equal(g0->name, "requests");
    assert_string_equal(g0->description, "Requests served");
    assert_string_equal(g0->unit, "{request}");
    assert_int_equal(g0->n_metadata, 1);
    assert_int_equal(g0->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_int_equal(g0->sum->aggregation_temporality, sum.aggregation_temporality);
    assert_true(g0->sum->is_monotonic);
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *gn = g0->sum->data_points[0];
    check_attrs(gn->attributes, gn->n_attributes, 7);
    assert_true(gn->start_time_unix_nano == 10 && gn->time_unix_nano == 20);
    assert_int_equal(gn->value_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
    assert_true(gn->as_int == -5);
    assert_int_equal(gn->flags, 1);
    assert_int_equal(gn->n_exemplars, 1);
    assert_true(gn->exemplars[0]->as_double == 0.25);
    assert_memory_equal(gn->exemplars[0]->trace_id.data, tid, 16);
    assert_memory_equal(gn->exemplars[0]->span_id.data, sid, 8);
    check_attrs(gn->exemplars[0]->filtered_attributes, gn->exemplars[0]->n_filtered_attributes, 1);

    Metric *g1 = gsm->metrics[1];
    assert_int_equal(g1->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
    assert_true(g1->gauge->data_points[0]->as_double == 3.75);

    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *gh =
        gsm->metrics[2]->histogram->data_points[0];
    assert_true(gh->count == 6);
    assert_int_equal(gh->_sum_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM);
    assert_true(gh->sum == 4.5);
    assert_int_equal(gh->n_bucket_counts, 3);
    assert_true(gh->bucket_counts[2] == 3);
    assert_int_equal(gh->n_explicit_bounds, 2);
    assert_true(gh->explicit_bounds[1] == 1.0);
    assert_true(gh->min == 0.1 && gh->max == 2.0);
    assert_int_equal(gh->_min_case,
                     OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN);

    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *ge =
        gsm->metrics[3]->exponential_histogram->data_points[0];
    assert_int_equal(
        ge->_sum_case,
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM__NOT_SET);
    assert_int_equal(ge->scale, -2);
    assert_true(ge->zero_count == 2);
    assert_int_equal(ge->positive->offset, -3);
    assert_true(ge->positive->bucket_counts[1] == 5);
    assert_int_equal(ge->negative->offset, 7);
    assert_true(ge->zero_threshold == 1e-9);
    assert_true(ge->max == 99);
    assert_int_equal(ge->n_exemplars, 1);

    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *gs =
        gsm->metrics[4]->summary->data_points[0];
    assert_true(gs->count == 100 && gs->sum == 250.5);
    assert_true(gs->quantile_values[0]->quantile == 0.99 && gs->quantile_values[0]->value == 12.5);
    otus_arena_destroy(&a);
}

/* ---- a request written byte by byte from the OTLP field numbers ------------------------ */

static const uint8_t hand_made[] = {
    0x0a, 0x63, /* ExportTraceServiceRequest.resource_spans (1), 99 bytes */
    0x0a, 0x17, /*  ResourceSpans.resource (1), 23 bytes */
    0x0a, 0x15, /*   Resource.attributes (1), KeyValue of 21 bytes */
    0x0a, 0x0c, 's',  'e',  'r',  'v',  'i',  'c',  'e',  '.',  'n',  'a',  'm',  'e', /* key (1) */
    0x12, 0x05,                  /*    value (2): AnyValue of 5 bytes */
    0x0a, 0x03, 's',  'v',  'c', /*     string_value (1) */
    0x12, 0x45,                  /*  ResourceSpans.scope_spans (2), 69 bytes */
    0x0a, 0x03, 0x0a, 0x01, 's', /*   ScopeSpans.scope (1) { name (1) = "s" } */
    0x12, 0x3e,                  /*   ScopeSpans.spans (2), Span of 62 bytes */
    0x0a, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* trace_id (1) */
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x12, 0x08, 0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x18,                            /* span_id (2) */
    0x2a, 0x02, 'o',  'p',                             /*    name (5) */
    0x30, 0x02,                                        /*    kind (6) = SPAN_KIND_SERVER */
    0x39, 0xe8, 0x03, 0,    0,    0,    0,    0,    0, /* start_time_unix_nano (7), fixed64 1000 */
    0x41, 0xd0, 0x07, 0,    0,    0,    0,    0,    0, /* end_time_unix_nano (8), fixed64 2000 */
    0x7a, 0x02, 0x18, 0x02,          /*    status (15) { code (3) = STATUS_CODE_ERROR } */
    0x85, 0x01, 0x01, 0x03, 0,    0, /*    flags (16), fixed32 0x301 */
    0x1a, 0x01, 'u',                 /*  ResourceSpans.schema_url (3) */
};

static void hand_made_bytes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(hand_made), 101);
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            otus_arena_protobuf(&a), sizeof(hand_made), hand_made);
    assert_non_null(r);
    assert_int_equal(r->n_resource_spans, 1);
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = r->resource_spans[0];
    assert_string_equal(rs->schema_url, "u");
    assert_int_equal(rs->resource->n_attributes, 1);
    assert_string_equal(rs->resource->attributes[0]->key, "service.name");
    assert_string_equal(rs->resource->attributes[0]->value->string_value, "svc");
    assert_string_equal(rs->scope_spans[0]->scope->name, "s");
    Opentelemetry__Proto__Trace__V1__Span *s = rs->scope_spans[0]->spans[0];
    for (int i = 0; i < 16; i++)
        assert_int_equal(s->trace_id.data[i], i + 1);
    for (int i = 0; i < 8; i++)
        assert_int_equal(s->span_id.data[i], 0x11 + i);
    assert_string_equal(s->name, "op");
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
    assert_true(s->start_time_unix_nano == 1000);
    assert_true(s->end_time_unix_nano == 2000);
    assert_int_equal(s->status->code,
                     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_int_equal(s->flags, 0x301);
    assert_int_equal(s->parent_span_id.len, 0);

    /* And protobuf-c writes exactly these bytes back. */
    size_t n =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            r);
    assert_int_equal(n, sizeof(hand_made));
    uint8_t again[sizeof(hand_made)];
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(r, again);
    /* Field order differs only where protobuf-c writes by field number: flags (16)
     * comes after status (15) in both, so the bytes are identical. */
    assert_memory_equal(again, hand_made, sizeof(hand_made));

    /* Truncated input is refused, not over-read. */
    assert_null(opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        otus_arena_protobuf(&a), sizeof(hand_made) - 3, hand_made));
    otus_arena_destroy(&a);
}

static void rpc_status(void **state)
{
    (void)state;
    /* google.rpc.Status { code (1) = 3, message (2) = "bad" } */
    static const uint8_t wire[] = {0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd'};
    Google__Rpc__Status *st = google__rpc__status__unpack(NULL, sizeof(wire), wire);
    assert_non_null(st);
    assert_int_equal(st->code, 3);
    assert_string_equal(st->message, "bad");
    google__rpc__status__free_unpacked(st, NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(traces_round_trip),  cmocka_unit_test(logs_round_trip),
    cmocka_unit_test(metrics_round_trip), cmocka_unit_test(hand_made_bytes),
    cmocka_unit_test(rpc_status),
};

OTUS_TEST_MAIN(tests)
