/*
 * backoff.c: exponential backoff with full jitter and Retry-After parsing (see
 * backoff.h). The PRNG is splitmix64: one 64-bit word of state, a handful of
 * multiplies per number, and statistically sound for drawing delays. Numbers in a
 * range are drawn by rejection, so no delay is favoured by modulo bias.
 */
#include "common/backoff.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>

#include <otus.h>

#include "common/clock.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A seed that differs between instances, threads and runs: two clocks, the
 * instance's address and a process-wide counter, mixed through splitmix64. */
static uint64_t random_seed(const void *instance)
{
    static _Atomic uint64_t counter;
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    uint64_t s = otus_clock_mono_ns() ^ (otus_clock_wall_ns() << 17) ^
                 (uint64_t)(uintptr_t)instance ^ (n * 0xd1342543de82ef95ull);
    return splitmix64(&s);
}

void otus_backoff_init(struct otus_backoff *b, const struct otus_backoff_opts *opts)
{
    struct otus_backoff_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.initial_interval_ms)
        o.initial_interval_ms = OTUS_BACKOFF_DEFAULT_INITIAL_MS;
    if (o.multiplier == 0.0)
        o.multiplier = OTUS_BACKOFF_DEFAULT_MULTIPLIER;
    else if (!(o.multiplier >= 1.0)) /* also NaN */
        o.multiplier = 1.0;
    if (!o.max_interval_ms)
        o.max_interval_ms = OTUS_BACKOFF_DEFAULT_MAX_INTERVAL_MS;
    if (!o.max_elapsed_ms)
        o.max_elapsed_ms = OTUS_BACKOFF_DEFAULT_MAX_ELAPSED_MS;
    b->opts = o;
    b->rng = o.seed ? o.seed : random_seed(b);
    otus_backoff_reset(b);
}

void otus_backoff_reset(struct otus_backoff *b)
{
    uint64_t first = b->opts.initial_interval_ms;
    if (first > b->opts.max_interval_ms)
        first = b->opts.max_interval_ms;
    b->bound_ms = (double)first;
    b->start_ms = 0;
    b->attempts = 0;
    b->running = 0;
}

uint64_t otus_backoff_uniform(struct otus_backoff *b, uint64_t bound)
{
    if (bound == UINT64_MAX)
        return splitmix64(&b->rng);
    uint64_t range = bound + 1;
    uint64_t threshold = (0 - range) % range; /* 2^64 mod range: values below are biased */
    for (;;) {
        uint64_t r = splitmix64(&b->rng);
        if (r >= threshold)
            return r % range;
    }
}

int64_t otus_backoff_next(struct otus_backoff *b, uint64_t now_ms, int64_t retry_after_ms)
{
    if (!b->running) {
        b->running = 1;
        b->start_ms = now_ms;
    }
    uint64_t elapsed = now_ms > b->start_ms ? now_ms - b->start_ms : 0;
    uint64_t max_elapsed = b->opts.max_elapsed_ms;
    if (max_elapsed != UINT64_MAX && elapsed >= max_elapsed)
        return OTUS_BACKOFF_STOP;

    uint64_t bound = (uint64_t)b->bound_ms;
    uint64_t delay = otus_backoff_uniform(b, bound);
    double grown = b->bound_ms * b->opts.multiplier;
    double max_interval = (double)b->opts.max_interval_ms;
    b->bound_ms = grown < max_interval ? grown : max_interval;
    if (b->attempts < UINT32_MAX)
        b->attempts++;

    if (retry_after_ms >= 0 && (uint64_t)retry_after_ms > delay)
        delay = (uint64_t)retry_after_ms;
    if (max_elapsed != UINT64_MAX) {
        uint64_t remaining = max_elapsed - elapsed;
        if (retry_after_ms >= 0 && (uint64_t)retry_after_ms > remaining)
            return OTUS_BACKOFF_STOP;
        if (delay > remaining)
            delay = remaining;
    }
    if (delay > (uint64_t)INT64_MAX)
        delay = (uint64_t)INT64_MAX;
    return (int64_t)delay;
}

