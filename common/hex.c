/*
 * hex.c: hex conversion for IDs (hex.h).
 */
#include "common/hex.h"

#include <otus.h>

static const char digits[] = "0123456789abcdef";

void otus_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
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
