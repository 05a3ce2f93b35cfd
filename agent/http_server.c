/*
 * http_server.c: HTTP/1.1 on libuv and http_parser (see http_server.h for the
 * contract).
 *
 * A connection parses one request at a time. When http_parser reports a complete
 * message the parser is paused, the unparsed remainder of that read is kept in the
 * connection's pending buffer, reading stops, and the handler runs. Once the handler
 * answers, parsing resumes on the pending bytes (pipelined requests), then reading
 * starts again. Answers are therefore written in request order and a client can never
 * have more than one request in the agent's hands.
 *
 * Reads land in one buffer shared by all connections (the loop is single-threaded and
 * libuv calls read_cb right after alloc_cb), so an idle connection costs only its
 * struct. Connections the server closes after an answer (errors, Connection: close)
 * close gracefully: shutdown of the write side once the answer is written, then
 * reading and discarding until the peer closes or a short deadline passes, so the peer
 * sees the answer and not a reset.
 */
#include "agent/http_server.h"

#include <assert.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <otus.h>

#include "agent/log.h"
#include "common/clock.h"

#define MAX_HEADERS       128
#define READ_BUF_SIZE     (64 * 1024)
#define LINGER_MS         2000
#define WRITE_BACKLOG_MAX (4u * 1024 * 1024)
#define SMALL_RESPONSE    16384

struct route {
    struct route *next;
    char *path; /* owned */
    size_t max_body;
    otus_http_handler handler;
    otus_http_admit admit; /* MAY be NULL */
    void *ctx;
};

struct conn;

struct otus_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct otus_http_server_opts opts;
    struct route *routes;
    struct conn *conns; /* open connections, doubly linked */
    unsigned nconns;    /* connections open (not closing) */
    unsigned live;      /* connection structs not yet freed */
    int port;
    int closing;
    int listener_open;
    void (*done)(void *arg);
    void *done_arg;
    http_parser_settings settings;
    char date[32]; /* cached IMF-fixdate */
    uint64_t date_sec;
    char readbuf[READ_BUF_SIZE];
};

enum hstate { H_URL, H_FIELD, H_VALUE };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct otus_http_server *srv;
    struct conn *prev, *next;
    http_parser parser;

    int handles;      /* open libuv handles (tcp, timer) */
    int closing;      /* uv_close started */
    int pending;      /* a request awaits its answer */
    int lingering;    /* final answer queued; draining input until close */
    int reading;      /* uv_read_start active */
    int in_request;   /* bytes of a request have arrived, not yet complete */
    int in_process;   /* conn_process on the stack */
    int resume;       /* conn_process must run again */
    int keep_alive;   /* the current request allows another one */
    int head_only;    /* the current request is HEAD */
    int error_status; /* a parser callback refused the request with this status */
    const char *error_msg;

    /* Unparsed input that arrived with a complete request. */
    char *pend;
    size_t pend_len, pend_off, pend_cap;

    /* The request being parsed. */
    struct otus_buf hbuf; /* URL and headers, NUL-separated */
    size_t header_bytes;
    enum hstate hstate;
    size_t hoff[MAX_HEADERS][2];
    int nhdr;
    struct otus_http_header headers[MAX_HEADERS];
    struct route *route;
    char *path_copy;     /* route path at dispatch, for the observer; owned */
    size_t body_charged; /* bytes of req.body charged to the server's budget */
    struct otus_http_request req;
};

/* A response body: memory the server owns (done NULL: freed once written), or memory a
 * handler lent with otus_http_respond_buf_lend() and gets back through done. */
struct body {
    struct otus_buf buf;
    otus_http_body_cb done;
    void *arg;
};

struct write_req {
    uv_write_t w;
    struct conn *c;
    struct otus_buf head;
    struct body body;
};

static void conn_process(struct conn *c);
static void conn_close(struct conn *c);
static void conn_linger(struct conn *c);
static void server_maybe_done(struct otus_http_server *s);

#define CONN_OF_PARSER(p) ((struct conn *)((char *)(p)-offsetof(struct conn, parser)))
#define CONN_OF_REQ(r)    ((struct conn *)((char *)(r)-offsetof(struct conn, req)))

/* ---- small helpers ---------------------------------------------------------------- */

