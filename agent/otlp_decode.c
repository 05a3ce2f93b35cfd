/*
 * otlp_decode.c: a protobuf decoder specialised to the OTLP export requests
 * (otlp_decode.h). Every message of the three requests has one function that
 * allocates its struct from the arena, initialises it as its generated __init would,
 * and walks its fields once with a switch on the field number. protobuf-c's generic
 * unpack instead scans each message twice (once to count repeated fields, once to
 * parse) and looks every field up in its descriptor; here the schema is the code.
 *
 * Repeated fields grow in the arena. When an array is full, the decoder counts the
 * run of fields with the same key that starts at the current field (SDKs write a
 * repeated field's elements one after the other) and sizes the array for the whole
 * run, so a typical request gets exact arrays with no copying; a field that recurs
 * later grows the array to at least twice its size, so hostile field orders cost
 * amortised linear time and at most twice the memory.
 *
 * Conformance notes, all following protobuf-c 1.4.1's unpack (protobuf-c.c):
 * - The key is parse_tag_and_wiretype(): at most 5 bytes, first byte with field
 *   bits != 0. A field's value span is checked as in its scan loop: a varint
 *   terminates within 10 bytes, a length prefix within 5 and is at most INT_MAX.
 * - Field values follow parse_required_member(): 32-bit varint fields keep the low 32
 *   bits; bool takes any wire type (parse_boolean() over the value's bytes); a string
 *   is copied even when empty, so an explicitly empty string is a different pointer
 *   from protobuf_c_empty_string, which only an absent string holds (merging tells
 *   them apart); empty bytes are {0, NULL}.
 * - A singular message field that occurs twice is merged as merge_messages() does it:
 *   see the merge_* functions below.
 *
 * The file is long but regular: one short function per message, all in one
 * translation unit so that the scanner's fast path and the small helpers stay static
 * and inlined into every message's loop.
 */
#include "agent/otlp_decode.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

#include <otus.h>

/* The generated names run to 60 characters; these aliases keep the code readable. */
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__EntityRef EntityRef;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event SpanEvent;
typedef Opentelemetry__Proto__Trace__V1__Span__Link SpanLink;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge Gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum Sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram Histogram;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogram ExpHistogram;
typedef Opentelemetry__Proto__Metrics__V1__Summary Summary;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDp;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDp;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets Buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDp;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;

/* Small copies write whole 8- or 16-byte words: the arena rounds every allocation up
 * to a multiple of 8, so the bytes past the copied ones are still the caller's. */
_Static_assert(OTUS_ARENA_ALIGN % 8 == 0, "small copies assume 8-byte rounding");

enum wire_type { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* The field scanner's fast path must be inlined into each message's loop to pay. */
#if defined(__GNUC__)
#define OTUS_INLINE inline __attribute__((always_inline))
#else
#define OTUS_INLINE inline
#endif

struct dec {
    struct otus_arena *arena;
    const uint8_t *in_end; /* end of the whole input: small copies may read up to it */
    unsigned depth;        /* AnyValues being decoded, outermost included */
    unsigned max_depth;
    int unknown; /* a field the OTLP definitions do not have was skipped */
};

/* One field as the scan found it. */
struct field {
    uint32_t num;        /* field number (protobuf-c keeps all 32 bits of the key) */
    unsigned wt;         /* wire type */
    const uint8_t *data; /* WT_LEN: the payload; other wire types: the value's bytes */
    size_t len;          /* bytes at data */
    uint64_t u;          /* WT_VARINT: the value; WT_I64, WT_I32: the little-endian value */
};

/* ---- scanning ------------------------------------------------------------------------ */

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A key of more than one byte; p[0] has its high bit set. NULL when malformed. */
static const uint8_t *key_slow(const uint8_t *p, const uint8_t *end, uint32_t *num)
{
    size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5;
    uint32_t v = (p[0] & 0x7fu) >> 3;
    unsigned shift = 4;
    for (size_t i = 1; i < max; i++) {
        v |= (uint32_t)(p[i] & 0x7f) << shift;
        if (!(p[i] & 0x80)) {
            *num = v;
            return p + i + 1;
        }
        shift += 7;
    }
    return NULL;
}

/* A varint of more than one byte (at most 10). NULL when unterminated. */
static const uint8_t *varint_slow(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    size_t max = (size_t)(end - p) < 10 ? (size_t)(end - p) : 10;
    uint64_t v = 0;
    for (size_t i = 0; i < max; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = v;
            return p + i + 1;
        }
    }
    return NULL;
}

/* A length prefix of more than one byte (at most 5, value at most INT_MAX). */
static const uint8_t *length_slow(const uint8_t *p, const uint8_t *end, size_t *out)
{
    size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5;
    uint64_t v = 0;
    for (size_t i = 0; i < max; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (v > INT_MAX)
                return NULL;
            *out = (size_t)v;
            return p + i + 1;
        }
    }
    return NULL;
}

/* next_field() for everything but the common forms: any key, value or length. */
static int next_field_slow(const uint8_t **pp, const uint8_t *end, struct field *f)
{
    const uint8_t *p = *pp;
    unsigned b = p[0];
    if ((b & 0xf8) == 0)
        return OTUS_ERR_PARSE;
    f->wt = b & 7;
    if (b < 0x80) {
        f->num = b >> 3;
        p++;
    } else {
        p = key_slow(p, end, &f->num);
        if (!p)
            return OTUS_ERR_PARSE;
    }
    const uint8_t *val = p;
    size_t rem = (size_t)(end - p);
    switch (f->wt) {
    case WT_VARINT:
        p = varint_slow(p, end, &f->u);
        if (!p)
            return OTUS_ERR_PARSE;
        f->data = val;
        f->len = (size_t)(p - val);
        break;
    case WT_I64:
        if (rem < 8)
            return OTUS_ERR_PARSE;
        f->u = load_le64(p);
        f->data = p;
        f->len = 8;
        p += 8;
        break;
    case WT_LEN:
        p = length_slow(p, end, &f->len);
        if (!p || f->len > (size_t)(end - p))
            return OTUS_ERR_PARSE;
        f->data = p;
        p += f->len;
        break;
    case WT_I32:
        if (rem < 4)
            return OTUS_ERR_PARSE;
        f->u = load_le32(p);
        f->data = p;
        f->len = 4;
        p += 4;
        break;
    default: /* groups (3, 4) and 6, 7: protobuf-c refuses them, known field or not */
        return OTUS_ERR_PARSE;
    }
    *pp = p;
    return 0;
}

