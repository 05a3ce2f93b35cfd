/*
 * test_http_client.c: the outbound HTTP client against real servers on 127.0.0.1 on
 * the same libuv loop: the agent's own HTTP server (agent/http_server.h) for answers
 * with bodies, headers and status codes, and a small raw TCP server written here for
 * what that server does not show: how many connections a client opened, a server that
 * accepts and never answers, a chunked answer without a length.
 *
 * Timing assertions are deliberately loose: the machine is shared.
 */
#include "otus_test.h"

#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <uv.h>

#include <otus.h>

#include "agent/http_client.h"
#include "agent/http_server.h"
#include "common/clock.h"
#include "common/gzip.h"

#define TEST_BODY_MAX (64u * 1024 * 1024)

/* ---- a raw TCP server -------------------------------------------------------------------- */

enum raw_mode {
    RAW_ANSWER,  /* answers every request with a 2-byte 200 */
    RAW_SILENT,  /* reads and never answers */
    RAW_CHUNKED, /* answers with a 20000-byte chunked body */
};

struct raw_conn {
    uv_tcp_t tcp;
    struct raw_srv *srv;
    struct otus_buf in;
    struct raw_conn *prev, *next;
};

struct raw_srv {
    uv_tcp_t listener;
    int port;
    enum raw_mode mode;
    unsigned accepted; /* connections accepted, ever */
    unsigned open;     /* connections open now */
    unsigned max_open; /* the most open at once */
    unsigned requests;
    int handles;
    struct raw_conn *conns;
};

static char raw_readbuf[65536];

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    *b = uv_buf_init(raw_readbuf, sizeof(raw_readbuf));
}

static void raw_conn_closed(uv_handle_t *h)
{
    struct raw_conn *rc = h->data;
    struct raw_srv *s = rc->srv;
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        s->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    s->open--;
    s->handles--;
    otus_buf_free(&rc->in);
    free(rc);
}

static void raw_write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void raw_send(struct raw_conn *rc, const char *data, size_t n)
{
    uv_write_t *w = malloc(sizeof(*w));
    char *copy = malloc(n);
    assert_non_null(w);
    assert_non_null(copy);
    memcpy(copy, data, n);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n);
    assert_int_equal(uv_write(w, (uv_stream_t *)&rc->tcp, &b, 1, raw_write_done), 0);
}

static void raw_answer(struct raw_conn *rc)
{
    if (rc->srv->mode == RAW_ANSWER) {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 2\r\n\r\nok";
        raw_send(rc, ok, sizeof(ok) - 1);
        return;
    }
    struct otus_buf out;
    otus_buf_init(&out, 0);
    assert_int_equal(otus_buf_append_str(&out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                               "Content-Type: text/plain\r\n\r\n"),
                     0);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(otus_buf_printf(&out, "%zx\r\n", sizeof(chunk)), 0);
        assert_int_equal(otus_buf_append(&out, chunk, sizeof(chunk)), 0);
        assert_int_equal(otus_buf_append_str(&out, "\r\n"), 0);
    }
    assert_int_equal(otus_buf_append_str(&out, "0\r\n\r\n"), 0);
    raw_send(rc, out.data, out.len);
    otus_buf_free(&out);
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct raw_conn *rc = st->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, raw_conn_closed);
        return;
    }
    if (rc->srv->mode == RAW_SILENT || n == 0)
        return;
    assert_int_equal(otus_buf_append(&rc->in, b->base, (size_t)n), 0);
    for (;;) {
        char *end = memmem(rc->in.data, rc->in.len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head = (size_t)(end - rc->in.data) + 4;
        size_t body = 0;
        for (char *p = rc->in.data; p < end; p++) {
            if (strncasecmp(p, "\r\ncontent-length:", 17) == 0) {
                body = strtoul(p + 17, NULL, 10);
                break;
            }
        }
        if (rc->in.len < head + body)
            return;
        memmove(rc->in.data, rc->in.data + head + body, rc->in.len - head - body);
        rc->in.len -= head + body;
        rc->srv->requests++;
        raw_answer(rc);
    }
}

static void raw_on_conn(uv_stream_t *l, int status)
{
    struct raw_srv *s = l->data;
    assert_int_equal(status, 0);
    struct raw_conn *rc = calloc(1, sizeof(*rc));
    assert_non_null(rc);
    rc->srv = s;
    otus_buf_init(&rc->in, 1024 * 1024);
    uv_tcp_init(l->loop, &rc->tcp);
    rc->tcp.data = rc;
    s->handles++;
    rc->next = s->conns;
    if (s->conns)
        s->conns->prev = rc;
    s->conns = rc;
    s->open++;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&rc->tcp), 0);
    s->accepted++;
    if (s->open > s->max_open)
        s->max_open = s->open;
    uv_read_start((uv_stream_t *)&rc->tcp, raw_alloc, raw_read);
}

static void raw_listener_closed(uv_handle_t *h)
{
    struct raw_srv *s = h->data;
    s->handles--;
}

