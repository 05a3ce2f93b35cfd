/*
 * http_client.c: libcurl's multi-socket interface on the agent's libuv loop (see
 * http_client.h for the contract).
 *
 * The plumbing, as in libcurl's multi-uv example: libcurl's socket callback tells
 * which sockets to watch for what, and each watched socket gets a uv_poll_t (struct
 * sock, freed in its close callback); libcurl's timer callback arms one uv_timer_t.
 * Poll events and the timer call curl_multi_socket_action(), after which finished
 * transfers are collected with curl_multi_info_read() and their callbacks run. libcurl
 * is never re-entered from inside one of its own callbacks: zero timeouts go through
 * the uv timer, and user callbacks only run after curl_multi_socket_action() returned.
 *
 * A call is a struct otus_http_call around a libcurl easy handle. Finished calls go
 * back to a small pool with their easy handle (after curl_easy_reset()), which
 * saves an easy handle's set-up per request; connections live in the multi handle's
 * cache, not in easy handles, so any pooled handle reuses any kept-alive connection.
 *
 * Each call also has its own uv timer for its timeout: libcurl does not time out
 * transfers that wait for a free connection under the per-host cap, so without it a
 * call could wait far longer than its timeout behind a slow one.
 *
 * Cancelled calls are taken out of libcurl at once and queued; a second uv timer (the
 * "defer" timer) runs their callbacks on the next loop iteration, so no callback ever
 * runs inside otus_http_call_cancel() or otus_http_client_close(). The same timer
 * performs the final teardown once a closing client has no call left.
 *
 * Two libcurl settings matter for the loop: CURLOPT_QUICK_EXIT, because without it a
 * call cancelled or timed out during name resolution makes libcurl join the resolver
 * thread (a blocked getaddrinfo() would block the loop for as long); with it the thread
 * is detached and frees its own memory when getaddrinfo() returns. And CURLOPT_NOSIGNAL,
 * as the loop's thread must not get signals from libcurl's timeouts.
 */
#include "agent/http_client.h"

#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <otus.h>

#include "agent/http_server.h"
#include "common/backoff.h"
#include "common/clock.h"

#define MAX_RESPONSE_HEADER_BYTES (16 * 1024) /* headers kept for otus_http_result_header */
#define MAX_REQUEST_HEADERS       64
#define MAX_REQUEST_HEADER_LEN    8192
#define MAX_URL_LEN               8192
#define MAX_METHOD_LEN            16
#define POOL_MAX                  16          /* finished calls kept for reuse */
#define RECV_BUFFER_BYTES         (64 * 1024) /* libcurl's receive buffer per transfer */
#define MIN_SCRUB_LEN             4           /* shorter secrets are not searched for */

enum call_state {
    CALL_IDLE,     /* in the pool, or being set up */
    CALL_ACTIVE,   /* in libcurl */
    CALL_CANCELED, /* out of libcurl, callback pending */
};

struct otus_http_call {
    struct otus_http_client *c;
    CURL *easy;
    uv_timer_t deadline; /* the call's timeout; the struct is freed in its close callback */
    uint64_t timeout_ms;
    struct curl_slist *req_headers; /* owned */
    otus_http_done_cb done;
    void *arg;
    enum call_state state;
    struct otus_http_call *prev, *next; /* active list, cancelled queue or pool */
    struct otus_buf resp_headers;       /* "name\0value\0" pairs, names lowercased */
    int over_cap;                       /* the body passed max_response_bytes */
    int body_nomem;                     /* the body could not grow */
    int local_error;                    /* a failure of ours (a socket could not be watched) */
    int timed_out;                      /* our deadline ended it, not libcurl */
    char *secrets[2];                   /* username and password copies, for scrubbing */
    struct otus_http_result res;
    char curl_error[CURL_ERROR_SIZE];
    char error[256];
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct otus_http_client *c;
    struct sock *prev, *next;
};