/*
 * Scans the field at *pp (*pp < end) and moves *pp past it. Inlined into every
 * message's loop for the forms that make up nearly all of a request: a one-byte key
 * with a varint or length of one or two bytes, or a fixed-size value. The rest goes
 * to next_field_slow(), which also does all the refusing; it fills a copy so that f
 * can stay in registers.
 */
static OTUS_INLINE int next_field(const uint8_t **pp, const uint8_t *end, struct field *f)
{
    const uint8_t *p = *pp;
    unsigned b = p[0];
    size_t rem = (size_t)(end - p);
    if (b >= 0x08 && b < 0x80 && rem >= 2) {
        f->num = b >> 3;
        f->wt = b & 7;
        switch (b & 7) {
        case WT_LEN:
            if (p[1] < 0x80) {
                if (p[1] <= rem - 2) {
                    f->u = 0;
                    f->len = p[1];
                    f->data = p + 2;
                    *pp = p + 2 + f->len;
                    return 0;
                }
            } else if (rem >= 3 && p[2] < 0x80) {
                size_t n = (p[1] & 0x7fu) | (size_t)p[2] << 7;
                if (n <= rem - 3) {
                    f->u = 0;
                    f->len = n;
                    f->data = p + 3;
                    *pp = p + 3 + n;
                    return 0;
                }
            }
            break;
        case WT_VARINT:
            if (p[1] < 0x80) {
                f->u = p[1];
                f->data = p + 1;
                f->len = 1;
                *pp = p + 2;
                return 0;
            }
            if (rem >= 3 && p[2] < 0x80) {
                f->u = (p[1] & 0x7fu) | (uint64_t)p[2] << 7;
                f->data = p + 1;
                f->len = 2;
                *pp = p + 3;
                return 0;
            }
            break;
        case WT_I64:
            if (rem >= 9) {
                f->u = load_le64(p + 1);
                f->data = p + 1;
                f->len = 8;
                *pp = p + 9;
                return 0;
            }
            break;
        case WT_I32:
            if (rem >= 5) {
                f->u = load_le32(p + 1);
                f->data = p + 1;
                f->len = 4;
                *pp = p + 5;
                return 0;
            }
            break;
        }
    }
    struct field g = {0};
    int rc = next_field_slow(pp, end, &g);
    *f = g;
    return rc;
}

/*
 * How many fields from the one just scanned (field num, ending at p) up to end have
 * its key byte and a length prefix that fits: the elements of a repeated field
 * written one after the other. Only a hint for sizing arrays; each field is still
 * checked when it is decoded.
 */
static size_t run_length(uint32_t num, const uint8_t *p, const uint8_t *end)
{
    uint8_t key = (uint8_t)(num << 3 | WT_LEN);
    size_t n = 1;
    if (num > 15)
        return 1; /* the key is not one byte */
    while (p < end && *p == key) {
        size_t len;
        p++;
        if (p < end && *p < 0x80) {
            len = *p++;
        } else {
            p = p < end ? length_slow(p, end, &len) : NULL;
            if (!p)
                break;
        }
        if (len > (size_t)(end - p))
            break;
        p += len;
        n++;
    }
    return n;
}

/*
 * Returns an array with room for need more elements after the n of arr (capacity
 * *cap, elements of size bytes): arr itself when it has room, else a copy in a larger
 * arena block. NULL when the arena refuses.
 */
static void *grow(struct dec *d, void *arr, size_t n, size_t *cap, size_t size, size_t need)
{
    if (n + need <= *cap)
        return arr;
    size_t want = n + need;
    if (want < 2 * n)
        want = 2 * n;
    if (want > SIZE_MAX / size)
        return NULL;
    void *a = otus_arena_alloc(d->arena, want * size);
    if (!a)
        return NULL;
    if (n)
        memcpy(a, arr, n * size);
    *cap = want;
    return a;
}

/* Room for one more pointer in a repeated field whose element, field num, was just
 * scanned (p is after it). */
static OTUS_INLINE void *room(struct dec *d, void *arr, size_t n, size_t *cap, uint32_t num,
                              const uint8_t *p, const uint8_t *end)
{
    if (n < *cap)
        return arr;
    return grow(d, arr, n, cap, sizeof(void *), run_length(num, p, end));
}

/* ---- scalar values ---------------------------------------------------------------- */

static OTUS_INLINE int get_u32(const struct field *f, uint32_t *dst)
{
    if (f->wt != WT_VARINT)
        return OTUS_ERR_PARSE;
    *dst = (uint32_t)f->u;
    return 0;
}

/* int32 and enum fields: the low 32 bits, as protobuf-c's parse_int32(). */
static OTUS_INLINE int get_i32(const struct field *f, int32_t *dst)
{
    if (f->wt != WT_VARINT)
        return OTUS_ERR_PARSE;
    *dst = (int32_t)(uint32_t)f->u;
    return 0;
}

static OTUS_INLINE int get_s32(const struct field *f, int32_t *dst)
{
    if (f->wt != WT_VARINT)
        return OTUS_ERR_PARSE;
    uint32_t v = (uint32_t)f->u;
    *dst = (int32_t)((v >> 1) ^ -(v & 1));
    return 0;
}

static OTUS_INLINE int get_i64(const struct field *f, int64_t *dst)
{
    if (f->wt != WT_VARINT)
        return OTUS_ERR_PARSE;
    *dst = (int64_t)f->u;
    return 0;
}

static OTUS_INLINE int get_fixed32(const struct field *f, uint32_t *dst)
{
    if (f->wt != WT_I32)
        return OTUS_ERR_PARSE;
    *dst = (uint32_t)f->u;
    return 0;
}

static OTUS_INLINE int get_fixed64(const struct field *f, uint64_t *dst)
{
    if (f->wt != WT_I64)
        return OTUS_ERR_PARSE;
    *dst = f->u;
    return 0;
}

static OTUS_INLINE int get_sfixed64(const struct field *f, int64_t *dst)
{
    if (f->wt != WT_I64)
        return OTUS_ERR_PARSE;
    *dst = (int64_t)f->u;
    return 0;
}

