/*
 * breaker.h: a circuit breaker per backend endpoint, so an exporter stops sending to
 * a backend that keeps failing and probes it now and then instead of piling retries
 * onto it.
 *
 *   closed    --threshold consecutive failures-->   open
 *   open      --open timeout passed, next attempt--> half-open (that attempt is the probe)
 *   half-open --probe succeeded-->                   closed
 *   half-open --probe failed-->                      open (open timeout grown, capped)
 *
 * While open every attempt is refused; while half-open exactly one probe is out and
 * every other attempt is refused until its outcome is known.
 *
 * Several attempts may be in flight at once. Each allowed attempt gets the breaker's
 * generation, which changes with every state change; an outcome reported with an older
 * generation is ignored, so the late answers of requests sent before the breaker opened
 * neither close it again nor count twice.
 *
 * A struct otus_breaker is a plain value (no allocation), not thread-safe: one owner.
 * Time is passed in (milliseconds of any monotonic clock, e.g. uv_now()).
 */
#ifndef OTUS_COMMON_BREAKER_H
#define OTUS_COMMON_BREAKER_H

#include <stdint.h>

/* The values are the breaker's gauge (otus_exporter_breaker_state): keep them. */
enum otus_breaker_state {
    OTUS_BREAKER_CLOSED = 0,
    OTUS_BREAKER_OPEN = 1,
    OTUS_BREAKER_HALF_OPEN = 2,
};

/* Defaults taken for zero fields. */
#define OTUS_BREAKER_DEFAULT_THRESHOLD   5u
#define OTUS_BREAKER_DEFAULT_OPEN_MS     10000u
#define OTUS_BREAKER_DEFAULT_MAX_OPEN_MS 300000u

struct otus_breaker_opts {
    unsigned failure_threshold;     /* consecutive failures that open it (0: 5) */
    uint64_t open_timeout_ms;       /* time open before a probe is let through (0: 10 s) */
    double open_timeout_multiplier; /* the open time grows by this after each failed
                                       probe; 0 or below 1: it does not grow */
    uint64_t max_open_timeout_ms;   /* cap on the grown open time (0: 5 min, and never
                                       below open_timeout_ms) */
};

struct otus_breaker {
    struct otus_breaker_opts opts; /* with defaults applied */
    enum otus_breaker_state state;
    unsigned failures;    /* consecutive failures while closed */
    uint64_t generation;  /* changes with every state change */
    uint64_t opened_ms;   /* when it last opened */
    uint64_t open_for_ms; /* the current open time */
    int probing;          /* half-open and the probe is out */

    /* Counters for metrics; read them, never write them. */
    uint64_t opened;      /* transitions to open (from closed or from half-open) */
    uint64_t half_opened; /* transitions to half-open */
    uint64_t closed;      /* transitions from half-open to closed */
    uint64_t refused;     /* attempts refused */
};

/* Sets b up closed, from opts (copied; NULL: all defaults). */
void otus_breaker_init(struct otus_breaker *b, const struct otus_breaker_opts *opts);

/*
 * Asks whether an attempt may start at now_ms. Non-zero: yes, and *gen (not NULL)
 * receives the generation to report its outcome with; when the breaker was open and
 * its open time has passed, this turns it half-open and the attempt is the probe.
 * Zero: refused (counted in refused).
 */
int otus_breaker_allow(struct otus_breaker *b, uint64_t now_ms, uint64_t *gen);

/* Reports that the attempt allowed with gen succeeded. */
void otus_breaker_success(struct otus_breaker *b, uint64_t gen, uint64_t now_ms);

/* Reports that the attempt allowed with gen failed (a failure worth counting: the
 * backend is away or overloaded, not a request it rejected for its content). */
void otus_breaker_failure(struct otus_breaker *b, uint64_t gen, uint64_t now_ms);

/* Reports that the attempt allowed with gen ended with no verdict on the backend
 * (cancelled at shutdown): a probe's slot is freed for the next attempt. */
void otus_breaker_abandon(struct otus_breaker *b, uint64_t gen);

/* The current state; (int) of it is the gauge value. */
enum otus_breaker_state otus_breaker_state(const struct otus_breaker *b);

/* "closed", "open" or "half_open". */
const char *otus_breaker_state_name(enum otus_breaker_state s);

/*
 * Milliseconds from now_ms until an attempt would be allowed: 0 when one would be now,
 * the rest of the open time when open, UINT64_MAX when half-open with the probe out
 * (the probe's outcome decides).
 */
uint64_t otus_breaker_wait_ms(const struct otus_breaker *b, uint64_t now_ms);

#endif
