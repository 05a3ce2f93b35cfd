/*
 * http_client.h: the agent's outbound HTTP client, shared by every exporter that
 * sends over HTTP (Elasticsearch _bulk, OTLP/HTTP to Jaeger or another collector).
 *
 * It runs libcurl's multi-socket interface on the agent's libuv loop: libcurl says
 * which sockets to watch and when to wake it, libuv watches them (uv_poll_t) and keeps
 * the one timer (uv_timer_t), so a call never blocks the loop. Host names resolve on
 * libcurl's threaded resolver (creation fails on a libcurl built without an
 * asynchronous one), and a call cancelled or timed out mid-resolve does not wait for
 * the resolver thread.
 *
 * What a client gives every call: keep-alive connections reused across calls (the
 * multi handle's connection cache), a cap on connections per host (calls over it wait
 * in the client for a free connection), no "Expect: 100-continue" round trip, request
 * bodies sent from the caller's memory without a copy, a hard cap on response bytes,
 * answers classified into retryable and permanent failures, Retry-After parsed, and
 * timings. It never follows redirects, speaks only http and https, and ignores the
 * *_proxy environment variables (a proxy is used only when a call names one).
 *
 * Credentials (username, password, and any header the caller passes) never appear in
 * error texts, and the client writes no log lines of its own; URLs with credentials in
 * them (user:password@host) are refused.
 *
 * Threading: a client and its calls belong to the loop's thread. Callbacks run on the
 * loop, never from inside a client function (not even otus_http_call_cancel or
 * otus_http_client_close).
 */
#ifndef OTUS_AGENT_HTTP_CLIENT_H
#define OTUS_AGENT_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"

struct otus_http_client;
struct otus_http_call;

/* Defaults taken for zero fields. */
#define OTUS_HTTP_DEFAULT_HOST_CONNECTIONS 4u
#define OTUS_HTTP_DEFAULT_MAX_IN_FLIGHT    1024u
#define OTUS_HTTP_DEFAULT_TIMEOUT_MS       30000u
#define OTUS_HTTP_DEFAULT_CONNECT_MS       10000u
#define OTUS_HTTP_DEFAULT_MAX_RESPONSE     (1024u * 1024u)

struct otus_http_client_opts {
    unsigned max_host_connections;  /* open connections per host and port (0: 4) */
    unsigned max_total_connections; /* open connections in all (0: no cap but per host) */
    unsigned max_in_flight;         /* calls started and not yet finished; more are
                                       refused with OTUS_ERR_FULL (0: 1024) */
    const char *user_agent;         /* copied; NULL: "otus-agent/<version>" */
};

/* TLS settings of a call. Peer and host name verification are on unless turned off. */
struct otus_http_tls {
    const char *ca_file;      /* PEM bundle to verify the peer with; NULL: the system's */
    const char *cert_file;    /* client certificate (PEM) for mutual TLS; NULL: none */
    const char *key_file;     /* its private key (PEM); NULL: in cert_file */
    int insecure_skip_verify; /* non-zero: accept any certificate and host name */
};

/* One call. Every pointer is borrowed for the duration of otus_http_call_start() only
 * (what is needed later is copied), except body. */
struct otus_http_call_opts {
    const char *method;         /* "GET", "POST", "PUT", "HEAD", "DELETE", ...; NULL:
                                   POST when body is not NULL, else GET */
    const char *url;            /* http:// or https://, without user:password@ */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL. With a
                                   body and no Content-Type, none is sent. */
    const void *body;           /* NOT copied: MUST stay valid and unchanged until the
                                   call's callback runs. NULL: no body */
    size_t body_len;
    uint64_t timeout_ms;             /* the whole call, waiting for a connection included
                                        (0: 30 s) */
    uint64_t connect_timeout_ms;     /* TCP and TLS connection set-up (0: 10 s) */
    size_t max_response_bytes;       /* cap on the response body (0: 1 MiB) */
    const char *username;            /* HTTP basic authentication when not NULL */
    const char *password;            /* with username; NULL: empty */
    const struct otus_http_tls *tls; /* NULL: verification against the system's CAs */
    const char *proxy;               /* "http://host:port" or NULL (direct) */
    int accept_gzip;                 /* ask for a gzip-encoded answer; the body is handed
                                        over decoded, the cap applying to decoded bytes */
};

/* Why a call got no usable answer. */
enum otus_http_fail {
    OTUS_HTTP_FAIL_NONE = 0, /* an answer arrived: see http_status */
    OTUS_HTTP_FAIL_CONNECT,  /* connection refused or host unreachable */
    OTUS_HTTP_FAIL_DNS,      /* the host name did not resolve */
    OTUS_HTTP_FAIL_TIMEOUT,  /* timeout_ms or connect_timeout_ms passed */
    OTUS_HTTP_FAIL_TLS,      /* handshake failed or the peer's certificate was refused */
    OTUS_HTTP_FAIL_TOO_BIG,  /* a 2xx answer's body was over max_response_bytes */
    OTUS_HTTP_FAIL_CANCELED, /* otus_http_call_cancel() or otus_http_client_close() */
    OTUS_HTTP_FAIL_IO,       /* the connection broke during the exchange */
    OTUS_HTTP_FAIL_PROTOCOL, /* the peer's answer was not valid HTTP */
    OTUS_HTTP_FAIL_OTHER,    /* out of memory or another local failure */
};

