/*
 * metrics.c: instruments, their series, and the metric record paths.
 *
 * An instrument maps attribute sets to series through an open-addressing table of
 * series pointers, filled with compare-and-swap, so looking up or adding a set takes
 * no lock. The hash of an attribute set is the sum of per-attribute hashes, so the
 * order in which a caller lists attributes does not matter; stored sets are sorted by
 * key with duplicate keys resolved to the last value. Series and their attribute
 * copies come from a per-instrument arena of mmap'ed chunks with an atomic bump
 * pointer, so creating a series on a record path neither locks nor calls malloc.
 *
 * A record touches only the calling thread's cell (see cells.c). The thread marks
 * itself busy for the few instructions of an update by clearing otus__tls.excl: a
 * signal handler that records meanwhile finds it clear and updates the shared cell
 * with atomic operations instead, so no update is ever lost to nesting.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct otus__registry otus__reg = {.lock = PTHREAD_MUTEX_INITIALIZER};
_Atomic uint32_t otus__metric_epoch;
int otus__exemplar_mode; /* OTUS__EXEMPLAR_* */
static struct otus_series *stat_series[OTUS__NSTATS];

static const double default_bounds[] = {0,   5,   10,   25,   50,   75,   100,  250,
                                        500, 750, 1000, 2500, 5000, 7500, 10000};

/* ---- arena ------------------------------------------------------------------------ */

struct otus__arena_chunk {
    struct otus__arena_chunk *prev;
    size_t size;
    _Atomic size_t used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)64 << 10)

static void *arena_alloc(struct otus_metric *m, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    for (;;) {
        struct otus__arena_chunk *c = atomic_load_explicit(&m->arena, memory_order_acquire);
        if (c) {
            size_t u = atomic_fetch_add_explicit(&c->used, n, memory_order_relaxed);
            if (u + n <= c->size)
                return c->data + u;
        }
        size_t bytes = sizeof(struct otus__arena_chunk) + (n > ARENA_CHUNK ? n : ARENA_CHUNK);
        struct otus__arena_chunk *nc =
            mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (nc == MAP_FAILED)
            return NULL;
        nc->prev = c;
        nc->size = bytes - sizeof(struct otus__arena_chunk);
        atomic_store_explicit(&nc->used, n, memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&m->arena, &c, nc, memory_order_acq_rel,
                                                    memory_order_acquire))
            return nc->data;
        munmap(nc, bytes); /* another thread added a chunk first */
    }
}

/* ---- hashing and comparing attribute sets ----------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

#define H_P0 0xa0761d6478bd642full
#define H_P1 0xe7037ed1a0b428dbull

static uint64_t value_hash(const struct otus_attr *a, int depth);

static uint64_t list_hash(const struct otus_attr *l, size_t n, int kv, int depth)
{
    uint64_t h = 0x51ed27a1u;
    for (size_t i = 0; i < n; i++) {
        uint64_t e = value_hash(&l[i], depth + 1);
        if (kv)
            e ^= otus__hash_bytes(l[i].key ? l[i].key : "", l[i].key ? strlen(l[i].key) : 0, 7);
        h = mix64(h + e);
    }
    return h;
}

static uint64_t value_hash(const struct otus_attr *a, int depth)
{
    uint64_t t = (uint64_t)a->type << 56;
    if (depth > OTUS__ATTR_MAX_DEPTH)
        return t;
    switch (a->type) {
    case OTUS_TYPE_STRING:
        return otus__hash_bytes(a->v.s ? a->v.s : "", otus__attr_strlen(a), t);
    case OTUS_TYPE_BOOL:
        return mix64(t | (uint64_t)(a->v.b != 0));
    case OTUS_TYPE_INT:
    case OTUS_TYPE_DOUBLE: {
        uint64_t b;
        memcpy(&b, &a->v.i, 8);
        return otus__mum(t ^ b ^ H_P0, H_P1);
    }
    case OTUS_TYPE_BYTES:
        return otus__hash_bytes(a->v.bytes ? a->v.bytes : "", a->v.bytes ? a->len : 0, t);
    case OTUS_TYPE_STRING_ARRAY: {
        uint64_t h = t;
        for (uint32_t i = 0; a->v.strings && i < a->len; i++) {
            const char *s = a->v.strings[i] ? a->v.strings[i] : "";
            h = mix64(h + otus__hash_bytes(s, strlen(s), i));
        }
        return h;
    }
    case OTUS_TYPE_BOOL_ARRAY: {
        uint64_t h = t;
        for (uint32_t i = 0; a->v.bools && i < a->len; i++)
            h = mix64(h + (uint64_t)(a->v.bools[i] != 0) + 1);
        return h;
    }
    case OTUS_TYPE_INT_ARRAY:
        return otus__hash_bytes(a->v.ints ? (const void *)a->v.ints : "",
                                a->v.ints ? a->len * 8u : 0, t);
    case OTUS_TYPE_DOUBLE_ARRAY:
        return otus__hash_bytes(a->v.doubles ? (const void *)a->v.doubles : "",
                                a->v.doubles ? a->len * 8u : 0, t);
    case OTUS_TYPE_ARRAY:
        return t ^ (a->v.list ? list_hash(a->v.list, a->len, 0, depth) : 0);
    case OTUS_TYPE_KVLIST:
        return t ^ (a->v.list ? list_hash(a->v.list, a->len, 1, depth) : 0);
    default:
        return t;
    }
}

/* The hash of one attribute (key and value), with the key's length. */
static inline uint64_t attr_hash(const struct otus_attr *a, uint32_t *klen)
{
    const char *k = a->key ? a->key : "";
    size_t kl = strlen(k);
    *klen = (uint32_t)kl;
    return otus__mum(otus__hash_bytes(k, kl, 0x243f6a8885a308d3ull) ^ H_P1,
                     value_hash(a, 0) ^ H_P0);
}

static int value_equal(const struct otus_attr *x, const struct otus_attr *y, int depth);

static int list_equal(const struct otus_attr *x, const struct otus_attr *y, size_t n, int kv,
                      int depth)
{
    for (size_t i = 0; i < n; i++) {
        if (kv && strcmp(x[i].key ? x[i].key : "", y[i].key ? y[i].key : "") != 0)
            return 0;
        if (!value_equal(&x[i], &y[i], depth + 1))
            return 0;
    }
    return 1;
}

