/*
 * arena.h: a bump allocator for memory that lives exactly as long as one request or
 * one batch. Decoding an OTLP request allocates hundreds of small objects; taking
 * them from an arena makes each allocation a few instructions and frees them all at
 * once. An arena has a hard maximum, so a hostile request cannot take the process's
 * memory. otus_arena_protobuf() makes it usable as a protobuf-c allocator.
 */
#ifndef OTUS_COMMON_ARENA_H
#define OTUS_COMMON_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct otus_arena_chunk {
    struct otus_arena_chunk *next; /* older chunks */
    size_t size;                   /* usable bytes in data[] */
    size_t used;                   /* bytes handed out */
    _Alignas(16) char data[];
};

struct otus_arena {
    struct otus_arena_chunk *head; /* the chunk allocations come from; owned */
    size_t chunk_size;             /* size of a regular new chunk */
    size_t max;                    /* limit on the bytes of all chunks together */
    size_t total;                  /* bytes of all chunks together */
    int exhausted;                 /* an allocation was refused for the maximum */
    ProtobufCAllocator pb;         /* protobuf-c view of this arena */
};

#define OTUS_ARENA_ALIGN 8 /* enough for every scalar type but long double */

/*
 * Initialises an arena whose chunks are chunk_size bytes (0: 16 KiB) and whose total
 * never exceeds max bytes (0: no limit). Nothing is allocated until the first use.
 */
void otus_arena_init(struct otus_arena *a, size_t chunk_size, size_t max);

/* Frees every chunk. Accepts NULL and a zeroed arena. */
void otus_arena_destroy(struct otus_arena *a);

/* Forgets every allocation but keeps the newest chunk for reuse. */
void otus_arena_reset(struct otus_arena *a);

void *otus_arena_alloc_slow(struct otus_arena *a, size_t size);

/*
 * Returns size bytes aligned to OTUS_ARENA_ALIGN, valid until reset or destroy, or
 * NULL when the arena's maximum or the system's memory is exhausted.
 */
static inline void *otus_arena_alloc(struct otus_arena *a, size_t size)
{
    size = (size + OTUS_ARENA_ALIGN - 1) & ~(size_t)(OTUS_ARENA_ALIGN - 1);
    struct otus_arena_chunk *c = a->head;
    if (c && c->size - c->used >= size) {
        void *p = c->data + c->used;
        c->used += size;
        return p;
    }
    return otus_arena_alloc_slow(a, size);
}

/* Copies n bytes into the arena; NULL on exhaustion. */
void *otus_arena_memdup(struct otus_arena *a, const void *p, size_t n);

/* Copies n bytes and a terminating NUL into the arena; NULL on exhaustion. */
char *otus_arena_strndup(struct otus_arena *a, const char *s, size_t n);

/* Bytes the arena holds from the system (chunk sizes, not bytes handed out). */
static inline size_t otus_arena_footprint(const struct otus_arena *a)
{
    return a->total;
}

/* The arena as a protobuf-c allocator (free is a no-op); borrowed, lives with a. */
static inline ProtobufCAllocator *otus_arena_protobuf(struct otus_arena *a)
{
    return &a->pb;
}

#endif
