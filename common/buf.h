/*
 * buf.h: a growable byte buffer with a hard maximum, the one place Otus grows
 * memory for output (JSON documents, protobuf bodies, HTTP responses). Growing past
 * the maximum fails with OTUS_ERR_TOO_BIG instead of allocating without bound.
 */
#ifndef OTUS_COMMON_BUF_H
#define OTUS_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct otus_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len; 0 means SIZE_MAX */
};

/* Initialises an empty buffer that will never hold more than max bytes (0: no limit). */
void otus_buf_init(struct otus_buf *b, size_t max);

/* Frees the memory; the buffer is empty and reusable afterwards. Accepts NULL. */
void otus_buf_free(struct otus_buf *b);

/* Makes room for extra more bytes. 0, OTUS_ERR_TOO_BIG or OTUS_ERR_NOMEM. */
int otus_buf_reserve_slow(struct otus_buf *b, size_t extra);

static inline int otus_buf_reserve(struct otus_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    return otus_buf_reserve_slow(b, extra);
}

static inline int otus_buf_append(struct otus_buf *b, const void *p, size_t n)
{
    int rc = otus_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int otus_buf_append_str(struct otus_buf *b, const char *s)
{
    return otus_buf_append(b, s, strlen(s));
}

static inline int otus_buf_append_byte(struct otus_buf *b, char c)
{
    int rc = otus_buf_reserve(b, 1);
    if (rc)
        return rc;
    b->data[b->len++] = c;
    return 0;
}

/* Appends printf-formatted text. 0 or a negative otus_status. */
int otus_buf_printf(struct otus_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int otus_buf_vprintf(struct otus_buf *b, const char *fmt, va_list ap);

/* Empties the buffer but keeps its memory for reuse. */
static inline void otus_buf_reset(struct otus_buf *b)
{
    b->len = 0;
}

/* Hands the memory to the caller (who frees it with free()) and empties the buffer. */
char *otus_buf_steal(struct otus_buf *b, size_t *len);

#endif
