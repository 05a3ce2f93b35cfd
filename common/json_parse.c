/*
 * json_parse.c: the JSON parser of json_parse.h.
 *
 * The parser is one loop that reads a token per turn, with a state saying what the
 * token may be (a value, a key, ':', ',' or the end of a container), and with the
 * punctuation that compact JSON has next taken without the lexer. Open containers are
 * kept on an explicit stack, so nesting costs no C stack. That stack ("pending")
 * holds, for each open container, a placeholder node followed by the container's
 * finished children (for an object: key, value, key, value...). Closing a container
 * copies its children into one arena array of the exact size and puts the container's
 * node where its placeholder was; the placeholder meanwhile keeps the index of the
 * enclosing one and, for an object with many members, the hash table that finds
 * duplicate keys. The pending stack is one malloc'd buffer, grown by doubling and
 * freed at the end.
 *
 * The grammar, the order in which faults are found and the position and wording of
 * each error follow jansson's load.c token for token: jansson reads the input as a
 * stream of UTF-8 characters with one character of look-ahead, and reports the
 * position after the last character it read, with the text of the token read so far.
 * Here that is: the offset where reading stopped, and the input from the token's
 * first byte up to it. A look-ahead byte that is not UTF-8 is therefore an error even
 * right after a complete number or literal, as it is there. (jansson alone reads past
 * a NUL byte that follows a number or a literal; NUL is never valid here.)
 */
#include "common/json_parse.h"

#include "common/json.h"

#include <assert.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/clock.h"

/* Tokens beyond the single characters { } [ ] : , which stand for themselves. */
enum {
    T_EOF = 0,
    T_INVALID = 256, /* not a token: bad characters, a bad number, an unknown word */
    T_STRING,
    T_NUMBER,
    T_TRUE,
    T_FALSE,
    T_NULL,
};

/* What the first byte of a token makes it. */
enum {
    L_OTHER = 0, /* a character that starts no token */
    L_SPACE,     /* whitespace before the token */
    L_PUNCT,     /* { } [ ] : , */
    L_QUOTE,
    L_NUMBER, /* - and digits */
    L_ALPHA,  /* letters: true, false, null or an invalid word */
    L_HIGH,   /* a non-ASCII character, or bytes that are not UTF-8 */
};

static const unsigned char lead_class[256] = {
    [' '] = L_SPACE,          ['\t'] = L_SPACE,        ['\n'] = L_SPACE,
    ['\r'] = L_SPACE,         ['{'] = L_PUNCT,         ['}'] = L_PUNCT,
    ['['] = L_PUNCT,          [']'] = L_PUNCT,         [':'] = L_PUNCT,
    [','] = L_PUNCT,          ['"'] = L_QUOTE,         ['-'] = L_NUMBER,
    ['0' ... '9'] = L_NUMBER, ['A' ... 'Z'] = L_ALPHA, ['a' ... 'z'] = L_ALPHA,
    [0x80 ... 0xff] = L_HIGH,
};

