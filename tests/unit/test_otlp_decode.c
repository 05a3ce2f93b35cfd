/*
 * test_otlp_decode.c: the agent's OTLP decoder (agent/otlp_decode.h) against
 * protobuf-c, its reference. Every case decodes the same bytes both ways and requires
 * the same answer (otlp_diff.h): rich requests of every signal with every field set,
 * random requests built from protobuf-c's descriptors, those requests rewritten on the
 * wire (fields reordered, duplicated, packed scalars unpacked or split, unknown fields
 * of every wire type inserted, non-minimal keys and lengths, wire types changed),
 * every truncation and many byte flips. Hand-written bytes pin the unusual rules
 * (merging, last value wins, bool's wire types, malformed keys and lengths) to
 * explicit expectations, and the nesting limit and arena exhaustion are checked alone.
 */
#include "otus_test.h"

#include <otus.h>

#include "agent/otlp_decode.h"
#include "common/arena.h"
#include "common/buf.h"
#include "otlp_diff.h"
#include "otlp_values.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* Packs m into a malloc'd buffer. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *w = malloc(*len ? *len : 1);
    assert_non_null(w);
    assert_int_equal(protobuf_c_message_pack(m, w), *len);
    return w;
}

/* Requires agreement with protobuf-c and returns the kind of agreement. */
static enum otlp_diff_result expect_agree(enum otus_signal sig, const uint8_t *data, size_t len)
{
    char why[512];
    enum otlp_diff_result r = otlp_diff(sig, data, len, why, sizeof(why));
    if (r == OTLP_DIFF_MISMATCH) {
        fprintf(stderr, "mismatch (%s, %zu bytes): %s\n  ", otus_signal_name(sig), len, why);
        for (size_t i = 0; i < len && i < 256; i++)
            fprintf(stderr, "%02x", data[i]);
        fprintf(stderr, "\n");
        fail();
    }
    return r;
}

static void expect_accepted(enum otus_signal sig, const uint8_t *data, size_t len)
{
    assert_int_equal(expect_agree(sig, data, len), OTLP_DIFF_ACCEPTED);
}

static void expect_refused(enum otus_signal sig, const uint8_t *data, size_t len)
{
    assert_int_equal(expect_agree(sig, data, len), OTLP_DIFF_REFUSED);
}

/* Decodes with the agent's decoder alone (for explicit expectations). */
static otus_logs_req *decode_logs(struct otus_arena *a, const uint8_t *data, size_t len)
{
    ProtobufCMessage *m = NULL;
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_LOGS, data, len, a, &m), 0);
    return (otus_logs_req *)m;
}

/* A deterministic generator (xorshift64*). */
struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static unsigned rn(struct rng *r, unsigned n)
{
    return (unsigned)(rnd(r) % n);
}

/* ---- rich requests of every signal (the builders of test_proto.c) ------------------ */

static uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t sid[8] = {21, 22, 23, 24, 25, 26, 27, 28};
static uint8_t pid[8] = {31, 32, 33, 34, 35, 36, 37, 38};

static uint8_t *rich_traces(size_t *len)
{
    build_common();
    Opentelemetry__Proto__Trace__V1__Span__Event ev =
        OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    ev.time_unix_nano = 1700000000000000123ull;
    ev.name = "exception";
    ev.attributes = kvp;
    ev.n_attributes = 1;
    ev.dropped_attributes_count = 4;
    Opentelemetry__Proto__Trace__V1__Span__Event *evp[] = {&ev, &ev};
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
    sp.n_events = 2;
    sp.dropped_events_count = 7;
    sp.links = lnp;
    sp.n_links = 1;
    sp.dropped_links_count = 8;
    sp.status = &st;
    Opentelemetry__Proto__Trace__V1__Span sp2 = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    sp2.name = "child";
    sp2.kind = -3; /* an enum value out of range travels as a 10-byte varint */
    Opentelemetry__Proto__Trace__V1__Span *spp[] = {&sp, &sp2};
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ss.scope = &scope;
    ss.spans = spp;
    ss.n_spans = 2;
    ss.schema_url = "scope-schema";
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[] = {&ss};
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    rs.resource = &resource;
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    rs.schema_url = "resource-schema";
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[] = {&rs, &rs};
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.resource_spans = rsp;
    req.n_resource_spans = 2;
    return pack(&req.base, len);
}

static uint8_t *rich_logs(size_t *len)
{
    build_common();
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
    Opentelemetry__Proto__Logs__V1__LogRecord lr2 =
        OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    lr2.body = &v_arr;
    lr2.severity_text = "a severity text longer than sixteen bytes";
    Opentelemetry__Proto__Logs__V1__LogRecord *lrp[] = {&lr, &lr2, &lr};
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.scope = &scope;
    sl.log_records = lrp;
    sl.n_log_records = 3;
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
    return pack(&req.base, len);
}

