/*
 * http_server.h: the agent's HTTP/1.1 server on the libuv loop, built on the
 * http_parser library. One server per listen address; components register exact
 * paths on it (the OTLP receiver, the Prometheus endpoint, health checks).
 *
 * What it does for every route: keep-alive and pipelining (answers go out in request
 * order), Content-Length and chunked request bodies, Expect: 100-continue, a header
 * size limit (431), a body size limit (413), an idle timeout between requests and a
 * deadline for a whole request to arrive (a slow client is closed, 408), and a cap on
 * connections, and (with a memory budget) the bytes of all request bodies held at
 * once (503). A malformed request gets 400 and its connection is closed; other
 * connections never notice.
 *
 * A handler gets the complete request and answers it once, at once or later (the
 * request stays valid until it is answered). While a request waits for its answer the
 * connection reads nothing more, so a client cannot queue unbounded work.
 */
#ifndef OTUS_AGENT_HTTP_SERVER_H
#define OTUS_AGENT_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "agent/mem_budget.h"
#include "common/buf.h"

struct otus_http_server;
struct otus_http_request;

/* Called with a complete request; must lead to exactly one otus_http_respond*(). */
typedef void (*otus_http_handler)(struct otus_http_request *req, void *ctx);

/*
 * Called when a request's headers are complete, before its body is read: returns
 * non-zero to read the body, 0 to skip it. A skipped body is read and thrown away
 * without being stored or charged (the connection stays usable), and the handler is
 * then called with body_skipped set, to answer the refusal (busy, unauthorized, wrong
 * type...). This makes refusing cheap under overload.
 */
typedef int (*otus_http_admit)(const struct otus_http_request *req, uint64_t content_length,
                               int length_known, void *ctx);

/* Called once per answered request (self-telemetry): the route's path (or "other"
 * for unknown paths) and the status code sent. */
typedef void (*otus_http_observer)(const char *path, int status, void *ctx);

struct otus_http_server_opts {
    const char *name;            /* for log lines, e.g. "otlp" or "admin"; borrowed */
    size_t max_header_bytes;     /* request line + headers; over it: 431 (0: 16 KiB) */
    size_t max_body_bytes;       /* default body limit of routes; over it: 413 (0: 1 MiB) */
    uint64_t idle_timeout_ms;    /* close a connection idle this long (0: 60 s) */
    uint64_t request_timeout_ms; /* a started request must arrive within (0: 30 s) */
    unsigned max_connections;    /* more are closed at once (0: 1024) */
    otus_http_observer observer; /* MAY be NULL */
    void *observer_ctx;
    struct otus_mem_budget *budget; /* MAY be NULL: request bodies are charged to it while
                                       held; a body that does not fit gets 503 */
};

struct otus_http_header {
    const char *name;  /* lowercased, NUL-terminated */
    const char *value; /* NUL-terminated, surrounding whitespace trimmed */
};

struct otus_http_request {
    const char *method; /* "GET", "POST", ... */
    int method_id;      /* enum http_method */
    const char *path;   /* without the query; NUL-terminated */
    const char *query;  /* after '?', or "" */
    int http_major, http_minor;
    const struct otus_http_header *headers;
    size_t nheaders;
    struct otus_buf body; /* the body, decoded from chunked if it was; a handler MAY
                             take it with otus_buf_steal() */
    int body_skipped;     /* the route's admit callback refused the body */
    uint64_t received_ns; /* monotonic time the request was complete */
};

/*
 * Parses "host:port", "[v6]:port" or ":port" (all interfaces) into *out. Host names
 * are resolved (at start-up only). 0, OTUS_ERR_INVALID.
 */
int otus_addr_parse(const char *addr, struct sockaddr_storage *out);

/*
 * Binds and listens on addr. opts is copied (name must outlive the server). 0,
 * OTUS_ERR_INVALID (bad address), OTUS_ERR_IO (bind or listen failed: *err_detail,
 * when not NULL, gets libuv's text), OTUS_ERR_NOMEM.
 */
int otus_http_server_create(uv_loop_t *loop, const char *addr,
                            const struct otus_http_server_opts *opts, struct otus_http_server **out,
                            const char **err_detail);

/*
 * Registers handler for an exact path. max_body_bytes 0 takes the server's default.
 * A path registered again is shadowed: the newest registration answers until it is
 * removed, then the previous one answers again. 0 or OTUS_ERR_NOMEM.
 */
int otus_http_server_route(struct otus_http_server *s, const char *path, size_t max_body_bytes,
                           otus_http_handler handler, void *ctx);

/* As otus_http_server_route, with an admit callback consulted before each body. */
int otus_http_server_route_admit(struct otus_http_server *s, const char *path,
                                 size_t max_body_bytes, otus_http_handler handler,
                                 otus_http_admit admit, void *ctx);

/* Removes the registration of path made with ctx (requests in flight still get their
 * answers). */
void otus_http_server_unroute(struct otus_http_server *s, const char *path, void *ctx);

/* Number of registered routes. */
size_t otus_http_server_routes(const struct otus_http_server *s);

/* Replaces the limits and timeouts (not name, observer or budget) for requests that
 * start from now on. */
void otus_http_server_set_limits(struct otus_http_server *s, const struct otus_http_server_opts *o);

/* The bound port (useful with port 0). */
int otus_http_server_port(const struct otus_http_server *s);

/* Number of open connections. */
unsigned otus_http_server_connections(const struct otus_http_server *s);

/*
 * Stops accepting and closes every connection once its pending answer is written
 * (idle ones at once). done(arg) runs when everything is closed and the server
 * freed. Accepts NULL (done is then not called).
 */
void otus_http_server_close(struct otus_http_server *s, void (*done)(void *arg), void *arg);

/* The value of header name (lowercase), or NULL. */
const char *otus_http_request_header(const struct otus_http_request *r, const char *name);

/*
 * Answers a request. content_type MAY be NULL (no body expected). extra_headers,
 * when not NULL, is zero or more complete "Name: value\r\n" lines. The body is
 * copied. The request is invalid afterwards.
 */
void otus_http_respond(struct otus_http_request *r, int status, const char *content_type,
                       const void *body, size_t len, const char *extra_headers);

/* As otus_http_respond, but takes ownership of body's memory (no copy). */
void otus_http_respond_buf(struct otus_http_request *r, int status, const char *content_type,
                           struct otus_buf *body, const char *extra_headers);

/*
 * Gives back the memory of a body lent with otus_http_respond_buf_lend(): *body is the
 * buffer as it was lent (data, len, cap, max), owned by the callee again (body itself
 * is valid during the call only: copy the struct). Runs exactly
 * once, on the loop thread, as soon as the server no longer needs the memory: after
 * the body was written, when the write failed or the connection went away before it
 * completed (the server closing included), or at once when the body was not written
 * from this memory (HEAD, a connection already closed, a small body copied next to
 * the headers); so it MAY run before otus_http_respond_buf_lend() returns.
 */
typedef void (*otus_http_body_cb)(struct otus_buf *body, void *arg);

/*
 * As otus_http_respond_buf, but lends body's memory instead of giving it away: done
 * (MUST be set) returns it, so that a caller answering large bodies again and again
 * (a scrape endpoint) can keep one buffer and write into pages that are already
 * mapped. body is emptied; arg is passed to done as it is.
 */
void otus_http_respond_buf_lend(struct otus_http_request *r, int status, const char *content_type,
                                struct otus_buf *body, const char *extra_headers,
                                otus_http_body_cb done, void *arg);

/* The reason phrase for a status code ("Not Found"). */
const char *otus_http_reason(int status);

#endif
