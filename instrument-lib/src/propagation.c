/*
 * propagation.c: W3C Trace Context (traceparent, tracestate) and W3C Baggage.
 *
 * traceparent follows the level 1 Recommendation to the letter: optional whitespace
 * around the value is ignored; the version is two lowercase hex digits and never ff;
 * version 00 is exactly 55 characters; a higher version is read by its version-00
 * prefix when what follows the flags is the end or a dash; trace and parent IDs are
 * lowercase hex and not all zero. tracestate members follow the level 1 key grammar
 * (simple keys and tenant@system keys) and value grammar; an invalid member, a
 * repeated key or more than 32 members invalidate the whole header, which is then
 * dropped without touching the traceparent. Decoding uses a 256-entry table, so a
 * traceparent is validated and decoded in one pass of about fifty table lookups.
 */
#include "internal.h"

#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Lowercase hex digit values; 0xff for anything else. */
static const uint8_t hexval[256] = {
    ['0'] = 0, ['1'] = 1, ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,  ['6'] = 6,  ['7'] = 7,
    ['8'] = 8, ['9'] = 9, ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15,
};
static int is_hexlc(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

#if !defined(__SSE2__)
/* Decodes n bytes from 2n lowercase hex digits; 0 or -1. */
static int hex_decode(const unsigned char *s, size_t n, uint8_t *out)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char hi = s[2 * i], lo = s[2 * i + 1];
        bad |= !is_hexlc(hi) | !is_hexlc(lo);
        out[i] = (uint8_t)(hexval[hi] << 4 | hexval[lo]);
    }
    return bad ? -1 : 0;
}
#endif

/* Decodes two lowercase hex digits; 0 or -1. */
static inline int hex_byte(const unsigned char *s, uint8_t *out)
{
    if (!is_hexlc(s[0]) || !is_hexlc(s[1]))
        return -1;
    *out = (uint8_t)(hexval[s[0]] << 4 | hexval[s[1]]);
    return 0;
}

/* Decodes 16 lowercase hex digits into 8 bytes; 0 or -1. SSE2: sixteen digits are
 * range-checked, turned into nibbles and paired in a dozen vector instructions. */
static inline int hex_decode16(const unsigned char *s, uint8_t *out)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i l = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
    __m128i nib = _mm_sub_epi8(v, _mm_or_si128(_mm_and_si128(d, _mm_set1_epi8('0')),
                                               _mm_and_si128(l, _mm_set1_epi8('a' - 10))));
    __m128i pair = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(nib, _mm_set1_epi16(0x00ff)), 4),
                                _mm_srli_epi16(nib, 8));
    _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(pair, pair)); /* stored either way */
    return _mm_movemask_epi8(_mm_or_si128(d, l)) == 0xffff ? 0 : -1;
#else
    return hex_decode(s, 8, out);
#endif
}

/* Writes 8 bytes as 16 lowercase hex digits. */
static inline void hex_encode16(const uint8_t *in, char *out)
{
#if defined(__SSE2__)
    __m128i b = _mm_loadl_epi64((const __m128i *)in);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    __m128i n = _mm_unpacklo_epi8(hi, lo);
    __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
    _mm_storeu_si128((__m128i *)out, _mm_add_epi8(n, _mm_add_epi8(_mm_set1_epi8('0'), letter)));
#else
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
#endif
}

int otus_traceparent_parse(const char *value, size_t len, struct otus_span_context *out)
{
    if (!value || !out)
        return OTUS_ERR_PARSE;
    const unsigned char *s = (const unsigned char *)value;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < OTUS_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return OTUS_ERR_PARSE;
    uint8_t version;
    if (hex_byte(s, &version) || version == 0xff)
        return OTUS_ERR_PARSE;
    if (version == 0 && len != OTUS_TRACEPARENT_LEN)
        return OTUS_ERR_PARSE;
    if (len > OTUS_TRACEPARENT_LEN && s[OTUS_TRACEPARENT_LEN] != '-')
        return OTUS_ERR_PARSE;
    uint8_t tid[16], sid[8], flags;
    if (hex_decode16(s + 3, tid) | hex_decode16(s + 19, tid + 8) | hex_decode16(s + 36, sid) |
        hex_byte(s + 53, &flags))
        return OTUS_ERR_PARSE;
    uint64_t a, b, c;
    memcpy(&a, tid, 8);
    memcpy(&b, tid + 8, 8);
    memcpy(&c, sid, 8);
    if ((a | b) == 0 || c == 0)
        return OTUS_ERR_PARSE;
    memcpy(out->trace_id, tid, 16);
    memcpy(out->span_id, sid, 8);
    out->trace_flags = flags;
    out->is_remote = 1;
    out->tracestate = NULL;
    out->tracestate_len = 0;
    return 0;
}

