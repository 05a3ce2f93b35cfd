/*
 * hex.h: hex encoding and decoding of trace and span IDs (OTLP/JSON, W3C
 * traceparent, Elasticsearch documents all write them as lowercase hex).
 */
#ifndef OTUS_COMMON_HEX_H
#define OTUS_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

#define OTUS_TRACE_ID_LEN 16
#define OTUS_SPAN_ID_LEN  8

/* Decoding flags. */
#define OTUS_HEX_LOWER_ONLY 1u /* refuse 'A'-'F' (W3C Trace Context demands lowercase) */

/* Writes 2*n lowercase hex digits for in[0..n) to out; no NUL is added. */
void otus_hex_encode(const uint8_t *in, size_t n, char *out);

/* Decodes n hex digits (n even) into n/2 bytes. 0 or OTUS_ERR_PARSE. */
int otus_hex_decode(const char *in, size_t n, uint8_t *out, unsigned flags);

/* 1 when all n bytes are zero (an invalid trace or span ID). */
int otus_id_is_zero(const uint8_t *id, size_t n);

#endif
