/*
 * test_gzip.c: gzip round trips, concatenated members, corrupt and truncated input,
 * and the decompression cap that turns a bomb into an error.
 */
#include "otus_test.h"

#include <otus.h>

#include "common/gzip.h"

static void round_trip(void **state)
{
    (void)state;
    struct otus_buf in, z, out;
    otus_buf_init(&in, 0);
    otus_buf_init(&z, 0);
    otus_buf_init(&out, 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(otus_buf_printf(&in, "{\"n\":%d,\"msg\":\"record %d\"}\n", i, i * 7), 0);
    assert_int_equal(otus_gzip_compress(in.data, in.len, 1, &z), 0);
    assert_true(z.len < in.len / 3);
    assert_int_equal((unsigned char)z.data[0], 0x1f);
    assert_int_equal((unsigned char)z.data[1], 0x8b);
    assert_int_equal(otus_gzip_decompress(z.data, z.len, in.len, &out), 0);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    otus_buf_free(&in);
    otus_buf_free(&z);
    otus_buf_free(&out);
}

static void reusable_state(void **state)
{
    (void)state;
    struct otus_deflater d;
    struct otus_inflater f;
    assert_int_equal(otus_deflater_init(&d, 6), 0);
    assert_int_equal(otus_inflater_init(&f), 0);
    for (int round = 0; round < 5; round++) {
        char text[64];
        int n = snprintf(text, sizeof(text), "round %d round %d round %d", round, round, round);
        struct otus_buf z, out;
        otus_buf_init(&z, 0);
        otus_buf_init(&out, 0);
        assert_int_equal(otus_deflater_gzip(&d, text, (size_t)n, &z), 0);
        assert_int_equal(otus_inflater_gunzip(&f, z.data, z.len, 1024, &out), 0);
        assert_int_equal(out.len, (size_t)n);
        assert_memory_equal(out.data, text, (size_t)n);
        otus_buf_free(&z);
        otus_buf_free(&out);
    }
    otus_deflater_destroy(&d);
    otus_inflater_destroy(&f);
    otus_deflater_destroy(&d); /* twice is harmless */
}

static void concatenated_members(void **state)
{
    (void)state;
    struct otus_buf z, out;
    otus_buf_init(&z, 0);
    otus_buf_init(&out, 0);
    assert_int_equal(otus_gzip_compress("hello ", 6, 6, &z), 0);
    assert_int_equal(otus_gzip_compress("world", 5, 6, &z), 0);
    assert_int_equal(otus_gzip_decompress(z.data, z.len, 100, &out), 0);
    assert_buf_eq(&out, "hello world");
    otus_buf_free(&z);
    otus_buf_free(&out);
}

static void bomb_is_refused(void **state)
{
    (void)state;
    /* 64 MiB of zeros compress to ~64 KiB; with a 1 MiB cap decompression must stop
     * at the cap with an error, never allocating the full size. */
    size_t big = 64u << 20;
    char *zeros = calloc(1, big);
    assert_non_null(zeros);
    struct otus_buf z, out;
    otus_buf_init(&z, 0);
    otus_buf_init(&out, 0);
    assert_int_equal(otus_gzip_compress(zeros, big, 9, &z), 0);
    free(zeros);
    assert_true(z.len < 256 * 1024);
    assert_int_equal(otus_gzip_decompress(z.data, z.len, 1u << 20, &out), OTUS_ERR_TOO_BIG);
    assert_int_equal(out.len, 0);
    assert_true(out.cap <= (1u << 20) + 4096);
    /* Exactly at the cap is fine. */
    struct otus_buf z2, out2;
    otus_buf_init(&z2, 0);
    otus_buf_init(&out2, 0);
    char block[1000];
    memset(block, 'a', sizeof(block));
    assert_int_equal(otus_gzip_compress(block, sizeof(block), 6, &z2), 0);
    assert_int_equal(otus_gzip_decompress(z2.data, z2.len, 1000, &out2), 0);
    assert_int_equal(out2.len, 1000);
    otus_buf_reset(&out2);
    assert_int_equal(otus_gzip_decompress(z2.data, z2.len, 999, &out2), OTUS_ERR_TOO_BIG);
    otus_buf_free(&z);
    otus_buf_free(&out);
    otus_buf_free(&z2);
    otus_buf_free(&out2);
}

static void corrupt_and_truncated(void **state)
{
    (void)state;
    struct otus_buf z, out;
    otus_buf_init(&z, 0);
    otus_buf_init(&out, 0);
    assert_int_equal(otus_gzip_compress("some text to compress", 21, 6, &z), 0);
    /* Truncated. */
    assert_int_equal(otus_gzip_decompress(z.data, z.len - 5, 100, &out), OTUS_ERR_PARSE);
    /* Not gzip at all. */
    assert_int_equal(otus_gzip_decompress("plain text", 10, 100, &out), OTUS_ERR_PARSE);
    /* Empty. */
    assert_int_equal(otus_gzip_decompress("", 0, 100, &out), OTUS_ERR_PARSE);
    /* Trailing garbage after a valid member. */
    assert_int_equal(otus_buf_append(&z, "junk", 4), 0);
    assert_int_equal(otus_gzip_decompress(z.data, z.len, 100, &out), OTUS_ERR_PARSE);
    /* Corrupt CRC. */
    z.len -= 4;
    z.data[z.len - 6] ^= 0x55;
    assert_int_equal(otus_gzip_decompress(z.data, z.len, 100, &out), OTUS_ERR_PARSE);
    assert_int_equal(out.len, 0);
    otus_buf_free(&z);
    otus_buf_free(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_trip),
    cmocka_unit_test(reusable_state),
    cmocka_unit_test(concatenated_members),
    cmocka_unit_test(bomb_is_refused),
    cmocka_unit_test(corrupt_and_truncated),
};

OTUS_TEST_MAIN(tests)
