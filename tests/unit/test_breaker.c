/*
 * test_breaker.c: the circuit breaker's state machine: opening after consecutive
 * failures, refusing while open, exactly one probe when half-open, closing on a good
 * probe, re-opening with a grown (capped) open time on a bad one, stale outcomes
 * ignored, abandoned probes, gauge values and transition counters.
 */
#include "otus_test.h"

#include "common/breaker.h"

static struct otus_breaker_opts opts3 = {
    .failure_threshold = 3,
    .open_timeout_ms = 1000,
    .open_timeout_multiplier = 2.0,
    .max_open_timeout_ms = 3000,
};

static uint64_t allow(struct otus_breaker *b, uint64_t now)
{
    uint64_t gen = 0;
    assert_true(otus_breaker_allow(b, now, &gen));
    return gen;
}

static void refuse(struct otus_breaker *b, uint64_t now)
{
    uint64_t gen = 777;
    assert_false(otus_breaker_allow(b, now, &gen));
    assert_int_equal(gen, 777);
}

/* Opens b at time now with threshold failures. */
static void trip(struct otus_breaker *b, uint64_t now)
{
    for (unsigned i = 0; i < b->opts.failure_threshold; i++)
        otus_breaker_failure(b, allow(b, now), now);
    assert_int_equal(otus_breaker_state(b), OTUS_BREAKER_OPEN);
}

static void opens_after_consecutive_failures(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
    assert_int_equal((int)otus_breaker_state(&b), 0);

    /* Two failures, a success, two failures: never three in a row. */
    otus_breaker_failure(&b, allow(&b, 0), 0);
    otus_breaker_failure(&b, allow(&b, 0), 0);
    otus_breaker_success(&b, allow(&b, 0), 0);
    otus_breaker_failure(&b, allow(&b, 0), 0);
    otus_breaker_failure(&b, allow(&b, 0), 0);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
    assert_int_equal(otus_breaker_wait_ms(&b, 0), 0);

    otus_breaker_failure(&b, allow(&b, 10), 10);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_OPEN);
    assert_int_equal((int)otus_breaker_state(&b), 1);
    assert_int_equal(b.opened, 1);
    assert_string_equal(otus_breaker_state_name(otus_breaker_state(&b)), "open");
}

static void refuses_while_open(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    trip(&b, 100);
    refuse(&b, 100);
    refuse(&b, 600);
    refuse(&b, 1099);
    assert_int_equal(b.refused, 3);
    assert_int_equal(otus_breaker_wait_ms(&b, 600), 500);
    assert_int_equal(otus_breaker_wait_ms(&b, 1100), 0);
}

static void half_open_lets_one_probe_through(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    trip(&b, 0);
    uint64_t probe = allow(&b, 1000);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_HALF_OPEN);
    assert_int_equal((int)otus_breaker_state(&b), 2);
    assert_int_equal(b.half_opened, 1);
    /* Everything else waits for the probe, however long it takes. */
    for (uint64_t t = 1000; t < 60000; t += 997)
        refuse(&b, t);
    assert_int_equal(otus_breaker_wait_ms(&b, 2000), UINT64_MAX);
    otus_breaker_success(&b, probe, 61000);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
    assert_int_equal(b.closed, 1);
    /* Closed again: everything goes, and it takes threshold failures to open. */
    for (int i = 0; i < 10; i++)
        (void)allow(&b, 61000);
    otus_breaker_failure(&b, allow(&b, 61000), 61000);
    otus_breaker_failure(&b, allow(&b, 61000), 61000);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
}

static void failed_probe_reopens_with_growing_timeout(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    trip(&b, 0);

    /* 1 s, then 2 s, then 3 s (the cap), then 3 s again. */
    uint64_t now = 0;
    uint64_t want[] = {1000, 2000, 3000, 3000};
    for (int i = 0; i < 4; i++) {
        refuse(&b, now + want[i] - 1);
        now += want[i];
        uint64_t probe = allow(&b, now);
        otus_breaker_failure(&b, probe, now);
        assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_OPEN);
    }
    assert_int_equal(b.opened, 5);
    assert_int_equal(b.half_opened, 4);

    /* A good probe closes it and the open time starts from 1 s again. */
    now += 3000;
    otus_breaker_success(&b, allow(&b, now), now);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
    trip(&b, now);
    refuse(&b, now + 999);
    (void)allow(&b, now + 1000);
}