/* 1: a byte that ends a plain run inside a string ('"', '\\', control, non-ASCII). */
static const unsigned char string_stop[256] = {
    [0x00 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

/* The value of a hex digit plus 1; 0 for any other byte. */
static const unsigned char hex_value[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* The byte an escape \X stands for, for the one-letter escapes; 0 for others. */
static const unsigned char simple_escape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

static inline bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

/* The high bit of each of the 8 bytes in x that is below 0x20, '"', '\\' or >= 0x80,
 * and no other bit. With the high bits masked off no byte carries into the next:
 * y + 0x60 reaches 0x80 exactly when y >= 0x20, and (y ^ c) + 0x7f exactly when y != c. */
static inline uint64_t string_stop8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t y = x & ~high;
    uint64_t ok =
        (y + ones * 0x60) & ((y ^ ones * '"') + ones * 0x7f) & ((y ^ ones * '\\') + ones * 0x7f);
    return (~ok | x) & high;
}

/* Length of the well-formed UTF-8 sequence at s (json.h), or 0. */
static inline size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    return otus_utf8_seq(s, (size_t)(end - s), NULL);
}

/* Index of no container: the value being read is the top-level one. */
#define NO_CONTAINER UINT32_MAX

/* Objects with this many members find duplicate keys with a hash table. */
#define HASH_MIN_MEMBERS 16

struct parser {
    const unsigned char *s;            /* borrowed input */
    const unsigned char *end;          /* one past its last byte */
    const unsigned char *p;            /* where reading stopped: after the current token */
    struct otus_arena *arena;          /* borrowed; receives the tree */
    struct otus_json_parse_error *err; /* borrowed, MAY be NULL */

    struct otus_json_node *pend; /* owned: the pending stack (see the top) */
    uint32_t npend;              /* nodes on it */
    uint32_t cap;                /* nodes allocated */
    uint32_t cap_max;            /* never more: more than any input of this length needs */
    uint32_t cur;                /* placeholder of the innermost open container */
    int depth;                   /* values open, the one being read included */
    uint64_t seed;               /* of the duplicate-key hash, 0 until needed */

    /* The token just read. */
    int tok;                        /* T_* or the punctuation character */
    const unsigned char *tok_start; /* its first byte */
    bool tok_nul;                   /* a string whose decoded text holds U+0000 */
    struct otus_json_node val;      /* a string, number or literal token's node */
};

/* ---- errors -------------------------------------------------------------------------- */

/*
 * Records a failure found with reading stopped at `at`, in the token that starts at
 * tok (tok == at: no token text, e.g. at the end of the input), and returns
 * OTUS_ERR_PARSE. The message gets the token's text or "end of file" as context.
 */
static int fail(struct parser *ps, int code, const unsigned char *at, const unsigned char *tok,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct parser *ps, int code, const unsigned char *at, const unsigned char *tok,
                const char *fmt, ...)
{
    struct otus_json_parse_error *e = ps->err;
    if (!e)
        return OTUS_ERR_PARSE;
    size_t line = 1;
    const unsigned char *line_start = ps->s;
    for (const unsigned char *q = ps->s; q < at; q++) {
        if (*q == '\n') {
            line++;
            line_start = q + 1;
        }
    }
    size_t column = 0;
    for (const unsigned char *q = line_start; q < at; q++)
        column += (*q & 0xc0) != 0x80; /* characters, not continuation bytes */
    e->offset = (size_t)(at - ps->s);
    e->line = line > INT32_MAX ? INT32_MAX : (int)line;
    e->column = column > INT32_MAX ? INT32_MAX : (int)column;

    char what[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    size_t tlen = (size_t)(at - tok);
    if (code == OTUS_JSON_ERROR_NUL) {
        /* Said of the string just read, whose text could only show the escape. */
        snprintf(e->text, sizeof(e->text), "%s", what);
    } else if (tlen > 0 && tok[0] != '\0') {
        /* The token's text up to a NUL byte (none can follow its first byte). */
        if (tlen <= 20)
            snprintf(e->text, sizeof(e->text), "%s near '%.*s'", what,
                     (int)strnlen((const char *)tok, tlen), (const char *)tok);
        else
            snprintf(e->text, sizeof(e->text), "%s", what);
    } else if (code == OTUS_JSON_ERROR_UTF8) {
        snprintf(e->text, sizeof(e->text), "%s", what);
    } else {
        /* Nothing read of the token: the input ended (or it starts with a NUL byte). */
        if (code == OTUS_JSON_ERROR_SYNTAX)
            code = OTUS_JSON_ERROR_END;
        snprintf(e->text, sizeof(e->text), "%s near end of file", what);
    }
    e->code = code;
    return OTUS_ERR_PARSE;
}

/* A failure about the token just read, found after reading it. */
static int fail_token(struct parser *ps, int code, const char *what)
{
    return fail(ps, code, ps->p, ps->tok_start, "%s", what);
}

/* Bytes at `at`, read as part of the token at tok, that are not UTF-8. */
static int fail_utf8(struct parser *ps, const unsigned char *at, const unsigned char *tok)
{
    return fail(ps, OTUS_JSON_ERROR_UTF8, at, tok, "unable to decode byte 0x%x", *at);
}

/* A failure for memory: status, and why in the error's text. */
static int fail_memory_why(struct parser *ps, int status, const char *why)
{
    if (ps->err) {
        ps->err->code = OTUS_JSON_ERROR_MEMORY;
        ps->err->offset = (size_t)(ps->p - ps->s);
        ps->err->line = 0;
        ps->err->column = 0;
        snprintf(ps->err->text, sizeof(ps->err->text), "%s", why);
    }
    return status;
}

static int fail_memory(struct parser *ps, int status)
{
    return fail_memory_why(ps, status,
                           status == OTUS_ERR_NOMEM ? "out of memory"
                                                    : "the tree exceeds its memory limit");
}

/* ---- lexer ----------------------------------------------------------------------------- */

/*
 * Whether the real number text s[0..n) (grammar already checked) is beyond double's
 * range, as strtod with ERANGE and HUGE_VAL says: 1 yes, 0 no, or a failure. Decided
 * from the decimal exponent of the first significant digit; only values within a
 * factor of ten of DBL_MAX go to strtod, with the locale's decimal point put in place
 * of '.' as jansson does.
 */
static int real_overflows(struct parser *ps, const unsigned char *s, size_t n)
{
    size_t i = s[0] == '-';
    size_t int_start = i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t int_end = i, k = int_start;
    while (k < int_end && s[k] == '0')
        k++;
    long long lead; /* the value lies in [10^lead, 10^(lead+1)) */
    if (k < int_end) {
        lead = (long long)(int_end - k) - 1;
    } else {
        if (i == n || s[i] != '.')
            return 0; /* zero */
        size_t f = ++i;
        while (i < n && s[i] == '0')
            i++;
        if (i == n || !is_digit(s[i]))
            return 0; /* zero */
        lead = -(long long)(i - f) - 1;
    }
    while (i < n && s[i] != 'e' && s[i] != 'E')
        i++;
    long long exp = 0; /* saturated far beyond any lead an input can give */
    if (i < n) {
        i++;
        bool neg = s[i] == '-';
        if (s[i] == '+' || s[i] == '-')
            i++;
        for (; i < n; i++) {
            if (exp < 1000000000000000ll)
                exp = exp * 10 + (s[i] - '0');
        }
        if (neg)
            exp = -exp;
    }
    long long e10 = lead + exp;
    if (e10 < 308)
        return 0;
    if (e10 > 308)
        return 1;
    char local[64];
    char *copy = n < sizeof(local) ? local : otus_arena_alloc(ps->arena, n + 1);
    if (!copy)
        return fail_memory(ps, ps->arena->exhausted ? OTUS_ERR_TOO_BIG : OTUS_ERR_NOMEM);
    memcpy(copy, s, n);
    copy[n] = '\0';
    const char *point = localeconv()->decimal_point;
    char *dot = memchr(copy, '.', n);
    if (dot && point && point[0] && point[0] != '.')
        *dot = point[0];
    errno = 0;
    double v = strtod(copy, NULL);
    return errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL);
}

/* Decodes the string whose source text (between the quotes) is raw[0..n) and holds
 * escapes, all well-formed; q is the closing quote, for errors. */
static int decode_string(struct parser *ps, const unsigned char *raw, size_t n,
                         const unsigned char *q)
{
    char *out = otus_arena_alloc(ps->arena, n ? n : 1);
    if (!out)
        return fail_memory(ps, ps->arena->exhausted ? OTUS_ERR_TOO_BIG : OTUS_ERR_NOMEM);
    size_t o = 0, i = 0;
    bool nul = false;
    while (i < n) {
        const unsigned char *bs = memchr(raw + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (raw + i)) : n - i;
        memcpy(out + o, raw + i, run);
        o += run;
        i += run;
        if (i == n)
            break;
        unsigned char e = raw[i + 1];
        if (e != 'u') {
            out[o++] = (char)simple_escape[e];
            i += 2;
            continue;
        }
        const unsigned char *h = raw + i + 2;
        uint32_t v = (uint32_t)(hex_value[h[0]] - 1) << 12 | (uint32_t)(hex_value[h[1]] - 1) << 8 |
                     (uint32_t)(hex_value[h[2]] - 1) << 4 | (uint32_t)(hex_value[h[3]] - 1);
        i += 6;
        if (v >= 0xd800 && v <= 0xdbff) {
            if (i + 1 < n && raw[i] == '\\' && raw[i + 1] == 'u') {
                h = raw + i + 2;
                uint32_t v2 =
                    (uint32_t)(hex_value[h[0]] - 1) << 12 | (uint32_t)(hex_value[h[1]] - 1) << 8 |
                    (uint32_t)(hex_value[h[2]] - 1) << 4 | (uint32_t)(hex_value[h[3]] - 1);
                i += 6;
                if (v2 < 0xdc00 || v2 > 0xdfff)
                    return fail(ps, OTUS_JSON_ERROR_SYNTAX, q + 1, ps->tok_start,
                                "invalid Unicode '\\u%04X\\u%04X'", (unsigned)v, (unsigned)v2);
                v = ((v - 0xd800) << 10) + (v2 - 0xdc00) + 0x10000;
            } else {
                return fail(ps, OTUS_JSON_ERROR_SYNTAX, q + 1, ps->tok_start,
                            "invalid Unicode '\\u%04X'", (unsigned)v);
            }
        } else if (v >= 0xdc00 && v <= 0xdfff) {
            return fail(ps, OTUS_JSON_ERROR_SYNTAX, q + 1, ps->tok_start,
                        "invalid Unicode '\\u%04X'", (unsigned)v);
        }
        if (v < 0x80) {
            nul |= v == 0;
            out[o++] = (char)v;
        } else if (v < 0x800) {
            out[o++] = (char)(0xc0 | v >> 6);
            out[o++] = (char)(0x80 | (v & 0x3f));
        } else if (v < 0x10000) {
            out[o++] = (char)(0xe0 | v >> 12);
            out[o++] = (char)(0x80 | (v >> 6 & 0x3f));
            out[o++] = (char)(0x80 | (v & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | v >> 18);
            out[o++] = (char)(0x80 | (v >> 12 & 0x3f));
            out[o++] = (char)(0x80 | (v >> 6 & 0x3f));
            out[o++] = (char)(0x80 | (v & 0x3f));
        }
    }
    assert(o <= n);
    ps->val.u.str = out;
    ps->val.len = (uint32_t)o;
    ps->tok_nul = nul;
    return 0;
}

/* A string token; p is its opening quote. */
static int lex_string(struct parser *ps, const unsigned char *p)
{
    const unsigned char *q = p + 1, *end = ps->end;
    bool escaped = false;
    for (;;) {
        if (end - q >= 8) {
            uint64_t x;
            memcpy(&x, q, 8);
            uint64_t m = string_stop8(x);
            if (!m) {
                q += 8;
                continue;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            q += __builtin_ctzll(m) >> 3;
#else
            while (!string_stop[*q])
                q++;
#endif
        } else {
            while (q < end && !string_stop[*q])
                q++;
            if (q == end)
                return fail(ps, OTUS_JSON_ERROR_END, end, p, "premature end of input");
        }
        unsigned char c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            if (end - q < 2)
                return fail(ps, OTUS_JSON_ERROR_SYNTAX, end, p, "invalid escape");
            unsigned char e = q[1];
            if (simple_escape[e]) {
                q += 2;
                continue;
            }
            if (e != 'u') {
                if (e >= 0x80 && !utf8_len(q + 1, end))
                    return fail_utf8(ps, q + 1, p);
                return fail(ps, OTUS_JSON_ERROR_SYNTAX, q + 2, p, "invalid escape");
            }
            for (int i = 2; i < 6; i++) {
                if (q + i == end)
                    return fail(ps, OTUS_JSON_ERROR_SYNTAX, end, p, "invalid escape");
                if (!hex_value[q[i]]) {
                    if (q[i] >= 0x80 && !utf8_len(q + i, end))
                        return fail_utf8(ps, q + i, p);
                    return fail(ps, OTUS_JSON_ERROR_SYNTAX, q + i + 1, p, "invalid escape");
                }
            }
            q += 6;
        } else if (c < 0x20) {
            if (c == '\n')
                return fail(ps, OTUS_JSON_ERROR_SYNTAX, q, p, "unexpected newline");
            return fail(ps, OTUS_JSON_ERROR_SYNTAX, q, p, "control character 0x%x", c);
        } else {
            size_t k = utf8_len(q, end);
            if (!k)
                return fail_utf8(ps, q, p);
            q += k;
        }
    }
    ps->p = q + 1;
    ps->tok = T_STRING;
    ps->val.kind = OTUS_JSON_STRING;
    ps->val.flags = 0;
    if (!escaped) {
        ps->val.u.str = (const char *)p + 1;
        ps->val.len = (uint32_t)(q - p - 1);
        ps->tok_nul = false;
        return 0;
    }
    return decode_string(ps, p + 1, (size_t)(q - p - 1), q);
}

/* A number token, or T_INVALID for a bad one; p is its first byte ('-' or a digit). */
static int lex_number(struct parser *ps, const unsigned char *p)
{
    const unsigned char *q = p, *end = ps->end;
    bool integer = true;
    if (*q == '-')
        q++;
    if (q == end || !is_digit(*q))
        goto invalid;
    if (*q == '0') {
        q++;
        if (q < end && is_digit(*q)) {
            ps->p = q; /* a leading zero: the token is "0" or "-0", and invalid */
            ps->tok = T_INVALID;
            return 0;
        }
    } else {
        do
            q++;
        while (q < end && is_digit(*q));
    }
    if (q < end && *q == '.') {
        integer = false;
        q++;
        if (q == end || !is_digit(*q))
            goto invalid;
        do
            q++;
        while (q < end && is_digit(*q));
    }
    if (q < end && (*q | 0x20) == 'e') {
        integer = false;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q == end || !is_digit(*q))
            goto invalid;
        do
            q++;
        while (q < end && is_digit(*q));
    }
    if (q < end && *q >= 0x80 && !utf8_len(q, end))
        return fail_utf8(ps, q, p);
    ps->p = q;
    if (!integer) {
        int over = real_overflows(ps, p, (size_t)(q - p));
        if (over < 0)
            return over;
        if (over)
            return fail(ps, OTUS_JSON_ERROR_RANGE, q, p, "real number overflow");
    }
    ps->tok = T_NUMBER;
    ps->val.kind = OTUS_JSON_NUMBER;
    ps->val.flags = integer ? OTUS_JSON_INTEGER : 0;
    ps->val.len = (uint32_t)(q - p);
    ps->val.u.str = (const char *)p;
    return 0;
invalid:
    if (q < end && *q >= 0x80 && !utf8_len(q, end))
        return fail_utf8(ps, q, p);
    ps->p = q;
    ps->tok = T_INVALID;
    return 0;
}

/* A word: true, false, null, or T_INVALID for any other run of letters. */
static int lex_word(struct parser *ps, const unsigned char *p)
{
    const unsigned char *q = p + 1, *end = ps->end;
    while (q < end && lead_class[*q] == L_ALPHA)
        q++;
    if (q < end && *q >= 0x80 && !utf8_len(q, end))
        return fail_utf8(ps, q, p);
    ps->p = q;
    ps->tok = T_INVALID;
    ps->val.flags = 0;
    ps->val.len = 0;
    ps->val.u.str = NULL;
    size_t n = (size_t)(q - p);
    if (n == 4 && memcmp(p, "true", 4) == 0) {
        ps->tok = T_TRUE;
        ps->val.kind = OTUS_JSON_TRUE;
    } else if (n == 4 && memcmp(p, "null", 4) == 0) {
        ps->tok = T_NULL;
        ps->val.kind = OTUS_JSON_NULL;
    } else if (n == 5 && memcmp(p, "false", 5) == 0) {
        ps->tok = T_FALSE;
        ps->val.kind = OTUS_JSON_FALSE;
    }
    return 0;
}

/* Reads the next token. 0, or the failure of a token that cannot be read at all. */
static inline int lex(struct parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && lead_class[*p] == L_SPACE)
        p++;
    ps->tok_start = p;
    if (p == end) {
        ps->p = p;
        ps->tok = T_EOF;
        return 0;
    }
    unsigned char c = *p;
    switch (lead_class[c]) {
    case L_PUNCT:
        ps->p = p + 1;
        ps->tok = c;
        return 0;
    case L_QUOTE:
        return lex_string(ps, p);
    case L_NUMBER:
        return lex_number(ps, p);
    case L_ALPHA:
        return lex_word(ps, p);
    case L_HIGH: {
        size_t k = utf8_len(p, end);
        if (!k)
            return fail_utf8(ps, p, p);
        ps->p = p + k;
        ps->tok = T_INVALID;
        return 0;
    }
    default:
        ps->p = p + 1;
        ps->tok = T_INVALID;
        return 0;
    }
}