static OTUS_INLINE int get_double(const struct field *f, double *dst)
{
    if (f->wt != WT_I64)
        return OTUS_ERR_PARSE;
    memcpy(dst, &f->u, sizeof(*dst));
    return 0;
}

/*
 * protobuf-c's parse_boolean(): any wire type; true when a byte of the value (length
 * prefix included) has low bits set. For a length-delimited value that is a length
 * other than 0, whose prefix has such a byte.
 */
static OTUS_INLINE int get_bool(const struct field *f, protobuf_c_boolean *dst)
{
    protobuf_c_boolean v = 0;
    if (f->wt == WT_LEN) {
        v = f->len != 0;
    } else {
        for (size_t i = 0; i < f->len; i++)
            if (f->data[i] & 0x7f) {
                v = 1;
                break;
            }
    }
    *dst = v;
    return 0;
}

/*
 * Copies n bytes from src to dst without a call for short strings: from 8 to 32 bytes
 * as two overlapping 8- or 16-byte words; below 8 as one word when the input has 8
 * bytes to read from src (dst always has 8 bytes of room: the arena rounds up).
 */
static OTUS_INLINE void copy_small(const struct dec *d, uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n > 16 && n <= 32) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n < 8 && (size_t)(d->in_end - src) >= 8) {
        memcpy(dst, src, 8);
    } else {
        memcpy(dst, src, n);
    }
}

static OTUS_INLINE int get_string(struct dec *d, const struct field *f, char **dst)
{
    if (f->wt != WT_LEN)
        return OTUS_ERR_PARSE;
    char *s = otus_arena_alloc(d->arena, f->len + 1);
    if (!s)
        return OTUS_ERR_TOO_BIG;
    copy_small(d, (uint8_t *)s, f->data, f->len);
    s[f->len] = '\0';
    *dst = s;
    return 0;
}

static OTUS_INLINE int get_bytes(struct dec *d, const struct field *f, ProtobufCBinaryData *dst)
{
    if (f->wt != WT_LEN)
        return OTUS_ERR_PARSE;
    dst->len = f->len;
    dst->data = NULL;
    if (f->len == 0)
        return 0;
    uint8_t *b = otus_arena_alloc(d->arena, f->len);
    if (!b)
        return OTUS_ERR_TOO_BIG;
    copy_small(d, b, f->data, f->len);
    dst->data = b;
    return 0;
}

/* ---- repeated scalars ------------------------------------------------------------- */

/* repeated fixed64 or double: packed (WT_LEN, a multiple of 8 bytes) or one value
 * (WT_I64), appended to arr, an array of n 8-byte elements. The bits are stored as
 * they are (a double's are its IEEE 754 encoding, as on the wire). Returns the array,
 * which may have moved; on an error *rc is set and arr is returned as it was. */
static OTUS_INLINE void *get_8byte_values(struct dec *d, const struct field *f, void *arr,
                                          size_t *n, size_t *cap, int *rc)
{
    size_t count;
    if (f->wt == WT_LEN && f->len % 8 == 0) {
        count = f->len / 8;
    } else if (f->wt == WT_I64) {
        count = 1;
    } else {
        *rc = OTUS_ERR_PARSE;
        return arr;
    }
    if (count == 0)
        return arr;
    unsigned char *a = grow(d, arr, *n, cap, 8, count);
    if (!a) {
        *rc = OTUS_ERR_TOO_BIG;
        return arr;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = load_le64(f->data + 8 * i);
        memcpy(a + 8 * (*n + i), &bits, sizeof(bits));
    }
    *n += count;
    return a;
}

/* repeated uint64: packed varints (each terminated within 10 bytes and within the
 * payload) or one varint. The count is protobuf-c's: bytes without the high bit. */
static OTUS_INLINE int get_varint64s(struct dec *d, const struct field *f, uint64_t **arr,
                                     size_t *n, size_t *cap)
{
    if (f->wt == WT_VARINT) {
        uint64_t *a = grow(d, *arr, *n, cap, sizeof(*a), 1);
        if (!a)
            return OTUS_ERR_TOO_BIG;
        a[(*n)++] = f->u;
        *arr = a;
        return 0;
    }
    if (f->wt != WT_LEN)
        return OTUS_ERR_PARSE;
    const uint8_t *p = f->data, *end = f->data + f->len;
    size_t count = 0;
    for (const uint8_t *q = p; q < end; q++)
        count += !(*q & 0x80);
    if (count == 0)
        return f->len == 0 ? 0 : OTUS_ERR_PARSE;
    uint64_t *a = grow(d, *arr, *n, cap, sizeof(*a), count);
    if (!a)
        return OTUS_ERR_TOO_BIG;
    *arr = a;
    while (p < end) {
        uint64_t v;
        if (*p < 0x80) {
            v = *p++;
        } else {
            p = varint_slow(p, end, &v);
            if (!p)
                return OTUS_ERR_PARSE;
        }
        a[(*n)++] = v;
    }
    return 0;
}

/* repeated string. */
static OTUS_INLINE int get_strings(struct dec *d, const struct field *f, const uint8_t *p,
                                   const uint8_t *end, char ***arr, size_t *n, size_t *cap)
{
    char **a = room(d, *arr, *n, cap, f->num, p, end);
    if (!a)
        return OTUS_ERR_TOO_BIG;
    *arr = a;
    int rc = get_string(d, f, &a[*n]);
    if (rc == 0)
        (*n)++;
    return rc;
}

/* ---- merging a singular message field that occurs twice ----------------------------
 *
 * protobuf-c decodes the later copy on its own, then merge_messages(earlier, later):
 * repeated fields become the earlier elements followed by the later ones; a string
 * is taken from the earlier copy when the later copy's is protobuf_c_empty_string
 * (absent); a message likewise when the later one's is NULL; other proto3 scalars
 * are not merged (their presence test reads the descriptor pointer, never zero), so
 * the later copy's value stands even when it was absent. A oneof is taken from the
 * earlier copy when the later copy has none, with the exceptions in merge_any_value().
 */

