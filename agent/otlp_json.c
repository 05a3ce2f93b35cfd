/*
 * otlp_json.c: the OTLP/JSON codec of otlp_json.h.
 *
 * Both directions walk the protobuf-c descriptors generated from proto/ instead of
 * naming fields one by one: a field's type, its place in the struct, its oneof case
 * and its element count all come from the same table protobuf-c's own unpack uses,
 * which is what makes the decoded structs identical to unpack's and keeps the codec
 * complete when proto/ gains a field. The only OTLP-specific knowledge is the set of
 * ID fields written in hex.
 *
 * Decoding parses the body with common/json_parse.h into a tree held in an arena of
 * its own (freed before returning), then fills the structs from the tree. Numbers
 * keep their text there, so integer literals of any length (a fixed64 up to 2^64-1, a
 * double written without a fraction) are read exactly. Errors carry the path of keys
 * and indexes from the top, kept in a small stack as the walk descends and formatted
 * only when something fails; the parser's own errors carry line and column.
 */
#include "agent/otlp_json.h"

#include <assert.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/hex.h"
#include "common/json_parse.h"

/* ---- shared by both directions --------------------------------------------------- */

/*
 * The bytes fields OTLP writes in hex rather than base64, and their length in bytes:
 * trace_id, span_id and parent_span_id wherever they occur. 0 for any other field.
 */
static size_t id_length(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_BYTES)
        return 0;
    if (strcmp(f->name, "trace_id") == 0)
        return OTUS_TRACE_ID_LEN;
    if (strcmp(f->name, "span_id") == 0 || strcmp(f->name, "parent_span_id") == 0)
        return OTUS_SPAN_ID_LEN;
    return 0;
}

/* The lowerCamelCase JSON name of a proto field name ("time_unix_nano": "timeUnixNano"),
 * as protoc derives it. out has room for cap bytes including the NUL. */
static size_t json_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    bool upper = false;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        char c = *p;
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        upper = false;
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

/* Size of one element of a repeated field's array, as protobuf-c lays them out. */
static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- decoding: the walk's state and its errors ----------------------------------- */

/*
 * The keys that name one field, as proto3 JSON names it: its lowerCamelCase form,
 * unless that form is impossible (a name ending in '_') or holds a '_' (a key with a
 * '_' is compared as snake_case), and its own name when that holds a '_' (otherwise
 * the two are the same). A key names the field when it equals either.
 */
struct field_keys {
    const char *camel; /* NULL when no key names the field the camelCase way */
    const char *snake; /* NULL when the name has no '_' */
    size_t camel_len, snake_len;
};

/* The field_keys of one message type, built on first use in a decode call. */
struct message_keys {
    const ProtobufCMessageDescriptor *desc; /* NULL: a free slot */
    struct field_keys *fields;              /* desc->n_fields of them */
};

/* Slots for the message types of one decode call: more than any request has. */
#define MESSAGE_KEY_SLOTS 64

struct path_seg {
    const char *key; /* member name as written in the input; NULL for an array index */
    size_t n;        /* the key's length, or the index */
};

struct dec {
    struct otus_arena *arena;   /* borrowed; receives the result */
    struct otus_arena *scratch; /* borrowed; holds the parse tree and passing copies */
    struct otus_buf *err;       /* borrowed, MAY be NULL */
    int depth;                  /* JSON containers entered */
    int npath;                  /* segments in path */
    struct path_seg path[OTUS_OTLP_JSON_MAX_DEPTH + 1];
    struct message_keys keys[MESSAGE_KEY_SLOTS]; /* of each message type met so far */
};

/* Appends text to the error message with anything but printable ASCII replaced, so
 * that the message can go into a response as it is. */
static void err_append_clean(struct otus_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        otus_buf_append_byte(b, c >= 0x20 && c < 0x7f ? (char)c : '?');
    }
}

/* Sets the error message to "<path>: <message>" and returns status. */
static int fail(struct dec *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct dec *d, int status, const char *fmt, ...)
{
    struct otus_buf *b = d->err;
    if (!b)
        return status;
    otus_buf_reset(b);
    for (int i = 0; i < d->npath; i++) {
        const struct path_seg *s = &d->path[i];
        if (s->key) {
            if (i > 0)
                otus_buf_append_byte(b, '.');
            err_append_clean(b, s->key, s->n);
        } else {
            otus_buf_printf(b, "[%zu]", s->n);
        }
    }
    if (d->npath > 0)
        otus_buf_append_str(b, ": ");
    va_list ap;
    va_start(ap, fmt);
    otus_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return status;
}

