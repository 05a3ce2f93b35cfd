/*
 * clock.c: clock reads and RFC 3339 formatting (clock.h). The date conversion is
 * Howard Hinnant's days-to-civil algorithm: exact for the proleptic Gregorian
 * calendar, branch-light, and free of gmtime's locale and time zone work.
 */
#include "common/clock.h"

#include <string.h>
#include <time.h>

uint64_t otus_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t otus_clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void otus_time_civil(int64_t unix_s, int *year, int *month, int *day, int *hour, int *min, int *sec)
{
    int64_t days = unix_s / 86400;
    int64_t rem = unix_s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    *hour = (int)(rem / 3600);
    *min = (int)(rem / 60 % 60);
    *sec = (int)(rem % 60);

    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

static inline void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

size_t otus_time_rfc3339_nano(uint64_t unix_ns, char *out)
{
    /* 253402300799 is 9999-12-31T23:59:59Z, the last instant RFC 3339 can write. */
    const uint64_t max_s = 253402300799ull;
    uint64_t s = unix_ns / 1000000000u;
    uint32_t ns = (uint32_t)(unix_ns % 1000000000u);
    if (s > max_s) {
        s = max_s;
        ns = 999999999u;
    }
    /* Consecutive timestamps mostly share their second: keep its text per thread. */
    static _Thread_local uint64_t cached_s = UINT64_MAX;
    static _Thread_local char cached[19];
    if (s == cached_s) {
        memcpy(out, cached, 19);
        goto fraction;
    }
    int year, month, day, hour, min, sec;
    otus_time_civil((int64_t)s, &year, &month, &day, &hour, &min, &sec);
    put2(out, year / 100);
    put2(out + 2, year % 100);
    out[4] = '-';
    put2(out + 5, month);
    out[7] = '-';
    put2(out + 8, day);
    out[10] = 'T';
    put2(out + 11, hour);
    out[13] = ':';
    put2(out + 14, min);
    out[16] = ':';
    put2(out + 17, sec);
    memcpy(cached, out, 19);
    cached_s = s;
fraction:
    out[19] = '.';
    for (int i = 28; i >= 20; i--) {
        out[i] = (char)('0' + ns % 10);
        ns /= 10;
    }
    out[29] = 'Z';
    out[30] = '\0';
    return OTUS_RFC3339_NANO_LEN;
}
