/*
 * backoff.h: when to try again after a failed delivery. Exponential backoff with full
 * jitter: the n-th retry (n from 0) waits a uniformly random time in
 * [0, min(max_interval, initial_interval * multiplier^n)], which spreads the retries
 * of many senders instead of having them hit a recovering backend in waves. A delay
 * the server asked for (Retry-After) is a floor: the caller never retries sooner. Once
 * max_elapsed has passed since the first failure, the answer is "stop".
 *
 * A struct otus_backoff is a plain value with its own small PRNG (splitmix64), so
 * every exporter, endpoint or batch can carry one without locks or allocation. It is
 * not thread-safe: one owner at a time. Time is passed in (milliseconds of any
 * monotonic clock, e.g. uv_now()), so tests run on a simulated clock.
 *
 * Also here: parsing of a Retry-After header value (RFC 9110, section 10.2.3), both
 * delay-seconds and HTTP-date, into milliseconds.
 */
#ifndef OTUS_COMMON_BACKOFF_H
#define OTUS_COMMON_BACKOFF_H

#include <stdint.h>

/* What otus_backoff_next() returns when retrying must stop. */
#define OTUS_BACKOFF_STOP (-1)

/* Defaults taken for zero fields. */
#define OTUS_BACKOFF_DEFAULT_INITIAL_MS      1000u
#define OTUS_BACKOFF_DEFAULT_MULTIPLIER      2.0
#define OTUS_BACKOFF_DEFAULT_MAX_INTERVAL_MS 30000u
#define OTUS_BACKOFF_DEFAULT_MAX_ELAPSED_MS  300000u

struct otus_backoff_opts {
    uint64_t initial_interval_ms; /* the first retry's upper bound (0: 1 s) */
    double multiplier;            /* growth of the bound per retry; values below 1 mean 1
                                     (0: 2.0) */
    uint64_t max_interval_ms;     /* the bound never grows past this (0: 30 s) */
    uint64_t max_elapsed_ms;      /* give up this long after the first failure (0: 5 min;
                                     UINT64_MAX: never give up) */
    uint64_t seed;                /* PRNG seed; 0: a different random seed per instance */
};

struct otus_backoff {
    struct otus_backoff_opts opts; /* with defaults applied */
    uint64_t rng;                  /* splitmix64 state */
    double bound_ms;               /* upper bound for the next delay */
    uint64_t start_ms;             /* time of the first failure since the last reset */
    unsigned attempts;             /* otus_backoff_next() calls since the last reset */
    int running;                   /* start_ms is set */
};

/* Sets b up from opts (copied; NULL: all defaults). */
void otus_backoff_init(struct otus_backoff *b, const struct otus_backoff_opts *opts);

/* Forgets past failures (call after a success): the next delay is drawn from the
 * initial interval again and max_elapsed counts from the next failure. */
void otus_backoff_reset(struct otus_backoff *b);

/*
 * The delay in milliseconds before the next attempt, after a failure at now_ms.
 * retry_after_ms is what the server asked for (negative: nothing asked); the delay is
 * never shorter. Returns OTUS_BACKOFF_STOP when max_elapsed has passed since the first
 * failure, or when the server's delay would end past that deadline; otherwise a delay
 * in [0, INT64_MAX] that never ends past the deadline.
 */
int64_t otus_backoff_next(struct otus_backoff *b, uint64_t now_ms, int64_t retry_after_ms);

/* A uniformly distributed number in [0, bound] from b's PRNG. */
uint64_t otus_backoff_uniform(struct otus_backoff *b, uint64_t bound);

/*
 * Parses a Retry-After header value into a delay in milliseconds (*out_ms >= 0).
 * value is delay-seconds ("120") or an HTTP-date in any of the three forms RFC 9110
 * requires recipients to accept (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"). A date is
 * measured against the response's Date header when date is a valid HTTP-date (this
 * cancels clock skew between the peer and us), else against now_unix_ms; a date in
 * the past gives 0; delay-seconds too large to represent are clamped. Both strings
 * borrowed. 0 or OTUS_ERR_PARSE (value is neither form).
 */
int otus_retry_after_parse(const char *value, const char *date, uint64_t now_unix_ms,
                           int64_t *out_ms);

/* Parses an HTTP-date (any of the three forms) into Unix seconds. 0 or OTUS_ERR_PARSE. */
int otus_http_date_parse(const char *s, int64_t *unix_s);

#endif