/* ---- the pending stack -------------------------------------------------------------- */

static int grow(struct parser *ps)
{
    if (ps->cap >= ps->cap_max)
        return fail_memory(ps, OTUS_ERR_TOO_BIG); /* more nodes than the input can hold */
    uint32_t cap = ps->cap ? ps->cap * 2 : 256;
    if (cap > ps->cap_max || cap < ps->cap)
        cap = ps->cap_max;
    struct otus_json_node *pend = realloc(ps->pend, (size_t)cap * sizeof(*pend));
    if (!pend)
        return fail_memory(ps, OTUS_ERR_NOMEM);
    ps->pend = pend;
    ps->cap = cap;
    return 0;
}

static inline int push(struct parser *ps, const struct otus_json_node *node)
{
    if (ps->npend == ps->cap) {
        int rc = grow(ps);
        if (rc)
            return rc;
    }
    ps->pend[ps->npend++] = *node;
    return 0;
}

/* Opens a container: its placeholder keeps the enclosing container's index in len. */
static int open_container(struct parser *ps, uint8_t kind)
{
    struct otus_json_node ph = {.kind = kind, .len = ps->cur};
    int rc = push(ps, &ph);
    if (rc)
        return rc;
    ps->cur = ps->npend - 1;
    return 0;
}

