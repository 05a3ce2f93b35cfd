/*
 * test_es_send.c: the Elasticsearch exporter's ops as the core calls them (create,
 * encode, send, drain, destroy), against the agent's own HTTP server on 127.0.0.1 on
 * the same libuv loop, standing in for the bulk API. The exporter encodes each send
 * and builds and gzips each request body on the libuv thread pool; these cases check
 * that the loop stays free meanwhile, that what arrives is whole through retries,
 * 413 splits and rounds of items answered 429, and that a shutdown deadline reached
 * while work is on the pool settles every send exactly once.
 *
 * Timing: the loop thread's CPU time is compared with the CPU time the same work
 * takes on one thread (CPU time hardly depends on what else the machine runs); no
 * wall-clock time is checked.
 */
#include "otus_test.h"

#include <time.h>

#include <uv.h>

#include <otus.h>

#include "agent/http_server.h"
#include "agent/self_metrics.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "exporters/elasticsearch/es.h"
#include "exporters/elasticsearch/es_exporter.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

static uv_loop_t *loop;
static int passed; /* set by a case as its last step */

/* ---- the stand-in for the bulk API -------------------------------------------------------- */

struct server {
    struct otus_http_server *srv;
    int port;
    const int *script; /* statuses of successive requests; past its end, 200 */
    size_t nscript, next;
    int keep;             /* read the items (on the loop) and keep those answered stored */
    unsigned busy_rounds; /* this many 200 answers say 429 for every third item */
    unsigned requests;
    uint64_t body_bytes;    /* as received (compressed or not) */
    struct otus_buf stored; /* items answered stored, in order of arrival */
    struct otus_buf last;   /* the last body as received */
    int last_status;
    unsigned same_again; /* requests answered 503 that came again byte for byte */
};

static const char *item_end(const char *p, const char *end)
{
    /* An item is two lines: action, source. */
    for (int k = 0; k < 2; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        p = nl + 1;
    }
    return p;
}

static void handle(struct otus_http_request *req, void *ctx)
{
    struct server *s = ctx;
    s->requests++;
    s->body_bytes += req->body.len;
    if (s->last_status == 503 && s->last.len == req->body.len &&
        memcmp(s->last.data, req->body.data, req->body.len) == 0)
        s->same_again++;
    otus_buf_reset(&s->last);
    assert_int_equal(otus_buf_append(&s->last, req->body.data, req->body.len), 0);
    int status = s->next < s->nscript ? s->script[s->next++] : 200;
    s->last_status = status;
    if (status != 200) {
        static const char err[] = "{\"error\":{\"type\":\"injected\"},\"status\":0}";
        otus_http_respond(req, status, "application/json", err, sizeof(err) - 1, NULL);
        return;
    }
    static const char fast[] = "{\"took\":0,\"errors\":false,\"items\":[]}";
    if (!s->keep) {
        otus_http_respond(req, 200, "application/json", fast, sizeof(fast) - 1, NULL);
        return;
    }
    struct otus_buf body, answer;
    otus_buf_init(&body, 0);
    otus_buf_init(&answer, 0);
    const char *ce = otus_http_request_header(req, "content-encoding");
    if (ce && strcmp(ce, "gzip") == 0)
        assert_int_equal(otus_gzip_decompress(req->body.data, req->body.len, 64u << 20, &body), 0);
    else
        assert_int_equal(otus_buf_append(&body, req->body.data, req->body.len), 0);
    int busy = s->busy_rounds > 0;
    if (busy)
        s->busy_rounds--;
    otus_buf_append_str(&answer, "{\"took\":1,\"errors\":");
    otus_buf_append_str(&answer, busy ? "true,\"items\":[" : "false,\"items\":[");
    const char *p = body.data, *end = body.data + body.len;
    for (size_t k = 0; p < end; k++) {
        const char *q = item_end(p, end);
        int st = busy && k % 3 == 1 ? 429 : 201;
        if (st == 201)
            assert_int_equal(otus_buf_append(&s->stored, p, (size_t)(q - p)), 0);
        otus_buf_printf(&answer, "%s{\"create\":{\"status\":%d%s}}", k ? "," : "", st,
                        st == 429 ? ",\"error\":{\"type\":\"es_rejected_execution_exception\"}"
                                  : "");
        p = q;
    }
    otus_buf_append_str(&answer, "]}");
    otus_http_respond(req, 200, "application/json", answer.data, answer.len, NULL);
    otus_buf_free(&body);
    otus_buf_free(&answer);
}

