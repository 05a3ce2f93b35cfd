/*
 * base64.h: RFC 4648 base64 for bytes values (OTLP bytes attributes written to JSON
 * documents, proto3 JSON bytes fields).
 */
#ifndef OTUS_COMMON_BASE64_H
#define OTUS_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the padded standard encoding of n bytes. */
static inline size_t otus_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes the padded standard encoding of in[0..n) to out (otus_base64_len(n) bytes,
 * no NUL). */
void otus_base64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes standard or URL-safe base64, padded or not, into out (at least n*3/4 bytes);
 * *outlen gets the byte count. 0 or OTUS_ERR_PARSE.
 */
int otus_base64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen);

#endif