/* ---- Retry-After ------------------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0)
        return -1;
    *p += n;
    return 0;
}

static int month_name(const char **p, int *m)
{
    static const char *const names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++) {
        if (strncmp(*p, names[i], 3) == 0) {
            *p += 3;
            *m = i + 1;
            return 0;
        }
    }
    return -1;
}

/* "HH:MM:SS" */
static int time_of_day(const char **p, int *hh, int *mm, int *ss)
{
    if (digits(p, 2, hh) || lit(p, ":") || digits(p, 2, mm) || lit(p, ":") || digits(p, 2, ss))
        return -1;
    if (*hh > 23 || *mm > 59 || *ss > 60) /* 60: a leap second */
        return -1;
    return 0;
}

int otus_http_date_parse(const char *s, int64_t *unix_s)
{
    static const char *const short_days[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const long_days[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                             "Friday", "Saturday", "Sunday"};
    const char *p = s;
    int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
    int rc = OTUS_ERR_PARSE;

    while (*p == ' ' || *p == '\t')
        p++;
    size_t nlen = 0;
    while (isalpha((unsigned char)p[nlen]))
        nlen++;
    int day_ok = 0;
    for (int i = 0; i < 7 && !day_ok; i++) {
        if (nlen == 3 && strncmp(p, short_days[i], 3) == 0)
            day_ok = 1;
        else if (nlen > 3 && nlen == strlen(long_days[i]) && strncmp(p, long_days[i], nlen) == 0)
            day_ok = 2;
    }
    if (!day_ok)
        goto out;
    p += nlen;

    if (day_ok == 1 && p[0] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        p++;
        if (lit(&p, " ") || digits(&p, 2, &d) || lit(&p, " ") || month_name(&p, &m) ||
            lit(&p, " ") || digits(&p, 4, &y) || lit(&p, " ") || time_of_day(&p, &hh, &mm, &ss) ||
            lit(&p, " GMT"))
            goto out;
    } else if (day_ok == 2 && p[0] == ',') {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        p++;
        int yy;
        if (lit(&p, " ") || digits(&p, 2, &d) || lit(&p, "-") || month_name(&p, &m) ||
            lit(&p, "-") || digits(&p, 2, &yy) || lit(&p, " ") || time_of_day(&p, &hh, &mm, &ss) ||
            lit(&p, " GMT"))
            goto out;
        /* RFC 9110 5.6.7: a two-digit year more than 50 years in the future is the most
         * recent past year with those last two digits. */
        int cy, cm, cd, ch, cmi, cs;
        otus_time_civil((int64_t)(otus_clock_wall_ns() / 1000000000u), &cy, &cm, &cd, &ch, &cmi,
                        &cs);
        y = cy - cy % 100 + yy;
        if (y > cy + 50)
            y -= 100;
    } else if (day_ok == 1 && p[0] == ' ') {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        p++;
        if (month_name(&p, &m) || lit(&p, " "))
            goto out;
        if (p[0] == ' ') {
            p++;
            if (digits(&p, 1, &d))
                goto out;
        } else if (digits(&p, 2, &d)) {
            goto out;
        }
        if (lit(&p, " ") || time_of_day(&p, &hh, &mm, &ss) || lit(&p, " ") || digits(&p, 4, &y))
            goto out;
    } else {
        goto out;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p || d < 1 || d > days_in_month(y, m))
        goto out;
    *unix_s = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    rc = 0;
out:
    return rc;
}

int otus_retry_after_parse(const char *value, const char *date, uint64_t now_unix_ms,
                           int64_t *out_ms)
{
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (isdigit((unsigned char)*p)) {
        /* delay-seconds; absurdly large values are clamped, not refused: the server
         * wants us away for a long time, and the caller's max_elapsed decides. */
        const int64_t max_sec = INT64_MAX / 1000;
        int64_t sec = 0;
        while (isdigit((unsigned char)*p)) {
            int d = *p - '0';
            sec = sec > (max_sec - d) / 10 ? max_sec : sec * 10 + d;
            p++;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p)
            return OTUS_ERR_PARSE;
        *out_ms = sec * 1000;
        return 0;
    }
    int64_t at_s, ref_s;
    if (otus_http_date_parse(p, &at_s) != 0)
        return OTUS_ERR_PARSE;
    int64_t delay_ms;
    if (date && otus_http_date_parse(date, &ref_s) == 0)
        delay_ms = (at_s - ref_s) * 1000;
    else
        delay_ms = at_s * 1000 - (int64_t)now_unix_ms;
    *out_ms = delay_ms > 0 ? delay_ms : 0;
    return 0;
}