struct otus_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* libcurl's timeout */
    uv_timer_t defer; /* cancelled callbacks, local failures, teardown */
    struct otus_http_client_opts opts;
    char *user_agent;
    struct otus_http_call *active;                        /* calls in libcurl */
    struct otus_http_call *canceled_head, *canceled_tail; /* callbacks pending, FIFO */
    struct otus_http_call *pool;
    unsigned npool;
    struct sock *socks;
    unsigned handles; /* open uv handles: timer, defer, every sock, every call's deadline */
    int closing;
    int torn_down;
    void (*close_done)(void *arg);
    void *close_arg;
    struct otus_http_client_stats stats;
};

static void drain_done(struct otus_http_client *c);
static void finish(struct otus_http_call *call, CURLcode rc);

/* ---- small helpers ----------------------------------------------------------------------- */

const char *otus_http_fail_name(enum otus_http_fail f)
{
    switch (f) {
    case OTUS_HTTP_FAIL_NONE:
        return "none";
    case OTUS_HTTP_FAIL_CONNECT:
        return "connect";
    case OTUS_HTTP_FAIL_DNS:
        return "dns";
    case OTUS_HTTP_FAIL_TIMEOUT:
        return "timeout";
    case OTUS_HTTP_FAIL_TLS:
        return "tls";
    case OTUS_HTTP_FAIL_TOO_BIG:
        return "too_big";
    case OTUS_HTTP_FAIL_CANCELED:
        return "canceled";
    case OTUS_HTTP_FAIL_IO:
        return "io";
    case OTUS_HTTP_FAIL_PROTOCOL:
        return "protocol";
    case OTUS_HTTP_FAIL_OTHER:
        return "other";
    }
    return "other";
}

static void call_link(struct otus_http_call **head, struct otus_http_call *call)
{
    call->prev = NULL;
    call->next = *head;
    if (*head)
        (*head)->prev = call;
    *head = call;
}