static void raw_start(uv_loop_t *loop, struct raw_srv *s, enum raw_mode mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->handles = 1;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 256, raw_on_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void raw_stop(uv_loop_t *loop, struct raw_srv *s)
{
    for (struct raw_conn *rc = s->conns; rc; rc = rc->next)
        if (!uv_is_closing((uv_handle_t *)&rc->tcp))
            uv_close((uv_handle_t *)&rc->tcp, raw_conn_closed);
    uv_close((uv_handle_t *)&s->listener, raw_listener_closed);
    while (s->handles > 0)
        uv_run(loop, UV_RUN_ONCE);
}

/* ---- the fixture: a loop, the agent's HTTP server, a client -------------------------------- */

#define MAX_HELD 16

struct fx {
    uv_loop_t loop;
    struct otus_http_server *srv;
    struct otus_http_client *cli;
    char base[64]; /* "http://127.0.0.1:<port>" */
    int port;

    /* What the last request to /echo looked like. */
    char method[16];
    char authorization[256];
    int had_expect;
    char content_type[128];
    char user_agent[128];
    char custom[64];
    struct otus_buf body;

    /* /gzip compares against this. */
    const char *gzip_want;
    size_t gzip_want_len;

    /* Requests held without an answer (/hang, /slow). */
    struct otus_http_request *held[MAX_HELD];
    int nheld;
    uv_timer_t slow_timer;

    unsigned served;
};

static struct fx F;

static void copy_header(const struct otus_http_request *r, const char *name, char *out, size_t n)
{
    const char *v = otus_http_request_header(r, name);
    snprintf(out, n, "%s", v ? v : "");
}

static void h_echo(struct otus_http_request *r, void *ctx)
{
    struct fx *f = ctx;
    f->served++;
    snprintf(f->method, sizeof(f->method), "%s", r->method);
    copy_header(r, "authorization", f->authorization, sizeof(f->authorization));
    copy_header(r, "content-type", f->content_type, sizeof(f->content_type));
    copy_header(r, "user-agent", f->user_agent, sizeof(f->user_agent));
    copy_header(r, "x-otus-test", f->custom, sizeof(f->custom));
    f->had_expect = otus_http_request_header(r, "expect") != NULL;
    otus_buf_reset(&f->body);
    assert_int_equal(otus_buf_append(&f->body, r->body.data, r->body.len), 0);
    otus_http_respond(r, 200, "application/json", r->body.len ? r->body.data : "{\"ok\":true}",
                      r->body.len ? r->body.len : 11, "X-Served-By: otus-test\r\n");
}

static void h_gzip(struct otus_http_request *r, void *ctx)
{
    struct fx *f = ctx;
    struct otus_buf out;
    otus_buf_init(&out, 0);
    const char *enc = otus_http_request_header(r, "content-encoding");
    int ok = enc && strcmp(enc, "gzip") == 0 &&
             otus_gzip_decompress(r->body.data, r->body.len, TEST_BODY_MAX, &out) == 0 &&
             out.len == f->gzip_want_len && memcmp(out.data, f->gzip_want, out.len) == 0;
    otus_buf_free(&out);
    otus_http_respond(r, ok ? 200 : 400, "text/plain", ok ? "same" : "diff", 4, NULL);
}

static void h_gzip_answer(struct otus_http_request *r, void *ctx)
{
    (void)ctx;
    /* 200000 bytes of text, gzip-encoded on the wire. */
    struct otus_buf plain, z;
    otus_buf_init(&plain, 0);
    otus_buf_init(&z, 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(otus_buf_append(&plain, "0123456789", 10), 0);
    assert_int_equal(otus_gzip_compress(plain.data, plain.len, 6, &z), 0);
    otus_http_respond(r, 200, "text/plain", z.data, z.len, "Content-Encoding: gzip\r\n");
    otus_buf_free(&plain);
    otus_buf_free(&z);
}

static void h_big(struct otus_http_request *r, void *ctx)
{
    (void)ctx;
    size_t n = 100 * 1024;
    char *p = malloc(n);
    assert_non_null(p);
    memset(p, 'b', n);
    int status = strcmp(r->query, "status=503") == 0 ? 503 : 200;
    otus_http_respond(r, status, "text/plain", p, n, NULL);
    free(p);
}

static void h_429(struct otus_http_request *r, void *ctx)
{
    (void)ctx;
    otus_http_respond(r, 429, "text/plain", "slow down", 9, "Retry-After: 3\r\n");
}

/* 503 with Retry-After as an HTTP-date 5 s after the server's Date header. */
static void h_503_date(struct otus_http_request *r, void *ctx)
{
    (void)ctx;
    static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t sec = otus_clock_wall_ns() / 1000000000u + 5;
    int y, m, d, hh, mm, ss;
    otus_time_civil((int64_t)sec, &y, &m, &d, &hh, &mm, &ss);
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "Retry-After: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             wd[(sec / 86400) % 7], d, mo[m - 1], y, hh, mm, ss);
    otus_http_respond(r, 503, "text/plain", "busy", 4, hdr);
}

static void h_hang(struct otus_http_request *r, void *ctx)
{
    struct fx *f = ctx;
    assert_true(f->nheld < MAX_HELD);
    f->held[f->nheld++] = r;
}

static void slow_fire(uv_timer_t *t)
{
    struct fx *f = t->data;
    for (int i = 0; i < f->nheld; i++)
        otus_http_respond(f->held[i], 200, "text/plain", "late", 4, NULL);
    f->nheld = 0;
}

static void h_slow(struct otus_http_request *r, void *ctx)
{
    struct fx *f = ctx;
    h_hang(r, ctx);
    if (!uv_is_active((uv_handle_t *)&f->slow_timer))
        uv_timer_start(&f->slow_timer, slow_fire, 500, 0);
}

static void release_held(struct fx *f)
{
    for (int i = 0; i < f->nheld; i++)
        otus_http_respond(f->held[i], 503, "text/plain", "bye", 3, NULL);
    f->nheld = 0;
}

static void guard_fire(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static void wake(uv_timer_t *t)
{
    (void)t;
}

/*
 * Runs the loop until *flag is set or max_ms passes; returns *flag. A 5 ms wake-up
 * timer keeps each UV_RUN_ONCE short: libuv runs due timers before polling, so a flag
 * set from a timer callback would otherwise be seen only after the next event.
 */
static int run_until(const int *flag, uint64_t max_ms)
{
    uv_timer_t guard, waker;
    int expired = 0;
    uv_timer_init(&F.loop, &guard);
    uv_timer_init(&F.loop, &waker);
    guard.data = &expired;
    uv_timer_start(&guard, guard_fire, max_ms, 0);
    uv_timer_start(&waker, wake, 5, 5);
    while (!*flag && !expired)
        uv_run(&F.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&waker, NULL);
    uv_run(&F.loop, UV_RUN_NOWAIT);
    return *flag;
}

static void set_flag(void *arg)
{
    *(int *)arg = 1;
}

static void client_replace(const struct otus_http_client_opts *opts)
{
    int closed = 0;
    otus_http_client_close(F.cli, set_flag, &closed);
    assert_true(run_until(&closed, 10000));
    F.cli = NULL;
    assert_int_equal(otus_http_client_create(&F.loop, opts, &F.cli), 0);
}

static int fx_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    assert_int_equal(uv_loop_init(&F.loop), 0);
    struct otus_http_server_opts so = {.name = "test", .max_body_bytes = TEST_BODY_MAX};
    const char *detail = NULL;
    assert_int_equal(otus_http_server_create(&F.loop, "127.0.0.1:0", &so, &F.srv, &detail), 0);
    F.port = otus_http_server_port(F.srv);
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%d", F.port);
    assert_int_equal(otus_http_server_route(F.srv, "/echo", 0, h_echo, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/gzip", 0, h_gzip, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/gzip-answer", 0, h_gzip_answer, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/big", 0, h_big, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/429", 0, h_429, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/503-date", 0, h_503_date, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/hang", 0, h_hang, &F), 0);
    assert_int_equal(otus_http_server_route(F.srv, "/slow", 0, h_slow, &F), 0);
    uv_timer_init(&F.loop, &F.slow_timer);
    F.slow_timer.data = &F;
    otus_buf_init(&F.body, 0);
    assert_int_equal(otus_http_client_create(&F.loop, NULL, &F.cli), 0);
    return 0;
}

static int fx_teardown(void **state)
{
    (void)state;
    int cli_closed = 0, srv_closed = 0;
    otus_http_client_close(F.cli, set_flag, &cli_closed);
    assert_true(run_until(&cli_closed, 10000));
    release_held(&F);
    otus_http_server_close(F.srv, set_flag, &srv_closed);
    assert_true(run_until(&srv_closed, 10000));
    uv_close((uv_handle_t *)&F.slow_timer, NULL);
    uv_run(&F.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&F.loop), 0);
    otus_buf_free(&F.body);
    return 0;
}

/* ---- calls and their results ---------------------------------------------------------------- */

struct got {
    int done; /* callbacks run */
    int status;
    enum otus_http_fail fail;
    int http_status;
    char error[256];
    struct otus_buf body;
    int body_truncated;
    char content_type[128];
    char served_by[64];
    int64_t retry_after_ms;
    unsigned new_connections;
    struct otus_http_timings timings;
    uint64_t done_ns;
};

static void got_init(struct got *g, int n)
{
    memset(g, 0, sizeof(*g) * (size_t)n);
}

static void got_free(struct got *g, int n)
{
    for (int i = 0; i < n; i++)
        otus_buf_free(&g[i].body);
}

static void on_done(struct otus_http_result *res, void *arg)
{
    struct got *g = arg;
    g->done++;
    g->status = res->status;
    g->fail = res->fail;
    g->http_status = res->http_status;
    snprintf(g->error, sizeof(g->error), "%s", res->error);
    otus_buf_free(&g->body);
    g->body = res->body; /* taken */
    otus_buf_init(&res->body, 0);
    g->body_truncated = res->body_truncated;
    snprintf(g->content_type, sizeof(g->content_type), "%s", res->content_type);
    const char *sb = otus_http_result_header(res, "X-SERVED-BY");
    snprintf(g->served_by, sizeof(g->served_by), "%s", sb ? sb : "");
    g->retry_after_ms = res->retry_after_ms;
    g->new_connections = res->new_connections;
    g->timings = res->timings;
    g->done_ns = otus_clock_mono_ns();
}

static void url(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", F.base, path);
}

/* One call, run to completion. */
static void call1(const struct otus_http_call_opts *o, struct got *g)
{
    assert_int_equal(otus_http_call_start(F.cli, o, on_done, g, NULL), 0);
    assert_true(run_until(&g->done, 20000));
    assert_int_equal(g->done, 1);
}

/* A repeating 10 ms timer: proof that the loop keeps turning. */
struct ticker {
    uv_timer_t t;
    unsigned ticks;
};

static void tick(uv_timer_t *t)
{
    ((struct ticker *)t->data)->ticks++;
}

static void ticker_start(struct ticker *k)
{
    k->ticks = 0;
    uv_timer_init(&F.loop, &k->t);
    k->t.data = k;
    uv_timer_start(&k->t, tick, 10, 10);
}

static void ticker_stop(struct ticker *k)
{
    uv_close((uv_handle_t *)&k->t, NULL);
    uv_run(&F.loop, UV_RUN_NOWAIT);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void get_200_with_body(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/echo?x=1");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_NONE);
    assert_int_equal(g.http_status, 200);
    assert_string_equal(g.error, "");
    assert_buf_eq(&g.body, "{\"ok\":true}");
    assert_string_equal(g.content_type, "application/json");
    assert_string_equal(g.served_by, "otus-test");
    assert_int_equal(g.retry_after_ms, -1);
    assert_int_equal(g.new_connections, 1);
    assert_true(g.timings.total_us > 0);
    assert_true(g.timings.first_byte_us <= g.timings.total_us);
    assert_string_equal(F.method, "GET");
    assert_string_equal(F.user_agent, "otus-agent/" OTUS_VERSION_STRING);
    assert_int_equal(otus_http_client_in_flight(F.cli), 0);
    got_free(&g, 1);
}

static void post_large_body_without_expect(void **state)
{
    (void)state;
    /* 3 MiB: libcurl would ask for 100-continue above 1 MiB. */
    size_t n = 3u * 1024 * 1024;
    char *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    char u[128];
    url(u, sizeof(u), "/echo");
    const char *headers[] = {"Content-Type: application/x-ndjson", "X-Otus-Test: yes", NULL};
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u,
                                        .headers = headers,
                                        .body = body,
                                        .body_len = n,
                                        .max_response_bytes = 4u * 1024 * 1024},
          &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.method, "POST");
    assert_false(F.had_expect);
    assert_string_equal(F.content_type, "application/x-ndjson");
    assert_string_equal(F.custom, "yes");
    assert_int_equal(F.body.len, n);
    assert_memory_equal(F.body.data, body, n);
    assert_int_equal(g.body.len, n);
    assert_memory_equal(g.body.data, body, n);
    got_free(&g, 1);

    /* A body without Content-Type goes without one (no made-up form type). */
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .body = "x", .body_len = 1}, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.content_type, "");
    got_free(&g, 1);
    free(body);
}

