/*
 * pipeline.h: the exporter instances of the running configuration, the queue in
 * front of each push exporter, and the routing of batches by signal.
 *
 * route() fans a batch out to every exporter of its signal's pipeline. A pull
 * exporter takes it at once (ingest); a push exporter's queue takes a reference, and
 * the queue hands groups of batches to the exporter's send() when max_batch_records
 * or max_batch_bytes are queued or flush_interval has passed, with at most
 * max_in_flight sends open. A queue over queue_max_bytes drops the new batch for that
 * exporter alone and counts it: a slow or dead exporter never holds up the others.
 *
 * Every record an exporter is given ends up counted exactly once as sent, failed or
 * dropped, or is still queued or in flight:
 *   otus_exporter_accepted_records_total = sent + failed + dropped + queued + in flight.
 *
 * Threading: loop thread only.
 */
#ifndef OTUS_AGENT_PIPELINE_H
#define OTUS_AGENT_PIPELINE_H

#include <uv.h>

#include "agent/agent_config.h"
#include "agent/batch.h"
#include "agent/self_metrics.h"
#include "exporters/exporter.h"

struct otus_pipelines;

/* What the pipelines need from the agent; borrowed, outlives the pipelines. */
struct otus_pipelines_env {
    uv_loop_t *loop;
    struct otus_self_metrics *metrics;
    /* Template for every exporter's env: loop, data_dir, metrics, listen, render_self,
     * agent. name is filled per instance. */
    struct otus_exporter_env exporter_env;
};

/*
 * Creates every exporter of cfg and the routes of its pipelines. Each exporter's
 * settings struct moves from cfg into the pipelines (its cfg pointer is left NULL).
 * 0, or a negative otus_status with *detail naming the exporter and the cause.
 */
int otus_pipelines_create(const struct otus_pipelines_env *env, struct otus_config *cfg,
                          struct otus_pipelines **out, const char **detail);

/*
 * Applies a new configuration: unchanged exporters stay as they are; a changed one
 * is recreated and inherits its predecessor's queue; a removed one stops taking data,
 * sends what it holds and then goes. On failure nothing changes. Exporter
 * configurations move out of cfg as for create.
 */
int otus_pipelines_reload(struct otus_pipelines *p, struct otus_config *cfg, const char **detail);

/* Hands a batch to every exporter of its signal (references taken as needed; the
 * caller keeps its own). */
void otus_pipelines_route(struct otus_pipelines *p, struct otus_batch *b);

/* Number of exporters that take signal s. */
size_t otus_pipelines_count(const struct otus_pipelines *p, enum otus_signal s);

/*
 * Sends everything queued, waits for it until deadline_ms (loop time), drops what is
 * left (counted), destroys every exporter and frees p; then done(arg).
 */
void otus_pipelines_stop(struct otus_pipelines *p, uint64_t timeout_ms, void (*done)(void *arg),
                         void *arg);

#endif