size_t otus_traceparent_format(const struct otus_span_context *ctx, char *out)
{
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    hex_encode16(ctx->trace_id, out + 3);
    hex_encode16(ctx->trace_id + 8, out + 19);
    out[35] = '-';
    hex_encode16(ctx->span_id, out + 36);
    out[52] = '-';
    out[53] = '0';
    out[54] = (ctx->trace_flags & OTUS_TRACE_FLAG_SAMPLED) ? '1' : '0';
    out[55] = '\0';
    return OTUS_TRACEPARENT_LEN;
}

/* ---- tracestate --------------------------------------------------------------------- */

static int key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

/* Level 1 key: simple-key = lcalpha 0*255(keychar);
 * multi-tenant-key = tenant-id "@" system-id, tenant-id = (lcalpha / DIGIT) 0*240(keychar),
 * system-id = lcalpha 0*13(keychar). */
static int valid_key(const unsigned char *k, size_t n)
{
    const unsigned char *at = memchr(k, '@', n);
    if (!at) {
        if (n < 1 || n > 256 || !(k[0] >= 'a' && k[0] <= 'z'))
            return 0;
        for (size_t i = 1; i < n; i++)
            if (!key_char(k[i]))
                return 0;
        return 1;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return 0;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
        return 0;
    for (size_t i = 1; i < tn; i++)
        if (!key_char(k[i]))
            return 0;
    if (!(at[1] >= 'a' && at[1] <= 'z'))
        return 0;
    for (size_t i = 2; i <= sn; i++)
        if (!key_char(at[i]))
            return 0;
    return 1;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr excludes ',' and '='. */
static int valid_value(const unsigned char *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
            return 0;
    return 1;
}

#define TS_MAX_MEMBERS 32

int otus_tracestate_combine(const char *const *fields, const size_t *lens, size_t n, char *out,
                            size_t cap)
{
    struct {
        const unsigned char *p;
        size_t len, key_len;
    } m[TS_MAX_MEMBERS];
    size_t count = 0;
    for (size_t f = 0; f < n; f++) {
        const unsigned char *s = (const unsigned char *)fields[f];
        size_t len = lens[f];
        size_t i = 0;
        while (i <= len) {
            size_t j = i;
            while (j < len && s[j] != ',')
                j++;
            size_t a = i, b = j;
            while (a < b && (s[a] == ' ' || s[a] == '\t'))
                a++;
            while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                b--;
            if (b > a) {
                const unsigned char *eq = memchr(s + a, '=', b - a);
                if (!eq || count == TS_MAX_MEMBERS)
                    return OTUS_ERR_PARSE;
                size_t kl = (size_t)(eq - (s + a));
                if (!valid_key(s + a, kl) || !valid_value(eq + 1, b - a - kl - 1))
                    return OTUS_ERR_PARSE;
                for (size_t k = 0; k < count; k++)
                    if (m[k].key_len == kl && memcmp(m[k].p, s + a, kl) == 0)
                        return OTUS_ERR_PARSE; /* a key may appear only once */
                m[count].p = s + a;
                m[count].len = b - a;
                m[count].key_len = kl;
                count++;
            }
            i = j + 1;
        }
    }
    if (!count || cap == 0) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    /* Fit in cap - 1 bytes: drop members over 128 bytes first, then from the end. */
    int keep[TS_MAX_MEMBERS];
    size_t total = 0;
    for (size_t k = 0; k < count; k++) {
        keep[k] = 1;
        total += m[k].len + (k ? 1 : 0);
    }
    size_t limit = cap - 1;
    for (size_t k = 0; k < count && total > limit; k++) {
        if (m[k].len > 128) {
            keep[k] = 0;
            total -= m[k].len + 1;
        }
    }
    for (size_t k = count; k-- > 0 && total > limit;) {
        if (keep[k]) {
            keep[k] = 0;
            total -= m[k].len + 1;
        }
    }
    size_t o = 0;
    for (size_t k = 0; k < count; k++) {
        if (!keep[k])
            continue;
        if (o)
            out[o++] = ',';
        memcpy(out + o, m[k].p, m[k].len);
        o += m[k].len;
    }
    out[o] = '\0';
    return (int)o;
}

/* ---- context ------------------------------------------------------------------------ */

#define TS_MAX_FIELDS 64

int otus_context_extract(struct otus_context *ctx, otus_getter_fn get, void *carrier)
{
    if (!ctx)
        return OTUS_ERR_INVALID;
    ctx->valid = 0;
    ctx->tracestate[0] = '\0';
    memset(&ctx->span, 0, sizeof(ctx->span));
    if (!get)
        return OTUS_ERR_INVALID;
    const char *v[TS_MAX_FIELDS];
    size_t l[TS_MAX_FIELDS];
    size_t n = get(carrier, "traceparent", v, l, 2);
    if (n == 0)
        return OTUS_ERR_NOT_FOUND;
    if (n > 1 || otus_traceparent_parse(v[0], l[0], &ctx->span))
        return OTUS_ERR_PARSE; /* a repeated traceparent is as good as none */
    ctx->valid = 1;
    n = get(carrier, "tracestate", v, l, TS_MAX_FIELDS);
    if (n && n <= TS_MAX_FIELDS) {
        int len = otus_tracestate_combine(v, l, n, ctx->tracestate, sizeof(ctx->tracestate));
        if (len > 0) {
            ctx->span.tracestate = ctx->tracestate;
            ctx->span.tracestate_len = (uint16_t)len;
        } else {
            ctx->tracestate[0] = '\0';
        }
    }
    return 0;
}

int otus_context_inject(const struct otus_span_context *ctx, otus_setter_fn set, void *carrier)
{
    if (!ctx) {
        struct otus_span *cur = otus__tls.cur;
        ctx = cur ? &cur->ctx : NULL;
    }
    if (!set || !otus_span_context_is_valid(ctx))
        return OTUS_ERR_INVALID;
    char tp[OTUS_TRACEPARENT_LEN + 1];
    otus_traceparent_format(ctx, tp);
    set(carrier, "traceparent", tp, OTUS_TRACEPARENT_LEN);
    if (ctx->tracestate && ctx->tracestate_len)
        set(carrier, "tracestate", ctx->tracestate, ctx->tracestate_len);
    return 0;
}

/* ---- baggage ------------------------------------------------------------------------ */

static int tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static int boctet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

void otus_baggage_init(struct otus_baggage *b)
{
    b->n = 0;
    b->len = 0;
}

static int find(const struct otus_baggage *b, const char *k, size_t kl)
{
    for (int i = 0; i < b->n; i++)
        if (b->e[i].key_len == kl && memcmp(b->buf + b->e[i].key, k, kl) == 0)
            return i;
    return -1;
}

/* Removes entry i and compacts the buffer. */
static void remove_at(struct otus_baggage *b, int i)
{
    size_t start = b->e[i].key;
    size_t end = b->e[i].props + b->e[i].props_len;
    size_t gap = end - start;
    memmove(b->buf + start, b->buf + end, b->len - end);
    b->len = (uint16_t)(b->len - gap);
    for (int k = i + 1; k < b->n; k++) {
        b->e[k].key = (uint16_t)(b->e[k].key - gap);
        b->e[k].value = (uint16_t)(b->e[k].value - gap);
        b->e[k].props = (uint16_t)(b->e[k].props - gap);
        b->e[k - 1] = b->e[k];
    }
    b->n--;
}

/* Appends key/value/props (value already decoded). 0 or OTUS_ERR_TOO_BIG. */
static int add(struct otus_baggage *b, const char *k, size_t kl, const char *v, size_t vl,
               const char *p, size_t pl)
{
    int old = find(b, k, kl);
    if (old >= 0)
        remove_at(b, old);
    if (b->n >= OTUS_BAGGAGE_MAX_MEMBERS || (size_t)b->len + kl + vl + pl > sizeof(b->buf))
        return OTUS_ERR_TOO_BIG;
    int i = b->n++;
    b->e[i].key = b->len;
    b->e[i].key_len = (uint16_t)kl;
    memcpy(b->buf + b->len, k, kl);
    b->len = (uint16_t)(b->len + kl);
    b->e[i].value = b->len;
    b->e[i].value_len = (uint16_t)vl;
    memcpy(b->buf + b->len, v, vl);
    b->len = (uint16_t)(b->len + vl);
    b->e[i].props = b->len;
    b->e[i].props_len = (uint16_t)pl;
    memcpy(b->buf + b->len, p, pl);
    b->len = (uint16_t)(b->len + pl);
    return 0;
}

/* Validates a property list "k=v;k2" (between ';' OWS allowed); writes it normalised
 * (no whitespace) into out. Returns the length or -1. */
static int props_normalise(const unsigned char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    int first = 1;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ';')
            j++;
        size_t a = i, b = j;
        while (a < b && ows(s[a]))
            a++;
        while (b > a && ows(s[b - 1]))
            b--;
        if (b == a)
            return -1;
        const unsigned char *eq = memchr(s + a, '=', b - a);
        size_t ke = eq ? (size_t)(eq - s) : b;
        size_t kb = ke;
        while (kb > a && ows(s[kb - 1]))
            kb--;
        if (kb == a)
            return -1;
        for (size_t x = a; x < kb; x++)
            if (!tchar(s[x]))
                return -1;
        size_t need = (first ? 0 : 1) + (kb - a);
        if (o + need > cap)
            return -1;
        if (!first)
            out[o++] = ';';
        memcpy(out + o, s + a, kb - a);
        o += kb - a;
        if (eq) {
            size_t va = ke + 1;
            while (va < b && ows(s[va]))
                va++;
            for (size_t x = va; x < b; x++)
                if (!boctet(s[x]))
                    return -1;
            if (o + 1 + (b - va) > cap)
                return -1;
            out[o++] = '=';
            memcpy(out + o, s + va, b - va);
            o += b - va;
        }
        first = 0;
        i = j + 1;
    }
    return (int)o;
}