const char *otus_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int otus_addr_parse(const char *addr, struct sockaddr_storage *out)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1])
        return OTUS_ERR_INVALID;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return OTUS_ERR_INVALID;
    char host[256];
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= sizeof(host))
        return OTUS_ERR_INVALID;
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof(*out));
    if (hlen == 0)
        return uv_ip4_addr("0.0.0.0", (int)port, (struct sockaddr_in *)out) ? OTUS_ERR_INVALID : 0;
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return OTUS_ERR_INVALID;
        host[hlen - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) ? OTUS_ERR_INVALID : 0;
    }
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return OTUS_ERR_INVALID;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

/* The Date header value, formatted at most once a second. */
static const char *http_date(struct otus_http_server *s)
{
    static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t sec = otus_clock_wall_ns() / 1000000000u;
    if (sec != s->date_sec) {
        int y, m, d, hh, mm, ss;
        otus_time_civil((int64_t)sec, &y, &m, &d, &hh, &mm, &ss);
        snprintf(s->date, sizeof(s->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 wd[(sec / 86400) % 7], d, mo[m - 1], y, hh, mm, ss);
        s->date_sec = sec;
    }
    return s->date;
}

static struct route *route_find(struct otus_http_server *s, const char *path)
{
    for (struct route *r = s->routes; r; r = r->next)
        if (strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------ */

/* The server no longer needs a body's memory: frees it, or gives it back to its lender.
 * The body is empty afterwards. */
static void body_return(struct body *b)
{
    otus_http_body_cb done = b->done;
    struct otus_buf buf = b->buf;
    b->done = NULL;
    otus_buf_init(&b->buf, 0);
    if (done)
        done(&buf, b->arg);
    else
        otus_buf_free(&buf);
}

static void write_done(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct conn *c = wr->c;
    otus_buf_free(&wr->head);
    body_return(&wr->body);
    free(wr);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!c->closing && !c->lingering && !c->pending &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_BACKLOG_MAX)
        conn_process(c);
}

/* Queues head (and body) for writing; takes ownership of head and of the body (which
 * goes back to its lender, if it has one, once written or failed). */
static int conn_write(struct conn *c, struct otus_buf *head, struct body *body)
{
    if (body->buf.len == 0 || body->buf.len <= SMALL_RESPONSE) {
        if (body->buf.len && otus_buf_append(head, body->buf.data, body->buf.len) != 0) {
            otus_buf_free(head);
            body_return(body);
            return OTUS_ERR_NOMEM;
        }
        body_return(body);
        size_t done = 0;
        if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
            uv_buf_t b = uv_buf_init(head->data, (unsigned)head->len);
            int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
            if (n > 0)
                done = (size_t)n;
        }
        if (done == head->len) {
            otus_buf_free(head);
            return 0;
        }
        if (done) {
            memmove(head->data, head->data + done, head->len - done);
            head->len -= done;
        }
    }
    struct write_req *wr = malloc(sizeof(*wr));
    if (!wr) {
        otus_buf_free(head);
        body_return(body);
        return OTUS_ERR_NOMEM;
    }
    wr->c = c;
    wr->head = *head;
    wr->body = *body;
    otus_buf_init(head, 0);
    body->done = NULL;
    otus_buf_init(&body->buf, 0);
    uv_buf_t bufs[2] = {uv_buf_init(wr->head.data, (unsigned)wr->head.len),
                        uv_buf_init(wr->body.buf.data, (unsigned)wr->body.buf.len)};
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, wr->body.buf.len ? 2 : 1, write_done);
    if (rc < 0) {
        otus_buf_free(&wr->head);
        body_return(&wr->body);
        free(wr);
        return OTUS_ERR_IO;
    }
    return 0;
}

