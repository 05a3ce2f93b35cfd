/*
 * test_buf.c: struct otus_buf growth, its hard maximum, printf and steal.
 */
#include "otus_test.h"

#include <otus.h>

#include "common/buf.h"

static void append_and_grow(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(otus_buf_append(&b, "abcdefghij", 10), 0);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= 10000);
    assert_memory_equal(b.data + 9990, "abcdefghij", 10);
    otus_buf_free(&b);
    assert_null(b.data);
    otus_buf_free(NULL);
}

static void hard_maximum(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 16);
    assert_int_equal(otus_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(otus_buf_append(&b, "0123456789", 10), OTUS_ERR_TOO_BIG);
    assert_int_equal(b.len, 10); /* a refused append changes nothing */
    assert_int_equal(otus_buf_append(&b, "012345", 6), 0);
    assert_int_equal(otus_buf_append_byte(&b, 'x'), OTUS_ERR_TOO_BIG);
    assert_true(b.cap <= 16);
    otus_buf_free(&b);
}

static void printf_and_steal(void **state)
{
    (void)state;
    struct otus_buf b;
    otus_buf_init(&b, 0);
    assert_int_equal(otus_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_int_equal(otus_buf_printf(&b, "%0300d", 7), 0); /* forces growth mid-format */
    assert_int_equal(b.len, 4 + 300);
    assert_memory_equal(b.data, "42-x000", 7);
    size_t len;
    char *p = otus_buf_steal(&b, &len);
    assert_int_equal(len, 304);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(p);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(append_and_grow),
    cmocka_unit_test(hard_maximum),
    cmocka_unit_test(printf_and_steal),
};

OTUS_TEST_MAIN(tests)