static void gzip_body_arrives_intact(void **state)
{
    (void)state;
    struct otus_buf plain, z;
    otus_buf_init(&plain, 0);
    otus_buf_init(&z, 0);
    for (int i = 0; i < 40000; i++)
        assert_int_equal(otus_buf_printf(&plain,
                                         "{\"create\":{}}\n{\"@timestamp\":%d,\"message\":"
                                         "\"record %d\"}\n",
                                         i, i * 7),
                         0);
    assert_int_equal(otus_gzip_compress(plain.data, plain.len, 1, &z), 0);
    F.gzip_want = plain.data;
    F.gzip_want_len = plain.len;
    char u[128];
    url(u, sizeof(u), "/gzip");
    const char *headers[] = {"Content-Type: application/x-ndjson", "Content-Encoding: gzip", NULL};
    struct got g;
    got_init(&g, 1);
    call1(
        &(struct otus_http_call_opts){
            .url = u, .headers = headers, .body = z.data, .body_len = z.len},
        &g);
    assert_int_equal(g.http_status, 200);
    assert_buf_eq(&g.body, "same");
    got_free(&g, 1);
    otus_buf_free(&plain);
    otus_buf_free(&z);
}

static void gzip_answer_decoded_and_capped(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/gzip-answer");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .accept_gzip = 1}, &g);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.body.len, 200000);
    assert_memory_equal(g.body.data, "0123456789", 10);
    got_free(&g, 1);
    /* The cap applies to decoded bytes: the compressed answer is far below 50000. */
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .accept_gzip = 1, .max_response_bytes = 50000},
          &g);
    assert_int_equal(g.status, OTUS_ERR_TOO_BIG);
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_TOO_BIG);
    got_free(&g, 1);
}