static void *dec_alloc(struct dec *d, size_t n)
{
    return otus_arena_alloc(d->arena, n);
}

/* The limit is the whole request's: the place where it was reached says nothing. */
static int fail_arena(struct dec *d)
{
    d->npath = 0;
    return fail(d, OTUS_ERR_TOO_BIG, "the decoded request exceeds its memory limit");
}

/* The scratch arena is sized for the worst the input can need; the system's memory
 * ran out. */
static int fail_scratch(struct dec *d)
{
    d->npath = 0;
    return fail(d, OTUS_ERR_NOMEM, "out of memory while decoding");
}

static void path_push(struct dec *d, const char *key, size_t n)
{
    assert(d->npath < (int)(sizeof(d->path) / sizeof(d->path[0])));
    d->path[d->npath].key = key;
    d->path[d->npath].n = n;
    d->npath++;
}

/* Enters a JSON container; every container on the path holds at most one segment,
 * so the path never outgrows the depth. */
static int enter(struct dec *d)
{
    if (d->depth >= OTUS_OTLP_JSON_MAX_DEPTH)
        return fail(d, OTUS_ERR_PARSE, "nested deeper than %d levels", OTUS_OTLP_JSON_MAX_DEPTH);
    d->depth++;
    return 0;
}

/* ---- decoding: scalars ------------------------------------------------------------- */

/* The text of a string value, or NULL when v is not a string. */
static const char *string_of(const struct otus_json_node *v, size_t *n)
{
    if (v->kind != OTUS_JSON_STRING)
        return NULL;
    *n = v->len;
    return v->u.str;
}

enum num_kind {
    NUM_NONE,     /* not a number */
    NUM_INT,      /* a JSON integer within a long long: i */
    NUM_REAL,     /* a JSON real, or "NaN"/"Infinity"/"-Infinity": r */
    NUM_TEXT_INT, /* an integer's text (from a string or a longer literal): s, n */
    NUM_TEXT_REAL /* a JSON number's text with a fraction or exponent: s, n */
};

struct num {
    enum num_kind kind;
    long long i;
    double r;
    const char *s;
    size_t n;
};

/* Length of the JSON number (RFC 8259 grammar) at the start of s[0..n); 0 if none.
 * *integer tells whether it lacks a fraction and an exponent. Leading zeros are
 * allowed, as integer parsers of proto3's JSON accept them in strings. */
static size_t number_span(const char *s, size_t n, bool *integer)
{
    size_t i = 0;
    *integer = true;
    if (i < n && s[i] == '-')
        i++;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == start)
        return 0;
    if (i < n && s[i] == '.') {
        *integer = false;
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *integer = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return 0;
    }
    return i;
}

/* Sign and magnitude of an integer's text (-?[0-9]+); false when the magnitude does
 * not fit in 64 bits. */
static bool text_to_magnitude(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = n > 0 && s[0] == '-';
    if (*neg)
        i++;
    uint64_t m = 0;
    for (; i < n; i++) {
        if (__builtin_mul_overflow(m, 10, &m) ||
            __builtin_add_overflow(m, (uint64_t)(s[i] - '0'), &m))
            return false;
    }
    *mag = m;
    return true;
}

/* Converts a JSON number's text to a double with strtod, after putting the locale's
 * decimal point in place of '.'. A value beyond double's range becomes an infinity.
 * 0 or a scratch failure. */
static int text_to_double(struct dec *d, const char *s, size_t n, double *out)
{
    char local[64];
    char *copy = n < sizeof(local) ? local : otus_arena_alloc(d->scratch, n + 1);
    if (!copy)
        return fail_scratch(d);
    memcpy(copy, s, n);
    copy[n] = '\0';
    const char *point = localeconv()->decimal_point;
    char *dot = memchr(copy, '.', n);
    if (dot && point && point[0] && point[0] != '.')
        *dot = point[0];
    *out = strtod(copy, NULL);
    return 0;
}

/* Classifies v as a number in any of the forms proto3's JSON allows. A JSON integer
 * within a long long is NUM_INT, so that it converts to a double as an integer (-0 is
 * 0); a longer one keeps its text. 0 or a scratch failure. */
