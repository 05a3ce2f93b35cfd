/*
 * settings.c: libotus's configuration, resolved once at otus_init() from struct
 * otus_sdk_config over the environment over defaults.
 *
 * The environment is read exactly as the OpenTelemetry environment variable
 * specification says: an empty value is the same as unset; booleans are true only for
 * a case-insensitive "true"; integers, durations and timeouts are non-negative
 * milliseconds (a timeout of 0 means no limit); a value that cannot be parsed or is
 * out of range is reported and ignored, never reinterpreted. Endpoints follow the OTLP
 * exporter specification: a per-signal endpoint is used as given (with "/" when it has
 * no path), the generic one gets "v1/<signal>" appended.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"

static const char *const signal_name[OTUS__NSIGNALS] = {"traces", "metrics", "logs"};
static const char *const signal_env[OTUS__NSIGNALS] = {"TRACES", "METRICS", "LOGS"};

void otus__diag(const struct otus__settings *s, int level, const char *fmt, ...)
{
    if (s && level < s->diag_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s && s->diag) {
        s->diag(s->diag_arg, level, msg);
        return;
    }
    /* One JSON line on stderr, written with one write(2). */
    struct otus_buf b;
    otus_buf_init(&b, 4096);
    char ts[OTUS_RFC3339_BUF];
    otus_time_rfc3339_nano(otus_clock_wall_ns(), ts);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_object_begin(&j);
    otus_json_key_cstr(&j, "timestamp");
    otus_json_cstr(&j, ts);
    otus_json_key_cstr(&j, "level");
    otus_json_cstr(&j, otus__level_name(level));
    otus_json_key_cstr(&j, "logger");
    otus_json_cstr(&j, "otus");
    otus_json_key_cstr(&j, "message");
    otus_json_cstr(&j, msg);
    otus_json_object_end(&j);
    if (!otus_json_error(&j) && otus_buf_append_byte(&b, '\n') == 0) {
        ssize_t w = write(STDERR_FILENO, b.data, b.len);
        (void)w;
    }
    otus_buf_free(&b);
}

/* ---- small parsing helpers ---------------------------------------------------------- */

static const char *env_get(otus__getenv_fn get, const char *name)
{
    const char *v = get ? get(name) : getenv(name);
    if (!v || !*v)
        return NULL; /* empty is the same as unset */
    return v;
}

/* The per-signal OTEL_EXPORTER_OTLP_<SIGNAL>_<what> when set, else the generic
 * OTEL_EXPORTER_OTLP_<what>; name (size bytes) gets the name of the one read last. */
static const char *env_signal(otus__getenv_fn get, int sig, const char *what, char *name,
                              size_t size)
{
    snprintf(name, size, "OTEL_EXPORTER_OTLP_%s_%s", signal_env[sig], what);
    const char *v = env_get(get, name);
    if (!v) {
        snprintf(name, size, "OTEL_EXPORTER_OTLP_%s", what);
        v = env_get(get, name);
    }
    return v;
}

/* Copies v without leading and trailing spaces and tabs into out (cap bytes). */
static void trim_copy(const char *v, char *out, size_t cap)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static int ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Boolean: true only for "true" (any case); anything but "false" is warned about. */
static int env_bool(struct otus__settings *s, otus__getenv_fn get, const char *name)
{
    const char *v = env_get(get, name);
    if (!v)
        return 0;
    char t[32];
    trim_copy(v, t, sizeof(t));
    if (ieq(t, "true"))
        return 1;
    if (!ieq(t, "false"))
        otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not a boolean; using false", name, v);
    return 0;
}

/* Non-negative integer up to 2^31-1. 1 and *out set, 0 when unset or invalid. */
static int env_uint(struct otus__settings *s, otus__getenv_fn get, const char *name, int positive,
                    uint32_t *out)
{
    const char *v = env_get(get, name);
    if (!v)
        return 0;
    char t[64];
    trim_copy(v, t, sizeof(t));
    char *end = NULL;
    errno = 0;
    long long x = t[0] == '-' || t[0] == '+' ? -1 : strtoll(t, &end, 10);
    if (t[0] == '\0' || x < 0 || errno || !end || *end || x > 2147483647LL ||
        (positive && x == 0)) {
        otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not a valid %s integer; ignored", name, v,
                   positive ? "positive" : "non-negative");
        return 0;
    }
    *out = (uint32_t)x;
    return 1;
}