static int value_equal(const struct otus_attr *x, const struct otus_attr *y, int depth)
{
    if (x->type != y->type)
        return 0;
    if (depth > OTUS__ATTR_MAX_DEPTH)
        return 1;
    switch (x->type) {
    case OTUS_TYPE_STRING: {
        size_t a = otus__attr_strlen(x), b = otus__attr_strlen(y);
        return a == b && (a == 0 || memcmp(x->v.s, y->v.s, a) == 0);
    }
    case OTUS_TYPE_BOOL:
        return (x->v.b != 0) == (y->v.b != 0);
    case OTUS_TYPE_INT:
    case OTUS_TYPE_DOUBLE:
        return memcmp(&x->v.i, &y->v.i, 8) == 0;
    case OTUS_TYPE_BYTES: {
        size_t a = x->v.bytes ? x->len : 0, b = y->v.bytes ? y->len : 0;
        return a == b && (a == 0 || memcmp(x->v.bytes, y->v.bytes, a) == 0);
    }
    case OTUS_TYPE_STRING_ARRAY:
        if ((x->v.strings ? x->len : 0) != (y->v.strings ? y->len : 0))
            return 0;
        for (uint32_t i = 0; x->v.strings && i < x->len; i++)
            if (strcmp(x->v.strings[i] ? x->v.strings[i] : "",
                       y->v.strings[i] ? y->v.strings[i] : ""))
                return 0;
        return 1;
    case OTUS_TYPE_BOOL_ARRAY:
        if ((x->v.bools ? x->len : 0) != (y->v.bools ? y->len : 0))
            return 0;
        for (uint32_t i = 0; x->v.bools && i < x->len; i++)
            if ((x->v.bools[i] != 0) != (y->v.bools[i] != 0))
                return 0;
        return 1;
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY: {
        size_t a = x->v.ints ? x->len : 0, b = y->v.ints ? y->len : 0;
        return a == b && (a == 0 || memcmp(x->v.ints, y->v.ints, a * 8) == 0);
    }
    case OTUS_TYPE_ARRAY:
    case OTUS_TYPE_KVLIST: {
        size_t a = x->v.list ? x->len : 0, b = y->v.list ? y->len : 0;
        return a == b &&
               (a == 0 || list_equal(x->v.list, y->v.list, a, x->type == OTUS_TYPE_KVLIST, depth));
    }
    default:
        return 1;
    }
}

#define MAX_SET 64 /* attributes per metric series; more are ignored */

/* The caller's attributes, hashed once per record. */
struct probe {
    uint64_t hash;
    uint64_t ah[MAX_SET];
    uint32_t klen[MAX_SET];
    size_t n;
};

static inline void probe_init(struct probe *p, const struct otus_attr *a, size_t n)
{
    p->n = n;
    p->hash = 0x13198a2e03707344ull + n;
    for (size_t i = 0; i < n; i++) {
        p->ah[i] = attr_hash(&a[i], &p->klen[i]);
        p->hash += p->ah[i];
    }
}

/* Whether the caller's attrs equal a stored set: each attribute must pair with a
 * different stored one of the same hash, key and value (a bijection, so duplicate
 * keys in the input never match a set that lacks one of its members). */
static int set_equal(const struct otus__attrset *st, const struct otus_attr *a,
                     const struct probe *p)
{
    if (st->n != p->n)
        return 0;
    uint64_t used[MAX_SET / 64] = {0};
    for (size_t i = 0; i < p->n; i++) {
        size_t j = i;
        for (size_t k = 0;; k++) {
            if (k == p->n)
                return 0;
            j = (i + k) % p->n;
            if (st->ah[j] != p->ah[i] || (used[j / 64] >> (j % 64)) & 1)
                continue;
            const char *key = a[i].key ? a[i].key : "";
            if (st->klen[j] == p->klen[i] && memcmp(st->a[j].key, key, p->klen[i]) == 0 &&
                value_equal(&st->a[j], &a[i], 0))
                break;
        }
        used[j / 64] |= 1ull << (j % 64);
    }
    return 1;
}

/* ---- copying attribute sets into an instrument's arena ----------------------------- */

static char *arena_strndup(struct otus_metric *m, const char *s, size_t n)
{
    char *p = arena_alloc(m, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int copy_value(struct otus_metric *m, struct otus_attr *dst, const struct otus_attr *src,
                      int depth)
{
    *dst = *src;
    dst->key = NULL;
    if (depth > OTUS__ATTR_MAX_DEPTH) {
        dst->type = OTUS_TYPE_STRING;
        dst->len = 0;
        dst->v.s = "";
        return 0;
    }
    switch (src->type) {
    case OTUS_TYPE_STRING: {
        size_t n = otus__attr_strlen(src);
        dst->v.s = arena_strndup(m, src->v.s ? src->v.s : "", n);
        dst->len = (uint32_t)n;
        return dst->v.s ? 0 : OTUS_ERR_NOMEM;
    }
    case OTUS_TYPE_BYTES: {
        size_t n = src->v.bytes ? src->len : 0;
        void *p = arena_alloc(m, n ? n : 1);
        if (!p)
            return OTUS_ERR_NOMEM;
        if (n)
            memcpy(p, src->v.bytes, n);
        dst->v.bytes = p;
        dst->len = (uint32_t)n;
        return 0;
    }
    case OTUS_TYPE_STRING_ARRAY: {
        size_t n = src->v.strings ? src->len : 0;
        const char **arr = arena_alloc(m, (n ? n : 1) * sizeof(char *));
        if (!arr)
            return OTUS_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            const char *s = src->v.strings[i] ? src->v.strings[i] : "";
            arr[i] = arena_strndup(m, s, strlen(s));
            if (!arr[i])
                return OTUS_ERR_NOMEM;
        }
        dst->v.strings = arr;
        dst->len = (uint32_t)n;
        return 0;
    }
    case OTUS_TYPE_BOOL_ARRAY:
    case OTUS_TYPE_INT_ARRAY:
    case OTUS_TYPE_DOUBLE_ARRAY: {
        size_t el = src->type == OTUS_TYPE_BOOL_ARRAY ? sizeof(int) : 8;
        size_t n = src->v.bytes ? src->len : 0;
        void *p = arena_alloc(m, n ? n * el : 1);
        if (!p)
            return OTUS_ERR_NOMEM;
        if (n)
            memcpy(p, src->v.bytes, n * el);
        dst->v.bytes = p;
        dst->len = (uint32_t)n;
        return 0;
    }
    case OTUS_TYPE_ARRAY:
    case OTUS_TYPE_KVLIST: {
        size_t n = src->v.list ? src->len : 0;
        struct otus_attr *l = arena_alloc(m, (n ? n : 1) * sizeof(*l));
        if (!l)
            return OTUS_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            int rc = copy_value(m, &l[i], &src->v.list[i], depth + 1);
            if (rc)
                return rc;
            const char *k = src->v.list[i].key ? src->v.list[i].key : "";
            l[i].key = src->type == OTUS_TYPE_KVLIST ? arena_strndup(m, k, strlen(k)) : "";
            if (!l[i].key)
                return OTUS_ERR_NOMEM;
        }
        dst->v.list = l;
        dst->len = (uint32_t)n;
        return 0;
    }
    default:
        return 0;
    }
}

/* Sorts by key and resolves duplicate keys to the last occurrence; out holds
 * shallow copies pointing at the caller's data. Returns the count. */