/* Puts the earlier copy's elements (e, ne) before the later copy's (*l, *nl). */
static int concat(struct dec *d, void *e, size_t ne, void **l, size_t *nl, size_t size)
{
    if (ne == 0)
        return 0;
    if (*nl == 0) {
        *l = e;
        *nl = ne;
        return 0;
    }
    if (ne > SIZE_MAX / size - *nl)
        return OTUS_ERR_TOO_BIG;
    unsigned char *a = otus_arena_alloc(d->arena, (ne + *nl) * size);
    if (!a)
        return OTUS_ERR_TOO_BIG;
    memcpy(a, e, ne * size);
    memcpy(a + ne * size, *l, *nl * size);
    *l = a;
    *nl += ne;
    return 0;
}

static void merge_string(char *e, char **l)
{
    if (*l == protobuf_c_empty_string && e != protobuf_c_empty_string)
        *l = e;
}

static int merge_kvs(struct dec *d, KeyValue **e, size_t ne, KeyValue ***l, size_t *nl)
{
    void *a = *l;
    int rc = concat(d, e, ne, &a, nl, sizeof(**l));
    *l = a;
    return rc;
}

static int merge_resource(struct dec *d, Resource *e, Resource *l)
{
    int rc = merge_kvs(d, e->attributes, e->n_attributes, &l->attributes, &l->n_attributes);
    if (rc)
        return rc;
    void *a = l->entity_refs;
    rc =
        concat(d, e->entity_refs, e->n_entity_refs, &a, &l->n_entity_refs, sizeof(*l->entity_refs));
    l->entity_refs = a;
    return rc;
}

static int merge_scope(struct dec *d, Scope *e, Scope *l)
{
    merge_string(e->name, &l->name);
    merge_string(e->version, &l->version);
    return merge_kvs(d, e->attributes, e->n_attributes, &l->attributes, &l->n_attributes);
}

static int merge_status(Status *e, Status *l)
{
    merge_string(e->message, &l->message);
    return 0;
}

static int merge_buckets(struct dec *d, Buckets *e, Buckets *l)
{
    void *a = l->bucket_counts;
    int rc = concat(d, e->bucket_counts, e->n_bucket_counts, &a, &l->n_bucket_counts,
                    sizeof(*l->bucket_counts));
    l->bucket_counts = a;
    return rc;
}

/*
 * The value oneof of the earlier copy is kept when the later copy has none, except:
 * neither has one (merge_messages() fails: the input is refused); a string (the later
 * copy's NULL is not the default "", so nothing is copied); empty bytes (NULL data
 * counts as unset). In those two the merged value has no value at all.
 */
static int merge_any_value(AnyValue *e, AnyValue *l)
{
    if (l->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET)
        return 0;
    switch (e->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET:
        return OTUS_ERR_PARSE;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return 0;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        if (!e->bytes_value.data)
            return 0;
        l->bytes_value = e->bytes_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        l->bool_value = e->bool_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        l->int_value = e->int_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        l->double_value = e->double_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        l->array_value = e->array_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        l->kvlist_value = e->kvlist_value;
        break;
    default:
        return OTUS_ERR_PARSE;
    }
    l->value_case = e->value_case;
    return 0;
}

/* ---- common messages -------------------------------------------------------------- */

static int key_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len, KeyValue **out);

static OTUS_INLINE int push_kv(struct dec *d, const struct field *f, const uint8_t *p,
                               const uint8_t *end, KeyValue ***arr, size_t *n, size_t *cap)
{
    KeyValue **a = room(d, *arr, *n, cap, f->num, p, end);
    if (!a)
        return OTUS_ERR_TOO_BIG;
    *arr = a;
    return key_value(d, f->wt, f->data, f->len, &a[(*n)++]);
}

static int array_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                       ArrayValue **out);
static int kvlist_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                        KeyValueList **out);

/* Clears the value oneof before another member replaces the current one, as
 * parse_oneof_member() does. */
static OTUS_INLINE void any_value_reset(AnyValue *m)
{
    if (m->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET)
        memset(&m->bytes_value, 0, sizeof(m->bytes_value));
}

/*
 * Decodes an AnyValue into m, which the caller allocated (a KeyValue carries room for
 * its value). d->depth counts the ArrayValues and KeyValueLists being decoded, so an
 * AnyValue is at level d->depth + 1.
 */
static OTUS_INLINE int any_value_into(struct dec *d, const uint8_t *data, size_t len, AnyValue *m)
{
    if (d->depth >= d->max_depth)
        return OTUS_ERR_PARSE;
    memset(m, 0, sizeof(*m)); /* ANY_VALUE__INIT, union included */
    m->base.descriptor = &opentelemetry__proto__common__v1__any_value__descriptor;
    const uint8_t *p = data, *end = data + len;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            any_value_reset(m);
            rc = get_string(d, &f, &m->string_value);
            break;
        case 2:
            any_value_reset(m);
            rc = get_bool(&f, &m->bool_value);
            break;
        case 3:
            any_value_reset(m);
            rc = get_i64(&f, &m->int_value);
            break;
        case 4:
            any_value_reset(m);
            rc = get_double(&f, &m->double_value);
            break;
        case 5:
            any_value_reset(m);
            rc = array_value(d, f.wt, f.data, f.len, &m->array_value);
            break;
        case 6:
            any_value_reset(m);
            rc = kvlist_value(d, f.wt, f.data, f.len, &m->kvlist_value);
            break;
        case 7:
            any_value_reset(m);
            rc = get_bytes(d, &f, &m->bytes_value);
            break;
        default:
            d->unknown = 1;
            continue;
        }
        m->value_case = (Opentelemetry__Proto__Common__V1__AnyValue__ValueCase)f.num;
    }
    return rc;
}

static OTUS_INLINE int any_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                                 AnyValue **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    AnyValue *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *out = m;
    return any_value_into(d, data, len, m);
}

/* A singular AnyValue field (KeyValue.value, LogRecord.body): merged when repeated. */
static OTUS_INLINE int any_value_field(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                                       AnyValue **slot)
{
    AnyValue *prev = *slot;
    int rc = any_value(d, wt, data, len, slot);
    if (rc == 0 && prev)
        rc = merge_any_value(prev, *slot);
    return rc;
}

