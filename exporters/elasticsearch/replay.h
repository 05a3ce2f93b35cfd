/*
 * replay.h: otus-agent --replay-dead-letters FILE. Sends the documents of a
 * dead-letter file (written by the Elasticsearch exporter when the cluster refused
 * them for good) again, once the cause is fixed: same index, same op_type, same _id,
 * same document. Documents refused again are written to the exporter's dead-letter
 * file again; when FILE is that file, it ends up holding only those.
 */
#ifndef OTUS_EXPORTERS_ELASTICSEARCH_REPLAY_H
#define OTUS_EXPORTERS_ELASTICSEARCH_REPLAY_H

#include <stddef.h>

#include <uv.h>

#include "agent/agent_config.h"

struct otus_es_replay_result {
    size_t lines;     /* dead-letter lines read */
    size_t malformed; /* lines that were not dead letters (kept, not sent) */
    size_t landed;    /* documents Elasticsearch stored */
    size_t failed;    /* refused again (written to the dead-letter file again) */
    size_t dropped;   /* not delivered (cluster unreachable within retry.max_elapsed) */
};

/*
 * Runs loop until every document of path is settled, with the configuration's
 * Elasticsearch exporters (a line goes to the exporter named in it, else to the first
 * one). cfg is borrowed. 0 (see *out), OTUS_ERR_CONFIG (no Elasticsearch exporter),
 * OTUS_ERR_IO (cannot read path), OTUS_ERR_TOO_BIG (over 1 GiB), OTUS_ERR_NOMEM;
 * *detail says more.
 */
int otus_es_replay(uv_loop_t *loop, struct otus_config *cfg, const char *path,
                   struct otus_es_replay_result *out, const char **detail);

#endif