static int read_number(struct dec *d, const struct otus_json_node *v, struct num *out)
{
    out->kind = NUM_NONE;
    if (v->kind == OTUS_JSON_NUMBER) {
        if (!(v->flags & OTUS_JSON_INTEGER)) {
            out->kind = NUM_REAL;
            return text_to_double(d, v->u.str, v->len, &out->r);
        }
        bool neg;
        uint64_t mag;
        if (text_to_magnitude(v->u.str, v->len, &neg, &mag) &&
            mag <= (uint64_t)LLONG_MAX + (neg ? 1 : 0)) {
            out->kind = NUM_INT;
            out->i = neg ? (long long)(0 - mag) : (long long)mag;
            return 0;
        }
        out->kind = NUM_TEXT_INT;
        out->s = v->u.str;
        out->n = v->len;
        return 0;
    }
    if (v->kind != OTUS_JSON_STRING)
        return 0;
    const char *s = v->u.str;
    size_t n = v->len;
    if (n == 3 && memcmp(s, "NaN", 3) == 0) {
        out->kind = NUM_REAL;
        out->r = NAN;
        return 0;
    } else if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
        out->kind = NUM_REAL;
        out->r = INFINITY;
        return 0;
    } else if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
        out->kind = NUM_REAL;
        out->r = -INFINITY;
        return 0;
    }
    bool integer;
    if (n == 0 || number_span(s, n, &integer) != n)
        return 0;
    out->kind = integer ? NUM_TEXT_INT : NUM_TEXT_REAL;
    out->s = s;
    out->n = n;
    return 0;
}

/* A number for a field of a floating-point type. */
static int get_double(struct dec *d, const struct otus_json_node *v, double *out)
{
    struct num num;
    int rc = read_number(d, v, &num);
    if (rc)
        return rc;
    switch (num.kind) {
    case NUM_INT:
        *out = (double)num.i;
        return 0;
    case NUM_REAL:
        *out = num.r;
        return 0;
    case NUM_TEXT_INT:
    case NUM_TEXT_REAL:
        rc = text_to_double(d, num.s, num.n, out);
        if (!rc && isinf(*out))
            rc = fail(d, OTUS_ERR_PARSE, "out of range for double");
        return rc;
    case NUM_NONE:
        break;
    }
    return fail(d, OTUS_ERR_PARSE, "expected a number");
}

/*
 * The sign and magnitude of an integer in any form proto3's JSON allows (numbers,
 * numeric strings, exponent forms that denote an integer). *fits is false when the
 * magnitude is beyond 64 bits, which every caller reports as out of range.
 */
static int get_integer(struct dec *d, const struct otus_json_node *v, bool *neg, uint64_t *mag,
                       bool *fits)
{
    struct num num;
    int rc = read_number(d, v, &num);
    if (rc)
        return rc;
    *fits = true;
    double r;
    switch (num.kind) {
    case NUM_INT:
        *neg = num.i < 0;
        *mag = *neg ? (uint64_t)0 - (uint64_t)num.i : (uint64_t)num.i;
        return 0;
    case NUM_TEXT_INT:
        *fits = text_to_magnitude(num.s, num.n, neg, mag);
        return 0;
    case NUM_TEXT_REAL:
        rc = text_to_double(d, num.s, num.n, &r);
        if (rc)
            return rc;
        if (isinf(r)) {
            *fits = false; /* beyond double's range, so beyond any integer's */
            return 0;
        }
        break;
    case NUM_REAL:
        r = num.r;
        break;
    case NUM_NONE:
    default:
        return fail(d, OTUS_ERR_PARSE, "expected an integer");
    }
    if (!isfinite(r) || r != trunc(r))
        return fail(d, OTUS_ERR_PARSE, "expected an integer");
    *neg = signbit(r) && r != 0;
    double a = fabs(r);
    if (a >= 18446744073709551616.0) {
        *fits = false;
        return 0;
    }
    *mag = (uint64_t)a;
    return 0;
}

/* A signed integer within [min, max]. */
static int get_signed(struct dec *d, const struct otus_json_node *v, int64_t min, int64_t max,
                      const char *type, int64_t *out)
{
    bool neg, fits;
    uint64_t mag = 0;
    int rc = get_integer(d, v, &neg, &mag, &fits);
    if (rc)
        return rc;
    if (fits && !neg && mag <= (uint64_t)max) {
        *out = (int64_t)mag;
        return 0;
    }
    /* -(min + 1) + 1 is min's magnitude without overflowing int64_t. */
    if (fits && neg && mag <= (uint64_t)(-(min + 1)) + 1) {
        *out = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
        return 0;
    }
    return fail(d, OTUS_ERR_PARSE, "out of range for %s", type);
}

/* An unsigned integer within [0, max]. */
static int get_unsigned(struct dec *d, const struct otus_json_node *v, uint64_t max,
                        const char *type, uint64_t *out)
{
    bool neg, fits;
    uint64_t mag = 0;
    int rc = get_integer(d, v, &neg, &mag, &fits);
    if (rc)
        return rc;
    if (!fits || (neg && mag != 0) || mag > max)
        return fail(d, OTUS_ERR_PARSE, "out of range for %s", type);
    *out = mag;
    return 0;
}