static size_t normalise(const struct otus_attr *a, size_t n, struct otus_attr *out)
{
    size_t k = 0;
    if (n > MAX_SET)
        n = MAX_SET;
    for (size_t i = 0; i < n; i++) {
        struct otus_attr x = a[i];
        if (!x.key)
            x.key = "";
        size_t j = 0;
        for (; j < k; j++)
            if (strcmp(out[j].key, x.key) == 0)
                break;
        if (j < k) {
            out[j] = x; /* a later duplicate wins */
            continue;
        }
        /* Insertion into sorted position. */
        j = k;
        while (j > 0 && strcmp(out[j - 1].key, x.key) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
        k++;
    }
    return k;
}

/* ---- series ----------------------------------------------------------------------- */

static uint8_t op_of(const struct otus_metric *m)
{
    switch (m->kind) {
    case OTUS_COUNTER:
    case OTUS_UPDOWN_COUNTER:
        return m->value_type == OTUS_VALUE_DOUBLE ? OTUS__OP_ADD_D : OTUS__OP_ADD_I;
    case OTUS_GAUGE:
        return m->value_type == OTUS_VALUE_INT ? OTUS__OP_GAUGE_I : OTUS__OP_GAUGE_D;
    case OTUS_HISTOGRAM:
        return OTUS__OP_HIST;
    default:
        return OTUS__OP_EXP;
    }
}

static struct otus_series *series_new(struct otus_metric *m, const struct otus_attr *sorted,
                                      const struct probe *p)
{
    struct otus_series *s = arena_alloc(m, sizeof(*s));
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->metric = m;
    s->op = op_of(m);
    s->mono = m->kind == OTUS_COUNTER;
    s->n_pad = (uint16_t)m->n_pad;
    s->bounds = m->bounds;
    s->max_size = m->max_size;
    s->max_scale = m->max_scale;
    s->off = m->cell_size ? otus__cells_alloc(m->cell_size) : SIZE_MAX;
    s->ex_off = m->ex_size && s->off != SIZE_MAX ? otus__cells_alloc(m->ex_size) : SIZE_MAX;
    if (m->kind == OTUS_GAUGE)
        s->off = 0; /* gauges keep their value in the series itself */
    size_t n = p->n;
    s->attrs.hash = p->hash;
    s->attrs.n = n;
    s->attrs.a = arena_alloc(m, (n ? n : 1) * sizeof(struct otus_attr));
    s->attrs.ah = arena_alloc(m, (n ? n : 1) * sizeof(uint64_t));
    s->attrs.klen = arena_alloc(m, (n ? n : 1) * sizeof(uint32_t));
    if (!s->attrs.a || !s->attrs.ah || !s->attrs.klen)
        return NULL;
    memcpy(s->attrs.ah, p->ah, n * sizeof(uint64_t));
    memcpy(s->attrs.klen, p->klen, n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        if (copy_value(m, &s->attrs.a[i], &sorted[i], 0))
            return NULL;
        s->attrs.a[i].key = arena_strndup(m, sorted[i].key, strlen(sorted[i].key));
        if (!s->attrs.a[i].key)
            return NULL;
    }
    return s;
}

static void list_push(struct otus_metric *m, struct otus_series *s)
{
    struct otus_series *head = atomic_load_explicit(&m->list, memory_order_relaxed);
    do {
        s->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&m->list, &head, s, memory_order_release,
                                                    memory_order_relaxed));
}

static struct otus_series *table_find(struct otus_metric *m, const struct otus_attr *a,
                                      const struct probe *p, size_t *empty)
{
    size_t mask = m->table_mask, i = p->hash & mask;
    for (size_t probe = 0; probe <= mask; probe++) {
        struct otus_series *s = atomic_load_explicit(&m->table[i], memory_order_acquire);
        if (!s) {
            if (empty)
                *empty = i;
            return NULL;
        }
        if (s->attrs.hash == p->hash && set_equal(&s->attrs, a, p))
            return s;
        i = (i + 1) & mask;
    }
    if (empty)
        *empty = SIZE_MAX;
    return NULL;
}

static struct otus_series *overflow(struct otus_metric *m)
{
    otus__stat_add(OTUS__STAT_OVERFLOW, 1);
    return m->overflow;
}

static __attribute__((noinline)) struct otus_series *
lookup_slow(struct otus_metric *m, const struct otus_attr *a, size_t n)
{
    struct otus_attr sorted[MAX_SET];
    struct probe p;
    size_t k = normalise(a, n, sorted);
    probe_init(&p, sorted, k);
    size_t slot;
    struct otus_series *s = table_find(m, sorted, &p, &slot);
    if (s)
        return s;
    if (atomic_fetch_add_explicit(&m->n_series, 1, memory_order_relaxed) >= m->max_series) {
        atomic_fetch_sub_explicit(&m->n_series, 1, memory_order_relaxed);
        return overflow(m);
    }
    struct otus_series *ns = series_new(m, sorted, &p);
    if (!ns) {
        atomic_fetch_sub_explicit(&m->n_series, 1, memory_order_relaxed);
        return overflow(m);
    }
    size_t mask = m->table_mask, i = slot;
    for (size_t probe = 0; i != SIZE_MAX && probe <= mask; probe++) {
        struct otus_series *cur = NULL;
        if (atomic_compare_exchange_strong_explicit(&m->table[i], &cur, ns, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            list_push(m, ns);
            return ns;
        }
        if (cur->attrs.hash == p.hash && set_equal(&cur->attrs, sorted, &p)) {
            /* Another thread added the same set first; ours stays unused in the arena. */
            atomic_fetch_sub_explicit(&m->n_series, 1, memory_order_relaxed);
            return cur;
        }
        i = (i + 1) & mask;
    }
    atomic_fetch_sub_explicit(&m->n_series, 1, memory_order_relaxed);
    return overflow(m);
}

static inline struct otus_series *lookup_hashed(struct otus_metric *m, const struct otus_attr *a,
                                                size_t n)
{
    if (OTUS__LIKELY(n <= 16)) {
        struct probe p;
        probe_init(&p, a, n);
        struct otus_series *s = table_find(m, a, &p, NULL);
        if (OTUS__LIKELY(s != NULL))
            return s;
    }
    return lookup_slow(m, a, n);
}

/*
 * The per-thread lookup cache. Call sites nearly always pass the same key pointers
 * (literals) and often the same value pointers or numbers, so a thread remembers, per
 * fingerprint of those raw words, which series they led to and where each attribute
 * sits in it. A hit is then checked by content against the series' own copies, with
 * bounded compares that never read past a string's end: a buffer reused with other
 * contents fails the check and takes the hashed path, so the cache can only make a
 * lookup faster, never wrong. It lives at the start of the thread's cell region.
 */
struct lc_entry {
    uint64_t fp;
    struct otus_series *s;
    uint32_t perm; /* input attribute i is stored attribute (perm >> 4i) & 15 */
    uint32_t n;
    uint64_t pad_; /* 32 bytes: a power-of-two table */
};
#define LC_ENTRIES (OTUS__REGION_CACHE / sizeof(struct lc_entry))
#define LC_MAX_N   8
_Static_assert((LC_ENTRIES & (LC_ENTRIES - 1)) == 0, "power of two");

static inline uint64_t fingerprint(const struct otus_metric *m, const struct otus_attr *a, size_t n)
{
    uint64_t h = (uintptr_t)m ^ (n * H_P0);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (a[i].type == OTUS_TYPE_BOOL)
            v = a[i].v.b != 0;
        else
            memcpy(&v, &a[i].v, 8); /* a pointer, or an integer's or double's bits */
        h = otus__mum(h ^ (uintptr_t)a[i].key ^ ((uint64_t)a[i].type << 32 | a[i].len), v ^ H_P1);
    }
    return h;
}

