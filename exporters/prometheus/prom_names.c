/*
 * prom_names.c: metric and label names, unit suffixes, escaping and number text for
 * the Prometheus exporter (prom_names.h). These run for every data point ingested
 * and every sample rendered, so the common cases (clean ASCII names, integer and
 * short decimal values) take fast paths and the general ones stay correct.
 */
#include "exporters/prometheus/prom_names.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/base64.h"
#include "common/json.h"
#include "exporters/documents.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
#define AV(field) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##field

/* ---- units ------------------------------------------------------------------------- */

struct unit_map {
    const char *ucum;
    const char *word;
};

/* The units of the OpenTelemetry semantic conventions, written out as Prometheus'
 * naming practice wants (full plural words). */
static const struct unit_map main_units[] = {
    {"d", "days"},          {"h", "hours"},         {"min", "minutes"},    {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"}, {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"}, {"TiBy", "tebibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},  {"TBy", "terabytes"},
    {"bit", "bits"},        {"m", "meters"},        {"V", "volts"},        {"A", "amperes"},
    {"J", "joules"},        {"W", "watts"},         {"g", "grams"},        {"Cel", "celsius"},
    {"Hz", "hertz"},        {"1", "ratio"},         {"%", "percent"},      {NULL, NULL},
};

/* After a '/', time units are singular: "bytes_per_second". */
static const struct unit_map per_units[] = {
    {"s", "second"}, {"m", "minute"}, {"min", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"},   {"mo", "month"}, {"y", "year"},     {NULL, NULL},
};

static const char *unit_lookup(const struct unit_map *map, const char *u, size_t n)
{
    for (const struct unit_map *m = map; m->ucum; m++)
        if (strlen(m->ucum) == n && memcmp(m->ucum, u, n) == 0)
            return m->word;
    return NULL;
}

/* Character classes, one table lookup each: ALNUM letters and digits; ESC the bytes
 * a label value escapes or checks (backslash, newline, quote) and every non-ASCII
 * byte (its UTF-8 sequence is checked). */
enum { ALNUM = 1, ESC = 2 };

#define A ALNUM
#define E ESC
/* clang-format off */
static const unsigned char cclass[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, E, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, E, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0, 0,
    0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, 0, E, 0, 0, 0,
    0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
    E, E, E, E, E, E, E, E, E, E, E, E, E, E, E, E,
};
/* clang-format on */
#undef A
#undef E

static int is_alnum(unsigned char c)
{
    return cclass[c] & ALNUM;
}

/* Appends the sanitised word s[0..n) to out[*len..cap): alphanumerics kept, anything
 * else one '_', no leading, trailing or doubled '_'. */
static void put_word(char *out, size_t *len, size_t cap, const char *s, size_t n)
{
    int pending = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c)) {
            pending = *len > 0;
            continue;
        }
        if (pending && *len + 1 < cap)
            out[(*len)++] = '_';
        pending = 0;
        if (*len + 1 < cap)
            out[(*len)++] = (char)c;
    }
    out[*len] = '\0';
}

size_t prom_unit_word(const char *unit, char *out)
{
    /* Drop the {annotations} first, then split at the first '/'. */
    char u[PROM_UNIT_MAX];
    size_t n = 0;
    int depth = 0;
    for (const char *p = unit ? unit : ""; *p && n + 1 < sizeof(u); p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && depth > 0)
            depth--;
        else if (!depth && *p != ' ')
            u[n++] = *p;
    }
    u[n] = '\0';
    out[0] = '\0';
    const char *slash = memchr(u, '/', n);
    size_t main_n = slash ? (size_t)(slash - u) : n;
    const char *per = slash ? slash + 1 : NULL;
    size_t per_n = slash ? n - main_n - 1 : 0;
    size_t len = 0;
    /* "1/s" is a rate of something counted: "per_second", not "ratio_per_second". */
    if (main_n && !(per_n && main_n == 1 && u[0] == '1')) {
        const char *w = unit_lookup(main_units, u, main_n);
        if (w)
            put_word(out, &len, PROM_UNIT_MAX, w, strlen(w));
        else
            put_word(out, &len, PROM_UNIT_MAX, u, main_n);
    }
    if (per_n) {
        const char *w = unit_lookup(per_units, per, per_n);
        if (!w)
            w = unit_lookup(main_units, per, per_n);
        char pw[PROM_UNIT_MAX];
        size_t pl = 0;
        if (w)
            put_word(pw, &pl, sizeof(pw), w, strlen(w));
        else
            put_word(pw, &pl, sizeof(pw), per, per_n);
        if (pl) {
            put_word(out, &len, PROM_UNIT_MAX, "_per_", 5);
            if (len == 0)
                put_word(out, &len, PROM_UNIT_MAX, "per", 3);
            if (len + 1 < PROM_UNIT_MAX)
                out[len++] = '_';
            put_word(out, &len, PROM_UNIT_MAX, pw, pl);
        }
    }
    return len;
}

