/*
 * arena.c: chunk management for the bump allocator in arena.h.
 *
 * Allocations come from the head chunk. A request that does not fit gets a new
 * chunk; one larger than a quarter of the regular chunk size gets a chunk of its own,
 * linked behind the head, so the head's free space is not wasted on it.
 */
#include "common/arena.h"

#include <stdlib.h>
#include <string.h>

static void *pb_alloc(void *data, size_t size)
{
    return otus_arena_alloc(data, size);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* freed with the arena */
}

void otus_arena_init(struct otus_arena *a, size_t chunk_size, size_t max)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 16 * 1024;
    a->max = max ? max : SIZE_MAX;
    a->total = 0;
    a->exhausted = 0;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
}

void otus_arena_destroy(struct otus_arena *a)
{
    if (!a)
        return;
    struct otus_arena_chunk *c = a->head;
    while (c) {
        struct otus_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void otus_arena_reset(struct otus_arena *a)
{
    struct otus_arena_chunk *keep = a->head;
    if (!keep)
        return;
    struct otus_arena_chunk *c = keep->next;
    while (c) {
        struct otus_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    keep->next = NULL;
    keep->used = 0;
    a->total = keep->size;
}

static struct otus_arena_chunk *chunk_new(struct otus_arena *a, size_t size)
{
    if (size > a->max || a->total > a->max - size) {
        a->exhausted = 1;
        return NULL;
    }
    struct otus_arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    a->total += size;
    return c;
}

void *otus_arena_alloc_slow(struct otus_arena *a, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct otus_arena_chunk))
        return NULL;
    if (size > a->chunk_size / 4 && a->head) {
        /* A big allocation gets its own chunk behind the head. */
        struct otus_arena_chunk *c = chunk_new(a, size);
        if (!c)
            return NULL;
        c->used = size;
        c->next = a->head->next;
        a->head->next = c;
        return c->data;
    }
    size_t csize = size > a->chunk_size ? size : a->chunk_size;
    struct otus_arena_chunk *c = chunk_new(a, csize);
    if (!c)
        return NULL;
    c->next = a->head;
    a->head = c;
    c->used = size;
    return c->data;
}

void *otus_arena_memdup(struct otus_arena *a, const void *p, size_t n)
{
    void *q = otus_arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *otus_arena_strndup(struct otus_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *q = otus_arena_alloc(a, n + 1);
    if (!q)
        return NULL;
    memcpy(q, s, n);
    q[n] = '\0';
    return q;
}
