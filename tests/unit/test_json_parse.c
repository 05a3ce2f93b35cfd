/*
 * test_json_parse.c: the JSON parser (common/json_parse.h), rule by rule of RFC 8259:
 * every kind of value and the tree built for it, string escapes and surrogate pairs,
 * UTF-8 validation in and out of strings, the number grammar and its edges, whitespace,
 * structure errors, duplicate keys in small and hashed objects, the depth limit, huge
 * inputs and the memory they take, and the position and wording of every error.
 */
#include "otus_test.h"

#include <otus.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json_parse.h"

static struct otus_arena arena;
static struct otus_json_parse_error perr;

static int setup(void **state)
{
    (void)state;
    otus_arena_init(&arena, 0, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otus_arena_destroy(&arena);
    return 0;
}

static const struct otus_json_node *parse_n(const char *s, size_t n)
{
    const struct otus_json_node *root = (const struct otus_json_node *)&root;
    int rc = otus_json_parse(s, n, &arena, &root, &perr);
    if (rc)
        fail_msg("parse of [%.*s] failed (%d): %d:%d %s", (int)n, s, rc, perr.line, perr.column,
                 perr.text);
    assert_non_null(root);
    return root;
}

static const struct otus_json_node *parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* Parsing s[0..n) fails with OTUS_ERR_PARSE, at line:column, with this text. */
static void refused_n(const char *s, size_t n, int code, int line, int column, const char *text)
{
    const struct otus_json_node *root = (const struct otus_json_node *)&root;
    memset(&perr, 0, sizeof(perr));
    int rc = otus_json_parse(s, n, &arena, &root, &perr);
    if (rc != OTUS_ERR_PARSE || perr.code != code || perr.line != line || perr.column != column ||
        strcmp(perr.text, text) != 0)
        fail_msg("[%.*s]\n  want %d code %d %d:%d %s\n  got  %d code %d %d:%d %s", (int)n, s,
                 OTUS_ERR_PARSE, code, line, column, text, rc, perr.code, perr.line, perr.column,
                 perr.text);
    assert_null(root);
}

static void refused(const char *s, int code, int line, int column, const char *text)
{
    refused_n(s, strlen(s), code, line, column, text);
}

static void assert_text(const struct otus_json_node *v, int kind, const char *text)
{
    assert_int_equal(v->kind, kind);
    if (v->len != strlen(text) || memcmp(v->u.str, text, v->len) != 0)
        fail_msg("got [%.*s] want [%s]", (int)v->len, v->u.str, text);
}

/* ---- values -------------------------------------------------------------------------------- */

static void scalars(void **state)
{
    (void)state;
    assert_int_equal(parse("null")->kind, OTUS_JSON_NULL);
    assert_int_equal(parse("true")->kind, OTUS_JSON_TRUE);
    assert_int_equal(parse("false")->kind, OTUS_JSON_FALSE);
    assert_text(parse("\"hi\""), OTUS_JSON_STRING, "hi");
    assert_text(parse("\"\""), OTUS_JSON_STRING, "");
    const struct otus_json_node *v = parse("-12");
    assert_text(v, OTUS_JSON_NUMBER, "-12");
    assert_int_equal(v->flags, OTUS_JSON_INTEGER);
    v = parse("1.5e3");
    assert_text(v, OTUS_JSON_NUMBER, "1.5e3");
    assert_int_equal(v->flags, 0);
    /* the input need not end with NUL: a prefix is parsed alone */
    assert_text(parse_n("12345", 2), OTUS_JSON_NUMBER, "12");
    assert_int_equal(parse_n("nullx", 4)->kind, OTUS_JSON_NULL);
}

static void containers(void **state)
{
    (void)state;
    const struct otus_json_node *v = parse("[]");
    assert_int_equal(v->kind, OTUS_JSON_ARRAY);
    assert_int_equal(v->len, 0);
    assert_null(v->u.items);
    v = parse("{}");
    assert_int_equal(v->kind, OTUS_JSON_OBJECT);
    assert_int_equal(v->len, 0);
    assert_null(v->u.members);

    v = parse("[1,\"two\",[3],{\"four\":4},null,true,false]");
    assert_int_equal(v->len, 7);
    assert_text(&v->u.items[0], OTUS_JSON_NUMBER, "1");
    assert_text(&v->u.items[1], OTUS_JSON_STRING, "two");
    assert_int_equal(v->u.items[2].kind, OTUS_JSON_ARRAY);
    assert_text(&v->u.items[2].u.items[0], OTUS_JSON_NUMBER, "3");
    assert_int_equal(v->u.items[3].kind, OTUS_JSON_OBJECT);
    assert_text(&v->u.items[3].u.members[0].key, OTUS_JSON_STRING, "four");
    assert_int_equal(v->u.items[4].kind, OTUS_JSON_NULL);
    assert_int_equal(v->u.items[5].kind, OTUS_JSON_TRUE);
    assert_int_equal(v->u.items[6].kind, OTUS_JSON_FALSE);

    /* members stay in source order; lookup by key */
    v = parse("{\"z\":1,\"a\":{\"inner\":[]},\"m\":\"x\"}");
    assert_int_equal(v->len, 3);
    assert_text(&v->u.members[0].key, OTUS_JSON_STRING, "z");
    assert_text(&v->u.members[1].key, OTUS_JSON_STRING, "a");
    assert_text(&v->u.members[2].key, OTUS_JSON_STRING, "m");
    assert_text(otus_json_object_get(v, "m", 1), OTUS_JSON_STRING, "x");
    assert_int_equal(otus_json_object_get(v, "a", 1)->kind, OTUS_JSON_OBJECT);
    assert_null(otus_json_object_get(v, "q", 1));
    assert_null(otus_json_object_get(v, "zz", 2));
}

static void whitespace(void **state)
{
    (void)state;
    const struct otus_json_node *v = parse(" \t\r\n{ \"a\" \n:\t[ 1 , 2 ] ,\r\"b\" : null } \n");
    assert_int_equal(v->len, 2);
    assert_int_equal(v->u.members[0].value.len, 2);
    /* only the four whitespace characters of RFC 8259 */
    refused("\f1", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '\f'");
    refused("\v1", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '\v'");
    refused("[1,\xc2\xa0"
            "2]",
            OTUS_JSON_ERROR_SYNTAX, 1, 4, "invalid token near '\xc2\xa0'");
}

/* ---- strings --------------------------------------------------------------------------------- */

static void string_escapes(void **state)
{
    (void)state;
    const char *src = "\"plain text\"";
    const struct otus_json_node *v = parse(src);
    assert_ptr_equal(v->u.str, src + 1); /* no escape: the input itself */
    assert_text(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), OTUS_JSON_STRING, "\"\\/\b\f\n\r\t");
    assert_text(parse("\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\""), OTUS_JSON_STRING,
                "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
    assert_text(parse("\"\\u0001\\u001f\\u007f\""), OTUS_JSON_STRING, "\x01\x1f\x7f");
    /* surrogate pairs, both cases of hex digits */
    assert_text(parse("\"\\ud83d\\udd25 \\uD834\\uDD1E\""), OTUS_JSON_STRING,
                "\xf0\x9f\x94\xa5 \xf0\x9d\x84\x9e");
    assert_text(parse("\"\\uDBFF\\uDFFF\""), OTUS_JSON_STRING, "\xf4\x8f\xbf\xbf");
    assert_text(parse("\"\\uD800\\uDC00\""), OTUS_JSON_STRING, "\xf0\x90\x80\x80");
    /* escapes mixed with long plain runs and raw UTF-8 */
    assert_text(parse("\"a long run of plain characters\\n then caf\xc3\xa9 \\u00e9 and more "
                      "plain text to the end\""),
                OTUS_JSON_STRING,
                "a long run of plain characters\n then caf\xc3\xa9 \xc3\xa9 and more plain text "
                "to the end");
    /* DEL and every byte from 0x20 up are plain */
    assert_text(parse("\"\x7f ~\""), OTUS_JSON_STRING, "\x7f ~");
    /* keys are decoded the same way */
    v = parse("{\"k\\u00e9y\\n\":1}");
    assert_text(&v->u.members[0].key, OTUS_JSON_STRING, "k\xc3\xa9y\n");
}

static void string_refusals(void **state)
{
    (void)state;
    refused("\"abc", OTUS_JSON_ERROR_END, 1, 4, "premature end of input near '\"abc'");
    refused("\"abcdefghijklmnopqrstuvwxyz", OTUS_JSON_ERROR_END, 1, 27, "premature end of input");
    refused("\"a\nb\"", OTUS_JSON_ERROR_SYNTAX, 1, 2, "unexpected newline near '\"a'");
    refused("\"\\x\"", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid escape near '\"\\x'");
    refused("\"\\'\"", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid escape near '\"\\''");
    refused("\"\\U0041\"", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid escape near '\"\\U'");
    refused("\"\\u12G4\"", OTUS_JSON_ERROR_SYNTAX, 1, 6, "invalid escape near '\"\\u12G'");
    refused("\"\\u12\"", OTUS_JSON_ERROR_SYNTAX, 1, 6, "invalid escape near '\"\\u12\"'");
    refused("\"\\u12", OTUS_JSON_ERROR_SYNTAX, 1, 5, "invalid escape near '\"\\u12'");
    refused("\"\\", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid escape near '\"\\'");
    /* every control character, raw */
    for (int c = 0; c < 0x20; c++) {
        char in[] = {'"', 'a', (char)c, '"'};
        char want[64];
        snprintf(want, sizeof(want),
                 c == '\n' ? "unexpected newline near '\"a'" : "control character 0x%x near '\"a'",
                 c);
        refused_n(in, sizeof(in), OTUS_JSON_ERROR_SYNTAX, 1, 2, want);
    }
    /* surrogates that do not pair */
    refused("\"\\ud800\"", OTUS_JSON_ERROR_SYNTAX, 1, 8,
            "invalid Unicode '\\uD800' near '\"\\ud800\"'");
    refused("\"\\udc00x\"", OTUS_JSON_ERROR_SYNTAX, 1, 9,
            "invalid Unicode '\\uDC00' near '\"\\udc00x\"'");
    refused("\"\\ud800\\u0041\"", OTUS_JSON_ERROR_SYNTAX, 1, 14,
            "invalid Unicode '\\uD800\\u0041' near '\"\\ud800\\u0041\"'");
    refused("\"\\ud800\\ud800\"", OTUS_JSON_ERROR_SYNTAX, 1, 14,
            "invalid Unicode '\\uD800\\uD800' near '\"\\ud800\\ud800\"'");
    refused("\"\\ud800\\n\"", OTUS_JSON_ERROR_SYNTAX, 1, 10,
            "invalid Unicode '\\uD800' near '\"\\ud800\\n\"'");
    refused("\"the text of this token is too long \\udfff\"", OTUS_JSON_ERROR_SYNTAX, 1, 43,
            "invalid Unicode '\\uDFFF'");
    /* U+0000 in a value and in a key */
    refused("[\"a\\u0000b\"]", OTUS_JSON_ERROR_NUL, 1, 11, "strings may not contain \\u0000");
    refused("{\"a\\u0000\":1}", OTUS_JSON_ERROR_NUL_KEY, 1, 10,
            "NUL byte in object key not supported near '\"a\\u0000\"'");
}

static void utf8(void **state)
{
    (void)state;
    assert_text(parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf"
                      "\xbf\""),
                OTUS_JSON_STRING,
                "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf");
    /* not UTF-8 inside strings: the byte, the token so far, and its column */
    static const struct {
        const char *in;
        const char *text;
    } bad[] = {
        {"\"caf\xe9\"", "unable to decode byte 0xe9 near '\"caf'"},     /* Latin-1 */
        {"\"caf\x80\"", "unable to decode byte 0x80 near '\"caf'"},     /* continuation */
        {"\"caf\xc0\xaf\"", "unable to decode byte 0xc0 near '\"caf'"}, /* overlong */
        {"\"caf\xe0\x80\xaf\"", "unable to decode byte 0xe0 near '\"caf'"},
        {"\"caf\xf0\x80\x80\xaf\"", "unable to decode byte 0xf0 near '\"caf'"},
        {"\"caf\xed\xa0\x80\"", "unable to decode byte 0xed near '\"caf'"},     /* surrogate */
        {"\"caf\xf4\x90\x80\x80\"", "unable to decode byte 0xf4 near '\"caf'"}, /* > U+10FFFF */
        {"\"caf\xf5\x80\x80\x80\"", "unable to decode byte 0xf5 near '\"caf'"},
        {"\"caf\xff\"", "unable to decode byte 0xff near '\"caf'"},
        {"\"caf\xc3(\"", "unable to decode byte 0xc3 near '\"caf'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i].in, OTUS_JSON_ERROR_UTF8, 1, 4, bad[i].text);
    refused("\"caf\xe2\x82", OTUS_JSON_ERROR_UTF8, 1, 4, "unable to decode byte 0xe2 near '\"caf'");
    /* outside strings: at a token's start there is no token text */
    refused("[\xff]", OTUS_JSON_ERROR_UTF8, 1, 1, "unable to decode byte 0xff");
    refused("[1, \xe2\x82]", OTUS_JSON_ERROR_UTF8, 1, 4, "unable to decode byte 0xe2");
    /* right after a number or a word, as the look-ahead */
    refused("12\xff", OTUS_JSON_ERROR_UTF8, 1, 2, "unable to decode byte 0xff near '12'");
    refused("[true\x80]", OTUS_JSON_ERROR_UTF8, 1, 5, "unable to decode byte 0x80 near 'true'");
    refused("1.\xff", OTUS_JSON_ERROR_UTF8, 1, 2, "unable to decode byte 0xff near '1.'");
    refused("\"\\\xff\"", OTUS_JSON_ERROR_UTF8, 1, 2, "unable to decode byte 0xff near '\"\\'");
    /* valid UTF-8 outside strings is an invalid token; a byte order mark too */
    refused("[\xc3\xa9]", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid token near '\xc3\xa9'");
    refused("\xef\xbb\xbf{}", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '\xef\xbb\xbf'");
    refused("\"\\\xc3\xa9\"", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid escape near '\"\\\xc3'");
}

/* ---- numbers --------------------------------------------------------------------------------- */

static void numbers(void **state)
{
    (void)state;
    static const char *integers[] = {
        "0",
        "-0",
        "7",
        "-7",
        "1234567890",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "123456789012345678901234567890123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
        const struct otus_json_node *v = parse(integers[i]);
        assert_text(v, OTUS_JSON_NUMBER, integers[i]);
        assert_int_equal(v->flags, OTUS_JSON_INTEGER);
    }
    static const char *reals[] = {"0.0",
                                  "-0.0",
                                  "1.5",
                                  "1e5",
                                  "1E5",
                                  "1e+5",
                                  "1e-5",
                                  "-1.25E-10",
                                  "0e0",
                                  "1e-400",
                                  "-2.5e-99999",
                                  "1.7976931348623157e308",
                                  "0.00017976931348623157e312",
                                  "179769313486231570000000000000000000000e270",
                                  "0e99999999999999999999999",
                                  "0.000e400",
                                  "1e307"};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        const struct otus_json_node *v = parse(reals[i]);
        assert_text(v, OTUS_JSON_NUMBER, reals[i]);
        assert_int_equal(v->flags, 0);
    }
}

static void number_refusals(void **state)
{
    (void)state;
    refused("01", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '0'");
    refused("-01", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid token near '-0'");
    refused("-", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '-'");
    refused("-a", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '-'");
    refused("1.", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid token near '1.'");
    refused("1.e5", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid token near '1.'");
    refused(".5", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '.'");
    refused("+1", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '+'");
    refused("1e", OTUS_JSON_ERROR_SYNTAX, 1, 2, "invalid token near '1e'");
    refused("1e+", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid token near '1e+'");
    refused("1E-x", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid token near '1E-'");
    refused("0x1F", OTUS_JSON_ERROR_TRAILING, 1, 2, "end of file expected near 'x'");
    refused("[1 2]", OTUS_JSON_ERROR_SYNTAX, 1, 4, "']' expected near '2'");
    refused("NaN", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid token near 'NaN'");
    refused("-Infinity", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '-'");
    /* beyond double's range, by the first significant digit or by strtod near DBL_MAX */
    refused("1e309", OTUS_JSON_ERROR_RANGE, 1, 5, "real number overflow near '1e309'");
    refused("-1e400", OTUS_JSON_ERROR_RANGE, 1, 6, "real number overflow near '-1e400'");
    refused("0.5e999999", OTUS_JSON_ERROR_RANGE, 1, 10, "real number overflow near '0.5e999999'");
    refused("1.7976931348623159e308", OTUS_JSON_ERROR_RANGE, 1, 22, "real number overflow");
    refused("[1e99999999999999999999999]", OTUS_JSON_ERROR_RANGE, 1, 26, "real number overflow");
    refused("1000000000000000000000000000000000000000000000000000.0e270", OTUS_JSON_ERROR_RANGE, 1,
            58, "real number overflow");
}

/* ---- structure ------------------------------------------------------------------------------- */

static void structure_refusals(void **state)
{
    (void)state;
    refused("", OTUS_JSON_ERROR_END, 1, 0, "unexpected token near end of file");
    refused(" \n ", OTUS_JSON_ERROR_END, 2, 1, "unexpected token near end of file");
    refused("hello", OTUS_JSON_ERROR_SYNTAX, 1, 5, "invalid token near 'hello'");
    refused("nul", OTUS_JSON_ERROR_SYNTAX, 1, 3, "invalid token near 'nul'");
    refused("True", OTUS_JSON_ERROR_SYNTAX, 1, 4, "invalid token near 'True'");
    refused("nulll", OTUS_JSON_ERROR_SYNTAX, 1, 5, "invalid token near 'nulll'");
    refused("{} x", OTUS_JSON_ERROR_TRAILING, 1, 4, "end of file expected near 'x'");
    refused("{} {}", OTUS_JSON_ERROR_TRAILING, 1, 4, "end of file expected near '{'");
    refused("1 2", OTUS_JSON_ERROR_TRAILING, 1, 3, "end of file expected near '2'");
    refused("[1,]", OTUS_JSON_ERROR_SYNTAX, 1, 4, "unexpected token near ']'");
    refused("[,1]", OTUS_JSON_ERROR_SYNTAX, 1, 2, "unexpected token near ','");
    refused("[1,,2]", OTUS_JSON_ERROR_SYNTAX, 1, 4, "unexpected token near ','");
    refused("[1", OTUS_JSON_ERROR_END, 1, 2, "']' expected near end of file");
    refused("[1,", OTUS_JSON_ERROR_END, 1, 3, "']' expected near end of file");
    refused("[", OTUS_JSON_ERROR_END, 1, 1, "']' expected near end of file");
    refused("[1}", OTUS_JSON_ERROR_SYNTAX, 1, 3, "']' expected near '}'");
    refused("{\"a\":1,}", OTUS_JSON_ERROR_SYNTAX, 1, 8, "string or '}' expected near '}'");
    refused("{,}", OTUS_JSON_ERROR_SYNTAX, 1, 2, "string or '}' expected near ','");
    refused("{1:2}", OTUS_JSON_ERROR_SYNTAX, 1, 2, "string or '}' expected near '1'");
    refused("{'a':1}", OTUS_JSON_ERROR_SYNTAX, 1, 2, "string or '}' expected near '''");
    refused("{a:1}", OTUS_JSON_ERROR_SYNTAX, 1, 2, "string or '}' expected near 'a'");
    refused("{\"a\" 1}", OTUS_JSON_ERROR_SYNTAX, 1, 6, "':' expected near '1'");
    refused("{\"a\"}", OTUS_JSON_ERROR_SYNTAX, 1, 5, "':' expected near '}'");
    refused("{\"a\":}", OTUS_JSON_ERROR_SYNTAX, 1, 6, "unexpected token near '}'");
    refused("{\"a\":1 \"b\":2}", OTUS_JSON_ERROR_SYNTAX, 1, 10, "'}' expected near '\"b\"'");
    refused("{\"a\":1]", OTUS_JSON_ERROR_SYNTAX, 1, 7, "'}' expected near ']'");
    refused("{", OTUS_JSON_ERROR_END, 1, 1, "string or '}' expected near end of file");
    refused("{\"a\":1", OTUS_JSON_ERROR_END, 1, 6, "'}' expected near end of file");
    refused("]", OTUS_JSON_ERROR_SYNTAX, 1, 1, "unexpected token near ']'");
    refused(":", OTUS_JSON_ERROR_SYNTAX, 1, 1, "unexpected token near ':'");
    refused("/* c */ 1", OTUS_JSON_ERROR_SYNTAX, 1, 1, "invalid token near '/'");
    refused("[1] // c", OTUS_JSON_ERROR_TRAILING, 1, 5, "end of file expected near '/'");
    /* a NUL byte is never JSON; at a token's start it reads as the end of the text */
    refused_n("[1\0]", 4, OTUS_JSON_ERROR_END, 1, 3, "']' expected near end of file");
    refused_n("\0", 1, OTUS_JSON_ERROR_END, 1, 1, "invalid token near end of file");
    /* tokens longer than 20 bytes are not quoted */
    refused("[\"a string of twenty-one\" 1]", OTUS_JSON_ERROR_SYNTAX, 1, 27,
            "']' expected near '1'");
    refused("[abcdefghijklmnopqrstu]", OTUS_JSON_ERROR_SYNTAX, 1, 22, "invalid token");
    refused("[abcdefghijklmnopqrst]", OTUS_JSON_ERROR_SYNTAX, 1, 21,
            "invalid token near 'abcdefghijklmnopqrst'");
}

static void positions(void **state)
{
    (void)state;
    /* lines count '\n' only; columns count characters, not bytes */
    refused("{\n  \"a\": [1,\n  2,\r\n  x]}", OTUS_JSON_ERROR_SYNTAX, 4, 3,
            "invalid token near 'x'");
    refused("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\", x]", OTUS_JSON_ERROR_SYNTAX, 1, 9,
            "invalid token near 'x'");
    refused("[1,\n2,\n\xc3\xa9]", OTUS_JSON_ERROR_SYNTAX, 3, 1, "invalid token near '\xc3\xa9'");
    memset(&perr, 0, sizeof(perr));
    const struct otus_json_node *root;
    assert_int_equal(otus_json_parse("[1,\n2,\n\xc3\xa9]", 10, &arena, &root, &perr),
                     OTUS_ERR_PARSE);
    assert_int_equal(perr.offset, 9);
    /* the error struct MAY be left out */
    assert_int_equal(otus_json_parse("[", 1, &arena, &root, NULL), OTUS_ERR_PARSE);
    assert_null(root);
}

/* ---- duplicate keys ---------------------------------------------------------------------------
 */

static void duplicate_keys(void **state)
{
    (void)state;
    refused("{\"a\":1,\"a\":2}", OTUS_JSON_ERROR_DUPLICATE, 1, 10,
            "duplicate object key near '\"a\"'");
    refused("{\"a\":1,\"\\u0061\":2}", OTUS_JSON_ERROR_DUPLICATE, 1, 15,
            "duplicate object key near '\"\\u0061\"'");
    refused("{\"a\":{\"b\":1},\"b\":2,\"a\":3}", OTUS_JSON_ERROR_DUPLICATE, 1, 22,
            "duplicate object key near '\"a\"'");
    /* the same key in different objects, and keys that differ only in length */
    parse("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}],\"ab\":1,\"\":2}");
    /* a duplicate found before a later syntax error is what is reported */
    refused("{\"a\":1,\"a\":2 x", OTUS_JSON_ERROR_DUPLICATE, 1, 10,
            "duplicate object key near '\"a\"'");

    /* objects of many members use a hash table: every position of a duplicate */
    for (int n = 15; n <= 2000; n = n < 40 ? n + 1 : n * 3) {
        for (int dup = 0; dup < n; dup += n < 40 ? 1 : n / 7) {
            struct otus_buf b;
            otus_buf_init(&b, 0);
            otus_buf_append_byte(&b, '{');
            for (int i = 0; i < n; i++)
                otus_buf_printf(&b, "\"key%d\":%d,", i, i);
            otus_buf_printf(&b, "\"key%d\":0}", dup);
            char want[64];
            snprintf(want, sizeof(want), "duplicate object key near '\"key%d\"'", dup);
            const struct otus_json_node *root;
            memset(&perr, 0, sizeof(perr));
            assert_int_equal(otus_json_parse(b.data, b.len, &arena, &root, &perr), OTUS_ERR_PARSE);
            assert_int_equal(perr.code, OTUS_JSON_ERROR_DUPLICATE);
            assert_string_equal(perr.text, want);
            assert_int_equal(perr.offset, b.len - 3); /* after the key */
            /* without the duplicate, every member is there in order */
            b.len -= (size_t)snprintf(want, sizeof(want), "\"key%d\":0}", dup) + 1;
            otus_buf_append_byte(&b, '}');
            const struct otus_json_node *v = parse_n(b.data, b.len);
            assert_int_equal(v->len, n);
            snprintf(want, sizeof(want), "%d", n - 1);
            assert_text(&v->u.members[n - 1].value, OTUS_JSON_NUMBER, want);
            otus_buf_free(&b);
        }
    }
}

/* ---- limits -------------------------------------------------------------------------------------
 */

static void depth_limit(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    /* 2048 levels of values are taken: 2047 arrays around a number */
    for (int i = 0; i < OTUS_JSON_PARSE_MAX_DEPTH - 1; i++)
        otus_buf_append_byte(&b, '[');
    otus_buf_append_byte(&b, '1');
    for (int i = 0; i < OTUS_JSON_PARSE_MAX_DEPTH - 1; i++)
        otus_buf_append_byte(&b, ']');
    const struct otus_json_node *v = parse_n(b.data, b.len);
    for (int i = 0; i < OTUS_JSON_PARSE_MAX_DEPTH - 1; i++) {
        assert_int_equal(v->kind, OTUS_JSON_ARRAY);
        assert_int_equal(v->len, 1);
        v = &v->u.items[0];
    }
    assert_text(v, OTUS_JSON_NUMBER, "1");

    /* one more level is refused where it starts */
    otus_buf_reset(&b);
    for (int i = 0; i < OTUS_JSON_PARSE_MAX_DEPTH; i++)
        otus_buf_append_byte(&b, '[');
    otus_buf_append_str(&b, "1]");
    refused_n(b.data, b.len, OTUS_JSON_ERROR_DEPTH, 1, OTUS_JSON_PARSE_MAX_DEPTH + 1,
              "maximum parsing depth reached near '1'");
    /* objects count as well, and a million brackets stop at the limit */
    otus_buf_reset(&b);
    for (int i = 0; i < OTUS_JSON_PARSE_MAX_DEPTH; i++)
        otus_buf_append_str(&b, "{\"a\":");
    refused_n(b.data, b.len, OTUS_JSON_ERROR_DEPTH, 1, 5 * OTUS_JSON_PARSE_MAX_DEPTH,
              "maximum parsing depth reached near end of file");
    otus_buf_append_str(&b, "{}");
    refused_n(b.data, b.len, OTUS_JSON_ERROR_DEPTH, 1, 5 * OTUS_JSON_PARSE_MAX_DEPTH + 1,
              "maximum parsing depth reached near '{'");
    otus_buf_reset(&b);
    for (int i = 0; i < 1000000; i++)
        otus_buf_append_byte(&b, '[');
    refused_n(b.data, b.len, OTUS_JSON_ERROR_DEPTH, 1, OTUS_JSON_PARSE_MAX_DEPTH + 1,
              "maximum parsing depth reached near '['");
    otus_buf_free(&b);
}

/* Parses b and checks that the arena took at most 16 bytes per input byte. */
static void parse_within_bound(const struct otus_buf *b)
{
    struct otus_arena a;
    otus_arena_init(&a, 64 * 1024, 0);
    const struct otus_json_node *root;
    assert_int_equal(otus_json_parse(b->data, b->len, &a, &root, &perr), 0);
    size_t used = 0;
    for (const struct otus_arena_chunk *c = a.head; c; c = c->next)
        used += c->used;
    if (used > 16 * b->len + 64)
        fail_msg("%zu bytes of tree for %zu of input", used, b->len);
    otus_arena_destroy(&a);
}

static void huge_inputs(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    /* a million numbers */
    otus_buf_append_byte(&b, '[');
    for (int i = 0; i < 1000000; i++)
        otus_buf_append_str(&b, i ? ",0" : "0");
    otus_buf_append_byte(&b, ']');
    const struct otus_json_node *v = parse_n(b.data, b.len);
    assert_int_equal(v->len, 1000000);
    parse_within_bound(&b);
    /* as many empty containers */
    otus_buf_reset(&b);
    otus_buf_append_byte(&b, '[');
    for (int i = 0; i < 500000; i++)
        otus_buf_append_str(&b, i % 2 ? ",{}" : (i ? ",[]" : "[]"));
    otus_buf_append_byte(&b, ']');
    assert_int_equal(parse_n(b.data, b.len)->len, 500000);
    parse_within_bound(&b);
    /* an object of 200,000 members */
    otus_buf_reset(&b);
    otus_buf_append_byte(&b, '{');
    for (int i = 0; i < 200000; i++)
        otus_buf_printf(&b, "%s\"%x\":0", i ? "," : "", i);
    otus_buf_append_byte(&b, '}');
    v = parse_n(b.data, b.len);
    assert_int_equal(v->len, 200000);
    assert_text(otus_json_object_get(v, "30d3f", 5), OTUS_JSON_NUMBER, "0");
    parse_within_bound(&b);
    /* a 16 MiB string of escapes and plain runs */
    otus_buf_reset(&b);
    otus_buf_append_byte(&b, '"');
    for (int i = 0; i < 1 << 20; i++)
        otus_buf_append_str(&b, "plain\\n\\u00e9\\\"");
    otus_buf_append_byte(&b, '"');
    v = parse_n(b.data, b.len);
    assert_int_equal(v->len, 9 << 20);
    assert_memory_equal(v->u.str + v->len - 9, "plain\n\xc3\xa9\"", 9);
    parse_within_bound(&b);
    otus_buf_free(&b);
}

static void arena_limit(void **state)
{
    (void)state;
    struct otus_arena small;
    otus_arena_init(&small, 1024, 4096);
    struct otus_buf b;
    otus_buf_init(&b, 0);
    otus_buf_append_byte(&b, '[');
    for (int i = 0; i < 1000; i++)
        otus_buf_append_str(&b, i ? ",[1]" : "[1]");
    otus_buf_append_byte(&b, ']');
    const struct otus_json_node *root = (const struct otus_json_node *)&root;
    assert_int_equal(otus_json_parse(b.data, b.len, &small, &root, &perr), OTUS_ERR_TOO_BIG);
    assert_int_equal(perr.code, OTUS_JSON_ERROR_MEMORY);
    assert_null(root);
    otus_arena_destroy(&small);
    otus_buf_free(&b);
    /* lengths and counts are 32 bits: a longer input is refused before it is read */
    assert_int_equal(otus_json_parse("[]", OTUS_JSON_PARSE_MAX_LEN + 1, &arena, &root, &perr),
                     OTUS_ERR_TOO_BIG);
    assert_int_equal(perr.code, OTUS_JSON_ERROR_MEMORY);
    assert_string_equal(perr.text, "the input is longer than the parser takes");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(scalars, setup, teardown),
    cmocka_unit_test_setup_teardown(containers, setup, teardown),
    cmocka_unit_test_setup_teardown(whitespace, setup, teardown),
    cmocka_unit_test_setup_teardown(string_escapes, setup, teardown),
    cmocka_unit_test_setup_teardown(string_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(utf8, setup, teardown),
    cmocka_unit_test_setup_teardown(numbers, setup, teardown),
    cmocka_unit_test_setup_teardown(number_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(structure_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(positions, setup, teardown),
    cmocka_unit_test_setup_teardown(duplicate_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(depth_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(huge_inputs, setup, teardown),
    cmocka_unit_test_setup_teardown(arena_limit, setup, teardown),
};

OTUS_TEST_MAIN(tests)