static int hexdig(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int otus_baggage_parse(struct otus_baggage *b, const char *value, size_t len)
{
    const unsigned char *s = (const unsigned char *)value;
    int rc = 0;
    size_t i = 0;
    if (len > OTUS_BAGGAGE_MAX_BYTES) {
        len = OTUS_BAGGAGE_MAX_BYTES; /* members past the limit are dropped */
        rc = OTUS_ERR_PARSE;
    }
    char val[4096], props[4096];
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        size_t a = i, e = j;
        i = j + 1;
        while (a < e && ows(s[a]))
            a++;
        while (e > a && ows(s[e - 1]))
            e--;
        if (a == e)
            continue;
        if (e - a > 4096) {
            rc = OTUS_ERR_PARSE;
            continue;
        }
        const unsigned char *semi = memchr(s + a, ';', e - a);
        size_t ve = semi ? (size_t)(semi - s) : e;
        const unsigned char *eq = memchr(s + a, '=', ve - a);
        if (!eq) {
            rc = OTUS_ERR_PARSE;
            continue;
        }
        size_t ke = (size_t)(eq - s);
        while (ke > a && ows(s[ke - 1]))
            ke--;
        int ok = ke > a;
        for (size_t x = a; ok && x < ke; x++)
            ok = tchar(s[x]);
        size_t va = (size_t)(eq - s) + 1, vend = ve;
        while (va < vend && ows(s[va]))
            va++;
        while (vend > va && ows(s[vend - 1]))
            vend--;
        size_t vl = 0;
        for (size_t x = va; ok && x < vend; x++) {
            if (!boctet(s[x])) {
                ok = 0;
            } else if (s[x] == '%' && x + 2 < vend && hexdig(s[x + 1]) >= 0 &&
                       hexdig(s[x + 2]) >= 0) {
                val[vl++] = (char)(hexdig(s[x + 1]) << 4 | hexdig(s[x + 2]));
                x += 2;
            } else {
                val[vl++] = (char)s[x]; /* a '%' without two hex digits stays as it is */
            }
        }
        int pl = 0;
        if (ok && semi)
            pl = props_normalise(semi + 1, e - (size_t)(semi - s) - 1, props, sizeof(props));
        if (!ok || pl < 0) {
            rc = OTUS_ERR_PARSE;
            continue;
        }
        if (add(b, (const char *)s + a, ke - a, val, vl, props, (size_t)pl))
            rc = OTUS_ERR_PARSE;
    }
    return rc;
}

