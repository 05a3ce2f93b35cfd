/*
 * pb.c: a direct protobuf writer for the OTLP messages libotus sends.
 *
 * The background thread encodes spans, logs and metric points straight from the
 * library's own records into the request body, with no intermediate message objects.
 * A nested message is written after a one-byte length placeholder; when it closes, the
 * length is written in place, and only a body of 128 bytes or more is moved to make
 * room for a longer varint (one move per large message, none for the many small
 * KeyValue and AnyValue messages). Proto3 defaults are omitted except where a oneof
 * member must be present.
 */
#include "internal.h"

#include <stdlib.h>

#include "common/buf.h"

void otus__pb_raw_slow(struct otus__pb *w, const void *p, size_t n)
{
    if (w->err || !n)
        return;
    int rc = otus_buf_append(w->b, p, n);
    if (rc)
        w->err = rc;
}

void otus__pb_varint_slow(struct otus__pb *w, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    otus__pb_raw_slow(w, tmp, n); /* the buffer is short of room: grow it */
}

void otus__pb_uint(struct otus__pb *w, uint32_t field, uint64_t v)
{
    if (!v)
        return;
    otus__pb_tag(w, field, 0);
    otus__pb_varint(w, v);
}

void otus__pb_sint32(struct otus__pb *w, uint32_t field, int32_t v)
{
    if (!v)
        return;
    otus__pb_tag(w, field, 0);
    otus__pb_varint(w, ((uint32_t)v << 1) ^ (v < 0 ? 0xffffffffu : 0u)); /* zigzag */
}

void otus__pb_fixed64_always(struct otus__pb *w, uint32_t field, uint64_t v)
{
    otus__pb_tag(w, field, 1);
    otus__pb_raw(w, &v, 8); /* little-endian hosts only (x86-64, aarch64) */
}

void otus__pb_fixed64(struct otus__pb *w, uint32_t field, uint64_t v)
{
    if (v)
        otus__pb_fixed64_always(w, field, v);
}

void otus__pb_fixed32(struct otus__pb *w, uint32_t field, uint32_t v)
{
    if (!v)
        return;
    otus__pb_tag(w, field, 5);
    otus__pb_raw(w, &v, 4);
}

void otus__pb_double_always(struct otus__pb *w, uint32_t field, double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    otus__pb_fixed64_always(w, field, b);
}

void otus__pb_bytes_always(struct otus__pb *w, uint32_t field, const void *p, size_t n)
{
    otus__pb_tag(w, field, 2);
    otus__pb_varint(w, n);
    otus__pb_raw(w, p, n);
}

void otus__pb_bytes(struct otus__pb *w, uint32_t field, const void *p, size_t n)
{
    if (n)
        otus__pb_bytes_always(w, field, p, n);
}

void otus__pb_close_long(struct otus__pb *w, size_t mark)
{
    if (w->err)
        return;
    size_t len = w->b->len - mark;
    unsigned char tmp[10];
    size_t n = 0;
    uint64_t v = len;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    int rc = otus_buf_reserve(w->b, n - 1);
    if (rc) {
        w->err = rc;
        return;
    }
    memmove(w->b->data + mark + n - 1, w->b->data + mark, len);
    memcpy(w->b->data + mark - 1, tmp, n);
    w->b->len += n - 1;
}