static void keep_alive_reuses_one_connection(void **state)
{
    (void)state;
    struct raw_srv rs;
    raw_start(&F.loop, &rs, RAW_ANSWER);
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", rs.port);
    unsigned opened = 0;
    for (int i = 0; i < 20; i++) {
        struct got g;
        got_init(&g, 1);
        call1(&(struct otus_http_call_opts){.url = u, .body = "{}", .body_len = 2}, &g);
        assert_int_equal(g.status, 0);
        assert_buf_eq(&g.body, "ok");
        opened += g.new_connections;
        if (i > 0)
            assert_int_equal(g.new_connections, 0);
        got_free(&g, 1);
    }
    assert_int_equal(rs.requests, 20);
    assert_int_equal(rs.accepted, 1);
    assert_int_equal(opened, 1);
    struct otus_http_client_stats st;
    otus_http_client_stats(F.cli, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.started, 20);
    assert_int_equal(st.finished, 20);
    assert_int_equal(st.failed, 0);
    raw_stop(&F.loop, &rs);
}

static void status_429_with_retry_after_seconds(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/429");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .body = "x", .body_len = 1}, &g);
    assert_int_equal(g.status, OTUS_ERR_HTTP_RETRY);
    assert_true(otus_status_is_retryable(g.status));
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_NONE);
    assert_int_equal(g.http_status, 429);
    assert_int_equal(g.retry_after_ms, 3000);
    assert_buf_eq(&g.body, "slow down");
    assert_string_equal(g.error, "HTTP 429 Too Many Requests");
    got_free(&g, 1);
}