static uint8_t *rich_metrics(size_t *len)
{
    build_common();
    Opentelemetry__Proto__Metrics__V1__Exemplar ex =
        OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    ex.filtered_attributes = kvp;
    ex.n_filtered_attributes = 1;
    ex.time_unix_nano = 5;
    ex.value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    ex.as_double = 0.25;
    ex.trace_id = (ProtobufCBinaryData){16, tid};
    ex.span_id = (ProtobufCBinaryData){8, sid};
    Opentelemetry__Proto__Metrics__V1__Exemplar ex2 =
        OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    ex2.value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
    ex2.as_int = -7;
    Opentelemetry__Proto__Metrics__V1__Exemplar *exp_[] = {&ex, &ex2};

    Opentelemetry__Proto__Metrics__V1__NumberDataPoint ndp =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    ndp.attributes = kvp;
    ndp.n_attributes = 7;
    ndp.start_time_unix_nano = 10;
    ndp.time_unix_nano = 20;
    ndp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    ndp.as_int = -5;
    ndp.exemplars = exp_;
    ndp.n_exemplars = 2;
    ndp.flags = 1;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *ndpp[] = {&ndp};
    Opentelemetry__Proto__Metrics__V1__Sum sum = OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    sum.data_points = ndpp;
    sum.n_data_points = 1;
    sum.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    sum.is_monotonic = 1;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint gdp =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    gdp.time_unix_nano = 30;
    gdp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    gdp.as_double = 3.75;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint *gdpp[] = {&gdp, &ndp};
    Opentelemetry__Proto__Metrics__V1__Gauge gauge = OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    gauge.data_points = gdpp;
    gauge.n_data_points = 2;
    uint64_t counts[3] = {1, 2, 300000000000ull};
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
    uint64_t pos[3] = {4, 5, 1ull << 40}, neg[1] = {6};
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets pb =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    pb.offset = -3;
    pb.bucket_counts = pos;
    pb.n_bucket_counts = 3;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets nb =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    nb.offset = 7;
    nb.bucket_counts = neg;
    nb.n_bucket_counts = 1;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint edp =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    edp.attributes = kvp;
    edp.n_attributes = 2;
    edp.start_time_unix_nano = 3;
    edp.time_unix_nano = 4;
    edp.count = 17;
    edp._sum_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
    edp.sum = 8.25;
    edp.scale = -2;
    edp.zero_count = 2;
    edp.positive = &pb;
    edp.negative = &nb;
    edp.flags = 1;
    edp.zero_threshold = 1e-9;
    edp._min_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN;
    edp.min = -1;
    edp._max_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX;
    edp.max = 99;
    edp.exemplars = exp_;
    edp.n_exemplars = 2;
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *edpp[] = {&edp};
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogram eh =
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    eh.data_points = edpp;
    eh.n_data_points = 1;
    eh.aggregation_temporality =
        OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile q1 =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    q1.quantile = 0.99;
    q1.value = 12.5;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile *qp[] = {&q1, &q1};
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sdp =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    sdp.attributes = kvp;
    sdp.n_attributes = 3;
    sdp.start_time_unix_nano = 8;
    sdp.time_unix_nano = 9;
    sdp.count = 100;
    sdp.sum = 250.5;
    sdp.quantile_values = qp;
    sdp.n_quantile_values = 2;
    sdp.flags = 1;
    Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *sdpp[] = {&sdp};
    Opentelemetry__Proto__Metrics__V1__Summary summ =
        OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    summ.data_points = sdpp;
    summ.n_data_points = 1;

    Opentelemetry__Proto__Metrics__V1__Metric m[5];
    Opentelemetry__Proto__Metrics__V1__Metric *mp[5];
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
    sm.schema_url = "sm";
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *smp[] = {&sm};
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
        OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    rm.resource = &resource;
    rm.scope_metrics = smp;
    rm.n_scope_metrics = 1;
    rm.schema_url = "rm";
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rmp[] = {&rm};
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    req.resource_metrics = rmp;
    req.n_resource_metrics = 1;
    return pack(&req.base, len);
}

static uint8_t *rich(enum otus_signal sig, size_t *len)
{
    switch (sig) {
    case OTUS_SIGNAL_TRACES:
        return rich_traces(len);
    case OTUS_SIGNAL_METRICS:
        return rich_metrics(len);
    default:
        return rich_logs(len);
    }
}

static void rich_requests(void **state)
{
    (void)state;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *w = rich((enum otus_signal)s, &len);
        expect_accepted((enum otus_signal)s, w, len);
        free(w);
    }
}

/* Every prefix of a rich request, and single-byte changes at every offset. */
static void truncations_and_flips(void **state)
{
    (void)state;
    struct rng r = {0x9e3779b97f4a7c15ull};
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *w = rich((enum otus_signal)s, &len);
        size_t refused = 0;
        for (size_t n = 0; n < len; n++)
            refused += expect_agree((enum otus_signal)s, w, n) == OTLP_DIFF_REFUSED;
        assert_true(refused > len / 2);
        for (size_t i = 0; i < len; i++) {
            uint8_t keep = w[i];
            for (int k = 0; k < 3; k++) {
                w[i] = k == 0 ? (uint8_t)(keep ^ 0x80) : (uint8_t)rnd(&r);
                expect_agree((enum otus_signal)s, w, len);
            }
            w[i] = keep;
        }
        free(w);
    }
}

/* ---- random requests from protobuf-c's descriptors ----------------------------------- */

static void rand_value(struct rng *r, struct otus_arena *a, const ProtobufCFieldDescriptor *fd,
                       void *dst, int budget);

static ProtobufCMessage *rand_msg(struct rng *r, struct otus_arena *a,
                                  const ProtobufCMessageDescriptor *d, int budget)
{
    ProtobufCMessage *m = otus_arena_alloc(a, d->sizeof_message);
    assert_non_null(m);
    protobuf_c_message_init(d, m);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        char *member = (char *)m + fd->offset;
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE && budget <= 0)
            continue;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = rn(r, 4) == 0 ? 0 : 1 + rn(r, fd->type == PROTOBUF_C_TYPE_MESSAGE ? 2 : 5);
            size_t sz = otlp_diff_elt_size(fd->type);
            char *elts = n ? otus_arena_alloc(a, n * sz) : NULL;
            for (size_t k = 0; k < n; k++)
                rand_value(r, a, fd, elts + k * sz, budget - 1);
            *(size_t *)((char *)m + fd->quantifier_offset) = n;
            memcpy(member, &elts, sizeof(elts));
        } else if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (rn(r, 3) == 0) {
                rand_value(r, a, fd, member, budget - 1);
                *(uint32_t *)((char *)m + fd->quantifier_offset) = fd->id;
            }
        } else if (rn(r, 3) != 0) {
            rand_value(r, a, fd, member, budget - 1);
        }
    }
    return m;
}

static uint64_t rand_int(struct rng *r)
{
    switch (rn(r, 5)) {
    case 0:
        return 0;
    case 1:
        return rn(r, 128);
    case 2:
        return rnd(r) >> rn(r, 64);
    case 3:
        return (uint64_t) - (int64_t)rn(r, 1000);
    default:
        return rnd(r);
    }
}

static void rand_value(struct rng *r, struct otus_arena *a, const ProtobufCFieldDescriptor *fd,
                       void *dst, int budget)
{
    static const char alphabet[] = "abcxyz.-_/ 019\xc3\xa9\x7f";
    uint64_t v = rand_int(r);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        size_t n = rn(r, 4) == 0 ? rn(r, 40) : rn(r, 12);
        char *s = otus_arena_alloc(a, n + 1);
        for (size_t i = 0; i < n; i++)
            s[i] = alphabet[rn(r, sizeof(alphabet) - 1)];
        s[n] = '\0';
        memcpy(dst, &s, sizeof(s));
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b = {rn(r, 3) == 0 ? 0 : rn(r, 24), NULL};
        if (b.len) {
            b.data = otus_arena_alloc(a, b.len);
            for (size_t i = 0; i < b.len; i++)
                b.data[i] = (uint8_t)rnd(r);
        }
        memcpy(dst, &b, sizeof(b));
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = rand_msg(r, a, fd->descriptor, budget);
        memcpy(dst, &sub, sizeof(sub));
        break;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b = rn(r, 2);
        memcpy(dst, &b, sizeof(b));
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        if (rn(r, 2)) {
            double x = (double)(int64_t)v / 7.0;
            memcpy(dst, &x, sizeof(x));
        } else {
            memcpy(dst, &v, sizeof(v));
        }
        break;
    default:
        memcpy(dst, &v, otlp_diff_elt_size(fd->type)); /* little-endian: the low bytes */
        break;
    }
}

