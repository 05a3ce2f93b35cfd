/*
 * cells.c: where metric values live.
 *
 * Every series owns a fixed offset in "cell space", and every thread that records
 * owns a region of that space (its slot): the value a thread adds to a series is at
 * region[slot] + series offset. A thread's cells are written only by that thread, with
 * plain loads and stores (no lock prefix), and no two threads ever share a cache line,
 * so a bound counter add costs a few instructions and scales flat with threads. The
 * background thread sums a series over all regions.
 *
 * Regions are reserved virtual memory (MAP_NORESERVE): a page is backed only once a
 * thread touches a cell in it, and untouched cells read as zero. Region 0 is shared
 * by threads beyond the exclusive slots and by records nested in a signal handler;
 * its cells are only updated with atomic read-modify-write. A slot is returned when
 * its thread exits and its values stay: the next owner keeps adding to them, so
 * cumulative totals never lose a thread's contribution.
 */
#include "internal.h"

#include <sys/mman.h>

struct otus__cellspace otus__cells;

static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static int slot_key_ok;

static void slot_release(void *arg)
{
    uintptr_t slot = (uintptr_t)arg;
    if (slot == 0 || slot >= OTUS__SLOTS)
        return;
    /* The release orders this thread's last cell writes before the next owner's. */
    atomic_fetch_and_explicit(&otus__cells.used[slot / 64], ~(1ull << (slot % 64)),
                              memory_order_release);
    struct otus__tls *t = &otus__tls;
    t->excl = NULL;
    t->region = NULL;
    t->slot = 0;
}

static void make_key(void)
{
    slot_key_ok = pthread_key_create(&slot_key, slot_release) == 0;
}

static unsigned char *map_region(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int otus__cells_init(void)
{
    pthread_once(&slot_key_once, make_key);
    if (atomic_load(&otus__cells.region[0]))
        return 0;
    size_t size = OTUS__REGION_SIZE;
    unsigned char *r = map_region(size);
    if (!r) {
        /* Strict overcommit: try a smaller reservation. */
        size = (size_t)8 << 20;
        r = map_region(size);
        if (!r)
            return OTUS_ERR_NOMEM;
    }
    otus__cells.region_size = size;
    size_t zero = 0; /* the start of every region is its owner's lookup cache */
    atomic_compare_exchange_strong(&otus__cells.next_off, &zero, OTUS__REGION_CACHE);
    unsigned char *expected = NULL;
    if (!atomic_compare_exchange_strong(&otus__cells.region[0], &expected, r))
        munmap(r, size);
    atomic_fetch_or(&otus__cells.ever[0], 1ull);
    atomic_fetch_or(&otus__cells.used[0], 1ull); /* slot 0 is the shared region */
    return 0;
}

size_t otus__cells_alloc(size_t size)
{
    size_t align = size >= 64 ? 64 : 8;
    size = (size + align - 1) & ~(align - 1);
    size_t off = atomic_load_explicit(&otus__cells.next_off, memory_order_relaxed);
    for (;;) {
        size_t start = (off + align - 1) & ~(align - 1);
        size_t end = start + size;
        if (end > otus__cells.region_size)
            return SIZE_MAX;
        if (atomic_compare_exchange_weak_explicit(&otus__cells.next_off, &off, end,
                                                  memory_order_relaxed, memory_order_relaxed))
            return start;
    }
}

void otus__cells_acquire(struct otus__tls *t)
{
    if (t->slot) {
        /* Already assigned: shared slot, or busy (a nested record). */
        return;
    }
    unsigned char *shared = atomic_load_explicit(&otus__cells.region[0], memory_order_acquire);
    if (!shared)
        return;
    for (unsigned w = 0; w < OTUS__SLOTS / 64; w++) {
        uint64_t used = atomic_load_explicit(&otus__cells.used[w], memory_order_relaxed);
        while (~used) {
            unsigned bit = (unsigned)__builtin_ctzll(~used);
            unsigned slot = w * 64 + bit;
            if (!atomic_compare_exchange_weak_explicit(&otus__cells.used[w], &used,
                                                       used | (1ull << bit), memory_order_acquire,
                                                       memory_order_relaxed))
                continue;
            unsigned char *r =
                atomic_load_explicit(&otus__cells.region[slot], memory_order_acquire);
            if (!r) {
                r = map_region(otus__cells.region_size);
                if (!r) {
                    atomic_fetch_and_explicit(&otus__cells.used[w], ~(1ull << bit),
                                              memory_order_release);
                    goto shared_slot;
                }
                atomic_store_explicit(&otus__cells.region[slot], r, memory_order_release);
            }
            atomic_fetch_or_explicit(&otus__cells.ever[w], 1ull << bit, memory_order_release);
            if (slot_key_ok)
                pthread_setspecific(slot_key, (void *)(uintptr_t)slot);
            t->slot = slot;
            t->region = r;
            t->excl = r;
            return;
        }
    }
shared_slot:
    t->slot = OTUS__SLOT_SHARED_MARK;
    t->region = shared;
    t->excl = NULL;
}

void otus__cells_after_fork(void)
{
    struct otus__tls *t = &otus__tls;
    uint64_t keep[OTUS__SLOTS / 64] = {1}; /* slot 0 stays reserved */
    if (t->slot && t->slot < OTUS__SLOTS)
        keep[t->slot / 64] = 1ull << (t->slot % 64);
    size_t used = atomic_load(&otus__cells.next_off);
    size_t page = 4096;
    size_t len = (used + page - 1) & ~(page - 1);
    for (unsigned i = 0; i < OTUS__SLOTS; i++) {
        unsigned char *r = atomic_load(&otus__cells.region[i]);
        /* A fresh start: the parent's values are the parent's. Dropping the pages of
         * a private anonymous mapping makes them read as zero again. */
        if (r && len && madvise(r, len, MADV_DONTNEED) != 0)
            memset(r, 0, used);
    }
    for (unsigned w = 0; w < OTUS__SLOTS / 64; w++)
        atomic_store(&otus__cells.used[w], keep[w]);
    if (t->excl == NULL && t->slot && t->slot < OTUS__SLOTS)
        t->excl = t->region; /* the fork happened outside any record */
}