static void no_growth_without_multiplier(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b,
                      &(struct otus_breaker_opts){.failure_threshold = 1, .open_timeout_ms = 500});
    trip(&b, 0);
    uint64_t now = 0;
    for (int i = 0; i < 5; i++) {
        refuse(&b, now + 499);
        now += 500;
        otus_breaker_failure(&b, allow(&b, now), now);
    }
}

static void stale_outcomes_are_ignored(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    /* Eight requests in flight while closed. */
    uint64_t gens[8];
    for (int i = 0; i < 8; i++)
        gens[i] = allow(&b, 0);
    for (int i = 0; i < 3; i++)
        otus_breaker_failure(&b, gens[i], 5);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_OPEN);
    /* The late ones neither reopen (no count) nor close it. */
    otus_breaker_failure(&b, gens[3], 6);
    otus_breaker_success(&b, gens[4], 6);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_OPEN);
    assert_int_equal(b.opened, 1);
    assert_int_equal(b.opened_ms, 5);

    /* Half-open: only the probe's outcome counts. */
    uint64_t probe = allow(&b, 1005);
    otus_breaker_success(&b, gens[5], 1006);
    otus_breaker_failure(&b, gens[6], 1006);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_HALF_OPEN);
    otus_breaker_success(&b, probe, 1007);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
    /* And a probe's outcome reported twice counts once. */
    otus_breaker_failure(&b, probe, 1008);
    assert_int_equal(b.failures, 0);
    otus_breaker_failure(&b, gens[7], 1008);
    assert_int_equal(b.failures, 0);
}

static void abandoned_probe_frees_the_slot(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, &opts3);
    trip(&b, 0);
    uint64_t probe = allow(&b, 1000);
    refuse(&b, 1001);
    otus_breaker_abandon(&b, probe);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_HALF_OPEN);
    assert_int_equal(otus_breaker_wait_ms(&b, 1001), 0);
    uint64_t probe2 = allow(&b, 1002);
    refuse(&b, 1003);
    /* Abandoning with a stale generation changes nothing. */
    otus_breaker_abandon(&b, probe - 1);
    refuse(&b, 1004);
    otus_breaker_success(&b, probe2, 1005);
    assert_int_equal(otus_breaker_state(&b), OTUS_BREAKER_CLOSED);
}

static void defaults(void **state)
{
    (void)state;
    struct otus_breaker b;
    otus_breaker_init(&b, NULL);
    assert_int_equal(b.opts.failure_threshold, OTUS_BREAKER_DEFAULT_THRESHOLD);
    assert_int_equal(b.opts.open_timeout_ms, OTUS_BREAKER_DEFAULT_OPEN_MS);
    assert_int_equal(b.opts.max_open_timeout_ms, OTUS_BREAKER_DEFAULT_MAX_OPEN_MS);
    trip(&b, 0);
    refuse(&b, OTUS_BREAKER_DEFAULT_OPEN_MS - 1);
    (void)allow(&b, OTUS_BREAKER_DEFAULT_OPEN_MS);
    assert_string_equal(otus_breaker_state_name(OTUS_BREAKER_CLOSED), "closed");
    assert_string_equal(otus_breaker_state_name(OTUS_BREAKER_HALF_OPEN), "half_open");
    /* A cap below the open time is raised to it. */
    otus_breaker_init(
        &b, &(struct otus_breaker_opts){.open_timeout_ms = 5000, .max_open_timeout_ms = 10});
    assert_int_equal(b.opts.max_open_timeout_ms, 5000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(opens_after_consecutive_failures),
    cmocka_unit_test(refuses_while_open),
    cmocka_unit_test(half_open_lets_one_probe_through),
    cmocka_unit_test(failed_probe_reopens_with_growing_timeout),
    cmocka_unit_test(no_growth_without_multiplier),
    cmocka_unit_test(stale_outcomes_are_ignored),
    cmocka_unit_test(abandoned_probe_frees_the_slot),
    cmocka_unit_test(defaults),
};

OTUS_TEST_MAIN(tests)
