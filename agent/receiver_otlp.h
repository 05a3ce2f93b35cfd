/*
 * receiver_otlp.h: the OTLP/HTTP receiver (POST /v1/traces, /v1/metrics, /v1/logs),
 * as the OTLP specification's OTLP/HTTP section says: binary protobuf
 * (application/x-protobuf) or JSON (application/json) bodies, gzip or identity
 * Content-Encoding, 200 with an Export*ServiceResponse in the request's encoding
 * (partial_success when items were rejected), 400 with a google.rpc.Status for
 * malformed payloads, 401 without the configured bearer token, 405, 413, 415, and 503
 * with Retry-After when the memory budget is exhausted or the agent is stopping.
 *
 * A request is decoded once into a batch (agent/batch.h), validated (items with
 * invalid IDs or shapes are removed and counted as rejected), charged to the memory
 * budget and routed to the pipelines before it is acknowledged.
 */
#ifndef OTUS_AGENT_RECEIVER_OTLP_H
#define OTUS_AGENT_RECEIVER_OTLP_H

#include <stddef.h>

#include "agent/agent_config.h"
#include "agent/batch.h"
#include "agent/http_server.h"
#include "agent/self_metrics.h"

struct otus_pipelines;
struct otus_receiver;

/* What the receiver needs from the agent; borrowed, outlives the receiver. */
struct otus_receiver_env {
    struct otus_mem_budget *budget;
    struct otus_self_metrics *metrics;
    /* The pipelines to route to (may change on reload, hence the indirection). */
    struct otus_pipelines **pipelines;
    /* Non-zero while the agent takes data. */
    int (*accepting)(void *agent);
    void *agent;
};

/* Registers the three routes on srv (borrowed) with cfg (copied). 0 or OTUS_ERR_NOMEM. */
int otus_receiver_create(const struct otus_receiver_env *env,
                         const struct otus_otlp_receiver_cfg *cfg, struct otus_http_server *srv,
                         struct otus_receiver **out);

/* Unregisters the routes and frees the receiver. Accepts NULL. */
void otus_receiver_destroy(struct otus_receiver *r);

/*
 * Validates a decoded request in place: removes spans with invalid trace or span IDs,
 * log records with malformed IDs, metric points of unnamed metrics and malformed
 * histogram points. Returns the number removed; *why (static text) names the first
 * reason, or NULL when nothing was removed.
 */
size_t otus_otlp_validate(struct otus_batch *b, const char **why);

#endif