static void closed(void *arg)
{
    *(int *)arg = 1;
}

static void server_start(struct server *s, const int *script, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->script = script;
    s->nscript = n;
    otus_buf_init(&s->stored, 0);
    otus_buf_init(&s->last, 0);
    struct otus_http_server_opts so = {.name = "test", .max_body_bytes = 64u << 20};
    assert_int_equal(otus_http_server_create(loop, "127.0.0.1:0", &so, &s->srv, NULL), 0);
    assert_int_equal(otus_http_server_route(s->srv, "/logs-otus-default/_bulk", 0, handle, s), 0);
    s->port = otus_http_server_port(s->srv);
}

static void server_stop(struct server *s)
{
    int done = 0;
    otus_http_server_close(s->srv, closed, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    otus_buf_free(&s->stored);
    otus_buf_free(&s->last);
}

/* ---- data ------------------------------------------------------------------------------- */

/* A logs batch of n records, decoded as the receiver does it: a text body that differs
 * per record, trace context, three attributes. Record i carries seq salt * n + i. */
static struct otus_batch *logs(int n, int salt)
{
    Opentelemetry__Proto__Logs__V1__LogRecord *lr = calloc((size_t)n, sizeof(*lr));
    Opentelemetry__Proto__Logs__V1__LogRecord **lrs = calloc((size_t)n, sizeof(*lrs));
    AnyValue *vals = calloc((size_t)n * 4, sizeof(*vals));
    KeyValue *kvs = calloc((size_t)n * 3, sizeof(*kvs));
    KeyValue **kvp = calloc((size_t)n * 3, sizeof(*kvp));
    char(*msg)[96] = calloc((size_t)n, sizeof(*msg));
    uint8_t(*ids)[24] = calloc((size_t)n, sizeof(*ids));
    assert_true(lr && lrs && vals && kvs && kvp && msg && ids);
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(salt + 1);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 24; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ids[i][k] = (uint8_t)rng;
        }
        snprintf(msg[i], sizeof(msg[i]), "order %d placed by customer %llu: %d items", i,
                 (unsigned long long)(rng % 1000003), (int)(rng >> 20) % 9 + 1);
        AnyValue *v = &vals[i * 4];
        for (int k = 0; k < 4; k++)
            opentelemetry__proto__common__v1__any_value__init(&v[k]);
        v[0].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v[0].string_value = msg[i];
        v[1].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v[1].int_value = (int64_t)salt * n + i;
        v[2].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v[2].string_value = "/api/v1/orders";
        v[3].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v[3].int_value = (int64_t)(rng >> 40);
        static const char *const keys[] = {"seq", "http.route", "user.id"};
        for (int k = 0; k < 3; k++) {
            opentelemetry__proto__common__v1__key_value__init(&kvs[i * 3 + k]);
            kvs[i * 3 + k].key = (char *)keys[k];
            kvs[i * 3 + k].value = &v[k + 1];
            kvp[i * 3 + k] = &kvs[i * 3 + k];
        }
        opentelemetry__proto__logs__v1__log_record__init(&lr[i]);
        lr[i].time_unix_nano = 1700000000000000000ull + (uint64_t)salt * 1000000000u + (uint64_t)i;
        lr[i].severity_number = 9;
        lr[i].severity_text = "INFO";
        lr[i].body = &v[0];
        lr[i].trace_id = (ProtobufCBinaryData){16, ids[i]};
        lr[i].span_id = (ProtobufCBinaryData){8, ids[i] + 16};
        lr[i].n_attributes = 3;
        lr[i].attributes = &kvp[i * 3];
        lrs[i] = &lr[i];
    }
    AnyValue svc = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    svc.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    svc.string_value = "checkout";
    KeyValue svc_kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    svc_kv.key = "service.name";
    svc_kv.value = &svc;
    KeyValue *res_attrs[] = {&svc_kv};
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    res.n_attributes = 1;
    res.attributes = res_attrs;
    Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    sl.n_log_records = (size_t)n;
    sl.log_records = lrs;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sls[] = {&sl};
    Opentelemetry__Proto__Logs__V1__ResourceLogs rl =
        OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    rl.resource = &res;
    rl.n_scope_logs = 1;
    rl.scope_logs = sls;
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rls[] = {&rl};
    otus_logs_req req =
        OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    req.n_resource_logs = 1;
    req.resource_logs = rls;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    protobuf_c_message_pack(&req.base, buf);
    struct otus_batch *b = otus_batch_new(OTUS_SIGNAL_LOGS, 1 << 20, 0, NULL);
    assert_non_null(b);
    b->req.msg = protobuf_c_message_unpack(
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
        otus_arena_protobuf(&b->arena), len, buf);
    assert_non_null(b->req.msg);
    b->records = otus_batch_count_records(b);
    b->received_ns = 1700000000000000000ull;
    assert_int_equal(b->records, (size_t)n);
    free(buf);
    free(lr);
    free(lrs);
    free(vals);
    free(kvs);
    free(kvp);
    free(msg);
    free(ids);
    return b;
}

