/*
 * test_http_server.c: the HTTP server's lent response bodies
 * (otus_http_respond_buf_lend). The server gives a lent body back exactly once: only
 * after it was written (a client that does not read holds it; the memory is scribbled
 * over when it comes back and the client still receives the body intact, even after
 * stalling longer than the linger of a closing connection), when the
 * peer goes away in the middle of the write, when the server closes with the write
 * in flight, and at once for bodies it does not write from that memory (small ones,
 * HEAD). Other behaviour of the server is tested over sockets in
 * tests/integration/test_http_server.py.
 */
#include "otus_test.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include <otus.h>

#include "agent/http_server.h"

#define BIG   (32u << 20) /* far more than the socket buffers hold */
#define SMALL 100

struct lend {
    uv_loop_t loop;
    struct otus_http_server *srv;
    size_t size;         /* body size the handler answers with */
    char *data;          /* the lent memory */
    int answered;        /* the handler ran */
    int returned;        /* times the body came back */
    int returned_inline; /* it came back before the respond call returned */
    struct otus_buf back;
    int closed;
};

struct client {
    int port;
    const char *request;
    size_t read_limit; /* stop after this many bytes and reset the connection (0: read all) */
    atomic_int go;     /* start reading */
    atomic_int done;
    struct otus_buf resp;
};

static void body_back(struct otus_buf *body, void *arg)
{
    struct lend *l = arg;
    l->returned++;
    l->back = *body;
    /* The server is done with the memory: whatever is written now must not reach the
     * client. */
    if (body->data)
        memset(body->data, 'X', body->len);
}

static void handler(struct otus_http_request *req, void *ctx)
{
    struct lend *l = ctx;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_buf_reserve(&b, l->size), 0);
    for (size_t i = 0; i < l->size; i++)
        b.data[i] = (char)('a' + i % 26);
    b.len = l->size;
    l->data = b.data;
    l->answered = 1;
    otus_http_respond_buf_lend(req, 200, "application/octet-stream", &b, NULL, body_back, l);
    assert_null(b.data); /* emptied */
    l->returned_inline = l->returned;
}

static void setup(struct lend *l, size_t size)
{
    memset(l, 0, sizeof(*l));
    l->size = size;
    assert_int_equal(uv_loop_init(&l->loop), 0);
    struct otus_http_server_opts o = {.name = "t"};
    assert_int_equal(otus_http_server_create(&l->loop, "127.0.0.1:0", &o, &l->srv, NULL), 0);
    assert_int_equal(otus_http_server_route(l->srv, "/body", 0, handler, l), 0);
}

static void server_closed(void *arg)
{
    *(int *)arg = 1;
}

static void teardown(struct lend *l)
{
    if (l->srv)
        otus_http_server_close(l->srv, server_closed, &l->closed);
    while (l->srv && !l->closed)
        uv_run(&l->loop, UV_RUN_ONCE);
    otus_buf_free(&l->back);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&l->loop), 0);
}

static void client_thread(void *arg)
{
    struct client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 64 * 1024; /* keep what the kernel buffers for us small */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ssize_t w = write(fd, c->request, strlen(c->request));
        (void)w;
        while (!atomic_load(&c->go))
            usleep(1000);
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            otus_buf_append(&c->resp, buf, (size_t)n);
            if (c->read_limit && c->resp.len >= c->read_limit) {
                struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with a reset */
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                break;
            }
        }
    }
    close(fd);
    atomic_store(&c->done, 1);
}

/* Runs the loop without blocking (the client may be holding the write back) until
 * *flag is set; fails after a generous deadline instead of hanging. */