/* An enum: its number (any int32, as proto3 enums are open) or one of its names. */
static int get_enum(struct dec *d, const ProtobufCFieldDescriptor *f,
                    const struct otus_json_node *v, int32_t *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    size_t n;
    const char *s = string_of(v, &n);
    if (s) {
        /* Value names are short C identifiers; a longer string names none. */
        char name[128];
        const ProtobufCEnumValue *ev = NULL;
        if (n < sizeof(name)) {
            memcpy(name, s, n);
            name[n] = '\0';
            ev = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
        }
        if (!ev)
            return fail(d, OTUS_ERR_PARSE, "not a value name of %s", ed->short_name);
        *out = ev->value;
        return 0;
    }
    if (v->kind != OTUS_JSON_NUMBER)
        return fail(d, OTUS_ERR_PARSE, "expected an integer or a value name of %s", ed->short_name);
    int64_t x;
    int rc = get_signed(d, v, INT32_MIN, INT32_MAX, "an enum", &x);
    if (rc)
        return rc;
    *out = (int32_t)x;
    return 0;
}

/* A hex ID of exactly want bytes, or "" for none. */
static int get_id(struct dec *d, const struct otus_json_node *v, size_t want,
                  ProtobufCBinaryData *out)
{
    size_t n;
    const char *s = string_of(v, &n);
    if (s && n == 0) {
        out->len = 0;
        out->data = NULL;
        return 0;
    }
    if (!s || n != 2 * want)
        return fail(d, OTUS_ERR_PARSE, "expected %zu hex digits", 2 * want);
    uint8_t *bytes = dec_alloc(d, want);
    if (!bytes)
        return fail_arena(d);
    if (otus_hex_decode(s, n, bytes, 0) != 0)
        return fail(d, OTUS_ERR_PARSE, "expected %zu hex digits", 2 * want);
    out->len = want;
    out->data = bytes;
    return 0;
}

/* Value of a base64 digit in either alphabet: 0-63, +64 for the URL-safe '-' and '_',
 * +128 for the standard '+' and '/'; -1 for anything else. */
static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    switch (c) {
    case '+':
        return 62 + 128;
    case '/':
        return 63 + 128;
    case '-':
        return 62 + 64;
    case '_':
        return 63 + 64;
    }
    return -1;
}