/* ---- strings: protobuf requires valid UTF-8 ---------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 with *bad set to the length of
 * the maximal ill-formed subpart (RFC 3629: no overlongs, surrogates, or > U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n) {
            *bad = i;
            return 0;
        }
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) {
            *bad = i;
            return 0;
        }
    }
    return len;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    /* ASCII eight bytes at a time first: most keys and values are. */
    while (i + 8 <= n) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (v & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad = 0, l = utf8_seq(s + i, n - i, &bad);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

static struct otus_buf str_scratch; /* background thread only */

/* Writes a string field (present even when empty), replacing every maximal ill-formed
 * UTF-8 subsequence with U+FFFD. */
static void pb_string(struct otus__pb *w, uint32_t field, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    if (utf8_valid(s, n)) {
        otus__pb_bytes_always(w, field, p, n);
        return;
    }
    struct otus_buf out;
    otus_buf_init(&out, 0);
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        if (s[i] < 0x80) {
            rc = otus_buf_append_byte(&out, (char)s[i]);
            i++;
            continue;
        }
        size_t bad = 0, l = utf8_seq(s + i, n - i, &bad);
        if (l) {
            rc = otus_buf_append(&out, s + i, l);
            i += l;
        } else {
            rc = otus_buf_append(&out, "\xef\xbf\xbd", 3);
            i += bad;
        }
    }
    if (rc)
        w->err = rc;
    else
        otus__pb_bytes_always(w, field, out.data ? out.data : "", out.len);
    otus_buf_free(&out);
}

void otus__pb_string(struct otus__pb *w, uint32_t field, const char *p, size_t n)
{
    if (n)
        pb_string(w, field, p, n);
}

/* A string of n bytes from a record stream: in place when it lies in one block. */
static void stream_string(struct otus__pb *w, uint32_t field, struct otus__rd *r, size_t n)
{
    if (r->p == r->end && n && r->blk && r->blk->next) {
        r->blk = r->blk->next;
        r->p = r->blk->data;
        r->end = r->blk->data + r->blk->len;
    }
    if ((size_t)(r->end - r->p) >= n) {
        pb_string(w, field, (const char *)r->p, n);
        r->p += n;
        return;
    }
    if (!str_scratch.max)
        otus_buf_init(&str_scratch, 0);
    otus_buf_reset(&str_scratch);
    int rc = otus_buf_reserve(&str_scratch, n);
    if (rc) {
        w->err = rc;
        otus__rd_skip(r, n);
        return;
    }
    otus__rd_bytes(r, str_scratch.data, n);
    str_scratch.len = n;
    pb_string(w, field, str_scratch.data, n);
}

/* ---- attributes in user form (resource, metric points, HTTP helpers) -------------- */

static void anyvalue_user(struct otus__pb *w, const struct otus_attr *a, int depth);

static void kv_user(struct otus__pb *w, uint32_t field, const char *key, const struct otus_attr *a,
                    int depth)
{
    size_t kv = otus__pb_open(w, field);
    const char *k = key ? key : "";
    if (*k)
        pb_string(w, 1, k, strlen(k));
    size_t av = otus__pb_open(w, 2);
    anyvalue_user(w, a, depth);
    otus__pb_close(w, av);
    otus__pb_close(w, kv);
}