/* Closes the innermost container: its children go to the arena, its node to where
 * its placeholder was. */
static int close_container(struct parser *ps)
{
    struct otus_json_node *ph = &ps->pend[ps->cur];
    uint32_t first = ps->cur + 1, n = ps->npend - first;
    struct otus_json_node node = {.kind = ph->kind};
    if (n > 0) {
        size_t bytes = (size_t)n * sizeof(struct otus_json_node);
        void *items = otus_arena_alloc(ps->arena, bytes);
        if (!items)
            return fail_memory(ps, ps->arena->exhausted ? OTUS_ERR_TOO_BIG : OTUS_ERR_NOMEM);
        memcpy(items, ps->pend + first, bytes);
        node.u.items = items;
    }
    node.len = ph->kind == OTUS_JSON_OBJECT ? n / 2 : n;
    uint32_t outer = ph->len;
    *ph = node;
    ps->npend = ps->cur + 1;
    ps->cur = outer;
    ps->depth--;
    return 0;
}

/* ---- duplicate keys ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Hash of a key, seeded per parse so that colliding keys cannot be prepared. */
static uint64_t key_hash(uint64_t seed, const char *k, size_t n)
{
    uint64_t h = seed ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = mix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, k + i, n - i);
    return mix64(h ^ w ^ 0x9e3779b97f4a7c15ull);
}

