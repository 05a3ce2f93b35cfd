/*
 * gzip.c: zlib wrappers behind gzip.h.
 */
#include "common/gzip.h"

#include <limits.h>
#include <string.h>

#include <otus.h>

int otus_deflater_init(struct otus_deflater *d, int level)
{
    memset(d, 0, sizeof(*d));
    d->level = level;
    /* windowBits 15 + 16: a gzip wrapper instead of zlib's. memLevel 8 is zlib's default. */
    if (deflateInit2(&d->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return OTUS_ERR_NOMEM;
    d->ready = 1;
    return 0;
}

void otus_deflater_destroy(struct otus_deflater *d)
{
    if (d && d->ready) {
        deflateEnd(&d->zs);
        d->ready = 0;
    }
}

int otus_deflater_gzip(struct otus_deflater *d, const void *in, size_t n, struct otus_buf *out)
{
    if (!d->ready)
        return OTUS_ERR_STATE;
    if (deflateReset(&d->zs) != Z_OK)
        return OTUS_ERR_STATE;
    size_t start = out->len;
    const unsigned char *src = in;
    size_t left = n;
    int rc = 0;
    for (;;) {
        /* deflateBound covers the whole input in one call when it fits in a uInt. */
        uInt chunk = left > UINT_MAX / 2 ? UINT_MAX / 2 : (uInt)left;
        size_t bound = deflateBound(&d->zs, chunk) + 16;
        rc = otus_buf_reserve(out, bound);
        if (rc)
            goto out;
        d->zs.next_in = (Bytef *)src;
        d->zs.avail_in = chunk;
        d->zs.next_out = (Bytef *)out->data + out->len;
        d->zs.avail_out = (uInt)(out->cap - out->len > UINT_MAX ? UINT_MAX : out->cap - out->len);
        int flush = chunk == left ? Z_FINISH : Z_NO_FLUSH;
        uInt before = d->zs.avail_out;
        int zrc = deflate(&d->zs, flush);
        out->len += before - d->zs.avail_out;
        src += chunk - d->zs.avail_in;
        left -= chunk - d->zs.avail_in;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = OTUS_ERR_STATE;
            goto out;
        }
    }
out:
    if (rc)
        out->len = start;
    return rc;
}

int otus_inflater_init(struct otus_inflater *f)
{
    memset(f, 0, sizeof(*f));
    if (inflateInit2(&f->zs, 15 + 16) != Z_OK)
        return OTUS_ERR_NOMEM;
    f->ready = 1;
    return 0;
}

void otus_inflater_destroy(struct otus_inflater *f)
{
    if (f && f->ready) {
        inflateEnd(&f->zs);
        f->ready = 0;
    }
}

int otus_inflater_gunzip(struct otus_inflater *f, const void *in, size_t n, size_t max_out,
                         struct otus_buf *out)
{
    if (!f->ready)
        return OTUS_ERR_STATE;
    size_t start = out->len;
    size_t produced = 0;
    const unsigned char *src = in;
    size_t left = n;
    int rc = 0;
    int members = 0;
    unsigned char probe; /* zlib writes (and reads back) through next_out */

    if (n == 0)
        return OTUS_ERR_PARSE;
    while (left > 0) {
        if (inflateReset(&f->zs) != Z_OK) {
            rc = OTUS_ERR_STATE;
            goto out;
        }
        int zrc;
        do {
            if (produced >= max_out) {
                /* Full: one more byte of output would pass the cap. Probe for it. */
                f->zs.next_out = &probe;
                f->zs.avail_out = 1;
            } else {
                size_t want = left * 4 + 4096;
                if (want > max_out - produced)
                    want = max_out - produced;
                if (want > UINT_MAX)
                    want = UINT_MAX;
                rc = otus_buf_reserve(out, want);
                if (rc)
                    goto out;
                f->zs.next_out = (Bytef *)out->data + out->len;
                size_t room = out->cap - out->len;
                if (room > max_out - produced)
                    room = max_out - produced;
                f->zs.avail_out = (uInt)(room > UINT_MAX ? UINT_MAX : room);
            }
            uInt in_chunk = left > UINT_MAX ? UINT_MAX : (uInt)left;
            f->zs.next_in = (Bytef *)src;
            f->zs.avail_in = in_chunk;
            uInt out_before = f->zs.avail_out;
            int full = produced >= max_out;
            zrc = inflate(&f->zs, Z_NO_FLUSH);
            size_t got = out_before - f->zs.avail_out;
            if (full && got > 0) {
                rc = OTUS_ERR_TOO_BIG;
                goto out;
            }
            if (!full) {
                out->len += got;
                produced += got;
            }
            src += in_chunk - f->zs.avail_in;
            left -= in_chunk - f->zs.avail_in;
            if (zrc == Z_NEED_DICT || zrc == Z_DATA_ERROR || zrc == Z_MEM_ERROR) {
                rc = zrc == Z_MEM_ERROR ? OTUS_ERR_NOMEM : OTUS_ERR_PARSE;
                goto out;
            }
            if (zrc == Z_BUF_ERROR && left == 0 && f->zs.avail_out > 0) {
                rc = OTUS_ERR_PARSE; /* truncated */
                goto out;
            }
        } while (zrc != Z_STREAM_END);
        members++;
        /* Another gzip member may follow (RFC 1952 2.2); anything else is garbage. */
        if (left > 0 && !(left >= 2 && src[0] == 0x1f && src[1] == 0x8b)) {
            rc = OTUS_ERR_PARSE;
            goto out;
        }
    }
    if (members == 0)
        rc = OTUS_ERR_PARSE;
out:
    if (rc)
        out->len = start;
    return rc;
}

int otus_gzip_compress(const void *in, size_t n, int level, struct otus_buf *out)
{
    struct otus_deflater d;
    int rc = otus_deflater_init(&d, level);
    if (rc)
        return rc;
    rc = otus_deflater_gzip(&d, in, n, out);
    otus_deflater_destroy(&d);
    return rc;
}

int otus_gzip_decompress(const void *in, size_t n, size_t max_out, struct otus_buf *out)
{
    struct otus_inflater f;
    int rc = otus_inflater_init(&f);
    if (rc)
        return rc;
    rc = otus_inflater_gunzip(&f, in, n, max_out, out);
    otus_inflater_destroy(&f);
    return rc;
}