/* ---- names --------------------------------------------------------------------------- */

static int is_name_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == ':';
}

static int ends_with_word(const char *s, size_t n, const char *w, size_t wn)
{
    if (n == wn)
        return memcmp(s, w, wn) == 0;
    return n > wn && s[n - wn - 1] == '_' && memcmp(s + n - wn, w, wn) == 0;
}

int prom_family_name(const char *name, const char *unit, int counter, struct otus_buf *out,
                     char *unit_out)
{
    size_t start = out->len;
    size_t nlen = strlen(name);
    int rc = otus_buf_reserve(out, nlen + 2 + PROM_UNIT_MAX);
    if (rc)
        return rc;
    char *d = out->data + start;
    size_t len = 0;
    int pending = 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_name_char(c) || c == '_') {
            pending = len > 0;
            continue;
        }
        if (len == 0 && c >= '0' && c <= '9')
            d[len++] = '_';
        if (pending)
            d[len++] = '_';
        pending = 0;
        d[len++] = (char)c;
    }
    if (len == 0)
        return OTUS_ERR_INVALID;
    if (counter && len > 6 && memcmp(d + len - 6, "_total", 6) == 0)
        len -= 6;
    size_t ul = prom_unit_word(unit, unit_out);
    if (ul && !ends_with_word(d, len, unit_out, ul)) {
        d[len++] = '_';
        memcpy(d + len, unit_out, ul);
        len += ul;
    }
    out->len = start + len;
    return 0;
}

size_t prom_label_name_clean_len(const char *key)
{
    const unsigned char *p = (const unsigned char *)key;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    for (; *p; p++) {
        if (*p == '_' && p[1] == '_')
            return 0;
        if (!is_alnum(*p) && *p != '_')
            return 0;
    }
    return (size_t)(p - (const unsigned char *)key);
}

int prom_label_name(const char *key, struct otus_buf *out)
{
    size_t n = strlen(key);
    if (n == 0)
        return OTUS_ERR_INVALID;
    int rc = otus_buf_reserve(out, n + 4);
    if (rc)
        return rc;
    char *d = out->data + out->len;
    size_t len = 0;
    if (key[0] >= '0' && key[0] <= '9') {
        memcpy(d, "key_", 4);
        len = 4;
    } else if (!is_alnum((unsigned char)key[0])) {
        memcpy(d, "key", 3);
        len = 3;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!is_alnum(c)) {
            if (len == 0 || d[len - 1] != '_')
                d[len++] = '_';
            continue;
        }
        d[len++] = (char)c;
    }
    out->len += len;
    return 0;
}

/* ---- escaping ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static int escape(struct otus_buf *out, const char *s, size_t n, int quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (!(cclass[p[j]] & ESC) || (p[j] == '"' && !quote)))
            j++;
        int rc = otus_buf_append(out, s + i, j - i);
        if (rc)
            return rc;
        if (j == n)
            break;
        unsigned char c = p[j];
        if (c == '\\')
            rc = otus_buf_append(out, "\\\\", 2);
        else if (c == '\n')
            rc = otus_buf_append(out, "\\n", 2);
        else if (c == '"')
            rc = otus_buf_append(out, "\\\"", 2);
        else {
            size_t l = utf8_seq(p + j, n - j);
            if (l) {
                rc = otus_buf_append(out, s + j, l);
                j += l - 1;
            } else {
                rc = otus_buf_append(out, "\xEF\xBF\xBD", 3);
            }
        }
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

int prom_escape_value(struct otus_buf *out, const char *s, size_t n)
{
    return escape(out, s, n, 1);
}

int prom_utf8_clean(struct otus_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] < 0x80)
            j++;
        while (j < n) {
            size_t l = p[j] < 0x80 ? 1 : utf8_seq(p + j, n - j);
            if (!l)
                break;
            j += l;
        }
        int rc = otus_buf_append(out, s + i, j - i);
        if (!rc && j < n)
            rc = otus_buf_append(out, "\xEF\xBF\xBD", 3);
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

int prom_escape_help(struct otus_buf *out, const char *s, size_t n, int openmetrics)
{
    return escape(out, s, n, openmetrics);
}

/* ---- attribute values ------------------------------------------------------------------ */

