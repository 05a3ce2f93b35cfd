/*
 * ring.c: the bounded multi-producer, single-consumer byte ring of log records.
 *
 * Records are variable-sized, so a log call copies its message and fields exactly
 * once, straight into the ring. A producer reserves space by advancing the head with
 * a compare-and-swap (never past the consumer's tail: a full ring fails at once and
 * the caller drops and counts), writes the record, and commits by storing the
 * record's own ring position (plus one, so zeroed memory never matches) into its
 * header. The consumer reads in order and only
 * records whose header holds the expected position, so stale bytes from an earlier
 * lap can never pass for a committed record. A record never wraps: when it does not
 * fit before the end of the buffer, the reservation also covers a padding record
 * there.
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

int otus__ring_init(struct otus__ring *r, uint64_t min_capacity)
{
    uint64_t cap = 4096;
    while (cap < min_capacity)
        cap <<= 1;
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return OTUS_ERR_NOMEM;
    r->buf = p;
    r->cap = cap;
    r->wake_bytes = cap / 4;
    atomic_store_explicit(&r->head, 0, memory_order_relaxed);
    atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
    return 0;
}

void otus__ring_free(struct otus__ring *r)
{
    if (!r || !r->buf)
        return;
    munmap(r->buf, r->cap);
    r->buf = NULL;
}

void otus__ring_pad(struct otus__ring *r, uint64_t at, uint64_t pad)
{
    struct otus__ring_hdr *ph = (struct otus__ring_hdr *)(r->buf + (at & (r->cap - 1)));
    ph->len = (uint32_t)pad;
    ph->kind = 0;
    atomic_store_explicit(&ph->commit, at + 1, memory_order_release);
}

const struct otus__ring_hdr *otus__ring_peek(struct otus__ring *r)
{
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (tail == atomic_load_explicit(&r->head, memory_order_acquire))
            return NULL;
        struct otus__ring_hdr *h = (struct otus__ring_hdr *)(r->buf + (tail & (r->cap - 1)));
        if (atomic_load_explicit(&h->commit, memory_order_acquire) != tail + 1)
            return NULL; /* reserved, not yet written */
        if (h->kind == 0) {
            atomic_store_explicit(&r->tail, tail + h->len, memory_order_release);
            continue;
        }
        return h;
    }
}

void otus__ring_release(struct otus__ring *r, const struct otus__ring_hdr *h)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + h->len, memory_order_release);
}
