/*
 * test_hex.c: ID hex encoding and strict decoding.
 */
#include "otus_test.h"

#include <otus.h>

#include "common/hex.h"

static void encode(void **state)
{
    (void)state;
    uint8_t id[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    char out[33] = {0};
    otus_hex_encode(id, 16, out);
    assert_string_equal(out, "4bf92f3577b34da6a3ce929d0e0e4736");
}

static void decode(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(otus_hex_decode("00f067aa0ba902b7", 16, out, 0), 0);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xf0);
    assert_int_equal(out[7], 0xb7);
    /* Uppercase: allowed by default, refused when lowercase is required (W3C). */
    assert_int_equal(otus_hex_decode("00F067AA0BA902B7", 16, out, 0), 0);
    assert_int_equal(out[1], 0xf0);
    assert_int_equal(otus_hex_decode("00F067AA0BA902B7", 16, out, OTUS_HEX_LOWER_ONLY),
                     OTUS_ERR_PARSE);
    assert_int_equal(otus_hex_decode("00f067aa0ba902bg", 16, out, 0), OTUS_ERR_PARSE);
    assert_int_equal(otus_hex_decode("abc", 3, out, 0), OTUS_ERR_PARSE);
    assert_int_equal(otus_hex_decode("zz", 2, out, 0), OTUS_ERR_PARSE);
}

static void zero_ids(void **state)
{
    (void)state;
    uint8_t z[16] = {0};
    assert_true(otus_id_is_zero(z, 16));
    z[15] = 1;
    assert_false(otus_id_is_zero(z, 16));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(encode),
    cmocka_unit_test(decode),
    cmocka_unit_test(zero_ids),
};

OTUS_TEST_MAIN(tests)
