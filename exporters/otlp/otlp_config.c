/*
 * otlp_config.c: the configuration of the "otlp" and "jaeger" exporter types, each
 * described once in a table (the keys both share sit in one table merged into both),
 * and what the exporter derives from it: the URL of each signal and the request
 * headers.
 *
 * The "otlp" type follows the OpenTelemetry exporter configuration: endpoint is a base
 * URL to which /v1/traces, /v1/metrics and /v1/logs are appended, and a per-signal
 * endpoint, when set, is used as given. "jaeger" takes the full URL of Jaeger's OTLP
 * traces ingest.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <otus.h>

#include "exporters/otlp/otlp.h"

static const char *const compressions[] = {"gzip", "none", NULL};
static const char *const encodings[] = {"protobuf", "json", NULL};

static const struct otus_cfg_entry retry_table[] = {
    {"initial_interval", OTUS_CFG_DURATION, "1s",
     offsetof(struct otlp_common_cfg, retry.initial_interval_ms) -
         offsetof(struct otlp_common_cfg, retry),
     "Upper bound of the first retry's random delay; it doubles per retry.", 1, 3600000, NULL,
     NULL},
    {"max_interval", OTUS_CFG_DURATION, "30s",
     offsetof(struct otlp_common_cfg, retry.max_interval_ms) -
         offsetof(struct otlp_common_cfg, retry),
     "The retry delay's bound grows no further than this.", 1, 3600000, NULL, NULL},
    {"max_elapsed", OTUS_CFG_DURATION, "5m",
     offsetof(struct otlp_common_cfg, retry.max_elapsed_ms) -
         offsetof(struct otlp_common_cfg, retry),
     "A send still failing this long after its first failure is dropped and counted.", 1, 86400000,
     NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry breaker_table[] = {
    {"failure_threshold", OTUS_CFG_INT, "5",
     offsetof(struct otlp_common_cfg, breaker.failure_threshold) -
         offsetof(struct otlp_common_cfg, breaker),
     "Consecutive failed requests (no answer, or a 5xx answer) that open the breaker.", 1, 1000000,
     NULL, NULL},
    {"open_timeout", OTUS_CFG_DURATION, "10s",
     offsetof(struct otlp_common_cfg, breaker.open_timeout_ms) -
         offsetof(struct otlp_common_cfg, breaker),
     "How long an open breaker refuses requests before one probe goes out.", 1, 3600000, NULL,
     NULL},
    {"max_open_timeout", OTUS_CFG_DURATION, "5m",
     offsetof(struct otlp_common_cfg, breaker.max_open_timeout_ms) -
         offsetof(struct otlp_common_cfg, breaker),
     "The open time doubles after each failed probe, up to this.", 1, 86400000, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry tls_table[] = {
    {"ca_file", OTUS_CFG_STRING, "",
     offsetof(struct otlp_common_cfg, tls.ca_file) - offsetof(struct otlp_common_cfg, tls),
     "PEM bundle to verify the endpoint's certificate with (default: the system's).", 0, 0, NULL,
     NULL},
    {"cert_file", OTUS_CFG_STRING, "",
     offsetof(struct otlp_common_cfg, tls.cert_file) - offsetof(struct otlp_common_cfg, tls),
     "Client certificate (PEM) for mutual TLS.", 0, 0, NULL, NULL},
    {"key_file", OTUS_CFG_STRING, "",
     offsetof(struct otlp_common_cfg, tls.key_file) - offsetof(struct otlp_common_cfg, tls),
     "Private key (PEM) of cert_file, when not inside it.", 0, 0, NULL, NULL},
    {"insecure_skip_verify", OTUS_CFG_BOOL, "false",
     offsetof(struct otlp_common_cfg, tls.insecure_skip_verify) -
         offsetof(struct otlp_common_cfg, tls),
     "Accept any certificate and host name (testing only).", 0, 0, NULL, NULL},
    OTUS_CFG_END,
};

static const struct otus_cfg_entry common_table[] = {
    {"headers", OTUS_CFG_STRMAP, NULL, offsetof(struct otlp_common_cfg, headers),
     "Extra request headers, e.g. authorization: \"Bearer ${TOKEN}\".", 0, 0, NULL, NULL},
    {"encoding", OTUS_CFG_STRING, "protobuf", offsetof(struct otlp_common_cfg, encoding),
     "Request body encoding: binary protobuf, or OTLP/JSON.", 0, 0, encodings, NULL},
    {"compression", OTUS_CFG_STRING, "gzip", offsetof(struct otlp_common_cfg, compression),
     "Request body compression.", 0, 0, compressions, NULL},
    {"compression_level", OTUS_CFG_INT, "1", offsetof(struct otlp_common_cfg, compression_level),
     "gzip level, 1 (fastest) to 9 (smallest).", 1, 9, NULL, NULL},
    {"timeout", OTUS_CFG_DURATION, "10s", offsetof(struct otlp_common_cfg, timeout_ms),
     "Time for one request, connecting and waiting for a connection included.", 1, 3600000, NULL,
     NULL},
    {"max_connections", OTUS_CFG_INT, "4", offsetof(struct otlp_common_cfg, max_connections),
     "Open connections to the endpoint's host at most.", 1, 256, NULL, NULL},
    {"max_response_bytes", OTUS_CFG_SIZE, "64KiB",
     offsetof(struct otlp_common_cfg, max_response_bytes),
     "Largest answer body read (an Export*ServiceResponse or Status is small).", 1024, 64 << 20,
     NULL, NULL},
    {"retry", OTUS_CFG_SECTION, NULL, offsetof(struct otlp_common_cfg, retry),
     "Retries of 429, 502, 503, 504 and network errors, with exponential backoff and jitter.", 0, 0,
     NULL, retry_table},
    {"breaker", OTUS_CFG_SECTION, NULL, offsetof(struct otlp_common_cfg, breaker),
     "Circuit breaker per endpoint.", 0, 0, NULL, breaker_table},
    {"tls", OTUS_CFG_SECTION, NULL, offsetof(struct otlp_common_cfg, tls),
     "TLS for https endpoints.", 0, 0, NULL, tls_table},
    OTUS_CFG_END,
};

const struct otus_cfg_entry otus__otlp_table[] = {
    OTUS_CFG_QUEUE,
    {"endpoint", OTUS_CFG_STRING, "http://127.0.0.1:4318", offsetof(struct otlp_cfg, endpoint),
     "Base URL of the OTLP/HTTP endpoint; /v1/traces, /v1/metrics, /v1/logs are appended.", 0, 0,
     NULL, NULL},
    {"traces_endpoint", OTUS_CFG_STRING, "",
     offsetof(struct otlp_cfg, signal_endpoint[OTUS_SIGNAL_TRACES]),
     "Full URL for traces, used as given (default: endpoint + /v1/traces).", 0, 0, NULL, NULL},
    {"metrics_endpoint", OTUS_CFG_STRING, "",
     offsetof(struct otlp_cfg, signal_endpoint[OTUS_SIGNAL_METRICS]),
     "Full URL for metrics, used as given (default: endpoint + /v1/metrics).", 0, 0, NULL, NULL},
    {"logs_endpoint", OTUS_CFG_STRING, "",
     offsetof(struct otlp_cfg, signal_endpoint[OTUS_SIGNAL_LOGS]),
     "Full URL for logs, used as given (default: endpoint + /v1/logs).", 0, 0, NULL, NULL},
    {"", OTUS_CFG_INLINE, NULL, offsetof(struct otlp_cfg, c), "Request settings", 0, 0, NULL,
     common_table},
    OTUS_CFG_END,
};

const struct otus_cfg_entry otus__jaeger_table[] = {
    OTUS_CFG_QUEUE,
    {"endpoint", OTUS_CFG_STRING, "http://127.0.0.1:4318/v1/traces",
     offsetof(struct otlp_cfg, endpoint),
     "URL of the Jaeger collector's OTLP/HTTP traces ingest (Jaeger 1.35+, v2), used as given.", 0,
     0, NULL, NULL},
    {"", OTUS_CFG_INLINE, NULL, offsetof(struct otlp_cfg, c), "Request settings", 0, 0, NULL,
     common_table},
    OTUS_CFG_END,
};

/* http:// or https://, a host, no credentials, no spaces or control characters. */
static int url_ok(const char *u, const char **why)
{
    const char *rest;
    if (strncasecmp(u, "http://", 7) == 0)
        rest = u + 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        rest = u + 8;
    else {
        *why = "must start with http:// or https://";
        return 0;
    }
    size_t hostlen = strcspn(rest, "/?#");
    if (hostlen == 0) {
        *why = "has no host";
        return 0;
    }
    if (memchr(rest, '@', hostlen)) {
        *why = "must not carry credentials (use headers)";
        return 0;
    }
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            *why = "contains a space or control character";
            return 0;
        }
    }
    return 1;
}

