/*
 * clock.h: the two clocks Otus reads (monotonic for durations and deadlines, wall for
 * timestamps) and RFC 3339 formatting of Unix nanoseconds without libc's time zone
 * machinery.
 */
#ifndef OTUS_COMMON_CLOCK_H
#define OTUS_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" plus NUL. */
#define OTUS_RFC3339_NANO_LEN 30
#define OTUS_RFC3339_BUF      32

/* Nanoseconds of CLOCK_MONOTONIC: only differences mean anything. */
uint64_t otus_clock_mono_ns(void);

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t otus_clock_wall_ns(void);

/*
 * Writes unix_ns as UTC RFC 3339 with nine fractional digits into out (at least
 * OTUS_RFC3339_BUF bytes), NUL-terminated; returns the length (30 for years
 * 0000-9999; later years are clamped to 9999-12-31T23:59:59.999999999Z).
 */
size_t otus_time_rfc3339_nano(uint64_t unix_ns, char *out);

/* Splits unix seconds into a UTC civil date and time. */
void otus_time_civil(int64_t unix_s, int *year, int *month, int *day, int *hour, int *min,
                     int *sec);

#endif
