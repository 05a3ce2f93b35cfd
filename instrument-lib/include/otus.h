/*
 * otus.h: the one public header of libotus, the Otus instrumentation library.
 *
 * Services link libotus to record structured logs, metrics and trace spans and to
 * ship them over OTLP/HTTP to otus-agent (or any OpenTelemetry collector). This
 * header is C11 and usable from C++. Every name it declares starts with otus_ or
 * OTUS_; nothing else is exported from libotus.so.
 *
 * Errors: functions that can fail return 0 (OTUS_OK) or a negative enum otus_status
 * value. The values are stable: new ones are only ever appended.
 *
 * Threads: every function may be called from any thread unless its documentation
 * says otherwise. The record paths (counter add, histogram record, gauge set, span
 * start/end and their mutators, log calls) take no lock, make no system call and do
 * not allocate once a thread has warmed up; they are async-signal-safe on Linux. The
 * first record a thread makes maps that thread's metric cells (one mmap) and seeds its
 * ID generator (one getrandom); both are system calls that are async-signal-safe too.
 * Formatting and encoding happen on the library's one background thread.
 *
 * Lifetime: instruments and bound series stay valid until the process exits, even
 * after otus_shutdown() (recording into them is then a no-op). A struct otus_span is
 * storage the caller owns; see otus_span_start().
 */
#ifndef OTUS_H
#define OTUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define OTUS_API __attribute__((visibility("default")))
#else
#define OTUS_API
#endif

#define OTUS_VERSION_MAJOR  0
#define OTUS_VERSION_MINOR  1
#define OTUS_VERSION_PATCH  0
#define OTUS_VERSION_STRING "0.1.0"

/*
 * Status codes shared by libotus and otus-agent. 0 is success; failures are
 * negative. otus_status_is_retryable() tells the transient ones (worth retrying
 * later: the peer is busy or away) from the permanent ones (retrying the same
 * input gives the same failure).
 */
enum otus_status {
    OTUS_OK = 0,
    OTUS_ERR_NOMEM = -1,        /* an allocation failed */
    OTUS_ERR_INVALID = -2,      /* an argument or value is not acceptable */
    OTUS_ERR_TOO_BIG = -3,      /* input or output over a configured limit */
    OTUS_ERR_PARSE = -4,        /* malformed input (protobuf, JSON, YAML, HTTP) */
    OTUS_ERR_IO = -5,           /* a read, write or other system call failed */
    OTUS_ERR_FULL = -6,         /* a bounded queue or buffer is full (transient) */
    OTUS_ERR_TIMEOUT = -7,      /* a deadline passed (transient) */
    OTUS_ERR_CONNECT = -8,      /* the peer could not be reached (transient) */
    OTUS_ERR_HTTP_RETRY = -9,   /* the peer answered 429 or 5xx (transient) */
    OTUS_ERR_HTTP_REJECT = -10, /* the peer refused the request (4xx, permanent) */
    OTUS_ERR_CONFIG = -11,      /* a configuration is invalid */
    OTUS_ERR_STATE = -12,       /* the object is not in a state that allows the call */
    OTUS_ERR_UNSUPPORTED = -13, /* the request names something this build lacks */
    OTUS_ERR_NOT_FOUND = -14,   /* a named thing does not exist */
    OTUS_ERR_DISABLED = -15,    /* the SDK is disabled (OTEL_SDK_DISABLED) */
    OTUS_ERR_CANCELED = -16,    /* the operation was cancelled by a shutdown */
};

/* A short English description of a status code; never NULL, static storage. */
OTUS_API const char *otus_strerror(int status);

/* Non-zero when a failure with this status may succeed if tried again later. */
OTUS_API int otus_status_is_retryable(int status);

/* The library's version, "MAJOR.MINOR.PATCH"; static storage. */
OTUS_API const char *otus_version(void);

/* ===================================================================================
 * Attributes
 *
 * Metric series, spans, span events and links, and log records all take attributes
 * as an array of struct otus_attr. The array and everything it points to is borrowed
 * for the duration of the call only: the library copies what it keeps. Build entries
 * with the otus_attr_*() helpers below, which work in C and C++.
 *
 * Lengths the compiler knows are not measured again: when the value given to
 * otus_attr_str is a string literal, the helper stores its length in len (as
 * otus_attr_strn would), so the record paths copy it without a strlen(). This happens
 * with GCC when optimizing (it folds strlen() of a literal after inlining the helper);
 * elsewhere the helper stores OTUS_NTS and the library measures the value. An entry
 * built by otus_attr_str whose v.s is changed afterwards needs len set again.
 * =================================================================================== */

/* Attribute value types: every type an OTLP AnyValue can hold. */
enum otus_type {
    OTUS_TYPE_STRING = 1,   /* v.s, len bytes (OTUS_NTS: NUL-terminated) */
    OTUS_TYPE_BOOL,         /* v.b, 0 or 1 */
    OTUS_TYPE_INT,          /* v.i */
    OTUS_TYPE_DOUBLE,       /* v.d */
    OTUS_TYPE_BYTES,        /* v.bytes, len bytes */
    OTUS_TYPE_STRING_ARRAY, /* v.strings, len NUL-terminated strings */
    OTUS_TYPE_BOOL_ARRAY,   /* v.bools, len values (0 or 1) */
    OTUS_TYPE_INT_ARRAY,    /* v.ints, len values */
    OTUS_TYPE_DOUBLE_ARRAY, /* v.doubles, len values */
    OTUS_TYPE_ARRAY,        /* v.list, len values of any type; their keys are ignored */
    OTUS_TYPE_KVLIST,       /* v.list, len key/value pairs (a nested map) */
};