static void call_unlink(struct otus_http_call **head, struct otus_http_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        *head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void on_defer(uv_timer_t *t);

/* Makes on_defer run on the next loop iteration (starting a timer handle that is
 * initialised and not closing cannot fail). */
static void defer_arm(struct otus_http_client *c)
{
    if (!c->torn_down)
        uv_timer_start(&c->defer, on_defer, 0, 0);
}

/* ---- sockets and the timer ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h);

static void final_free(struct otus_http_client *c)
{
    void (*done)(void *) = c->close_done;
    void *arg = c->close_arg;
    free(c->user_agent);
    free(c);
    curl_global_cleanup();
    if (done)
        done(arg);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct otus_http_client *c = s->c;
    free(s);
    if (--c->handles == 0)
        final_free(c);
}

static void sock_close(struct sock *s)
{
    struct otus_http_client *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    c->stats.sockets_watched--;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    struct otus_http_client *c = s->c;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    drain_done(c);
}

static void on_timer(uv_timer_t *t)
{
    struct otus_http_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(c);
}

/* A call whose socket cannot be watched fails from the defer timer (libcurl must not
 * be re-entered from its socket callback, and the call would otherwise hang until its
 * timeout). */
static void fail_easy(struct otus_http_client *c, CURL *easy)
{
    char *p = NULL;
    if (easy && curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) == CURLE_OK && p) {
        struct otus_http_call *call = (struct otus_http_call *)(void *)p;
        call->local_error = 1;
        defer_arm(c);
    }
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl wants, or stop watching it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct otus_http_client *c = userp;
    struct sock *s = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (c->torn_down)
        return 0;
    if (!s) {
        /* A watcher left on the same descriptor means libcurl closed a socket without
         * telling us; that watcher is stale. */
        for (struct sock *o = c->socks; o; o = o->next) {
            if (o->fd == fd) {
                sock_close(o);
                break;
            }
        }
        s = calloc(1, sizeof(*s));
        if (!s || uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            fail_easy(c, easy);
            return 0;
        }
        s->fd = fd;
        s->c = c;
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        c->handles++;
        c->stats.sockets_watched++;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (uv_poll_start(&s->poll, events, on_poll) != 0)
        fail_easy(c, easy);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced on every call; -1 removes it. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct otus_http_client *c = userp;
    if (c->torn_down)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- transfers -------------------------------------------------------------------------- */

static size_t on_header(char *buf, size_t size, size_t n, void *userp)
{
    struct otus_http_call *call = userp;
    size_t len = size * n;
    const char *p = buf, *end = buf + len;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    /* Each status line (an interim 1xx, an authentication round) starts a new set. */
    if (end - p >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        otus_buf_reset(&call->resp_headers);
        return len;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p || *p == ' ' || *p == '\t')
        return len; /* the blank line, folded lines, garbage: nothing to keep */
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t nlen = (size_t)(colon - p), vlen = (size_t)(ve - v);
    struct otus_buf *h = &call->resp_headers;
    if (otus_buf_reserve(h, nlen + vlen + 2) != 0)
        return len; /* over the cap: later headers are not kept */
    for (size_t i = 0; i < nlen; i++)
        h->data[h->len++] = (char)tolower((unsigned char)p[i]);
    h->data[h->len++] = '\0';
    memcpy(h->data + h->len, v, vlen);
    h->len += vlen;
    h->data[h->len++] = '\0';
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
    struct otus_http_call *call = userp;
    struct otus_buf *b = &call->res.body;
    size_t len = size * n;
    if (b->cap == 0) {
        /* Room for the whole announced body at once, when it fits under the cap. */
        curl_off_t cl = -1;
        if (curl_easy_getinfo(call->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl <= b->max)
            (void)otus_buf_reserve(b, (size_t)cl);
    }
    size_t room = b->max - b->len;
    if (len > room) {
        (void)otus_buf_append(b, p, room);
        call->over_cap = 1;
        return 0;
    }
    if (otus_buf_append(b, p, len) != 0) {
        call->body_nomem = 1;
        return 0;
    }
    return len;
}

const char *otus_http_result_header(const struct otus_http_result *res, const char *name)
{
    const struct otus_http_call *call =
        (const struct otus_http_call *)(const void *)((const char *)res -
                                                      offsetof(struct otus_http_call, res));
    const struct otus_buf *h = &call->resp_headers;
    size_t off = 0;
    while (off < h->len) {
        const char *n = h->data + off;
        const char *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0)
            return v;
        off = (size_t)(v - h->data) + strlen(v) + 1;
    }
    return NULL;
}

static enum otus_http_fail fail_of(CURLcode rc, const struct otus_http_call *call)
{
    switch (rc) {
    case CURLE_OK:
        return OTUS_HTTP_FAIL_NONE;
    case CURLE_COULDNT_CONNECT:
    case CURLE_PROXY:
        return OTUS_HTTP_FAIL_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return OTUS_HTTP_FAIL_DNS;
    case CURLE_OPERATION_TIMEDOUT:
        return OTUS_HTTP_FAIL_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return OTUS_HTTP_FAIL_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return OTUS_HTTP_FAIL_TOO_BIG;
    case CURLE_WRITE_ERROR:
        return call->over_cap ? OTUS_HTTP_FAIL_TOO_BIG : OTUS_HTTP_FAIL_OTHER;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return OTUS_HTTP_FAIL_IO;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_TOO_MANY_REDIRECTS:
        return OTUS_HTTP_FAIL_PROTOCOL;
    default:
        return OTUS_HTTP_FAIL_OTHER;
    }
}

/* The status of an answer that arrived. */
static int http_class(int code)
{
    if (code >= 200 && code < 300)
        return 0;
    if (code == 408 || code == 429 || (code >= 500 && code < 600))
        return OTUS_ERR_HTTP_RETRY;
    return OTUS_ERR_HTTP_REJECT;
}

/* Replaces every occurrence of the call's secrets in its error text. */
static void scrub(struct otus_http_call *call)
{
    for (int i = 0; i < 2; i++) {
        const char *s = call->secrets[i];
        size_t n = s ? strlen(s) : 0;
        if (n < MIN_SCRUB_LEN)
            continue;
        char *hit;
        while ((hit = strstr(call->error, s)) != NULL) {
            memset(hit, '*', 3);
            memmove(hit + 3, hit + n, strlen(hit + n) + 1);
        }
    }
}

static uint64_t info_us(CURL *easy, CURLINFO what)
{
    curl_off_t v = 0;
    if (curl_easy_getinfo(easy, what, &v) != CURLE_OK || v < 0)
        return 0;
    return (uint64_t)v;
}

/* Fills call->res from libcurl's outcome (rc is ignored for calls we ended: cancelled,
 * failed locally, or past their own deadline). */
static void fill_result(struct otus_http_call *call, CURLcode rc)
{
    struct otus_http_result *r = &call->res;
    CURL *easy = call->easy;
    long code = 0, nconn = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &nconn);
    r->new_connections = nconn > 0 ? (unsigned)nconn : 0;
    r->timings.dns_us = info_us(easy, CURLINFO_NAMELOOKUP_TIME_T);
    r->timings.connect_us = info_us(easy, CURLINFO_CONNECT_TIME_T);
    r->timings.tls_us = info_us(easy, CURLINFO_APPCONNECT_TIME_T);
    r->timings.first_byte_us = info_us(easy, CURLINFO_STARTTRANSFER_TIME_T);
    r->timings.total_us = info_us(easy, CURLINFO_TOTAL_TIME_T);
    r->content_type = otus_http_result_header(r, "content-type");
    if (!r->content_type)
        r->content_type = "";
    r->retry_after_ms = -1;
    const char *ra = otus_http_result_header(r, "retry-after");
    int64_t ms;
    if (ra && otus_retry_after_parse(ra, otus_http_result_header(r, "date"),
                                     otus_clock_wall_ns() / 1000000u, &ms) == 0)
        r->retry_after_ms = ms;

    /* Ended by us, not by libcurl: whatever part of an answer arrived is dropped. */
    if (call->state == CALL_CANCELED || call->local_error || call->timed_out) {
        r->http_status = 0;
        otus_buf_free(&r->body);
        if (call->state == CALL_CANCELED) {
            r->fail = OTUS_HTTP_FAIL_CANCELED;
            r->status = OTUS_ERR_CANCELED;
            snprintf(call->error, sizeof(call->error), "canceled");
        } else if (call->local_error) {
            r->fail = OTUS_HTTP_FAIL_OTHER;
            r->status = OTUS_ERR_IO;
            snprintf(call->error, sizeof(call->error), "other: the socket could not be watched");
        } else {
            r->fail = OTUS_HTTP_FAIL_TIMEOUT;
            r->status = OTUS_ERR_TIMEOUT;
            snprintf(call->error, sizeof(call->error), "timeout: not done within %llu ms",
                     (unsigned long long)call->timeout_ms);
        }
        return;
    }

    r->http_status = (int)code;
    r->fail = fail_of(rc, call);
    switch (r->fail) {
    case OTUS_HTTP_FAIL_NONE:
        r->status = http_class(r->http_status);
        break;
    case OTUS_HTTP_FAIL_TOO_BIG:
        r->body_truncated = 1;
        if (code && http_class((int)code) != 0) {
            /* A refusal is still a refusal, whatever the size of its explanation. */
            r->fail = OTUS_HTTP_FAIL_NONE;
            r->status = http_class((int)code);
        } else {
            r->status = OTUS_ERR_TOO_BIG;
        }
        break;
    case OTUS_HTTP_FAIL_TIMEOUT:
        r->status = OTUS_ERR_TIMEOUT;
        break;
    case OTUS_HTTP_FAIL_OTHER:
        r->status = rc == CURLE_OUT_OF_MEMORY || call->body_nomem ? OTUS_ERR_NOMEM : OTUS_ERR_IO;
        break;
    default:
        r->status = OTUS_ERR_CONNECT;
        break;
    }

    if (r->status == 0) {
        call->error[0] = '\0';
    } else if (r->fail == OTUS_HTTP_FAIL_NONE) {
        snprintf(call->error, sizeof(call->error), "HTTP %d %s%s", r->http_status,
                 otus_http_reason(r->http_status),
                 r->body_truncated ? " (body over the size limit)" : "");
    } else if (r->fail == OTUS_HTTP_FAIL_TOO_BIG) {
        snprintf(call->error, sizeof(call->error), "too_big: HTTP %d answer over %zu bytes",
                 r->http_status, r->body.max);
    } else {
        const char *detail = call->curl_error[0] ? call->curl_error : curl_easy_strerror(rc);
        snprintf(call->error, sizeof(call->error), "%s: %.200s", otus_http_fail_name(r->fail),
                 detail);
    }
    scrub(call);
}

static void on_call_closed(uv_handle_t *h)
{
    struct otus_http_call *call = h->data;
    struct otus_http_client *c = call->c;
    free(call);
    if (--c->handles == 0)
        final_free(c);
}

/* Frees a call that is in no list: its memory goes in its timer's close callback. */
static void call_free(struct otus_http_call *call)
{
    curl_easy_cleanup(call->easy);
    call->easy = NULL;
    otus_buf_free(&call->resp_headers);
    uv_close((uv_handle_t *)&call->deadline, on_call_closed);
}

/* Back to the pool (or freed) once the callback returned. */
static void call_put(struct otus_http_client *c, struct otus_http_call *call)
{
    curl_slist_free_all(call->req_headers);
    call->req_headers = NULL;
    otus_buf_free(&call->res.body);
    otus_buf_reset(&call->resp_headers);
    for (int i = 0; i < 2; i++) {
        if (call->secrets[i]) {
            explicit_bzero(call->secrets[i], strlen(call->secrets[i]));
            free(call->secrets[i]);
            call->secrets[i] = NULL;
        }
    }
    call->state = CALL_IDLE;
    call->done = NULL;
    call->arg = NULL;
    if (!c->torn_down && c->npool < POOL_MAX) {
        /* Drops libcurl's copies of credentials and its pointer to the caller's body. */
        curl_easy_reset(call->easy);
        call->next = c->pool;
        call->prev = NULL;
        c->pool = call;
        c->npool++;
        return;
    }
    call_free(call);
}

static struct otus_http_call *call_get(struct otus_http_client *c)
{
    struct otus_http_call *call = c->pool;
    if (call) {
        c->pool = call->next;
        c->npool--;
        call->next = NULL;
        return call;
    }
    call = calloc(1, sizeof(*call));
    if (!call)
        return NULL;
    call->easy = curl_easy_init();
    if (!call->easy) {
        free(call);
        return NULL;
    }
    call->c = c;
    otus_buf_init(&call->resp_headers, MAX_RESPONSE_HEADER_BYTES);
    uv_timer_init(c->loop, &call->deadline);
    call->deadline.data = call;
    c->handles++;
    return call;
}

/* Runs the callback of a call out of libcurl, then recycles it. */
static void finish(struct otus_http_call *call, CURLcode rc)
{
    struct otus_http_client *c = call->c;
    uv_timer_stop(&call->deadline);
    fill_result(call, rc);
    call->res.error = call->error;
    c->stats.finished++;
    c->stats.connections += call->res.new_connections;
    if (call->res.status != 0)
        c->stats.failed++;
    if (call->res.fail == OTUS_HTTP_FAIL_CANCELED)
        c->stats.canceled++;
    call->done(&call->res, call->arg);
    call_put(c, call);
}

static void drain_done(struct otus_http_client *c)
{
    CURLMsg *m;
    int left;
    while (c->multi && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        char *p = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
        struct otus_http_call *call = (struct otus_http_call *)(void *)p;
        assert(call && call->state == CALL_ACTIVE);
        curl_multi_remove_handle(c->multi, easy);
        call_unlink(&c->active, call);
        call->state = CALL_IDLE;
        finish(call, rc);
    }
}

/* A call's own deadline. libcurl enforces CURLOPT_TIMEOUT_MS on transfers it runs, but
 * not on those waiting for a free connection under the per-host cap; this timer, set to
 * the same time, ends either kind (whichever of the two fires first wins). */
static void on_deadline(uv_timer_t *t)
{
    struct otus_http_call *call = t->data;
    struct otus_http_client *c = call->c;
    assert(call->state == CALL_ACTIVE);
    curl_multi_remove_handle(c->multi, call->easy);
    call_unlink(&c->active, call);
    call->state = CALL_IDLE;
    call->timed_out = 1;
    finish(call, CURLE_OPERATION_TIMEDOUT);
}

/* ---- teardown ---------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct otus_http_client *c = h->data;
    if (--c->handles == 0)
        final_free(c);
}

static void teardown(struct otus_http_client *c)
{
    assert(!c->active && !c->canceled_head);
    c->torn_down = 1;
    uv_timer_stop(&c->timer);
    while (c->pool) {
        struct otus_http_call *call = c->pool;
        c->pool = call->next;
        call_free(call);
    }
    c->npool = 0;
    curl_multi_cleanup(c->multi); /* closes cached connections */
    c->multi = NULL;
    while (c->socks)
        sock_close(c->socks);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->defer, on_handle_closed);
}