int otus_baggage_extract(struct otus_baggage *b, otus_getter_fn get, void *carrier)
{
    if (!b || !get)
        return OTUS_ERR_INVALID;
    const char *v[16];
    size_t l[16];
    size_t n = get(carrier, "baggage", v, l, 16);
    if (!n)
        return OTUS_ERR_NOT_FOUND;
    int rc = n > 16 ? OTUS_ERR_PARSE : 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        int r = otus_baggage_parse(b, v[i], l[i]);
        if (r)
            rc = r;
    }
    return rc;
}

int otus_baggage_set(struct otus_baggage *b, const char *key, const char *value, const char *props)
{
    if (!b || !key || !*key)
        return OTUS_ERR_INVALID;
    size_t kl = strlen(key);
    for (size_t i = 0; i < kl; i++)
        if (!tchar((unsigned char)key[i]))
            return OTUS_ERR_INVALID;
    const char *v = value ? value : "";
    size_t vl = strlen(v);
    char p[4096];
    int pl = 0;
    if (props && *props) {
        pl = props_normalise((const unsigned char *)props, strlen(props), p, sizeof(p));
        if (pl < 0)
            return OTUS_ERR_INVALID;
    }
    if (kl + vl + (size_t)pl > 4096)
        return OTUS_ERR_TOO_BIG;
    return add(b, key, kl, v, vl, p, (size_t)pl);
}