/* s (NUL-terminated, any length) equals stored[0..n): compares at most n + 1 bytes of s. */
static inline int cstr_is(const char *s, const char *stored, size_t n)
{
    return strncmp(s, stored, n) == 0 && s[n] == '\0';
}

static int lc_verify(const struct otus_series *s, const struct otus_attr *a, size_t n,
                     uint32_t perm)
{
    if (!s || s->attrs.n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = (perm >> (4 * i)) & 15;
        const struct otus_attr *st = &s->attrs.a[j], *in = &a[i];
        if (st->type != in->type || !cstr_is(in->key ? in->key : "", st->key, s->attrs.klen[j]))
            return 0;
        switch (in->type) {
        case OTUS_TYPE_STRING:
            if (in->len == OTUS_NTS) {
                if (!cstr_is(in->v.s ? in->v.s : "", st->v.s, st->len))
                    return 0;
            } else if (in->len != st->len || (st->len && memcmp(in->v.s, st->v.s, st->len))) {
                return 0;
            }
            break;
        case OTUS_TYPE_INT:
        case OTUS_TYPE_DOUBLE:
            if (memcmp(&in->v.i, &st->v.i, 8) != 0)
                return 0;
            break;
        case OTUS_TYPE_BOOL:
            if ((in->v.b != 0) != (st->v.b != 0))
                return 0;
            break;
        default:
            if (!value_equal(st, in, 0))
                return 0;
            break;
        }
    }
    return 1;
}

/* Where each input attribute sits in s (matched by key); 0 when one is missing. */
static int lc_perm(const struct otus_series *s, const struct otus_attr *a, size_t n, uint32_t *perm)
{
    uint32_t p = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = a[i].key ? a[i].key : "";
        size_t j = 0;
        while (j < s->attrs.n && !cstr_is(k, s->attrs.a[j].key, s->attrs.klen[j]))
            j++;
        if (j == s->attrs.n)
            return 0;
        p |= (uint32_t)j << (4 * i);
    }
    *perm = p;
    return 1;
}

static inline struct otus_series *lookup(struct otus_metric *m, const struct otus_attr *a, size_t n)
{
    struct otus__tls *t = &otus__tls;
    if (OTUS__LIKELY(n <= LC_MAX_N && t->slot && t->slot < OTUS__SLOTS)) {
        uint64_t fp = fingerprint(m, a, n);
        struct lc_entry *e = (struct lc_entry *)t->region + (fp & (LC_ENTRIES - 1));
        if (OTUS__LIKELY(e->fp == fp && e->n == n && lc_verify(e->s, a, n, e->perm)))
            return e->s;
        struct otus_series *s = lookup_hashed(m, a, n);
        uint32_t perm;
        if (s && !s->overflow && lc_perm(s, a, n, &perm)) {
            e->fp = fp;
            e->s = s;
            e->perm = perm;
            e->n = (uint32_t)n;
        }
        return s;
    }
    return lookup_hashed(m, a, n);
}

struct otus_series *otus_metric_bind(struct otus_metric *m, const struct otus_attr *attrs,
                                     size_t n_attrs)
{
    if (!m)
        return NULL;
    return lookup(m, attrs, attrs ? n_attrs : 0);
}

/* ---- record paths ------------------------------------------------------------------- */

static inline uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static inline double bdbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void drop(void)
{
    otus__stat_add(OTUS__STAT_MEAS_DROPPED, 1);
}

/* First measurement of a series: its start time. */
static void touch(struct otus_series *s)
{
    uint64_t z = 0;
    atomic_compare_exchange_strong_explicit(&s->start_ns, &z, otus__wall_ns(), memory_order_relaxed,
                                            memory_order_relaxed);
}

/* Claims the calling thread's exclusive region for one update, or NULL (none yet,
 * shared, or already inside an update on this thread). */
static inline unsigned char *excl_enter(struct otus__tls *t)
{
    unsigned char *base = t->excl;
    if (base) {
        t->excl = NULL;
        atomic_signal_fence(memory_order_seq_cst);
    }
    return base;
}

static inline void excl_leave(struct otus__tls *t, unsigned char *base)
{
    atomic_signal_fence(memory_order_seq_cst);
    t->excl = base;
}

/* The slow side of every record: first measurement, thread without a slot yet, or
 * shared/nested. Returns the exclusive base to use, or NULL for the shared region. */
static unsigned char *record_prepare(struct otus_series *s, struct otus__tls *t)
{
    if (!atomic_load_explicit(&s->start_ns, memory_order_relaxed))
        touch(s);
    if (!t->slot)
        otus__cells_acquire(t);
    return excl_enter(t);
}

static void add_i_shared(struct otus_series *s, int64_t v)
{
    unsigned char *r0 = otus__cells_region(0);
    if (!r0) {
        drop();
        return;
    }
    atomic_fetch_add_explicit((_Atomic int64_t *)(r0 + s->off), v, memory_order_relaxed);
}