/* Timeout: like a duration, but 0 means no limit. */
static int env_timeout(struct otus__settings *s, otus__getenv_fn get, const char *name,
                       uint32_t *out)
{
    uint32_t v;
    if (!env_uint(s, get, name, 0, &v))
        return 0;
    *out = v ? v : 0x7fffffffu;
    return 1;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* ---- key/value lists (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS) --------- */

void otus__kvlist_free(struct otus__kv *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a malformed escape or a byte
 * outside the baggage-octet range. */
static char *pct_decode(const char *s, size_t n, int *bad)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                *bad = 1;
                break;
            }
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                *bad = 1;
                break;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
            continue;
        }
        /* baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\') {
            *bad = 1;
            break;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

static int is_token_char(unsigned char c)
{
    /* RFC 7230 tchar */
    if (isalnum(c))
        return 1;
    return strchr("!#$%&'*+-.^_`|~", c) != NULL && c != 0;
}

int otus__kvlist_parse(const char *text, struct otus__kv **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    int rc = 0;
    size_t cap = 0, n = 0;
    struct otus__kv *kv = NULL;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t mlen = comma ? (size_t)(comma - p) : strlen(p);
        const char *m = p, *mend = p + mlen;
        p = comma ? comma + 1 : p + mlen;
        while (m < mend && (*m == ' ' || *m == '\t'))
            m++;
        while (mend > m && (mend[-1] == ' ' || mend[-1] == '\t'))
            mend--;
        if (m == mend) {
            if (comma && !*p) /* trailing comma: an empty member is allowed */
                continue;
            continue;
        }
        const char *eq = memchr(m, '=', (size_t)(mend - m));
        if (!eq) {
            rc = OTUS_ERR_PARSE;
            goto out;
        }
        const char *k = m, *kend = eq;
        while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        const char *v = eq + 1;
        while (v < mend && (*v == ' ' || *v == '\t'))
            v++;
        if (k == kend) {
            rc = OTUS_ERR_PARSE;
            goto out;
        }
        for (const char *c = k; c < kend; c++) {
            if (!is_token_char((unsigned char)*c)) {
                rc = OTUS_ERR_PARSE;
                goto out;
            }
        }
        int bad = 0;
        char *value = pct_decode(v, (size_t)(mend - v), &bad);
        if (!value) {
            rc = OTUS_ERR_NOMEM;
            goto out;
        }
        if (bad) {
            free(value);
            rc = OTUS_ERR_PARSE;
            goto out;
        }
        char *key = malloc((size_t)(kend - k) + 1);
        if (!key) {
            free(value);
            rc = OTUS_ERR_NOMEM;
            goto out;
        }
        memcpy(key, k, (size_t)(kend - k));
        key[kend - k] = '\0';
        /* A key seen again replaces the earlier value. */
        size_t i = 0;
        for (; i < n; i++)
            if (strcmp(kv[i].key, key) == 0)
                break;
        if (i < n) {
            free(kv[i].value);
            free(key);
            kv[i].value = value;
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct otus__kv *g = realloc(kv, nc * sizeof(*kv));
            if (!g) {
                free(key);
                free(value);
                rc = OTUS_ERR_NOMEM;
                goto out;
            }
            kv = g;
            cap = nc;
        }
        kv[n].key = key;
        kv[n].value = value;
        n++;
    }
out:
    if (rc) {
        otus__kvlist_free(kv, n);
        return rc;
    }
    *out = kv;
    *n_out = n;
    return 0;
}

/* ---- endpoints --------------------------------------------------------------------- */

/* Length of "scheme://" when url starts with http:// or https:// and has a host. */
static size_t url_authority_start(const char *url)
{
    size_t s = 0;
    if (strncasecmp(url, "http://", 7) == 0)
        s = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        s = 8;
    else
        return 0;
    const char *h = url + s;
    if (*h == '\0' || *h == '/' || *h == ':' || *h == '?' || *h == '#')
        return 0;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return 0;
    return s;
}

