/*
 * es_exporter.h: the state of an Elasticsearch exporter instance, shared by
 * elasticsearch.c (lifecycle, templates, the exporter interface) and es_deliver.c
 * (endpoints, the timer, jobs and their requests, dead letters). Nothing outside
 * exporters/elasticsearch/ includes it.
 *
 * Threading: everything here belongs to the loop thread, except what a work item on
 * the libuv thread pool is lent while it runs: a send's batches, its private copy of
 * the target and its job's items (encoding, elasticsearch.c), or a job's items, the
 * indices of its next request, its body buffers and one compressor (preparing a
 * request, es_deliver.c). The loop touches none of these until the work item is back.
 */
#ifndef OTUS_EXPORTERS_ELASTICSEARCH_ES_EXPORTER_H
#define OTUS_EXPORTERS_ELASTICSEARCH_ES_EXPORTER_H

#include <stdint.h>

#include <uv.h>

#include "agent/http_client.h"
#include "agent/log.h"
#include "agent/self_metrics.h"
#include "common/backoff.h"
#include "common/breaker.h"
#include "common/gzip.h"
#include "exporters/elasticsearch/es.h"

#define OTUS__ES_PARK_RECHECK_MS 1000u /* a waiting job re-checks deadlines at least this often */
#define OTUS__ES_TMPL_NONE       0
#define OTUS__ES_TMPL_INSTALLING 1
#define OTUS__ES_TMPL_DONE       2

struct otus__es_endpoint {
    char *base; /* URL without a trailing '/'; also the metric label */
    struct otus_breaker br;
    unsigned last_state;
    struct otus_metric_series *m_state;
    struct otus_metric_series *m_trans[3]; /* opened, half_opened, closed */
};

/* A gzip compressor for one request at a time. The exporter keeps the idle ones, so
 * no two threads ever use one at once and none is set up per request. */
struct otus__es_zctx {
    struct otus_deflater defl;
    struct otus__es_zctx *next;
};

/* A job's state while the exporter holds it. */
struct otus__es_jstate {
    struct otus__es_job *job;
    struct otus__es *es;
    struct otus__es_jstate *prev, *next;
    enum otus_signal signal;
    size_t *todo; /* item indices still to send this round, in order */
    size_t ntodo;
    size_t *retry; /* item indices answered 429/5xx, for the next round */
    size_t nretry;
    size_t split; /* at most this many items per request (0: no limit), after 413 */
    struct otus_backoff backoff;
    uint64_t progress_ms; /* start, or the last answer that settled items */
    uint64_t wake_ms;     /* waiting until then (0: not waiting) */
    int parked;           /* waiting for a template or an endpoint: woken by either */
    struct otus_http_call *call;
    struct otus__es_endpoint *ep;
    uint64_t gen;
    /* The next request, todo[0..req_n) (0: none chosen). Its body is built on the
     * thread pool while preparing, and then kept, so a request retried as a whole goes
     * again without being compressed again. */
    size_t req_n;
    size_t req_bytes;        /* its items' bytes, before compression */
    int req_contiguous;      /* its items follow each other in the NDJSON */
    int preparing;           /* work is on the thread pool; the loop leaves the job be */
    int canceling;           /* uv_cancel() was tried on that work */
    int prep_status;         /* what the work returned (written on the pool) */
    uv_work_t work;          /* the preparing work item */
    struct otus__es_zctx *z; /* the compressor lent to the work */
    const char *req_body;    /* what to send, once prepared */
    size_t req_len;
    struct otus_buf body; /* its items, when they are not contiguous */
    struct otus_buf gz;   /* its gzipped body */
    size_t sent, failed, dropped;
};

struct otus__es_tmpl {
    struct otus__es *es;
    enum otus_signal signal;
    int state;
    struct otus_buf body;
    struct otus_http_call *call;
    struct otus__es_endpoint *ep;
    uint64_t gen;
    struct otus_backoff backoff;
    uint64_t wake_ms;
};

struct otus__es_encoding; /* elasticsearch.c */

