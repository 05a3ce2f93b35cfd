/*
 * fuzz_gzip.c: libFuzzer target. Arbitrary bytes gunzipped with a 1 MiB cap: the
 * result is an error or at most 1 MiB, never more; what compresses decompresses back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otus_buf out;
    otus_buf_init(&out, 0);
    int rc = otus_gzip_decompress(data, size, 1u << 20, &out);
    if (rc == 0 && out.len > (1u << 20))
        abort();
    if (rc != 0 && out.len != 0)
        abort();
    otus_buf_free(&out);

    struct otus_buf z, back;
    otus_buf_init(&z, 0);
    otus_buf_init(&back, 0);
    if (otus_gzip_compress(data, size, 1, &z) != 0)
        abort();
    if (otus_gzip_decompress(z.data, z.len, size, &back) != 0 && size > 0)
        abort();
    if (back.len != size || (size && memcmp(back.data, data, size) != 0))
        abort();
    otus_buf_free(&z);
    otus_buf_free(&back);
    return 0;
}