char *otus__endpoint_url(const char *base, const char *per_signal, enum otus__signal sig)
{
    if (per_signal) {
        size_t a = url_authority_start(per_signal);
        if (!a)
            return NULL;
        const char *path = strchr(per_signal + a, '/');
        if (path)
            return xstrdup(per_signal);
        /* No path: the root path "/" is used (before any query). */
        size_t n = strlen(per_signal);
        const char *q = strpbrk(per_signal + a, "?#");
        size_t at = q ? (size_t)(q - per_signal) : n;
        char *u = malloc(n + 2);
        if (!u)
            return NULL;
        memcpy(u, per_signal, at);
        u[at] = '/';
        memcpy(u + at + 1, per_signal + at, n - at + 1);
        return u;
    }
    if (!base)
        return NULL;
    size_t a = url_authority_start(base);
    if (!a)
        return NULL;
    /* Ignore a query or fragment on the base; append "v1/<signal>" after a slash. */
    size_t n = strcspn(base, "?#");
    const char *rel = sig == OTUS__TRACES    ? "v1/traces"
                      : sig == OTUS__METRICS ? "v1/metrics"
                                             : "v1/logs";
    size_t rl = strlen(rel);
    int slash = n > a && base[n - 1] == '/';
    char *u = malloc(n + 1 + rl + 1);
    if (!u)
        return NULL;
    memcpy(u, base, n);
    size_t o = n;
    if (!slash)
        u[o++] = '/';
    memcpy(u + o, rel, rl + 1);
    return u;
}

/* ---- the whole configuration -------------------------------------------------------- */

static int parse_level(const char *t)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"trace", OTUS_LEVEL_TRACE},  {"debug", OTUS_LEVEL_DEBUG},
                 {"info", OTUS_LEVEL_INFO},    {"warn", OTUS_LEVEL_WARN},
                 {"warning", OTUS_LEVEL_WARN}, {"error", OTUS_LEVEL_ERROR},
                 {"fatal", OTUS_LEVEL_FATAL}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ieq(t, names[i].name))
            return names[i].level;
    return 0;
}

static void load_sampler(struct otus__settings *s, const struct otus_sdk_config *cfg,
                         otus__getenv_fn get, int use_env)
{
    s->sampler = OTUS_SAMPLER_PARENTBASED_ALWAYS_ON;
    s->ratio = 1.0;
    if (cfg && cfg->sampler != OTUS_SAMPLER_DEFAULT) {
        if (cfg->sampler < OTUS_SAMPLER_ALWAYS_ON ||
            cfg->sampler > OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO) {
            otus__diag(s, OTUS_LEVEL_WARN, "config sampler %d is unknown; ignored", cfg->sampler);
        } else {
            s->sampler = cfg->sampler;
            if (s->sampler == OTUS_SAMPLER_TRACEIDRATIO ||
                s->sampler == OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO) {
                if (cfg->sampler_ratio >= 0.0 && cfg->sampler_ratio <= 1.0)
                    s->ratio = cfg->sampler_ratio;
                else
                    otus__diag(s, OTUS_LEVEL_WARN,
                               "config sampler_ratio %g is outside [0, 1]; using 1.0",
                               cfg->sampler_ratio);
            }
            return;
        }
    }
    if (!use_env)
        return;
    const char *v = env_get(get, "OTEL_TRACES_SAMPLER");
    if (!v)
        return; /* OTEL_TRACES_SAMPLER_ARG is only used when the sampler is set */
    static const struct {
        const char *name;
        int sampler;
    } names[] = {{"always_on", OTUS_SAMPLER_ALWAYS_ON},
                 {"always_off", OTUS_SAMPLER_ALWAYS_OFF},
                 {"traceidratio", OTUS_SAMPLER_TRACEIDRATIO},
                 {"parentbased_always_on", OTUS_SAMPLER_PARENTBASED_ALWAYS_ON},
                 {"parentbased_always_off", OTUS_SAMPLER_PARENTBASED_ALWAYS_OFF},
                 {"parentbased_traceidratio", OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO}};
    char t[64];
    trim_copy(v, t, sizeof(t));
    int found = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(t, names[i].name) == 0) {
            s->sampler = names[i].sampler;
            found = 1;
        }
    }
    if (!found) {
        if (!strcmp(t, "jaeger_remote") || !strcmp(t, "parentbased_jaeger_remote") ||
            !strcmp(t, "xray"))
            otus__diag(s, OTUS_LEVEL_WARN, "OTEL_TRACES_SAMPLER='%s' is not supported; ignored", v);
        else
            otus__diag(s, OTUS_LEVEL_WARN, "OTEL_TRACES_SAMPLER='%s' is unknown; ignored", v);
        return;
    }
    if (s->sampler != OTUS_SAMPLER_TRACEIDRATIO &&
        s->sampler != OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO)
        return;
    const char *arg = env_get(get, "OTEL_TRACES_SAMPLER_ARG");
    if (!arg)
        return;
    trim_copy(arg, t, sizeof(t));
    char *end = NULL;
    errno = 0;
    double r = strtod(t, &end);
    if (t[0] == '\0' || errno || !end || *end || !(r >= 0.0 && r <= 1.0))
        otus__diag(s, OTUS_LEVEL_WARN,
                   "OTEL_TRACES_SAMPLER_ARG='%s' is not a probability in [0, 1]; using 1.0", arg);
    else
        s->ratio = r;
}