static void status_503_with_retry_after_date(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/503-date");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, OTUS_ERR_HTTP_RETRY);
    assert_int_equal(g.http_status, 503);
    /* 5 s after the server's Date header (whole seconds both). */
    assert_true(g.retry_after_ms >= 4000 && g.retry_after_ms <= 6000);
    got_free(&g, 1);
}

static void status_404_is_permanent(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/nowhere");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, OTUS_ERR_HTTP_REJECT);
    assert_false(otus_status_is_retryable(g.status));
    assert_int_equal(g.http_status, 404);
    assert_string_equal(g.error, "HTTP 404 Not Found");
    got_free(&g, 1);
}

static int closed_port(void)
{
    uv_tcp_t t;
    struct sockaddr_in a;
    uv_tcp_init(&F.loop, &t);
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&F.loop, UV_RUN_NOWAIT);
    return port;
}

static void connection_refused(void **state)
{
    (void)state;
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", closed_port());
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, OTUS_ERR_CONNECT);
    assert_true(otus_status_is_retryable(g.status));
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_CONNECT);
    assert_int_equal(g.http_status, 0);
    assert_true(strncmp(g.error, "connect: ", 9) == 0);
    got_free(&g, 1);
}

static void timeout_against_silent_servers(void **state)
{
    (void)state;
    /* A server that accepts and never answers, and a route that never answers. */
    struct raw_srv rs;
    raw_start(&F.loop, &rs, RAW_SILENT);
    char u1[128], u2[128];
    snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/", rs.port);
    url(u2, sizeof(u2), "/hang");
    struct ticker k;
    ticker_start(&k);
    struct got g[2];
    got_init(g, 2);
    uint64_t t0 = otus_clock_mono_ns();
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u1, .timeout_ms = 300},
                             on_done, &g[0], NULL),
        0);
    assert_int_equal(
        otus_http_call_start(
            F.cli,
            &(struct otus_http_call_opts){.url = u2, .body = "x", .body_len = 1, .timeout_ms = 300},
            on_done, &g[1], NULL),
        0);
    assert_int_equal(otus_http_client_in_flight(F.cli), 2);
    assert_true(run_until(&g[0].done, 20000));
    assert_true(run_until(&g[1].done, 20000));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g[i].status, OTUS_ERR_TIMEOUT);
        assert_int_equal(g[i].fail, OTUS_HTTP_FAIL_TIMEOUT);
        assert_true(strncmp(g[i].error, "timeout: ", 9) == 0);
        uint64_t ms = (g[i].done_ns - t0) / 1000000u;
        assert_true(ms >= 250 && ms < 10000);
    }
    /* ~30 ticks in 300 ms on an idle machine; the loop was never blocked. */
    assert_true(k.ticks >= 10);
    ticker_stop(&k);
    got_free(g, 2);
    release_held(&F);
    raw_stop(&F.loop, &rs);
}

static void response_over_the_cap(void **state)
{
    (void)state;
    char u[128];
    struct got g;

    /* Announced length over the cap. */
    url(u, sizeof(u), "/big");
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .max_response_bytes = 10000}, &g);
    assert_int_equal(g.status, OTUS_ERR_TOO_BIG);
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_TOO_BIG);
    assert_int_equal(g.http_status, 200);
    assert_true(g.body.len <= 10000);
    got_free(&g, 1);

    /* Exactly at the cap is fine. */
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .max_response_bytes = 100 * 1024}, &g);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.body.len, 100 * 1024);
    got_free(&g, 1);

    /* A refusal with a long body stays a refusal, its body cut at the cap. */
    url(u, sizeof(u), "/big?status=503");
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .max_response_bytes = 10000}, &g);
    assert_int_equal(g.status, OTUS_ERR_HTTP_RETRY);
    assert_int_equal(g.http_status, 503);
    assert_true(g.body_truncated);
    got_free(&g, 1);

    /* Chunked, no length announced: the cap is enforced while reading. */
    struct raw_srv rs;
    raw_start(&F.loop, &rs, RAW_CHUNKED);
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", rs.port);
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .max_response_bytes = 5000}, &g);
    assert_int_equal(g.status, OTUS_ERR_TOO_BIG);
    assert_int_equal(g.fail, OTUS_HTTP_FAIL_TOO_BIG);
    assert_true(g.body_truncated);
    assert_int_equal(g.body.len, 5000);
    got_free(&g, 1);
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .max_response_bytes = 20000}, &g);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.body.len, 20000);
    got_free(&g, 1);
    raw_stop(&F.loop, &rs);
}

struct cancel_ctx {
    struct got g;
    struct otus_http_call *call;
    int in_cancel;
    int ran_in_cancel;
};