static void random_requests(void **state)
{
    (void)state;
    struct rng r = {0x243f6a8885a308d3ull};
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        for (int i = 0; i < 300; i++) {
            struct otus_arena a;
            otus_arena_init(&a, 0, 0);
            ProtobufCMessage *m = rand_msg(&r, &a, otus_request_descriptor(s), 9);
            size_t len;
            uint8_t *w = pack(m, &len);
            expect_accepted((enum otus_signal)s, w, len);
            free(w);
            otus_arena_destroy(&a);
        }
    }
}

/* ---- rewriting requests on the wire ---------------------------------------------------- */

static void put_varint(struct otus_buf *b, uint64_t v, int pad)
{
    uint8_t t[12];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)(v & 0x7f) | 0x80;
        v >>= 7;
    } while (v);
    while (pad-- > 0 && n < 10)
        t[n++] = 0x80; /* a non-minimal encoding: continuation bytes of zero */
    t[n - 1] &= 0x7f;
    assert_int_equal(otus_buf_append(b, t, n), 0);
}

/* A key; pad makes it non-minimal but keeps it within protobuf-c's 5 bytes. */
static void put_key(struct otus_buf *b, uint32_t num, unsigned wt, int pad)
{
    uint64_t key = (uint64_t)num << 3 | wt;
    int bytes = 1;
    for (uint64_t k = key >> 7; k; k >>= 7)
        bytes++;
    put_varint(b, key, pad && bytes < 5 ? 5 - bytes < pad ? 5 - bytes : pad : 0);
}

static void put_len(struct otus_buf *b, uint32_t num, const void *p, size_t n, struct rng *r)
{
    put_key(b, num, 2, rn(r, 30) == 0);
    int bytes = 1;
    for (size_t k = n >> 7; k; k >>= 7)
        bytes++;
    put_varint(b, n, rn(r, 30) == 0 && bytes < 5 ? 1 : 0);
    assert_int_equal(otus_buf_append(b, p, n), 0);
}

/* A field with a random value of wire type wt. */
static void put_random(struct otus_buf *b, struct rng *r, uint32_t num, unsigned wt)
{
    uint8_t raw[24];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)rnd(r);
    switch (wt) {
    case 0:
        put_key(b, num, 0, 0);
        put_varint(b, rand_int(r), 0);
        break;
    case 1:
        put_key(b, num, 1, 0);
        assert_int_equal(otus_buf_append(b, raw, 8), 0);
        break;
    case 5:
        put_key(b, num, 5, 0);
        assert_int_equal(otus_buf_append(b, raw, 4), 0);
        break;
    default:
        put_len(b, num, raw, rn(r, 20), r);
        break;
    }
}

struct wfield {
    uint32_t num;
    unsigned wt;
    const uint8_t *val;  /* value bytes after the key */
    size_t vlen;         /* of val */
    const uint8_t *data; /* LEN payload */
    size_t len;
};

/* Splits a well-formed message into its fields; returns the count (at most max). */
static size_t split_fields(const uint8_t *p, size_t len, struct wfield *out, size_t max)
{
    const uint8_t *end = p + len;
    size_t n = 0;
    while (p < end && n < max) {
        uint64_t key = 0, v = 0;
        int shift = 0;
        do
            key |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
        while (*p++ & 0x80);
        struct wfield *f = &out[n++];
        f->num = (uint32_t)(key >> 3);
        f->wt = key & 7;
        f->val = p;
        switch (f->wt) {
        case 0:
            while (*p++ & 0x80)
                ;
            break;
        case 1:
            p += 8;
            break;
        case 5:
            p += 4;
            break;
        default:
            shift = 0;
            do
                v |= (uint64_t)(*p & 0x7f) << shift, shift += 7;
            while (*p++ & 0x80);
            f->data = p;
            f->len = (size_t)v;
            p += v;
            break;
        }
        f->vlen = (size_t)(p - f->val);
    }
    return n;
}

static void rewrite(struct rng *r, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                    size_t len, struct otus_buf *out);

/* Emits one known or unknown field of d, rewritten. */
static void rewrite_field(struct rng *r, const ProtobufCMessageDescriptor *d,
                          const struct wfield *f, struct otus_buf *out)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, f->num);
    if (fd && rn(r, 300) == 0) {
        /* The wrong wire type: refused, except for bool, which takes any. */
        put_random(out, r, f->num, (unsigned[]){0, 1, 2, 5}[rn(r, 4)]);
        return;
    }
    if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE && f->wt == 2) {
        struct otus_buf sub;
        otus_buf_init(&sub, 0);
        unsigned how = rn(r, 24);
        if (how == 0 && fd->label != PROTOBUF_C_LABEL_REPEATED) {
            put_len(out, f->num, "", 0, r); /* an empty copy first: merged into */
        } else if (how == 1) {
            rewrite(r, fd->descriptor, f->data, f->len, &sub); /* another variant first */
            put_len(out, f->num, sub.data, sub.len, r);
            otus_buf_reset(&sub);
        }
        rewrite(r, fd->descriptor, f->data, f->len, &sub);
        put_len(out, f->num, sub.data, sub.len, r);
        if (how == 2 && fd->label != PROTOBUF_C_LABEL_REPEATED)
            put_len(out, f->num, "", 0, r); /* an empty copy after: merges this one in */
        otus_buf_free(&sub);
        return;
    }
    if (fd && fd->label == PROTOBUF_C_LABEL_REPEATED && f->wt == 2 &&
        fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_BYTES) {
        /* A packed scalar array: unpacked, split in two, or kept. */
        unsigned how = rn(r, 3);
        if (how == 0) {
            const uint8_t *q = f->data, *end = f->data + f->len;
            while (q < end) {
                if (fd->type == PROTOBUF_C_TYPE_UINT64) {
                    const uint8_t *s = q;
                    while (*q++ & 0x80)
                        ;
                    put_key(out, f->num, 0, 0);
                    assert_int_equal(otus_buf_append(out, s, (size_t)(q - s)), 0);
                } else {
                    put_key(out, f->num, 1, 0);
                    assert_int_equal(otus_buf_append(out, q, 8), 0);
                    q += 8;
                }
            }
            return;
        }
        if (how == 1) {
            size_t cut = 0;
            if (fd->type == PROTOBUF_C_TYPE_UINT64) {
                for (size_t i = 0; i < f->len; i++)
                    if (!(f->data[i] & 0x80) && rn(r, 2))
                        cut = i + 1;
            } else {
                cut = 8 * rn(r, (unsigned)(f->len / 8 + 1));
            }
            put_len(out, f->num, f->data, cut, r);
            put_len(out, f->num, f->data + cut, f->len - cut, r);
            return;
        }
    }
    if (fd && fd->label != PROTOBUF_C_LABEL_REPEATED && rn(r, 12) == 0)
        put_random(out, r, f->num, f->wt); /* an earlier value the later one replaces */
    if (f->wt == 2) {
        put_len(out, f->num, f->data, f->len, r);
    } else {
        put_key(out, f->num, f->wt, rn(r, 30) == 0);
        if (f->wt == 0 && rn(r, 20) == 0 && f->vlen < 10) {
            put_varint(out, 0, 0); /* replaced below: only the bytes matter */
            out->len--;
            uint8_t t[10];
            memcpy(t, f->val, f->vlen);
            t[f->vlen - 1] |= 0x80;
            t[f->vlen] = 0x00; /* the same value with one more (zero) group */
            assert_int_equal(otus_buf_append(out, t, f->vlen + 1), 0);
        } else {
            assert_int_equal(otus_buf_append(out, f->val, f->vlen), 0);
        }
    }
}