/* len value meaning "v.s is NUL-terminated". */
#define OTUS_NTS 0xffffffffu

struct otus_attr {
    const char *key; /* NUL-terminated; borrowed */
    uint32_t type;   /* enum otus_type */
    uint32_t len;    /* bytes for strings and bytes, element count for arrays and lists */
    union {
        const char *s;
        int64_t i;
        double d;
        int b;
        const void *bytes;
        const char *const *strings;
        const int *bools;
        const int64_t *ints;
        const double *doubles;
        const struct otus_attr *list;
    } v;
};

/* strlen(s) when the compiler can compute it while compiling (s is a string literal and
 * the call is inlined), else unknown. Not for direct use. */
static inline size_t otus__const_strlen(const char *s, size_t unknown)
{
    if (!s)
        return unknown;
#if defined(__GNUC__)
    if (__builtin_constant_p(__builtin_strlen(s)))
        return __builtin_strlen(s);
#endif
    return unknown;
}

static inline struct otus_attr otus_attr_str(const char *key, const char *value)
{
    struct otus_attr a;
    size_t n = otus__const_strlen(value, OTUS_NTS);
    a.key = key;
    a.type = OTUS_TYPE_STRING;
    a.len = n < OTUS_NTS ? (uint32_t)n : OTUS_NTS;
    a.v.s = value;
    return a;
}

/* A string of exactly len bytes (need not be NUL-terminated). */
static inline struct otus_attr otus_attr_strn(const char *key, const char *value, size_t len)
{
    struct otus_attr a;
    a.key = key;
    a.type = OTUS_TYPE_STRING;
    a.len = len >= OTUS_NTS ? OTUS_NTS - 1 : (uint32_t)len;
    a.v.s = value;
    return a;
}

static inline struct otus_attr otus_attr_int(const char *key, int64_t value)
{
    struct otus_attr a;
    a.key = key;
    a.type = OTUS_TYPE_INT;
    a.len = 0;
    a.v.i = value;
    return a;
}

static inline struct otus_attr otus_attr_double(const char *key, double value)
{
    struct otus_attr a;
    a.key = key;
    a.type = OTUS_TYPE_DOUBLE;
    a.len = 0;
    a.v.d = value;
    return a;
}

static inline struct otus_attr otus_attr_bool(const char *key, int value)
{
    struct otus_attr a;
    a.key = key;
    a.type = OTUS_TYPE_BOOL;
    a.len = 0;
    a.v.b = value != 0;
    return a;
}

static inline struct otus_attr otus_attr_bytes(const char *key, const void *value, size_t len)
{
    struct otus_attr a;
    a.key = key;
    a.type = OTUS_TYPE_BYTES;
    a.len = len >= OTUS_NTS ? OTUS_NTS - 1 : (uint32_t)len;
    a.v.bytes = value;
    return a;
}

/* An array or nested list: type is one of the *_ARRAY types, OTUS_TYPE_ARRAY or
 * OTUS_TYPE_KVLIST, items points to n elements of the matching C type. */
static inline struct otus_attr otus_attr_array(const char *key, enum otus_type type,
                                               const void *items, size_t n)
{
    struct otus_attr a;
    a.key = key;
    a.type = (uint32_t)type;
    a.len = n >= OTUS_NTS ? OTUS_NTS - 1 : (uint32_t)n;
    a.v.bytes = items;
    return a;
}

/* ===================================================================================
 * Set-up and tear-down
 * =================================================================================== */

/* Samplers (OTEL_TRACES_SAMPLER). */
enum otus_sampler {
    OTUS_SAMPLER_DEFAULT = 0,            /* the environment's choice, else parentbased_always_on */
    OTUS_SAMPLER_ALWAYS_ON,              /* "always_on" */
    OTUS_SAMPLER_ALWAYS_OFF,             /* "always_off" */
    OTUS_SAMPLER_TRACEIDRATIO,           /* "traceidratio", sampler_ratio */
    OTUS_SAMPLER_PARENTBASED_ALWAYS_ON,  /* "parentbased_always_on" */
    OTUS_SAMPLER_PARENTBASED_ALWAYS_OFF, /* "parentbased_always_off" */
    OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO, /* "parentbased_traceidratio", sampler_ratio */
};

/* Where JSON log lines go (OTUS_LOG_OUTPUT). */
enum otus_log_output {
    OTUS_LOG_OUTPUT_DEFAULT = 0, /* the environment's choice, else stderr */
    OTUS_LOG_OUTPUT_STDERR,
    OTUS_LOG_OUTPUT_STDOUT,
    OTUS_LOG_OUTPUT_FILE, /* log_path, opened for appending */
    OTUS_LOG_OUTPUT_NONE,
};