/* Bytes in base64, standard or URL-safe (not both in one value), padded or not. */
static int get_base64(struct dec *d, const struct otus_json_node *v, ProtobufCBinaryData *out)
{
    size_t n;
    const char *s = string_of(v, &n);
    if (!s)
        return fail(d, OTUS_ERR_PARSE, "expected a base64 string");
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    size_t digits = n - pad;
    if (digits % 4 == 1 || (pad && n % 4 != 0))
        return fail(d, OTUS_ERR_PARSE, "invalid base64");
    size_t len = digits / 4 * 3 + (digits % 4 == 0 ? 0 : digits % 4 - 1);
    if (len == 0) {
        out->len = 0;
        out->data = NULL;
        return 0;
    }
    uint8_t *bytes = dec_alloc(d, len);
    if (!bytes)
        return fail_arena(d);
    unsigned alphabets = 0;
    uint32_t acc = 0;
    size_t o = 0;
    for (size_t i = 0; i < digits; i++) {
        int x = b64_digit((unsigned char)s[i]);
        if (x < 0)
            return fail(d, OTUS_ERR_PARSE, "invalid base64");
        alphabets |= (unsigned)x & 0xc0;
        acc = acc << 6 | ((unsigned)x & 63);
        if (i % 4 == 3) {
            bytes[o++] = (uint8_t)(acc >> 16);
            bytes[o++] = (uint8_t)(acc >> 8);
            bytes[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (alphabets == 0xc0)
        return fail(d, OTUS_ERR_PARSE, "invalid base64 (mixes the standard and URL alphabets)");
    if (digits % 4 == 2) {
        bytes[o++] = (uint8_t)(acc >> 4);
    } else if (digits % 4 == 3) {
        bytes[o++] = (uint8_t)(acc >> 10);
        bytes[o++] = (uint8_t)(acc >> 2);
    }
    assert(o == len);
    out->len = len;
    out->data = bytes;
    return 0;
}

/* ---- decoding: messages -------------------------------------------------------------- */

static int dec_message(struct dec *d, const ProtobufCMessageDescriptor *desc,
                       const struct otus_json_node *obj, ProtobufCMessage *msg);

/*
 * Decodes one value of field f into member. An empty string gets its own copy when
 * own_empty is set (an element of a repeated field or a oneof member, which unpack
 * always copies) and is the field's default otherwise (as unpack leaves a plain field
 * that proto3 does not write when empty).
 */
static int dec_value(struct dec *d, const ProtobufCFieldDescriptor *f,
                     const struct otus_json_node *v, void *member, bool own_empty)
{
    int rc = 0;
    int64_t i64;
    uint64_t u64;
    double dbl;
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sub = f->descriptor;
        if (v->kind != OTUS_JSON_OBJECT)
            return fail(d, OTUS_ERR_PARSE, "expected an object");
        ProtobufCMessage *m = dec_alloc(d, sub->sizeof_message);
        if (!m)
            return fail_arena(d);
        sub->message_init(m);
        rc = dec_message(d, sub, v, m);
        *(ProtobufCMessage **)member = m;
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        size_t n;
        const char *s = string_of(v, &n);
        if (!s)
            return fail(d, OTUS_ERR_PARSE, "expected a string");
        if (n == 0 && !own_empty && f->default_value) {
            *(char **)member = (char *)f->default_value;
            break;
        }
        char *copy = otus_arena_strndup(d->arena, s, n);
        if (!copy)
            return fail_arena(d);
        *(char **)member = copy;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        size_t id = id_length(f);
        rc = id ? get_id(d, v, id, member) : get_base64(d, v, member);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (v->kind != OTUS_JSON_TRUE && v->kind != OTUS_JSON_FALSE)
            return fail(d, OTUS_ERR_PARSE, "expected true or false");
        *(protobuf_c_boolean *)member = v->kind == OTUS_JSON_TRUE;
        break;
    case PROTOBUF_C_TYPE_ENUM:
        rc = get_enum(d, f, v, member);
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        rc = get_signed(d, v, INT32_MIN, INT32_MAX, "int32", &i64);
        if (!rc)
            *(int32_t *)member = (int32_t)i64;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        rc = get_unsigned(d, v, UINT32_MAX, "uint32", &u64);
        if (!rc)
            *(uint32_t *)member = (uint32_t)u64;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        rc = get_signed(d, v, INT64_MIN, INT64_MAX, "int64", &i64);
        if (!rc)
            *(int64_t *)member = i64;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        rc = get_unsigned(d, v, UINT64_MAX, "uint64", &u64);
        if (!rc)
            *(uint64_t *)member = u64;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        rc = get_double(d, v, &dbl);
        if (!rc && isfinite(dbl) && fabs(dbl) > FLT_MAX)
            rc = fail(d, OTUS_ERR_PARSE, "out of range for float");
        if (!rc)
            *(float *)member = (float)dbl;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        rc = get_double(d, v, &dbl);
        if (!rc)
            *(double *)member = dbl;
        break;
    }
    return rc;
}

/* A repeated field: a JSON array whose elements are decoded into one new array. */
static int dec_repeated(struct dec *d, const ProtobufCFieldDescriptor *f,
                        const struct otus_json_node *arr, ProtobufCMessage *msg)
{
    if (arr->kind != OTUS_JSON_ARRAY)
        return fail(d, OTUS_ERR_PARSE, "expected an array");
    int rc = enter(d);
    if (rc)
        return rc;
    size_t n = arr->len;
    size_t size = element_size(f->type);
    assert(size > 0);
    char *items = NULL;
    if (n > 0) {
        items = n <= SIZE_MAX / size ? dec_alloc(d, n * size) : NULL;
        if (!items)
            return fail_arena(d);
    }
    for (size_t i = 0; i < n; i++) {
        path_push(d, NULL, i);
        rc = dec_value(d, f, &arr->u.items[i], items + i * size, true);
        if (rc)
            return rc;
        d->npath--;
    }
    *(size_t *)((char *)msg + f->quantifier_offset) = n;
    *(void **)((char *)msg + f->offset) = items;
    d->depth--;
    return 0;
}

/* A singular field; a oneof member also sets its case, after checking that no other
 * member of the oneof was given. */
static int dec_singular(struct dec *d, const ProtobufCFieldDescriptor *f,
                        const struct otus_json_node *v, ProtobufCMessage *msg)
{
    char *base = (char *)msg;
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return dec_value(d, f, v, base + f->offset, false);
    uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
    if (*which != 0) {
        const ProtobufCFieldDescriptor *other =
            protobuf_c_message_descriptor_get_field(msg->descriptor, *which);
        char name[64];
        json_name(other ? other->name : "?", name, sizeof(name));
        return fail(d, OTUS_ERR_PARSE, "conflicts with %s: only one of them may be set", name);
    }
    int rc = dec_value(d, f, v, base + f->offset, true);
    if (!rc)
        *which = f->id;
    return rc;
}

/* The camelCase key of name (each '_' dropped, the character after it upper-cased)
 * into out (strlen(name) + 1 bytes); false when there is none (a name ending in '_')
 * or when it holds a '_' (a name with "__"), as a key with a '_' is snake_case. */
static bool camel_key(const char *name, char *out, size_t *len)
{
    size_t i = 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (c == '_') {
            c = *++p;
            if (c == '\0')
                return false;
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
        }
        out[i++] = c;
    }
    out[i] = '\0';
    *len = i;
    return memchr(out, '_', i) == NULL;
}

/* Builds the field_keys of desc in the scratch arena; NULL when it is out of memory. */
static struct field_keys *build_keys(struct dec *d, const ProtobufCMessageDescriptor *desc)
{
    struct field_keys *keys = otus_arena_alloc(d->scratch, desc->n_fields * sizeof(*keys) + 1);
    if (!keys)
        return NULL;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const char *name = desc->fields[i].name;
        size_t n = strlen(name);
        char *camel = otus_arena_alloc(d->scratch, n + 1);
        if (!camel)
            return NULL;
        struct field_keys *k = &keys[i];
        k->camel = camel_key(name, camel, &k->camel_len) ? camel : NULL;
        k->snake = memchr(name, '_', n) ? name : NULL;
        k->snake_len = n;
        if (!k->camel)
            k->camel_len = 0;
    }
    return keys;
}