static void rewrite(struct rng *r, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                    size_t len, struct otus_buf *out)
{
    struct wfield *fs = malloc(sizeof(*fs) * (len / 2 + 1));
    assert_non_null(fs);
    size_t n = split_fields(p, len, fs, len / 2 + 1);
    if (rn(r, 4) == 0) {
        for (size_t i = n; i > 1; i--) {
            size_t j = rn(r, (unsigned)i);
            struct wfield t = fs[i - 1];
            fs[i - 1] = fs[j];
            fs[j] = t;
        }
    }
    for (size_t i = 0; i <= n; i++) {
        if (rn(r, 16) == 0)
            put_random(out, r, 100 + rn(r, 2000), (unsigned[]){0, 1, 2, 5}[rn(r, 4)]);
        if (i < n)
            rewrite_field(r, d, &fs[i], out);
    }
    free(fs);
}

static void rewritten_requests(void **state)
{
    (void)state;
    struct rng r = {0x13198a2e03707344ull};
    size_t results[4] = {0};
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        for (int i = 0; i < 400; i++) {
            struct otus_arena a;
            otus_arena_init(&a, 0, 0);
            size_t len;
            uint8_t *w;
            if (i % 4 == 0) {
                w = rich((enum otus_signal)s, &len);
            } else {
                ProtobufCMessage *m = rand_msg(&r, &a, otus_request_descriptor(s), 9);
                w = pack(m, &len);
            }
            struct otus_buf b;
            otus_buf_init(&b, 0);
            rewrite(&r, otus_request_descriptor(s), w, len, &b);
            results[expect_agree((enum otus_signal)s, (const uint8_t *)b.data, b.len)]++;
            otus_buf_free(&b);
            free(w);
            otus_arena_destroy(&a);
        }
    }
    /* The rewrites mostly keep requests valid; wire type changes make some invalid. */
    assert_true(results[OTLP_DIFF_ACCEPTED] > 800);
    assert_true(results[OTLP_DIFF_REFUSED] > 100);
}

/* ---- hand-written bytes ----------------------------------------------------------------- */

typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

static void f_varint(struct otus_buf *b, uint32_t num, uint64_t v)
{
    put_key(b, num, 0, 0);
    put_varint(b, v, 0);
}

static void f_i64(struct otus_buf *b, uint32_t num, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put_key(b, num, 1, 0);
    assert_int_equal(otus_buf_append(b, t, 8), 0);
}

static void f_i32(struct otus_buf *b, uint32_t num, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put_key(b, num, 5, 0);
    assert_int_equal(otus_buf_append(b, t, 4), 0);
}

static void f_len(struct otus_buf *b, uint32_t num, const void *p, size_t n)
{
    put_key(b, num, 2, 0);
    put_varint(b, n, 0);
    assert_int_equal(otus_buf_append(b, p, n), 0);
}

static void f_str(struct otus_buf *b, uint32_t num, const char *s)
{
    f_len(b, num, s, strlen(s));
}

static void raw(struct otus_buf *b, const void *p, size_t n)
{
    assert_int_equal(otus_buf_append(b, p, n), 0);
}

/* Replaces b's contents by one field num holding them, len times over (outermost first). */
static void wrap(struct otus_buf *b, const uint32_t *path, size_t depth)
{
    for (size_t i = depth; i-- > 0;) {
        struct otus_buf t;
        otus_buf_init(&t, 0);
        f_len(&t, path[i], b->data, b->len);
        otus_buf_free(b);
        *b = t;
    }
}

/* A logs request whose only log record is rec. */
static void logs_of_record(struct otus_buf *rec)
{
    static const uint32_t path[] = {1, 2, 2};
    wrap(rec, path, 3);
}

static LogRecord *the_record(otus_logs_req *r)
{
    assert_int_equal(r->n_resource_logs, 1);
    assert_int_equal(r->resource_logs[0]->n_scope_logs, 1);
    assert_int_equal(r->resource_logs[0]->scope_logs[0]->n_log_records, 1);
    return r->resource_logs[0]->scope_logs[0]->log_records[0];
}

static void empty_requests(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        expect_accepted((enum otus_signal)s, NULL, 0);
        ProtobufCMessage *m = NULL;
        assert_int_equal(otus_otlp_decode((enum otus_signal)s, NULL, 0, &a, &m), 0);
        assert_ptr_equal(m->descriptor, otus_request_descriptor(s));
        assert_int_equal(((otus_logs_req *)m)->n_resource_logs, 0);
        assert_null(((otus_logs_req *)m)->resource_logs);
        static const uint8_t empty_children[] = {0x0a, 0x00, 0x0a, 0x00};
        expect_accepted((enum otus_signal)s, empty_children, sizeof(empty_children));
    }
    ProtobufCMessage *m = NULL;
    assert_int_equal(otus_otlp_decode((enum otus_signal)7, NULL, 0, &a, &m), OTUS_ERR_INVALID);
    otus_arena_destroy(&a);
}