/* Log severities; the numbers are OpenTelemetry's SeverityNumber. */
enum otus_level {
    OTUS_LEVEL_TRACE = 1,
    OTUS_LEVEL_DEBUG = 5,
    OTUS_LEVEL_INFO = 9,
    OTUS_LEVEL_WARN = 13,
    OTUS_LEVEL_ERROR = 17,
    OTUS_LEVEL_FATAL = 21,
};

/* Propagators (OTEL_PROPAGATORS), as bits. */
#define OTUS_PROPAGATOR_TRACECONTEXT 0x1u
#define OTUS_PROPAGATOR_BAGGAGE      0x2u
#define OTUS_PROPAGATOR_NONE         0x80u /* explicitly none (0 means "default") */

/* Compression of OTLP request bodies (OTEL_EXPORTER_OTLP_COMPRESSION). */
#define OTUS_COMPRESSION_DEFAULT 0 /* the environment's choice, else gzip */
#define OTUS_COMPRESSION_GZIP    1
#define OTUS_COMPRESSION_NONE    2

/* struct otus_sdk_config flags. */
#define OTUS_SDK_IGNORE_ENV       0x1u  /* read no OTEL_* or OTUS_* environment variable */
#define OTUS_SDK_DISABLED         0x2u  /* as OTEL_SDK_DISABLED=true */
#define OTUS_SDK_NO_TRACE_EXPORT  0x4u  /* as OTEL_TRACES_EXPORTER=none */
#define OTUS_SDK_NO_METRIC_EXPORT 0x8u  /* as OTEL_METRICS_EXPORTER=none */
#define OTUS_SDK_NO_LOG_EXPORT    0x10u /* as OTEL_LOGS_EXPORTER=none (the JSON sink stays) */

/* Receives the library's own diagnostics (invalid settings, export failures).
 * level is an enum otus_level; message is valid during the call only. Called from
 * otus_init()'s thread or from the background thread, never from a record path. */
typedef void (*otus_diag_fn)(void *arg, int level, const char *message);

/*
 * Configuration. Initialise with otus_sdk_config_init() and set what you need: a zero
 * field means "not set here", and then the matching environment variable applies
 * (unless OTUS_SDK_IGNORE_ENV), else the OpenTelemetry default. A field set here
 * takes precedence over the environment. All pointers are borrowed for the duration
 * of otus_init() only.
 */
struct otus_sdk_config {
    uint32_t size;  /* sizeof(struct otus_sdk_config), set by otus_sdk_config_init() */
    uint32_t flags; /* OTUS_SDK_* */
    /* Resource: service.name (OTEL_SERVICE_NAME), service.version, and more attributes
     * as "k=v,k2=v2" with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES). */
    const char *service_name;
    const char *service_version;
    const char *resource_attributes;
    /* Where to send: a base URL that gets "v1/<signal>" appended
     * (OTEL_EXPORTER_OTLP_ENDPOINT), or per-signal URLs used as given
     * (OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT). Default http://localhost:4318. */
    const char *endpoint;
    const char *traces_endpoint;
    const char *metrics_endpoint;
    const char *logs_endpoint;
    const char *headers;        /* "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS) */
    int compression;            /* OTUS_COMPRESSION_* (OTEL_EXPORTER_OTLP_COMPRESSION) */
    uint32_t export_timeout_ms; /* per request (OTEL_EXPORTER_OTLP_TIMEOUT), default 10000 */
    int sampler;                /* enum otus_sampler (OTEL_TRACES_SAMPLER) */
    double sampler_ratio;       /* for the ratio samplers, [0, 1]; read when sampler is one */
    uint32_t propagators;       /* OTUS_PROPAGATOR_* bits (OTEL_PROPAGATORS) */
    uint32_t metric_export_interval_ms; /* OTEL_METRIC_EXPORT_INTERVAL, default 60000 */
    uint32_t max_series;      /* series per instrument before the overflow series, default 2000 */
    uint32_t span_queue_size; /* OTEL_BSP_MAX_QUEUE_SIZE, default 2048 */
    uint32_t span_batch_size; /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512 */
    uint32_t span_schedule_delay_ms; /* OTEL_BSP_SCHEDULE_DELAY, default 5000 */
    uint32_t log_queue_size;         /* OTEL_BLRP_MAX_QUEUE_SIZE, default 2048 */
    uint32_t log_batch_size;         /* OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, default 512 */
    uint32_t log_schedule_delay_ms;  /* OTEL_BLRP_SCHEDULE_DELAY, default 1000 */
    int log_output;                  /* enum otus_log_output (OTUS_LOG_OUTPUT) */
    const char *log_path;            /* for OTUS_LOG_OUTPUT_FILE */
    int log_level;     /* lowest enum otus_level written (OTUS_LOG_LEVEL), default INFO */
    otus_diag_fn diag; /* NULL: diagnostics go to stderr as JSON lines */
    void *diag_arg;
};

/* Zeroes cfg and sets its size. */
static inline void otus_sdk_config_init(struct otus_sdk_config *cfg)
{
    unsigned char *p = (unsigned char *)cfg;
    for (size_t i = 0; i < sizeof(*cfg); i++)
        p[i] = 0;
    cfg->size = (uint32_t)sizeof(*cfg);
}