/* The field_keys of desc, from this call's slots or built now; NULL when out of
 * memory. */
static struct field_keys *message_keys(struct dec *d, const ProtobufCMessageDescriptor *desc)
{
    unsigned slot = (unsigned)((uintptr_t)desc >> 4) % MESSAGE_KEY_SLOTS;
    for (unsigned tried = 0; tried < MESSAGE_KEY_SLOTS; tried++) {
        struct message_keys *mk = &d->keys[slot];
        if (mk->desc == desc)
            return mk->fields;
        if (!mk->desc) {
            mk->fields = build_keys(d, desc);
            if (mk->fields)
                mk->desc = desc;
            return mk->fields;
        }
        slot = (slot + 1) % MESSAGE_KEY_SLOTS;
    }
    return build_keys(d, desc); /* every slot taken: unreachable with OTLP's messages */
}

/*
 * The index of the field that the key names, or n (the number of fields) for none. At
 * most one field can match (protoc refuses fields whose JSON names collide), so the
 * search may start anywhere: it starts after the field matched last, as keys mostly
 * come in field order.
 */
static unsigned find_field(const struct field_keys *keys, unsigned n, const char *key, size_t klen,
                           unsigned hint)
{
    unsigned idx = hint < n ? hint : 0;
    for (unsigned tried = 0; tried < n; tried++) {
        const struct field_keys *k = &keys[idx];
        if ((k->camel_len == klen && k->camel && memcmp(k->camel, key, klen) == 0) ||
            (k->snake_len == klen && k->snake && memcmp(k->snake, key, klen) == 0))
            return idx;
        if (++idx == n)
            idx = 0;
    }
    return n;
}

static int dec_message(struct dec *d, const ProtobufCMessageDescriptor *desc,
                       const struct otus_json_node *obj, ProtobufCMessage *msg)
{
    int rc = enter(d);
    if (rc)
        return rc;
    /* Proto3 only (no has_* quantifiers), and few enough fields for one mask. */
    assert(desc->n_fields <= 64);
    uint64_t seen = 0;
    unsigned hint = 0;
    const struct field_keys *keys = obj->len ? message_keys(d, desc) : NULL;
    if (obj->len && !keys)
        return fail_scratch(d);
    for (uint32_t m = 0; m < obj->len; m++) {
        const struct otus_json_member *mem = &obj->u.members[m];
        const char *key = mem->key.u.str;
        size_t klen = mem->key.len;
        unsigned idx = find_field(keys, desc->n_fields, key, klen, hint);
        if (idx == desc->n_fields)
            continue; /* unknown fields are ignored */
        hint = idx + 1;
        const ProtobufCFieldDescriptor *f = &desc->fields[idx];
        assert(f->label == PROTOBUF_C_LABEL_NONE || f->label == PROTOBUF_C_LABEL_REPEATED);
        path_push(d, key, klen);
        if (seen & (uint64_t)1 << idx) {
            char name[64];
            json_name(f->name, name, sizeof(name));
            rc = fail(d, OTUS_ERR_PARSE, "field given twice (as %s and %s)", name, f->name);
            goto out;
        }
        seen |= (uint64_t)1 << idx;
        const struct otus_json_node *v = &mem->value;
        if (v->kind != OTUS_JSON_NULL) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED)
                rc = dec_repeated(d, f, v, msg);
            else
                rc = dec_singular(d, f, v, msg);
            if (rc)
                goto out;
        }
        d->npath--;
    }
    d->depth--;
