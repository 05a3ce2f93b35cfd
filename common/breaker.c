/*
 * breaker.c: the circuit breaker's state machine (see breaker.h). Every transition
 * goes through set_state(), which bumps the generation so that outcomes of attempts
 * allowed before the transition are recognised as stale and ignored.
 */
#include "common/breaker.h"

#include <assert.h>
#include <stddef.h>

void otus_breaker_init(struct otus_breaker *b, const struct otus_breaker_opts *opts)
{
    struct otus_breaker_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.failure_threshold)
        o.failure_threshold = OTUS_BREAKER_DEFAULT_THRESHOLD;
    if (!o.open_timeout_ms)
        o.open_timeout_ms = OTUS_BREAKER_DEFAULT_OPEN_MS;
    if (!(o.open_timeout_multiplier >= 1.0)) /* also NaN */
        o.open_timeout_multiplier = 1.0;
    if (!o.max_open_timeout_ms)
        o.max_open_timeout_ms = OTUS_BREAKER_DEFAULT_MAX_OPEN_MS;
    if (o.max_open_timeout_ms < o.open_timeout_ms)
        o.max_open_timeout_ms = o.open_timeout_ms;
    *b = (struct otus_breaker){.opts = o, .state = OTUS_BREAKER_CLOSED};
    b->open_for_ms = o.open_timeout_ms;
}

static void set_state(struct otus_breaker *b, enum otus_breaker_state s)
{
    b->state = s;
    b->generation++;
    b->probing = 0;
    b->failures = 0;
    switch (s) {
    case OTUS_BREAKER_CLOSED:
        b->closed++;
        break;
    case OTUS_BREAKER_OPEN:
        b->opened++;
        break;
    case OTUS_BREAKER_HALF_OPEN:
        b->half_opened++;
        break;
    }
}

static void open_at(struct otus_breaker *b, uint64_t now_ms)
{
    set_state(b, OTUS_BREAKER_OPEN);
    b->opened_ms = now_ms;
}

int otus_breaker_allow(struct otus_breaker *b, uint64_t now_ms, uint64_t *gen)
{
    switch (b->state) {
    case OTUS_BREAKER_CLOSED:
        break;
    case OTUS_BREAKER_OPEN:
        if (now_ms < b->opened_ms || now_ms - b->opened_ms < b->open_for_ms) {
            b->refused++;
            return 0;
        }
        set_state(b, OTUS_BREAKER_HALF_OPEN);
        b->probing = 1;
        break;
    case OTUS_BREAKER_HALF_OPEN:
        if (b->probing) {
            b->refused++;
            return 0;
        }
        b->probing = 1;
        break;
    }
    *gen = b->generation;
    return 1;
}

void otus_breaker_success(struct otus_breaker *b, uint64_t gen, uint64_t now_ms)
{
    (void)now_ms;
    if (gen != b->generation)
        return;
    switch (b->state) {
    case OTUS_BREAKER_CLOSED:
        b->failures = 0;
        break;
    case OTUS_BREAKER_HALF_OPEN:
        assert(b->probing);
        set_state(b, OTUS_BREAKER_CLOSED);
        b->open_for_ms = b->opts.open_timeout_ms;
        break;
    case OTUS_BREAKER_OPEN:
        break; /* no attempt is allowed in this generation */
    }
}

void otus_breaker_failure(struct otus_breaker *b, uint64_t gen, uint64_t now_ms)
{
    if (gen != b->generation)
        return;
    switch (b->state) {
    case OTUS_BREAKER_CLOSED:
        if (++b->failures >= b->opts.failure_threshold)
            open_at(b, now_ms);
        break;
    case OTUS_BREAKER_HALF_OPEN: {
        assert(b->probing);
        double grown = (double)b->open_for_ms * b->opts.open_timeout_multiplier;
        double cap = (double)b->opts.max_open_timeout_ms;
        b->open_for_ms = grown < cap ? (uint64_t)grown : b->opts.max_open_timeout_ms;
        open_at(b, now_ms);
        break;
    }
    case OTUS_BREAKER_OPEN:
        break;
    }
}

void otus_breaker_abandon(struct otus_breaker *b, uint64_t gen)
{
    if (gen == b->generation && b->state == OTUS_BREAKER_HALF_OPEN)
        b->probing = 0;
}

enum otus_breaker_state otus_breaker_state(const struct otus_breaker *b)
{
    return b->state;
}

const char *otus_breaker_state_name(enum otus_breaker_state s)
{
    switch (s) {
    case OTUS_BREAKER_CLOSED:
        return "closed";
    case OTUS_BREAKER_OPEN:
        return "open";
    case OTUS_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

uint64_t otus_breaker_wait_ms(const struct otus_breaker *b, uint64_t now_ms)
{
    switch (b->state) {
    case OTUS_BREAKER_CLOSED:
        return 0;
    case OTUS_BREAKER_OPEN: {
        uint64_t since = now_ms > b->opened_ms ? now_ms - b->opened_ms : 0;
        return since >= b->open_for_ms ? 0 : b->open_for_ms - since;
    }
    case OTUS_BREAKER_HALF_OPEN:
        return b->probing ? UINT64_MAX : 0;
    }
    return 0;
}