/*
 * Starts the library: reads cfg (borrowed; NULL means environment and defaults),
 * builds the resource, and starts the background thread that batches and exports.
 * Invalid settings are reported through the diagnostic callback and ignored, as the
 * OpenTelemetry environment specification requires; they never fail the call.
 *
 * Returns 0; OTUS_ERR_DISABLED when the SDK is disabled (OTEL_SDK_DISABLED=true or
 * OTUS_SDK_DISABLED): that is not a failure: spans are non-recording (they still
 * propagate their parent's context), metrics and OTLP export are off, and log calls
 * still reach the JSON sink. OTUS_ERR_STATE when the library is already running (a
 * second or concurrent call), OTUS_ERR_NOMEM, OTUS_ERR_IO (the log file cannot be
 * opened, the background thread cannot start).
 *
 * May be called again after otus_shutdown(). Registers fork handlers once: a child
 * discards the buffers it inherited, reseeds its ID generators and starts its own
 * background thread.
 */
OTUS_API int otus_init(const struct otus_sdk_config *cfg);

/*
 * Exports everything recorded before the call (metrics are collected now) and waits
 * until it has been sent or timeout_ms passed. A peer that answers 429 or 503 is
 * retried within the time left (after its Retry-After); an unreachable peer is not
 * waited for. Returns 0 when the peer accepted everything, else the first failure:
 * OTUS_ERR_CONNECT, OTUS_ERR_HTTP_RETRY, OTUS_ERR_HTTP_REJECT, OTUS_ERR_TIMEOUT; what
 * was not sent stays queued for the background thread's retries. OTUS_ERR_STATE when
 * the library is not running. Must not be called from a signal handler.
 */
OTUS_API int otus_flush(uint32_t timeout_ms);

/*
 * Flushes as otus_flush() does within timeout_ms, stops the background thread and
 * releases the exporter's resources. Returns within timeout_ms plus a few milliseconds
 * even when the agent is unreachable or never answers. Returns 0 when everything was
 * sent, else the first failure (as otus_flush), in which case what could not be sent
 * is dropped and counted in otus_stats.export_dropped; OTUS_ERR_STATE when not
 * running. After it, record calls are no-ops and log calls write to stderr on the
 * caller's thread.
 */
OTUS_API int otus_shutdown(uint32_t timeout_ms);

/* Counts of what the library did; all monotonic since the first otus_init(). The same
 * numbers are exported as the library's own metrics (otus.lib.*). */
struct otus_stats {
    uint64_t spans_dropped;        /* span queue full or span memory exhausted */
    uint64_t logs_dropped;         /* log queue full */
    uint64_t measurements_dropped; /* invalid values, metric cell space exhausted */
    uint64_t series_overflowed;    /* measurements folded into the overflow series */
    uint64_t spans_exported;       /* accepted by the peer */
    uint64_t logs_exported;
    uint64_t metric_points_exported;
    uint64_t export_failures; /* requests that failed (each retry counts) */
    uint64_t export_dropped;  /* items given up on (retry buffer full, deadline) */
};

/* Fills out with the current counts. */
OTUS_API void otus_stats_get(struct otus_stats *out);

/* ===================================================================================
 * Metrics
 *
 * Instruments aggregate in memory and are exported with cumulative temporality every
 * metric export interval. Each instrument holds at most max_series attribute sets;
 * measurements for further sets go to one overflow series with the attribute
 * otel.metric.overflow=true, and are counted.
 * =================================================================================== */

struct otus_metric; /* an instrument; valid until the process exits */
struct otus_series; /* an instrument bound to one attribute set; valid until exit */

enum otus_metric_kind {
    OTUS_COUNTER = 1,    /* monotonic sum; negative increments are refused */
    OTUS_UPDOWN_COUNTER, /* non-monotonic sum */
    OTUS_GAUGE,          /* last value */
    OTUS_HISTOGRAM,      /* explicit buckets */
    OTUS_EXP_HISTOGRAM,  /* base-2 exponential buckets */
};

#define OTUS_VALUE_DEFAULT 0 /* int for counters, double for gauges and histograms */
#define OTUS_VALUE_INT     1
#define OTUS_VALUE_DOUBLE  2

struct otus_metric_opts {
    int kind;                /* enum otus_metric_kind */
    const char *name;        /* [A-Za-z][A-Za-z0-9_.-/]{0,254} */
    const char *unit;        /* UCUM, e.g. "s", "By", "{request}"; NULL: none */
    const char *description; /* NULL: none */
    int value_type;          /* OTUS_VALUE_* */
    const double
        *bounds; /* explicit histogram: increasing boundaries; NULL: OpenTelemetry's defaults */
    size_t n_bounds;
    int max_size;        /* exponential: buckets per range, 0: 160 */
    int max_scale;       /* exponential: -10..20, 0 means 20 (pass OTUS_SCALE_ZERO for 0) */
    uint32_t max_series; /* 0: the configured limit (default 2000) */
};

#define OTUS_SCALE_ZERO (-128) /* max_scale of exactly 0 */