static void on_done_cancel(struct otus_http_result *res, void *arg)
{
    struct cancel_ctx *x = arg;
    if (x->in_cancel)
        x->ran_in_cancel = 1;
    on_done(res, &x->g);
}

static void cancel_fire(uv_timer_t *t)
{
    struct cancel_ctx *x = t->data;
    x->in_cancel = 1;
    assert_int_equal(otus_http_call_cancel(x->call), 0);
    assert_int_equal(otus_http_call_cancel(x->call), OTUS_ERR_STATE);
    x->in_cancel = 0;
    assert_int_equal(x->g.done, 0);
}

static void cancel_in_flight(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/hang");
    struct cancel_ctx x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u},
                                          on_done_cancel, &x, &x.call),
                     0);
    assert_non_null(x.call);
    uv_timer_t t;
    uv_timer_init(&F.loop, &t);
    t.data = &x;
    uv_timer_start(&t, cancel_fire, 50, 0);
    assert_true(run_until(&x.g.done, 10000));
    assert_int_equal(x.g.done, 1);
    assert_false(x.ran_in_cancel);
    assert_int_equal(x.g.status, OTUS_ERR_CANCELED);
    assert_int_equal(x.g.fail, OTUS_HTTP_FAIL_CANCELED);
    assert_string_equal(x.g.error, "canceled");
    assert_int_equal(otus_http_client_in_flight(F.cli), 0);
    struct otus_http_client_stats st;
    otus_http_client_stats(F.cli, &st);
    assert_int_equal(st.canceled, 1);
    assert_int_equal(st.sockets_watched, 0);
    uv_close((uv_handle_t *)&t, NULL);
    /* Later calls still work. */
    url(u, sizeof(u), "/echo");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, 0);
    got_free(&g, 1);
    got_free(&x.g, 1);
}

#define MANY 200

static void many_concurrent_with_connection_cap(void **state)
{
    (void)state;
    client_replace(&(struct otus_http_client_opts){.max_host_connections = 4});
    struct raw_srv rs;
    raw_start(&F.loop, &rs, RAW_ANSWER);
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/bulk", rs.port);
    static struct got g[MANY];
    got_init(g, MANY);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(otus_http_call_start(
                             F.cli,
                             &(struct otus_http_call_opts){.url = u, .body = "{}", .body_len = 2},
                             on_done, &g[i], NULL),
                         0);
    assert_int_equal(otus_http_client_in_flight(F.cli), MANY);
    for (int i = 0; i < MANY; i++)
        assert_true(run_until(&g[i].done, 30000));
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(g[i].done, 1);
        assert_int_equal(g[i].status, 0);
    }
    assert_int_equal(rs.requests, MANY);
    assert_true(rs.max_open <= 4);
    assert_true(rs.accepted <= 4);
    assert_int_equal(otus_http_client_in_flight(F.cli), 0);
    got_free(g, MANY);
    raw_stop(&F.loop, &rs);
}

static void waiting_for_a_connection_counts_against_the_timeout(void **state)
{
    (void)state;
    client_replace(&(struct otus_http_client_opts){.max_host_connections = 1});
    char slow[128], fast[128];
    url(slow, sizeof(slow), "/hang");
    url(fast, sizeof(fast), "/echo");
    struct got g[2];
    got_init(g, 2);
    uint64_t t0 = otus_clock_mono_ns();
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = slow, .timeout_ms = 5000},
                             on_done, &g[0], NULL),
        0);
    /* The only connection is taken: this one waits, but no longer than its timeout. */
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = fast, .timeout_ms = 300},
                             on_done, &g[1], NULL),
        0);
    assert_true(run_until(&g[1].done, 20000));
    uint64_t ms = (g[1].done_ns - t0) / 1000000u;
    assert_int_equal(g[1].status, OTUS_ERR_TIMEOUT);
    assert_true(ms >= 250 && ms < 4000);
    assert_int_equal(g[0].done, 0);
    release_held(&F);
    assert_true(run_until(&g[0].done, 20000));
    assert_int_equal(g[0].http_status, 503);
    got_free(g, 2);
}

static void max_in_flight_refuses(void **state)
{
    (void)state;
    client_replace(&(struct otus_http_client_opts){.max_in_flight = 2});
    char u[128];
    url(u, sizeof(u), "/hang");
    struct got g[2];
    got_init(g, 2);
    struct otus_http_call *c0, *c1;
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u}, on_done, &g[0], &c0),
        0);
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u}, on_done, &g[1], &c1),
        0);
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u}, on_done, &g[1], NULL),
        OTUS_ERR_FULL);
    assert_int_equal(otus_http_call_cancel(c0), 0);
    assert_int_equal(otus_http_call_cancel(c1), 0);
    assert_true(run_until(&g[1].done, 10000));
    assert_int_equal(g[0].done + g[1].done, 2);
    got_free(g, 2);
}

