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
size_t otus__utf8_prefix(const char *s, size_t n, uint32_t limit)
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

static size_t value_size(const struct otus_attr *a, uint32_t limit, int depth)
{
    if (depth > OTUS__ATTR_MAX_DEPTH)
        return 4; /* written as an empty string */
    switch (a->type) {
    case OTUS_TYPE_STRING: {
        size_t n = otus__attr_strlen(a);
        return 4 + otus__utf8_prefix(a->v.s, n, limit);
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
            n += 4 + otus__utf8_prefix(s, strlen(s), limit);
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
            n += 3 + (a->type == OTUS_TYPE_KVLIST ? otus__key_len_of(e) : 0) +
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
    return 3 + otus__key_len_of(a) + value_size(a, value_limit, 0);
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
        size_t n = otus__utf8_prefix(a->v.s, otus__attr_strlen(a), limit);
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
            size_t l = otus__utf8_prefix(s, strlen(s), limit);
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
            size_t kl = a->type == OTUS_TYPE_KVLIST ? otus__key_len_of(e) : 0;
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
    size_t kl = otus__key_len_of(a);
    otus__wr_u16(w, (uint16_t)kl);
    otus__wr_bytes(w, a->key, kl);
    if (t != a->type)
        otus__wr_u32(w, 0);
    else
        put_value(w, a, value_limit, 0);
}

const uint8_t otus__flat_value_sizes[8] = {
    [OTUS_TYPE_STRING] = 4, [OTUS_TYPE_BOOL] = 1, [OTUS_TYPE_INT] = 8, [OTUS_TYPE_DOUBLE] = 8};

/* ---- flat attributes across blocks ------------------------------------------------ */

void otus__attrs_write_general(struct otus__wr *w, const struct otus_attr *a, size_t n,
                               uint32_t limit, const struct otus__alen *len, int entry_kind)
{
    int measured = n <= OTUS__FLAT_MAX; /* len holds the flat entries' lengths */
    for (size_t i = 0; i < n; i++) {
        if (measured && otus__attr_flat(a[i].type)) {
            /* Written piecewise, each piece through the block-crossing writer. */
            const struct otus_attr *e = &a[i];
            uint32_t kl = len[i].key;
            if (entry_kind)
                otus__wr_u8(w, (uint8_t)entry_kind);
            otus__wr_u8(w, (uint8_t)e->type);
            otus__wr_u16(w, (uint16_t)kl);
            otus__wr_bytes(w, e->key, kl);
            if (e->type == OTUS_TYPE_STRING) {
                otus__wr_u32(w, len[i].value);
                otus__wr_bytes(w, e->v.s, len[i].value);
            } else if (e->type == OTUS_TYPE_BOOL) {
                otus__wr_u8(w, e->v.b != 0);
            } else {
                otus__wr_u64(w, (uint64_t)e->v.i);
            }
            continue;
        }
        if (entry_kind)
            otus__wr_u8(w, (uint8_t)entry_kind);
        otus__attr_put(w, &a[i], limit);
    }
}