static void add_d_shared(struct otus_series *s, double v)
{
    unsigned char *r0 = otus__cells_region(0);
    if (!r0) {
        drop();
        return;
    }
    _Atomic uint64_t *c = (_Atomic uint64_t *)(r0 + s->off);
    uint64_t old = atomic_load_explicit(c, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(c, &old, dbits(bdbl(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static __attribute__((noinline)) void add_i_slow(struct otus_series *s, int64_t v)
{
    if (s->off == SIZE_MAX) {
        drop();
        return;
    }
    struct otus__tls *t = &otus__tls;
    unsigned char *base = record_prepare(s, t);
    if (!base) {
        add_i_shared(s, v);
        return;
    }
    _Atomic int64_t *c = (_Atomic int64_t *)(base + s->off);
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
    excl_leave(t, base);
}

static inline void add_i(struct otus_series *s, int64_t v)
{
    struct otus__tls *t = &otus__tls;
    unsigned char *base = t->excl;
    if (OTUS__LIKELY(base && atomic_load_explicit(&s->start_ns, memory_order_relaxed))) {
        t->excl = NULL;
        atomic_signal_fence(memory_order_seq_cst);
        _Atomic int64_t *c = (_Atomic int64_t *)(base + s->off);
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                              memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
        t->excl = base;
        return;
    }
    add_i_slow(s, v);
}

static void add_d(struct otus_series *s, double v)
{
    if (s->off == SIZE_MAX) {
        drop();
        return;
    }
    struct otus__tls *t = &otus__tls;
    unsigned char *base = t->excl;
    if (OTUS__LIKELY(base && atomic_load_explicit(&s->start_ns, memory_order_relaxed)))
        base = excl_enter(t);
    else
        base = record_prepare(s, t);
    if (!base) {
        add_d_shared(s, v);
        return;
    }
    _Atomic uint64_t *c = (_Atomic uint64_t *)(base + s->off);
    atomic_store_explicit(c, dbits(bdbl(atomic_load_explicit(c, memory_order_relaxed)) + v),
                          memory_order_relaxed);
    excl_leave(t, base);
}

/* The number of bounds below v: the index of the upper-inclusive bucket of v. */
static inline size_t bucket_index(const double *b, size_t n_pad, double v)
{
#if defined(__SSE2__)
    if (n_pad <= 32) {
        /* A comparison lane is all ones (-1) where the bound is below v: subtracting the
         * masks counts them, two bounds per instruction, with no branch. */
        __m128d vv = _mm_set1_pd(v);
        __m128i acc = _mm_setzero_si128();
        for (size_t i = 0; i < n_pad; i += 2)
            acc = _mm_sub_epi64(acc, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(b + i), vv)));
        return (size_t)(_mm_cvtsi128_si64(acc) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)));
    }
#endif
    const double *first = b;
    size_t len = n_pad;
    while (len > 0) {
        size_t half = len / 2;
        if (first[half] < v) {
            first += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return (size_t)(first - b);
}

/* The seqlock write section: release stores, so none becomes visible before the odd
 * sequence number (plain moves on x86-64). */
static inline void hcell_update(struct otus__hcell *c, size_t b, double v)
{
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
    atomic_store_explicit(&c->count, n + 1, memory_order_release);
    atomic_store_explicit(&c->bucket[b],
                          atomic_load_explicit(&c->bucket[b], memory_order_relaxed) + 1,
                          memory_order_release);
    atomic_store_explicit(&c->sum,
                          dbits(bdbl(atomic_load_explicit(&c->sum, memory_order_relaxed)) + v),
                          memory_order_release);
    if (n == 0 || v < bdbl(atomic_load_explicit(&c->min, memory_order_relaxed)))
        atomic_store_explicit(&c->min, dbits(v), memory_order_release);
    if (n == 0 || v > bdbl(atomic_load_explicit(&c->max, memory_order_relaxed)))
        atomic_store_explicit(&c->max, dbits(v), memory_order_release);
    atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
}

/* Keeps the measurement as exemplar slot i (last one wins) with the current span. */
static void exemplar_offer(struct otus_series *s, unsigned char *base, size_t i, double v,
                           const struct otus_span *cur)
{
    if (s->ex_off == SIZE_MAX)
        return;
    int sampled = cur && (cur->ctx.trace_flags & OTUS_TRACE_FLAG_SAMPLED);
    if (otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_OFF ||
        (otus__exemplar_mode == OTUS__EXEMPLAR_TRACE_BASED && !sampled))
        return;
    struct otus__exemplar *e = (struct otus__exemplar *)(base + s->ex_off) + i;
    uint64_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
    atomic_store_explicit(&e->seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&e->time, otus__ticks(), memory_order_release);
    atomic_store_explicit(&e->value, dbits(v), memory_order_release);
    uint64_t tid[2] = {0, 0}, sid = 0;
    if (cur) {
        memcpy(tid, cur->ctx.trace_id, 16);
        memcpy(&sid, cur->ctx.span_id, 8);
    }
    atomic_store_explicit(&e->tid[0], tid[0], memory_order_release);
    atomic_store_explicit(&e->tid[1], tid[1], memory_order_release);
    atomic_store_explicit(&e->sid, sid, memory_order_release);
    atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
}

static int hist_shared(struct otus_series *s, size_t b, double v)
{
    unsigned char *r0 = otus__cells_region(0);
    if (!r0)
        return OTUS_ERR_STATE;
    struct otus__tls *t = &otus__tls;
    struct otus__hcell *c = (struct otus__hcell *)(r0 + s->off);
    /* A thread past the exclusive slots waits for the cell; a record nested in one of
     * this thread's own must not wait for itself. */
    uint32_t prev = t->in_shared;
    int nested = prev || (t->slot && t->slot < OTUS__SLOTS);
    t->in_shared = 1;
    atomic_signal_fence(memory_order_seq_cst);
    int rc = OTUS_ERR_FULL;
    if (otus__spin_lock(&c->lock, nested)) {
        hcell_update(c, b, v);
        atomic_store_explicit(&c->lock, 0, memory_order_release);
        rc = 0;
    }
    atomic_signal_fence(memory_order_seq_cst);
    t->in_shared = prev;
    return rc;
}

static __attribute__((noinline)) void hist_slow(struct otus_series *s, size_t b, double v)
{
    if (s->off == SIZE_MAX) {
        drop();
        return;
    }
    struct otus__tls *t = &otus__tls;
    unsigned char *base = record_prepare(s, t);
    if (!base) {
        if (hist_shared(s, b, v))
            drop();
        return;
    }
    hcell_update((struct otus__hcell *)(base + s->off), b, v);
    struct otus_span *cur = t->cur;
    if (cur || otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_ON)
        exemplar_offer(s, base, b, v, cur);
    excl_leave(t, base);
}

static inline void hist_record(struct otus_series *s, double v)
{
    size_t b = bucket_index(s->bounds, s->n_pad, v);
    struct otus__tls *t = &otus__tls;
    unsigned char *base = t->excl;
    if (OTUS__LIKELY(base && atomic_load_explicit(&s->start_ns, memory_order_relaxed))) {
        t->excl = NULL;
        atomic_signal_fence(memory_order_seq_cst);
        hcell_update((struct otus__hcell *)(base + s->off), b, v);
        struct otus_span *cur = t->cur;
        if (OTUS__UNLIKELY(cur != NULL || otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_ON))
            exemplar_offer(s, base, b, v, cur);
        atomic_signal_fence(memory_order_seq_cst);
        t->excl = base;
        return;
    }
    hist_slow(s, b, v);
}

static __attribute__((noinline)) void hist_record_checked(struct otus_series *s, double v)
{
    if (OTUS__UNLIKELY(!isfinite(v)))
        drop();
    else
        hist_record(s, v);
}

/* Exponential exemplars: reservoir sampling per collection epoch. */
static void exp_exemplar(struct otus_series *s, unsigned char *base, double v,
                         const struct otus_span *cur)
{
    if (s->ex_off == SIZE_MAX)
        return;
    struct otus__ecell *c = (struct otus__ecell *)(base + s->off);
    uint32_t epoch = atomic_load_explicit(&otus__metric_epoch, memory_order_relaxed);
    uint32_t seen = atomic_load_explicit(&c->ex_seen, memory_order_relaxed);
    if (atomic_load_explicit(&c->ex_epoch, memory_order_relaxed) != epoch) {
        atomic_store_explicit(&c->ex_epoch, epoch, memory_order_relaxed);
        seen = 0;
    }
    atomic_store_explicit(&c->ex_seen, seen + 1, memory_order_relaxed);
    size_t slot = seen;
    if (seen >= OTUS__EXP_RESERVOIR) {
        slot = (size_t)(otus__rand64() % (seen + 1));
        if (slot >= OTUS__EXP_RESERVOIR)
            return;
    }
    exemplar_offer(s, base, slot, v, cur);
}

static __attribute__((noinline)) void exp_slow(struct otus_series *s, double v)
{
    if (!isfinite(v) || s->off == SIZE_MAX) {
        drop();
        return;
    }
    struct otus__tls *t = &otus__tls;
    unsigned char *base = record_prepare(s, t);
    if (!base) {
        /* Shared region: a thread past the exclusive slots waits for the cell; a record
         * nested in this thread's own (an exclusive thread with its region busy, or one
         * inside a shared lock) must not. */
        unsigned char *r0 = otus__cells_region(0);
        uint32_t prev = t->in_shared;
        int nested = prev || (t->slot && t->slot < OTUS__SLOTS);
        int rc = OTUS_ERR_STATE;
        if (r0) {
            t->in_shared = 1;
            atomic_signal_fence(memory_order_seq_cst);
            rc = otus__exp_record_shared((struct otus__ecell *)(r0 + s->off), s->max_size,
                                         s->max_scale, v, nested);
            atomic_signal_fence(memory_order_seq_cst);
            t->in_shared = prev;
        }
        if (rc)
            drop();
        return;
    }
    otus__exp_record((struct otus__ecell *)(base + s->off), s->max_size, s->max_scale, v);
    struct otus_span *cur = t->cur;
    if (cur || otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_ON) {
        int sampled = cur && (cur->ctx.trace_flags & OTUS_TRACE_FLAG_SAMPLED);
        if (otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_ON ||
            (otus__exemplar_mode == OTUS__EXEMPLAR_TRACE_BASED && sampled))
            exp_exemplar(s, base, v, cur);
    }
    excl_leave(t, base);
}

/* The rest of a record into a claimed exclusive cell: the whole update when the inline
 * common case did not apply (done is 0), the exemplar, and the cell's release. */
static __attribute__((noinline)) void exp_finish(struct otus_series *s, struct otus__tls *t,
                                                 unsigned char *base, double v, int done)
{
    if (!done) {
        if (!isfinite(v)) {
            excl_leave(t, base);
            drop();
            return;
        }
        otus__exp_record((struct otus__ecell *)(base + s->off), s->max_size, s->max_scale, v);
    }
    struct otus_span *cur = t->cur;
    int sampled = cur && (cur->ctx.trace_flags & OTUS_TRACE_FLAG_SAMPLED);
    if (otus__exemplar_mode == OTUS__EXEMPLAR_ALWAYS_ON ||
        (otus__exemplar_mode == OTUS__EXEMPLAR_TRACE_BASED && sampled))
        exp_exemplar(s, base, v, cur);
    excl_leave(t, base);
}

/* The exclusive cell claimed inline as for explicit histograms, and inside it the
 * common case (a positive value within the current window) inline too, with no call
 * left on the way: everything else (zero, negative, NaN or infinite, the first value,
 * a window move or rescale, an exemplar to offer) goes to exp_finish or exp_slow. */
static __attribute__((noinline)) void exp_record(struct otus_series *s, double v)
{
    struct otus__tls *t = &otus__tls;
    unsigned char *base = t->excl;
    if (OTUS__LIKELY(base && atomic_load_explicit(&s->start_ns, memory_order_relaxed))) {
        t->excl = NULL;
        atomic_signal_fence(memory_order_seq_cst);
        int done = otus__exp_record_fast((struct otus__ecell *)(base + s->off), s->max_size, v);
        if (OTUS__LIKELY(done && !t->cur && otus__exemplar_mode != OTUS__EXEMPLAR_ALWAYS_ON)) {
            atomic_signal_fence(memory_order_seq_cst);
            t->excl = base;
            return;
        }
        exp_finish(s, t, base, v, done);
        return;
    }
    exp_slow(s, v);
}

static void gauge_set(struct otus_series *s, uint64_t bits)
{
    atomic_store_explicit(&s->gauge, bits, memory_order_relaxed);
    if (OTUS__UNLIKELY(!atomic_load_explicit(&s->start_ns, memory_order_relaxed)))
        touch(s);
}

void otus_series_add(struct otus_series *s, int64_t v)
{
    if (OTUS__UNLIKELY(!s))
        return;
    if (OTUS__LIKELY(s->op == OTUS__OP_ADD_I)) {
        if (OTUS__UNLIKELY(v < 0 && s->mono)) {
            drop();
            return;
        }
        add_i(s, v);
        return;
    }
    if (s->op == OTUS__OP_ADD_D && !(v < 0 && s->mono))
        add_d(s, (double)v);
    else
        drop();
}

void otus_series_add_double(struct otus_series *s, double v)
{
    if (OTUS__UNLIKELY(!s))
        return;
    if (!isfinite(v) || (v < 0 && s->mono)) {
        drop();
        return;
    }
    if (s->op == OTUS__OP_ADD_D)
        add_d(s, v);
    else if (s->op == OTUS__OP_ADD_I)
        add_i(s, (int64_t)llround(v));
    else
        drop();
}

void otus_series_record(struct otus_series *s, double v)
{
    if (OTUS__UNLIKELY(!s))
        return;
    /* Each kind in its own function, reached by a jump: none pays for the registers
     * the other needs. */
    if (OTUS__LIKELY(s->op == OTUS__OP_HIST))
        hist_record_checked(s, v);
    else if (s->op == OTUS__OP_EXP)
        exp_record(s, v); /* refuses NaN and infinities itself */
    else
        drop();
}

void otus_series_set(struct otus_series *s, double v)
{
    if (!s)
        return;
    if (s->op == OTUS__OP_GAUGE_D && !isnan(v))
        gauge_set(s, dbits(v));
    else if (s->op == OTUS__OP_GAUGE_I && isfinite(v))
        gauge_set(s, (uint64_t)(int64_t)llround(v));
    else
        drop();
}

void otus_series_set_int(struct otus_series *s, int64_t v)
{
    if (!s)
        return;
    if (s->op == OTUS__OP_GAUGE_I)
        gauge_set(s, (uint64_t)v);
    else if (s->op == OTUS__OP_GAUGE_D)
        gauge_set(s, dbits((double)v));
    else
        drop();
}

void otus_metric_add(struct otus_metric *m, int64_t v, const struct otus_attr *attrs, size_t n)
{
    if (!m)
        return;
    otus_series_add(lookup(m, attrs, attrs ? n : 0), v);
}

void otus_metric_add_double(struct otus_metric *m, double v, const struct otus_attr *attrs,
                            size_t n)
{
    if (!m)
        return;
    otus_series_add_double(lookup(m, attrs, attrs ? n : 0), v);
}

void otus_metric_record(struct otus_metric *m, double v, const struct otus_attr *attrs, size_t n)
{
    if (!m)
        return;
    otus_series_record(lookup(m, attrs, attrs ? n : 0), v);
}

void otus_metric_set(struct otus_metric *m, double v, const struct otus_attr *attrs, size_t n)
{
    if (!m)
        return;
    otus_series_set(lookup(m, attrs, attrs ? n : 0), v);
}

/* ---- instruments -------------------------------------------------------------------- */

static int valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 255)
        return 0;
    if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void metric_free(struct otus_metric *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->unit);
    free(m->description);
    free(m->bounds);
    free((void *)m->table);
    free(m);
}

static char *dup_or_empty(const char *s)
{
    const char *src = s ? s : "";
    size_t n = strlen(src);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, src, n + 1);
    return p;
}

