/*
 * test_json.c: the JSON writer: escaping of every control character, UTF-8 passed
 * through, each kind of invalid UTF-8 replaced by U+FFFD, numbers, nesting and
 * commas, sticky errors.
 */
#include "otus_test.h"

#include <math.h>

#include <otus.h>

#include "common/json.h"

static void check_escape(const char *in, size_t n, const char *want)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_json_escape(&b, in, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("escape: got [%.*s] want [%s]", (int)b.len, b.data, want);
    otus_buf_free(&b);
}

static void escapes(void **state)
{
    (void)state;
    check_escape("plain", 5, "\"plain\"");
    check_escape("", 0, "\"\"");
    check_escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_escape("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    check_escape("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    check_escape("nul\0in", 6, "\"nul\\u0000in\"");
    check_escape("/ and \x7f", 7, "\"/ and \x7f\"");
    /* Every control character is escaped, nothing else below 0x80 is. */
    for (int c = 0; c < 0x80; c++) {
        char in = (char)c;
        struct otus_buf b;
        otus_buf_init(&b, 0);
        assert_int_equal(otus_json_escape(&b, &in, 1), 0);
        if (c < 0x20 || c == '"' || c == '\\')
            assert_true(b.len > 3 && b.data[1] == '\\');
        else
            assert_int_equal(b.len, 3);
        otus_buf_free(&b);
    }
}

static void utf8_passes_through(void **state)
{
    (void)state;
    check_escape("h\xc3\xa9llo", 6, "\"h\xc3\xa9llo\"");         /* é, 2 bytes */
    check_escape("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");         /* €, 3 bytes */
    check_escape("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""); /* 😀, 4 bytes */
    check_escape("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\"");         /* U+FFFD itself */
    check_escape("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
}

#define FFFD "\xef\xbf\xbd"

static void invalid_utf8_replaced(void **state)
{
    (void)state;
    check_escape("a\x80z", 3, "\"a" FFFD "z\"");                        /* lone continuation */
    check_escape("\xc3", 1, "\"" FFFD "\"");                            /* truncated at end */
    check_escape("\xc3z", 2, "\"" FFFD "z\"");                          /* truncated mid-string */
    check_escape("\xc0\xaf", 2, "\"" FFFD FFFD "\"");                   /* overlong '/' */
    check_escape("\xe0\x80\xaf", 3, "\"" FFFD FFFD FFFD "\"");          /* overlong 3-byte */
    check_escape("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"");          /* UTF-16 surrogate */
    check_escape("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""); /* > U+10FFFF */
    check_escape("\xf5", 1, "\"" FFFD "\"");
    check_escape("\xff\xfe", 2, "\"" FFFD FFFD "\"");
    check_escape("\xe2\x82z", 3, "\"" FFFD "z\""); /* maximal subpart is one FFFD */
    check_escape("\xf0\x9f\x98", 3, "\"" FFFD "\"");
}

static void document(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_object_begin(&j);
    otus_json_key_cstr(&j, "s");
    otus_json_cstr(&j, "v");
    otus_json_key_cstr(&j, "i");
    otus_json_int(&j, -42);
    otus_json_key_cstr(&j, "u");
    otus_json_uint(&j, UINT64_MAX);
    otus_json_key_cstr(&j, "arr");
    otus_json_array_begin(&j);
    otus_json_bool(&j, true);
    otus_json_bool(&j, false);
    otus_json_null(&j);
    otus_json_array_begin(&j);
    otus_json_array_end(&j);
    otus_json_object_begin(&j);
    otus_json_object_end(&j);
    otus_json_array_end(&j);
    otus_json_key_cstr(&j, "d");
    otus_json_double(&j, 1.5);
    otus_json_object_end(&j);
    assert_int_equal(otus_json_error(&j), 0);
    assert_buf_eq(&b, "{\"s\":\"v\",\"i\":-42,\"u\":18446744073709551615,"
                      "\"arr\":[true,false,null,[],{}],\"d\":1.5}");
    otus_buf_free(&b);
}

static void doubles(void **state)
{
    (void)state;
    char out[40];
    otus_json_format_double(0.1, out);
    assert_string_equal(out, "0.1");
    otus_json_format_double(1.0, out);
    assert_string_equal(out, "1.0"); /* stays floating point for consumers */
    otus_json_format_double(-2.0, out);
    assert_string_equal(out, "-2.0");
    otus_json_format_double(1e300, out);
    assert_string_equal(out, "1e+300");
    otus_json_format_double(123456789012345678.0, out);
    assert_string_equal(out, "1.2345678901234568e+17");
    /* Every formatted value reads back exactly. */
    double vals[] = {0.1 + 0.2, 1.0 / 3, 5e-324, 1.7976931348623157e308, -0.0, 42.125};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        otus_json_format_double(vals[i], out);
        assert_true(strtod(out, NULL) == vals[i]);
    }
    struct otus_buf b;
    otus_buf_init(&b, 0);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_array_begin(&j);
    otus_json_double(&j, NAN);
    otus_json_double(&j, INFINITY);
    otus_json_double(&j, -INFINITY);
    otus_json_array_end(&j);
    assert_buf_eq(&b, "[\"NaN\",\"Infinity\",\"-Infinity\"]");
    otus_buf_free(&b);
}

static void errors_are_sticky(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 10);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_array_begin(&j);
    otus_json_cstr(&j, "this string does not fit");
    otus_json_int(&j, 1);
    otus_json_array_end(&j);
    assert_int_equal(otus_json_error(&j), OTUS_ERR_TOO_BIG);
    otus_buf_free(&b);

    /* Unbalanced containers are reported. */
    otus_buf_init(&b, 0);
    otus_json_init(&j, &b);
    otus_json_object_begin(&j);
    assert_int_equal(otus_json_error(&j), OTUS_ERR_INVALID);
    otus_json_object_end(&j);
    otus_json_object_end(&j);
    assert_int_equal(otus_json_error(&j), OTUS_ERR_INVALID);
    otus_buf_free(&b);

    /* Nesting deeper than the limit is refused, not overflowed. */
    otus_buf_init(&b, 0);
    otus_json_init(&j, &b);
    for (int i = 0; i < OTUS_JSON_MAX_DEPTH + 5; i++)
        otus_json_array_begin(&j);
    assert_int_equal(otus_json_error(&j), OTUS_ERR_INVALID);
    otus_buf_free(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(escapes),
    cmocka_unit_test(utf8_passes_through),
    cmocka_unit_test(invalid_utf8_replaced),
    cmocka_unit_test(document),
    cmocka_unit_test(doubles),
    cmocka_unit_test(errors_are_sticky),
};

OTUS_TEST_MAIN(tests)
