/*
 * agent_config.h: otus-agent's configuration as a struct, loaded from a YAML file or
 * from the embedded default, with the tables that describe every key.
 */
#ifndef OTUS_AGENT_AGENT_CONFIG_H
#define OTUS_AGENT_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/batch.h"
#include "agent/config.h"

struct otus_exporter_ops;

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

struct otus_otlp_receiver_cfg {
    bool enabled;
    char *listen;
    uint64_t max_request_bytes;
    char *bearer_token;
};

struct otus_buffer_cfg {
    char *mode;
    uint64_t max_bytes;
};

/* One configured exporter instance. */
struct otus_exporter_cfg {
    char *name;                          /* "file" or "elasticsearch/app"; owned */
    const struct otus_exporter_ops *ops; /* its type */
    void *cfg;                           /* ops->config_size bytes; owned */
    size_t line;                         /* where it is defined, for messages */
};

struct otus_exporters_cfg {
    struct otus_exporter_cfg *items; /* owned */
    size_t n;
};

struct otus_pipelines_cfg {
    struct otus_strlist signal[OTUS_SIGNAL_COUNT]; /* exporter names per signal */
};

struct otus_config {
    char *source; /* file path or "<embedded default>"; owned */
    struct otus_service_cfg service;
    struct {
        struct otus_otlp_receiver_cfg otlp;
    } receivers;
    struct otus_buffer_cfg buffer;
    struct otus_exporters_cfg exporters;
    struct otus_pipelines_cfg pipelines;
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

/* The exporter called name, or NULL. */
const struct otus_exporter_cfg *otus_config_exporter(const struct otus_config *cfg,
                                                     const char *name);

/* Appends the Markdown reference of every key (docs/configuration.md, --help). */
int otus_config_describe(struct otus_buf *out);

#endif