/* Creates an instrument; takes the registry lock. internal: the library's own. */
static struct otus_metric *metric_create(const struct otus_metric_opts *o, int internal)
{
    struct otus_metric *m = NULL, *found = NULL;
    int kind = o->kind;
    if (!o->name || !valid_name(o->name)) {
        otus__diag(&otus__g.set, OTUS_LEVEL_WARN, "instrument name '%s' is invalid; not created",
                   o->name ? o->name : "(null)");
        return NULL;
    }
    if (kind < OTUS_COUNTER || kind > OTUS_EXP_HISTOGRAM) {
        otus__diag(&otus__g.set, OTUS_LEVEL_WARN, "instrument '%s': kind %d is unknown", o->name,
                   kind);
        return NULL;
    }
    int vt = o->value_type;
    if (vt != OTUS_VALUE_INT && vt != OTUS_VALUE_DOUBLE)
        vt = kind == OTUS_COUNTER || kind == OTUS_UPDOWN_COUNTER ? OTUS_VALUE_INT
                                                                 : OTUS_VALUE_DOUBLE;
    if (kind == OTUS_HISTOGRAM || kind == OTUS_EXP_HISTOGRAM)
        vt = OTUS_VALUE_DOUBLE;
    const double *bounds = NULL;
    size_t nb = 0;
    if (kind == OTUS_HISTOGRAM) {
        bounds = o->bounds ? o->bounds : default_bounds;
        nb = o->bounds ? o->n_bounds : sizeof(default_bounds) / sizeof(default_bounds[0]);
        for (size_t i = 0; i < nb; i++) {
            if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1]))) {
                otus__diag(&otus__g.set, OTUS_LEVEL_WARN,
                           "histogram '%s': bounds must be finite and increasing; using defaults",
                           o->name);
                bounds = default_bounds;
                nb = sizeof(default_bounds) / sizeof(default_bounds[0]);
                break;
            }
        }
    }
    int max_size = 0, max_scale = 0;
    if (kind == OTUS_EXP_HISTOGRAM) {
        max_size = o->max_size > 0 ? o->max_size : 160;
        if (max_size < 2)
            max_size = 2;
        if (max_size > 16384)
            max_size = 16384;
        max_scale = o->max_scale == OTUS_SCALE_ZERO ? 0 : o->max_scale ? o->max_scale : 20;
        if (max_scale > 20 || max_scale < -10) {
            otus__diag(&otus__g.set, OTUS_LEVEL_WARN,
                       "exponential histogram '%s': max_scale %d outside [-10, 20]; using 20",
                       o->name, max_scale);
            max_scale = 20;
        }
    }

    pthread_mutex_lock(&otus__reg.lock);
    for (struct otus_metric *e = otus__reg.head; e; e = e->next) {
        if (strcasecmp(e->name, o->name) != 0 || e->internal != internal)
            continue;
        int same = e->kind == kind && e->value_type == vt && same_str(e->unit, o->unit) &&
                   same_str(e->description, o->description) && e->n_bounds == nb &&
                   (nb == 0 || memcmp(e->bounds, bounds, nb * sizeof(double)) == 0) &&
                   e->max_size == max_size && e->max_scale == max_scale;
        if (same) {
            found = e;
            break;
        }
        otus__diag(&otus__g.set, OTUS_LEVEL_WARN,
                   "instrument '%s' registered again with a different kind, unit, description "
                   "or buckets; both are exported (rename one to resolve the conflict)",
                   o->name);
    }
    if (found)
        goto out;

    m = calloc(1, sizeof(*m));
    if (!m)
        goto out;
    m->kind = kind;
    m->value_type = vt;
    m->internal = internal;
    m->name = dup_or_empty(o->name);
    m->unit = dup_or_empty(o->unit);
    m->description = dup_or_empty(o->description);
    m->max_series = o->max_series            ? o->max_series
                    : otus__g.set.max_series ? otus__g.set.max_series
                                             : 2000;
    m->max_size = max_size;
    m->max_scale = max_scale;
    if (!m->name || !m->unit || !m->description)
        goto fail;
    if (kind == OTUS_HISTOGRAM) {
        m->n_bounds = nb;
        m->n_pad = (nb + 1) & ~(size_t)1;
        m->bounds = malloc((m->n_pad ? m->n_pad : 1) * sizeof(double));
        if (!m->bounds)
            goto fail;
        if (nb)
            memcpy(m->bounds, bounds, nb * sizeof(double));
        for (size_t i = nb; i < m->n_pad; i++)
            m->bounds[i] = INFINITY;
        m->cell_size = sizeof(struct otus__hcell) + (nb + 1) * sizeof(uint64_t);
        m->ex_size = (nb + 1) * sizeof(struct otus__exemplar);
    } else if (kind == OTUS_EXP_HISTOGRAM) {
        m->cell_size = sizeof(struct otus__ecell) + 2 * (size_t)max_size * sizeof(uint64_t);
        m->ex_size = OTUS__EXP_RESERVOIR * sizeof(struct otus__exemplar);
    } else if (kind == OTUS_GAUGE) {
        m->cell_size = 0;
    } else {
        m->cell_size = 8;
    }
    size_t cap = 16;
    while (cap < 2 * ((size_t)m->max_series + 2))
        cap <<= 1;
    m->table = calloc(cap, sizeof(*m->table));
    if (!m->table)
        goto fail;
    m->table_mask = cap - 1;
    /* The overflow series exists from the start, outside the limit. */
    struct otus_attr ov = otus_attr_bool("otel.metric.overflow", 1);
    struct probe op;
    probe_init(&op, &ov, 1);
    m->overflow = series_new(m, &ov, &op);
    if (!m->overflow)
        goto fail;
    m->overflow->overflow = 1;
    list_push(m, m->overflow);
    m->next = otus__reg.head;
    otus__reg.head = m;
    otus__reg.count++;
    found = m;
    goto out;
