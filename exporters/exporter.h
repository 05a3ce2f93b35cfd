/*
 * exporter.h: the one interface every exporter implements, and the table the core
 * finds them in.
 *
 * The core (agent/pipeline.c) owns, per exporter instance, a bounded queue of batches
 * with its batching triggers (max_batch_records, max_batch_bytes, flush_interval) and
 * the count of sends in flight (max_in_flight). An exporter therefore only encodes and
 * delivers: the core hands it a group of batches with send(), and the exporter calls
 * otus_send_done() once every record in the group is settled (delivered, failed for
 * good, or dropped), however many retries that took. Until then the batches stay
 * referenced and the memory stays charged.
 *
 * Pull-based exporters (Prometheus) have no send: the core hands them every batch at
 * once through ingest(), with no queue in between.
 *
 * Ownership: batches passed to an exporter are borrowed; an exporter that needs one
 * past the call (a push exporter retrying later) keeps the send, which holds them.
 * Configuration structs are owned by the core and outlive the exporter instance.
 *
 * Threading: every call happens on the agent's loop thread. An exporter MAY do work on
 * the libuv thread pool and MUST come back to the loop to call otus_send_done().
 */
#ifndef OTUS_EXPORTERS_EXPORTER_H
#define OTUS_EXPORTERS_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent/batch.h"
#include "agent/config.h"
#include "agent/http_server.h"
#include "agent/self_metrics.h"
#include "common/buf.h"

/* Settings the core applies to every push exporter's queue. Push exporters put this
 * struct first in their configuration struct and OTUS_CFG_QUEUE first in their table. */
struct otus_queue_cfg {
    uint64_t flush_interval_ms; /* send what is queued at least this often */
    uint64_t max_batch_bytes;   /* a send holds at most about this much */
    int64_t max_batch_records;  /* and at most about this many records */
    int64_t max_in_flight;      /* concurrent sends */
    uint64_t queue_max_bytes;   /* queued data over this is dropped and counted */
};

extern const struct otus_cfg_entry otus_queue_cfg_table[];

/* The table entry that merges the queue keys into an exporter's own keys. */
#define OTUS_CFG_QUEUE                                                                             \
    {                                                                                              \
        "", OTUS_CFG_INLINE, NULL, 0, "Queue and batching settings", 0, 0, NULL,                   \
            otus_queue_cfg_table                                                                   \
    }

/* What the core gives an exporter when it creates it. All pointers borrowed; they
 * outlive the exporter. */
struct otus_exporter_env {
    uv_loop_t *loop;
    const char *name;     /* the instance name from the configuration, "elasticsearch/app" */
    const char *data_dir; /* service.data_dir (dead letters, files) */
    struct otus_self_metrics *metrics;
    /* Returns the agent's HTTP server for addr, creating it if needed (shared with any
     * other component on the same address). 0, OTUS_ERR_CONFIG (bad address),
     * OTUS_ERR_IO (cannot listen; *detail says why). */
    int (*listen)(void *agent, const char *addr, struct otus_http_server **out,
                  const char **detail);
    /* Appends the agent's own otus_* metrics (a pull exporter's /metrics carries them). */
    int (*render_self)(void *agent, int openmetrics, struct otus_buf *out);
    void *agent;
};

/* How a send ended, per record. sent + failed + dropped + returned == the send's
 * records. */
struct otus_send_result {
    size_t sent;    /* delivered and acknowledged by the backend */
    size_t failed;  /* refused for good by the backend (dead-lettered where supported) */
    size_t dropped; /* given up on: retries exhausted, shutdown deadline */
    /* Handed back undelivered from hand_back(): 0, or all of the send's records (then
     * the other three are 0). The core queues the batches for the replacement. */
    size_t returned;
};

/* One group of batches handed to a push exporter. */
struct otus_send {
    struct otus_batch *const *batches; /* borrowed while the send is open */
    size_t nbatches;
    size_t records;          /* total records in batches */
    enum otus_signal signal; /* every batch of a send has the same signal */
    uint64_t deadline_ms;    /* loop time after which retrying stops (0: none) */
    void *exporter_data;     /* free for the exporter's use */
    /* private to the core */
    void (*done)(struct otus_send *s, const struct otus_send_result *r);
    void *core;
};

/* Settles a send. Call exactly once, on the loop thread; s is invalid afterwards. */
static inline void otus_send_done(struct otus_send *s, const struct otus_send_result *r)
{
    s->done(s, r);
}

struct otus_exporter_ops {
    /* MUST: the type name used in configuration ("file", "elasticsearch"). */
    const char *type;
    /* MUST: OTUS_SIGNAL_BIT() mask of the signals it takes. */
    unsigned signals;
    /* MUST: its configuration keys (OTUS_CFG_QUEUE first for push exporters) and the
     * size of the struct they describe. */
    const struct otus_cfg_entry *config;
    size_t config_size;
    /* MAY: checks across keys after parsing; fills err. 0 or OTUS_ERR_CONFIG. */
    int (*check)(const void *cfg, struct otus_cfg_err *err);
    /* MUST: creates an instance; cfg is borrowed for the instance's life. On failure
     * it has cleaned up, *detail MAY explain, and destroy is not called. */
    int (*create)(const struct otus_exporter_env *env, const void *cfg, void **self,
                  const char **detail);
    /* MAY: the bytes the exporter would send for these batches (NDJSON, protobuf,
     * exposition text), appended to out. No side effects: tests call it directly. */
    int (*encode)(void *self, struct otus_batch *const *batches, size_t n, struct otus_buf *out);
    /* Push exporters MUST, pull exporters MUST NOT: starts delivering s; settles it
     * later with otus_send_done(). Returns 0, or a negative status when it could not
     * start (the core then counts the records as dropped and does not wait). */
    int (*send)(void *self, struct otus_send *s);
    /* Pull exporters MUST, push exporters MUST NOT: takes the batch's data in now. */
    void (*ingest)(void *self, struct otus_batch *b);
    /* MAY: the core is about to stop; finish what can be finished quickly (the sends in
     * flight still settle through otus_send_done). */
    void (*drain)(void *self);
    /* MAY: a reload replaced this instance (its queue went to the replacement). Settles
     * now, with result.returned, every open send that nothing has been delivered,
     * refused or dropped of and that has no request under way (those waiting to retry:
     * a backend the old settings cannot reach); the core queues their batches for the
     * replacement, which sends them with the new settings. Other sends finish as
     * usual. */
    void (*hand_back)(void *self);
    /* MUST: releases everything; closed(arg) runs once its handles are closed. Called
     * only when no send is open, and never from inside otus_send_done() (it comes on
     * a later loop turn). */
    void (*destroy)(void *self, void (*closed)(void *arg), void *arg);
};

/* The table of every exporter type, NULL-terminated (exporters/registry.c). */
extern const struct otus_exporter_ops *const otus_exporter_types[];

/* The ops for a type name, or NULL. */
const struct otus_exporter_ops *otus_exporter_find(const char *type);

#endif
