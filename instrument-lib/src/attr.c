/*
 * attr.c: the compact binary form in which span and log records keep attributes.
 *
 * A record path copies each attribute once, into span blocks or the log ring, as:
 * type (1 byte), key length (2), key bytes, then the value: strings and bytes as a
 * 4-byte length and the bytes, booleans as 1 byte, integers and doubles as 8 bytes,
 * arrays as a 4-byte count and their elements, nested arrays and maps as a count and
 * full entries. Nothing is formatted here; the background thread reads this form to
 * write protobuf and JSON. String values longer than the configured value length
 * limit are cut to that many characters, as the OpenTelemetry attribute limits say.
 */
#include "internal.h"

/* Bytes of the first limit UTF-8 characters of s[0..n) (all of it under the limit). */
static size_t utf8_prefix(const char *s, size_t n, uint32_t limit)
{
    if (limit == UINT32_MAX || n <= limit)
        return n;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (chars == limit)
                return i;
            chars++;
        }
    }
    return n;
}

static size_t key_len(const struct otus_attr *a)
{
    size_t k = a->key ? strlen(a->key) : 0;
    return k > OTUS__KEY_MAX ? OTUS__KEY_MAX : k;
}

static size_t value_size(const struct otus_attr *a, uint32_t limit, int depth)
{
    if (depth > OTUS__ATTR_MAX_DEPTH)
        return 4; /* written as an empty string */
    switch (a->type) {
    case OTUS_TYPE_STRING: {
        size_t n = otus__attr_strlen(a);
        return 4 + utf8_prefix(a->v.s, n, limit);
    }
    case OTUS_TYPE_BYTES:
        return 4 + (a->v.bytes ? a->len : 0);
    case OTUS_TYPE_BOOL:
        return 1;
    case OTUS_TYPE_INT:
    case OTUS_TYPE_DOUBLE:
        return 8;
    case OTUS_TYPE_STRING_ARRAY: {
        size_t n = 4;
        for (uint32_t i = 0; a->v.strings && i < a->len; i++) {
            const char *s = a->v.strings[i] ? a->v.strings[i] : "";
            n += 4 + utf8_prefix(s, strlen(s), limit);
        }
        return n;
    }
    case OTUS_TYPE_BOOL_ARRAY:
        return 4 + (a->v.bools ? a->len : 0);
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY:
        return 4 + (a->v.ints ? (size_t)a->len * 8 : 0);
    case OTUS_TYPE_ARRAY:
    case OTUS_TYPE_KVLIST: {
        size_t n = 4;
        for (uint32_t i = 0; a->v.list && i < a->len; i++) {
            const struct otus_attr *e = &a->v.list[i];
            n += 3 + (a->type == OTUS_TYPE_KVLIST ? key_len(e) : 0) +
                 value_size(e, limit, depth + 1);
        }
        return n;
    }
    default:
        return 4;
    }
}

size_t otus__attr_size(const struct otus_attr *a, uint32_t value_limit)
{
    return 3 + key_len(a) + value_size(a, value_limit, 0);
}

static int valid_type(uint32_t t)
{
    return t >= OTUS_TYPE_STRING && t <= OTUS_TYPE_KVLIST;
}

static void put_value(struct otus__wr *w, const struct otus_attr *a, uint32_t limit, int depth)
{
    if (depth > OTUS__ATTR_MAX_DEPTH) {
        otus__wr_u32(w, 0);
        return;
    }
    switch (a->type) {
    case OTUS_TYPE_STRING: {
        size_t n = utf8_prefix(a->v.s, otus__attr_strlen(a), limit);
        otus__wr_u32(w, (uint32_t)n);
        otus__wr_bytes(w, a->v.s, n);
        break;
    }
    case OTUS_TYPE_BYTES: {
        uint32_t n = a->v.bytes ? a->len : 0;
        otus__wr_u32(w, n);
        otus__wr_bytes(w, a->v.bytes, n);
        break;
    }
    case OTUS_TYPE_BOOL:
        otus__wr_u8(w, a->v.b != 0);
        break;
    case OTUS_TYPE_INT:
        otus__wr_u64(w, (uint64_t)a->v.i);
        break;
    case OTUS_TYPE_DOUBLE: {
        uint64_t b;
        memcpy(&b, &a->v.d, 8);
        otus__wr_u64(w, b);
        break;
    }
    case OTUS_TYPE_STRING_ARRAY: {
        uint32_t n = a->v.strings ? a->len : 0;
        otus__wr_u32(w, n);
        for (uint32_t i = 0; i < n; i++) {
            const char *s = a->v.strings[i] ? a->v.strings[i] : "";
            size_t l = utf8_prefix(s, strlen(s), limit);
            otus__wr_u32(w, (uint32_t)l);
            otus__wr_bytes(w, s, l);
        }
        break;
    }
    case OTUS_TYPE_BOOL_ARRAY: {
        uint32_t n = a->v.bools ? a->len : 0;
        otus__wr_u32(w, n);
        for (uint32_t i = 0; i < n; i++)
            otus__wr_u8(w, a->v.bools[i] != 0);
        break;
    }
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY: {
        uint32_t n = a->v.ints ? a->len : 0;
        otus__wr_u32(w, n);
        otus__wr_bytes(w, a->v.ints, (size_t)n * 8);
        break;
    }
    case OTUS_TYPE_ARRAY:
    case OTUS_TYPE_KVLIST: {
        uint32_t n = a->v.list ? a->len : 0;
        otus__wr_u32(w, n);
        for (uint32_t i = 0; i < n; i++) {
            const struct otus_attr *e = &a->v.list[i];
            uint8_t et = valid_type(e->type) ? (uint8_t)e->type : OTUS_TYPE_STRING;
            otus__wr_u8(w, et);
            size_t kl = a->type == OTUS_TYPE_KVLIST ? key_len(e) : 0;
            otus__wr_u16(w, (uint16_t)kl);
            otus__wr_bytes(w, e->key, kl);
            if (et != e->type)
                otus__wr_u32(w, 0);
            else
                put_value(w, e, limit, depth + 1);
        }
        break;
    }
    default:
        otus__wr_u32(w, 0);
        break;
    }
}

