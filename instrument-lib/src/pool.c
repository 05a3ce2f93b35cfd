/*
 * pool.c: the fixed-size blocks span records are built in.
 *
 * A pool is one mmap'ed array of 512-byte blocks. Blocks never handed out are taken
 * with an atomic bump, so the memory a pool really uses follows its high-water mark;
 * freed blocks go on a lock-free stack whose head carries an ABA tag next to the
 * block index, so one 64-bit compare-and-swap pushes or pops. Nothing locks, so span
 * start and end stay async-signal-safe. The free link of a block is only ever read and
 * written atomically, apart from the data a record keeps in the block.
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

struct otus__pool *otus__pool_create(uint32_t nblk)
{
    struct otus__pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    size_t bytes = (size_t)nblk * OTUS__BLK_SIZE;
    void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        free(p);
        return NULL;
    }
    p->base = base;
    p->nblk = nblk;
    return p;
}

static inline struct otus__blk *blk_at(struct otus__pool *p, uint32_t i)
{
    return (struct otus__blk *)(p->base + (size_t)i * OTUS__BLK_SIZE);
}

static inline uint32_t blk_index(struct otus__pool *p, struct otus__blk *b)
{
    return (uint32_t)(((unsigned char *)b - p->base) / OTUS__BLK_SIZE);
}

struct otus__blk *otus__pool_get(struct otus__pool *p)
{
    uint64_t head = atomic_load_explicit(&p->head, memory_order_acquire);
    while ((uint32_t)head) {
        struct otus__blk *b = blk_at(p, (uint32_t)head - 1);
        uint32_t next = atomic_load_explicit(&b->free_next, memory_order_relaxed);
        uint64_t nh = ((head >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&p->head, &head, nh, memory_order_acquire,
                                                  memory_order_acquire)) {
            b->next = NULL;
            b->len = 0;
            return b;
        }
    }
    uint32_t i = atomic_load_explicit(&p->bump, memory_order_relaxed);
    while (i < p->nblk) {
        if (atomic_compare_exchange_weak_explicit(&p->bump, &i, i + 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            struct otus__blk *b = blk_at(p, i);
            atomic_store_explicit(&b->free_next, 0, memory_order_relaxed);
            b->next = NULL;
            b->len = 0;
            return b;
        }
    }
    return NULL;
}

void otus__pool_put_chain(struct otus__pool *p, struct otus__blk *first)
{
    if (!first)
        return;
    /* Link the chain through the free links, then publish it with one CAS. */
    struct otus__blk *last = first;
    while (last->next) {
        atomic_store_explicit(&last->free_next, blk_index(p, last->next) + 1, memory_order_relaxed);
        last = last->next;
    }
    uint64_t head = atomic_load_explicit(&p->head, memory_order_relaxed);
    uint64_t nh;
    do {
        atomic_store_explicit(&last->free_next, (uint32_t)head, memory_order_relaxed);
        nh = ((head >> 32) + 1) << 32 | (blk_index(p, first) + 1);
    } while (!atomic_compare_exchange_weak_explicit(&p->head, &head, nh, memory_order_release,
                                                    memory_order_relaxed));
}