/*
 * Creates an instrument, or returns the existing one when an identical instrument
 * (same name, kind, unit, description, value type and buckets) exists. Strings and
 * bounds are copied. Returns NULL when the library is not running or disabled, the
 * name is invalid, or memory is short; every record function accepts NULL as a no-op,
 * so instrumented code need not check. Not a record path (takes a lock).
 */
OTUS_API struct otus_metric *otus_metric_create(const struct otus_metric_opts *opts);

/* Shorthands for otus_metric_create. */
OTUS_API struct otus_metric *otus_counter_create(const char *name, const char *unit,
                                                 const char *description);
OTUS_API struct otus_metric *otus_updown_counter_create(const char *name, const char *unit,
                                                        const char *description);
OTUS_API struct otus_metric *otus_gauge_create(const char *name, const char *unit,
                                               const char *description);
OTUS_API struct otus_metric *otus_histogram_create(const char *name, const char *unit,
                                                   const char *description, const double *bounds,
                                                   size_t n_bounds);
OTUS_API struct otus_metric *otus_exp_histogram_create(const char *name, const char *unit,
                                                       const char *description, int max_size,
                                                       int max_scale);

/*
 * Binds an instrument to one attribute set (attrs borrowed, copied on first use;
 * duplicate keys: the last wins) and returns the series, the fastest way to record.
 * Binding the same set twice returns the same series. Returns NULL when m is NULL;
 * past the series limit it returns the overflow series.
 */
OTUS_API struct otus_series *otus_metric_bind(struct otus_metric *m, const struct otus_attr *attrs,
                                              size_t n_attrs);

/* Record paths on a bound series. add: counters (v >= 0) and up-down counters.
 * record: histograms (NaN and infinities are refused and counted). set: gauges.
 * Calling the wrong one for the instrument's kind is a counted no-op. */
OTUS_API void otus_series_add(struct otus_series *s, int64_t v);
OTUS_API void otus_series_add_double(struct otus_series *s, double v);
OTUS_API void otus_series_record(struct otus_series *s, double v);
OTUS_API void otus_series_set(struct otus_series *s, double v);
OTUS_API void otus_series_set_int(struct otus_series *s, int64_t v);

/* The same with the attribute set given on each call (looked up in a lock-free table;
 * a new set is created on the spot). */
OTUS_API void otus_metric_add(struct otus_metric *m, int64_t v, const struct otus_attr *attrs,
                              size_t n_attrs);
OTUS_API void otus_metric_add_double(struct otus_metric *m, double v, const struct otus_attr *attrs,
                                     size_t n_attrs);
OTUS_API void otus_metric_record(struct otus_metric *m, double v, const struct otus_attr *attrs,
                                 size_t n_attrs);
OTUS_API void otus_metric_set(struct otus_metric *m, double v, const struct otus_attr *attrs,
                              size_t n_attrs);

/* ===================================================================================
 * Traces
 * =================================================================================== */

#define OTUS_TRACE_ID_SIZE      16
#define OTUS_SPAN_ID_SIZE       8
#define OTUS_TRACE_FLAG_SAMPLED 0x01u
#define OTUS_TRACESTATE_MAX     512 /* bytes of tracestate kept and propagated */

enum otus_span_kind {
    OTUS_SPAN_INTERNAL = 1,
    OTUS_SPAN_SERVER,
    OTUS_SPAN_CLIENT,
    OTUS_SPAN_PRODUCER,
    OTUS_SPAN_CONSUMER,
};

enum otus_span_status {
    OTUS_STATUS_UNSET = 0,
    OTUS_STATUS_OK = 1,
    OTUS_STATUS_ERROR = 2,
};

/* The identity of a span as W3C Trace Context carries it. */
struct otus_span_context {
    uint8_t trace_id[OTUS_TRACE_ID_SIZE];
    uint8_t span_id[OTUS_SPAN_ID_SIZE];
    uint8_t trace_flags; /* OTUS_TRACE_FLAG_SAMPLED */
    uint8_t is_remote;   /* extracted from a carrier */
    uint16_t tracestate_len;
    const char *tracestate; /* borrowed, validated W3C tracestate; NULL when empty */
};

/* Non-zero when ctx has a non-zero trace ID and span ID. */
OTUS_API int otus_span_context_is_valid(const struct otus_span_context *ctx);

/*
 * A started span. The caller owns this storage (on the stack for a scoped operation,
 * inside a request object for an event loop) from otus_span_start() until
 * otus_span_end() returns; the library keeps no pointer to it after that. ctx may be
 * read at any time; the other fields are private.
 */
struct otus_span {
    struct otus_span_context ctx;
    void *otus_private_[3];
    uint32_t otus_private_state_;
    uint32_t otus_private_pad_;
};

/* A link to another span, given at start or with otus_span_add_link(). */
struct otus_link {
    const struct otus_span_context *ctx; /* borrowed */
    const struct otus_attr *attrs;
    size_t n_attrs;
};

/* otus_span_opts flags. */
#define OTUS_SPAN_ROOT     0x1u /* start a new trace, whatever the current span is */
#define OTUS_SPAN_DETACHED 0x2u /* do not make the new span current on this thread */

