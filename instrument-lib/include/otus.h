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
 */
#ifndef OTUS_H
#define OTUS_H

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

#ifdef __cplusplus
}
#endif

#endif /* OTUS_H */