static int array_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                       ArrayValue **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ArrayValue *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ArrayValue)OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    d->depth++;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->values = room(d, m->values, m->n_values, &cap, f.num, p, end);
            rc = m->values ? any_value(d, f.wt, f.data, f.len, &m->values[m->n_values++])
                           : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    d->depth--;
    return rc;
}

static int kvlist_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                        KeyValueList **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    KeyValueList *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (KeyValueList)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    d->depth++;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1)
            rc = push_kv(d, &f, p, end, &m->values, &m->n_values, &cap);
        else if (rc == 0)
            d->unknown = 1;
    }
    d->depth--;
    return rc;
}

static int key_value(struct dec *d, unsigned wt, const uint8_t *data, size_t len, KeyValue **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    /* The KeyValue and the AnyValue it nearly always has, in one allocation. */
    struct kv_pair {
        KeyValue kv;
        AnyValue value;
    } *pair = otus_arena_alloc(d->arena, sizeof(*pair));
    if (!pair)
        return OTUS_ERR_TOO_BIG;
    KeyValue *m = &pair->kv;
    *m = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    struct field f;
    AnyValue *prev;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 1) {
            rc = get_string(d, &f, &m->key);
        } else if (f.num == 2 && !m->value) {
            m->value = &pair->value;
            rc = f.wt == WT_LEN ? any_value_into(d, f.data, f.len, m->value) : OTUS_ERR_PARSE;
        } else if (f.num == 2) {
            prev = m->value;
            rc = any_value(d, f.wt, f.data, f.len, &m->value);
            if (rc == 0)
                rc = merge_any_value(prev, m->value);
        } else
            d->unknown = 1;
    }
    return rc;
}

static int entity_ref(struct dec *d, unsigned wt, const uint8_t *data, size_t len, EntityRef **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    EntityRef *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (EntityRef)OPENTELEMETRY__PROTO__COMMON__V1__ENTITY_REF__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_id = 0, cap_desc = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_string(d, &f, &m->schema_url);
            break;
        case 2:
            rc = get_string(d, &f, &m->type);
            break;
        case 3:
            rc = get_strings(d, &f, p, end, &m->id_keys, &m->n_id_keys, &cap_id);
            break;
        case 4:
            rc =
                get_strings(d, &f, p, end, &m->description_keys, &m->n_description_keys, &cap_desc);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int resource(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Resource **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Resource *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_ent = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 2:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        case 3:
            m->entity_refs = room(d, m->entity_refs, m->n_entity_refs, &cap_ent, f.num, p, end);
            rc = m->entity_refs
                     ? entity_ref(d, f.wt, f.data, f.len, &m->entity_refs[m->n_entity_refs++])
                     : OTUS_ERR_TOO_BIG;
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int resource_field(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                          Resource **slot)
{
    Resource *prev = *slot;
    int rc = resource(d, wt, data, len, slot);
    if (rc == 0 && prev)
        rc = merge_resource(d, prev, *slot);
    return rc;
}

static int scope(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Scope **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Scope *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Scope)OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_string(d, &f, &m->name);
            break;
        case 2:
            rc = get_string(d, &f, &m->version);
            break;
        case 3:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 4:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int scope_field(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Scope **slot)
{
    Scope *prev = *slot;
    int rc = scope(d, wt, data, len, slot);
    if (rc == 0 && prev)
        rc = merge_scope(d, prev, *slot);
    return rc;
}

/* ---- logs ------------------------------------------------------------------------- */

static int log_record(struct dec *d, unsigned wt, const uint8_t *data, size_t len, LogRecord **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    LogRecord *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (LogRecord)OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0;
    int32_t v32 = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 2:
            rc = get_i32(&f, &v32);
            m->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)v32;
            break;
        case 3:
            rc = get_string(d, &f, &m->severity_text);
            break;
        case 5:
            rc = any_value_field(d, f.wt, f.data, f.len, &m->body);
            break;
        case 6:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 7:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        case 8:
            rc = get_fixed32(&f, &m->flags);
            break;
        case 9:
            rc = get_bytes(d, &f, &m->trace_id);
            break;
        case 10:
            rc = get_bytes(d, &f, &m->span_id);
            break;
        case 11:
            rc = get_fixed64(&f, &m->observed_time_unix_nano);
            break;
        case 12:
            rc = get_string(d, &f, &m->event_name);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int scope_logs(struct dec *d, unsigned wt, const uint8_t *data, size_t len, ScopeLogs **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ScopeLogs *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ScopeLogs)OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = scope_field(d, f.wt, f.data, f.len, &m->scope);
            break;
        case 2:
            m->log_records = room(d, m->log_records, m->n_log_records, &cap, f.num, p, end);
            rc = m->log_records
                     ? log_record(d, f.wt, f.data, f.len, &m->log_records[m->n_log_records++])
                     : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int resource_logs(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                         ResourceLogs **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ResourceLogs *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ResourceLogs)OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = resource_field(d, f.wt, f.data, f.len, &m->resource);
            break;
        case 2:
            m->scope_logs = room(d, m->scope_logs, m->n_scope_logs, &cap, f.num, p, end);
            rc = m->scope_logs
                     ? scope_logs(d, f.wt, f.data, f.len, &m->scope_logs[m->n_scope_logs++])
                     : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int logs_request(struct dec *d, const uint8_t *data, size_t len, otus_logs_req **out)
{
    otus_logs_req *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m =
        (otus_logs_req)OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->resource_logs = room(d, m->resource_logs, m->n_resource_logs, &cap, f.num, p, end);
            rc = m->resource_logs ? resource_logs(d, f.wt, f.data, f.len,
                                                  &m->resource_logs[m->n_resource_logs++])
                                  : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    return rc;
}

/* ---- traces ----------------------------------------------------------------------- */

static int status(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Status **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Status *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    int32_t v32 = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 2) {
            rc = get_string(d, &f, &m->message);
        } else if (f.num == 3) {
            rc = get_i32(&f, &v32);
            m->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)v32;
        } else
            d->unknown = 1;
    }
    return rc;
}