/* ---- the exporter ------------------------------------------------------------------------ */

struct fixture {
    const struct otus_exporter_ops *ops;
    struct otus__es_cfg cfg;
    struct otus_self_metrics *metrics;
    void *self;
};

static void fixture_up(struct fixture *f, int port, const char *yaml_extra)
{
    memset(f, 0, sizeof(*f));
    f->ops = &otus_elasticsearch_exporter;
    struct otus_cfg_err err;
    assert_int_equal(otus_cfg_defaults(f->ops->config, &f->cfg, &err), 0);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "endpoints: [http://127.0.0.1:%d]\nmanage_template: false\n"
             "dead_letter: /tmp/otus-test-es-send-dead-letters.ndjson\n"
             "retry:\n  initial_interval: 10ms\n  max_interval: 50ms\n%s",
             port, yaml_extra);
    struct otus_cfg_doc d;
    assert_int_equal(otus_cfg_doc_load_string(&d, "t", yaml, &err), 0);
    assert_int_equal(otus_cfg_apply(&d, otus_cfg_root(&d), "x", f->ops->config, &f->cfg, &err), 0);
    otus_cfg_doc_free(&d);
    assert_int_equal(f->ops->check(&f->cfg, &err), 0);
    f->metrics = otus_self_metrics_create();
    struct otus_exporter_env env = {
        .loop = loop, .name = "t", .data_dir = "/tmp", .metrics = f->metrics};
    const char *detail = NULL;
    assert_int_equal(f->ops->create(&env, &f->cfg, &f->self, &detail), 0);
}

