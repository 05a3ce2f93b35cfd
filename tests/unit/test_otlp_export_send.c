/*
 * test_otlp_export_send.c: the OTLP exporter's ops as the core calls them (create,
 * encode, send, drain, destroy), against the agent's own HTTP server on 127.0.0.1 on
 * the same libuv loop, answering from a script. Each case checks how the send is
 * settled (sent, failed, dropped) and what reached the server.
 *
 * Timing assertions are loose: the machine is shared.
 */
#include "otus_test.h"

#include <uv.h>

#include <otus.h>

#include "agent/http_server.h"
#include "agent/self_metrics.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/exporter.h"
#include "exporters/otlp/otlp.h"

extern const struct otus_exporter_ops otus_otlp_exporter, otus_jaeger_exporter;

struct answer {
    int status;
    const char *extra; /* extra header lines */
    int64_t rejected;  /* 200: partial_success */
};

struct server {
    struct otus_http_server *srv;
    int port;
    const struct answer *script;
    size_t nscript, next;
    unsigned requests;
    uint64_t at_ms[16];   /* loop time of each request */
    struct otus_buf last; /* the last body, decompressed */
    char last_auth[64];
};

static uv_loop_t loop;

static void handle(struct otus_http_request *req, void *ctx)
{
    struct server *s = ctx;
    if (s->requests < 16)
        s->at_ms[s->requests] = uv_now(&loop);
    s->requests++;
    otus_buf_reset(&s->last);
    const char *ce = otus_http_request_header(req, "content-encoding");
    if (ce && strcmp(ce, "gzip") == 0)
        assert_int_equal(otus_gzip_decompress(req->body.data, req->body.len, 64u << 20, &s->last),
                         0);
    else
        otus_buf_append(&s->last, req->body.data, req->body.len);
    const char *auth = otus_http_request_header(req, "authorization");
    snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth ? auth : "");
    struct answer a = s->next < s->nscript ? s->script[s->next++] : (struct answer){200, NULL, 0};
    if (a.status == 200 && a.rejected) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
            OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
        ps.rejected_spans = a.rejected;
        ps.error_message = "some spans were bad";
        Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
            OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
        r.partial_success = &ps;
        uint8_t buf[128];
        size_t n = protobuf_c_message_pack(&r.base, buf);
        otus_http_respond(req, 200, "application/x-protobuf", buf, n, a.extra);
        return;
    }
    otus_http_respond(req, a.status, "application/x-protobuf", "", 0, a.extra);
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

static void server_start(struct server *s, const struct answer *script, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->script = script;
    s->nscript = n;
    otus_buf_init(&s->last, 0);
    struct otus_http_server_opts so = {.name = "test", .max_body_bytes = 64u << 20};
    assert_int_equal(otus_http_server_create(&loop, "127.0.0.1:0", &so, &s->srv, NULL), 0);
    assert_int_equal(otus_http_server_route(s->srv, "/v1/traces", 0, handle, s), 0);
    s->port = otus_http_server_port(s->srv);
}

static void server_stop(struct server *s)
{
    int done = 0;
    otus_http_server_close(s->srv, closed, &done);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    otus_buf_free(&s->last);
}

/* A traces batch of n spans, decoded as the receiver does it. */
static struct otus_batch *spans(int n)
{
    otus_traces_req req =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
        OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
        OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    Opentelemetry__Proto__Trace__V1__Span sp[8], *spp[8];
    uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t sid[8][8];
    for (int i = 0; i < n; i++) {
        opentelemetry__proto__trace__v1__span__init(&sp[i]);
        memset(sid[i], i + 1, 8);
        sp[i].trace_id = (ProtobufCBinaryData){16, tid};
        sp[i].span_id = (ProtobufCBinaryData){8, sid[i]};
        sp[i].name = "op";
        spp[i] = &sp[i];
    }
    ss.spans = spp;
    ss.n_spans = (size_t)n;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[] = {&ss};
    rs.scope_spans = ssp;
    rs.n_scope_spans = 1;
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[] = {&rs};
    req.resource_spans = rsp;
    req.n_resource_spans = 1;
    uint8_t buf[4096];
    size_t len = protobuf_c_message_pack(&req.base, buf);
    struct otus_batch *b = otus_batch_new(OTUS_SIGNAL_TRACES, 4096, 0, NULL);
    b->req.msg = protobuf_c_message_unpack(
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
        otus_arena_protobuf(&b->arena), len, buf);
    assert_non_null(b->req.msg);
    b->records = otus_batch_count_records(b);
    return b;
}

struct fixture {
    const struct otus_exporter_ops *ops;
    struct otlp_cfg cfg;
    struct otus_self_metrics *metrics;
    void *self;
};

struct tsend {
    struct otus_send s;
    struct otus_batch *b[2];
    int done;
    struct otus_send_result r;
};

static void tsend_done(struct otus_send *s, const struct otus_send_result *r)
{
    struct tsend *t = (struct tsend *)s;
    assert_int_equal(t->done, 0);
    assert_int_equal(r->sent + r->failed + r->dropped, s->records);
    t->done = 1;
    t->r = *r;
}