static void load_propagators(struct otus__settings *s, const struct otus_sdk_config *cfg,
                             otus__getenv_fn get, int use_env)
{
    s->propagators = OTUS_PROPAGATOR_TRACECONTEXT | OTUS_PROPAGATOR_BAGGAGE;
    if (cfg && cfg->propagators) {
        s->propagators =
            cfg->propagators & OTUS_PROPAGATOR_NONE
                ? 0
                : cfg->propagators & (OTUS_PROPAGATOR_TRACECONTEXT | OTUS_PROPAGATOR_BAGGAGE);
        return;
    }
    const char *v = use_env ? env_get(get, "OTEL_PROPAGATORS") : NULL;
    if (!v)
        return;
    uint32_t bits = 0;
    int none = 0, any = 0;
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ",");
        char t[64];
        size_t k = n < sizeof(t) - 1 ? n : sizeof(t) - 1;
        char raw[64];
        memcpy(raw, p, k);
        raw[k] = '\0';
        trim_copy(raw, t, sizeof(t));
        p += n;
        if (*p == ',')
            p++;
        if (!t[0])
            continue;
        if (!strcmp(t, "tracecontext")) {
            bits |= OTUS_PROPAGATOR_TRACECONTEXT;
            any = 1;
        } else if (!strcmp(t, "baggage")) {
            bits |= OTUS_PROPAGATOR_BAGGAGE;
            any = 1;
        } else if (!strcmp(t, "none")) {
            none = 1;
        } else if (!strcmp(t, "b3") || !strcmp(t, "b3multi") || !strcmp(t, "jaeger") ||
                   !strcmp(t, "xray") || !strcmp(t, "ottrace")) {
            otus__diag(s, OTUS_LEVEL_WARN, "OTEL_PROPAGATORS: '%s' is not supported; ignored", t);
        } else {
            otus__diag(s, OTUS_LEVEL_WARN, "OTEL_PROPAGATORS: '%s' is unknown; ignored", t);
        }
    }
    if (none && any)
        otus__diag(s, OTUS_LEVEL_WARN, "OTEL_PROPAGATORS: 'none' listed with others; ignored");
    if (any)
        s->propagators = bits;
    else if (none)
        s->propagators = 0;
}

static void load_exporters(struct otus__settings *s, const struct otus_sdk_config *cfg,
                           otus__getenv_fn get, int use_env)
{
    static const char *const env_names[OTUS__NSIGNALS] = {
        "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"};
    static const uint32_t off_flags[OTUS__NSIGNALS] = {
        OTUS_SDK_NO_TRACE_EXPORT, OTUS_SDK_NO_METRIC_EXPORT, OTUS_SDK_NO_LOG_EXPORT};
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        s->export_enabled[sig] = 1;
        if (cfg && (cfg->flags & off_flags[sig])) {
            s->export_enabled[sig] = 0;
            continue;
        }
        const char *v = use_env ? env_get(get, env_names[sig]) : NULL;
        if (!v)
            continue;
        int otlp = 0, none = 0;
        const char *p = v;
        while (*p) {
            size_t n = strcspn(p, ",");
            char raw[64], t[64];
            size_t k = n < sizeof(raw) - 1 ? n : sizeof(raw) - 1;
            memcpy(raw, p, k);
            raw[k] = '\0';
            trim_copy(raw, t, sizeof(t));
            p += n;
            if (*p == ',')
                p++;
            if (!t[0])
                continue;
            if (!strcmp(t, "otlp"))
                otlp = 1;
            else if (!strcmp(t, "none"))
                none = 1;
            else
                otus__diag(s, OTUS_LEVEL_WARN, "%s: exporter '%s' is not supported; ignored",
                           env_names[sig], t);
        }
        if (!otlp && none)
            s->export_enabled[sig] = 0;
    }
}