static int span_event(struct dec *d, unsigned wt, const uint8_t *data, size_t len, SpanEvent **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    SpanEvent *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (SpanEvent)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 2:
            rc = get_string(d, &f, &m->name);
            break;
        case 3:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 4:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int span_link(struct dec *d, unsigned wt, const uint8_t *data, size_t len, SpanLink **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    SpanLink *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (SpanLink)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_bytes(d, &f, &m->trace_id);
            break;
        case 2:
            rc = get_bytes(d, &f, &m->span_id);
            break;
        case 3:
            rc = get_string(d, &f, &m->trace_state);
            break;
        case 4:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 5:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        case 6:
            rc = get_fixed32(&f, &m->flags);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int span(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Span **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Span *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_ev = 0, cap_ln = 0;
    int32_t v32 = 0;
    Status *prev;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = get_bytes(d, &f, &m->trace_id);
            break;
        case 2:
            rc = get_bytes(d, &f, &m->span_id);
            break;
        case 3:
            rc = get_string(d, &f, &m->trace_state);
            break;
        case 4:
            rc = get_bytes(d, &f, &m->parent_span_id);
            break;
        case 5:
            rc = get_string(d, &f, &m->name);
            break;
        case 6:
            rc = get_i32(&f, &v32);
            m->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)v32;
            break;
        case 7:
            rc = get_fixed64(&f, &m->start_time_unix_nano);
            break;
        case 8:
            rc = get_fixed64(&f, &m->end_time_unix_nano);
            break;
        case 9:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 10:
            rc = get_u32(&f, &m->dropped_attributes_count);
            break;
        case 11:
            m->events = room(d, m->events, m->n_events, &cap_ev, f.num, p, end);
            rc = m->events ? span_event(d, f.wt, f.data, f.len, &m->events[m->n_events++])
                           : OTUS_ERR_TOO_BIG;
            break;
        case 12:
            rc = get_u32(&f, &m->dropped_events_count);
            break;
        case 13:
            m->links = room(d, m->links, m->n_links, &cap_ln, f.num, p, end);
            rc = m->links ? span_link(d, f.wt, f.data, f.len, &m->links[m->n_links++])
                          : OTUS_ERR_TOO_BIG;
            break;
        case 14:
            rc = get_u32(&f, &m->dropped_links_count);
            break;
        case 15:
            prev = m->status;
            rc = status(d, f.wt, f.data, f.len, &m->status);
            if (rc == 0 && prev)
                rc = merge_status(prev, m->status);
            break;
        case 16:
            rc = get_fixed32(&f, &m->flags);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int scope_spans(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                       ScopeSpans **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ScopeSpans *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ScopeSpans)OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = scope_field(d, f.wt, f.data, f.len, &m->scope);
            break;
        case 2:
            m->spans = room(d, m->spans, m->n_spans, &cap, f.num, p, end);
            rc =
                m->spans ? span(d, f.wt, f.data, f.len, &m->spans[m->n_spans++]) : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int resource_spans(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                          ResourceSpans **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ResourceSpans *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ResourceSpans)OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = resource_field(d, f.wt, f.data, f.len, &m->resource);
            break;
        case 2:
            m->scope_spans = room(d, m->scope_spans, m->n_scope_spans, &cap, f.num, p, end);
            rc = m->scope_spans
                     ? scope_spans(d, f.wt, f.data, f.len, &m->scope_spans[m->n_scope_spans++])
                     : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int traces_request(struct dec *d, const uint8_t *data, size_t len, otus_traces_req **out)
{
    otus_traces_req *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (otus_traces_req)
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->resource_spans =
                room(d, m->resource_spans, m->n_resource_spans, &cap, f.num, p, end);
            rc = m->resource_spans ? resource_spans(d, f.wt, f.data, f.len,
                                                    &m->resource_spans[m->n_resource_spans++])
                                   : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------- */

static int exemplar(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Exemplar **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Exemplar *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Exemplar)OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 2:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 3:
            rc = get_double(&f, &m->as_double);
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
            break;
        case 4:
            rc = get_bytes(d, &f, &m->span_id);
            break;
        case 5:
            rc = get_bytes(d, &f, &m->trace_id);
            break;
        case 6:
            rc = get_sfixed64(&f, &m->as_int);
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT;
            break;
        case 7:
            rc = push_kv(d, &f, p, end, &m->filtered_attributes, &m->n_filtered_attributes,
                         &cap_attr);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static OTUS_INLINE int push_exemplar(struct dec *d, const struct field *f, const uint8_t *p,
                                     const uint8_t *end, Exemplar ***arr, size_t *n, size_t *cap)
{
    Exemplar **a = room(d, *arr, *n, cap, f->num, p, end);
    if (!a)
        return OTUS_ERR_TOO_BIG;
    *arr = a;
    return exemplar(d, f->wt, f->data, f->len, &a[(*n)++]);
}

static int number_dp(struct dec *d, unsigned wt, const uint8_t *data, size_t len, NumberDp **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    NumberDp *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (NumberDp)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_ex = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 2:
            rc = get_fixed64(&f, &m->start_time_unix_nano);
            break;
        case 3:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 4:
            rc = get_double(&f, &m->as_double);
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
            break;
        case 5:
            rc = push_exemplar(d, &f, p, end, &m->exemplars, &m->n_exemplars, &cap_ex);
            break;
        case 6:
            rc = get_sfixed64(&f, &m->as_int);
            m->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
            break;
        case 7:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 8:
            rc = get_u32(&f, &m->flags);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int histogram_dp(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                        HistogramDp **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    HistogramDp *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (HistogramDp)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_ex = 0, cap_bc = 0, cap_eb = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 2:
            rc = get_fixed64(&f, &m->start_time_unix_nano);
            break;
        case 3:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 4:
            rc = get_fixed64(&f, &m->count);
            break;
        case 5:
            rc = get_double(&f, &m->sum);
            m->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
            break;
        case 6:
            m->bucket_counts =
                get_8byte_values(d, &f, m->bucket_counts, &m->n_bucket_counts, &cap_bc, &rc);
            break;
        case 7:
            m->explicit_bounds =
                get_8byte_values(d, &f, m->explicit_bounds, &m->n_explicit_bounds, &cap_eb, &rc);
            break;
        case 8:
            rc = push_exemplar(d, &f, p, end, &m->exemplars, &m->n_exemplars, &cap_ex);
            break;
        case 9:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 10:
            rc = get_u32(&f, &m->flags);
            break;
        case 11:
            rc = get_double(&f, &m->min);
            m->_min_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN;
            break;
        case 12:
            rc = get_double(&f, &m->max);
            m->_max_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX;
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int buckets(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Buckets **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Buckets *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m =
        (Buckets)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 1)
            rc = get_s32(&f, &m->offset);
        else if (f.num == 2)
            rc = get_varint64s(d, &f, &m->bucket_counts, &m->n_bucket_counts, &cap);
        else
            d->unknown = 1;
    }
    return rc;
}

static int buckets_field(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                         Buckets **slot)
{
    Buckets *prev = *slot;
    int rc = buckets(d, wt, data, len, slot);
    if (rc == 0 && prev)
        rc = merge_buckets(d, prev, *slot);
    return rc;
}

static int exp_histogram_dp(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                            ExpHistogramDp **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ExpHistogramDp *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ExpHistogramDp)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_ex = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 2:
            rc = get_fixed64(&f, &m->start_time_unix_nano);
            break;
        case 3:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 4:
            rc = get_fixed64(&f, &m->count);
            break;
        case 5:
            rc = get_double(&f, &m->sum);
            m->_sum_case =
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
            break;
        case 6:
            rc = get_s32(&f, &m->scale);
            break;
        case 7:
            rc = get_fixed64(&f, &m->zero_count);
            break;
        case 8:
            rc = buckets_field(d, f.wt, f.data, f.len, &m->positive);
            break;
        case 9:
            rc = buckets_field(d, f.wt, f.data, f.len, &m->negative);
            break;
        case 10:
            rc = get_u32(&f, &m->flags);
            break;
        case 11:
            rc = push_exemplar(d, &f, p, end, &m->exemplars, &m->n_exemplars, &cap_ex);
            break;
        case 12:
            rc = get_double(&f, &m->min);
            m->_min_case =
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN;
            break;
        case 13:
            rc = get_double(&f, &m->max);
            m->_max_case =
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX;
            break;
        case 14:
            rc = get_double(&f, &m->zero_threshold);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int quantile(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Quantile **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Quantile *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Quantile)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 1)
            rc = get_double(&f, &m->quantile);
        else if (f.num == 2)
            rc = get_double(&f, &m->value);
        else
            d->unknown = 1;
    }
    return rc;
}