static int base64(struct otus_buf *out, const uint8_t *in, size_t n)
{
    int rc = otus_buf_reserve(out, otus_base64_len(n));
    if (rc)
        return rc;
    otus_base64_encode(in, n, out->data + out->len);
    out->len += otus_base64_len(n);
    return 0;
}

int prom_any_value(struct otus_buf *out, const AnyValue *v)
{
    char tmp[PROM_NUM_MAX];
    if (!v)
        return 0;
    switch (v->value_case) {
    case AV(STRING_VALUE):
        return v->string_value ? otus_buf_append_str(out, v->string_value) : 0;
    case AV(BOOL_VALUE):
        return otus_buf_append_str(out, v->bool_value ? "true" : "false");
    case AV(INT_VALUE):
        if (v->int_value < 0) {
            int rc = otus_buf_append_byte(out, '-');
            if (rc)
                return rc;
            return otus_buf_append(out, tmp, prom_fmt_u64(0 - (uint64_t)v->int_value, tmp));
        }
        return otus_buf_append(out, tmp, prom_fmt_u64((uint64_t)v->int_value, tmp));
    case AV(DOUBLE_VALUE):
        return otus_buf_append(out, tmp, prom_fmt_double(v->double_value, tmp));
    case AV(BYTES_VALUE):
        return base64(out, v->bytes_value.data, v->bytes_value.len);
    case AV(ARRAY_VALUE):
    case AV(KVLIST_VALUE): {
        struct otus_json j;
        otus_json_init(&j, out);
        otus_doc_any_value(&j, v);
        return otus_json_error(&j);
    }
    default:
        return 0;
    }
}

/* ---- numbers ----------------------------------------------------------------------------- */

size_t prom_fmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

#define TWO_53 9007199254740992.0

