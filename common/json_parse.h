/*
 * json_parse.h: a strict RFC 8259 JSON parser that builds a compact tree in an arena.
 *
 * The OTLP/JSON receiver parses every request body with it, so it is built for speed
 * on small objects: one pass over the input, table-driven character classes, plain
 * string runs scanned 8 bytes at a time, and no allocation per node: the tree lives in
 * an otus_arena and is freed with it. Strings without escapes point into the input;
 * strings with escapes are decoded into the arena. Numbers keep their source text, so
 * a caller reads integers of any length exactly (a uint64 up to 2^64-1, an exponent
 * form like 17e17) and doubles with strtod. Objects keep their members in source
 * order as an array, which a caller looking up a handful of keys scans linearly.
 *
 * What is refused (RFC 8259 and a little more): anything outside the grammar
 * (leading zeros, a lone '-', "1.", trailing commas, comments, single quotes, a byte
 * order mark, text after the value); bytes that are not UTF-8 anywhere in the input
 * (overlong forms, surrogates, code points above U+10FFFF); control characters in
 * strings; escaped surrogates that do not form a pair; \u0000 in strings and keys (C
 * strings end at NUL); a key given twice in one object (compared after decoding);
 * numbers whose magnitude is beyond double's range (integers of any length are kept);
 * nesting deeper than OTUS_JSON_PARSE_MAX_DEPTH values.
 *
 * Errors say what went wrong and where in the words and positions jansson gives for
 * the same input ("invalid token near 'hello'" at line 1, column 5), so the messages
 * clients see do not depend on which parser a component uses; tests/fuzz cross-checks
 * them against jansson.
 *
 * Threading: no state is kept between calls; parses into different arenas may run
 * concurrently.
 */
#ifndef OTUS_COMMON_JSON_PARSE_H
#define OTUS_COMMON_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

/* Deepest nesting of values, the top-level value counting as 1 (jansson's limit). */
#define OTUS_JSON_PARSE_MAX_DEPTH 2048

/* Longest input the parser takes: lengths and counts in the tree are 32 bits. */
#define OTUS_JSON_PARSE_MAX_LEN ((size_t)UINT32_MAX - 1)

enum otus_json_kind {
    OTUS_JSON_NULL,
    OTUS_JSON_FALSE,
    OTUS_JSON_TRUE,
    OTUS_JSON_NUMBER,
    OTUS_JSON_STRING,
    OTUS_JSON_ARRAY,
    OTUS_JSON_OBJECT,
};

/* Flag of a number without fraction and exponent: its text is -?(0|[1-9][0-9]*). */
#define OTUS_JSON_INTEGER 0x01

struct otus_json_member;

/* One value: 16 bytes. */
struct otus_json_node {
    uint8_t kind;  /* enum otus_json_kind */
    uint8_t flags; /* OTUS_JSON_INTEGER for integer numbers */
    uint32_t len;  /* bytes of a string or number; elements of an array; members of an object */
    union {
        const char *str; /* string: the decoded UTF-8 bytes, not NUL-terminated and holding
                            no NUL; number: its source text (RFC 8259 grammar) */
        const struct otus_json_node *items;     /* array: len elements, NULL when empty */
        const struct otus_json_member *members; /* object: len members, NULL when empty */
    } u;
};

/* One object member, in source order; keys are unique within an object. */
struct otus_json_member {
    struct otus_json_node key; /* always an OTUS_JSON_STRING */
    struct otus_json_node value;
};

enum otus_json_error_code {
    OTUS_JSON_ERROR_SYNTAX = 1, /* outside the grammar */
    OTUS_JSON_ERROR_END,        /* the input ends inside a value */
    OTUS_JSON_ERROR_UTF8,       /* bytes that are not UTF-8 */
    OTUS_JSON_ERROR_TRAILING,   /* text after the value */
    OTUS_JSON_ERROR_RANGE,      /* a number beyond double's range */
    OTUS_JSON_ERROR_DUPLICATE,  /* a key given twice in one object */
    OTUS_JSON_ERROR_NUL,        /* \u0000 in a string value */
    OTUS_JSON_ERROR_NUL_KEY,    /* \u0000 in a key */
    OTUS_JSON_ERROR_DEPTH,      /* nested deeper than OTUS_JSON_PARSE_MAX_DEPTH */
    OTUS_JSON_ERROR_MEMORY,     /* the arena's maximum or the system's memory */
};

struct otus_json_parse_error {
    int code;      /* enum otus_json_error_code */
    size_t offset; /* bytes of the input read when the fault was found */
    int line;      /* line of offset, from 1 */
    int column;    /* characters (not bytes) before offset on its line */
    /* What went wrong, then " near '<text>'" with the text of the token read up to
     * offset when it is at most 20 bytes, or " near end of file" at the end of the
     * input. The token's text is the input's, so it may hold any byte but NUL. */
    char text[160];
};

/*
 * Parses the JSON text s[0..n) (not NUL-terminated; need not be) into a tree.
 *
 * arena (borrowed) receives every node, array and decoded string. s (borrowed) must
 * stay unchanged while the tree is used: strings without escapes and number texts
 * point into it. On success *root points at the top-level value (of any kind), valid
 * as long as both the arena's allocations and s. The arena receives at most 16 bytes
 * per input byte. Besides the arena, one work buffer of at most 8 bytes per input
 * byte plus 64 KiB is allocated and freed during the call.
 *
 * err (borrowed, MAY be NULL) receives the details of a failure; it is not touched on
 * success.
 *
 * Returns 0, or:
 *   OTUS_ERR_PARSE    not JSON as described at the top (err->code says which way);
 *   OTUS_ERR_TOO_BIG  n is beyond OTUS_JSON_PARSE_MAX_LEN, or the arena reached its
 *                     maximum (err->code OTUS_JSON_ERROR_MEMORY);
 *   OTUS_ERR_NOMEM    the system's memory ran out (err->code OTUS_JSON_ERROR_MEMORY).
 * On failure *root is NULL; what was allocated stays in the arena until its reset.
 */
int otus_json_parse(const char *s, size_t n, struct otus_arena *arena,
                    const struct otus_json_node **root, struct otus_json_parse_error *err);

/* The member of obj (borrowed, an OTUS_JSON_OBJECT) whose key is k[0..klen), or NULL. */
const struct otus_json_node *otus_json_object_get(const struct otus_json_node *obj, const char *k,
                                                  size_t klen);

#endif