static void on_defer(uv_timer_t *t)
{
    struct otus_http_client *c = t->data;
    /* Calls whose socket could not be watched. A callback may cancel or start other
     * calls, so the list is searched again after each one. */
    for (;;) {
        struct otus_http_call *call = c->active;
        while (call && !call->local_error)
            call = call->next;
        if (!call)
            break;
        curl_multi_remove_handle(c->multi, call->easy);
        call_unlink(&c->active, call);
        call->state = CALL_IDLE;
        finish(call, CURLE_OK);
    }
    while (c->canceled_head) {
        struct otus_http_call *call = c->canceled_head;
        c->canceled_head = call->next;
        if (!c->canceled_head)
            c->canceled_tail = NULL;
        call->next = NULL;
        finish(call, CURLE_OK);
    }
    if (c->closing && !c->torn_down && !c->active && !c->canceled_head)
        teardown(c);
}

/* ---- public API --------------------------------------------------------------------------- */

int otus_http_client_create(uv_loop_t *loop, const struct otus_http_client_opts *opts,
                            struct otus_http_client **out)
{
    int rc = 0;
    int global = 0;
    struct otus_http_client *c = NULL;
    *out = NULL;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = OTUS_ERR_IO;
        goto out;
    }
    global = 1;
    /* Without an asynchronous resolver a name lookup would block the loop. */
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!(v->features & CURL_VERSION_ASYNCHDNS) || v->version_num < 0x075700 /* 7.87.0 */) {
        rc = OTUS_ERR_UNSUPPORTED;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    c->loop = loop;
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_host_connections)
        c->opts.max_host_connections = OTUS_HTTP_DEFAULT_HOST_CONNECTIONS;
    if (!c->opts.max_in_flight)
        c->opts.max_in_flight = OTUS_HTTP_DEFAULT_MAX_IN_FLIGHT;
    if (c->opts.user_agent) {
        c->user_agent = strdup(c->opts.user_agent);
    } else {
        c->user_agent = strdup("otus-agent/" OTUS_VERSION_STRING);
    }
    if (!c->user_agent) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    c->opts.user_agent = c->user_agent;
    c->multi = curl_multi_init();
    if (!c->multi) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    CURLMcode mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    if (!mc)
        mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    if (!mc)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    if (!mc)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (!mc)
        mc = curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                               (long)c->opts.max_host_connections);
    if (!mc && c->opts.max_total_connections)
        mc = curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                               (long)c->opts.max_total_connections);
    if (mc) {
        rc = OTUS_ERR_IO;
        goto out;
    }
    /* From here on nothing fails: the handles are initialised last. */
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->defer);
    c->timer.data = c;
    c->defer.data = c;
    c->handles = 2;
    *out = c;