fail:
    metric_free(m);
    found = NULL;
out:
    pthread_mutex_unlock(&otus__reg.lock);
    return found;
}

struct otus_metric *otus_metric_create(const struct otus_metric_opts *opts)
{
    if (!opts)
        return NULL;
    if (atomic_load_explicit(&otus__g.state, memory_order_acquire) != OTUS__RUNNING ||
        otus__g.disabled)
        return NULL;
    return metric_create(opts, 0);
}

static struct otus_metric *create_simple(int kind, const char *name, const char *unit,
                                         const char *desc)
{
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = kind;
    o.name = name;
    o.unit = unit;
    o.description = desc;
    return otus_metric_create(&o);
}

struct otus_metric *otus_counter_create(const char *name, const char *unit, const char *desc)
{
    return create_simple(OTUS_COUNTER, name, unit, desc);
}

struct otus_metric *otus_updown_counter_create(const char *name, const char *unit, const char *desc)
{
    return create_simple(OTUS_UPDOWN_COUNTER, name, unit, desc);
}

struct otus_metric *otus_gauge_create(const char *name, const char *unit, const char *desc)
{
    return create_simple(OTUS_GAUGE, name, unit, desc);
}

struct otus_metric *otus_histogram_create(const char *name, const char *unit, const char *desc,
                                          const double *bounds, size_t n_bounds)
{
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = OTUS_HISTOGRAM;
    o.name = name;
    o.unit = unit;
    o.description = desc;
    o.bounds = bounds;
    o.n_bounds = bounds ? n_bounds : 0;
    return otus_metric_create(&o);
}

