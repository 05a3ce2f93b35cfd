/*
 * json.h: a JSON writer that always produces valid JSON, whatever bytes it is given.
 *
 * Strings are escaped as RFC 8259 requires (quote, backslash and control characters);
 * valid UTF-8 passes through untouched and every maximal invalid UTF-8 sequence is
 * replaced by U+FFFD. Commas between members and elements are inserted by the writer.
 * Errors are sticky: every call after the first failure does nothing, and
 * otus_json_error() returns that first failure, so a caller checks once at the end.
 */
#ifndef OTUS_COMMON_JSON_H
#define OTUS_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define OTUS_JSON_MAX_DEPTH 64

struct otus_json {
    struct otus_buf *b; /* borrowed output */
    uint64_t comma;     /* bit d set: the container at depth d already has an item */
    int depth;          /* open containers */
    int err;            /* first failure, 0 while none */
};

/* Starts writing at the end of b (borrowed; must outlive the writer). */
void otus_json_init(struct otus_json *j, struct otus_buf *b);

/* The first failure (OTUS_ERR_TOO_BIG, OTUS_ERR_NOMEM, OTUS_ERR_INVALID for
 * unbalanced or too deep nesting) or 0. */
int otus_json_error(const struct otus_json *j);

void otus_json_object_begin(struct otus_json *j);
void otus_json_object_end(struct otus_json *j);
void otus_json_array_begin(struct otus_json *j);
void otus_json_array_end(struct otus_json *j);

/* A member name; the next value call writes its value. */
void otus_json_key(struct otus_json *j, const char *k, size_t n);
static inline void otus_json_key_cstr(struct otus_json *j, const char *k)
{
    otus_json_key(j, k, strlen(k));
}

/* A member name the caller guarantees needs no escaping (no '"', '\\', control
 * characters or non-ASCII bytes): written with one copy. */
void otus_json_key_plain(struct otus_json *j, const char *k, size_t n);

void otus_json_string(struct otus_json *j, const char *s, size_t n);
static inline void otus_json_cstr(struct otus_json *j, const char *s)
{
    otus_json_string(j, s, strlen(s));
}
void otus_json_int(struct otus_json *j, int64_t v);
void otus_json_uint(struct otus_json *j, uint64_t v);
/* A double with the fewest digits that read back to the same value, always with a
 * '.' or exponent so that consumers type it as floating point. NaN and infinities,
 * which JSON lacks, are written as the strings "NaN", "Infinity", "-Infinity". */
void otus_json_double(struct otus_json *j, double v);
void otus_json_bool(struct otus_json *j, bool v);
void otus_json_null(struct otus_json *j);
/* Raw JSON text the caller vouches for (already valid JSON for one value). */
void otus_json_raw(struct otus_json *j, const char *s, size_t n);

/*
 * Appends s[0..n) as a quoted, escaped JSON string to b. 0 or a negative otus_status.
 * The core of the writer, usable alone.
 */
int otus_json_escape(struct otus_buf *b, const char *s, size_t n);

/*
 * Length (2-4) of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) that starts with the non-ASCII byte at s, of the
 * n bytes available; 0 when ill-formed, with *bad (MAY be NULL) set to the length of
 * the maximal ill-formed subpart (what one U+FFFD replaces).
 */
size_t otus_utf8_seq(const unsigned char *s, size_t n, size_t *bad);

/* Writes the shortest round-trip text of a finite double into out (at least 32
 * bytes) with a '.' or exponent; returns its length. */
size_t otus_json_format_double(double v, char *out);

#endif
