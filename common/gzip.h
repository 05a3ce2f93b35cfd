/*
 * gzip.h: gzip compression and decompression with reusable state (hot paths keep one
 * per thread or per exporter). Compression uses libdeflate's whole-buffer compressor,
 * about twice as fast as zlib at level 1 on telemetry bodies, which are always
 * compressed whole. Decompression uses zlib's streaming inflate with a hard cap on
 * the output, so a decompression bomb is an error and not an out-of-memory kill.
 */
#ifndef OTUS_COMMON_GZIP_H
#define OTUS_COMMON_GZIP_H

#include <stddef.h>

#include <zlib.h>

#include "common/buf.h"

struct libdeflate_compressor;

struct otus_deflater {
    struct libdeflate_compressor *c; /* owned; NULL until initialised */
    int level;
};

struct otus_inflater {
    z_stream zs;
    int ready;
};

/* level: 1 (fastest) to 12 (smallest), or Z_DEFAULT_COMPRESSION (6). 0 or
 * OTUS_ERR_NOMEM (or OTUS_ERR_INVALID for a level outside 0-12). */
int otus_deflater_init(struct otus_deflater *d, int level);
void otus_deflater_destroy(struct otus_deflater *d);

/*
 * Appends one gzip member holding in[0..n) to out. 0, OTUS_ERR_TOO_BIG (out's
 * maximum), OTUS_ERR_NOMEM.
 */
int otus_deflater_gzip(struct otus_deflater *d, const void *in, size_t n, struct otus_buf *out);

int otus_inflater_init(struct otus_inflater *f);
void otus_inflater_destroy(struct otus_inflater *f);

/*
 * Appends the decompressed content of the gzip data in[0..n) (one member or several
 * concatenated) to out, never letting the output pass max_out bytes. 0,
 * OTUS_ERR_TOO_BIG (the output would pass max_out), OTUS_ERR_PARSE (not valid gzip,
 * truncated, or trailing garbage), OTUS_ERR_NOMEM.
 */
int otus_inflater_gunzip(struct otus_inflater *f, const void *in, size_t n, size_t max_out,
                         struct otus_buf *out);

/* One-shot forms that set up and tear down their own state. */
int otus_gzip_compress(const void *in, size_t n, int level, struct otus_buf *out);
int otus_gzip_decompress(const void *in, size_t n, size_t max_out, struct otus_buf *out);

#endif