static void fixture_up(struct fixture *f, const struct otus_exporter_ops *ops, int port,
                       const char *yaml_extra)
{
    memset(f, 0, sizeof(*f));
    f->ops = ops;
    struct otus_cfg_err err;
    assert_int_equal(otus_cfg_defaults(ops->config, &f->cfg, &err), 0);
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "endpoint: http://127.0.0.1:%d%s\nretry:\n  initial_interval: 10ms\n"
             "  max_interval: 50ms\n%s",
             port, ops == &otus_jaeger_exporter ? "/v1/traces" : "", yaml_extra);
    struct otus_cfg_doc d;
    assert_int_equal(otus_cfg_doc_load_string(&d, "t", yaml, &err), 0);
    assert_int_equal(otus_cfg_apply(&d, otus_cfg_root(&d), "x", ops->config, &f->cfg, &err), 0);
    otus_cfg_doc_free(&d);
    assert_int_equal(ops->check(&f->cfg, &err), 0);
    f->metrics = otus_self_metrics_create();
    struct otus_exporter_env env = {
        .loop = &loop, .name = "t", .data_dir = "/tmp", .metrics = f->metrics};
    const char *detail = NULL;
    assert_int_equal(ops->create(&env, &f->cfg, &f->self, &detail), 0);
}

static void fixture_down(struct fixture *f)
{
    int done = 0;
    f->ops->destroy(f->self, closed, &done);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    otus_cfg_free(f->ops->config, &f->cfg);
    otus_self_metrics_destroy(f->metrics);
}

static void send_and_wait(struct fixture *f, struct tsend *t, int nbatches)
{
    memset(t, 0, sizeof(*t));
    size_t records = 0;
    for (int i = 0; i < nbatches; i++) {
        t->b[i] = spans(3 + i);
        records += t->b[i]->records;
    }
    t->s.batches = t->b;
    t->s.nbatches = (size_t)nbatches;
    t->s.records = records;
    t->s.signal = OTUS_SIGNAL_TRACES;
    t->s.done = tsend_done;
    assert_int_equal(f->ops->send(f->self, &t->s), 0);
    uint64_t t0 = otus_clock_mono_ns();
    while (!t->done) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_true(otus_clock_mono_ns() - t0 < 20ull * 1000000000ull);
    }
    for (int i = 0; i < nbatches; i++)
        otus_batch_unref(t->b[i]);
}

static void delivers_and_encodes(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL, 0);
    struct fixture f;
    fixture_up(&f, &otus_otlp_exporter, s.port, "headers:\n  authorization: Bearer t0k\n");
    struct tsend t;
    send_and_wait(&f, &t, 2);
    assert_int_equal(t.r.sent, 7);
    assert_int_equal(s.requests, 1);
    assert_string_equal(s.last_auth, "Bearer t0k");
    /* encode() gives what was sent: one resource entry with the 7 spans. */
    struct otus_batch *b[2] = {spans(3), spans(4)};
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(f.ops->encode(f.self, b, 2, &out), 0);
    assert_int_equal(out.len, s.last.len);
    assert_memory_equal(out.data, s.last.data, out.len);
    otus_traces_req *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            NULL, out.len, (const uint8_t *)out.data);
    assert_int_equal(req->n_resource_spans, 1);
    assert_int_equal(req->resource_spans[0]->n_scope_spans, 1);
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 7);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);
    otus_buf_free(&out);
    otus_batch_unref(b[0]);
    otus_batch_unref(b[1]);
    fixture_down(&f);
    server_stop(&s);
}

static void retries_then_partial_success(void **state)
{
    (void)state;
    static const struct answer script[] = {
        {503, NULL, 0},
        {429, "Retry-After: 1\r\n", 0},
        {200, NULL, 2},
    };
    struct server s;
    server_start(&s, script, 3);
    struct fixture f;
    fixture_up(&f, &otus_jaeger_exporter, s.port, "");
    struct tsend t;
    send_and_wait(&f, &t, 1);
    assert_int_equal(s.requests, 3);
    assert_int_equal(t.r.sent, 1);
    assert_int_equal(t.r.failed, 2);
    assert_int_equal(t.r.dropped, 0);
    /* Not before Retry-After (the loop's millisecond clock on both sides). */
    assert_true(s.at_ms[2] - s.at_ms[1] >= 1000);
    fixture_down(&f);
    server_stop(&s);
}

static void final_status_fails(void **state)
{
    (void)state;
    static const struct answer script[] = {{400, NULL, 0}};
    struct server s;
    server_start(&s, script, 1);
    struct fixture f;
    fixture_up(&f, &otus_jaeger_exporter, s.port, "");
    struct tsend t;
    send_and_wait(&f, &t, 1);
    assert_int_equal(s.requests, 1);
    assert_int_equal(t.r.failed, 3);
    fixture_down(&f);
    server_stop(&s);
}

static void gives_up_and_drains(void **state)
{
    (void)state;
    static const struct answer script[] = {
        {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0},
        {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0}, {503, NULL, 0},
    };
    struct server s;
    server_start(&s, script, 10);
    struct fixture f;
    fixture_up(&f, &otus_jaeger_exporter, s.port, "  max_elapsed: 100ms\n");
    struct tsend t;
    send_and_wait(&f, &t, 1);
    assert_true(s.requests >= 2);
    assert_int_equal(t.r.dropped, 3);
    /* A shutdown deadline already passed: the next send ends at its first chance. */
    memset(&t, 0, sizeof(t));
    t.b[0] = spans(2);
    t.s.batches = t.b;
    t.s.nbatches = 1;
    t.s.records = t.b[0]->records;
    t.s.signal = OTUS_SIGNAL_TRACES;
    t.s.done = tsend_done;
    t.s.deadline_ms = uv_now(&loop);
    assert_int_equal(f.ops->send(f.self, &t.s), 0);
    f.ops->drain(f.self);
    while (!t.done)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(t.r.dropped, 2);
    otus_batch_unref(t.b[0]);
    fixture_down(&f);
    server_stop(&s);
}

static int setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivers_and_encodes),
        cmocka_unit_test(retries_then_partial_success),
        cmocka_unit_test(final_status_fails),
        cmocka_unit_test(gives_up_and_drains),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
