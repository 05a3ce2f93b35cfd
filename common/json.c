/*
 * json.c: the JSON writer of json.h.
 *
 * The string escaper is the hot part: it scans for the next byte that needs work
 * (a control character, '"', '\\' or a non-ASCII byte) with a table lookup and copies
 * the clean run before it in one memcpy. Non-ASCII bytes are validated as UTF-8 per
 * RFC 3629 (no overlong forms, no surrogates, nothing above U+10FFFF); each maximal
 * ill-formed subsequence becomes one U+FFFD, as the Unicode standard recommends.
 */
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

/* 1: byte needs escaping or UTF-8 validation. */
static const unsigned char needs_work[256] = {
    [0x00 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

static const char hexdig[] = "0123456789abcdef";

/* Non-zero when any of the 8 bytes in x needs work: below 0x20, '"', '\\', or >= 0x80
 * (the "hasless" and "haszero" bit tricks; no false negatives). */
static inline uint64_t special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t lt = (x - ones * 0x20) & ~x;
    uint64_t q = x ^ (ones * '"');
    uint64_t b = x ^ (ones * '\\');
    return (lt | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & high;
}

size_t otus_utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    size_t ignored;
    if (!bad)
        bad = &ignored;
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < len; i++) {
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

int otus_json_escape(struct otus_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case is 6 bytes per input byte (\u00XX); reserve the common case and grow. */
    int rc = otus_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        for (; i + 8 <= n; i += 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (special8(x))
                break;
        }
        while (i < n && !needs_work[s[i]])
            i++;
        if (i > start) {
            rc = otus_buf_append(b, s + start, i - start);
            if (rc)
                return rc;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        char esc[6];
        size_t elen = 2;
        esc[0] = '\\';
        if (c < 0x80) {
            switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hexdig[c >> 4];
                esc[5] = hexdig[c & 15];
                elen = 6;
            }
            rc = otus_buf_append(b, esc, elen);
            i++;
        } else {
            size_t bad = 0;
            size_t len = otus_utf8_seq(s + i, n - i, &bad);
            if (len) {
                rc = otus_buf_append(b, s + i, len);
                i += len;
            } else {
                rc = otus_buf_append(b, "\xef\xbf\xbd", 3);
                i += bad;
            }
        }
        if (rc)
            return rc;
    }
    return otus_buf_append_byte(b, '"');
}

/* Exact powers of ten: a double divided by one of these is correctly rounded. */
static const double pow10tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Writes v with the fewest fraction digits (up to 9) when such a short decimal reads
 * back as exactly v; returns the length or 0 when v needs the general path. */
static size_t format_short(double v, char *out)
{
    double a = v < 0 ? -v : v;
    if (!(a < 1e15) || (a != 0 && a < 1e-9))
        return 0;
    for (int k = 0; k <= 9; k++) {
        double scaled = a * pow10tab[k];
        if (scaled >= 9007199254740992.0)
            return 0;
        uint64_t n = (uint64_t)scaled;
        if ((double)n != scaled)
            continue;
        /* n / 10^k is correctly rounded, as strtod of the decimal text would be. */
        if ((double)n / pow10tab[k] != a)
            continue;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        while (nd <= k)
            digits[nd++] = '0';
        size_t len = 0;
        if (v < 0 || (v == 0 && 1 / v < 0))
            out[len++] = '-';
        for (int i = nd - 1; i >= k; i--)
            out[len++] = digits[i];
        out[len++] = '.';
        if (k == 0) {
            out[len++] = '0';
        } else {
            for (int i = k - 1; i >= 0; i--)
                out[len++] = digits[i];
        }
        out[len] = '\0';
        return len;
    }
    return 0;
}

size_t otus_json_format_double(double v, char *out)
{
    size_t fast = format_short(v, out);
    if (fast)
        return fast;
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            break;
    }
    if (!memchr(out, '.', (size_t)n) && !memchr(out, 'e', (size_t)n)) {
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

void otus_json_init(struct otus_json *j, struct otus_buf *b)
{
    j->b = b;
    j->comma = 0;
    j->depth = 0;
    j->err = 0;
}

int otus_json_error(const struct otus_json *j)
{
    if (j->err)
        return j->err;
    return j->depth == 0 ? 0 : OTUS_ERR_INVALID;
}

/* Writes the separator a new item at the current depth needs; false on a stuck error. */
static inline bool item(struct otus_json *j)
{
    if (j->err)
        return false;
    uint64_t bit = (uint64_t)1 << j->depth;
    if (j->comma & bit) {
        int rc = otus_buf_append_byte(j->b, ',');
        if (rc) {
            j->err = rc;
            return false;
        }
    }
    j->comma |= bit;
    return true;
}

static inline void put(struct otus_json *j, const char *s, size_t n)
{
    int rc = otus_buf_append(j->b, s, n);
    if (rc)
        j->err = rc;
}

static void open_container(struct otus_json *j, char c)
{
    if (!item(j))
        return;
    if (j->depth + 1 >= OTUS_JSON_MAX_DEPTH) {
        j->err = OTUS_ERR_INVALID;
        return;
    }
    put(j, &c, 1);
    j->depth++;
    j->comma &= ~((uint64_t)1 << j->depth);
}

static void close_container(struct otus_json *j, char c)
{
    if (j->err)
        return;
    if (j->depth == 0) {
        j->err = OTUS_ERR_INVALID;
        return;
    }
    j->depth--;
    put(j, &c, 1);
}

void otus_json_object_begin(struct otus_json *j)
{
    open_container(j, '{');
}

void otus_json_object_end(struct otus_json *j)
{
    close_container(j, '}');
}

void otus_json_array_begin(struct otus_json *j)
{
    open_container(j, '[');
}

void otus_json_array_end(struct otus_json *j)
{
    close_container(j, ']');
}

void otus_json_key(struct otus_json *j, const char *k, size_t n)
{
    if (!item(j))
        return;
    int rc = otus_json_escape(j->b, k, n);
    if (!rc)
        rc = otus_buf_append_byte(j->b, ':');
    if (rc) {
        j->err = rc;
        return;
    }
    /* The value that follows must not get a comma of its own. */
    j->comma &= ~((uint64_t)1 << j->depth);
}

void otus_json_key_plain(struct otus_json *j, const char *k, size_t n)
{
    if (!item(j))
        return;
    int rc = otus_buf_reserve(j->b, n + 3);
    if (rc) {
        j->err = rc;
        return;
    }
    char *p = j->b->data + j->b->len;
    p[0] = '"';
    memcpy(p + 1, k, n);
    p[n + 1] = '"';
    p[n + 2] = ':';
    j->b->len += n + 3;
    j->comma &= ~((uint64_t)1 << j->depth);
}

void otus_json_string(struct otus_json *j, const char *s, size_t n)
{
    if (!item(j))
        return;
    int rc = otus_json_escape(j->b, s, n);
    if (rc)
        j->err = rc;
}

/* Writes the decimal digits of v (after a '-' when neg) at the end of tmp[24];
 * returns the index of the first character. */
static size_t digits(char tmp[24], uint64_t v, int neg)
{
    size_t i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        tmp[--i] = '-';
    return i;
}

void otus_json_int(struct otus_json *j, int64_t v)
{
    if (!item(j))
        return;
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t i = digits(tmp, u, v < 0);
    put(j, tmp + i, 24 - i);
}

void otus_json_uint(struct otus_json *j, uint64_t v)
{
    if (!item(j))
        return;
    char tmp[24];
    size_t i = digits(tmp, v, 0);
    put(j, tmp + i, 24 - i);
}

void otus_json_double(struct otus_json *j, double v)
{
    if (isnan(v)) {
        otus_json_string(j, "NaN", 3);
        return;
    }
    if (isinf(v)) {
        if (v > 0)
            otus_json_string(j, "Infinity", 8);
        else
            otus_json_string(j, "-Infinity", 9);
        return;
    }
    if (!item(j))
        return;
    char tmp[40];
    size_t n = otus_json_format_double(v, tmp);
    put(j, tmp, n);
}

void otus_json_bool(struct otus_json *j, bool v)
{
    if (!item(j))
        return;
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

void otus_json_null(struct otus_json *j)
{
    if (!item(j))
        return;
    put(j, "null", 4);
}

void otus_json_raw(struct otus_json *j, const char *s, size_t n)
{
    if (!item(j))
        return;
    put(j, s, n);
}