static void send_response(struct conn *c, int status, const char *content_type, struct body *body,
                          const char *extra_headers, int close_after)
{
    struct otus_buf head;
    otus_buf_init(&head, 0);
    /* Built with appends: this runs once per request on the hot path. */
    char num[24];
    char *p = num + sizeof(num);
    size_t v = body->buf.len;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), ' '};
    int rc = otus_buf_reserve(&head, 256);
    if (!rc)
        rc = otus_buf_append(&head, "HTTP/1.1 ", 9);
    if (!rc)
        rc = otus_buf_append(&head, code, 4);
    if (!rc)
        rc = otus_buf_append_str(&head, otus_http_reason(status));
    if (!rc)
        rc = otus_buf_append(&head, "\r\nDate: ", 8);
    if (!rc)
        rc = otus_buf_append_str(&head, http_date(c->srv));
    if (!rc)
        rc = otus_buf_append(&head, "\r\n", 2);
    if (!rc && content_type) {
        rc = otus_buf_append(&head, "Content-Type: ", 14);
        if (!rc)
            rc = otus_buf_append_str(&head, content_type);
        if (!rc)
            rc = otus_buf_append(&head, "\r\n", 2);
    }
    if (!rc)
        rc = otus_buf_append(&head, "Content-Length: ", 16);
    if (!rc)
        rc = otus_buf_append(&head, p, (size_t)(num + sizeof(num) - p));
    if (!rc)
        rc = otus_buf_append(&head, "\r\n", 2);
    if (!rc && close_after)
        rc = otus_buf_append_str(&head, "Connection: close\r\n");
    else if (!rc && c->req.http_minor == 0 && c->req.http_major == 1)
        rc = otus_buf_append_str(&head, "Connection: keep-alive\r\n");
    if (!rc && extra_headers)
        rc = otus_buf_append_str(&head, extra_headers);
    if (!rc)
        rc = otus_buf_append(&head, "\r\n", 2);
    if (rc) {
        otus_buf_free(&head);
        body_return(body);
        conn_close(c);
        return;
    }
    if (c->head_only)
        body_return(body);
    if (conn_write(c, &head, body) != 0) {
        conn_close(c);
        return;
    }
    if (close_after)
        conn_linger(c);
}

/* Refuses the request being parsed and closes the connection after the answer. */
static void conn_fail(struct conn *c, int status, const char *msg)
{
    struct body body = {.done = NULL};
    otus_buf_init(&body.buf, 0);
    if (otus_buf_printf(&body.buf, "%s\n", msg) != 0) {
        otus_buf_free(&body.buf);
        conn_close(c);
        return;
    }
    c->in_request = 0;
    if (c->srv->opts.observer)
        c->srv->opts.observer(c->route ? c->route->path : "other", status,
                              c->srv->opts.observer_ctx);
    send_response(c, status, "text/plain; charset=utf-8", &body,
                  status == 503 ? "Retry-After: 1\r\n" : NULL, 1);
}

/* Frees the current request body and returns its charge to the budget. */
static void body_release(struct conn *c)
{
    otus_buf_free(&c->req.body);
    if (c->body_charged) {
        otus_mem_release(c->srv->opts.budget, c->body_charged);
        c->body_charged = 0;
    }
}

/* ---- timers and closing ----------------------------------------------------------------- */

static void timer_fired(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->lingering || c->closing) {
        conn_close(c);
    } else if (c->in_request) {
        otus_log(OTUS_LOG_DEBUG, "http", "%s: request not complete within the deadline",
                 c->srv->opts.name);
        conn_fail(c, 408, "request not complete within the deadline");
    } else {
        conn_close(c);
    }
}

static void arm(struct conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, timer_fired, ms, 0);
}

static void conn_free_if_done(struct conn *c)
{
    if (c->handles > 0 || c->pending)
        return;
    struct otus_http_server *s = c->srv;
    otus_buf_free(&c->hbuf);
    body_release(c);
    free(c->pend);
    free(c->path_copy);
    free(c);
    s->live--;
    server_maybe_done(s);
}

static void handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->handles--;
    conn_free_if_done(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct otus_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* Everything is written: the peer gets a short while to close first. */
    if (!c->closing)
        arm(c, LINGER_MS);
}

static void linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->srv->readbuf, READ_BUF_SIZE);
}

static void linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        conn_close(st->data);
}

/* The final answer is queued: half-close, then drain the peer's input until it closes. */
static void conn_linger(struct conn *c)
{
    if (c->lingering || c->closing)
        return;
    c->lingering = 1;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
        conn_close(c);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, linger_read);
    c->reading = 1;
    /* The answer may still be on its way to a slow reader (a large body): the idle
     * timeout bounds that; the short linger starts once it is written. */
    arm(c, c->srv->opts.idle_timeout_ms);
}