void otus__attr_put(struct otus__wr *w, const struct otus_attr *a, uint32_t value_limit)
{
    /* An unknown type is kept as an empty string, matching otus__attr_size. */
    uint8_t t = valid_type(a->type) ? (uint8_t)a->type : OTUS_TYPE_STRING;
    otus__wr_u8(w, t);
    size_t kl = key_len(a);
    otus__wr_u16(w, (uint16_t)kl);
    otus__wr_bytes(w, a->key, kl);
    if (t != a->type)
        otus__wr_u32(w, 0);
    else
        put_value(w, a, value_limit, 0);
}

/* ---- flat attributes: sized once, written from the saved lengths ------------------ */

static inline int flat(uint32_t type)
{
    return type == OTUS_TYPE_STRING || type == OTUS_TYPE_INT || type == OTUS_TYPE_DOUBLE ||
           type == OTUS_TYPE_BOOL;
}

size_t otus__attrs_measure(const struct otus_attr *a, size_t n, uint32_t limit,
                           struct otus__alen *len)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= OTUS__FLAT_MAX || !flat(a[i].type)) {
            bytes += otus__attr_size(&a[i], limit);
            continue;
        }
        size_t kl = a[i].key ? strlen(a[i].key) : 0;
        len[i].key = (uint32_t)(kl > OTUS__KEY_MAX ? OTUS__KEY_MAX : kl);
        switch (a[i].type) {
        case OTUS_TYPE_STRING:
            len[i].value = (uint32_t)utf8_prefix(a[i].v.s, otus__attr_strlen(&a[i]), limit);
            bytes += 3u + len[i].key + 4u + len[i].value;
            break;
        case OTUS_TYPE_BOOL:
            bytes += 3u + len[i].key + 1u;
            break;
        default:
            bytes += 3u + len[i].key + 8u;
            break;
        }
    }
    return bytes;
}

void otus__attrs_write(struct otus__wr *w, const struct otus_attr *a, size_t n, uint32_t limit,
                       const struct otus__alen *len, int entry_kind)
{
    /* The write position stays in a register: byte stores through it would otherwise
     * make the compiler reload w->p after each one. */
    unsigned char *p = w->p, *end = w->end;
    size_t kind = entry_kind ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t t = a[i].type;
        size_t need = 0;
        if (i < OTUS__FLAT_MAX && flat(t))
            need = kind + 3u + len[i].key +
                   (t == OTUS_TYPE_STRING ? 4u + len[i].value
                    : t == OTUS_TYPE_BOOL ? 1u
                                          : 8u);
        if (!need || (size_t)(end - p) < need) {
            /* Not flat, or crossing into the next block: the general writer. */
            w->p = p;
            if (entry_kind)
                otus__wr_u8(w, (uint8_t)entry_kind);
            otus__attr_put(w, &a[i], limit);
            p = w->p;
            end = w->end;
            continue;
        }
        if (kind)
            *p++ = (unsigned char)entry_kind;
        uint16_t kl = (uint16_t)len[i].key;
        p[0] = (unsigned char)t;
        memcpy(p + 1, &kl, 2);
        otus__copy(p + 3, a[i].key, kl);
        p += 3 + kl;
        if (t == OTUS_TYPE_STRING) {
            memcpy(p, &len[i].value, 4);
            otus__copy(p + 4, a[i].v.s, len[i].value);
            p += 4 + len[i].value;
        } else if (t == OTUS_TYPE_BOOL) {
            *p++ = a[i].v.b != 0;
        } else {
            memcpy(p, &a[i].v.i, 8);
            p += 8;
        }
    }
    w->p = p;
}