static inline bool same_key(const struct otus_json_node *a, const struct otus_json_node *b)
{
    return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
}

/* Puts member m (0-based) of the object whose placeholder is ph into its table. */
static void table_insert(struct parser *ps, uint32_t *table, uint32_t mask, uint32_t first,
                         uint32_t m)
{
    const struct otus_json_node *k = &ps->pend[first + 2 * m];
    uint32_t i = (uint32_t)key_hash(ps->seed, k->u.str, k->len) & mask;
    while (table[i])
        i = (i + 1) & mask;
    table[i] = m + 1;
}

/*
 * Whether key (the token just read) is already a key of the innermost object, whose
 * members so far are on the pending stack. Small objects are searched; larger ones
 * keep a hash table of member indexes (placeholder's u.items and flags = log2 size),
 * rebuilt larger whenever it is half full. 1 yes, 0 no, or a failure.
 */
static int key_seen(struct parser *ps, const struct otus_json_node *key)
{
    uint32_t first = ps->cur + 1, n = (ps->npend - first) / 2;
    if (n < HASH_MIN_MEMBERS) {
        for (uint32_t i = first; i < ps->npend; i += 2) {
            if (same_key(&ps->pend[i], key))
                return 1;
        }
        return 0;
    }
    struct otus_json_node *ph = &ps->pend[ps->cur];
    uint32_t *table = (uint32_t *)ph->u.items;
    uint32_t size = table ? (uint32_t)1 << ph->flags : 0;
    if ((uint64_t)(n + 1) * 2 > size) {
        if (!ps->seed)
            ps->seed = mix64(otus_clock_mono_ns() ^ (uint64_t)(uintptr_t)ps) | 1;
        unsigned bits = 6;
        while (((uint64_t)1 << bits) < (uint64_t)(n + 1) * 2)
            bits++;
        size = (uint32_t)1 << bits;
        table = otus_arena_alloc(ps->arena, (size_t)size * sizeof(uint32_t));
        if (!table)
            return fail_memory(ps, ps->arena->exhausted ? OTUS_ERR_TOO_BIG : OTUS_ERR_NOMEM);
        memset(table, 0, (size_t)size * sizeof(uint32_t));
        for (uint32_t m = 0; m < n; m++)
            table_insert(ps, table, size - 1, first, m);
        ph = &ps->pend[ps->cur];
        ph->u.items = (const struct otus_json_node *)(void *)table;
        ph->flags = (uint8_t)bits;
    }
    uint32_t mask = size - 1;
    uint32_t i = (uint32_t)key_hash(ps->seed, key->u.str, key->len) & mask;
    for (; table[i]; i = (i + 1) & mask) {
        if (same_key(&ps->pend[first + 2 * (table[i] - 1)], key))
            return 1;
    }
    table[i] = n + 1; /* the key's member index once pushed */
    return 0;
}

