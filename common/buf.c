/*
 * buf.c: growth and formatting for struct otus_buf (see buf.h).
 */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>

#include <otus.h>

void otus_buf_init(struct otus_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX;
}

void otus_buf_free(struct otus_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int otus_buf_reserve_slow(struct otus_buf *b, size_t extra)
{
    if (extra > b->max - b->len)
        return OTUS_ERR_TOO_BIG;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap);
    if (!p)
        return OTUS_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int otus_buf_vprintf(struct otus_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OTUS_ERR_INVALID;
    if ((size_t)n < room) {
        b->len += (size_t)n;
        return 0;
    }
    int rc = otus_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int otus_buf_printf(struct otus_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = otus_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *otus_buf_steal(struct otus_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