static void anyvalue_user(struct otus__pb *w, const struct otus_attr *a, int depth)
{
    if (depth > OTUS__ATTR_MAX_DEPTH)
        return;
    switch (a->type) {
    case OTUS_TYPE_STRING:
        pb_string(w, 1, a->v.s ? a->v.s : "", otus__attr_strlen(a));
        break;
    case OTUS_TYPE_BOOL:
        otus__pb_tag(w, 2, 0);
        otus__pb_varint(w, a->v.b != 0);
        break;
    case OTUS_TYPE_INT:
        otus__pb_tag(w, 3, 0);
        otus__pb_varint(w, (uint64_t)a->v.i);
        break;
    case OTUS_TYPE_DOUBLE:
        otus__pb_double_always(w, 4, a->v.d);
        break;
    case OTUS_TYPE_BYTES:
        otus__pb_bytes_always(w, 7, a->v.bytes ? a->v.bytes : "", a->v.bytes ? a->len : 0);
        break;
    case OTUS_TYPE_STRING_ARRAY:
    case OTUS_TYPE_BOOL_ARRAY:
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY:
    case OTUS_TYPE_ARRAY: {
        size_t arr = otus__pb_open(w, 5);
        for (uint32_t i = 0; a->v.bytes && i < a->len; i++) {
            struct otus_attr e;
            memset(&e, 0, sizeof(e));
            if (a->type == OTUS_TYPE_STRING_ARRAY)
                e = otus_attr_str("", a->v.strings[i] ? a->v.strings[i] : "");
            else if (a->type == OTUS_TYPE_BOOL_ARRAY)
                e = otus_attr_bool("", a->v.bools[i]);
            else if (a->type == OTUS_TYPE_INT_ARRAY)
                e = otus_attr_int("", a->v.ints[i]);
            else if (a->type == OTUS_TYPE_DOUBLE_ARRAY)
                e = otus_attr_double("", a->v.doubles[i]);
            else
                e = a->v.list[i];
            size_t v = otus__pb_open(w, 1);
            anyvalue_user(w, &e, depth + 1);
            otus__pb_close(w, v);
        }
        otus__pb_close(w, arr);
        break;
    }
    case OTUS_TYPE_KVLIST: {
        size_t l = otus__pb_open(w, 6);
        for (uint32_t i = 0; a->v.list && i < a->len; i++)
            kv_user(w, 1, a->v.list[i].key, &a->v.list[i], depth + 1);
        otus__pb_close(w, l);
        break;
    }
    default:
        break;
    }
}

void otus__pb_attrs(struct otus__pb *w, uint32_t field, const struct otus_attr *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kv_user(w, field, a[i].key, &a[i], 0);
}

void otus__pb_kv_string(struct otus__pb *w, uint32_t field, const char *key, const char *value)
{
    struct otus_attr a = otus_attr_str(key, value);
    kv_user(w, field, key, &a, 0);
}

void otus__pb_resource(struct otus__pb *w, uint32_t field)
{
    otus__pb_bytes_always(w, field, otus__g.resource_pb.data, otus__g.resource_pb.len);
}

void otus__pb_scope(struct otus__pb *w, uint32_t field)
{
    size_t s = otus__pb_open(w, field);
    otus__pb_bytes(w, 1, "otus", 4);
    otus__pb_bytes(w, 2, OTUS_VERSION_STRING, strlen(OTUS_VERSION_STRING));
    otus__pb_close(w, s);
}

/* ---- attributes in record-stream form (spans, logs) --------------------------------- */

void otus__rd_bytes(struct otus__rd *r, void *dst, size_t n)
{
    unsigned char *d = dst;
    while (n) {
        if (r->p == r->end) {
            r->blk = r->blk->next;
            r->p = r->blk->data;
            r->end = r->blk->data + r->blk->len;
        }
        size_t room = (size_t)(r->end - r->p);
        size_t k = n < room ? n : room;
        memcpy(d, r->p, k);
        r->p += k;
        d += k;
        n -= k;
    }
}

void otus__rd_skip(struct otus__rd *r, size_t n)
{
    while (n) {
        if (r->p == r->end) {
            r->blk = r->blk->next;
            r->p = r->blk->data;
            r->end = r->blk->data + r->blk->len;
        }
        size_t room = (size_t)(r->end - r->p);
        size_t k = n < room ? n : room;
        r->p += k;
        n -= k;
    }
}

/* Copies n stream bytes into the protobuf output. */
static void rd_to_pb(struct otus__pb *w, struct otus__rd *r, size_t n)
{
    while (n) {
        if (r->p == r->end) {
            r->blk = r->blk->next;
            r->p = r->blk->data;
            r->end = r->blk->data + r->blk->len;
        }
        size_t room = (size_t)(r->end - r->p);
        size_t k = n < room ? n : room;
        otus__pb_raw(w, r->p, k);
        r->p += k;
        n -= k;
    }
}

static void anyvalue_stream(struct otus__pb *w, uint8_t type, struct otus__rd *r, int depth);

