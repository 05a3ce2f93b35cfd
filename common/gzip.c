/*
 * gzip.c: zlib wrappers behind gzip.h.
 */
#include "common/gzip.h"

#include <limits.h>
#include <libdeflate.h>
#include <string.h>

#include <otus.h>

int otus_deflater_init(struct otus_deflater *d, int level)
{
    memset(d, 0, sizeof(*d));
    if (level == Z_DEFAULT_COMPRESSION)
        level = 6;
    if (level < 0 || level > 12)
        return OTUS_ERR_INVALID;
    d->level = level;
    d->c = libdeflate_alloc_compressor(level);
    return d->c ? 0 : OTUS_ERR_NOMEM;
}

void otus_deflater_destroy(struct otus_deflater *d)
{
    if (d && d->c) {
        libdeflate_free_compressor(d->c);
        d->c = NULL;
    }
}

int otus_deflater_gzip(struct otus_deflater *d, const void *in, size_t n, struct otus_buf *out)
{
    if (!d->c)
        return OTUS_ERR_STATE;
    size_t bound = libdeflate_gzip_compress_bound(d->c, n);
    int rc = otus_buf_reserve(out, bound);
    if (rc)
        return rc;
    size_t got = libdeflate_gzip_compress(d->c, in, n, out->data + out->len, bound);
    if (!got)
        return OTUS_ERR_STATE; /* cannot happen with a buffer of the bound's size */
    out->len += got;
    return 0;
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