/* ---- parser callbacks ---------------------------------------------------------------- */

static int count_header_bytes(struct conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->opts.max_header_bytes) {
        c->error_status = 431;
        c->error_msg = "request header fields too large";
        return -1;
    }
    return 0;
}

static int hbuf_add(struct conn *c, const char *p, size_t n)
{
    if (otus_buf_append(&c->hbuf, p, n) != 0) {
        c->error_status = 431;
        c->error_msg = "request header fields too large";
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = CONN_OF_PARSER(p);
    otus_buf_reset(&c->hbuf);
    c->header_bytes = 0;
    c->hstate = H_URL;
    c->nhdr = 0;
    c->route = NULL;
    c->error_status = 0;
    body_release(c);
    otus_buf_init(&c->req.body, c->srv->opts.max_body_bytes);
    c->in_request = 1;
    arm(c, c->srv->opts.request_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct conn *c = CONN_OF_PARSER(p);
    if (count_header_bytes(c, n))
        return -1;
    return hbuf_add(c, at, n);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct conn *c = CONN_OF_PARSER(p);
    if (count_header_bytes(c, n))
        return -1;
    if (c->hstate != H_FIELD) {
        if (hbuf_add(c, "", 1)) /* ends the URL or the previous value */
            return -1;
        if (c->nhdr == MAX_HEADERS) {
            c->error_status = 431;
            c->error_msg = "too many request header fields";
            return -1;
        }
        c->hoff[c->nhdr][0] = c->hbuf.len;
        c->hoff[c->nhdr][1] = SIZE_MAX;
        c->nhdr++;
        c->hstate = H_FIELD;
    }
    return hbuf_add(c, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct conn *c = CONN_OF_PARSER(p);
    if (count_header_bytes(c, n))
        return -1;
    if (c->hstate != H_VALUE) {
        if (hbuf_add(c, "", 1)) /* ends the name */
            return -1;
        c->hoff[c->nhdr - 1][1] = c->hbuf.len;
        c->hstate = H_VALUE;
    }
    return hbuf_add(c, at, n);
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = CONN_OF_PARSER(p);
    if (hbuf_add(c, "", 1))
        return -1;
    if (c->hstate == H_FIELD) {
        /* A name without a value: give it an empty one. */
        c->hoff[c->nhdr - 1][1] = c->hbuf.len - 1;
    }
    char *base = c->hbuf.data;
    for (int i = 0; i < c->nhdr; i++) {
        char *name = base + c->hoff[i][0];
        char *value = base + c->hoff[i][1];
        for (char *q = name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        size_t vl = strlen(value);
        while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            value[--vl] = '\0';
        c->headers[i].name = name;
        c->headers[i].value = value;
    }
    /* The URL is at the start of hbuf: split off the query. */
    char *url = base;
    char *q = strchr(url, '?');
    if (q)
        *q++ = '\0';
    c->req.path = url;
    c->req.query = q ? q : "";
    c->req.headers = c->headers;
    c->req.nheaders = (size_t)c->nhdr;
    c->req.method_id = p->method;
    c->req.method = http_method_str((enum http_method)p->method);
    c->req.http_major = p->http_major;
    c->req.http_minor = p->http_minor;
    c->keep_alive = http_should_keep_alive(p);
    c->head_only = p->method == HTTP_HEAD;

    c->route = route_find(c->srv, url);
    size_t max_body =
        c->route && c->route->max_body ? c->route->max_body : c->srv->opts.max_body_bytes;
    c->req.body.max = max_body;
    c->req.body_skipped = 0;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > max_body) {
        c->error_status = 413;
        c->error_msg = "request body larger than the limit";
        return -1;
    }
    const char *expect = otus_http_request_header(&c->req, "expect");
    if (c->route && c->route->admit &&
        !c->route->admit(&c->req, p->content_length, (p->flags & F_CONTENTLENGTH) != 0,
                         c->route->ctx)) {
        if (expect) {
            /* The client waits for 100 Continue before sending the body, if it sends it at
             * all: answer now and close, as the framing of what follows is unknown. */
            c->error_status = 503;
            c->error_msg = "request refused before its body";
            return -1;
        }
        c->req.body_skipped = 1;
        return 0;
    }
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0) {
            c->error_status = 417;
            c->error_msg = "unsupported expectation";
            return -1;
        }
        if (p->http_minor >= 1 && ((p->flags & F_CHUNKED) || p->content_length > 0)) {
            struct otus_buf head;
            struct body body = {.done = NULL};
            otus_buf_init(&head, 0);
            otus_buf_init(&body.buf, 0);
            if (otus_buf_append_str(&head, "HTTP/1.1 100 Continue\r\n\r\n") != 0 ||
                conn_write(c, &head, &body) != 0) {
                c->error_status = 500;
                c->error_msg = "out of memory";
                return -1;
            }
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct conn *c = CONN_OF_PARSER(p);
    if (c->req.body_skipped)
        return 0; /* read and dropped: neither stored nor charged */
    if (c->srv->opts.budget) {
        /* Charge what the buffer will hold after this append (it grows by doubling). */
        size_t need = c->req.body.len + n;
        size_t cap = c->req.body.cap;
        if (need > cap) {
            size_t grow = cap ? cap : 256;
            while (grow < need)
                grow *= 2;
            if (grow > c->req.body.max)
                grow = c->req.body.max;
            if (otus_mem_charge(c->srv->opts.budget, grow - cap) != 0) {
                c->error_status = 503;
                c->error_msg = "the agent's memory limit is reached; retry later";
                return -1;
            }
            c->body_charged += grow - cap;
        }
    }
    int rc = otus_buf_append(&c->req.body, at, n);
    if (rc) {
        c->error_status = rc == OTUS_ERR_TOO_BIG ? 413 : 500;
        c->error_msg =
            rc == OTUS_ERR_TOO_BIG ? "request body larger than the limit" : "out of memory";
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1);
    return 0;
}

/* ---- request flow ----------------------------------------------------------------------- */

static void dispatch(struct conn *c)
{
    c->in_request = 0;
    c->pending = 1;
    uv_timer_stop(&c->timer);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    c->req.received_ns = otus_clock_mono_ns();
    free(c->path_copy);
    c->path_copy = strdup(c->route ? c->route->path : "other");
    if (c->route) {
        c->route->handler(&c->req, c->route->ctx);
    } else {
        otus_http_respond(&c->req, 404, "text/plain; charset=utf-8", "not found\n", 10, NULL);
    }
}

/* Feeds data to the parser; returns the bytes consumed, or SIZE_MAX when the
 * connection failed (and is closing). *complete says a request is ready. */
static size_t feed(struct conn *c, const char *data, size_t len, int *complete)
{
    *complete = 0;
    size_t n = http_parser_execute(&c->parser, &c->srv->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        *complete = 1;
        return n;
    }
    if (e != HPE_OK) {
        int status = c->error_status;
        const char *msg = c->error_msg;
        if (!status) {
            status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
            msg = http_errno_description(e);
        }
        conn_fail(c, status, msg);
        return SIZE_MAX;
    }
    if (c->parser.upgrade) {
        conn_fail(c, 400, "protocol upgrade is not supported");
        return SIZE_MAX;
    }
    return n;
}

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->srv->readbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (c->in_request && nread == UV_EOF) {
            /* Let the parser see the end (a body delimited by close is an error for a
             * request, and it is what the parser says). */
            http_parser_execute(&c->parser, &c->srv->settings, NULL, 0);
        }
        conn_close(c);
        return;
    }
    int complete;
    size_t n = feed(c, buf->base, (size_t)nread, &complete);
    if (n == SIZE_MAX)
        return;
    if (complete) {
        size_t rest = (size_t)nread - n;
        if (rest) {
            if (c->pend_cap < rest) {
                char *p = realloc(c->pend, rest);
                if (!p) {
                    conn_close(c);
                    return;
                }
                c->pend = p;
                c->pend_cap = rest;
            }
            memcpy(c->pend, buf->base + n, rest);
            c->pend_len = rest;
            c->pend_off = 0;
        }
        dispatch(c);
    }
}

/* Continues after an answer: parses pipelined input, then waits for more. */
static void conn_process(struct conn *c)
{
    if (c->in_process) {
        c->resume = 1;
        return;
    }
    c->in_process = 1;
    do {
        c->resume = 0;
        while (!c->closing && !c->lingering && !c->pending && c->pend_off < c->pend_len &&
               uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_BACKLOG_MAX) {
            http_parser_pause(&c->parser, 0);
            int complete;
            size_t n = feed(c, c->pend + c->pend_off, c->pend_len - c->pend_off, &complete);
            if (n == SIZE_MAX)
                break;
            c->pend_off += n;
            if (c->pend_off == c->pend_len)
                c->pend_off = c->pend_len = 0;
            if (complete)
                dispatch(c);
        }
    } while (c->resume);
    c->in_process = 0;
    if (c->closing || c->lingering || c->pending || c->pend_len)
        return;
    http_parser_pause(&c->parser, 0);
    if (!c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read) != 0) {
            conn_close(c);
            return;
        }
        c->reading = 1;
    }
    if (!c->in_request)
        arm(c, c->srv->opts.idle_timeout_ms);
}

