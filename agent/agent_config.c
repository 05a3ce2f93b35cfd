/*
 * agent_config.c: the sections of otus-agent's YAML and their tables: service,
 * receivers, buffer, exporters (instances named "type" or "type/name", each parsed
 * by its type's own table) and pipelines (exporter names per signal, checked against
 * the exporters defined and the signals each type takes).
 */
#include "agent/agent_config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "exporters/exporter.h"

/* clang-format off */
const char otus_default_config_yaml[] =
    "# otus-agent embedded default configuration\n"
    "service:\n"
    "  log_level: info\n"
    "  data_dir: ./otus-data\n"
    "  telemetry:\n"
    "    listen: 127.0.0.1:9464\n"
    "receivers:\n"
    "  otlp:\n"
    "    listen: 127.0.0.1:4318\n"
    "buffer:\n"
    "  mode: memory\n"
    "exporters:\n"
    "  file:\n"
    "    path: ./otus-data/export\n"
    "  prometheus:\n"
    "    listen: 127.0.0.1:9464\n"
    "pipelines:\n"
    "  logs: [file]\n"
    "  traces: [file]\n"
    "  metrics: [prometheus]\n";
/* clang-format on */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const buffer_modes[] = {"memory", NULL};

static const struct otus_cfg_entry http_table[] = {
    {"idle_timeout", OTUS_CFG_DURATION, "60s", offsetof(struct otus_http_cfg, idle_timeout_ms),
     "Close a keep-alive connection after this long without a request.", 1, 86400000, NULL, NULL,
     NULL},
    {"request_timeout", OTUS_CFG_DURATION, "30s",
     offsetof(struct otus_http_cfg, request_timeout_ms),
     "A request must arrive completely within this time of its first byte (else 408).", 1, 86400000,
     NULL, NULL, NULL},
    {"max_header_bytes", OTUS_CFG_SIZE, "16KiB", offsetof(struct otus_http_cfg, max_header_bytes),
     "Largest request line plus headers accepted (else 431).", 1024, 1 << 20, NULL, NULL, NULL},
    {"max_connections", OTUS_CFG_INT, "1024", offsetof(struct otus_http_cfg, max_connections),
     "Connections per listener; more are closed at once.", 1, 1000000, NULL, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry telemetry_table[] = {
    {"listen", OTUS_CFG_STRING, "127.0.0.1:9464",
     offsetof(struct otus_service_cfg, telemetry_listen),
     "Address of the agent's own endpoint: GET /metrics (otus_* metrics), /healthz (alive), "
     "/readyz (ready to accept data).",
     0, 0, NULL, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry service_table[] = {
    {"log_level", OTUS_CFG_STRING, "info", offsetof(struct otus_service_cfg, log_level),
     "Level of the agent's own JSON log lines on stderr.", 0, 0, log_levels, NULL, NULL},
    {"data_dir", OTUS_CFG_STRING, "./otus-data", offsetof(struct otus_service_cfg, data_dir),
     "Directory for buffers, file exporter output and dead letters.", 0, 0, NULL, NULL, NULL},
    {"shutdown_timeout", OTUS_CFG_DURATION, "10s",
     offsetof(struct otus_service_cfg, shutdown_timeout_ms),
     "On SIGTERM/SIGINT, time allowed to flush queued data before exiting.", 0, 3600000, NULL, NULL,
     NULL},
    {"telemetry", OTUS_CFG_SECTION, NULL, 0, "The agent's own HTTP endpoint.", 0, 0, NULL,
     telemetry_table, NULL},
    {"http", OTUS_CFG_SECTION, NULL, offsetof(struct otus_service_cfg, http),
     "Limits of every HTTP listener.", 0, 0, NULL, http_table, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry otlp_table[] = {
    {"enabled", OTUS_CFG_BOOL, "true", offsetof(struct otus_otlp_receiver_cfg, enabled),
     "Run the OTLP/HTTP receiver.", 0, 0, NULL, NULL, NULL},
    {"listen", OTUS_CFG_STRING, "127.0.0.1:4318", offsetof(struct otus_otlp_receiver_cfg, listen),
     "Address for POST /v1/traces, /v1/metrics, /v1/logs.", 0, 0, NULL, NULL, NULL},
    {"max_request_bytes", OTUS_CFG_SIZE, "8MiB",
     offsetof(struct otus_otlp_receiver_cfg, max_request_bytes),
     "Largest request body, before and after decompression (else 413).", 1024, 1LL << 30, NULL,
     NULL, NULL},
    {"bearer_token", OTUS_CFG_STRING, "", offsetof(struct otus_otlp_receiver_cfg, bearer_token),
     "When set, requests need \"Authorization: Bearer <token>\" (else 401).", 0, 0, NULL, NULL,
     NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry receivers_table[] = {
    {"otlp", OTUS_CFG_SECTION, NULL, 0, "The OTLP/HTTP receiver.", 0, 0, NULL, otlp_table, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry buffer_table[] = {
    {"mode", OTUS_CFG_STRING, "memory", offsetof(struct otus_buffer_cfg, mode),
     "Where accepted data waits for its exporters.", 0, 0, buffer_modes, NULL, NULL},
    {"max_bytes", OTUS_CFG_SIZE, "256MiB", offsetof(struct otus_buffer_cfg, max_bytes),
     "Memory for data in flight (request bodies, decoded and queued batches); when full, the "
     "receiver answers 503 with Retry-After.",
     1 << 20, 1LL << 40, NULL, NULL, NULL},
    OTUS_CFG_END,
};

#define PIPELINE_ENTRY(sig, name, what)                                                            \
    {                                                                                              \
        name, OTUS_CFG_STRLIST, NULL,                                                              \
            offsetof(struct otus_pipelines_cfg, signal) + (sig) * sizeof(struct otus_strlist),     \
            "Exporters that receive " what ".", 0, 0, NULL, NULL, NULL                             \
    }

static const struct otus_cfg_entry pipelines_table[] = {
    PIPELINE_ENTRY(OTUS_SIGNAL_LOGS, "logs", "log records"),
    PIPELINE_ENTRY(OTUS_SIGNAL_TRACES, "traces", "spans"),
    PIPELINE_ENTRY(OTUS_SIGNAL_METRICS, "metrics", "metric data points"),
    OTUS_CFG_END,
};

/* ---- exporters: "type" or "type/name" -> that type's own table ------------------------- */

static void exporters_free(void *base)
{
    struct otus_exporters_cfg *x = base;
    for (size_t i = 0; i < x->n; i++) {
        struct otus_exporter_cfg *e = &x->items[i];
        if (e->cfg) {
            otus_cfg_free(e->ops->config, e->cfg);
            free(e->cfg);
        }
        free(e->name);
    }
    free(x->items);
    x->items = NULL;
    x->n = 0;
}

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int exporters_parse(struct otus_cfg_doc *d, yaml_node_t *node, const char *key, void *base,
                           struct otus_cfg_err *err)
{
    struct otus_exporters_cfg *x = base;
    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
        return 0;
    if (node->type != YAML_MAPPING_NODE) {
        otus_cfg_errorf(err, d, node, key, "expected a mapping of exporter names to settings");
        return OTUS_ERR_CONFIG;
    }
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    exporters_free(x);
    x->items = calloc(n ? n : 1, sizeof(*x->items));
    if (!x->items) {
        otus_cfg_errorf(err, d, node, key, "out of memory");
        return OTUS_ERR_CONFIG;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
        yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
        char path[256];
        if (kn->type != YAML_SCALAR_NODE) {
            otus_cfg_errorf(err, d, kn, key, "exporter names must be plain names");
            return OTUS_ERR_CONFIG;
        }
        const char *name = (const char *)kn->data.scalar.value;
        snprintf(path, sizeof(path), "%s.%s", key, name);
        char type[64];
        const char *slash = strchr(name, '/');
        size_t tlen = slash ? (size_t)(slash - name) : strlen(name);
        if (tlen == 0 || tlen >= sizeof(type) || (slash && !name_ok(slash + 1))) {
            otus_cfg_errorf(err, d, kn, path,
                            "an exporter is named \"type\" or \"type/name\" (letters, digits, "
                            "'_', '-', '.')");
            return OTUS_ERR_CONFIG;
        }
        memcpy(type, name, tlen);
        type[tlen] = '\0';
        for (size_t j = 0; j < x->n; j++) {
            if (strcmp(x->items[j].name, name) == 0) {
                otus_cfg_errorf(err, d, kn, path, "defined twice (first at line %zu)",
                                x->items[j].line);
                return OTUS_ERR_CONFIG;
            }
        }
        const struct otus_exporter_ops *ops = otus_exporter_find(type);
        if (!ops) {
            char known[256] = "";
            for (size_t t = 0; otus_exporter_types[t]; t++) {
                strncat(known, t ? ", " : "", sizeof(known) - strlen(known) - 1);
                strncat(known, otus_exporter_types[t]->type, sizeof(known) - strlen(known) - 1);
            }
            otus_cfg_errorf(err, d, kn, path, "unknown exporter type \"%s\" (known: %s)", type,
                            known);
            return OTUS_ERR_CONFIG;
        }
        struct otus_exporter_cfg *e = &x->items[x->n];
        e->ops = ops;
        e->line = kn->start_mark.line + 1;
        e->name = strdup(name);
        e->cfg = calloc(1, ops->config_size ? ops->config_size : 1);
        x->n++;
        if (!e->name || !e->cfg) {
            otus_cfg_errorf(err, d, kn, path, "out of memory");
            return OTUS_ERR_CONFIG;
        }
        int rc = otus_cfg_defaults(ops->config, e->cfg, err);
        if (!rc)
            rc = otus_cfg_apply(d, vn, path, ops->config, e->cfg, err);
        if (!rc && ops->check) {
            struct otus_cfg_err sub;
            sub.msg[0] = '\0';
            rc = ops->check(e->cfg, &sub);
            if (rc)
                otus_cfg_errorf(err, d, kn, path, "%s", sub.msg);
        }
        if (rc)
            return OTUS_ERR_CONFIG;
    }
    return 0;
}

static int exporters_describe(const char *prefix, struct otus_buf *out)
{
    int rc = 0;
    for (size_t t = 0; otus_exporter_types[t] && !rc; t++) {
        char p[128];
        snprintf(p, sizeof(p), "%s.%s[/NAME]", prefix, otus_exporter_types[t]->type);
        rc = otus_cfg_describe(otus_exporter_types[t]->config, p, out);
    }
    return rc;
}

static const struct otus_cfg_custom exporters_custom = {
    .parse = exporters_parse,
    .free = exporters_free,
    .describe = exporters_describe,
};

static const struct otus_cfg_entry root_table[] = {
    {"service", OTUS_CFG_SECTION, NULL, offsetof(struct otus_config, service),
     "The agent process itself.", 0, 0, NULL, service_table, NULL},
    {"receivers", OTUS_CFG_SECTION, NULL, offsetof(struct otus_config, receivers),
     "Where data comes in.", 0, 0, NULL, receivers_table, NULL},
    {"buffer", OTUS_CFG_SECTION, NULL, offsetof(struct otus_config, buffer),
     "Where accepted data waits.", 0, 0, NULL, buffer_table, NULL},
    {"exporters", OTUS_CFG_CUSTOM, NULL, offsetof(struct otus_config, exporters),
     "Exporter instances.", 0, 0, NULL, NULL, &exporters_custom},
    {"pipelines", OTUS_CFG_SECTION, NULL, offsetof(struct otus_config, pipelines),
     "Which exporters each signal goes to.", 0, 0, NULL, pipelines_table, NULL},
    OTUS_CFG_END,
};

const struct otus_exporter_cfg *otus_config_exporter(const struct otus_config *cfg,
                                                     const char *name)
{
    for (size_t i = 0; i < cfg->exporters.n; i++)
        if (strcmp(cfg->exporters.items[i].name, name) == 0)
            return &cfg->exporters.items[i];
    return NULL;
}

/* Every pipeline entry names a defined exporter that takes that signal, once. */
static int check_pipelines(struct otus_config *cfg, struct otus_cfg_doc *doc,
                           struct otus_cfg_err *err)
{
    yaml_node_t *pnode = otus_cfg_get(doc, otus_cfg_root(doc), "pipelines");
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        const char *sig = otus_signal_name((enum otus_signal)s);
        yaml_node_t *list = otus_cfg_get(doc, pnode, sig);
        struct otus_strlist *l = &cfg->pipelines.signal[s];
        char key[64];
        snprintf(key, sizeof(key), "pipelines.%s", sig);
        for (size_t i = 0; i < l->n; i++) {
            yaml_node_t *at = list;
            if (list && list->type == YAML_SEQUENCE_NODE &&
                (size_t)(list->data.sequence.items.top - list->data.sequence.items.start) > i)
                at = yaml_document_get_node(&doc->doc, list->data.sequence.items.start[i]);
            const struct otus_exporter_cfg *e = otus_config_exporter(cfg, l->items[i]);
            if (!e) {
                otus_cfg_errorf(err, doc, at, key, "no exporter named \"%s\" is defined",
                                l->items[i]);
                return OTUS_ERR_CONFIG;
            }
            if (!(e->ops->signals & OTUS_SIGNAL_BIT(s))) {
                otus_cfg_errorf(err, doc, at, key, "exporter \"%s\" does not take %s", l->items[i],
                                sig);
                return OTUS_ERR_CONFIG;
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(l->items[j], l->items[i]) == 0) {
                    otus_cfg_errorf(err, doc, at, key, "exporter \"%s\" is listed twice",
                                    l->items[i]);
                    return OTUS_ERR_CONFIG;
                }
            }
        }
    }
    return 0;
}

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
    if (!rc)
        rc = check_pipelines(cfg, doc, err);
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