struct otus_metric *otus_exp_histogram_create(const char *name, const char *unit, const char *desc,
                                              int max_size, int max_scale)
{
    struct otus_metric_opts o;
    memset(&o, 0, sizeof(o));
    o.kind = OTUS_EXP_HISTOGRAM;
    o.name = name;
    o.unit = unit;
    o.description = desc;
    o.max_size = max_size;
    o.max_scale = max_scale;
    return otus_metric_create(&o);
}

/* An instrument of the library itself, created whatever the state (init only). */
struct otus_metric *otus__metric_create_internal(const struct otus_metric_opts *o)
{
    return metric_create(o, 1);
}

/* ---- the library's own counters ----------------------------------------------------- */

static const struct {
    const char *name;
    const char *unit;
    const char *desc;
    const char *attr_key;
    const char *attr_value;
} stat_def[OTUS__NSTATS] = {
    [OTUS__STAT_SPANS_DROPPED] = {"otus.lib.spans.dropped", "{span}",
                                  "Spans dropped: queue full or span memory exhausted", NULL, NULL},
    [OTUS__STAT_LOGS_DROPPED] = {"otus.lib.logs.dropped", "{record}",
                                 "Log records dropped because the log queue was full", NULL, NULL},
    [OTUS__STAT_MEAS_DROPPED] = {"otus.lib.measurements.dropped", "{measurement}",
                                 "Measurements refused: invalid value, wrong instrument kind, "
                                 "no cell space",
                                 NULL, NULL},
    [OTUS__STAT_OVERFLOW] = {"otus.lib.series.overflow", "{measurement}",
                             "Measurements folded into an overflow series (series limit reached)",
                             NULL, NULL},
    [OTUS__STAT_SPANS_EXPORTED] = {"otus.lib.exported", "{item}", "Items accepted by the peer",
                                   "signal", "traces"},
    [OTUS__STAT_LOGS_EXPORTED] = {"otus.lib.exported", "{item}", "Items accepted by the peer",
                                  "signal", "logs"},
    [OTUS__STAT_POINTS_EXPORTED] = {"otus.lib.exported", "{item}", "Items accepted by the peer",
                                    "signal", "metrics"},
    [OTUS__STAT_EXPORT_FAILURES] = {"otus.lib.export.failures", "{request}",
                                    "Export requests that failed (each attempt counts)", NULL,
                                    NULL},
    [OTUS__STAT_EXPORT_DROPPED] = {"otus.lib.export.dropped", "{item}",
                                   "Items given up on: retry buffer full or shutdown deadline",
                                   NULL, NULL},
};

int otus__metrics_init(void)
{
    int rc = otus__cells_init();
    if (rc)
        return rc;
    otus__exp_init();
    for (int i = 0; i < OTUS__NSTATS; i++) {
        if (stat_series[i])
            continue;
        struct otus_metric_opts o;
        memset(&o, 0, sizeof(o));
        o.kind = OTUS_COUNTER;
        o.name = stat_def[i].name;
        o.unit = stat_def[i].unit;
        o.description = stat_def[i].desc;
        struct otus_metric *m = otus__metric_create_internal(&o);
        if (!m)
            return OTUS_ERR_NOMEM;
        struct otus_attr a;
        size_t n = 0;
        if (stat_def[i].attr_key) {
            a = otus_attr_str(stat_def[i].attr_key, stat_def[i].attr_value);
            n = 1;
        }
        struct otus_series *s = otus_metric_bind(m, n ? &a : NULL, n);
        if (!s || s->overflow)
            return OTUS_ERR_NOMEM;
        touch(s); /* always exported, zero included */
        stat_series[i] = s;
    }
    return 0;
}

void otus__stat_add(enum otus__stat which, uint64_t n)
{
    struct otus_series *s = stat_series[which];
    if (s)
        add_i(s, (int64_t)n);
}

uint64_t otus__stat_get(enum otus__stat which)
{
    struct otus_series *s = stat_series[which];
    return s ? (uint64_t)otus__series_sum_int(s) : 0;
}

void otus_stats_get(struct otus_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->spans_dropped = otus__stat_get(OTUS__STAT_SPANS_DROPPED);
    out->logs_dropped = otus__stat_get(OTUS__STAT_LOGS_DROPPED);
    out->measurements_dropped = otus__stat_get(OTUS__STAT_MEAS_DROPPED);
    out->series_overflowed = otus__stat_get(OTUS__STAT_OVERFLOW);
    out->spans_exported = otus__stat_get(OTUS__STAT_SPANS_EXPORTED);
    out->logs_exported = otus__stat_get(OTUS__STAT_LOGS_EXPORTED);
    out->metric_points_exported = otus__stat_get(OTUS__STAT_POINTS_EXPORTED);
    out->export_failures = otus__stat_get(OTUS__STAT_EXPORT_FAILURES);
    out->export_dropped = otus__stat_get(OTUS__STAT_EXPORT_DROPPED);
}

void otus__registry_lock(void)
{
    pthread_mutex_lock(&otus__reg.lock);
}

void otus__registry_unlock(void)
{
    pthread_mutex_unlock(&otus__reg.lock);
}

void otus__registry_reset_after_fork(void)
{
    pthread_mutex_init(&otus__reg.lock, NULL);
}

void otus__metrics_after_fork(void)
{
    otus__cells_after_fork();
    uint64_t now = otus__wall_ns();
    for (struct otus_metric *m = otus__reg.head; m; m = m->next) {
        for (struct otus_series *s = atomic_load(&m->list); s; s = s->next) {
            atomic_store(&s->gauge, 0);
            atomic_store(&s->start_ns, 0);
        }
    }
    for (int i = 0; i < OTUS__NSTATS; i++) /* the library's own counters stay visible */
        if (stat_series[i])
            atomic_store(&stat_series[i]->start_ns, now);
}