/* ---- parser -------------------------------------------------------------------------------- */

/* What the parser expects of the next token. */
enum {
    S_VALUE,         /* a value */
    S_ELEMENT,       /* a value after ',' in an array (the end of input is "']' expected") */
    S_FIRST_ELEMENT, /* after '[': a value or ']' */
    S_FIRST_KEY,     /* after '{': a key or '}' */
    S_KEY,           /* a key after ',' in an object */
    S_COLON,         /* ':' after a key */
    S_NEXT,          /* after a value: ',' or the end of its container or of the input */
};

/* A value starts with the token just read: a scalar is complete, a container opens. */
static int begin_value(struct parser *ps, int *state)
{
    if (++ps->depth > OTUS_JSON_PARSE_MAX_DEPTH)
        return fail_token(ps, OTUS_JSON_ERROR_DEPTH, "maximum parsing depth reached");
    int rc;
    switch (ps->tok) {
    case T_STRING:
        if (ps->tok_nul)
            return fail_token(ps, OTUS_JSON_ERROR_NUL, "strings may not contain \\u0000");
        /* fall through */
    case T_NUMBER:
    case T_TRUE:
    case T_FALSE:
    case T_NULL:
        rc = push(ps, &ps->val);
        ps->depth--;
        *state = S_NEXT;
        return rc;
    case '{':
        *state = S_FIRST_KEY;
        return open_container(ps, OTUS_JSON_OBJECT);
    case '[':
        *state = S_FIRST_ELEMENT;
        return open_container(ps, OTUS_JSON_ARRAY);
    case T_INVALID:
        return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "invalid token");
    default:
        return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "unexpected token");
    }
}