static void load_endpoints(struct otus__settings *s, const struct otus_sdk_config *cfg,
                           otus__getenv_fn get, int use_env)
{
    const char *cfg_sig[OTUS__NSIGNALS] = {cfg ? cfg->traces_endpoint : NULL,
                                           cfg ? cfg->metrics_endpoint : NULL,
                                           cfg ? cfg->logs_endpoint : NULL};
    const char *base = cfg && cfg->endpoint ? cfg->endpoint : NULL;
    if (base && !url_authority_start(base)) {
        otus__diag(s, OTUS_LEVEL_WARN, "config endpoint '%s' is not an http(s) URL; ignored", base);
        base = NULL;
    }
    if (!base && use_env) {
        base = env_get(get, "OTEL_EXPORTER_OTLP_ENDPOINT");
        if (base && !url_authority_start(base)) {
            otus__diag(s, OTUS_LEVEL_WARN,
                       "OTEL_EXPORTER_OTLP_ENDPOINT='%s' is not an http(s) URL; ignored", base);
            base = NULL;
        }
    }
    if (!base)
        base = "http://localhost:4318";
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        const char *per = cfg_sig[sig];
        char name[64];
        if (per && !url_authority_start(per)) {
            otus__diag(s, OTUS_LEVEL_WARN, "config %s endpoint '%s' is not an http(s) URL; ignored",
                       signal_name[sig], per);
            per = NULL;
        }
        if (!per && use_env) {
            snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s_ENDPOINT", signal_env[sig]);
            per = env_get(get, name);
            if (per && !url_authority_start(per)) {
                otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not an http(s) URL; ignored", name, per);
                per = NULL;
            }
        }
        s->url[sig] = otus__endpoint_url(base, per, (enum otus__signal)sig);
    }
}

static void load_transport(struct otus__settings *s, const struct otus_sdk_config *cfg,
                           otus__getenv_fn get, int use_env)
{
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        char name[64];
        /* Headers: config, else the per-signal variable, else the generic one. */
        const char *h = cfg && cfg->headers ? cfg->headers : NULL;
        const char *src = "config headers";
        if (!h && use_env) {
            h = env_signal(get, sig, "HEADERS", name, sizeof(name));
            src = name;
        }
        if (h) {
            int rc = otus__kvlist_parse(h, &s->headers[sig], &s->n_headers[sig]);
            if (rc == OTUS_ERR_PARSE)
                otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not a valid key=value list; ignored",
                           src, h);
        }

        /* Compression. */
        s->gzip[sig] = 1;
        if (cfg && cfg->compression == OTUS_COMPRESSION_GZIP) {
            s->gzip[sig] = 1;
        } else if (cfg && cfg->compression == OTUS_COMPRESSION_NONE) {
            s->gzip[sig] = 0;
        } else if (use_env) {
            const char *c = env_signal(get, sig, "COMPRESSION", name, sizeof(name));
            if (c) {
                char t[32];
                trim_copy(c, t, sizeof(t));
                if (!strcmp(t, "gzip"))
                    s->gzip[sig] = 1;
                else if (!strcmp(t, "none"))
                    s->gzip[sig] = 0;
                else
                    otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not gzip or none; ignored", name, c);
            }
        }

        /* Timeout. */
        s->timeout_ms[sig] = 10000;
        if (cfg && cfg->export_timeout_ms) {
            s->timeout_ms[sig] = cfg->export_timeout_ms;
        } else if (use_env) {
            snprintf(name, sizeof(name), "OTEL_EXPORTER_OTLP_%s_TIMEOUT", signal_env[sig]);
            if (!env_timeout(s, get, name, &s->timeout_ms[sig]))
                env_timeout(s, get, "OTEL_EXPORTER_OTLP_TIMEOUT", &s->timeout_ms[sig]);
        }

        /* Protocol: only http/protobuf is spoken. */
        if (use_env) {
            const char *p = env_signal(get, sig, "PROTOCOL", name, sizeof(name));
            if (p) {
                char t[32];
                trim_copy(p, t, sizeof(t));
                if (!strcmp(t, "grpc") || !strcmp(t, "http/json"))
                    otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is not supported; using http/protobuf",
                               name, p);
                else if (strcmp(t, "http/protobuf") != 0)
                    otus__diag(s, OTUS_LEVEL_WARN, "%s='%s' is unknown; using http/protobuf", name,
                               p);
            }
        }
    }
}