static void respond(struct otus_http_request *r, int status, const char *content_type,
                    struct body *body, const char *extra_headers)
{
    struct conn *c = CONN_OF_REQ(r);
    assert(c->pending);
    c->pending = 0;
    if (c->srv->opts.observer)
        c->srv->opts.observer(c->path_copy ? c->path_copy : "other", status,
                              c->srv->opts.observer_ctx);
    if (c->closing) {
        body_return(body);
        conn_free_if_done(c);
        return;
    }
    int close_after = !c->keep_alive || c->srv->closing;
    send_response(c, status, content_type, body, extra_headers, close_after);
    body_release(c);
    if (!close_after)
        conn_process(c);
}

void otus_http_respond(struct otus_http_request *r, int status, const char *content_type,
                       const void *body, size_t len, const char *extra_headers)
{
    struct body b = {.done = NULL};
    otus_buf_init(&b.buf, 0);
    if (len && otus_buf_append(&b.buf, body, len) != 0) {
        /* Out of memory for the copy: answer without the body rather than not at all. */
        otus_buf_free(&b.buf);
        status = 500;
        content_type = NULL;
    }
    respond(r, status, content_type, &b, extra_headers);
}

void otus_http_respond_buf(struct otus_http_request *r, int status, const char *content_type,
                           struct otus_buf *body, const char *extra_headers)
{
    struct body b = {.buf = *body, .done = NULL};
    otus_buf_init(body, 0);
    respond(r, status, content_type, &b, extra_headers);
}