/* A key of the innermost object is the token just read. */
static int take_key(struct parser *ps)
{
    if (ps->tok != T_STRING)
        return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "string or '}' expected");
    if (ps->tok_nul)
        return fail_token(ps, OTUS_JSON_ERROR_NUL_KEY, "NUL byte in object key not supported");
    int rc = key_seen(ps, &ps->val);
    if (rc < 0)
        return rc;
    if (rc)
        return fail_token(ps, OTUS_JSON_ERROR_DUPLICATE, "duplicate object key");
    return push(ps, &ps->val);
}

/* One token at a time, each read at the loop's single call of lex, which the compiler
 * inlines; the state says what the token may be. */
static int parse(struct parser *ps)
{
    int state = S_VALUE;
    for (;;) {
        /* The punctuation compact JSON has next, taken without the lexer. */
        const unsigned char *p = ps->p;
        if (p < ps->end) {
            if (state == S_COLON && *p == ':') {
                ps->p = p + 1;
                state = S_VALUE;
                continue;
            }
            if (state == S_NEXT && ps->cur != NO_CONTAINER) {
                bool object = ps->pend[ps->cur].kind == OTUS_JSON_OBJECT;
                if (*p == ',') {
                    ps->p = p + 1;
                    state = object ? S_KEY : S_ELEMENT;
                    continue;
                }
                if (*p == (object ? '}' : ']')) {
                    ps->p = p + 1;
                    int rc = close_container(ps);
                    if (rc)
                        return rc;
                    continue;
                }
            }
        }
        int rc = lex(ps);
        if (rc)
            return rc;
        switch (state) {
        case S_FIRST_ELEMENT:
            if (ps->tok == ']') {
                rc = close_container(ps);
                state = S_NEXT;
                break;
            }
            /* fall through */
        case S_ELEMENT:
            if (ps->tok == T_EOF)
                return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "']' expected");
            /* fall through */
        case S_VALUE:
            rc = begin_value(ps, &state);
            break;
        case S_FIRST_KEY:
            if (ps->tok == '}') {
                rc = close_container(ps);
                state = S_NEXT;
                break;
            }
            /* fall through */
        case S_KEY:
            rc = take_key(ps);
            state = S_COLON;
            break;
        case S_COLON:
            if (ps->tok != ':')
                return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "':' expected");
            state = S_VALUE;
            break;
        case S_NEXT:
            if (ps->cur == NO_CONTAINER) {
                if (ps->tok != T_EOF)
                    return fail_token(ps, OTUS_JSON_ERROR_TRAILING, "end of file expected");
                return 0;
            }
            if (ps->pend[ps->cur].kind == OTUS_JSON_OBJECT) {
                if (ps->tok == ',')
                    state = S_KEY;
                else if (ps->tok == '}')
                    rc = close_container(ps);
                else
                    return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "'}' expected");
            } else {
                if (ps->tok == ',')
                    state = S_ELEMENT;
                else if (ps->tok == ']')
                    rc = close_container(ps);
                else
                    return fail_token(ps, OTUS_JSON_ERROR_SYNTAX, "']' expected");
            }
            break;
        }
        if (rc)
            return rc;
    }
}