static void basic_auth_and_secret_free_errors(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/echo");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .username = "elastic", .password = "s3cret-pw"},
          &g);
    assert_int_equal(g.status, 0);
    /* base64("elastic:s3cret-pw") */
    assert_string_equal(F.authorization, "Basic ZWxhc3RpYzpzM2NyZXQtcHc=");
    got_free(&g, 1);

    /* Failures of every kind with credentials set: none shows them. */
    char urls[3][128];
    snprintf(urls[0], sizeof(urls[0]), "http://127.0.0.1:%d/", closed_port());
    url(urls[1], sizeof(urls[1]), "/nowhere");
    url(urls[2], sizeof(urls[2]), "/hang");
    for (int i = 0; i < 3; i++) {
        got_init(&g, 1);
        call1(
            &(struct otus_http_call_opts){
                .url = urls[i], .username = "elastic", .password = "s3cret-pw", .timeout_ms = 200},
            &g);
        assert_int_not_equal(g.status, 0);
        assert_true(g.error[0] != '\0');
        assert_null(strstr(g.error, "s3cret-pw"));
        assert_null(strstr(g.error, "elastic"));
        got_free(&g, 1);
    }
    release_held(&F);

    /* Credentials in the URL are refused outright. */
    char bad[160];
    snprintf(bad, sizeof(bad), "http://elastic:s3cret-pw@127.0.0.1:%d/echo", F.port);
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = bad}, on_done, &g, NULL),
        OTUS_ERR_INVALID);
}

static void loop_keeps_running_while_calls_are_slow(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/slow");
    struct ticker k;
    ticker_start(&k);
    struct got g[4];
    got_init(g, 4);
    uint64_t t0 = otus_clock_mono_ns();
    for (int i = 0; i < 4; i++)
        assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u},
                                              on_done, &g[i], NULL),
                         0);
    for (int i = 0; i < 4; i++)
        assert_true(run_until(&g[i].done, 20000));
    uint64_t ms = (otus_clock_mono_ns() - t0) / 1000000u;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g[i].status, 0);
        assert_buf_eq(&g[i].body, "late");
    }
    assert_true(ms >= 450);
    /* ~50 ticks expected in 500 ms; far fewer would mean a blocked loop. */
    assert_true(k.ticks >= 15);
    ticker_stop(&k);
    got_free(g, 4);
}

static void names_resolve_off_the_loop(void **state)
{
    (void)state;
    struct ticker k;
    ticker_start(&k);
    char u[128];
    snprintf(u, sizeof(u), "http://localhost:%d/echo", F.port);
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    assert_int_equal(g.status, 0);
    got_free(&g, 1);

    /* A name that cannot resolve: a DNS failure (or, where the resolver hangs, the
     * timeout), and the loop turns meanwhile. */
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = "http://no-such-host.invalid/", .timeout_ms = 3000},
          &g);
    assert_true(g.fail == OTUS_HTTP_FAIL_DNS || g.fail == OTUS_HTTP_FAIL_TIMEOUT);
    assert_true(g.status == OTUS_ERR_CONNECT || g.status == OTUS_ERR_TIMEOUT);
    got_free(&g, 1);
    ticker_stop(&k);
}

static void methods(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/echo");
    struct got g;

    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.method = "PUT", .url = u, .body = "abc", .body_len = 3},
          &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.method, "PUT");
    assert_int_equal(F.body.len, 3);
    got_free(&g, 1);

    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.method = "DELETE", .url = u}, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.method, "DELETE");
    got_free(&g, 1);

    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.method = "HEAD", .url = u}, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.method, "HEAD");
    assert_int_equal(g.body.len, 0);
    got_free(&g, 1);

    /* POST with no body sends Content-Length: 0. */
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.method = "POST", .url = u}, &g);
    assert_int_equal(g.status, 0);
    assert_string_equal(F.method, "POST");
    assert_int_equal(F.body.len, 0);
    got_free(&g, 1);
}

static void proxies_only_when_named(void **state)
{
    (void)state;
    /* The environment's proxy settings are ignored: this one leads nowhere. */
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", closed_port());
    setenv("http_proxy", dead, 1);
    setenv("HTTP_PROXY", dead, 1);
    char u[128];
    url(u, sizeof(u), "/echo");
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u}, &g);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    assert_int_equal(g.status, 0);
    got_free(&g, 1);

    /* A named proxy gets the request (the raw server plays the proxy). */
    struct raw_srv rs;
    raw_start(&F.loop, &rs, RAW_ANSWER);
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", rs.port);
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = "http://backend.example:9200/_bulk",
                                        .proxy = proxy,
                                        .body = "{}",
                                        .body_len = 2},
          &g);
    assert_int_equal(g.status, 0);
    assert_buf_eq(&g.body, "ok");
    assert_int_equal(rs.requests, 1);
    got_free(&g, 1);
    raw_stop(&F.loop, &rs);
}