static void run_until(struct lend *l, const int *flag, const atomic_int *aflag)
{
    for (int i = 0; i < 60000; i++) {
        if ((flag && *flag) || (aflag && atomic_load(aflag)))
            return;
        uv_run(&l->loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    fail_msg("the loop did not get there");
}

static void run_for_ms(struct lend *l, int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(&l->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* The response's body (after the blank line), or NULL. */
static const char *body_of(const struct otus_buf *resp, size_t *n)
{
    const char *p = resp->data ? memmem(resp->data, resp->len, "\r\n\r\n", 4) : NULL;
    if (!p)
        return NULL;
    *n = resp->len - (size_t)(p + 4 - resp->data);
    return p + 4;
}

static void returned_after_the_write(void **state)
{
    (void)state;
    struct lend l;
    setup(&l, BIG);
    struct client c = {.port = otus_http_server_port(l.srv),
                       .request = "GET /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"};
    otus_buf_init(&c.resp, 0);
    uv_thread_t t;
    uv_thread_create(&t, client_thread, &c);
    run_until(&l, &l.answered, NULL);
    /* The client reads nothing yet, so the write cannot complete: the memory stays lent,
     * and the connection (Connection: close) stays open for longer than the server's
     * linger after a last answer, which starts only once the answer is written. */
    run_for_ms(&l, 2500);
    assert_int_equal(l.returned, 0);
    atomic_store(&c.go, 1);
    run_until(&l, &l.returned, NULL);
    run_until(&l, NULL, &c.done);
    uv_thread_join(&t);
    assert_int_equal(l.returned, 1);
    assert_ptr_equal(l.back.data, l.data);
    assert_int_equal(l.back.len, BIG);
    size_t n = 0;
    const char *b = body_of(&c.resp, &n);
    assert_non_null(b);
    assert_int_equal(n, BIG);
    for (size_t i = 0; i < n; i++)
        if (b[i] != (char)('a' + i % 26))
            fail_msg("byte %zu of the body changed: the memory came back before the write", i);
    otus_buf_free(&c.resp);
    teardown(&l);
    assert_int_equal(l.returned, 1);
}

static void returned_when_the_peer_goes_away(void **state)
{
    (void)state;
    struct lend l;
    setup(&l, BIG);
    struct client c = {.port = otus_http_server_port(l.srv),
                       .request = "GET /body HTTP/1.1\r\nHost: t\r\n\r\n",
                       .read_limit = 256 * 1024};
    otus_buf_init(&c.resp, 0);
    atomic_store(&c.go, 1);
    uv_thread_t t;
    uv_thread_create(&t, client_thread, &c);
    run_until(&l, &l.answered, NULL);
    run_until(&l, NULL, &c.done);
    uv_thread_join(&t);
    assert_true(c.resp.len < BIG);
    run_until(&l, &l.returned, NULL);
    run_for_ms(&l, 20);
    assert_int_equal(l.returned, 1);
    assert_ptr_equal(l.back.data, l.data);
    otus_buf_free(&c.resp);
    teardown(&l);
    assert_int_equal(l.returned, 1);
}

static void returned_when_the_server_closes(void **state)
{
    (void)state;
    struct lend l;
    setup(&l, BIG);
    struct client c = {.port = otus_http_server_port(l.srv),
                       .request = "GET /body HTTP/1.1\r\nHost: t\r\n\r\n"};
    otus_buf_init(&c.resp, 0);
    uv_thread_t t;
    uv_thread_create(&t, client_thread, &c);
    run_until(&l, &l.answered, NULL);
    run_for_ms(&l, 50);
    assert_int_equal(l.returned, 0);
    otus_http_server_close(l.srv, server_closed, &l.closed);
    run_until(&l, &l.closed, NULL);
    l.srv = NULL;
    assert_int_equal(l.returned, 1);
    atomic_store(&c.go, 1);
    uv_thread_join(&t);
    otus_buf_free(&c.resp);
    teardown(&l);
    assert_int_equal(l.returned, 1);
}

static void small_and_head_return_at_once(void **state)
{
    (void)state;
    const char *const requests[] = {"GET /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                                    "HEAD /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"};
    const size_t sizes[] = {SMALL, BIG};
    for (int k = 0; k < 2; k++) {
        struct lend l;
        setup(&l, sizes[k]);
        struct client c = {.port = otus_http_server_port(l.srv), .request = requests[k]};
        otus_buf_init(&c.resp, 0);
        atomic_store(&c.go, 1);
        uv_thread_t t;
        uv_thread_create(&t, client_thread, &c);
        run_until(&l, NULL, &c.done);
        uv_thread_join(&t);
        assert_int_equal(l.returned_inline, 1);
        assert_int_equal(l.returned, 1);
        size_t n = 0;
        const char *b = body_of(&c.resp, &n);
        assert_non_null(b);
        char cl[64];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", sizes[k]);
        assert_non_null(memmem(c.resp.data, c.resp.len, cl, strlen(cl)));
        assert_int_equal(n, k == 0 ? SMALL : 0);
        if (k == 0)
            assert_memory_equal(b, "abcdefghij", 10);
        otus_buf_free(&c.resp);
        teardown(&l);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(returned_after_the_write),
        cmocka_unit_test(returned_when_the_peer_goes_away),
        cmocka_unit_test(returned_when_the_server_closes),
        cmocka_unit_test(small_and_head_return_at_once),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