struct otus_span_opts {
    const struct otus_span *parent_span;    /* explicit parent span; wins over parent */
    const struct otus_span_context *parent; /* explicit parent context (e.g. extracted) */
    const struct otus_attr *attrs;          /* initial attributes (seen by no sampler) */
    size_t n_attrs;
    const struct otus_link *links;
    size_t n_links;
    uint64_t start_time_ns; /* Unix ns; 0: now */
    uint32_t flags;         /* OTUS_SPAN_* */
};

/*
 * Starts a span named name (copied) of the given kind. Its parent is, in order:
 * opts->parent_span, opts->parent (when valid), else the calling thread's current
 * span unless OTUS_SPAN_ROOT; without one the span starts a new trace. The sampler
 * decides whether it records. Unless OTUS_SPAN_DETACHED, the span becomes the
 * thread's current span until it ends, and must then end on this thread.
 *
 * A context given as parent (and its tracestate) must outlive the span and its
 * descendants. opts may be NULL. Never fails: when the library is stopped, disabled
 * or out of span memory, the span is non-recording but still carries a valid
 * context for propagation (out of memory is counted as a dropped span).
 */
OTUS_API void otus_span_start(struct otus_span *span, const char *name, int kind,
                              const struct otus_span_opts *opts);

/* Ends the span now (or at end_time_ns, Unix ns) and queues it for export. The span
 * storage may be reused or freed once this returns. Ending a span twice, or a zeroed
 * struct, does nothing. */
OTUS_API void otus_span_end(struct otus_span *span);
OTUS_API void otus_span_end_at(struct otus_span *span, uint64_t end_time_ns);

/* Non-zero while the span records (sampled and not ended). */
OTUS_API int otus_span_is_recording(const struct otus_span *span);

/*
 * Span mutators. They may be called from any thread but not concurrently with
 * otus_span_end() on the same span. Attributes with a key already set replace the
 * old value; past the limits (128 attributes, events, links by default) the excess is
 * counted in the span's dropped counts. status: OK is final; a description is kept
 * only with ERROR.
 */
OTUS_API void otus_span_set_attrs(struct otus_span *span, const struct otus_attr *attrs,
                                  size_t n_attrs);
OTUS_API void otus_span_add_event(struct otus_span *span, const char *name,
                                  const struct otus_attr *attrs, size_t n_attrs);
OTUS_API void otus_span_add_link(struct otus_span *span, const struct otus_link *link);
OTUS_API void otus_span_set_status(struct otus_span *span, int status, const char *description);
OTUS_API void otus_span_update_name(struct otus_span *span, const char *name);
/* An "exception" event with exception.type and exception.message; sets ERROR status. */
OTUS_API void otus_span_record_error(struct otus_span *span, const char *type, const char *message);

/* The calling thread's current span, or NULL. */
OTUS_API struct otus_span *otus_span_current(void);

/* Makes span (may be NULL) the calling thread's current span and returns the one it
 * replaces, for callbacks that continue a span on another thread:
 *     struct otus_span *saved = otus_span_swap_current(&req->span);
 *     ... work, logs and child spans now belong to req->span ...
 *     otus_span_swap_current(saved); */
OTUS_API struct otus_span *otus_span_swap_current(struct otus_span *span);

/* ===================================================================================
 * Propagation: W3C Trace Context and W3C Baggage
 *
 * Carriers are reached through two callbacks, so any header container works.
 * =================================================================================== */

/*
 * Looks up header name (lowercase ASCII; match it case-insensitively) in carrier and
 * stores up to max field values (pointer and length) in values/lens, in the order the
 * fields appeared. Returns how many fields exist (which may exceed max). Values must
 * stay valid until the extract call returns.
 */
typedef size_t (*otus_getter_fn)(void *carrier, const char *name, const char **values, size_t *lens,
                                 size_t max);

/* Sets header name (lowercase) to value[0..len) in carrier, replacing any field of that
 * name. value is not NUL-terminated and is valid during the call only. */
typedef void (*otus_setter_fn)(void *carrier, const char *name, const char *value, size_t len);

/* An extracted trace context: the remote parent and the tracestate it carried. */
struct otus_context {
    struct otus_span_context span; /* span.tracestate points into tracestate[] */
    int valid;                     /* a valid traceparent was found */
    char tracestate[OTUS_TRACESTATE_MAX + 1];
};

#define OTUS_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

/*
 * Parses a traceparent header value exactly as W3C Trace Context level 1 says:
 * leading and trailing spaces and tabs ignored; lowercase hex only; version ff,
 * all-zero trace or parent IDs and wrong lengths refused; version 00 must be exactly
 * 55 characters; a higher version is read by its version-00 prefix when the next
 * character is the end or '-'. Sets out (is_remote = 1, no tracestate). Returns 0 or
 * OTUS_ERR_PARSE.
 */
OTUS_API int otus_traceparent_parse(const char *value, size_t len, struct otus_span_context *out);

/* Writes the version-00 traceparent of ctx into out (at least OTUS_TRACEPARENT_LEN + 1
 * bytes, NUL-terminated); returns OTUS_TRACEPARENT_LEN. Only the sampled flag is
 * written, as level 1 requires. */
OTUS_API size_t otus_traceparent_format(const struct otus_span_context *ctx, char *out);