static void unknown_fields_and_keys(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    /* Unknown fields of the four wire types, before and after known ones. */
    f_varint(&b, 4, 300);
    f_i64(&b, 4, 1);
    f_len(&b, 4, "\x01\x02", 2);
    f_i32(&b, 4, 7);
    f_i64(&b, 1, 42); /* time_unix_nano */
    f_varint(&b, 99, 1);
    f_varint(&b, 536870911, 1);                       /* the largest field number */
    static const uint8_t tag0[] = {0x80, 0x00, 0x05}; /* field 0, non-minimal: unknown */
    raw(&b, tag0, sizeof(tag0));
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    LogRecord *lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_true(lr->time_unix_nano == 42);
    /* Kept in order with the bytes after their keys (a length with its value), as
     * protobuf-c keeps them, but for field 0. */
    assert_int_equal(lr->base.n_unknown_fields, 6);
    const ProtobufCMessageUnknownField *u = lr->base.unknown_fields;
    static const uint32_t tags[] = {4, 4, 4, 4, 99, 536870911};
    static const ProtobufCWireType wts[] = {
        PROTOBUF_C_WIRE_TYPE_VARINT,          PROTOBUF_C_WIRE_TYPE_64BIT,
        PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, PROTOBUF_C_WIRE_TYPE_32BIT,
        PROTOBUF_C_WIRE_TYPE_VARINT,          PROTOBUF_C_WIRE_TYPE_VARINT};
    static const size_t lens[] = {2, 8, 3, 4, 1, 1};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(u[k].tag, tags[k]);
        assert_int_equal(u[k].wire_type, wts[k]);
        assert_int_equal(u[k].len, lens[k]);
    }
    assert_memory_equal(u[0].data, "\xac\x02", 2);
    assert_memory_equal(u[2].data, "\x02\x01\x02", 3);
    otus_buf_free(&b);

    /* Refused however they are placed: groups, wire types 6 and 7, field 0, a key of
     * more than 5 bytes, a truncated key. */
    static const uint8_t *const bad[] = {
        (const uint8_t *)"\x23\x24", (const uint8_t *)"\x0b\x0c",
        (const uint8_t *)"\x26\x00", (const uint8_t *)"\x27\x00",
        (const uint8_t *)"\x00\x00", (const uint8_t *)"\x88\x80\x80\x80\x80\x00\x00",
        (const uint8_t *)"\x88\x80", (const uint8_t *)"\x0c",
    };
    static const size_t bad_len[] = {2, 2, 2, 2, 2, 7, 2, 1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        otus_buf_init(&b, 0);
        raw(&b, bad[i], bad_len[i]);
        for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
            expect_refused((enum otus_signal)s, (uint8_t *)b.data, b.len);
        logs_of_record(&b);
        expect_refused(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
        otus_buf_free(&b);
    }

    /* A key of exactly 5 bytes is accepted; so is a 5-byte length prefix. */
    otus_buf_init(&b, 0);
    static const uint8_t long_key[] = {0x89, 0x80, 0x80, 0x80, 0x00, 9, 0, 0, 0, 0, 0, 0, 0};
    raw(&b, long_key, sizeof(long_key));
    static const uint8_t long_len[] = {0x1a, 0x82, 0x80, 0x80, 0x80, 0x00, 'o', 'k'};
    raw(&b, long_len, sizeof(long_len));
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_true(lr->time_unix_nano == 9);
    assert_string_equal(lr->severity_text, "ok");
    otus_buf_free(&b);

    /* A 6-byte length prefix, a length past the end, one above INT_MAX. */
    static const uint8_t *const bad_len_pfx[] = {
        (const uint8_t *)"\x1a\x82\x80\x80\x80\x80\x00ok",
        (const uint8_t *)"\x1a\x03ok",
        (const uint8_t *)"\x1a\x80\x80\x80\x80\x08",
        (const uint8_t *)"\x1a",
    };
    static const size_t bad_len_pfx_n[] = {9, 4, 6, 1};
    for (size_t i = 0; i < 4; i++)
        expect_refused(OTUS_SIGNAL_LOGS, bad_len_pfx[i], bad_len_pfx_n[i]);

    /* Varints: 10 bytes accepted (the last keeps its low bit only), 11 refused. */
    otus_buf_init(&b, 0);
    static const uint8_t v10[] = {0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    raw(&b, v10, sizeof(v10)); /* dropped_attributes_count: the low 32 bits */
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_int_equal(lr->dropped_attributes_count, 0xffffffffu);
    otus_buf_free(&b);
    static const uint8_t v11[] = {0x38, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    otus_buf_init(&b, 0);
    raw(&b, v11, sizeof(v11));
    logs_of_record(&b);
    expect_refused(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    otus_buf_free(&b);
    /* Truncated fixed-size values. */
    expect_refused(OTUS_SIGNAL_LOGS, (const uint8_t *)"\x09\x00\x00", 3);
    expect_refused(OTUS_SIGNAL_LOGS, (const uint8_t *)"\x0d\x00\x00\x00", 4);
    expect_refused(OTUS_SIGNAL_LOGS, (const uint8_t *)"\x08\x80", 2);
    otus_arena_destroy(&a);
}

/* Known fields with the wrong wire type are refused; bool takes any. */
static void wire_types(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf b;
    /* LogRecord fields: 1 fixed64, 2 enum, 3 string, 5 message, 6 repeated message,
     * 7 uint32, 8 fixed32, 9 bytes. */
    static const uint32_t nums[] = {1, 2, 3, 5, 6, 7, 8, 9};
    static const unsigned right[] = {1, 0, 2, 2, 2, 0, 5, 2};
    for (size_t i = 0; i < 8; i++) {
        for (unsigned wt = 0; wt < 6; wt++) {
            if (wt == 3 || wt == 4)
                continue;
            otus_buf_init(&b, 0);
            if (wt == 0)
                f_varint(&b, nums[i], 1);
            else if (wt == 1)
                f_i64(&b, nums[i], 1);
            else if (wt == 2)
                f_len(&b, nums[i], "", 0);
            else
                f_i32(&b, nums[i], 1);
            logs_of_record(&b);
            assert_int_equal(expect_agree(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len),
                             wt == right[i] ? OTLP_DIFF_ACCEPTED : OTLP_DIFF_REFUSED);
            otus_buf_free(&b);
        }
    }
    /* AnyValue.bool_value (2) as the body, in every wire type. */
    static const struct {
        const char *bytes;
        size_t n;
        int want;
    } bools[] = {
        {"\x10\x00", 2, 0},
        {"\x10\x02", 2, 1},
        {"\x10\x80\x00", 3, 0},
        {"\x10\x80\x01", 3, 1},
        {"\x12\x00", 2, 0},
        {"\x12\x01\x00", 3, 1},
        {"\x12\x01\x01", 3, 1},
        {"\x11\x00\x00\x00\x00\x00\x00\x00\x80", 9, 0},
        {"\x11\x00\x00\x00\x00\x00\x00\x00\x01", 9, 1},
        {"\x15\x00\x00\x00\x00", 5, 0},
        {"\x15\x00\x00\x02\x00", 5, 1},
    };
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        otus_buf_init(&b, 0);
        f_len(&b, 5, bools[i].bytes, bools[i].n);
        logs_of_record(&b);
        expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
        LogRecord *lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
        assert_int_equal(lr->body->value_case, AV(BOOL_VALUE));
        assert_int_equal(lr->body->bool_value, bools[i].want);
        otus_buf_free(&b);
    }
    otus_arena_destroy(&a);
}

static void last_value_wins(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    f_str(&b, 3, "INFO");
    f_varint(&b, 2, 9);
    f_i64(&b, 1, 1);
    f_len(&b, 9, "0123456789abcdef", 16);
    f_str(&b, 3, "WARN");
    f_varint(&b, 2, 13);
    f_i64(&b, 1, 2);
    f_len(&b, 9, "", 0);
    f_str(&b, 12, "e");
    f_str(&b, 12, "");
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    LogRecord *lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_string_equal(lr->severity_text, "WARN");
    assert_int_equal(lr->severity_number, 13);
    assert_true(lr->time_unix_nano == 2);
    assert_int_equal(lr->trace_id.len, 0);
    assert_null(lr->trace_id.data);
    assert_string_equal(lr->event_name, "");
    assert_ptr_not_equal(lr->event_name, protobuf_c_empty_string); /* present, empty */
    otus_buf_free(&b);
    otus_arena_destroy(&a);
}

/* A oneof member replaces the earlier one (never merged). */
static void oneof_replaced(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf body, b;
    otus_buf_init(&body, 0);
    f_len(&body, 7, "\x01\x02\x03", 3);
    f_varint(&body, 3, 5);
    f_str(&body, 1, "s");
    f_len(&body, 6, "\x0a\x03\x0a\x01k", 5);
    f_varint(&body, 2, 1);
    otus_buf_init(&b, 0);
    f_len(&b, 5, body.data, body.len);
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    LogRecord *lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_int_equal(lr->body->value_case, AV(BOOL_VALUE));
    assert_int_equal(lr->body->bool_value, 1);
    otus_buf_free(&b);
    otus_buf_free(&body);

    /* Metric.data: gauge, then sum: only the sum is left, not merged with anything. */
    struct otus_buf m;
    otus_buf_init(&m, 0);
    f_str(&m, 1, "m");
    f_len(&m, 5, "", 0);         /* an empty gauge */
    f_len(&m, 7, "\x18\x01", 2); /* sum { is_monotonic: true } */
    f_len(&m, 9, "", 0);         /* histogram */
    f_len(&m, 7, "\x10\x02", 2); /* sum { aggregation_temporality: 2 } */
    static const uint32_t path[] = {1, 2, 2};
    wrap(&m, path, 3);
    expect_accepted(OTUS_SIGNAL_METRICS, (uint8_t *)m.data, m.len);
    ProtobufCMessage *out = NULL;
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_METRICS, (uint8_t *)m.data, m.len, &a, &out), 0);
    Opentelemetry__Proto__Metrics__V1__Metric *mt =
        ((otus_metrics_req *)out)->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_int_equal(mt->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
    assert_int_equal(mt->sum->aggregation_temporality, 2);
    assert_int_equal(mt->sum->is_monotonic, 0);
    otus_buf_free(&m);

    /* NumberDataPoint and Exemplar value oneofs; histogram optional fields. */
    struct otus_buf dp;
    otus_buf_init(&dp, 0);
    f_i64(&dp, 4, 0x4000000000000000ull); /* as_double 2.0 */
    f_i64(&dp, 6, (uint64_t)-3);          /* as_int -3 */
    f_len(&dp, 5, "\x19\x00\x00\x00\x00\x00\x00\xf0\x3f\x31\x01\x00\x00\x00\x00\x00\x00\x00",
          18); /* exemplar: as_double 1.0, then as_int 1 */
    static const uint32_t dpath[] = {1, 2, 2, 5, 1};
    wrap(&dp, dpath, 5);
    expect_accepted(OTUS_SIGNAL_METRICS, (uint8_t *)dp.data, dp.len);
    otus_buf_free(&dp);
    otus_arena_destroy(&a);
}

/* A body that occurs twice, as (earlier, later) AnyValue payloads. */
static enum otlp_diff_result body_twice(struct otus_arena *a, const char *e, size_t ne,
                                        const char *l, size_t nl, AnyValue **out)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    f_len(&b, 5, e, ne);
    f_len(&b, 5, l, nl);
    logs_of_record(&b);
    enum otlp_diff_result r = expect_agree(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    *out =
        r == OTLP_DIFF_ACCEPTED ? the_record(decode_logs(a, (uint8_t *)b.data, b.len))->body : NULL;
    otus_buf_free(&b);
    return r;
}

/* protobuf-c's merge_messages(), with all its particulars. */
static void singular_messages_merge(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    AnyValue *v;
    /* AnyValue: the later value stands; a missing one is taken from the earlier copy,
     * except a string or empty bytes (then there is no value); two empty copies are
     * refused. */
    assert_int_equal(body_twice(&a, "\x18\x05", 2, "\x0a\x01x", 3, &v), OTLP_DIFF_ACCEPTED);
    assert_string_equal(v->string_value, "x");
    assert_int_equal(body_twice(&a, "\x18\x05", 2, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(INT_VALUE));
    assert_true(v->int_value == 5);
    assert_int_equal(body_twice(&a, "\x0a\x01x", 3, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, 0);
    assert_int_equal(body_twice(&a, "\x3a\x00", 2, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, 0);
    assert_int_equal(body_twice(&a, "\x3a\x01z", 3, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(BYTES_VALUE));
    assert_int_equal(v->bytes_value.data[0], 'z');
    assert_int_equal(body_twice(&a, "\x32\x00", 2, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(KVLIST_VALUE));
    assert_int_equal(body_twice(&a, "\x2a\x00", 2, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(ARRAY_VALUE));
    assert_int_equal(body_twice(&a, "\x2a\x00", 2, "\x20\x01", 2, &v), OTLP_DIFF_REFUSED);
    assert_int_equal(body_twice(&a, "", 0, "", 0, &v), OTLP_DIFF_REFUSED);
    assert_int_equal(body_twice(&a, "", 0, "\x10\x01", 2, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(body_twice(&a, "\x10\x01", 2, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(BOOL_VALUE));
    assert_int_equal(body_twice(&a, "\x21\0\0\0\0\0\0\0\0", 9, "", 0, &v), OTLP_DIFF_ACCEPTED);
    assert_int_equal(v->value_case, AV(DOUBLE_VALUE));

    /* Resource and scope: repeated fields concatenated, strings kept unless the later
     * copy has one (even empty), other scalars from the later copy even if absent. */
    struct otus_buf rl, res1, res2, sc1, sc2;
    otus_buf_init(&res1, 0);
    f_len(&res1, 1, "\x0a\x01k\x12\x03\x0a\x01v", 8);
    f_varint(&res1, 2, 4);
    otus_buf_init(&res2, 0);
    f_len(&res2, 1, "\x0a\x01j", 3);
    f_len(&res2, 3, "\x12\x01t", 3);
    otus_buf_init(&sc1, 0);
    f_str(&sc1, 1, "name");
    f_str(&sc1, 2, "1.0");
    f_varint(&sc1, 4, 2);
    otus_buf_init(&sc2, 0);
    f_str(&sc2, 2, "");
    otus_buf_init(&rl, 0);
    f_len(&rl, 1, res1.data, res1.len);
    struct otus_buf sl;
    otus_buf_init(&sl, 0);
    f_len(&sl, 1, sc1.data, sc1.len);
    f_len(&sl, 2, "", 0);
    f_len(&sl, 1, sc2.data, sc2.len);
    f_len(&rl, 2, sl.data, sl.len);
    f_len(&rl, 1, res2.data, res2.len);
    static const uint32_t one[] = {1};
    wrap(&rl, one, 1);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)rl.data, rl.len);
    otus_logs_req *req = decode_logs(&a, (uint8_t *)rl.data, rl.len);
    Resource *r = req->resource_logs[0]->resource;
    assert_int_equal(r->n_attributes, 2);
    assert_string_equal(r->attributes[0]->key, "k");
    assert_string_equal(r->attributes[1]->key, "j");
    assert_int_equal(r->dropped_attributes_count, 0);
    assert_int_equal(r->n_entity_refs, 1);
    Scope *s = req->resource_logs[0]->scope_logs[0]->scope;
    assert_string_equal(s->name, "name");
    assert_string_equal(s->version, "");
    assert_int_equal(s->dropped_attributes_count, 0);
    otus_buf_free(&rl);
    otus_buf_free(&sl);
    otus_buf_free(&res1);
    otus_buf_free(&res2);
    otus_buf_free(&sc1);
    otus_buf_free(&sc2);

    /* Span.status: message kept, code from the later copy. */
    struct otus_buf sp;
    otus_buf_init(&sp, 0);
    f_len(&sp, 15,
          "\x12\x04"
          "boom\x18\x02",
          8);
    f_len(&sp, 15, "\x18\x01", 2);
    f_len(&sp, 15, "", 0);
    static const uint32_t spath[] = {1, 2, 2};
    wrap(&sp, spath, 3);
    expect_accepted(OTUS_SIGNAL_TRACES, (uint8_t *)sp.data, sp.len);
    ProtobufCMessage *out = NULL;
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_TRACES, (uint8_t *)sp.data, sp.len, &a, &out), 0);
    Opentelemetry__Proto__Trace__V1__Status *st =
        ((otus_traces_req *)out)->resource_spans[0]->scope_spans[0]->spans[0]->status;
    assert_string_equal(st->message, "boom");
    assert_int_equal(st->code, 0);
    otus_buf_free(&sp);

    /* Exponential histogram buckets: counts concatenated, offset from the later copy. */
    struct otus_buf dp;
    otus_buf_init(&dp, 0);
    f_len(&dp, 8, "\x08\x05\x12\x02\x01\x02", 6);
    f_len(&dp, 8, "\x10\x03", 2);
    static const uint32_t dpath[] = {1, 2, 2, 10, 1};
    wrap(&dp, dpath, 5);
    expect_accepted(OTUS_SIGNAL_METRICS, (uint8_t *)dp.data, dp.len);
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_METRICS, (uint8_t *)dp.data, dp.len, &a, &out),
                     0);
    Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *bk =
        ((otus_metrics_req *)out)
            ->resource_metrics[0]
            ->scope_metrics[0]
            ->metrics[0]
            ->exponential_histogram->data_points[0]
            ->positive;
    assert_int_equal(bk->offset, 0);
    assert_int_equal(bk->n_bucket_counts, 3);
    assert_true(bk->bucket_counts[0] == 1 && bk->bucket_counts[1] == 2 &&
                bk->bucket_counts[2] == 3);
    otus_buf_free(&dp);
    otus_arena_destroy(&a);
}

/* Packed and unpacked repeated scalars, mixed, in order. */
static void packed_and_unpacked(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf dp;
    otus_buf_init(&dp, 0);
    static const uint8_t two[16] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    f_len(&dp, 6, two, 16); /* bucket_counts packed: 1, 2 */
    f_i64(&dp, 6, 3);       /* unpacked: 3 */
    f_len(&dp, 6, "", 0);   /* empty packed */
    f_len(&dp, 6, two + 8, 8);
    f_i64(&dp, 7, 0x3ff0000000000000ull); /* explicit_bounds unpacked: 1.0 */
    f_len(&dp, 7, "\0\0\0\0\0\0\0\x40", 8);
    static const uint32_t path[] = {1, 2, 2, 9, 1};
    wrap(&dp, path, 5);
    expect_accepted(OTUS_SIGNAL_METRICS, (uint8_t *)dp.data, dp.len);
    ProtobufCMessage *out = NULL;
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_METRICS, (uint8_t *)dp.data, dp.len, &a, &out),
                     0);
    Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *h = ((otus_metrics_req *)out)
                                                                   ->resource_metrics[0]
                                                                   ->scope_metrics[0]
                                                                   ->metrics[0]
                                                                   ->histogram->data_points[0];
    assert_int_equal(h->n_bucket_counts, 4);
    assert_true(h->bucket_counts[0] == 1 && h->bucket_counts[1] == 2 && h->bucket_counts[2] == 3 &&
                h->bucket_counts[3] == 2);
    assert_int_equal(h->n_explicit_bounds, 2);
    assert_true(h->explicit_bounds[0] == 1.0 && h->explicit_bounds[1] == 2.0);
    otus_buf_free(&dp);

    /* Packed varints (exponential histogram buckets) and bad packed payloads. */
    struct otus_buf bk;
    otus_buf_init(&bk, 0);
    f_len(&bk, 2, "\x01\xff\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 13);
    f_varint(&bk, 2, 7);
    f_len(&bk, 2, "", 0);
    struct otus_buf edp;
    otus_buf_init(&edp, 0);
    f_len(&edp, 9, bk.data, bk.len);
    static const uint32_t epath[] = {1, 2, 2, 10, 1};
    wrap(&edp, epath, 5);
    expect_accepted(OTUS_SIGNAL_METRICS, (uint8_t *)edp.data, edp.len);
    otus_buf_free(&edp);
    otus_buf_free(&bk);
    static const struct {
        uint32_t num;
        const char *payload;
        size_t n;
        uint32_t field_of; /* 9: HistogramDataPoint, 2: Buckets */
    } bad[] = {
        {6, "\x01\x02\x03", 3, 9},       /* fixed64 packed, not a multiple of 8 */
        {7, "\0\0\0\0\0\0\0\0\0", 9, 9}, /* double packed, not a multiple of 8 */
        {2, "\x01\x80", 2, 2},           /* varint packed, unterminated */
        {2, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, 2}, /* 11-byte varint */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct otus_buf b;
        otus_buf_init(&b, 0);
        f_len(&b, bad[i].num, bad[i].payload, bad[i].n);
        if (bad[i].field_of == 2) {
            wrap(&b, (const uint32_t[]){8}, 1);
            wrap(&b, epath, 5);
        } else {
            wrap(&b, path, 5);
        }
        expect_refused(OTUS_SIGNAL_METRICS, (uint8_t *)b.data, b.len);
        otus_buf_free(&b);
    }
    otus_arena_destroy(&a);
}

/* Fields in any order give the same request. */
static void fields_out_of_order(void **state)
{
    (void)state;
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    f_str(&b, 12, "ev");
    f_i64(&b, 11, 11);
    f_len(&b, 10, "12345678", 8);
    f_i32(&b, 8, 1);
    f_varint(&b, 7, 3);
    f_len(&b, 6,
          "\x0a\x01"
          "a",
          3);
    f_len(&b, 5,
          "\x0a\x01"
          "b",
          3);
    f_len(&b, 6,
          "\x0a\x01"
          "c",
          3);
    f_str(&b, 3, "t");
    f_varint(&b, 2, 5);
    f_i64(&b, 1, 1);
    logs_of_record(&b);
    expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
    LogRecord *lr = the_record(decode_logs(&a, (uint8_t *)b.data, b.len));
    assert_int_equal(lr->n_attributes, 2);
    assert_string_equal(lr->attributes[0]->key, "a");
    assert_string_equal(lr->attributes[1]->key, "c");
    assert_string_equal(lr->event_name, "ev");
    assert_true(lr->observed_time_unix_nano == 11);
    otus_buf_free(&b);
    otus_arena_destroy(&a);
}

/* An AnyValue nested depth deep as the body of a log record: arrays or key-value
 * lists around an int. */
static void nested_body(struct otus_buf *b, size_t depth, int kvlist)
{
    otus_buf_init(b, 0);
    f_varint(b, 3, 1);
    for (size_t i = 1; i < depth; i++) {
        struct otus_buf t;
        otus_buf_init(&t, 0);
        if (kvlist) {
            struct otus_buf kvb;
            otus_buf_init(&kvb, 0);
            f_str(&kvb, 1, "k");
            f_len(&kvb, 2, b->data, b->len);
            struct otus_buf list;
            otus_buf_init(&list, 0);
            f_len(&list, 1, kvb.data, kvb.len);
            f_len(&t, 6, list.data, list.len);
            otus_buf_free(&kvb);
            otus_buf_free(&list);
        } else {
            struct otus_buf list;
            otus_buf_init(&list, 0);
            f_len(&list, 1, b->data, b->len);
            f_len(&t, 5, list.data, list.len);
            otus_buf_free(&list);
        }
        otus_buf_free(b);
        *b = t;
    }
    wrap(b, (const uint32_t[]){5}, 1);
    logs_of_record(b);
}

static size_t varint_size(size_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* A logs request whose log body is an empty AnyValue inside depth - 1 arrays, written
 * front to back (wrap() would copy the whole input once per level). */
static void deep_logs(struct otus_buf *b, size_t depth)
{
    size_t n = 4 + 2 * (depth - 1);
    uint32_t *nums = malloc(n * sizeof(*nums));
    size_t *len = malloc(n * sizeof(*len));
    assert_true(nums && len);
    nums[0] = 1; /* resource_logs */
    nums[1] = 2; /* scope_logs */
    nums[2] = 2; /* log_records */
    nums[3] = 5; /* body */
    for (size_t i = 4; i < n; i += 2) {
        nums[i] = 5;     /* AnyValue.array_value */
        nums[i + 1] = 1; /* ArrayValue.values */
    }
    len[n - 1] = 0;
    for (size_t i = n - 1; i-- > 0;)
        len[i] = 1 + varint_size(len[i + 1]) + len[i + 1];
    otus_buf_init(b, 0);
    for (size_t i = 0; i < n; i++) {
        put_key(b, nums[i], 2, 0);
        put_varint(b, len[i], 0);
    }
    free(nums);
    free(len);
}

static void nesting_limit(void **state)
{
    (void)state;
    for (int kvlist = 0; kvlist < 2; kvlist++) {
        struct otus_buf b;
        nested_body(&b, OTUS_OTLP_MAX_DEPTH, kvlist);
        expect_accepted(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len);
        otus_buf_free(&b);
        nested_body(&b, OTUS_OTLP_MAX_DEPTH + 1, kvlist);
        assert_int_equal(expect_agree(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len),
                         OTLP_DIFF_TOO_DEEP);
        struct otus_arena a;
        otus_arena_init(&a, 0, 0);
        ProtobufCMessage *m = NULL;
        assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len, &a, &m),
                         OTUS_ERR_PARSE);
        assert_null(m);
        otus_buf_free(&b);
        otus_arena_destroy(&a);
    }
    /* Far deeper than protobuf-c's stack would survive: refused at once, whatever
     * the limit asked for below the input's depth. */
    struct otus_buf b;
    deep_logs(&b, 200000);
    struct otus_arena a;
    otus_arena_init(&a, 0, 0);
    ProtobufCMessage *m = NULL;
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len, &a, &m),
                     OTUS_ERR_PARSE);
    assert_int_equal(
        otus__otlp_decode_depth(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len, &a, 1000, &m),
        OTUS_ERR_PARSE);
    assert_null(m);
    otus_buf_free(&b);
    /* The limit is on AnyValues, not bytes: the same depth is accepted when lifted. */
    deep_logs(&b, 300);
    assert_int_equal(otus_otlp_decode(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len, &a, &m),
                     OTUS_ERR_PARSE);
    assert_int_equal(expect_agree(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len), OTLP_DIFF_TOO_DEEP);
    assert_int_equal(
        otus__otlp_decode_depth(OTUS_SIGNAL_LOGS, (uint8_t *)b.data, b.len, &a, 300, &m), 0);
    otus_buf_free(&b);
    otus_arena_destroy(&a);
}