struct otus__es {
    uv_loop_t *loop;
    const struct otus__es_cfg *cfg;
    char *name;
    struct otus_self_metrics *metrics;
    struct otus_http_client *http;
    struct otus__es_endpoint *eps;
    size_t neps, rr;
    struct otus__es_target targets[OTUS_SIGNAL_COUNT];
    struct otus__es_tmpl tmpl[OTUS_SIGNAL_COUNT];
    const char *headers[4];
    const char *tmpl_headers[3];
    char *auth_header;    /* "Authorization: ApiKey ..." or NULL */
    const char *username; /* basic authentication, or NULL */
    int gzip;
    struct otus__es_zctx *zfree; /* idle compressors (at most one per job ever prepared at once) */
    struct otus__es_jstate *jobs;
    struct otus__es_encoding *encoding; /* sends being encoded on the thread pool */
    unsigned works;                     /* work items not back on the loop yet */
    uv_timer_t timer;
    uint64_t timer_at; /* when the timer fires (0: stopped) */
    /* dead letters */
    char *dl_path;
    int dl_fd;
    uint64_t dl_size;
    /* closing: the closed callback runs once both handles are closed and every work
     * item is back */
    int closing, pending_closes;
    int handing_back; /* replaced by a reload: sends that come to wait go back to the core */
    struct otus_log_limit log_retry; /* "bulk request failed; retrying" lines */
    void (*closed)(void *arg);
    void *closed_arg;
    /* metrics */
    struct otus_metric_series *m_req[4];   /* ok, retry, rejected, too_large */
    struct otus_metric_series *m_items[5]; /* stored, retried, rejected, failure_store, dropped */
    struct otus_metric_series *m_dead, *m_dead_lost, *m_bytes, *m_wire;
};

enum { OTUS__ES_REQ_OK, OTUS__ES_REQ_RETRY, OTUS__ES_REQ_REJECTED, OTUS__ES_REQ_TOO_LARGE };
enum {
    OTUS__ES_IT_STORED,
    OTUS__ES_IT_RETRIED,
    OTUS__ES_IT_REJECTED,
    OTUS__ES_IT_FAILURE_STORE,
    OTUS__ES_IT_DROPPED
};

static inline uint64_t otus__es_now(const struct otus__es *es)
{
    return uv_now(es->loop);
}

/* es_deliver.c */

/* Arms the exporter's timer for the earliest wake time of its jobs and templates. */
void otus__es_timer_arm(struct otus__es *es);

/* The next endpoint whose breaker allows an attempt now, round-robin; NULL when none
 * does (*wait: how long until one might). */
struct otus__es_endpoint *otus__es_pick(struct otus__es *es, uint64_t *gen, uint64_t *wait);

/* Reports an attempt's outcome to its endpoint's breaker: > 0 success, < 0 failure,
 * 0 no verdict. */
void otus__es_ep_outcome(struct otus__es *es, struct otus__es_endpoint *ep, uint64_t gen,
                         int outcome);

/* Sets up one compressor ahead of the first request (and checks the level). 0 or
 * OTUS_ERR_NOMEM. */
int otus__es_zctx_warm(struct otus__es *es);

/* Frees the idle compressors (the exporter is going). */
void otus__es_zctx_free_all(struct otus__es *es);

/* Wakes every job waiting for an endpoint or a template. */
void otus__es_kick(struct otus__es *es);

/* The core is stopping: jobs waiting for a retry try now, and past the deadline the
 * requests in flight are cancelled (their records dropped), as are bodies whose
 * preparation has not started on the thread pool. */
void otus__es_drain(struct otus__es *es);

/* Logs (at most every few seconds) that a request (what: "bulk request") to ep failed
 * and will be retried, with the reason. */
void otus__es_log_retry(struct otus__es *es, const char *what, const struct otus__es_endpoint *ep,
                        const struct otus_http_result *res);

/* A reload replaced the exporter: sends that wait to be retried, of which nothing is
 * settled, go back to the core now, and those that come to wait later go back then. */
void otus__es_hand_back(struct otus__es *es);

/* elasticsearch.c */

/* A work item of the exporter came back to the loop: when the exporter is closing and
 * it was the last thing it waited for, the exporter is freed and its closed callback
 * runs. Returns 1 when that happened (es is gone). */
int otus__es_work_back(struct otus__es *es);

/* Moves the installation of signal s's template forward. */
void otus__es_tmpl_step(struct otus__es *es, enum otus_signal s);

#endif
