/*
 * hex.c: hex conversion for IDs (hex.h).
 */
#include "common/hex.h"

#include <string.h>

#include <otus.h>

/* The two lowercase hex digits of every byte value, in order. */
static const char pairs[513] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                               "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                               "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                               "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                               "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                               "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                               "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void otus_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, pairs + 2 * in[i], 2);
}

static inline int digit(uint8_t c, unsigned flags)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F' && !(flags & OTUS_HEX_LOWER_ONLY))
        return c - 'A' + 10;
    return -1;
}

int otus_hex_decode(const char *in, size_t n, uint8_t *out, unsigned flags)
{
    if (n % 2)
        return OTUS_ERR_PARSE;
    for (size_t i = 0; i < n; i += 2) {
        int hi = digit((uint8_t)in[i], flags);
        int lo = digit((uint8_t)in[i + 1], flags);
        if (hi < 0 || lo < 0)
            return OTUS_ERR_PARSE;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int otus_id_is_zero(const uint8_t *id, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= id[i];
    return acc == 0;
}