static void fixture_down(struct fixture *f)
{
    int done = 0;
    f->ops->destroy(f->self, closed, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    otus_cfg_free(f->ops->config, &f->cfg);
    otus_self_metrics_destroy(f->metrics);
}

struct tsend {
    struct otus_send s;
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

static void tsend_init(struct tsend *t, struct otus_batch *const *b, size_t n)
{
    memset(t, 0, sizeof(*t));
    t->s.batches = b;
    t->s.nbatches = n;
    for (size_t i = 0; i < n; i++)
        t->s.records += b[i]->records;
    t->s.signal = OTUS_SIGNAL_LOGS;
    t->s.done = tsend_done;
}

static void wait_done(struct tsend *t, size_t n)
{
    uint64_t t0 = otus_clock_mono_ns();
    for (;;) {
        size_t open = 0;
        for (size_t i = 0; i < n; i++)
            open += !t[i].done;
        if (!open)
            return;
        uv_run(loop, UV_RUN_ONCE);
        assert_true(otus_clock_mono_ns() - t0 < 120ull * 1000000000ull);
    }
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- cases -------------------------------------------------------------------------------- */

struct ticker {
    uv_timer_t t;
    uint64_t last_ns, max_gap_ns;
    unsigned ticks;
};

static void tick(uv_timer_t *t)
{
    struct ticker *k = t->data;
    uint64_t now = uv_hrtime();
    if (now - k->last_ns > k->max_gap_ns)
        k->max_gap_ns = now - k->last_ns;
    k->last_ns = now;
    k->ticks++;
}

static void ticker_closed(uv_handle_t *h)
{
    (void)h;
}

#define BIG_BATCHES 8

/*
 * A send of 80,000 records (about 29 MB of NDJSON, six gzipped requests of at most
 * max_batch_bytes): the loop thread spends a small part of what encoding and gzipping
 * them costs on one thread, and a 1 ms timer on the loop keeps firing throughout.
 */
static void loop_stays_free_during_a_big_send(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL, 0);
    struct fixture f;
    fixture_up(&f, s.port, "compression: gzip\n");
    struct otus_batch *b = logs(10000, 1);
    struct otus_batch *bs[BIG_BATCHES];
    for (int i = 0; i < BIG_BATCHES; i++)
        bs[i] = b; /* read-only: one batch can stand for many */

    /* What the same work costs on one thread: encode, then gzip in bodies of at most
     * max_batch_bytes. */
    size_t max = (size_t)f.cfg.queue.max_batch_bytes;
    uint64_t ref_cpu = thread_cpu_ns(), ref_wall = otus_clock_mono_ns();
    struct otus_buf nd, gz;
    otus_buf_init(&nd, 0);
    otus_buf_init(&gz, 0);
    assert_int_equal(f.ops->encode(f.self, bs, BIG_BATCHES, &nd), 0);
    uint64_t enc_cpu = thread_cpu_ns() - ref_cpu;
    struct otus_deflater d;
    assert_int_equal(otus_deflater_init(&d, 1), 0);
    for (size_t off = 0; off < nd.len; off += max) {
        size_t n = nd.len - off < max ? nd.len - off : max;
        assert_int_equal(otus_deflater_gzip(&d, nd.data + off, n, &gz), 0);
    }
    ref_cpu = thread_cpu_ns() - ref_cpu;
    ref_wall = otus_clock_mono_ns() - ref_wall;
    otus_deflater_destroy(&d);
    size_t nd_len = nd.len;
    otus_buf_free(&nd);
    otus_buf_free(&gz);

    struct ticker k = {0};
    uv_timer_init(loop, &k.t);
    k.t.data = &k;
    struct tsend t;
    tsend_init(&t, bs, BIG_BATCHES);
    k.last_ns = uv_hrtime();
    uv_timer_start(&k.t, tick, 1, 1);
    uint64_t loop_cpu = thread_cpu_ns();
    assert_int_equal(f.ops->send(f.self, &t.s), 0);
    /* The encoding is out on the thread pool: the exporter has work to wait for. */
    assert_int_equal(((struct otus__es *)f.self)->works, 1);
    wait_done(&t, 1);
    loop_cpu = thread_cpu_ns() - loop_cpu;
    uv_timer_stop(&k.t);
    uv_close((uv_handle_t *)&k.t, ticker_closed);

    print_message("one thread: encode %.1f ms CPU, encode+gzip %.1f ms CPU (%.1f ms wall); "
                  "the send: loop thread "
                  "%.1f ms CPU, %u ticks of a 1 ms timer, longest gap %.1f ms, %u requests, %zu "
                  "bytes of NDJSON\n",
                  (double)enc_cpu / 1e6, (double)ref_cpu / 1e6, (double)ref_wall / 1e6,
                  (double)loop_cpu / 1e6, k.ticks, (double)k.max_gap_ns / 1e6, s.requests, nd_len);
    assert_int_equal(t.r.sent, (size_t)BIG_BATCHES * 10000);
    assert_true(s.requests >= (nd_len + max - 1) / max);
    /* Done on the loop, the send would cost the loop all of ref_cpu; on the pool, a
     * fraction (HTTP on both sides, bookkeeping). Encoding alone on the loop (a third of
     * ref_cpu or more) fails the second check, gzip alone on the loop the first. */
    assert_true(loop_cpu * 3 < ref_cpu);
    assert_true(loop_cpu * 2 < enc_cpu);
    /* The longest gap between ticks is printed, not checked: on a busy machine the
     * scheduler alone can stall the loop thread for tens of milliseconds. */
    assert_true(k.ticks >= 10);
    assert_int_equal(((struct otus__es *)f.self)->works, 0);
    otus_batch_unref(b);
    fixture_down(&f);
    server_stop(&s);
    passed = 1;
}

static int item_cmp(const void *a, const void *b)
{
    const struct otus_buf *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Splits NDJSON into its items (borrowing the bytes), sorted. */
static struct otus_buf *items_sorted(const struct otus_buf *nd, size_t *n)
{
    size_t cap = 16, k = 0;
    struct otus_buf *v = malloc(cap * sizeof(*v));
    assert_non_null(v);
    const char *p = nd->data, *end = nd->data + nd->len;
    while (p < end) {
        const char *q = item_end(p, end);
        if (k == cap) {
            struct otus_buf *w = realloc(v, (cap *= 2) * sizeof(*v));
            assert_non_null(w);
            v = w;
        }
        v[k].data = (char *)p;
        v[k].len = (size_t)(q - p);
        k++;
        p = q;
    }
    qsort(v, k, sizeof(*v), item_cmp);
    *n = k;
    return v;
}

/*
 * 4,500 records in requests of at most 256 KiB: the first answered 503 (sent again as
 * it was), the second 413 (split in halves), then three answers that refuse every
 * third item with 429, so the next rounds are made of items that do not follow each
 * other in the NDJSON (their bodies are copied together on the pool). Every document
 * arrives exactly once, as encode() writes it.
 */
static void bodies_whole(const char *compression)
{
    static const int script[] = {503, 413};
    struct server s;
    server_start(&s, script, 2);
    s.keep = 1;
    s.busy_rounds = 3;
    char extra[128];
    snprintf(extra, sizeof(extra), "compression: %s\nmax_batch_bytes: 256KiB\n", compression);
    struct fixture f;
    fixture_up(&f, s.port, extra);
    struct otus_batch *bs[3] = {logs(1500, 1), logs(1500, 2), logs(1500, 3)};
    struct tsend t;
    tsend_init(&t, bs, 3);
    assert_int_equal(f.ops->send(f.self, &t.s), 0);
    wait_done(&t, 1);
    assert_int_equal(t.r.sent, 4500);
    assert_int_equal(t.r.failed, 0);
    assert_int_equal(t.r.dropped, 0);
    assert_int_equal(s.same_again, 1);
    assert_true(s.requests >= 10);

    struct otus_buf want;
    otus_buf_init(&want, 0);
    assert_int_equal(f.ops->encode(f.self, bs, 3, &want), 0);
    size_t nw, ng;
    struct otus_buf *w = items_sorted(&want, &nw), *g = items_sorted(&s.stored, &ng);
    assert_int_equal(nw, 4500);
    assert_int_equal(ng, 4500);
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(w[i].len, g[i].len);
        assert_memory_equal(w[i].data, g[i].data, w[i].len);
    }
    free(w);
    free(g);
    otus_buf_free(&want);
    for (int i = 0; i < 3; i++)
        otus_batch_unref(bs[i]);
    fixture_down(&f);
    server_stop(&s);
    passed = 1;
}

static void bodies_whole_gzip(void **state)
{
    (void)state;
    bodies_whole("gzip");
}

static void bodies_whole_uncompressed(void **state)
{
    (void)state;
    bodies_whole("none");
}

#define SENDS 6

/*
 * Six sends of 40,000 records, more than the thread pool takes at once, and the
 * shutdown deadline passes right after they are handed over: encodings not started
 * are taken back, those running come back, and every send settles once, all dropped.
 */
static void deadline_while_encoding(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL, 0);
    struct fixture f;
    fixture_up(&f, s.port, "compression: gzip\n");
    struct otus_batch *b = logs(10000, 1);
    struct otus_batch *bs[4] = {b, b, b, b};
    struct tsend t[SENDS];
    for (int i = 0; i < SENDS; i++) {
        tsend_init(&t[i], bs, 4);
        assert_int_equal(f.ops->send(f.self, &t[i].s), 0);
    }
    for (int i = 0; i < SENDS; i++)
        t[i].s.deadline_ms = uv_now(loop);
    f.ops->drain(f.self);
    wait_done(t, SENDS);
    for (int i = 0; i < SENDS; i++) {
        assert_int_equal(t[i].r.sent, 0);
        assert_int_equal(t[i].r.dropped, 40000);
    }
    assert_int_equal(s.requests, 0);
    assert_int_equal(((struct otus__es *)f.self)->works, 0);
    otus_batch_unref(b);
    fixture_down(&f);
    server_stop(&s);
    passed = 1;
}

/*
 * The deadline passes while a request body is being gzipped on the pool, after the
 * first request was answered: the send settles once, its first request's records
 * delivered and the rest dropped.
 */
static void deadline_while_preparing(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL, 0);
    struct fixture f;
    fixture_up(&f, s.port, "compression: gzip\n");
    struct otus__es *es = f.self;
    struct otus_batch *b = logs(10000, 1);
    struct otus_batch *bs[BIG_BATCHES];
    for (int i = 0; i < BIG_BATCHES; i++)
        bs[i] = b;
    struct tsend t;
    tsend_init(&t, bs, BIG_BATCHES);
    assert_int_equal(f.ops->send(f.self, &t.s), 0);
    uint64_t t0 = otus_clock_mono_ns();
    while (!(es->jobs && es->jobs->preparing && es->jobs->sent > 0)) {
        assert_false(t.done);
        uv_run(loop, UV_RUN_ONCE);
        assert_true(otus_clock_mono_ns() - t0 < 60ull * 1000000000ull);
    }
    size_t sent = es->jobs->sent;
    t.s.deadline_ms = uv_now(loop);
    f.ops->drain(f.self);
    wait_done(&t, 1);
    assert_int_equal(t.r.sent, sent);
    assert_int_equal(t.r.dropped, t.s.records - sent);
    assert_int_equal(es->works, 0);
    otus_batch_unref(b);
    fixture_down(&f);
    server_stop(&s);
    passed = 1;
}

static int setup(void **state)
{
    (void)state;
    passed = 0;
    loop = malloc(sizeof(*loop));
    return loop ? uv_loop_init(loop) : -1;
}

/* A case that failed left handles on its stack frame, which is gone: its loop is left
 * as it is (leaked) rather than run again. */
static int teardown(void **state)
{
    (void)state;
    if (!passed)
        return 0;
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    free(loop);
    return rc;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(loop_stays_free_during_a_big_send, setup, teardown),
    cmocka_unit_test_setup_teardown(bodies_whole_gzip, setup, teardown),
    cmocka_unit_test_setup_teardown(bodies_whole_uncompressed, setup, teardown),
    cmocka_unit_test_setup_teardown(deadline_while_encoding, setup, teardown),
    cmocka_unit_test_setup_teardown(deadline_while_preparing, setup, teardown),
};

OTUS_TEST_MAIN(tests)