static void kv_stream(struct otus__pb *w, uint32_t field, struct otus__rd *r, int depth)
{
    uint8_t type = otus__rd_u8(r);
    uint16_t kl = otus__rd_u16(r);
    size_t kv = otus__pb_open(w, field);
    if (kl)
        stream_string(w, 1, r, kl);
    size_t av = otus__pb_open(w, 2);
    anyvalue_stream(w, type, r, depth);
    otus__pb_close(w, av);
    otus__pb_close(w, kv);
}

static void anyvalue_stream(struct otus__pb *w, uint8_t type, struct otus__rd *r, int depth)
{
    switch (type) {
    case OTUS_TYPE_STRING:
        stream_string(w, 1, r, otus__rd_u32(r));
        break;
    case OTUS_TYPE_BYTES: {
        uint32_t n = otus__rd_u32(r);
        otus__pb_tag(w, 7, 2);
        otus__pb_varint(w, n);
        rd_to_pb(w, r, n);
        break;
    }
    case OTUS_TYPE_BOOL:
        otus__pb_tag(w, 2, 0);
        otus__pb_varint(w, otus__rd_u8(r) != 0);
        break;
    case OTUS_TYPE_INT:
        otus__pb_tag(w, 3, 0);
        otus__pb_varint(w, otus__rd_u64(r));
        break;
    case OTUS_TYPE_DOUBLE: {
        uint64_t b = otus__rd_u64(r);
        otus__pb_fixed64_always(w, 4, b);
        break;
    }
    case OTUS_TYPE_STRING_ARRAY:
    case OTUS_TYPE_BOOL_ARRAY:
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY:
    case OTUS_TYPE_ARRAY: {
        uint32_t n = otus__rd_u32(r);
        size_t arr = otus__pb_open(w, 5);
        for (uint32_t i = 0; i < n; i++) {
            size_t v = otus__pb_open(w, 1);
            if (type == OTUS_TYPE_STRING_ARRAY) {
                anyvalue_stream(w, OTUS_TYPE_STRING, r, depth + 1);
            } else if (type == OTUS_TYPE_BOOL_ARRAY) {
                anyvalue_stream(w, OTUS_TYPE_BOOL, r, depth + 1);
            } else if (type == OTUS_TYPE_INT_ARRAY) {
                anyvalue_stream(w, OTUS_TYPE_INT, r, depth + 1);
            } else if (type == OTUS_TYPE_DOUBLE_ARRAY) {
                anyvalue_stream(w, OTUS_TYPE_DOUBLE, r, depth + 1);
            } else {
                uint8_t et = otus__rd_u8(r);
                uint16_t kl = otus__rd_u16(r);
                otus__rd_skip(r, kl);
                anyvalue_stream(w, et, r, depth + 1);
            }
            otus__pb_close(w, v);
        }
        otus__pb_close(w, arr);
        break;
    }
    case OTUS_TYPE_KVLIST: {
        uint32_t n = otus__rd_u32(r);
        size_t l = otus__pb_open(w, 6);
        for (uint32_t i = 0; i < n; i++)
            kv_stream(w, 1, r, depth + 1);
        otus__pb_close(w, l);
        break;
    }
    default:
        break;
    }
}

void otus__pb_attr_from_stream(struct otus__pb *w, uint32_t field, struct otus__rd *r)
{
    kv_stream(w, field, r, 0);
}