static void invalid_calls(void **state)
{
    (void)state;
    struct got g;
    char u[128];
    url(u, sizeof(u), "/echo");
    const char *crlf[] = {"X-A: 1\r\nX-B: 2", NULL};
    const char *noname[] = {": v", NULL};
    const char *nocolon[] = {"X-A 1", NULL};
    const struct otus_http_call_opts bad[] = {
        {.url = NULL},
        {.url = "ftp://127.0.0.1/x"},
        {.url = "file:///etc/passwd"},
        {.url = "http:///nohost"},
        {.url = "http://127.0.0.1/a b"},
        {.url = u, .method = "GE T"},
        {.url = u, .method = ""},
        {.url = u, .headers = crlf},
        {.url = u, .headers = noname},
        {.url = u, .headers = nocolon},
        {.url = u, .body_len = 5},
        {.url = u, .password = "p"},
        {.url = u, .tls = &(struct otus_http_tls){.key_file = "k.pem"}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(otus_http_call_start(F.cli, &bad[i], on_done, &g, NULL), OTUS_ERR_INVALID);
    assert_int_equal(
        otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u}, NULL, NULL, NULL),
        OTUS_ERR_INVALID);
    assert_int_equal(otus_http_client_in_flight(F.cli), 0);
    assert_int_equal(otus_http_call_cancel(NULL), OTUS_ERR_STATE);
    otus_http_client_close(NULL, NULL, NULL);
    assert_string_equal(otus_http_fail_name(OTUS_HTTP_FAIL_TOO_BIG), "too_big");
}

struct close_ctx {
    struct got g[3];
    int closed;
    int callbacks_before_close;
};

static void on_closed(void *arg)
{
    struct close_ctx *x = arg;
    x->closed = 1;
    x->callbacks_before_close = x->g[0].done + x->g[1].done + x->g[2].done;
}

static void close_cancels_calls_in_flight(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof(u), "/hang");
    static struct close_ctx x;
    memset(&x, 0, sizeof(x));
    for (int i = 0; i < 3; i++)
        assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u},
                                              on_done, &x.g[i], NULL),
                         0);
    /* Let the requests reach the server. */
    uint64_t t0 = otus_clock_mono_ns();
    while (F.nheld < 3 && otus_clock_mono_ns() - t0 < 10000000000ull)
        uv_run(&F.loop, UV_RUN_ONCE);
    assert_int_equal(F.nheld, 3);
    otus_http_client_close(F.cli, on_closed, &x);
    /* Closing twice is harmless; starting is refused. */
    otus_http_client_close(F.cli, on_closed, &x);
    assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = u}, on_done,
                                          &x.g[0], NULL),
                     OTUS_ERR_STATE);
    assert_int_equal(x.g[0].done, 0);
    assert_true(run_until(&x.closed, 10000));
    assert_int_equal(x.callbacks_before_close, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(x.g[i].status, OTUS_ERR_CANCELED);
    got_free(x.g, 3);
    release_held(&F);
    assert_int_equal(otus_http_client_create(&F.loop, NULL, &F.cli), 0);
}

/* A chain: each callback starts the next call, and the last closes the client. */
struct chain {
    struct got g;
    char url[128];
    int left;
    int closed;
};

static void on_chain(struct otus_http_result *res, void *arg)
{
    struct chain *ch = arg;
    on_done(res, &ch->g);
    assert_int_equal(res->status, 0);
    if (--ch->left > 0) {
        assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = ch->url},
                                              on_chain, ch, NULL),
                         0);
    } else {
        otus_http_client_close(F.cli, set_flag, &ch->closed);
    }
}

static void calls_from_callbacks(void **state)
{
    (void)state;
    struct chain ch;
    memset(&ch, 0, sizeof(ch));
    url(ch.url, sizeof(ch.url), "/echo");
    ch.left = 5;
    assert_int_equal(otus_http_call_start(F.cli, &(struct otus_http_call_opts){.url = ch.url},
                                          on_chain, &ch, NULL),
                     0);
    assert_true(run_until(&ch.closed, 10000));
    assert_int_equal(ch.g.done, 5);
    got_free(&ch.g, 1);
    assert_int_equal(otus_http_client_create(&F.loop, NULL, &F.cli), 0);
}

static void tls_failure_is_classified(void **state)
{
    (void)state;
    /* https to a plain-HTTP port: the handshake fails. */
    char u[128];
    snprintf(u, sizeof(u), "https://127.0.0.1:%d/echo", F.port);
    struct got g;
    got_init(&g, 1);
    call1(&(struct otus_http_call_opts){.url = u, .timeout_ms = 5000}, &g);
    assert_int_equal(g.status, OTUS_ERR_CONNECT);
    assert_true(g.fail == OTUS_HTTP_FAIL_TLS || g.fail == OTUS_HTTP_FAIL_IO);
    assert_true(
        strncmp(g.error, otus_http_fail_name(g.fail), strlen(otus_http_fail_name(g.fail))) == 0);
    got_free(&g, 1);
    release_held(&F);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(get_200_with_body, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(post_large_body_without_expect, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(gzip_body_arrives_intact, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(gzip_answer_decoded_and_capped, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(keep_alive_reuses_one_connection, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(status_429_with_retry_after_seconds, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(status_503_with_retry_after_date, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(status_404_is_permanent, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(connection_refused, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(timeout_against_silent_servers, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(response_over_the_cap, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(cancel_in_flight, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(many_concurrent_with_connection_cap, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(waiting_for_a_connection_counts_against_the_timeout, fx_setup,
                                    fx_teardown),
    cmocka_unit_test_setup_teardown(max_in_flight_refuses, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(basic_auth_and_secret_free_errors, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(loop_keeps_running_while_calls_are_slow, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(names_resolve_off_the_loop, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(methods, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(proxies_only_when_named, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(invalid_calls, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(close_cancels_calls_in_flight, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(calls_from_callbacks, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(tls_failure_is_classified, fx_setup, fx_teardown),
};

OTUS_TEST_MAIN(tests)
