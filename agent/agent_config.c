/*
 * agent_config.c: the sections of otus-agent's YAML and their tables.
 */
#include "agent/agent_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

const char otus_default_config_yaml[] = "# otus-agent embedded default configuration\n"
                                        "service:\n"
                                        "  log_level: info\n"
                                        "  data_dir: ./otus-data\n"
                                        "  telemetry:\n"
                                        "    listen: 127.0.0.1:9464\n";

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

static const struct otus_cfg_entry http_table[] = {
    {"idle_timeout", OTUS_CFG_DURATION, "60s", offsetof(struct otus_http_cfg, idle_timeout_ms),
     "Close a keep-alive connection after this long without a request.", 1, 86400000, NULL, NULL},
    {"request_timeout", OTUS_CFG_DURATION, "30s",
     offsetof(struct otus_http_cfg, request_timeout_ms),
     "A request must arrive completely within this time of its first byte (else 408).", 1, 86400000,
     NULL, NULL},
    {"max_header_bytes", OTUS_CFG_SIZE, "16KiB", offsetof(struct otus_http_cfg, max_header_bytes),
     "Largest request line plus headers accepted (else 431).", 1024, 1 << 20, NULL, NULL},
    {"max_connections", OTUS_CFG_INT, "1024", offsetof(struct otus_http_cfg, max_connections),
     "Connections per listener; more are closed at once.", 1, 1000000, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry telemetry_table[] = {
    {"listen", OTUS_CFG_STRING, "127.0.0.1:9464",
     offsetof(struct otus_service_cfg, telemetry_listen),
     "Address of the agent's own endpoint: GET /healthz (alive) and GET /readyz (ready).", 0, 0,
     NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry service_table[] = {
    {"log_level", OTUS_CFG_STRING, "info", offsetof(struct otus_service_cfg, log_level),
     "Level of the agent's own JSON log lines on stderr.", 0, 0, log_levels, NULL},
    {"data_dir", OTUS_CFG_STRING, "./otus-data", offsetof(struct otus_service_cfg, data_dir),
     "Directory for buffers, file exporter output and dead letters.", 0, 0, NULL, NULL},
    {"shutdown_timeout", OTUS_CFG_DURATION, "10s",
     offsetof(struct otus_service_cfg, shutdown_timeout_ms),
     "On SIGTERM/SIGINT, time allowed to flush queued data before exiting.", 0, 3600000, NULL,
     NULL},
    {"telemetry", OTUS_CFG_SECTION, NULL, 0, "The agent's own HTTP endpoint.", 0, 0, NULL,
     telemetry_table},
    {"http", OTUS_CFG_SECTION, NULL, offsetof(struct otus_service_cfg, http),
     "Limits of every HTTP listener.", 0, 0, NULL, http_table},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry root_table[] = {
    {"service", OTUS_CFG_SECTION, NULL, offsetof(struct otus_config, service),
     "The agent process itself.", 0, 0, NULL, service_table},
    OTUS_CFG_END,
};

int otus_config_load_doc(struct otus_config *cfg, struct otus_cfg_doc *doc,
                         struct otus_cfg_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->source = strdup(doc->name);
    if (!cfg->source)
        return OTUS_ERR_NOMEM;
    int rc = otus_cfg_defaults(root_table, cfg, err);
    if (!rc)
        rc = otus_cfg_apply(doc, otus_cfg_root(doc), "", root_table, cfg, err);
    if (rc)
        otus_config_free(cfg);
    return rc;
}

int otus_config_load(struct otus_config *cfg, const char *path, struct otus_cfg_err *err)
{
    struct otus_cfg_doc doc;
    int rc;
    memset(cfg, 0, sizeof(*cfg));
    if (path)
        rc = otus_cfg_doc_load_file(&doc, path, err);
    else
        rc = otus_cfg_doc_load_string(&doc, "<embedded default>", otus_default_config_yaml, err);
    if (!rc)
        rc = otus_config_load_doc(cfg, &doc, err);
    otus_cfg_doc_free(&doc);
    return rc;
}

void otus_config_free(struct otus_config *cfg)
{
    if (!cfg)
        return;
    otus_cfg_free(root_table, cfg);
    free(cfg->source);
    cfg->source = NULL;
}

int otus_config_describe(struct otus_buf *out)
{
    int rc = otus_buf_append_str(out, "| key | type | default | description |\n"
                                      "|---|---|---|---|\n");
    if (!rc)
        rc = otus_cfg_describe(root_table, "", out);
    return rc;
}