/* Microseconds from the start of the transfer to each step, as libcurl measures them
 * (0 for steps that did not happen, e.g. dns_us on a reused connection). */
struct otus_http_timings {
    uint64_t dns_us;        /* name resolved */
    uint64_t connect_us;    /* TCP connected */
    uint64_t tls_us;        /* TLS handshake done */
    uint64_t first_byte_us; /* first byte of the answer */
    uint64_t total_us;      /* everything */
};

/*
 * What a callback gets. status sums it up for retry decisions:
 *   0                       a 2xx answer
 *   OTUS_ERR_HTTP_RETRY     408, 429 or 5xx: worth retrying (after retry_after_ms)
 *   OTUS_ERR_HTTP_REJECT    any other answer (3xx, 4xx): retrying cannot help
 *   OTUS_ERR_CONNECT        fail is CONNECT, DNS, TLS, IO or PROTOCOL
 *   OTUS_ERR_TIMEOUT        fail is TIMEOUT
 *   OTUS_ERR_TOO_BIG        fail is TOO_BIG (http_status says what the peer answered)
 *   OTUS_ERR_CANCELED       fail is CANCELED
 *   OTUS_ERR_NOMEM, OTUS_ERR_IO   fail is OTHER
 * otus_status_is_retryable(status) is the retry class. A non-2xx answer over the cap
 * keeps its HTTP status, with the body cut at the cap and body_truncated set.
 * Everything here is valid until the callback returns.
 */
struct otus_http_result {
    int status;
    enum otus_http_fail fail;
    int http_status;          /* the answer's status code; 0 when none arrived */
    const char *error;        /* a short text, "" on success; never credentials */
    struct otus_buf body;     /* the answer's body; the callback MAY take it with
                                 otus_buf_steal(), else it is freed after */
    int body_truncated;       /* body was cut at max_response_bytes */
    const char *content_type; /* the Content-Type value, "" when there was none */
    int64_t retry_after_ms;   /* Retry-After in ms, -1 when absent or malformed */
    unsigned new_connections; /* connections opened for the call: 0 means a kept-alive
                                 connection was reused */
    struct otus_http_timings timings;
};

/* Runs once per started call, on the loop, with res valid only during the call. */
typedef void (*otus_http_done_cb)(struct otus_http_result *res, void *arg);

/* Counters since the client was created. */
struct otus_http_client_stats {
    uint64_t started;         /* calls started */
    uint64_t finished;        /* callbacks run */
    uint64_t failed;          /* ... with a non-zero status */
    uint64_t canceled;        /* ... with OTUS_HTTP_FAIL_CANCELED */
    uint64_t connections;     /* connections opened */
    unsigned in_flight;       /* started - finished */
    unsigned sockets_watched; /* sockets libcurl currently has the loop watch */
};

/*
 * Creates a client on loop. opts MAY be NULL (all defaults); it is copied. 0,
 * OTUS_ERR_NOMEM, OTUS_ERR_UNSUPPORTED (libcurl has no asynchronous resolver, or is
 * older than 7.87, which lacks CURLOPT_QUICK_EXIT), OTUS_ERR_IO (libcurl could not be
 * set up).
 */
int otus_http_client_create(uv_loop_t *loop, const struct otus_http_client_opts *opts,
                            struct otus_http_client **out);

/*
 * Closes the client: calls in flight are cancelled (their callbacks run with
 * OTUS_HTTP_FAIL_CANCELED), then connections are closed and the client freed; done(arg)
 * runs last, when all is gone. Later calls to start are refused. Accepts NULL (done is
 * then not called). done MAY be NULL. Never calls anything before it returns.
 */
void otus_http_client_close(struct otus_http_client *c, void (*done)(void *arg), void *arg);

/* Calls started whose callback has not run yet. */
unsigned otus_http_client_in_flight(const struct otus_http_client *c);

void otus_http_client_stats(const struct otus_http_client *c, struct otus_http_client_stats *out);

/*
 * Starts a call. done(res, arg) runs exactly once, later, on the loop (never before
 * this returns). *out, when out is not NULL, receives a handle for
 * otus_http_call_cancel(), valid until done starts running. 0, or (done will then not
 * run): OTUS_ERR_INVALID (bad method, URL, header or TLS settings; credentials in the
 * URL), OTUS_ERR_FULL (max_in_flight calls already), OTUS_ERR_STATE (the client is
 * closing), OTUS_ERR_NOMEM.
 */
int otus_http_call_start(struct otus_http_client *c, const struct otus_http_call_opts *opts,
                         otus_http_done_cb done, void *arg, struct otus_http_call **out);

/*
 * Cancels a call in flight: its connection is dropped and its callback runs soon after
 * (not before this returns) with OTUS_HTTP_FAIL_CANCELED. 0, or OTUS_ERR_STATE when the
 * call is already cancelled. call MUST be a handle whose callback has not started.
 */
int otus_http_call_cancel(struct otus_http_call *call);

/* The value of a response header (name case-insensitive; the first if repeated), or
 * NULL. Valid while res is. At most 16 KiB of headers are kept. */
const char *otus_http_result_header(const struct otus_http_result *res, const char *name);

/* "none", "connect", "dns", "timeout", "tls", "too_big", "canceled", "io", "protocol",
 * "other": for log fields and metric labels. */
const char *otus_http_fail_name(enum otus_http_fail f);

#endif