/*
 * Validates and combines tracestate header fields (fields[i], lens[i], n of them, in
 * order) into out (cap bytes, NUL-terminated) as "k=v,k2=v2": empty members and
 * optional whitespace dropped. Returns the length written, 0 for an empty list, or
 * OTUS_ERR_PARSE when any member is invalid, a key repeats, or there are more than 32
 * members (the whole tracestate is then to be discarded). Members are dropped to fit
 * cap - 1 bytes: those over 128 bytes first, then from the end.
 */
OTUS_API int otus_tracestate_combine(const char *const *fields, const size_t *lens, size_t n,
                                     char *out, size_t cap);

/*
 * Extracts traceparent and tracestate from carrier into ctx. ctx->valid is set when a
 * single valid traceparent was found; a tracestate that fails validation is dropped
 * without affecting the traceparent. Returns 0 when valid, OTUS_ERR_NOT_FOUND (no
 * traceparent), OTUS_ERR_PARSE (invalid or repeated traceparent).
 */
OTUS_API int otus_context_extract(struct otus_context *ctx, otus_getter_fn get, void *carrier);

/* Injects traceparent (and tracestate when not empty) of ctx into carrier. ctx NULL:
 * the current span's context. Does nothing for an invalid context. Returns 0 or
 * OTUS_ERR_INVALID. */
OTUS_API int otus_context_inject(const struct otus_span_context *ctx, otus_setter_fn set,
                                 void *carrier);

#define OTUS_BAGGAGE_MAX_MEMBERS 180
#define OTUS_BAGGAGE_MAX_BYTES   8192

/* W3C Baggage: a list of key/value entries with optional properties. Values are held
 * decoded; percent-encoding is applied on injection. Initialise with
 * otus_baggage_init(). About 10 KiB: keep it in a request object, not a small stack. */
struct otus_baggage {
    uint16_t n;   /* entries */
    uint16_t len; /* bytes used in buf */
    struct {
        uint16_t key, key_len, value, value_len, props, props_len;
    } e[OTUS_BAGGAGE_MAX_MEMBERS];
    char buf[OTUS_BAGGAGE_MAX_BYTES];
};

OTUS_API void otus_baggage_init(struct otus_baggage *b);

/*
 * Parses baggage header fields from carrier into b (entries are appended; a key seen
 * again replaces the earlier value). Members that do not follow the W3C grammar are
 * skipped; members past 180 or 8192 bytes are dropped. Returns 0, OTUS_ERR_NOT_FOUND
 * (no baggage header), OTUS_ERR_PARSE (something was skipped; the rest is kept).
 */
OTUS_API int otus_baggage_extract(struct otus_baggage *b, otus_getter_fn get, void *carrier);

/* Parses one baggage header value into b as otus_baggage_extract does. */
OTUS_API int otus_baggage_parse(struct otus_baggage *b, const char *value, size_t len);

/* Writes b as one baggage header (percent-encoded values) into carrier; nothing when
 * empty. Returns 0 or OTUS_ERR_TOO_BIG (entries that would pass 8192 bytes are left
 * out). */
OTUS_API int otus_baggage_inject(const struct otus_baggage *b, otus_setter_fn set, void *carrier);

/* Sets key (an RFC 7230 token) to value (any UTF-8, copied), with properties props
 * ("k=v;flag", may be NULL). Returns 0, OTUS_ERR_INVALID (bad key or props),
 * OTUS_ERR_TOO_BIG (no room). */
OTUS_API int otus_baggage_set(struct otus_baggage *b, const char *key, const char *value,
                              const char *props);

/* The decoded value of key (pointer into b, not NUL-terminated, *len set), or NULL. */
OTUS_API const char *otus_baggage_get(const struct otus_baggage *b, const char *key, size_t *len);

/* Removes key; returns 0 or OTUS_ERR_NOT_FOUND. */
OTUS_API int otus_baggage_remove(struct otus_baggage *b, const char *key);

/*
 * Apply the configured propagators (OTEL_PROPAGATORS, default "tracecontext,baggage"):
 * extract fills ctx (may be NULL) and bag (may be NULL) from carrier; inject writes
 * the context of span (NULL: the current span) and bag (may be NULL). Both work
 * whether or not the library is running. extract returns otus_context_extract()'s
 * status (OTUS_ERR_NOT_FOUND when tracecontext is not configured).
 */
OTUS_API int otus_propagators_extract(struct otus_context *ctx, struct otus_baggage *bag,
                                      otus_getter_fn get, void *carrier);
OTUS_API void otus_propagators_inject(const struct otus_span *span, const struct otus_baggage *bag,
                                      otus_setter_fn set, void *carrier);

/* A getter over an array of n name/value pairs (name case-insensitive), for carriers
 * that are plain header arrays: pass the array itself as carrier. */
struct otus_header {
    const char *name;
    const char *value;
};
struct otus_header_list {
    const struct otus_header *h;
    size_t n;
};
OTUS_API size_t otus_header_list_get(void *carrier /* struct otus_header_list */, const char *name,
                                     const char **values, size_t *lens, size_t max);

/* ===================================================================================
 * HTTP helpers (OpenTelemetry HTTP semantic conventions)
 * =================================================================================== */