/* A full arena is OTUS_ERR_TOO_BIG, whatever the point where it fills. */
static void arena_exhausted(void **state)
{
    (void)state;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        size_t len;
        uint8_t *w = rich((enum otus_signal)s, &len);
        int ok = 0;
        for (size_t max = 512; max < 64 * 1024 && !ok; max += 96) {
            struct otus_arena a;
            otus_arena_init(&a, 256, max);
            ProtobufCMessage *m = NULL;
            int rc = otus_otlp_decode((enum otus_signal)s, w, len, &a, &m);
            if (rc == 0) {
                ok = 1;
            } else {
                assert_int_equal(rc, OTUS_ERR_TOO_BIG);
                assert_true(a.exhausted);
                assert_null(m);
            }
            otus_arena_destroy(&a);
        }
        assert_true(ok);
        free(w);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rich_requests),           cmocka_unit_test(empty_requests),
    cmocka_unit_test(unknown_fields_and_keys), cmocka_unit_test(wire_types),
    cmocka_unit_test(last_value_wins),         cmocka_unit_test(oneof_replaced),
    cmocka_unit_test(singular_messages_merge), cmocka_unit_test(packed_and_unpacked),
    cmocka_unit_test(fields_out_of_order),     cmocka_unit_test(nesting_limit),
    cmocka_unit_test(arena_exhausted),         cmocka_unit_test(random_requests),
    cmocka_unit_test(rewritten_requests),      cmocka_unit_test(truncations_and_flips),
};

OTUS_TEST_MAIN(tests)