/* RFC 9110 token characters. */
static int header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
            return 0;
    return 1;
}

static int header_value_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

int otus__otlp_check(const void *cfgp, struct otus_cfg_err *err)
{
    static const char *const keys[OTUS_SIGNAL_COUNT] = {"traces_endpoint", "metrics_endpoint",
                                                        "logs_endpoint"};
    const struct otlp_cfg *cfg = cfgp;
    const char *why = NULL;
    if (!cfg->endpoint || !url_ok(cfg->endpoint, &why)) {
        snprintf(err->msg, sizeof(err->msg), "endpoint: \"%s\" %s",
                 cfg->endpoint ? cfg->endpoint : "", why ? why : "is required");
        return OTUS_ERR_CONFIG;
    }
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        const char *u = cfg->signal_endpoint[s];
        if (u && *u && !url_ok(u, &why)) {
            snprintf(err->msg, sizeof(err->msg), "%s: \"%s\" %s", keys[s], u, why);
            return OTUS_ERR_CONFIG;
        }
    }
    const struct otus_strmap *h = &cfg->c.headers;
    for (size_t i = 0; i < h->n; i++) {
        if (!header_name_ok(h->keys[i])) {
            snprintf(err->msg, sizeof(err->msg), "headers: \"%s\" is not a valid header name",
                     h->keys[i]);
            return OTUS_ERR_CONFIG;
        }
        if (!header_value_ok(h->values[i])) {
            snprintf(err->msg, sizeof(err->msg),
                     "headers: the value of \"%s\" contains a control character", h->keys[i]);
            return OTUS_ERR_CONFIG;
        }
        if (strcasecmp(h->keys[i], "content-type") == 0 ||
            strcasecmp(h->keys[i], "content-encoding") == 0 ||
            strcasecmp(h->keys[i], "content-length") == 0) {
            snprintf(err->msg, sizeof(err->msg), "headers: \"%s\" is set by the exporter itself",
                     h->keys[i]);
            return OTUS_ERR_CONFIG;
        }
    }
    if (cfg->c.retry.initial_interval_ms > cfg->c.retry.max_interval_ms) {
        snprintf(err->msg, sizeof(err->msg),
                 "retry.initial_interval must not be longer than retry.max_interval");
        return OTUS_ERR_CONFIG;
    }
    if (cfg->c.breaker.open_timeout_ms > cfg->c.breaker.max_open_timeout_ms) {
        snprintf(err->msg, sizeof(err->msg),
                 "breaker.open_timeout must not be longer than breaker.max_open_timeout");
        return OTUS_ERR_CONFIG;
    }
    return 0;
}