out:
    return rc;
}

/* ---- decoding: the document ------------------------------------------------------------ */

/* The parse tree takes at most 16 bytes per input byte (json_parse.h); the scratch
 * arena also holds copies of long number texts, so its maximum leaves room above
 * what any input of the length needs. */
static size_t scratch_max(size_t len)
{
    return len <= (SIZE_MAX - (1u << 20)) / 24 ? len * 24 + (1u << 20) : SIZE_MAX;
}

static int parse(struct dec *d, const char *json, size_t len, const struct otus_json_node **root)
{
    struct otus_json_parse_error jerr;
    int rc = otus_json_parse(json, len, d->scratch, root, &jerr);
    if (rc == 0)
        return 0;
    if (rc != OTUS_ERR_PARSE) {
        d->npath = 0;
        if (len > OTUS_JSON_PARSE_MAX_LEN)
            return fail(d, OTUS_ERR_TOO_BIG, "the request is larger than the JSON parser takes");
        return fail_scratch(d);
    }
    fail(d, OTUS_ERR_PARSE, "invalid JSON at line %d, column %d: ", jerr.line, jerr.column);
    if (d->err)
        err_append_clean(d->err, jerr.text, strnlen(jerr.text, sizeof(jerr.text)));
    return OTUS_ERR_PARSE;
}

int otus_otlp_json_decode(enum otus_signal signal, const char *json, size_t len,
                          struct otus_arena *arena, ProtobufCMessage **out, struct otus_buf *err)
{
    struct otus_arena scratch;
    size_t chunk = len < 1u << 19 ? len * 2 + 4096 : 1u << 20;
    otus_arena_init(&scratch, chunk, scratch_max(len));
    struct dec d = {.arena = arena, .scratch = &scratch, .err = err};
    const struct otus_json_node *root = NULL;
    int rc;
    *out = NULL;
    if (err)
        otus_buf_reset(err);
    const ProtobufCMessageDescriptor *desc = otus_request_descriptor(signal);
    if (!desc) {
        rc = fail(&d, OTUS_ERR_INVALID, "unknown signal %d", (int)signal);
        goto out;
    }
    rc = parse(&d, json, len, &root);
    if (rc)
        goto out;
    if (root->kind != OTUS_JSON_OBJECT) {
        rc = fail(&d, OTUS_ERR_PARSE, "expected a JSON object at the top level");
        goto out;
    }
    ProtobufCMessage *msg = dec_alloc(&d, desc->sizeof_message);
    if (!msg) {
        rc = fail_arena(&d);
        goto out;
    }
    desc->message_init(msg);
    rc = dec_message(&d, desc, root, msg);
    if (rc)
        goto out;
    *out = msg;
out:
    otus_arena_destroy(&scratch);
    return rc;
}

/* ---- encoding ------------------------------------------------------------------------ */

struct enc {
    struct otus_json j;      /* writes into the caller's buffer */
    struct otus_buf scratch; /* owned: text of one hex or base64 value */
};

static void enc_message(struct enc *e, const ProtobufCMessage *m);

/* Whether a singular field holds its default, which proto3 does not write. */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return *(const uint32_t *)member == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member == 0; /* -0 too, as protobuf-c's pack */
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)member == NULL;
    }
    return true;
}

static void enc_text(struct enc *e, const char *s, size_t n)
{
    otus_json_string(&e->j, s, n);
}

static void enc_bytes(struct enc *e, const ProtobufCFieldDescriptor *f,
                      const ProtobufCBinaryData *b)
{
    struct otus_buf *t = &e->scratch;
    otus_buf_reset(t);
    size_t need = id_length(f) ? 2 * b->len : (b->len + 2) / 3 * 4;
    int rc = otus_buf_reserve(t, need);
    if (rc) {
        e->j.err = rc;
        return;
    }
    if (id_length(f)) {
        otus_hex_encode(b->data, b->len, t->data);
    } else {
        char *o = t->data;
        const uint8_t *p = b->data;
        size_t i = 0;
        for (; i + 3 <= b->len; i += 3) {
            uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
            *o++ = b64_alphabet[x >> 18];
            *o++ = b64_alphabet[x >> 12 & 63];
            *o++ = b64_alphabet[x >> 6 & 63];
            *o++ = b64_alphabet[x & 63];
        }
        if (i < b->len) {
            uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < b->len ? (uint32_t)p[i + 1] << 8 : 0);
            *o++ = b64_alphabet[x >> 18];
            *o++ = b64_alphabet[x >> 12 & 63];
            *o++ = i + 1 < b->len ? b64_alphabet[x >> 6 & 63] : '=';
            *o++ = '=';
        }
        assert((size_t)(o - t->data) == need);
    }
    t->len = need;
    enc_text(e, t->data, t->len);
}