static void load_resource(struct otus__settings *s, const struct otus_sdk_config *cfg,
                          otus__getenv_fn get, int use_env)
{
    struct otus__kv *env_kv = NULL, *cfg_kv = NULL;
    size_t env_n = 0, cfg_n = 0;
    const char *v = use_env ? env_get(get, "OTEL_RESOURCE_ATTRIBUTES") : NULL;
    if (v && otus__kvlist_parse(v, &env_kv, &env_n) == OTUS_ERR_PARSE)
        otus__diag(s, OTUS_LEVEL_WARN,
                   "OTEL_RESOURCE_ATTRIBUTES='%s' is not a valid key=value list; ignored", v);
    if (cfg && cfg->resource_attributes &&
        otus__kvlist_parse(cfg->resource_attributes, &cfg_kv, &cfg_n) == OTUS_ERR_PARSE)
        otus__diag(s, OTUS_LEVEL_WARN, "config resource_attributes '%s' is invalid; ignored",
                   cfg->resource_attributes);

    /* service.name: config, OTEL_SERVICE_NAME, the config's resource, the environment's
     * resource, else unknown_service:<executable>. */
    const char *name = cfg && cfg->service_name && cfg->service_name[0] ? cfg->service_name : NULL;
    if (!name && use_env)
        name = env_get(get, "OTEL_SERVICE_NAME");
    for (size_t i = 0; !name && i < cfg_n; i++)
        if (!strcmp(cfg_kv[i].key, "service.name"))
            name = cfg_kv[i].value;
    for (size_t i = 0; !name && i < env_n; i++)
        if (!strcmp(env_kv[i].key, "service.name"))
            name = env_kv[i].value;
    char fallback[300];
    if (!name) {
        extern char *program_invocation_short_name;
        if (program_invocation_short_name && program_invocation_short_name[0])
            snprintf(fallback, sizeof(fallback), "unknown_service:%s",
                     program_invocation_short_name);
        else
            snprintf(fallback, sizeof(fallback), "unknown_service");
        name = fallback;
    }
    s->service_name = xstrdup(name);

    /* Merge: the config's attributes win over the environment's. */
    size_t total = env_n + cfg_n + 1;
    s->resource = calloc(total, sizeof(*s->resource));
    if (!s->resource)
        goto out;
    size_t n = 0;
    struct otus__kv *lists[2] = {cfg_kv, env_kv};
    size_t counts[2] = {cfg_n, env_n};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            if (!strcmp(lists[l][i].key, "service.name"))
                continue;
            size_t j = 0;
            for (; j < n; j++)
                if (!strcmp(s->resource[j].key, lists[l][i].key))
                    break;
            if (j < n)
                continue;
            s->resource[n].key = lists[l][i].key;
            s->resource[n].value = lists[l][i].value;
            lists[l][i].key = NULL;
            lists[l][i].value = NULL;
            n++;
        }
    }
    if (cfg && cfg->service_version && cfg->service_version[0]) {
        size_t j = 0;
        for (; j < n; j++)
            if (!strcmp(s->resource[j].key, "service.version"))
                break;
        if (j == n) {
            s->resource[n].key = xstrdup("service.version");
            s->resource[n].value = xstrdup(cfg->service_version);
            n++;
        }
    }
    s->n_resource = n;
out:
    otus__kvlist_free(env_kv, env_n);
    otus__kvlist_free(cfg_kv, cfg_n);
}

static void load_processor(struct otus__settings *s, otus__getenv_fn get, int use_env,
                           const char *prefix, uint32_t cfg_queue, uint32_t cfg_batch,
                           uint32_t cfg_delay, uint32_t *queue, uint32_t *batch, uint32_t *delay,
                           uint32_t *timeout)
{
    char name[64];
    if (cfg_queue)
        *queue = cfg_queue;
    else if (use_env) {
        snprintf(name, sizeof(name), "%s_MAX_QUEUE_SIZE", prefix);
        env_uint(s, get, name, 1, queue);
    }
    if (cfg_delay)
        *delay = cfg_delay;
    else if (use_env) {
        snprintf(name, sizeof(name), "%s_SCHEDULE_DELAY", prefix);
        env_uint(s, get, name, 0, delay);
    }
    if (use_env) {
        snprintf(name, sizeof(name), "%s_EXPORT_TIMEOUT", prefix);
        env_timeout(s, get, name, timeout);
    }
    uint32_t b = *batch;
    if (cfg_batch)
        b = cfg_batch;
    else if (use_env) {
        snprintf(name, sizeof(name), "%s_MAX_EXPORT_BATCH_SIZE", prefix);
        uint32_t v;
        if (env_uint(s, get, name, 1, &v)) {
            if (v > *queue)
                otus__diag(s, OTUS_LEVEL_WARN, "%s=%u is larger than the queue size %u; ignored",
                           name, v, *queue);
            else
                b = v;
        }
    }
    *batch = b > *queue ? *queue : b;
}