const char *otus_baggage_get(const struct otus_baggage *b, const char *key, size_t *len)
{
    if (!b || !key)
        return NULL;
    int i = find(b, key, strlen(key));
    if (i < 0)
        return NULL;
    if (len)
        *len = b->e[i].value_len;
    return b->buf + b->e[i].value;
}

int otus_baggage_remove(struct otus_baggage *b, const char *key)
{
    if (!b || !key)
        return OTUS_ERR_INVALID;
    int i = find(b, key, strlen(key));
    if (i < 0)
        return OTUS_ERR_NOT_FOUND;
    remove_at(b, i);
    return 0;
}

int otus_baggage_inject(const struct otus_baggage *b, otus_setter_fn set, void *carrier)
{
    if (!b || !set)
        return OTUS_ERR_INVALID;
    if (!b->n)
        return 0;
    static const char hex[] = "0123456789ABCDEF";
    char out[OTUS_BAGGAGE_MAX_BYTES];
    char member[3 * 4096 + 8192];
    size_t o = 0;
    int rc = 0;
    for (int i = 0; i < b->n; i++) {
        size_t m = 0;
        memcpy(member, b->buf + b->e[i].key, b->e[i].key_len);
        m += b->e[i].key_len;
        member[m++] = '=';
        const unsigned char *v = (const unsigned char *)b->buf + b->e[i].value;
        for (size_t k = 0; k < b->e[i].value_len; k++) {
            /* Percent-encode everything but baggage-octets (and '%' itself). */
            if (boctet(v[k]) && v[k] != '%') {
                member[m++] = (char)v[k];
            } else {
                member[m++] = '%';
                member[m++] = hex[v[k] >> 4];
                member[m++] = hex[v[k] & 15];
            }
        }
        if (b->e[i].props_len) {
            member[m++] = ';';
            memcpy(member + m, b->buf + b->e[i].props, b->e[i].props_len);
            m += b->e[i].props_len;
        }
        size_t need = m + (o ? 1 : 0);
        if (m > 4096 || o + need > sizeof(out)) {
            rc = OTUS_ERR_TOO_BIG;
            continue;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, member, m);
        o += m;
    }
    if (o)
        set(carrier, "baggage", out, o);
    return rc;
}

/* ---- configured propagators and a simple carrier ------------------------------------ */

static uint32_t configured(void)
{
    if (atomic_load_explicit(&otus__g.state, memory_order_acquire) == OTUS__STOPPED &&
        !otus__g.set.service_name)
        return OTUS_PROPAGATOR_TRACECONTEXT | OTUS_PROPAGATOR_BAGGAGE; /* never configured */
    return otus__g.set.propagators;
}

int otus_propagators_extract(struct otus_context *ctx, struct otus_baggage *bag, otus_getter_fn get,
                             void *carrier)
{
    uint32_t p = configured();
    int rc = OTUS_ERR_NOT_FOUND;
    if (ctx) {
        if (p & OTUS_PROPAGATOR_TRACECONTEXT) {
            rc = otus_context_extract(ctx, get, carrier);
        } else {
            ctx->valid = 0;
            ctx->tracestate[0] = '\0';
            memset(&ctx->span, 0, sizeof(ctx->span));
        }
    }
    if (bag && (p & OTUS_PROPAGATOR_BAGGAGE))
        otus_baggage_extract(bag, get, carrier);
    return rc;
}

void otus_propagators_inject(const struct otus_span *span, const struct otus_baggage *bag,
                             otus_setter_fn set, void *carrier)
{
    uint32_t p = configured();
    if (p & OTUS_PROPAGATOR_TRACECONTEXT)
        otus_context_inject(span ? &span->ctx : NULL, set, carrier);
    if (bag && (p & OTUS_PROPAGATOR_BAGGAGE))
        otus_baggage_inject(bag, set, carrier);
}

size_t otus_header_list_get(void *carrier, const char *name, const char **values, size_t *lens,
                            size_t max)
{
    const struct otus_header_list *l = carrier;
    size_t n = 0;
    for (size_t i = 0; l && i < l->n; i++) {
        if (!l->h[i].name || strcasecmp(l->h[i].name, name) != 0)
            continue;
        if (n < max) {
            values[n] = l->h[i].value ? l->h[i].value : "";
            lens[n] = strlen(values[n]);
        }
        n++;
    }
    return n;
}