void otus_http_respond_buf_lend(struct otus_http_request *r, int status, const char *content_type,
                                struct otus_buf *body, const char *extra_headers,
                                otus_http_body_cb done, void *arg)
{
    assert(done);
    struct body b = {.buf = *body, .done = done, .arg = arg};
    otus_buf_init(body, 0);
    respond(r, status, content_type, &b, extra_headers);
}

const char *otus_http_request_header(const struct otus_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---- accepting ----------------------------------------------------------------------------- */

static void refused_closed(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct otus_http_server *s = server->data;
    if (status < 0) {
        otus_log(OTUS_LOG_WARN, "http", "%s: accept failed: %s", s->opts.name, uv_strerror(status));
        return;
    }
    if (s->nconns >= s->opts.max_connections || s->closing) {
        uv_tcp_t *t = malloc(sizeof(*t));
        if (!t)
            return;
        uv_tcp_init(s->loop, t);
        if (uv_accept(server, (uv_stream_t *)t) == 0)
            otus_log(OTUS_LOG_WARN, "http", "%s: connection refused: %u connections open",
                     s->opts.name, s->nconns);
        uv_close((uv_handle_t *)t, refused_closed);
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = s;
    s->live++;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    otus_buf_init(&c->hbuf, s->opts.max_header_bytes + MAX_HEADERS * 2 + 16);
    otus_buf_init(&c->req.body, s->opts.max_body_bytes);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_process(c);
}

/* ---- server lifecycle ------------------------------------------------------------------- */

int otus_http_server_create(uv_loop_t *loop, const char *addr,
                            const struct otus_http_server_opts *opts, struct otus_http_server **out,
                            const char **err_detail)
{
    struct sockaddr_storage sa;
    *out = NULL;
    if (err_detail)
        *err_detail = NULL;
    if (otus_addr_parse(addr, &sa) != 0)
        return OTUS_ERR_INVALID;
    struct otus_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return OTUS_ERR_NOMEM;
    s->loop = loop;
    s->opts = *opts;
    if (!s->opts.name)
        s->opts.name = "http";
    if (!s->opts.max_header_bytes)
        s->opts.max_header_bytes = 16 * 1024;
    if (!s->opts.max_body_bytes)
        s->opts.max_body_bytes = 1024 * 1024;
    if (!s->opts.idle_timeout_ms)
        s->opts.idle_timeout_ms = 60000;
    if (!s->opts.request_timeout_ms)
        s->opts.request_timeout_ms = 30000;
    if (!s->opts.max_connections)
        s->opts.max_connections = 1024;
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;

    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc != 0) {
        if (err_detail)
            *err_detail = uv_strerror(rc);
        /* The listener must close through the loop before the memory goes. */
        otus_http_server_close(s, NULL, NULL);
        return OTUS_ERR_IO;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    *out = s;
    return 0;
}

int otus_http_server_route(struct otus_http_server *s, const char *path, size_t max_body_bytes,
                           otus_http_handler handler, void *ctx)
{
    return otus_http_server_route_admit(s, path, max_body_bytes, handler, NULL, ctx);
}

int otus_http_server_route_admit(struct otus_http_server *s, const char *path,
                                 size_t max_body_bytes, otus_http_handler handler,
                                 otus_http_admit admit, void *ctx)
{
    /* Newest first, so route_find sees the newest registration of a path. */
    struct route *r = calloc(1, sizeof(*r));
    if (!r)
        return OTUS_ERR_NOMEM;
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return OTUS_ERR_NOMEM;
    }
    r->max_body = max_body_bytes;
    r->handler = handler;
    r->admit = admit;
    r->ctx = ctx;
    r->next = s->routes;
    s->routes = r;
    return 0;
}

void otus_http_server_unroute(struct otus_http_server *s, const char *path, void *ctx)
{
    for (struct route **pp = &s->routes; *pp; pp = &(*pp)->next) {
        struct route *r = *pp;
        if (r->ctx == ctx && strcmp(r->path, path) == 0) {
            *pp = r->next;
            /* Connections parsing a request for this route drop their pointer. */
            for (struct conn *c = s->conns; c; c = c->next)
                if (c->route == r)
                    c->route = NULL;
            free(r->path);
            free(r);
            return;
        }
    }
}

size_t otus_http_server_routes(const struct otus_http_server *s)
{
    size_t n = 0;
    for (const struct route *r = s->routes; r; r = r->next)
        n++;
    return n;
}

void otus_http_server_set_limits(struct otus_http_server *s, const struct otus_http_server_opts *o)
{
    if (o->max_header_bytes)
        s->opts.max_header_bytes = o->max_header_bytes;
    if (o->max_body_bytes)
        s->opts.max_body_bytes = o->max_body_bytes;
    if (o->idle_timeout_ms)
        s->opts.idle_timeout_ms = o->idle_timeout_ms;
    if (o->request_timeout_ms)
        s->opts.request_timeout_ms = o->request_timeout_ms;
    if (o->max_connections)
        s->opts.max_connections = o->max_connections;
}

int otus_http_server_port(const struct otus_http_server *s)
{
    return s->port;
}

unsigned otus_http_server_connections(const struct otus_http_server *s)
{
    return s->nconns;
}

static void server_maybe_done(struct otus_http_server *s)
{
    if (!s->closing || s->listener_open || s->live > 0)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    struct route *r = s->routes;
    while (r) {
        struct route *next = r->next;
        free(r->path);
        free(r);
        r = next;
    }
    free(s);
    if (done)
        done(arg);
}

static void listener_closed(uv_handle_t *h)
{
    struct otus_http_server *s = h->data;
    s->listener_open = 0;
    server_maybe_done(s);
}

void otus_http_server_close(struct otus_http_server *s, void (*done)(void *arg), void *arg)
{
    if (!s)
        return;
    s->closing = 1;
    s->done = done;
    s->done_arg = arg;
    /* Connections waiting for an answer close right after it (respond sees closing). */
    struct conn *c = s->conns;
    while (c) {
        struct conn *next = c->next;
        if (!c->pending)
            conn_close(c);
        c = next;
    }
    if (s->listener_open && !uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, listener_closed);
    else
        server_maybe_done(s);
}