/* What is known about one HTTP request. Strings are borrowed until the matching
 * otus_http_*_end() returns. */
struct otus_http_info {
    const char *method;           /* as received or sent; unknown methods become _OTHER */
    const char *scheme;           /* url.scheme: "http", "https" */
    const char *path;             /* server: url.path */
    const char *query;            /* server: url.query, without '?'; may be NULL */
    const char *route;            /* server: http.route, a low-cardinality template; may be NULL */
    const char *url;              /* client: url.full */
    const char *server_address;   /* server.address */
    int server_port;              /* server.port; 0: unknown */
    const char *client_address;   /* server: client.address; may be NULL */
    const char *user_agent;       /* user_agent.original; may be NULL */
    const char *protocol_version; /* network.protocol.version: "1.1", "2"; may be NULL */
    otus_getter_fn get;           /* server: incoming headers, for trace context; may be NULL */
    void *carrier;
};

/* One HTTP request's span and timing; caller-owned storage like struct otus_span. */
struct otus_http_span {
    struct otus_span span;
    struct otus_context parent; /* server: the extracted remote parent */
    const struct otus_http_info *req;
    uint64_t start_ticks;
    const char *method; /* normalised */
    int kind;
};

/*
 * Starts a SERVER span named "{method} {route}" (or "{method}" without a route) whose
 * parent is the trace context extracted from req->get/carrier (the current span when
 * there is none), with http.request.method, url.path, url.scheme, url.query,
 * http.route, server.address, server.port, client.address, user_agent.original and
 * network.protocol.version. The span becomes current. req must outlive the span.
 */
OTUS_API void otus_http_server_span_start(struct otus_http_span *h,
                                          const struct otus_http_info *req);

/*
 * Ends the server span with http.response.status_code (when status_code > 0), ERROR
 * status for 5xx or when error_type is given (error.type = error_type, else the
 * status code), and records http.server.request.duration in seconds.
 */
OTUS_API void otus_http_server_span_end(struct otus_http_span *h, int status_code,
                                        const char *error_type);

/* Starts a CLIENT span named "{method}", child of the current span, and injects its
 * context with the configured propagators through set/carrier (may be NULL). */
OTUS_API void otus_http_client_span_start(struct otus_http_span *h,
                                          const struct otus_http_info *req, otus_setter_fn set,
                                          void *carrier);

/* Ends the client span (ERROR for 4xx, 5xx or error_type) and records
 * http.client.request.duration in seconds. */
OTUS_API void otus_http_client_span_end(struct otus_http_span *h, int status_code,
                                        const char *error_type);

/* ===================================================================================
 * Logs
 *
 * A log call copies its message and fields into a lock-free ring; the background
 * thread writes each record as one JSON line to the sink (stderr by default) and
 * exports it as an OTLP log record. A record made while a span is current carries
 * that span's trace_id, span_id and trace_flags.
 * =================================================================================== */

/* The live lowest level written (set by otus_init); the pointer never changes. */
OTUS_API const int *otus_log_threshold(void);

/* Non-zero when a record at level would be written. Costs two loads and a compare:
 * each translation unit fetches the threshold's address once. */
static inline int otus_log_enabled(int level)
{
    static const int *threshold;
    const int *t = __atomic_load_n(&threshold, __ATOMIC_RELAXED);
    if (!t) {
        t = otus_log_threshold();
        __atomic_store_n(&threshold, t, __ATOMIC_RELAXED);
    }
    return level >= __atomic_load_n(t, __ATOMIC_RELAXED);
}

/*
 * Writes a record at level (enum otus_level) with message msg (NUL-terminated; NULL
 * is an empty message) and n_fields typed fields (copied). Never blocks: when the ring
 * is full the record is dropped and counted. Before otus_init() and after
 * otus_shutdown() the line is formatted and written to stderr on the spot.
 */
OTUS_API void otus_log_emit(int level, const char *msg, const struct otus_attr *fields,
                            size_t n_fields);

/* The same, tied to span context ctx instead of the current span (NULL: none). */
OTUS_API void otus_log_emit_ctx(int level, const struct otus_span_context *ctx, const char *msg,
                                const struct otus_attr *fields, size_t n_fields);

/* otus_log_emit with the message's length given: msg_len bytes of msg (which then need
 * not be NUL-terminated), or OTUS_NTS for a NUL-terminated msg; msg NULL is an empty
 * message whatever msg_len says. Same rules and behaviour as otus_log_emit otherwise. */
OTUS_API void otus_log_emitn(int level, const char *msg, size_t msg_len,
                             const struct otus_attr *fields, size_t n_fields);

/* otus_log_emit behind the inline level check: a disabled level costs a compare. The
 * length of a literal message is passed on when the compiler knows it (see
 * Attributes), so the library does not measure it. */
static inline void otus_log_write(int level, const char *msg, const struct otus_attr *fields,
                                  size_t n_fields)
{
    if (otus_log_enabled(level))
        otus_log_emitn(level, msg, otus__const_strlen(msg, OTUS_NTS), fields, n_fields);
}

#ifdef __cplusplus
}
#endif

#endif /* OTUS_H */