int otus_json_parse(const char *s, size_t n, struct otus_arena *arena,
                    const struct otus_json_node **root, struct otus_json_parse_error *err)
{
    static const char empty[1];
    struct parser ps = {
        .s = (const unsigned char *)(s ? s : empty),
        .arena = arena,
        .err = err,
        .cur = NO_CONTAINER,
    };
    int rc;
    *root = NULL;
    ps.p = ps.s;
    if (n > OTUS_JSON_PARSE_MAX_LEN) {
        rc = fail_memory_why(&ps, OTUS_ERR_TOO_BIG, "the input is longer than the parser takes");
        goto out;
    }
    ps.end = ps.s + n;
    /* Besides the placeholders, each node on the pending stack stands for at least
     * one input byte of its own and one separator (or its container's opening
     * bracket): half the input plus the deepest nesting bounds the stack. */
    ps.cap_max = (uint32_t)(n / 2 + 2 * OTUS_JSON_PARSE_MAX_DEPTH);
    rc = parse(&ps);
    if (rc)
        goto out;
    assert(ps.npend == 1 && ps.depth == 0);
    struct otus_json_node *top = otus_arena_alloc(arena, sizeof(*top));
    if (!top) {
        rc = fail_memory(&ps, arena->exhausted ? OTUS_ERR_TOO_BIG : OTUS_ERR_NOMEM);
        goto out;
    }
    *top = ps.pend[0];
    *root = top;
out:
    free(ps.pend);
    return rc;
}

const struct otus_json_node *otus_json_object_get(const struct otus_json_node *obj, const char *k,
                                                  size_t klen)
{
    assert(obj->kind == OTUS_JSON_OBJECT);
    for (uint32_t i = 0; i < obj->len; i++) {
        const struct otus_json_member *m = &obj->u.members[i];
        if (m->key.len == klen && memcmp(m->key.u.str, k, klen) == 0)
            return &m->value;
    }
    return NULL;
}