int otus__settings_load(struct otus__settings *s, const struct otus_sdk_config *cfg,
                        otus__getenv_fn get)
{
    memset(s, 0, sizeof(*s));
    struct otus_sdk_config zero;
    if (cfg && cfg->size < sizeof(struct otus_sdk_config)) {
        /* An older caller's smaller struct: read what it has, zero the rest. */
        otus_sdk_config_init(&zero);
        memcpy(&zero, cfg, cfg->size > sizeof(zero) ? sizeof(zero) : cfg->size);
        zero.size = sizeof(zero);
        cfg = &zero;
    }
    int use_env = !(cfg && (cfg->flags & OTUS_SDK_IGNORE_ENV));
    s->diag = cfg ? cfg->diag : NULL;
    s->diag_arg = cfg ? cfg->diag_arg : NULL;
    s->diag_level = OTUS_LEVEL_INFO;
    if (use_env) {
        const char *v = env_get(get, "OTEL_LOG_LEVEL");
        if (v) {
            char t[32];
            trim_copy(v, t, sizeof(t));
            int l = parse_level(t);
            if (l)
                s->diag_level = l;
            else if (ieq(t, "none") || ieq(t, "off"))
                s->diag_level = 100;
            else
                otus__diag(s, OTUS_LEVEL_WARN, "OTEL_LOG_LEVEL='%s' is unknown; ignored", v);
        }
    }

    s->disabled = cfg && (cfg->flags & OTUS_SDK_DISABLED);
    if (!s->disabled && use_env)
        s->disabled = env_bool(s, get, "OTEL_SDK_DISABLED");

    load_resource(s, cfg, get, use_env);
    load_endpoints(s, cfg, get, use_env);
    load_transport(s, cfg, get, use_env);
    load_exporters(s, cfg, get, use_env);
    load_propagators(s, cfg, get, use_env);
    load_sampler(s, cfg, get, use_env);

    s->metric_interval_ms = 60000;
    s->metric_timeout_ms = 30000;
    if (cfg && cfg->metric_export_interval_ms)
        s->metric_interval_ms = cfg->metric_export_interval_ms;
    else if (use_env)
        env_uint(s, get, "OTEL_METRIC_EXPORT_INTERVAL", 1, &s->metric_interval_ms);
    if (use_env)
        env_timeout(s, get, "OTEL_METRIC_EXPORT_TIMEOUT", &s->metric_timeout_ms);
    s->max_series = cfg && cfg->max_series ? cfg->max_series : 2000;

    s->exemplar_filter = OTUS__EXEMPLAR_TRACE_BASED;
    if (use_env) {
        const char *v = env_get(get, "OTEL_METRICS_EXEMPLAR_FILTER");
        if (v) {
            char t[32];
            trim_copy(v, t, sizeof(t));
            if (!strcmp(t, "trace_based"))
                s->exemplar_filter = OTUS__EXEMPLAR_TRACE_BASED;
            else if (!strcmp(t, "always_on"))
                s->exemplar_filter = OTUS__EXEMPLAR_ALWAYS_ON;
            else if (!strcmp(t, "always_off"))
                s->exemplar_filter = OTUS__EXEMPLAR_ALWAYS_OFF;
            else
                otus__diag(s, OTUS_LEVEL_WARN,
                           "OTEL_METRICS_EXEMPLAR_FILTER='%s' is unknown; ignored", v);
        }
    }

    s->span_queue = 2048;
    s->span_batch = 512;
    s->span_delay_ms = 5000;
    s->span_timeout_ms = 30000;
    load_processor(s, get, use_env, "OTEL_BSP", cfg ? cfg->span_queue_size : 0,
                   cfg ? cfg->span_batch_size : 0, cfg ? cfg->span_schedule_delay_ms : 0,
                   &s->span_queue, &s->span_batch, &s->span_delay_ms, &s->span_timeout_ms);
    s->log_queue = 2048;
    s->log_batch = 512;
    s->log_delay_ms = 1000;
    s->log_timeout_ms = 30000;
    load_processor(s, get, use_env, "OTEL_BLRP", cfg ? cfg->log_queue_size : 0,
                   cfg ? cfg->log_batch_size : 0, cfg ? cfg->log_schedule_delay_ms : 0,
                   &s->log_queue, &s->log_batch, &s->log_delay_ms, &s->log_timeout_ms);

    /* Limits: the general attribute limits are the defaults of the specific ones. */
    uint32_t attr_count = 128, value_len = UINT32_MAX;
    if (use_env) {
        env_uint(s, get, "OTEL_ATTRIBUTE_COUNT_LIMIT", 0, &attr_count);
        env_uint(s, get, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, &value_len);
    }
    s->span_attr_limit = attr_count;
    s->span_value_limit = value_len;
    s->log_attr_limit = attr_count;
    s->log_value_limit = value_len;
    s->span_event_limit = 128;
    s->span_link_limit = 128;
    s->event_attr_limit = 128;
    s->link_attr_limit = 128;
    if (use_env) {
        env_uint(s, get, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 0, &s->span_attr_limit);
        env_uint(s, get, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, &s->span_value_limit);
        env_uint(s, get, "OTEL_SPAN_EVENT_COUNT_LIMIT", 0, &s->span_event_limit);
        env_uint(s, get, "OTEL_SPAN_LINK_COUNT_LIMIT", 0, &s->span_link_limit);
        env_uint(s, get, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", 0, &s->event_attr_limit);
        env_uint(s, get, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", 0, &s->link_attr_limit);
        env_uint(s, get, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", 0, &s->log_attr_limit);
        env_uint(s, get, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, &s->log_value_limit);
    }
    /* Record counters are 16 bits wide. */
    if (s->span_attr_limit > 65535)
        s->span_attr_limit = 65535;
    if (s->span_event_limit > 65535)
        s->span_event_limit = 65535;
    if (s->span_link_limit > 65535)
        s->span_link_limit = 65535;

    /* The JSON log sink. */
    s->log_output = OTUS_LOG_OUTPUT_STDERR;
    s->log_level = OTUS_LEVEL_INFO;
    if (cfg && cfg->log_output) {
        s->log_output = cfg->log_output;
        if (s->log_output == OTUS_LOG_OUTPUT_FILE) {
            if (cfg->log_path && cfg->log_path[0]) {
                s->log_path = xstrdup(cfg->log_path);
            } else {
                otus__diag(s, OTUS_LEVEL_WARN,
                           "config log_output FILE without log_path; using stderr");
                s->log_output = OTUS_LOG_OUTPUT_STDERR;
            }
        } else if (s->log_output < OTUS_LOG_OUTPUT_STDERR || s->log_output > OTUS_LOG_OUTPUT_NONE) {
            otus__diag(s, OTUS_LEVEL_WARN, "config log_output %d is unknown; using stderr",
                       cfg->log_output);
            s->log_output = OTUS_LOG_OUTPUT_STDERR;
        }
    } else if (use_env) {
        const char *v = env_get(get, "OTUS_LOG_OUTPUT");
        if (v) {
            char t[4096];
            trim_copy(v, t, sizeof(t));
            if (!strcmp(t, "stderr"))
                s->log_output = OTUS_LOG_OUTPUT_STDERR;
            else if (!strcmp(t, "stdout"))
                s->log_output = OTUS_LOG_OUTPUT_STDOUT;
            else if (!strcmp(t, "none"))
                s->log_output = OTUS_LOG_OUTPUT_NONE;
            else if (t[0]) {
                s->log_output = OTUS_LOG_OUTPUT_FILE;
                s->log_path = xstrdup(strncmp(t, "file:", 5) == 0 ? t + 5 : t);
            }
        }
    }
    if (cfg && cfg->log_level) {
        if (parse_level(otus__level_name(cfg->log_level)) && cfg->log_level >= OTUS_LEVEL_TRACE &&
            cfg->log_level <= OTUS_LEVEL_FATAL + 3)
            s->log_level = cfg->log_level;
        else
            otus__diag(s, OTUS_LEVEL_WARN, "config log_level %d is unknown; ignored",
                       cfg->log_level);
    } else if (use_env) {
        const char *v = env_get(get, "OTUS_LOG_LEVEL");
        if (v) {
            char t[32];
            trim_copy(v, t, sizeof(t));
            int l = parse_level(t);
            if (l)
                s->log_level = l;
            else
                otus__diag(s, OTUS_LEVEL_WARN, "OTUS_LOG_LEVEL='%s' is unknown; ignored", v);
        }
    }

    if (!s->service_name || !s->resource)
        return OTUS_ERR_NOMEM;
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++)
        if (!s->url[sig])
            return OTUS_ERR_NOMEM;
    return 0;
}

void otus__settings_free(struct otus__settings *s)
{
    if (!s)
        return;
    free(s->service_name);
    otus__kvlist_free(s->resource, s->n_resource);
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        free(s->url[sig]);
        otus__kvlist_free(s->headers[sig], s->n_headers[sig]);
    }
    free(s->log_path);
    memset(s, 0, sizeof(*s));
}