/* 10^k as doubles (exact up to 10^22) and as 128-bit integers. */
static double pow10_d(int k)
{
    static const double t[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    return t[k];
}

static unsigned __int128 pow10_u128(int k)
{
    unsigned __int128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* m * 10^-k as a double, correctly rounded when m < 2^53 and |k| <= 22: one exact
 * operand and one IEEE operation, so it equals what strtod makes of that decimal. */
static double dec_value(uint64_t m, int k)
{
    return k >= 0 ? (double)m / pow10_d(k) : (double)m * pow10_d(-k);
}

/* Writes m * 10^-k in plain decimal notation, without trailing zeros after the point. */
static size_t put_decimal(char *out, int neg, uint64_t m, int k)
{
    while (k > 0 && m % 10 == 0) {
        m /= 10;
        k--;
    }
    char digits[24];
    size_t nd = prom_fmt_u64(m, digits), n = 0;
    if (neg)
        out[n++] = '-';
    if (k <= 0) {
        memcpy(out + n, digits, nd);
        n += nd;
        for (int z = 0; z < -k; z++)
            out[n++] = '0';
        return n;
    }
    if (nd <= (size_t)k) {
        out[n++] = '0';
        out[n++] = '.';
        for (size_t z = nd; z < (size_t)k; z++)
            out[n++] = '0';
        memcpy(out + n, digits, nd);
        return n + nd;
    }
    memcpy(out + n, digits, nd - (size_t)k);
    n += nd - (size_t)k;
    out[n++] = '.';
    memcpy(out + n, digits + nd - (size_t)k, (size_t)k);
    return n + (size_t)k;
}

/*
 * For 1e-5 <= a < 2^53: the correctly rounded 17 significant digits of a, computed
 * exactly in 128-bit integers (a = f * 2^e with e <= 0, times 10^k with k <= 22 fits),
 * shortened to 15 or 16 digits when those read back to the same double. Returns the
 * length, or 0 when the operands do not fit (the caller falls back to printf).
 */
static size_t fmt_digits(double v, double a, char *out)
{
    uint64_t bits;
    memcpy(&bits, &a, sizeof(bits));
    int be = (int)((bits >> 52) & 0x7ff);
    if (be == 0)
        return 0;
    uint64_t f = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int e = be - 1075; /* a = f * 2^e */
    if (e > 0 || e < -127)
        return 0;
    int d = (int)floor(log10(a)); /* decimal exponent, maybe off by one */
    int k = 16 - d;
    uint64_t m = 0;
    for (int tries = 0; tries < 3; tries++) {
        if (k < 0 || k > 22)
            return 0;
        unsigned __int128 p = (unsigned __int128)f * pow10_u128(k);
        int sh = -e;
        unsigned __int128 q = sh ? p >> sh : p;
        if (sh) {
            unsigned __int128 rem = p - (q << sh), half = (unsigned __int128)1 << (sh - 1);
            if (rem > half || (rem == half && (q & 1)))
                q++;
        }
        if (q >= (unsigned __int128)100000000000000000ull) {
            k--;
            continue;
        }
        if (q < (unsigned __int128)10000000000000000ull) {
            k++;
            continue;
        }
        m = (uint64_t)q;
        break;
    }
    if (!m)
        return 0;
    /* Fewer digits when they read back exactly. */
    for (int drop = 2; drop >= 1; drop--) {
        uint64_t div = drop == 2 ? 100 : 10;
        uint64_t c = (m + div / 2) / div;
        if (c < (1ull << 53) && k - drop >= -22 && k - drop <= 22 && dec_value(c, k - drop) == a)
            return put_decimal(out, v < 0, c, k - drop);
    }
    return put_decimal(out, v < 0, m, k);
}

size_t prom_fmt_double(double v, char *out)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 4);
        return 4;
    }
    double a = fabs(v);
    size_t n = 0;
    if (a < TWO_53 && a == floor(a)) {
        if (v < 0)
            out[n++] = '-';
        return n + prom_fmt_u64((uint64_t)a, out + n);
    }
    /*
     * Short decimals: the first d for which m = round(a * 10^d) gives back a exactly
     * as m / 10^d. With m < 2^53 and 10^d exact, that division is correctly rounded,
     * so it equals what a parser makes of the text "m e-d": the text reads back to v.
     */
    if (a >= 1e-4 && a < 1e15) {
        for (int d = 1; d <= 8; d++) {
            double s = a * pow10_d(d);
            if (s >= TWO_53)
                break;
            double m = nearbyint(s);
            if (m / pow10_d(d) == a)
                return put_decimal(out, v < 0, (uint64_t)m, d);
        }
    }
    if (a >= 1e-5 && a < TWO_53) {
        size_t len = fmt_digits(v, a, out);
        if (len)
            return len;
    }
    /* Everything else: 17 significant digits always read back exactly. */
    int len = snprintf(out, PROM_NUM_MAX, "%.17g", v);
    return len > 0 ? (size_t)len : 0;
}

size_t prom_fmt_canonical(double v, char *out)
{
    if (isnan(v))
        return (size_t)snprintf(out, PROM_NUM_MAX, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, PROM_NUM_MAX, "%s", v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return (size_t)snprintf(out, PROM_NUM_MAX, "0.0");
    /* The fewest significant digits that read back, then Go's %g layout: exponent
     * form when the decimal exponent is below -4 or at least 6 (shortest precision). */
    char e[PROM_NUM_MAX];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, v);
    const char *x = strchr(e, 'e');
    int exp10 = atoi(x + 1);
    size_t n;
    if (exp10 < -4 || exp10 >= 6) {
        n = (size_t)snprintf(out, PROM_NUM_MAX, "%s", e);
    } else {
        int decimals = prec - 1 - exp10;
        n = (size_t)snprintf(out, PROM_NUM_MAX, "%.*f", decimals > 0 ? decimals : 0, v);
        if (!memchr(out, '.', n)) {
            memcpy(out + n, ".0", 3);
            n += 2;
        }
    }
    return n;
}

size_t prom_fmt_unix_ns(uint64_t ns, char *out)
{
    size_t n = prom_fmt_u64(ns / 1000000000u, out);
    uint64_t frac = ns % 1000000000u;
    if (!frac)
        return n;
    char f[10];
    for (int i = 8; i >= 0; i--) {
        f[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    size_t fl = 9;
    while (fl > 1 && f[fl - 1] == '0')
        fl--;
    out[n++] = '.';
    memcpy(out + n, f, fl);
    return n + fl;
}
