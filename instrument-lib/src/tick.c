/*
 * tick.c: the library's clocks and ID generator.
 *
 * Record paths stamp time in ticks: the TSC when the CPU has an invariant one (about
 * 10 ns to read here, against 25 ns for clock_gettime), else CLOCK_MONOTONIC. The
 * background thread turns ticks into Unix nanoseconds: the rate comes from the
 * longest baseline available (TSC and CLOCK_MONOTONIC sampled at start-up and at every
 * calibration), the offset from the newest CLOCK_REALTIME sample, so wall-clock steps
 * are followed and durations stay exact.
 *
 * Trace and span IDs come from a per-thread wyrand generator (64 bits per step, passes
 * BigCrush), seeded with getrandom() on the thread's first ID and again after fork.
 */
#include "internal.h"

#include <sys/random.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>
int otus__tsc_ok;
#endif

__thread struct otus__tls otus__tls __attribute__((tls_model("initial-exec")));
_Atomic uint32_t otus__fork_gen;

/* Calibration state, written by the background thread (and once at start-up),
 * read by any thread converting ticks. */
static pthread_mutex_t cal_lock = PTHREAD_MUTEX_INITIALIZER;
static int cal_ready;
static uint64_t cal_tick0, cal_mono0;                     /* baseline */
static _Atomic uint64_t cal_rate_bits;                    /* double: ns per tick */
static _Atomic uint64_t cal_anchor_tick, cal_anchor_wall; /* newest sample */

uint64_t otus__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t otus__wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double rate_get(void)
{
    uint64_t b = atomic_load_explicit(&cal_rate_bits, memory_order_relaxed);
    double r;
    memcpy(&r, &b, sizeof(r));
    return r;
}

static void rate_set(double r)
{
    uint64_t b;
    memcpy(&b, &r, sizeof(b));
    atomic_store_explicit(&cal_rate_bits, b, memory_order_relaxed);
}

/* Reads ticks, monotonic and wall time as close together as possible. */
static void sample(uint64_t *tick, uint64_t *mono, uint64_t *wall)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t m0 = otus__mono_ns();
        uint64_t t = otus__ticks();
        uint64_t w = otus__wall_ns();
        uint64_t m1 = otus__mono_ns();
        if (m1 - m0 < best) {
            best = m1 - m0;
            *tick = t;
            *mono = m0 + (m1 - m0) / 2;
            *wall = w;
        }
    }
}

void otus__ticks_init(void)
{
    pthread_mutex_lock(&cal_lock);
    if (cal_ready)
        goto out;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d))
        otus__tsc_ok = (d >> 8) & 1; /* invariant TSC */
#endif
    uint64_t t0, m0, w0;
    sample(&t0, &m0, &w0);
    cal_tick0 = t0;
    cal_mono0 = m0;
    rate_set(1.0);
#if defined(__x86_64__)
    if (otus__tsc_ok) {
        /* A first rate over 2 ms, so durations are right from the start; the
         * background thread refines it over longer baselines. */
        uint64_t t1, m1, w1;
        do {
            sample(&t1, &m1, &w1);
        } while (m1 - m0 < 2000000u);
        if (t1 > t0)
            rate_set((double)(m1 - m0) / (double)(t1 - t0));
        else
            otus__tsc_ok = 0;
        w0 = w1;
        t0 = t1;
    }
#endif
    atomic_store_explicit(&cal_anchor_tick, t0, memory_order_relaxed);
    atomic_store_explicit(&cal_anchor_wall, w0, memory_order_relaxed);
    cal_ready = 1;
out:
    pthread_mutex_unlock(&cal_lock);
}

void otus__ticks_calibrate(void)
{
    uint64_t t, m, w;
    sample(&t, &m, &w);
    pthread_mutex_lock(&cal_lock);
    if (otus__tsc_ok && t > cal_tick0 && m - cal_mono0 >= 1000000u)
        rate_set((double)(m - cal_mono0) / (double)(t - cal_tick0));
    atomic_store_explicit(&cal_anchor_tick, t, memory_order_relaxed);
    atomic_store_explicit(&cal_anchor_wall, w, memory_order_relaxed);
    pthread_mutex_unlock(&cal_lock);
}

uint64_t otus__ticks_to_unix_ns(uint64_t t)
{
    uint64_t at = atomic_load_explicit(&cal_anchor_tick, memory_order_relaxed);
    uint64_t aw = atomic_load_explicit(&cal_anchor_wall, memory_order_relaxed);
    double r = rate_get();
    double d = t >= at ? (double)(t - at) * r : -(double)(at - t) * r;
    double ns = (double)aw + d;
    return ns <= 0 ? 0 : (uint64_t)ns;
}

double otus__ticks_to_seconds(uint64_t dt)
{
    return (double)dt * rate_get() * 1e-9;
}

void otus__rng_seed(struct otus__tls *t)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        /* No entropy yet (very early boot): mix what differs between threads. */
        seed = otus__wall_ns() ^ ((uint64_t)(uintptr_t)t << 16) ^ otus__ticks();
    }
    t->rng = seed;
    t->rng_gen = atomic_load_explicit(&otus__fork_gen, memory_order_relaxed) + 1;
}