static const char *const signal_paths[OTUS_SIGNAL_COUNT] = {"v1/traces", "v1/metrics", "v1/logs"};

int otus__otlp_url(const struct otlp_cfg *cfg, enum otus_signal s, int append_path, char **out)
{
    const char *own = cfg->signal_endpoint[s];
    if (own && *own) {
        *out = strdup(own);
        return *out ? 0 : OTUS_ERR_NOMEM;
    }
    if (!append_path) {
        *out = strdup(cfg->endpoint);
        return *out ? 0 : OTUS_ERR_NOMEM;
    }
    size_t n = strlen(cfg->endpoint);
    while (n > 0 && cfg->endpoint[n - 1] == '/')
        n--;
    size_t len = n + 1 + strlen(signal_paths[s]) + 1;
    char *u = malloc(len);
    if (!u)
        return OTUS_ERR_NOMEM;
    snprintf(u, len, "%.*s/%s", (int)n, cfg->endpoint, signal_paths[s]);
    *out = u;
    return 0;
}

int otus__otlp_headers(const struct otlp_cfg *cfg, char ***out)
{
    static const char pb[] = "Content-Type: application/x-protobuf";
    static const char js[] = "Content-Type: application/json";
    const char *ctype = strcmp(cfg->c.encoding, "json") == 0 ? js : pb;
    size_t ctype_size = strlen(ctype) + 1;
    static const char cenc[] = "Content-Encoding: gzip";
    int gzip = strcmp(cfg->c.compression, "gzip") == 0;
    const struct otus_strmap *h = &cfg->c.headers;
    size_t count = 1 + (size_t)gzip + h->n;
    size_t bytes = (count + 1) * sizeof(char *) + ctype_size + sizeof(cenc);
    for (size_t i = 0; i < h->n; i++)
        bytes += strlen(h->keys[i]) + strlen(h->values[i]) + 3;
    char **v = malloc(bytes);
    if (!v)
        return OTUS_ERR_NOMEM;
    char *p = (char *)(v + count + 1);
    size_t k = 0;
    v[k++] = memcpy(p, ctype, ctype_size);
    p += ctype_size;
    if (gzip) {
        v[k++] = memcpy(p, cenc, sizeof(cenc));
        p += sizeof(cenc);
    }
    for (size_t i = 0; i < h->n; i++) {
        int n = sprintf(p, "%s: %s", h->keys[i], h->values[i]);
        v[k++] = p;
        p += n + 1;
    }
    v[k] = NULL;
    *out = v;
    return 0;
}
