/*
 * logfmt.c: one JSON object per line for a log record, written by the background
 * thread (or, when the library is stopped, by the caller).
 *
 * {"timestamp":"2025-01-02T03:04:05.123456789Z","level":"INFO","message":"...",
 *  "service.name":"checkout","trace_id":"...","span_id":"...","trace_flags":"01",
 *  "user.id":42,...}
 *
 * trace_id, span_id and trace_flags are named as the OpenTelemetry log and trace
 * context compatibility specification names them (lowercase hex, flags as two hex
 * digits) and appear only for records made inside a span. Fields follow, typed: a
 * field whose key is one of the line's own keys is written with a "_" prefix so the
 * line never repeats a key. The JSON writer makes any input valid JSON (escaping,
 * ill-formed UTF-8 replaced by U+FFFD). Bytes values are base64.
 */
#include "internal.h"

#include "common/clock.h"
#include "common/hex.h"
#include "common/json.h"

static const char *const reserved[] = {"timestamp", "level",   "message",    "service.name",
                                       "trace_id",  "span_id", "trace_flags"};

/* Reads n stream bytes into a JSON string value. */
static void json_stream_string(struct otus_json *j, struct otus__rd *r, size_t n)
{
    /* Log records are contiguous: the bytes are in place. */
    otus_json_string(j, (const char *)r->p, n);
    r->p += n;
}

static void json_base64(struct otus_json *j, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct otus_buf tmp;
    otus_buf_init(&tmp, 0);
    int rc = otus_buf_reserve(&tmp, (n + 2) / 3 * 4 + 1);
    if (rc) {
        j->err = rc;
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        tmp.data[o++] = tab[(v >> 18) & 63];
        tmp.data[o++] = tab[(v >> 12) & 63];
        tmp.data[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        tmp.data[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    otus_json_string(j, tmp.data, o);
    otus_buf_free(&tmp);
}

static void json_value(struct otus_json *j, uint8_t type, struct otus__rd *r, int depth)
{
    switch (type) {
    case OTUS_TYPE_STRING:
        json_stream_string(j, r, otus__rd_u32(r));
        break;
    case OTUS_TYPE_BYTES: {
        uint32_t n = otus__rd_u32(r);
        json_base64(j, r->p, n);
        r->p += n;
        break;
    }
    case OTUS_TYPE_BOOL:
        otus_json_bool(j, otus__rd_u8(r) != 0);
        break;
    case OTUS_TYPE_INT:
        otus_json_int(j, (int64_t)otus__rd_u64(r));
        break;
    case OTUS_TYPE_DOUBLE: {
        uint64_t b = otus__rd_u64(r);
        double d;
        memcpy(&d, &b, 8);
        otus_json_double(j, d);
        break;
    }
    case OTUS_TYPE_STRING_ARRAY:
    case OTUS_TYPE_BOOL_ARRAY:
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY:
    case OTUS_TYPE_ARRAY: {
        uint32_t n = otus__rd_u32(r);
        otus_json_array_begin(j);
        for (uint32_t i = 0; i < n; i++) {
            if (type == OTUS_TYPE_STRING_ARRAY)
                json_value(j, OTUS_TYPE_STRING, r, depth + 1);
            else if (type == OTUS_TYPE_BOOL_ARRAY)
                json_value(j, OTUS_TYPE_BOOL, r, depth + 1);
            else if (type == OTUS_TYPE_INT_ARRAY)
                json_value(j, OTUS_TYPE_INT, r, depth + 1);
            else if (type == OTUS_TYPE_DOUBLE_ARRAY)
                json_value(j, OTUS_TYPE_DOUBLE, r, depth + 1);
            else {
                uint8_t et = otus__rd_u8(r);
                otus__rd_skip(r, otus__rd_u16(r));
                json_value(j, et, r, depth + 1);
            }
        }
        otus_json_array_end(j);
        break;
    }
    case OTUS_TYPE_KVLIST: {
        uint32_t n = otus__rd_u32(r);
        otus_json_object_begin(j);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t et = otus__rd_u8(r);
            uint16_t kl = otus__rd_u16(r);
            otus_json_key(j, (const char *)r->p, kl);
            r->p += kl;
            json_value(j, et, r, depth + 1);
        }
        otus_json_object_end(j);
        break;
    }
    default:
        otus_json_null(j);
        break;
    }
}

static int is_reserved(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strlen(reserved[i]) == n && memcmp(reserved[i], k, n) == 0)
            return 1;
    return 0;
}

int otus__log_format_json(struct otus_buf *out, const struct otus__log_rec *rec, uint64_t unix_ns)
{
    size_t start = out->len;
    struct otus_json j;
    otus_json_init(&j, out);
    char ts[OTUS_RFC3339_BUF];
    otus_time_rfc3339_nano(unix_ns, ts);
    otus_json_object_begin(&j);
    otus_json_key(&j, "timestamp", 9);
    otus_json_string(&j, ts, OTUS_RFC3339_NANO_LEN);
    otus_json_key(&j, "level", 5);
    otus_json_cstr(&j, otus__level_name(rec->level));
    otus_json_key(&j, "message", 7);
    const unsigned char *p = (const unsigned char *)(rec + 1);
    otus_json_string(&j, (const char *)p, rec->msg_len);
    if (otus__g.service_name) {
        otus_json_key(&j, "service.name", 12);
        otus_json_cstr(&j, otus__g.service_name);
    }
    if (rec->has_ctx) {
        char hex[33];
        otus_hex_encode(rec->trace_id, 16, hex);
        otus_json_key(&j, "trace_id", 8);
        otus_json_string(&j, hex, 32);
        otus_hex_encode(rec->span_id, 8, hex);
        otus_json_key(&j, "span_id", 7);
        otus_json_string(&j, hex, 16);
        otus_hex_encode(&rec->trace_flags, 1, hex);
        otus_json_key(&j, "trace_flags", 11);
        otus_json_string(&j, hex, 2);
    }
    struct otus__rd r = {p + rec->msg_len, (const unsigned char *)rec + rec->h.len, NULL};
    for (uint32_t i = 0; i < rec->n_fields; i++) {
        uint8_t type = otus__rd_u8(&r);
        uint16_t kl = otus__rd_u16(&r);
        const char *k = (const char *)r.p;
        r.p += kl;
        if (is_reserved(k, kl)) {
            char pk[64];
            pk[0] = '_';
            memcpy(pk + 1, k, kl);
            otus_json_key(&j, pk, (size_t)kl + 1);
        } else {
            otus_json_key(&j, k, kl);
        }
        json_value(&j, type, &r, 0);
    }
    otus_json_object_end(&j);
    int rc = otus_json_error(&j);
    if (!rc)
        rc = otus_buf_append_byte(out, '\n');
    if (rc)
        out->len = start;
    return rc;
}