static int summary_dp(struct dec *d, unsigned wt, const uint8_t *data, size_t len, SummaryDp **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    SummaryDp *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (SummaryDp)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_attr = 0, cap_q = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 2:
            rc = get_fixed64(&f, &m->start_time_unix_nano);
            break;
        case 3:
            rc = get_fixed64(&f, &m->time_unix_nano);
            break;
        case 4:
            rc = get_fixed64(&f, &m->count);
            break;
        case 5:
            rc = get_double(&f, &m->sum);
            break;
        case 6:
            m->quantile_values =
                room(d, m->quantile_values, m->n_quantile_values, &cap_q, f.num, p, end);
            rc = m->quantile_values
                     ? quantile(d, f.wt, f.data, f.len, &m->quantile_values[m->n_quantile_values++])
                     : OTUS_ERR_TOO_BIG;
            break;
        case 7:
            rc = push_kv(d, &f, p, end, &m->attributes, &m->n_attributes, &cap_attr);
            break;
        case 8:
            rc = get_u32(&f, &m->flags);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

/* Gauge and Sum hold NumberDataPoints (field 1), Histogram, ExponentialHistogram and
 * Summary their own kind; Sum, Histogram and ExponentialHistogram add
 * aggregation_temporality (2), Sum is_monotonic (3). */

static int gauge(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Gauge **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Gauge *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Gauge)OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->data_points = room(d, m->data_points, m->n_data_points, &cap, f.num, p, end);
            rc = m->data_points
                     ? number_dp(d, f.wt, f.data, f.len, &m->data_points[m->n_data_points++])
                     : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    return rc;
}

static int sum(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Sum **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Sum *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    int32_t v32 = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            m->data_points = room(d, m->data_points, m->n_data_points, &cap, f.num, p, end);
            rc = m->data_points
                     ? number_dp(d, f.wt, f.data, f.len, &m->data_points[m->n_data_points++])
                     : OTUS_ERR_TOO_BIG;
            break;
        case 2:
            rc = get_i32(&f, &v32);
            m->aggregation_temporality =
                (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)v32;
            break;
        case 3:
            rc = get_bool(&f, &m->is_monotonic);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int histogram(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Histogram **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Histogram *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    int32_t v32 = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 1) {
            m->data_points = room(d, m->data_points, m->n_data_points, &cap, f.num, p, end);
            rc = m->data_points
                     ? histogram_dp(d, f.wt, f.data, f.len, &m->data_points[m->n_data_points++])
                     : OTUS_ERR_TOO_BIG;
        } else if (f.num == 2) {
            rc = get_i32(&f, &v32);
            m->aggregation_temporality =
                (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)v32;
        } else
            d->unknown = 1;
    }
    return rc;
}

static int exp_histogram(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                         ExpHistogram **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ExpHistogram *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ExpHistogram)OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    int32_t v32 = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        if (f.num == 1) {
            m->data_points = room(d, m->data_points, m->n_data_points, &cap, f.num, p, end);
            rc = m->data_points
                     ? exp_histogram_dp(d, f.wt, f.data, f.len, &m->data_points[m->n_data_points++])
                     : OTUS_ERR_TOO_BIG;
        } else if (f.num == 2) {
            rc = get_i32(&f, &v32);
            m->aggregation_temporality =
                (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)v32;
        } else
            d->unknown = 1;
    }
    return rc;
}

static int summary(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Summary **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Summary *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Summary)OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->data_points = room(d, m->data_points, m->n_data_points, &cap, f.num, p, end);
            rc = m->data_points
                     ? summary_dp(d, f.wt, f.data, f.len, &m->data_points[m->n_data_points++])
                     : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    return rc;
}