/* One value of field f at member. */
static void enc_value(struct enc *e, const ProtobufCFieldDescriptor *f, const void *member)
{
    char num[32];
    int n;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        otus_json_int(&e->j, *(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        otus_json_uint(&e->j, *(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        otus_json_bool(&e->j, *(const protobuf_c_boolean *)member != 0);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        n = snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)member);
        enc_text(e, num, (size_t)n);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        n = snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)member);
        enc_text(e, num, (size_t)n);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        otus_json_double(&e->j, *(const float *)member);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        otus_json_double(&e->j, *(const double *)member);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        enc_text(e, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        enc_bytes(e, f, member);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)member;
        if (m) {
            enc_message(e, m);
        } else {
            otus_json_object_begin(&e->j);
            otus_json_object_end(&e->j);
        }
        break;
    }
    }
}

static void enc_message(struct enc *e, const ProtobufCMessage *m)
{
    /* The writer's error is sticky and its depth bounded: stop descending once it failed. */
    if (e->j.err)
        return;
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    const char *base = (const char *)m;
    otus_json_object_begin(&e->j);
    for (unsigned i = 0; i < desc->n_fields && !e->j.err; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const void *member = base + f->offset;
        char name[64];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *items = *(char *const *)member;
            size_t size = element_size(f->type);
            otus_json_key(&e->j, name, json_name(f->name, name, sizeof(name)));
            otus_json_array_begin(&e->j);
            for (size_t k = 0; k < n && !e->j.err; k++)
                enc_value(e, f, items + k * size);
            otus_json_array_end(&e->j);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (is_default(f, member)) {
            continue;
        }
        otus_json_key(&e->j, name, json_name(f->name, name, sizeof(name)));
        enc_value(e, f, member);
    }
    otus_json_object_end(&e->j);
}

/* Encodes m at the end of out; on failure out keeps its old length. */
static int encode(const ProtobufCMessage *m, struct otus_buf *out)
{
    struct enc e;
    size_t start = out->len;
    otus_json_init(&e.j, out);
    otus_buf_init(&e.scratch, 0);
    enc_message(&e, m);
    int rc = otus_json_error(&e.j);
    otus_buf_free(&e.scratch);
    if (rc)
        out->len = start;
    return rc;
}

int otus_otlp_json_encode(enum otus_signal signal, const ProtobufCMessage *req,
                          struct otus_buf *out)
{
    const ProtobufCMessageDescriptor *desc = otus_request_descriptor(signal);
    if (!desc || !req || req->descriptor != desc)
        return OTUS_ERR_INVALID;
    return encode(req, out);
}

int otus_otlp_json_encode_response(enum otus_signal signal, int64_t rejected,
                                   const char *error_message, struct otus_buf *out)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse tr;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess tp;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse mr;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess mp;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse lr;
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess lp;
    const ProtobufCMessage *resp;
    if (rejected < 0)
        return OTUS_ERR_INVALID;
    char *msg = (char *)(error_message ? error_message : "");
    bool partial = rejected > 0 || msg[0] != '\0';
    switch (signal) {
    case OTUS_SIGNAL_TRACES:
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&tr);
        opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&tp);
        tp.rejected_spans = rejected;
        tp.error_message = msg;
        tr.partial_success = partial ? &tp : NULL;
        resp = &tr.base;
        break;
    case OTUS_SIGNAL_METRICS:
        opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__init(&mr);
        opentelemetry__proto__collector__metrics__v1__export_metrics_partial_success__init(&mp);
        mp.rejected_data_points = rejected;
        mp.error_message = msg;
        mr.partial_success = partial ? &mp : NULL;
        resp = &mr.base;
        break;
    case OTUS_SIGNAL_LOGS:
        opentelemetry__proto__collector__logs__v1__export_logs_service_response__init(&lr);
        opentelemetry__proto__collector__logs__v1__export_logs_partial_success__init(&lp);
        lp.rejected_log_records = rejected;
        lp.error_message = msg;
        lr.partial_success = partial ? &lp : NULL;
        resp = &lr.base;
        break;
    default:
        return OTUS_ERR_INVALID;
    }
    return encode(resp, out);
}