out:
    if (rc) {
        if (c) {
            if (c->multi)
                curl_multi_cleanup(c->multi);
            free(c->user_agent);
            free(c);
        }
        if (global)
            curl_global_cleanup();
    }
    return rc;
}

void otus_http_client_close(struct otus_http_client *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->close_done = done;
    c->close_arg = arg;
    while (c->active)
        otus_http_call_cancel(c->active);
    defer_arm(c);
}

unsigned otus_http_client_in_flight(const struct otus_http_client *c)
{
    return (unsigned)(c->stats.started - c->stats.finished);
}

void otus_http_client_stats(const struct otus_http_client *c, struct otus_http_client_stats *out)
{
    *out = c->stats;
    out->in_flight = otus_http_client_in_flight(c);
}

static int url_ok(const char *url)
{
    if (!url || strlen(url) > MAX_URL_LEN)
        return 0;
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return 0;
    size_t authority = strcspn(p, "/?#");
    if (authority == 0 || memchr(p, '@', authority))
        return 0; /* no host, or credentials in the URL */
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return 0;
    return 1;
}

static int tchar(int ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > MAX_METHOD_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)m[i]))
            return 0;
    return 1;
}

/* "Name: value", no CR or LF anywhere. Sets *is_ct / *is_expect by name. */
static int header_ok(const char *h, int *is_ct, int *is_expect)
{
    size_t n = strlen(h);
    const char *colon = strchr(h, ':');
    if (n > MAX_REQUEST_HEADER_LEN || !colon || colon == h || strpbrk(h, "\r\n"))
        return 0;
    for (const char *p = h; p < colon; p++)
        if (!tchar((unsigned char)*p))
            return 0;
    size_t nlen = (size_t)(colon - h);
    if (nlen == 12 && strncasecmp(h, "content-type", 12) == 0)
        *is_ct = 1;
    if (nlen == 6 && strncasecmp(h, "expect", 6) == 0)
        *is_expect = 1;
    return 1;
}

