/*
 * agent_config.h: otus-agent's configuration as a struct, loaded from a YAML file or
 * from the embedded default, with the tables that describe every key.
 */
#ifndef OTUS_AGENT_AGENT_CONFIG_H
#define OTUS_AGENT_AGENT_CONFIG_H

#include <stdint.h>

#include "agent/config.h"

struct otus_http_cfg {
    uint64_t idle_timeout_ms;
    uint64_t request_timeout_ms;
    uint64_t max_header_bytes;
    int64_t max_connections;
};

struct otus_service_cfg {
    char *log_level;
    char *data_dir;
    uint64_t shutdown_timeout_ms;
    char *telemetry_listen;
    struct otus_http_cfg http;
};

struct otus_config {
    char *source; /* file path or "<embedded default>"; owned */
    struct otus_service_cfg service;
};

/* The YAML the agent runs on when no --config is given. */
extern const char otus_default_config_yaml[];

/* Loads and validates path (NULL: the embedded default) into cfg. 0, OTUS_ERR_CONFIG
 * or OTUS_ERR_IO with err filled. On failure cfg holds nothing to free. */
int otus_config_load(struct otus_config *cfg, const char *path, struct otus_cfg_err *err);

/* As otus_config_load, from a document already loaded (borrowed). */
int otus_config_load_doc(struct otus_config *cfg, struct otus_cfg_doc *doc,
                         struct otus_cfg_err *err);

void otus_config_free(struct otus_config *cfg);

/* Appends the Markdown reference of every key (docs/configuration.md, --help). */
int otus_config_describe(struct otus_buf *out);

#endif
