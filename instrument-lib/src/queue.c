/*
 * queue.c: the bounded multi-producer, single-consumer queue of ended spans.
 *
 * Dmitry Vyukov's bounded queue: each cell carries a sequence number that tells a
 * producer whether the cell is free for its position and the consumer whether it has
 * been filled. A producer claims a position with one compare-and-swap and publishes
 * with one release store; when the queue is full it fails at once (the caller drops
 * and counts). Every wake_every pushes, the producer that lands on the mark asks for
 * the background thread to be woken, so a burst is drained before the queue fills
 * without any producer making a system call for the others.
 */
#include "internal.h"

#include <stdlib.h>

int otus__queue_init(struct otus__queue *q, uint32_t min_capacity)
{
    uint64_t cap = 2;
    while (cap < min_capacity)
        cap <<= 1;
    q->cells = calloc(cap, sizeof(*q->cells));
    if (!q->cells)
        return OTUS_ERR_NOMEM;
    for (uint64_t i = 0; i < cap; i++)
        atomic_store_explicit(&q->cells[i].seq, i, memory_order_relaxed);
    q->mask = cap - 1;
    q->wake_every = cap >= 8 ? cap / 4 : 1;
    atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&q->head, 0, memory_order_relaxed);
    return 0;
}

void otus__queue_free(struct otus__queue *q)
{
    if (!q)
        return;
    free(q->cells);
    q->cells = NULL;
}

int otus__queue_push(struct otus__queue *q, void *item, int *wake)
{
    uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct otus__qcell *c;
    for (;;) {
        c = &q->cells[pos & q->mask];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return OTUS_ERR_FULL;
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    c->item = item;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    *wake = ((pos + 1) & (q->wake_every - 1)) == 0;
    return 0;
}

void *otus__queue_pop(struct otus__queue *q)
{
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    struct otus__qcell *c = &q->cells[pos & q->mask];
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (seq != pos + 1)
        return NULL;
    void *item = c->item;
    atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
    atomic_store_explicit(&q->head, pos + 1, memory_order_relaxed);
    return item;
}

uint64_t otus__queue_depth(struct otus__queue *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    return t > h ? t - h : 0;
}