static int add_header(struct curl_slist **l, const char *h)
{
    struct curl_slist *n = curl_slist_append(*l, h);
    if (!n)
        return OTUS_ERR_NOMEM;
    *l = n;
    return 0;
}

/* Sets every option of call->easy for opts. 0, OTUS_ERR_INVALID, OTUS_ERR_NOMEM. */
static int call_setup(struct otus_http_call *call, const struct otus_http_call_opts *o)
{
    struct otus_http_client *c = call->c;
    CURL *e = call->easy;
    int rc = 0;
    int has_ct = 0, has_expect = 0;
    const char *method = o->method ? o->method : o->body ? "POST" : "GET";

    if (!url_ok(o->url) || !method_ok(method) || (o->body_len && !o->body) ||
        (o->tls && o->tls->key_file && !o->tls->cert_file) || (o->password && !o->username)) {
        rc = OTUS_ERR_INVALID;
        goto out;
    }
    size_t nh = 0;
    for (const char *const *h = o->headers; h && *h; h++, nh++) {
        if (nh >= MAX_REQUEST_HEADERS || !header_ok(*h, &has_ct, &has_expect)) {
            rc = OTUS_ERR_INVALID;
            goto out;
        }
        rc = add_header(&call->req_headers, *h);
        if (rc)
            goto out;
    }
    int body = o->body != NULL || strcmp(method, "POST") == 0;
    /* No 100-continue round trip before a body; no made-up form Content-Type. */
    if (body && !has_expect)
        rc = add_header(&call->req_headers, "Expect:");
    if (!rc && body && !has_ct)
        rc = add_header(&call->req_headers, "Content-Type:");
    if (rc)
        goto out;
    if (o->username) {
        call->secrets[0] = strdup(o->username);
        call->secrets[1] = strdup(o->password ? o->password : "");
        if (!call->secrets[0] || !call->secrets[1]) {
            rc = OTUS_ERR_NOMEM;
            goto out;
        }
    }

    size_t max_body =
        o->max_response_bytes ? o->max_response_bytes : OTUS_HTTP_DEFAULT_MAX_RESPONSE;
    otus_buf_init(&call->res.body, max_body);
    call->curl_error[0] = '\0';

    CURLcode ce = curl_easy_setopt(e, CURLOPT_URL, o->url);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)call);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->curl_error);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->req_headers);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)call->timeout_ms);
    if (!ce)
        ce = curl_easy_setopt(
            e, CURLOPT_CONNECTTIMEOUT_MS,
            (long)(o->connect_timeout_ms ? o->connect_timeout_ms : OTUS_HTTP_DEFAULT_CONNECT_MS));
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER_BYTES);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!ce)
        ce = curl_easy_setopt(e, CURLOPT_PROXY, o->proxy ? o->proxy : "");
    if (!ce && o->accept_gzip)
        ce = curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");

    /* Method and body. A body is sent from the caller's memory (CURLOPT_POSTFIELDS
     * does not copy). */
    if (!ce && body) {
        ce = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        if (!ce)
            ce = curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body ? (const char *)o->body : "");
        if (!ce && strcmp(method, "POST") != 0)
            ce = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (!ce && strcmp(method, "HEAD") == 0) {
        ce = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (!ce && strcmp(method, "GET") == 0) {
        ce = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (!ce) {
        ce = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }

    if (!ce && o->username) {
        ce = curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (!ce)
            ce = curl_easy_setopt(e, CURLOPT_USERNAME, o->username);
        if (!ce)
            ce = curl_easy_setopt(e, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    if (!ce && o->tls) {
        if (o->tls->ca_file)
            ce = curl_easy_setopt(e, CURLOPT_CAINFO, o->tls->ca_file);
        if (!ce && o->tls->cert_file)
            ce = curl_easy_setopt(e, CURLOPT_SSLCERT, o->tls->cert_file);
        if (!ce && o->tls->key_file)
            ce = curl_easy_setopt(e, CURLOPT_SSLKEY, o->tls->key_file);
        if (!ce && o->tls->insecure_skip_verify) {
            ce = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            if (!ce)
                ce = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (ce)
        rc = ce == CURLE_OUT_OF_MEMORY ? OTUS_ERR_NOMEM : OTUS_ERR_INVALID;
out:
    return rc;
}

int otus_http_call_start(struct otus_http_client *c, const struct otus_http_call_opts *opts,
                         otus_http_done_cb done, void *arg, struct otus_http_call **out)
{
    int rc = 0;
    struct otus_http_call *call = NULL;
    if (out)
        *out = NULL;
    if (!opts || !done) {
        rc = OTUS_ERR_INVALID;
        goto out;
    }
    if (c->closing) {
        rc = OTUS_ERR_STATE;
        goto out;
    }
    if (otus_http_client_in_flight(c) >= c->opts.max_in_flight) {
        rc = OTUS_ERR_FULL;
        goto out;
    }
    call = call_get(c);
    if (!call) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    memset(&call->res, 0, sizeof(call->res));
    call->over_cap = call->body_nomem = call->local_error = call->timed_out = 0;
    call->timeout_ms = opts->timeout_ms ? opts->timeout_ms : OTUS_HTTP_DEFAULT_TIMEOUT_MS;
    call->error[0] = '\0';
    rc = call_setup(call, opts);
    if (rc)
        goto out;
    call->done = done;
    call->arg = arg;
    CURLMcode mc = curl_multi_add_handle(c->multi, call->easy);
    if (mc != CURLM_OK) {
        rc = mc == CURLM_OUT_OF_MEMORY ? OTUS_ERR_NOMEM : OTUS_ERR_IO;
        goto out;
    }
    call->state = CALL_ACTIVE;
    call_link(&c->active, call);
    c->stats.started++;
    uv_timer_start(&call->deadline, on_deadline, call->timeout_ms, 0);
    if (out)
        *out = call;
out:
    if (rc && call)
        call_put(c, call);
    return rc;
}

int otus_http_call_cancel(struct otus_http_call *call)
{
    if (!call || call->state != CALL_ACTIVE)
        return OTUS_ERR_STATE;
    struct otus_http_client *c = call->c;
    curl_multi_remove_handle(c->multi, call->easy);
    uv_timer_stop(&call->deadline);
    call_unlink(&c->active, call);
    call->state = CALL_CANCELED;
    call->next = NULL;
    if (c->canceled_tail)
        c->canceled_tail->next = call;
    else
        c->canceled_head = call;
    c->canceled_tail = call;
    defer_arm(c);
    return 0;
}