static int metric(struct dec *d, unsigned wt, const uint8_t *data, size_t len, Metric **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    Metric *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (Metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap_meta = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        /* The data oneof: a later member replaces an earlier one, never merged. */
        switch (f.num) {
        case 1:
            rc = get_string(d, &f, &m->name);
            break;
        case 2:
            rc = get_string(d, &f, &m->description);
            break;
        case 3:
            rc = get_string(d, &f, &m->unit);
            break;
        case 5:
            rc = gauge(d, f.wt, f.data, f.len, &m->gauge);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            break;
        case 7:
            rc = sum(d, f.wt, f.data, f.len, &m->sum);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            break;
        case 9:
            rc = histogram(d, f.wt, f.data, f.len, &m->histogram);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
            break;
        case 10:
            rc = exp_histogram(d, f.wt, f.data, f.len, &m->exponential_histogram);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
            break;
        case 11:
            rc = summary(d, f.wt, f.data, f.len, &m->summary);
            m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
            break;
        case 12:
            rc = push_kv(d, &f, p, end, &m->metadata, &m->n_metadata, &cap_meta);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int scope_metrics(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                         ScopeMetrics **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ScopeMetrics *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ScopeMetrics)OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = scope_field(d, f.wt, f.data, f.len, &m->scope);
            break;
        case 2:
            m->metrics = room(d, m->metrics, m->n_metrics, &cap, f.num, p, end);
            rc = m->metrics ? metric(d, f.wt, f.data, f.len, &m->metrics[m->n_metrics++])
                            : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int resource_metrics(struct dec *d, unsigned wt, const uint8_t *data, size_t len,
                            ResourceMetrics **out)
{
    if (wt != WT_LEN)
        return OTUS_ERR_PARSE;
    ResourceMetrics *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (ResourceMetrics)OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc)
            break;
        switch (f.num) {
        case 1:
            rc = resource_field(d, f.wt, f.data, f.len, &m->resource);
            break;
        case 2:
            m->scope_metrics = room(d, m->scope_metrics, m->n_scope_metrics, &cap, f.num, p, end);
            rc = m->scope_metrics ? scope_metrics(d, f.wt, f.data, f.len,
                                                  &m->scope_metrics[m->n_scope_metrics++])
                                  : OTUS_ERR_TOO_BIG;
            break;
        case 3:
            rc = get_string(d, &f, &m->schema_url);
            break;
        default:
            d->unknown = 1;
            break;
        }
    }
    return rc;
}

static int metrics_request(struct dec *d, const uint8_t *data, size_t len, otus_metrics_req **out)
{
    otus_metrics_req *m = otus_arena_alloc(d->arena, sizeof(*m));
    if (!m)
        return OTUS_ERR_TOO_BIG;
    *m = (otus_metrics_req)
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
    *out = m;
    const uint8_t *p = data, *end = data + len;
    size_t cap = 0;
    struct field f;
    int rc = 0;
    while (rc == 0 && p < end) {
        rc = next_field(&p, end, &f);
        if (rc == 0 && f.num == 1) {
            m->resource_metrics =
                room(d, m->resource_metrics, m->n_resource_metrics, &cap, f.num, p, end);
            rc = m->resource_metrics
                     ? resource_metrics(d, f.wt, f.data, f.len,
                                        &m->resource_metrics[m->n_resource_metrics++])
                     : OTUS_ERR_TOO_BIG;
        } else if (rc == 0)
            d->unknown = 1;
    }
    return rc;
}

/* ---- entry points ----------------------------------------------------------------- */

void otus__otlp_drop_field0(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    unsigned kept = 0;
    for (unsigned k = 0; k < m->n_unknown_fields; k++)
        if (m->unknown_fields[k].tag != 0)
            m->unknown_fields[kept++] = m->unknown_fields[k];
    m->n_unknown_fields = kept;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        char *member = (char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)((char *)m + fd->quantifier_offset);
            ProtobufCMessage **arr = *(ProtobufCMessage ***)member;
            for (size_t k = 0; k < n; k++)
                otus__otlp_drop_field0(arr[k]);
        } else if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
                   *(uint32_t *)((char *)m + fd->quantifier_offset) == fd->id) {
            ProtobufCMessage *sub = *(ProtobufCMessage **)member;
            if (sub)
                otus__otlp_drop_field0(sub);
        }
    }
}

/*
 * The request held fields the OTLP definitions here do not have (a newer version's):
 * it is decoded again by protobuf-c, which keeps them (number, wire type, the bytes
 * after the key) for the OTLP exporter to write on. This decoder accepts exactly what
 * protobuf-c accepts and builds the same tree otherwise (the differential fuzz target
 * checks both), and the nesting was checked already, so protobuf-c's recursion is
 * bounded. Should protobuf-c fail (the arena's limit), *out stays this decoder's tree.
 */
static void keep_unknown_fields(enum otus_signal signal, const uint8_t *data, size_t len,
                                struct otus_arena *arena, ProtobufCMessage **out)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(otus_request_descriptor(signal),
                                                    otus_arena_protobuf(arena), len, data);
    if (!m)
        return;
    otus__otlp_drop_field0(m);
    *out = m;
}

int otus__otlp_decode_depth(enum otus_signal signal, const uint8_t *data, size_t len,
                            struct otus_arena *arena, unsigned max_depth, ProtobufCMessage **out)
{
    static const uint8_t empty[1];
    struct dec d = {.arena = arena, .in_end = (data ? data : empty) + len, .max_depth = max_depth};
    otus_traces_req *traces = NULL;
    otus_metrics_req *metrics = NULL;
    otus_logs_req *logs = NULL;
    int rc;

    switch (signal) {
    case OTUS_SIGNAL_TRACES:
        rc = traces_request(&d, data ? data : empty, len, &traces);
        if (rc == 0)
            *out = &traces->base;
        break;
    case OTUS_SIGNAL_METRICS:
        rc = metrics_request(&d, data ? data : empty, len, &metrics);
        if (rc == 0)
            *out = &metrics->base;
        break;
    case OTUS_SIGNAL_LOGS:
        rc = logs_request(&d, data ? data : empty, len, &logs);
        if (rc == 0)
            *out = &logs->base;
        break;
    default:
        rc = OTUS_ERR_INVALID;
        break;
    }
    assert(rc != 0 || d.depth == 0);
    if (rc == 0 && d.unknown)
        keep_unknown_fields(signal, data ? data : empty, len, arena, out);
    return rc;
}

int otus_otlp_decode(enum otus_signal signal, const uint8_t *data, size_t len,
                     struct otus_arena *arena, ProtobufCMessage **out)
{
    return otus__otlp_decode_depth(signal, data, len, arena, OTUS_OTLP_MAX_DEPTH, out);
}
