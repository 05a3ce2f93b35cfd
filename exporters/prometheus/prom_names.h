/*
 * prom_names.h: the naming and text rules of the Prometheus exporter, kept apart from
 * the store and the renderer so each rule can be tested alone. Names follow the
 * OpenTelemetry "Prometheus and OpenMetrics Compatibility" specification (metric and
 * label names sanitised, units turned into suffixes, "_total" on counters); escaping
 * and number formats follow the Prometheus text format 0.0.4 and OpenMetrics 1.0.
 *
 * Nothing here allocates except the functions that append to a struct otus_buf, whose
 * own maximum bounds them.
 */
#ifndef OTUS_EXPORTERS_PROMETHEUS_PROM_NAMES_H
#define OTUS_EXPORTERS_PROMETHEUS_PROM_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "opentelemetry/proto/common/v1/common.pb-c.h"

/* The longest unit suffix kept ("kibibytes_per_second" and the like fit easily);
 * longer custom units are cut at a character boundary. */
#define PROM_UNIT_MAX 64

/* Longest number text: "-1.2345678901234567e-308" and exemplar timestamps fit. */
#define PROM_NUM_MAX 40

/*
 * The Prometheus unit word(s) for an OTLP (UCUM) unit: "s" -> "seconds",
 * "By" -> "bytes", "1" -> "ratio", "By/s" -> "bytes_per_second", "m/s" ->
 * "meters_per_second"; annotations in braces are dropped ("{request}" -> "",
 * "ms{ticks}" -> "milliseconds"); other units are sanitised ("requests" stays).
 * Writes a NUL-terminated word into out (PROM_UNIT_MAX bytes) and returns its length
 * (0: no unit).
 */
size_t prom_unit_word(const char *unit, char *out);

/*
 * Appends the metric family name for an OTLP metric to out: the name with every
 * character outside [a-zA-Z0-9_:] replaced by '_', runs of '_' collapsed, leading and
 * trailing '_' dropped, '_' put before a leading digit; then "_<unit>" unless the
 * name already ends with it. For counters (counter != 0) a trailing "_total" is
 * taken off first, because the family name of a counter is its sample name without
 * "_total" (OpenMetrics); the renderer adds "_total" to the samples. unit_out
 * (PROM_UNIT_MAX bytes) gets the unit word for the UNIT line. 0, or a negative
 * otus_status from out; OTUS_ERR_INVALID when nothing of the name is left.
 */
int prom_family_name(const char *name, const char *unit, int counter, struct otus_buf *out,
                     char *unit_out);

/*
 * Appends a label name for an attribute key: characters outside [a-zA-Z0-9_]
 * become '_', runs of '_' collapse, "key_" goes before a leading digit and "key"
 * before a single leading '_' (names starting with '_' are reserved). Returns 0,
 * OTUS_ERR_INVALID for an empty key, or a negative otus_status from out.
 */
int prom_label_name(const char *key, struct otus_buf *out);

/* The length of key when it is already a valid label name that prom_label_name would
 * keep as it is, else 0. */
size_t prom_label_name_clean_len(const char *key);

/*
 * Appends s[0..n) escaped as a label value (both formats): backslash, double quote
 * and line feed escaped, invalid UTF-8 replaced by U+FFFD so that a scrape is never
 * refused for it. 0 or a negative otus_status.
 */
int prom_escape_value(struct otus_buf *out, const char *s, size_t n);

/* Appends s[0..n) as it is but with invalid UTF-8 replaced by U+FFFD, for the
 * protobuf exposition's strings (Prometheus refuses a scrape with invalid UTF-8 in
 * them). 0 or a negative otus_status. */
int prom_utf8_clean(struct otus_buf *out, const char *s, size_t n);

/* Appends HELP text: backslash and line feed escaped, and the double quote too when
 * openmetrics; invalid UTF-8 replaced. 0 or a negative otus_status. */
int prom_escape_help(struct otus_buf *out, const char *s, size_t n, int openmetrics);

/*
 * Appends an attribute value as label value text (unescaped): strings as they are,
 * booleans "true"/"false", integers in decimal, doubles as prom_fmt_double, bytes in
 * base64, arrays and key-value lists as JSON. 0 or a negative otus_status.
 */
int prom_any_value(struct otus_buf *out, const Opentelemetry__Proto__Common__V1__AnyValue *v);

/* Writes v as a sample value ("NaN", "+Inf", "-Inf", integers without a point, other
 * values in the fewest digits that read back exactly); returns the length. out has
 * PROM_NUM_MAX bytes; the text is not NUL-terminated. */
size_t prom_fmt_double(double v, char *out);

/* Writes an unsigned integer in decimal; returns the length (at most 20). */
size_t prom_fmt_u64(uint64_t v, char *out);

/* Writes v in OpenMetrics' canonical form for "le" and "quantile" label values (Go's
 * %g with ".0" added to integers: 0.0, 0.001, 1.0, 100000.0, 1e+06, +Inf);
 * NUL-terminated; returns the length. */
size_t prom_fmt_canonical(double v, char *out);

/* Writes Unix nanoseconds as seconds with a fraction ("1520879607.789"), the
 * OpenMetrics timestamp form; returns the length. */
size_t prom_fmt_unix_ns(uint64_t ns, char *out);

#endif