/* Skips one encoded value of type. */
static void skip_value(struct otus__rd *r, uint8_t type)
{
    switch (type) {
    case OTUS_TYPE_STRING:
    case OTUS_TYPE_BYTES:
        otus__rd_skip(r, otus__rd_u32(r));
        break;
    case OTUS_TYPE_BOOL:
        otus__rd_skip(r, 1);
        break;
    case OTUS_TYPE_INT:
    case OTUS_TYPE_DOUBLE:
        otus__rd_skip(r, 8);
        break;
    case OTUS_TYPE_STRING_ARRAY: {
        uint32_t n = otus__rd_u32(r);
        for (uint32_t i = 0; i < n; i++)
            otus__rd_skip(r, otus__rd_u32(r));
        break;
    }
    case OTUS_TYPE_BOOL_ARRAY:
        otus__rd_skip(r, otus__rd_u32(r));
        break;
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY:
        otus__rd_skip(r, (size_t)otus__rd_u32(r) * 8);
        break;
    case OTUS_TYPE_ARRAY:
    case OTUS_TYPE_KVLIST: {
        uint32_t n = otus__rd_u32(r);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t et = otus__rd_u8(r);
            otus__rd_skip(r, otus__rd_u16(r));
            skip_value(r, et);
        }
        break;
    }
    default:
        break;
    }
}

uint64_t otus__attr_skip_key(struct otus__rd *r, char *key, size_t cap, size_t *key_len)
{
    uint8_t type = otus__rd_u8(r);
    uint16_t kl = otus__rd_u16(r);
    *key_len = kl;
    size_t take = kl < cap ? kl : cap;
    otus__rd_bytes(r, key, take);
    otus__rd_skip(r, kl - take);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < take; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    h ^= kl;
    skip_value(r, type);
    return h;
}

void otus__acur_take(struct otus__acur *c, struct otus__rd *r)
{
    c->at = *r;
    uint8_t type = otus__rd_u8(r);
    uint16_t kl = otus__rd_u16(r);
    c->key_len = kl;
    if (r->end - r->p >= kl) {
        c->key_hash = otus__hash_bytes(r->p, kl, 0);
        r->p += kl;
    } else { /* a key across blocks: copied to hash it (rare) */
        char key[OTUS__KEY_MAX];
        otus__rd_bytes(r, key, kl);
        c->key_hash = otus__hash_bytes(key, kl, 0);
    }
    skip_value(r, type);
}

/* Whether the keys of two attributes are equal (hashes and lengths already are). */
static int same_key(const struct otus__acur *a, const struct otus__acur *b)
{
    struct otus__rd x = a->at, y = b->at;
    otus__rd_skip(&x, 3);
    otus__rd_skip(&y, 3);
    for (uint32_t i = 0; i < a->key_len; i++)
        if (otus__rd_u8(&x) != otus__rd_u8(&y))
            return 0;
    return 1;
}

void otus__pb_attr_cursors(struct otus__pb *w, uint32_t field, const struct otus__acur *c,
                           uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int later = 0;
        for (uint32_t j = i + 1; j < n && !later; j++)
            later = c[j].key_hash == c[i].key_hash && c[j].key_len == c[i].key_len &&
                    same_key(&c[i], &c[j]);
        if (later)
            continue;
        struct otus__rd r = c[i].at;
        kv_stream(w, field, &r, 0);
    }
}

static struct otus__acur *run_at;
static uint32_t run_cap;

void otus__pb_stream_attrs(struct otus__pb *w, uint32_t field, struct otus__rd *r, uint32_t count)
{
    if (count > run_cap) {
        uint32_t nc = run_cap ? run_cap : 64;
        while (nc < count)
            nc *= 2;
        struct otus__acur *g = realloc(run_at, nc * sizeof(*g));
        if (!g) {
            w->err = OTUS_ERR_NOMEM;
            return;
        }
        run_at = g;
        run_cap = nc;
    }
    for (uint32_t i = 0; i < count; i++)
        otus__acur_take(&run_at[i], r);
    otus__pb_attr_cursors(w, field, run_at, count);
}

void otus__pb_scratch_free(void)
{
    free(run_at);
    run_at = NULL;
    run_cap = 0;
    otus_buf_free(&str_scratch);
}

void otus__pb_stream_string(struct otus__pb *w, uint32_t field, struct otus__rd *r, size_t n)
{
    if (n)
        stream_string(w, field, r, n);
}
