/*
 * es_config.c: the Elasticsearch exporter's configuration, described once in a table
 * (parsing, defaults, --help and docs/configuration.md all come from it), and the
 * checks across keys that a table cannot express: endpoint URLs, index names, and
 * that at most one way of authenticating is chosen.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <otus.h>

#include "exporters/elasticsearch/es.h"

static const char *const compressions[] = {"gzip", "none", NULL};

static const struct otus_cfg_entry tls_table[] = {
    {"ca_file", OTUS_CFG_STRING, "", offsetof(struct otus__es_tls_cfg, ca_file),
     "PEM bundle to verify the cluster's certificate with (default: the system's CAs).", 0, 0, NULL,
     NULL, NULL},
    {"insecure_skip_verify", OTUS_CFG_BOOL, "false",
     offsetof(struct otus__es_tls_cfg, insecure_skip_verify),
     "Accept any certificate and host name (an explicit opt-out of verification).", 0, 0, NULL,
     NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry retry_table[] = {
    {"initial_interval", OTUS_CFG_DURATION, "500ms",
     offsetof(struct otus__es_retry_cfg, initial_interval_ms),
     "Upper bound of the first retry's random delay (exponential backoff, full jitter).", 1,
     3600000, NULL, NULL, NULL},
    {"max_interval", OTUS_CFG_DURATION, "30s", offsetof(struct otus__es_retry_cfg, max_interval_ms),
     "The delay bound stops growing here.", 1, 3600000, NULL, NULL, NULL},
    {"max_elapsed", OTUS_CFG_DURATION, "5m", offsetof(struct otus__es_retry_cfg, max_elapsed_ms),
     "Records still not delivered this long after their first failure are dropped and counted.", 1,
     86400000, NULL, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry breaker_table[] = {
    {"failures", OTUS_CFG_INT, "5", offsetof(struct otus__es_breaker_cfg, failures),
     "Consecutive failed requests that open an endpoint's circuit breaker.", 1, 1000, NULL, NULL,
     NULL},
    {"open_timeout", OTUS_CFG_DURATION, "10s",
     offsetof(struct otus__es_breaker_cfg, open_timeout_ms),
     "Time an open breaker waits before letting one probe request through (half-open).", 1, 3600000,
     NULL, NULL, NULL},
    OTUS_CFG_END,
};

const struct otus_cfg_entry otus__es_table[] = {
    OTUS_CFG_QUEUE,
    {"endpoints", OTUS_CFG_STRLIST, "http://127.0.0.1:9200",
     offsetof(struct otus__es_cfg, endpoints),
     "Cluster nodes (http:// or https:// URLs), used round-robin; a failing node is skipped "
     "until its breaker lets a probe through.",
     0, 0, NULL, NULL, NULL},
    {"index", OTUS_CFG_STRING, "logs-otus-default", offsetof(struct otus__es_cfg, index),
     "Where log documents go: a data stream (op_type create), or a time-based index pattern "
     "such as otus-logs-%Y.%m.%d (op_type index), chosen by each record's timestamp.",
     0, 0, NULL, NULL, NULL},
    {"traces_index", OTUS_CFG_STRING, "traces-otus-default",
     offsetof(struct otus__es_cfg, traces_index),
     "Where span documents go when a traces pipeline uses this exporter (same forms as index).", 0,
     0, NULL, NULL, NULL},
    {"username", OTUS_CFG_STRING, "", offsetof(struct otus__es_cfg, username),
     "Basic authentication user (with password).", 0, 0, NULL, NULL, NULL},
    {"password", OTUS_CFG_STRING, "", offsetof(struct otus__es_cfg, password),
     "Basic authentication password.", 0, 0, NULL, NULL, NULL},
    {"api_key", OTUS_CFG_STRING, "", offsetof(struct otus__es_cfg, api_key),
     "API key, sent as \"Authorization: ApiKey <value>\": the encoded key Elasticsearch "
     "returns, or id:key (encoded here).",
     0, 0, NULL, NULL, NULL},
    {"compression", OTUS_CFG_STRING, "gzip", offsetof(struct otus__es_cfg, compression),
     "Request body encoding (Content-Encoding: gzip, or none).", 0, 0, compressions, NULL, NULL},
    {"compression_level", OTUS_CFG_INT, "1", offsetof(struct otus__es_cfg, compression_level),
     "gzip level, 1 (fastest) to 9 (smallest).", 1, 9, NULL, NULL, NULL},
    {"manage_template", OTUS_CFG_BOOL, "true", offsetof(struct otus__es_cfg, manage_template),
     "Install an index template with the mappings of the fields written before the first "
     "request to an index.",
     0, 0, NULL, NULL, NULL},
    {"ignore_malformed", OTUS_CFG_BOOL, "false", offsetof(struct otus__es_cfg, ignore_malformed),
     "The template sets index.mapping.ignore_malformed: a value of the wrong type is left "
     "unindexed instead of refusing its document.",
     0, 0, NULL, NULL, NULL},
    {"template_priority", OTUS_CFG_INT, "200", offsetof(struct otus__es_cfg, template_priority),
     "Priority of the installed template (above the built-in logs-*-* template's 100).", 0, 1000000,
     NULL, NULL, NULL},
    {"tls", OTUS_CFG_SECTION, NULL, offsetof(struct otus__es_cfg, tls),
     "TLS for https:// endpoints; certificates are verified unless turned off.", 0, 0, NULL,
     tls_table, NULL},
    {"timeout", OTUS_CFG_DURATION, "30s", offsetof(struct otus__es_cfg, timeout_ms),
     "A bulk request must be answered within this time.", 100, 3600000, NULL, NULL, NULL},
    {"retry", OTUS_CFG_SECTION, NULL, offsetof(struct otus__es_cfg, retry),
     "Retries of failed requests and of items answered 429 or 5xx.", 0, 0, NULL, retry_table, NULL},
    {"breaker", OTUS_CFG_SECTION, NULL, offsetof(struct otus__es_cfg, breaker),
     "The circuit breaker of each endpoint.", 0, 0, NULL, breaker_table, NULL},
    {"dead_letter", OTUS_CFG_STRING, "", offsetof(struct otus__es_cfg, dead_letter),
     "NDJSON file of documents refused for good, with the reason (default: "
     "<service.data_dir>/dead-letter/<exporter name>.ndjson); replay with otus-agent "
     "--replay-dead-letters.",
     0, 0, NULL, NULL, NULL},
    {"dead_letter_max_bytes", OTUS_CFG_SIZE, "1GiB",
     offsetof(struct otus__es_cfg, dead_letter_max_bytes),
     "The dead-letter file stops growing at this size (further refusals are only counted).", 4096,
     1LL << 42, NULL, NULL, NULL},
    OTUS_CFG_END,
};

static int url_check(const char *u, const char **why)
{
    const char *host;
    if (strncmp(u, "http://", 7) == 0)
        host = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        host = u + 8;
    else {
        *why = "an endpoint is an http:// or https:// URL";
        return OTUS_ERR_CONFIG;
    }
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0) {
        *why = "an endpoint URL needs a host";
        return OTUS_ERR_CONFIG;
    }
    if (memchr(host, '@', hlen)) {
        *why = "credentials go in username/password or api_key, never in the URL";
        return OTUS_ERR_CONFIG;
    }
    if (strpbrk(u, "?# \t\r\n")) {
        *why = "an endpoint URL has no query, fragment or spaces";
        return OTUS_ERR_CONFIG;
    }
    if (strlen(u) > 1024) {
        *why = "an endpoint URL is at most 1024 characters";
        return OTUS_ERR_CONFIG;
    }
    return 0;
}

int otus__es_check(const void *cfgp, struct otus_cfg_err *err)
{
    const struct otus__es_cfg *cfg = cfgp;
    const char *why = NULL;
    if (cfg->endpoints.n == 0) {
        snprintf(err->msg, sizeof(err->msg), "endpoints: at least one endpoint is needed");
        return OTUS_ERR_CONFIG;
    }
    if (cfg->endpoints.n > 64) {
        snprintf(err->msg, sizeof(err->msg), "endpoints: at most 64 endpoints");
        return OTUS_ERR_CONFIG;
    }
    for (size_t i = 0; i < cfg->endpoints.n; i++) {
        if (url_check(cfg->endpoints.items[i], &why) != 0) {
            snprintf(err->msg, sizeof(err->msg), "endpoints: %.200s: %s", cfg->endpoints.items[i],
                     why);
            return OTUS_ERR_CONFIG;
        }
    }
    struct otus__es_target t;
    if (otus__es_target_init(&t, cfg->index, &why) != 0) {
        snprintf(err->msg, sizeof(err->msg), "index: %.200s: %s", cfg->index, why);
        return OTUS_ERR_CONFIG;
    }
    if (otus__es_target_init(&t, cfg->traces_index, &why) != 0) {
        snprintf(err->msg, sizeof(err->msg), "traces_index: %.200s: %s", cfg->traces_index, why);
        return OTUS_ERR_CONFIG;
    }
    int basic = (cfg->username && *cfg->username) || (cfg->password && *cfg->password);
    if (basic && !(cfg->username && *cfg->username)) {
        snprintf(err->msg, sizeof(err->msg), "password: set username too");
        return OTUS_ERR_CONFIG;
    }
    if (basic && cfg->api_key && *cfg->api_key) {
        snprintf(err->msg, sizeof(err->msg),
                 "api_key: choose basic authentication (username/password) or api_key");
        return OTUS_ERR_CONFIG;
    }
    if (cfg->api_key && strpbrk(cfg->api_key, " \t\r\n")) {
        snprintf(err->msg, sizeof(err->msg), "api_key: has white space");
        return OTUS_ERR_CONFIG;
    }
    if (cfg->retry.max_interval_ms < cfg->retry.initial_interval_ms) {
        snprintf(err->msg, sizeof(err->msg),
                 "retry.max_interval: must not be below retry.initial_interval");
        return OTUS_ERR_CONFIG;
    }
    return 0;
}
