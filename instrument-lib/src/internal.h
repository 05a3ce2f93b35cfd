/*
 * internal.h: what libotus's source files share and nothing outside the library
 * sees. It defines the per-thread state (one small initial-exec TLS block, so the
 * record paths reach it with one fs-relative load), the global library state, and
 * the interfaces between the parts: settings, ticks and IDs, metric cells, the span
 * block pool and queue, the log ring, the record stream encoding, the protobuf writer
 * and the background exporter.
 */
#ifndef OTUS_LIB_INTERNAL_H
#define OTUS_LIB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <otus.h>

#include "common/buf.h"

#define OTUS__LIKELY(x)   __builtin_expect(!!(x), 1)
#define OTUS__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OTUS__CACHELINE   64

/* The three OTLP signals, in the order used by every per-signal array. */
enum otus__signal {
    OTUS__TRACES = 0,
    OTUS__METRICS = 1,
    OTUS__LOGS = 2,
    OTUS__NSIGNALS = 3,
};

/* ---- settings (settings.c) ------------------------------------------------------ */

struct otus__kv {
    char *key;   /* owned */
    char *value; /* owned */
};

#define OTUS__EXEMPLAR_TRACE_BASED 0
#define OTUS__EXEMPLAR_ALWAYS_ON   1
#define OTUS__EXEMPLAR_ALWAYS_OFF  2

/* The resolved configuration: struct otus_sdk_config over the environment over defaults. */
struct otus__settings {
    int disabled;
    char *service_name;        /* owned, never NULL once loaded */
    struct otus__kv *resource; /* owned; service.name is not in here */
    size_t n_resource;
    char *url[OTUS__NSIGNALS];                /* owned full request URLs */
    struct otus__kv *headers[OTUS__NSIGNALS]; /* owned */
    size_t n_headers[OTUS__NSIGNALS];
    int gzip[OTUS__NSIGNALS];
    uint32_t timeout_ms[OTUS__NSIGNALS];
    int export_enabled[OTUS__NSIGNALS];
    int sampler; /* enum otus_sampler, never DEFAULT once loaded */
    double ratio;
    uint32_t propagators; /* OTUS_PROPAGATOR_* bits; 0 means none */
    uint32_t metric_interval_ms;
    uint32_t metric_timeout_ms;
    uint32_t max_series;
    int exemplar_filter;
    uint32_t span_queue, span_batch, span_delay_ms, span_timeout_ms;
    uint32_t log_queue, log_batch, log_delay_ms, log_timeout_ms;
    uint32_t span_attr_limit, span_event_limit, span_link_limit;
    uint32_t event_attr_limit, link_attr_limit, span_value_limit;
    uint32_t log_attr_limit, log_value_limit;
    int log_output;
    char *log_path; /* owned */
    int log_level;
    int diag_level; /* OTEL_LOG_LEVEL: lowest level of our own diagnostics */
    otus_diag_fn diag;
    void *diag_arg;
};

typedef const char *(*otus__getenv_fn)(const char *name);

/* Fills s from cfg (may be NULL) over the environment (getenv_fn, NULL for getenv)
 * over defaults. Invalid values are reported through s->diag and ignored. 0 or
 * OTUS_ERR_NOMEM. */
int otus__settings_load(struct otus__settings *s, const struct otus_sdk_config *cfg,
                        otus__getenv_fn getenv_fn);
void otus__settings_free(struct otus__settings *s);

/* Parses "k=v,k2=v2" with percent-decoded values (W3C baggage octets, no properties)
 * into *out (owned). 0, OTUS_ERR_PARSE (the whole list is refused), OTUS_ERR_NOMEM. */
int otus__kvlist_parse(const char *text, struct otus__kv **out, size_t *n);
void otus__kvlist_free(struct otus__kv *kv, size_t n);

/* Builds the per-signal URL: per_signal as given (root path added when it has none),
 * else base + "v1/<signal>". NULL when neither is a valid http(s) URL. Owned. */
char *otus__endpoint_url(const char *base, const char *per_signal, enum otus__signal sig);

/* Reports a diagnostic through the settings' callback or to stderr. */
void otus__diag(const struct otus__settings *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- ticks, clock and IDs (tick.c) ----------------------------------------------- */

/* A fast monotonic counter: the TSC on x86-64 with an invariant TSC, else
 * CLOCK_MONOTONIC nanoseconds. Converted to wall time on the background thread. */
#if defined(__x86_64__)
#include <x86intrin.h>
extern int otus__tsc_ok;
uint64_t otus__mono_ns(void);
static inline uint64_t otus__ticks(void)
{
    if (OTUS__LIKELY(otus__tsc_ok))
        return __rdtsc();
    return otus__mono_ns();
}
#else
uint64_t otus__mono_ns(void);
static inline uint64_t otus__ticks(void)
{
    return otus__mono_ns();
}
#endif

/* Sets up tick calibration (idempotent). */
void otus__ticks_init(void);
/* Refines the tick rate and re-anchors tick -> wall time (background thread). */
void otus__ticks_calibrate(void);
/* Unix nanoseconds of tick value t. */
uint64_t otus__ticks_to_unix_ns(uint64_t t);
/* Seconds in a tick difference. */
double otus__ticks_to_seconds(uint64_t dt);
/* Wall clock, Unix ns. */
uint64_t otus__wall_ns(void);

/* Times in records: ticks, or Unix ns when the top bit is set (user-given times). */
#define OTUS__TIME_NS_FLAG (1ull << 63)
static inline uint64_t otus__time_to_unix_ns(uint64_t t)
{
    if (t & OTUS__TIME_NS_FLAG)
        return t & ~OTUS__TIME_NS_FLAG;
    return otus__ticks_to_unix_ns(t);
}

/* Incremented in a forked child so every thread's generator reseeds. */
extern _Atomic uint32_t otus__fork_gen;

/* ---- per-thread state ------------------------------------------------------------ */

struct otus__tls {
    unsigned char *excl;   /* exclusive metric cell region; NULL: none, shared, or busy */
    unsigned char *region; /* this thread's metric cell region (also while busy) */
    uint32_t slot;         /* 0: none yet; 1..SLOTS-1: exclusive; OTUS__SLOT_SHARED_MARK */
    uint32_t in_shared;    /* inside a shared cell's lock (a nested record must not wait) */
    uint32_t rng_gen;      /* otus__fork_gen the generator was seeded for, plus one */
    uint64_t rng;          /* wyrand state */
    struct otus_span *cur; /* current span */
};

extern __thread struct otus__tls otus__tls __attribute__((tls_model("initial-exec")));

void otus__rng_seed(struct otus__tls *t);

/* The calling thread's state with its generator seeded for this process (a forked
 * child reseeds on first use). */
static inline struct otus__tls *otus__rng_ready(void)
{
    struct otus__tls *t = &otus__tls;
    if (OTUS__UNLIKELY(t->rng_gen !=
                       atomic_load_explicit(&otus__fork_gen, memory_order_relaxed) + 1))
        otus__rng_seed(t);
    return t;
}

/* The next 64-bit number of t's generator (wyrand). */
static inline uint64_t otus__rng_next(struct otus__tls *t)
{
    uint64_t x = t->rng += 0xa0761d6478bd642full;
    __uint128_t m = (__uint128_t)x * (x ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

/* A 64-bit random number from the calling thread's generator. */
static inline uint64_t otus__rand64(void)
{
    return otus__rng_next(otus__rng_ready());
}

/* A random span ID (8 bytes, never all zero) from t's generator. */
static inline void otus__new_span_id(struct otus__tls *t, uint8_t id[8])
{
    uint64_t a;
    do
        a = otus__rng_next(t);
    while (OTUS__UNLIKELY(a == 0));
    memcpy(id, &a, 8);
}

/* A random trace ID (16 bytes, never all zero) from t's generator. */
static inline void otus__new_trace_id(struct otus__tls *t, uint8_t id[16])
{
    uint64_t a, b;
    do {
        a = otus__rng_next(t);
        b = otus__rng_next(t);
    } while (OTUS__UNLIKELY((a | b) == 0));
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}

/* Non-zero when c has a non-zero trace ID and span ID (c not NULL). */
static inline int otus__span_context_valid(const struct otus_span_context *c)
{
    uint64_t a, b, sid;
    memcpy(&a, c->trace_id, 8);
    memcpy(&b, c->trace_id + 8, 8);
    memcpy(&sid, c->span_id, 8);
    return (a | b) != 0 && sid != 0;
}

/* ---- metric cells (cells.c) ------------------------------------------------------ */

/* Slot 0 holds the shared cells, updated with atomic read-modify-write by threads
 * past the exclusive slots and by nested (signal handler) records. Slots 1..SLOTS-1
 * each belong to one live thread and are written with plain loads and stores. */
#define OTUS__SLOTS            128
#define OTUS__SLOT_SHARED_MARK OTUS__SLOTS        /* otus__tls.slot of a thread on region 0 */
#define OTUS__REGION_SIZE      ((size_t)64 << 20) /* virtual bytes of cells per slot */
#define OTUS__REGION_CACHE     4096 /* bytes at the start of a region: the owner's lookup cache */

struct otus__cellspace {
    unsigned char *_Atomic region[OTUS__SLOTS]; /* mapped on first acquisition */
    _Atomic uint64_t used[OTUS__SLOTS / 64];    /* slots owned by a live thread */
    _Atomic uint64_t ever[OTUS__SLOTS / 64];    /* slots that ever held cells */
    _Atomic size_t next_off;                    /* cell offset allocator */
    size_t region_size;
};

extern struct otus__cellspace otus__cells;

/* Maps the shared region (idempotent). 0 or OTUS_ERR_NOMEM. */
int otus__cells_init(void);
/* Reserves size bytes (8-aligned, 64 when size >= 64) of cell space in every region;
 * returns the offset or SIZE_MAX when the space is exhausted. Lock-free. */
size_t otus__cells_alloc(size_t size);
/* Gives the calling thread a slot (exclusive when one is free, else shared).
 * Lock-free and async-signal-safe. */
void otus__cells_acquire(struct otus__tls *t);
/* Child after fork: zero every cell, forget every slot but the calling thread's. */
void otus__cells_after_fork(void);
/* The region of slot i, or NULL when it never held cells (background thread). */
static inline unsigned char *otus__cells_region(unsigned i)
{
    return atomic_load_explicit(&otus__cells.region[i], memory_order_acquire);
}

/* ---- metrics (metrics.c, exphist.c, collect.c) ------------------------------------ */

struct otus__attrset {
    struct otus_attr *a; /* sorted by key, unique keys; owned by the instrument's arena */
    uint64_t *ah;        /* per attribute: hash of key and value */
    uint32_t *klen;      /* per attribute: key length */
    size_t n;
    uint64_t hash; /* sum of ah[]: the order of attributes does not matter */
};

/* Explicit histogram cell: layout in every slot region at the series' offset. */
struct otus__hcell {
    _Atomic uint64_t seq;  /* seqlock: odd while being written */
    _Atomic uint64_t lock; /* shared region: spin flag */
    _Atomic uint64_t count;
    _Atomic uint64_t sum;      /* double bits */
    _Atomic uint64_t min;      /* double bits */
    _Atomic uint64_t max;      /* double bits */
    _Atomic uint64_t bucket[]; /* n_bounds + 1 */
};

/* One stored exemplar; exclusive cells write it under its own seqlock. */
struct otus__exemplar {
    _Atomic uint64_t seq;
    _Atomic uint64_t time;  /* ticks; 0: empty */
    _Atomic uint64_t value; /* double bits */
    _Atomic uint64_t tid[2];
    _Atomic uint64_t sid;
};

#define OTUS__EXP_RESERVOIR 20

/* Record operations, precomputed per series so a record path takes one branch. */
#define OTUS__OP_ADD_I   1 /* int counter or up-down counter */
#define OTUS__OP_ADD_D   2 /* double counter or up-down counter */
#define OTUS__OP_HIST    3
#define OTUS__OP_EXP     4
#define OTUS__OP_GAUGE_I 5
#define OTUS__OP_GAUGE_D 6

struct otus_series {
    /* Read by every record. */
    size_t off;                  /* cell offset; SIZE_MAX: no cell space (records dropped) */
    uint8_t op;                  /* OTUS__OP_* */
    uint8_t mono;                /* a counter: negative increments refused */
    uint16_t n_pad;              /* histogram: bounds, padded with +inf to an even count */
    int32_t max_size, max_scale; /* exponential */
    const double *bounds;        /* histogram: the instrument's padded bounds */
    _Atomic uint64_t start_ns;   /* Unix ns of the first measurement; 0: none yet */
    size_t ex_off;               /* exemplar cells; SIZE_MAX: none */
    _Atomic uint64_t gauge;      /* gauge: value bits */
    struct otus_metric *metric;
    struct otus_series *next; /* the instrument's list, newest first */
    struct otus__attrset attrs;
    int overflow; /* the otel.metric.overflow=true series */
};

/* Instrument arena: lock-free bump allocation of series and attribute copies. */
struct otus__arena_chunk;

struct otus_metric {
    struct otus_metric *next; /* registry list */
    int kind;
    int value_type;                  /* OTUS_VALUE_INT or OTUS_VALUE_DOUBLE */
    char *name, *unit, *description; /* owned */
    double *bounds;                  /* owned, n_bounds then +inf padding */
    size_t n_bounds, n_pad;
    int max_size, max_scale;
    uint32_t max_series;
    size_t cell_size, ex_size;
    struct otus_series *_Atomic *table; /* open addressing, capacity table_mask + 1 */
    size_t table_mask;
    _Atomic uint32_t n_series;
    struct otus_series *_Atomic list; /* every series, newest first */
    struct otus_series *overflow;
    struct otus__arena_chunk *_Atomic arena;
    int internal; /* the library's own metric */
};

/* Registry of every instrument ever created (never freed: handles stay valid). */
struct otus__registry {
    pthread_mutex_t lock;
    struct otus_metric *head;
    size_t count;
};
extern struct otus__registry otus__reg;

/* Sets up the registry and the library's own instruments (idempotent). */
int otus__metrics_init(void);

/* The library's own counters, bumped on drops and exports. */
enum otus__stat {
    OTUS__STAT_SPANS_DROPPED,
    OTUS__STAT_LOGS_DROPPED,
    OTUS__STAT_MEAS_DROPPED,
    OTUS__STAT_OVERFLOW,
    OTUS__STAT_SPANS_EXPORTED,
    OTUS__STAT_LOGS_EXPORTED,
    OTUS__STAT_POINTS_EXPORTED,
    OTUS__STAT_EXPORT_FAILURES,
    OTUS__STAT_EXPORT_DROPPED,
    OTUS__NSTATS,
};
void otus__stat_add(enum otus__stat which, uint64_t n);
uint64_t otus__stat_get(enum otus__stat which);

/* Base-2 exponential histogram mapping (exphist.c). */
int otus__exp_init(void);
int32_t otus__exp_index(double v, int scale); /* v > 0 and normal */

/* Per-slot exponential histogram cell. */
struct otus__ecell {
    _Atomic uint64_t seq;
    _Atomic uint64_t count;
    _Atomic uint64_t sum; /* double bits */
    _Atomic uint64_t min; /* double bits */
    _Atomic uint64_t max; /* double bits */
    _Atomic uint64_t zero;
    _Atomic int32_t scale;                    /* valid when count > zero */
    _Atomic int32_t pos_base, pos_lo, pos_hi; /* window: index base; lowest, highest used */
    _Atomic int32_t neg_base, neg_lo, neg_hi;
    _Atomic uint32_t pos_used, neg_used; /* a bucket was set in the range */
    _Atomic uint32_t ex_seen;            /* reservoir: offers in this collection epoch */
    _Atomic uint32_t ex_epoch;
    _Atomic uint64_t lock;     /* shared cell: spin flag */
    _Atomic uint64_t counts[]; /* max_size positive, then max_size negative */
};

void otus__exp_record(struct otus__ecell *c, int max_size, int max_scale, double v);

/* The mapping tables of exphist.c: 2^(j/1024) for j in 0..1024, and the scale-10
 * sub-bucket of the significand 1 + k/2048 to within one. Built by otus__exp_init(). */
extern double otus__exp_bound10[1025];
extern uint16_t otus__exp_lut10[2048];

#define OTUS__EXP_MIN_NORMAL 0x0010000000000000ull /* bits of the smallest positive normal */
#define OTUS__EXP_INF        0x7ff0000000000000ull /* bits of +infinity */

/* The bucket index at scale 1..10 of a positive normal finite v whose bits are b (the
 * caller has checked both), without log(): the exponent gives the octave, the table
 * the scale-10 sub-bucket to within one, one comparison settles it, and an exact power
 * of two (significand 1) is the upper end of the bucket below. Buckets nest, so the
 * scale-10 index shifted right gives every lower scale. */
static inline int32_t otus__exp_index_small(uint64_t b, int scale)
{
    uint64_t mant = b & ((1ull << 52) - 1);
    uint64_t mbits = mant | (1023ull << 52);
    double m;
    memcpy(&m, &mbits, sizeof(m)); /* the significand, in [1, 2) */
    int32_t j = otus__exp_lut10[mant >> 41];
    j += m > otus__exp_bound10[j + 1];
    j -= mant == 0;
    int32_t i10 = (int32_t)((uint32_t)((int32_t)(b >> 52) - 1023) << 10) + j;
    return i10 >> (10 - scale);
}

/*
 * The common case of a record into an exclusive cell, inline: a positive normal value
 * at a scale of 1 to 10 that falls inside the window of positive buckets already in
 * use. Returns 0, having written nothing, for anything else (zero, negative, the first
 * value, a value outside the window, an extreme scale): otus__exp_record() then does
 * the whole update. With a bucket already used, count is not zero, so min and max are
 * set and need no first-value test.
 */
static inline int otus__exp_record_fast(struct otus__ecell *c, int max_size, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    int32_t scale = atomic_load_explicit(&c->scale, memory_order_relaxed);
    if (OTUS__UNLIKELY(b - OTUS__EXP_MIN_NORMAL >= OTUS__EXP_INF - OTUS__EXP_MIN_NORMAL ||
                       (uint32_t)(scale - 1) >= 10u ||
                       !atomic_load_explicit(&c->pos_used, memory_order_relaxed)))
        return 0;
    int32_t idx = otus__exp_index_small(b, scale);
    uint32_t k = (uint32_t)(idx - atomic_load_explicit(&c->pos_base, memory_order_relaxed));
    if (OTUS__UNLIKELY(k >= (uint32_t)max_size))
        return 0;
    /* Seqlock write section; release stores are plain moves on x86-64. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
                          memory_order_release);
    atomic_store_explicit(&c->counts[k],
                          atomic_load_explicit(&c->counts[k], memory_order_relaxed) + 1,
                          memory_order_release);
    uint64_t sb = atomic_load_explicit(&c->sum, memory_order_relaxed);
    uint64_t lb = atomic_load_explicit(&c->min, memory_order_relaxed);
    uint64_t hb = atomic_load_explicit(&c->max, memory_order_relaxed);
    double sum, lo, hi;
    memcpy(&sum, &sb, 8);
    memcpy(&lo, &lb, 8);
    memcpy(&hi, &hb, 8);
    sum += v;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    memcpy(&sb, &sum, 8);
    memcpy(&lb, &lo, 8);
    memcpy(&hb, &hi, 8);
    atomic_store_explicit(&c->sum, sb, memory_order_release);
    atomic_store_explicit(&c->min, lb, memory_order_release);
    atomic_store_explicit(&c->max, hb, memory_order_release);
    int32_t plo = atomic_load_explicit(&c->pos_lo, memory_order_relaxed);
    int32_t phi = atomic_load_explicit(&c->pos_hi, memory_order_relaxed);
    atomic_store_explicit(&c->pos_lo, idx < plo ? idx : plo, memory_order_release);
    atomic_store_explicit(&c->pos_hi, idx > phi ? idx : phi, memory_order_release);
    atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
    return 1;
}
/* The same on a shared cell, under its spin flag. nested: the caller interrupted a
 * record of its own thread that may hold the flag, so it only tries briefly and
 * returns OTUS_ERR_FULL rather than wait for itself. */
int otus__exp_record_shared(struct otus__ecell *c, int max_size, int max_scale, double v,
                            int nested);
/* Takes a shared cell's spin flag: waits (yielding) unless nested. 1 when taken. */
int otus__spin_lock(_Atomic uint64_t *flag, int nested);

/* An exporter-side exponential aggregate, merged from cells. */
struct otus__expagg {
    int scale;
    uint64_t count, zero;
    double sum, min, max;
    int32_t pos_off, neg_off;
    uint64_t *pos, *neg; /* owned, max_size each */
    size_t pos_n, neg_n; /* used lengths from the offsets */
    int max_size;
};
int otus__expagg_init(struct otus__expagg *a, int max_size, int max_scale);
void otus__expagg_free(struct otus__expagg *a);
/* Merges a consistent copy of a cell into a. */
void otus__expagg_merge_cell(struct otus__expagg *a, const struct otus__ecell *snapshot,
                             int max_size);

/* Current collection epoch (exemplar reservoirs reset when it changes). */
extern _Atomic uint32_t otus__metric_epoch;

/* Encodes an ExportMetricsServiceRequest of every instrument into out. Returns the
 * number of data points, or a negative status. */
long otus__metrics_collect(struct otus_buf *out);

/* Exemplar recording mode, from OTEL_METRICS_EXEMPLAR_FILTER. */
extern int otus__exemplar_mode;

/* Sums of a counter series over every slot (collect.c). */
int64_t otus__series_sum_int(const struct otus_series *s);
double otus__series_sum_double(const struct otus_series *s);

/* ---- span memory (pool.c) -------------------------------------------------------- */

#define OTUS__BLK_SIZE 512

struct otus__blk {
    _Atomic uint32_t free_next; /* pool free list: index + 1 of the next free block */
    uint32_t len;               /* bytes used in data[] */
    struct otus__blk *next;     /* next block of the same record */
    unsigned char data[];
};
#define OTUS__BLK_DATA (OTUS__BLK_SIZE - offsetof(struct otus__blk, data))

struct otus__pool {
    unsigned char *base; /* nblk blocks, mmap'ed */
    uint32_t nblk;
    _Atomic uint32_t bump; /* blocks never handed out start here */
    _Atomic uint64_t head; /* ABA tag << 32 | (index + 1) */
};

struct otus__pool *otus__pool_create(uint32_t nblk);
struct otus__blk *otus__pool_get(struct otus__pool *p);
/* Returns a chain (linked by next) to the pool. */
void otus__pool_put_chain(struct otus__pool *p, struct otus__blk *first);

/* ---- the span queue: a bounded MPSC ring of pointers (queue.c) -------------------- */

struct otus__qcell {
    _Atomic uint64_t seq;
    void *item;
};

struct otus__queue {
    _Alignas(OTUS__CACHELINE) _Atomic uint64_t tail; /* producers */
    _Alignas(OTUS__CACHELINE) _Atomic uint64_t head; /* the consumer */
    _Alignas(OTUS__CACHELINE) struct otus__qcell *cells;
    uint64_t mask;
    uint64_t wake_every;              /* producers wake the exporter every this many pushes */
    struct otus__queue *retired_next; /* an earlier queue, kept reachable */
};

int otus__queue_init(struct otus__queue *q, uint32_t min_capacity);
void otus__queue_free(struct otus__queue *q);
/* 0 or OTUS_ERR_FULL. Sets *wake when the exporter should be woken. */
int otus__queue_push(struct otus__queue *q, void *item, int *wake);
/* NULL when empty (single consumer). */
void *otus__queue_pop(struct otus__queue *q);
uint64_t otus__queue_depth(struct otus__queue *q);

/* ---- the log ring: variable-size records in a bounded MPSC byte ring (logring.c) -- */

struct otus__ring {
    _Alignas(OTUS__CACHELINE) _Atomic uint64_t head; /* producers reserve from here */
    _Alignas(OTUS__CACHELINE) _Atomic uint64_t tail; /* the consumer frees up to here */
    _Alignas(OTUS__CACHELINE) unsigned char *buf;
    uint64_t cap; /* power of two */
    uint64_t wake_bytes;
    struct otus__ring *retired_next; /* an earlier ring, kept reachable */
};

struct otus__ring_hdr {
    _Atomic uint64_t commit; /* the record's ring position plus one, once written */
    uint32_t len;            /* whole record, header included, multiple of 8 */
    uint32_t kind;           /* 0: padding, 1: log record */
};

int otus__ring_init(struct otus__ring *r, uint64_t min_capacity);
void otus__ring_free(struct otus__ring *r);
/* Writes the padding record that fills the end of the buffer before a wrapped record. */
void otus__ring_pad(struct otus__ring *r, uint64_t at, uint64_t pad);

/* Reserves len bytes (header included) for a record; NULL when full. Sets *wake when
 * the reservation crosses a wake_bytes boundary. */
static inline void *otus__ring_reserve(struct otus__ring *r, uint32_t len, uint64_t *pos, int *wake)
{
    len = (len + 7) & ~7u;
    uint64_t cap = r->cap;
    if (OTUS__UNLIKELY(len > cap / 2))
        return NULL;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t start, pad, end;
    for (;;) {
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        uint64_t off = head & (cap - 1);
        pad = OTUS__UNLIKELY(off + len > cap) ? cap - off : 0;
        start = head + pad;
        end = start + len;
        if (OTUS__UNLIKELY(end - tail > cap))
            return NULL;
        if (OTUS__LIKELY(atomic_compare_exchange_weak_explicit(
                &r->head, &head, end, memory_order_relaxed, memory_order_relaxed)))
            break;
    }
    if (OTUS__UNLIKELY(pad))
        otus__ring_pad(r, head, pad);
    struct otus__ring_hdr *h = (struct otus__ring_hdr *)(r->buf + (start & (cap - 1)));
    h->len = len;
    h->kind = 1;
    *pos = start;
    *wake = ((head ^ end) & ~(r->wake_bytes - 1)) != 0;
    return h;
}

/* Publishes a reserved record: the consumer reads it once commit holds pos + 1. */
static inline void otus__ring_commit(void *rec, uint64_t pos)
{
    struct otus__ring_hdr *h = rec;
    atomic_store_explicit(&h->commit, pos + 1, memory_order_release);
}
/* The next committed record (single consumer), or NULL. */
const struct otus__ring_hdr *otus__ring_peek(struct otus__ring *r);
void otus__ring_release(struct otus__ring *r, const struct otus__ring_hdr *h);

/* ---- record streams: attribute encoding shared by spans and logs (attr.c) --------- */

/* A writer into a chain of blocks (spans) or one contiguous area (logs). The caller
 * ensures room before writing: writes never fail. */
struct otus__wr {
    unsigned char *p, *end;
    struct otus__blk *blk; /* current block, NULL for a contiguous area */
};

static inline void otus__wr_bytes(struct otus__wr *w, const void *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    while (n) {
        if (w->p == w->end) {
            w->blk->len = OTUS__BLK_DATA;
            w->blk = w->blk->next;
            w->p = w->blk->data;
            w->end = w->blk->data + OTUS__BLK_DATA;
        }
        size_t room = (size_t)(w->end - w->p);
        size_t k = n < room ? n : room;
        memcpy(w->p, s, k);
        w->p += k;
        s += k;
        n -= k;
    }
}

static inline void otus__wr_u8(struct otus__wr *w, uint8_t v)
{
    otus__wr_bytes(w, &v, 1);
}
static inline void otus__wr_u16(struct otus__wr *w, uint16_t v)
{
    otus__wr_bytes(w, &v, 2);
}
static inline void otus__wr_u32(struct otus__wr *w, uint32_t v)
{
    otus__wr_bytes(w, &v, 4);
}
static inline void otus__wr_u64(struct otus__wr *w, uint64_t v)
{
    otus__wr_bytes(w, &v, 8);
}

/* A reader over the same layouts. */
struct otus__rd {
    const unsigned char *p, *end;
    const struct otus__blk *blk;
};

void otus__rd_bytes(struct otus__rd *r, void *dst, size_t n);
void otus__rd_skip(struct otus__rd *r, size_t n);
static inline uint8_t otus__rd_u8(struct otus__rd *r)
{
    if (OTUS__LIKELY(r->p < r->end))
        return *r->p++;
    uint8_t v;
    otus__rd_bytes(r, &v, 1);
    return v;
}
static inline uint16_t otus__rd_u16(struct otus__rd *r)
{
    uint16_t v;
    if (OTUS__LIKELY(r->end - r->p >= 2)) {
        memcpy(&v, r->p, 2);
        r->p += 2;
        return v;
    }
    otus__rd_bytes(r, &v, 2);
    return v;
}
static inline uint32_t otus__rd_u32(struct otus__rd *r)
{
    uint32_t v;
    if (OTUS__LIKELY(r->end - r->p >= 4)) {
        memcpy(&v, r->p, 4);
        r->p += 4;
        return v;
    }
    otus__rd_bytes(r, &v, 4);
    return v;
}
static inline uint64_t otus__rd_u64(struct otus__rd *r)
{
    uint64_t v;
    if (OTUS__LIKELY(r->end - r->p >= 8)) {
        memcpy(&v, r->p, 8);
        r->p += 8;
        return v;
    }
    otus__rd_bytes(r, &v, 8);
    return v;
}

/* A fast 64-bit hash of bytes (wyhash construction: two multiplications for up to 16
 * bytes). Used for attribute keys and values. */
static inline uint64_t otus__mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)(r >> 64) ^ (uint64_t)r;
}

static inline uint64_t otus__hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = (const unsigned char *)data;
    const uint64_t p0 = 0xa0761d6478bd642full, p1 = 0xe7037ed1a0b428dbull;
    uint64_t a, b;
    uint32_t x, y;
    seed ^= p0;
    if (n <= 16) {
        if (n >= 4) {
            size_t q = (n >> 3) << 2;
            memcpy(&x, p, 4);
            memcpy(&y, p + q, 4);
            a = (uint64_t)x << 32 | y;
            memcpy(&x, p + n - 4, 4);
            memcpy(&y, p + n - 4 - q, 4);
            b = (uint64_t)x << 32 | y;
        } else if (n) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        uint64_t u, v;
        while (i > 16) {
            memcpy(&u, p, 8);
            memcpy(&v, p + 8, 8);
            seed = otus__mum(u ^ p1, v ^ seed);
            p += 16;
            i -= 16;
        }
        memcpy(&a, p + i - 16, 8);
        memcpy(&b, p + i - 8, 8);
    }
    return otus__mum(p1 ^ n, otus__mum(a ^ p1, b ^ seed));
}

#define OTUS__ATTR_MAX_DEPTH 8
#define OTUS__KEY_MAX        65535u

/* Bytes otus__attr_put will write for a (value strings truncated to value_limit bytes,
 * 0: no limit). */
size_t otus__attr_size(const struct otus_attr *a, uint32_t value_limit);
void otus__attr_put(struct otus__wr *w, const struct otus_attr *a, uint32_t value_limit);

/* Copies n bytes; short copies (most keys and values) without a call: two overlapping
 * loads and stores of the widest size that fits, chosen in at most three tests. */
static inline void otus__copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (OTUS__LIKELY(n <= 16)) {
        if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
            memcpy(d, &a, 8);
            memcpy(d + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            memcpy(d, &a, 4);
            memcpy(d + n - 4, &b, 4);
        } else if (n) {
            unsigned char a = s[0], b = s[n >> 1], c = s[n - 1];
            d[0] = a;
            d[n >> 1] = b;
            d[n - 1] = c;
        }
    } else if (n <= 32) {
        uint64_t a, b, c, e;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8);
        memcpy(&e, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &c, 8);
        memcpy(d + n - 8, &e, 8);
    } else {
        memcpy(d, s, n);
    }
}

/* Length of a's key, at most OTUS__KEY_MAX (longer keys are cut). */
static inline uint32_t otus__key_len_of(const struct otus_attr *a)
{
    size_t k = a->key ? strlen(a->key) : 0;
    return k > OTUS__KEY_MAX ? OTUS__KEY_MAX : (uint32_t)k;
}

/* Length of a's string value (OTUS_NTS resolved), or 0 for NULL. */
static inline size_t otus__attr_strlen(const struct otus_attr *a)
{
    if (!a->v.s)
        return 0;
    return a->len == OTUS_NTS ? strlen(a->v.s) : a->len;
}

/* Bytes of the first limit UTF-8 characters of s[0..n) (all of it under the limit). */
size_t otus__utf8_prefix(const char *s, size_t n, uint32_t limit);

/*
 * Flat attributes (string, bool, int, double: nearly all of them) are sized once, then
 * written from the saved lengths by a loop with no room checks, since the caller
 * reserved the measured bytes. Other types, and entries past the first OTUS__FLAT_MAX,
 * take the general functions otus__attr_size and otus__attr_put.
 */
#define OTUS__FLAT_MAX 16
struct otus__alen {
    uint32_t key, value;
};

static inline int otus__attr_flat(uint32_t type)
{
    return type - OTUS_TYPE_STRING <= (uint32_t)(OTUS_TYPE_DOUBLE - OTUS_TYPE_STRING);
}

/* Bytes of a flat value after its key, by type, not counting a string's bytes: a 4-byte
 * length for strings, 1 for booleans, 8 for integers and doubles. */
extern const uint8_t otus__flat_value_sizes[8];

/* Bytes otus__attrs_write will write for a[0..n) (one entry kind byte each excluded);
 * fills len for the flat ones when n <= OTUS__FLAT_MAX. */
static inline size_t otus__attrs_measure(const struct otus_attr *a, size_t n, uint32_t limit,
                                         struct otus__alen *len)
{
    size_t bytes = 0;
    if (OTUS__UNLIKELY(n > OTUS__FLAT_MAX)) {
        for (size_t i = 0; i < n; i++)
            bytes += otus__attr_size(&a[i], limit);
        return bytes;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t t = a[i].type;
        if (OTUS__UNLIKELY(!otus__attr_flat(t))) {
            bytes += otus__attr_size(&a[i], limit);
            continue;
        }
        uint32_t kl = otus__key_len_of(&a[i]), vl = 0;
        if (t == OTUS_TYPE_STRING) {
            vl = a[i].len;
            if (OTUS__UNLIKELY(vl == OTUS_NTS || !a[i].v.s)) {
                size_t sl = otus__attr_strlen(&a[i]);
                vl = sl > 0xfffffffeu ? 0xfffffffeu : (uint32_t)sl;
            }
            if (OTUS__UNLIKELY(vl > limit))
                vl = (uint32_t)otus__utf8_prefix(a[i].v.s, vl, limit);
        }
        len[i].key = kl;
        len[i].value = vl;
        bytes += 3u + kl + vl + otus__flat_value_sizes[t];
    }
    return bytes;
}

/* Writes flat attribute a (lengths l) at p and returns the end. On little-endian
 * machines one 4-byte store writes the type and the key length; it also covers the byte
 * after them, which is written next (a flat entry is at least 4 bytes long). */
static inline unsigned char *otus__flat_put(unsigned char *p, const struct otus_attr *a,
                                            const struct otus__alen *l)
{
    uint32_t t = a->type, kl = l->key;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t hdr = t | kl << 8;
    memcpy(p, &hdr, 4);
#else
    uint16_t kl16 = (uint16_t)kl;
    p[0] = (unsigned char)t;
    memcpy(p + 1, &kl16, 2);
#endif
    otus__copy(p + 3, a->key, kl);
    p += 3 + kl;
    if (t == OTUS_TYPE_STRING) {
        memcpy(p, &l->value, 4);
        otus__copy(p + 4, a->v.s, l->value);
        return p + 4 + l->value;
    }
    if (t == OTUS_TYPE_BOOL) {
        *p = a->v.b != 0;
        return p + 1;
    }
    memcpy(p, &a->v.i, 8);
    return p + 8;
}

/* otus__attrs_write with room checks at every write (entries crossing span blocks). */
void otus__attrs_write_general(struct otus__wr *w, const struct otus_attr *a, size_t n,
                               uint32_t limit, const struct otus__alen *len, int entry_kind);

/* Writes a[0..n), measured as bytes by otus__attrs_measure, each preceded by the byte
 * entry_kind when it is not 0 (n more bytes). When all of it fits before w->end (always
 * for logs; for spans unless it crosses into the next block), flat entries take the
 * unchecked loop. */
static inline __attribute__((always_inline)) void
otus__attrs_write(struct otus__wr *w, const struct otus_attr *a, size_t n, uint32_t limit,
                  const struct otus__alen *len, int entry_kind, size_t bytes)
{
    size_t kind = entry_kind ? 1 : 0;
    if (OTUS__UNLIKELY(n > OTUS__FLAT_MAX || (size_t)(w->end - w->p) < bytes + kind * n)) {
        otus__attrs_write_general(w, a, n, limit, len, entry_kind);
        return;
    }
    unsigned char *p = w->p; /* in a register: byte stores would make w->p reload */
    for (size_t i = 0; i < n; i++) {
        if (kind)
            *p++ = (unsigned char)entry_kind;
        if (OTUS__LIKELY(otus__attr_flat(a[i].type))) {
            p = otus__flat_put(p, &a[i], &len[i]);
        } else {
            w->p = p;
            otus__attr_put(w, &a[i], limit);
            p = w->p;
        }
    }
    w->p = p;
}

/* ---- protobuf writer (pb.c) ------------------------------------------------------ */

struct otus__pb {
    struct otus_buf *b;
    int err; /* first failure, sticky */
};

void otus__pb_raw_slow(struct otus__pb *w, const void *p, size_t n);
void otus__pb_varint_slow(struct otus__pb *w, uint64_t v);

/* Appends in place when the buffer has room (the common case), else grows it. */
static inline void otus__pb_raw(struct otus__pb *w, const void *p, size_t n)
{
    struct otus_buf *b = w->b;
    if (OTUS__LIKELY(b->cap - b->len >= n)) {
        otus__copy(b->data + b->len, p, n);
        b->len += n;
        return;
    }
    otus__pb_raw_slow(w, p, n);
}

static inline void otus__pb_varint(struct otus__pb *w, uint64_t v)
{
    struct otus_buf *b = w->b;
    if (OTUS__LIKELY(b->cap - b->len >= 10)) {
        unsigned char *p = (unsigned char *)b->data + b->len, *start = p;
        while (v >= 0x80) {
            *p++ = (unsigned char)(v | 0x80);
            v >>= 7;
        }
        *p++ = (unsigned char)v;
        b->len += (size_t)(p - start);
        return;
    }
    otus__pb_varint_slow(w, v);
}
static inline void otus__pb_tag(struct otus__pb *w, uint32_t field, uint32_t wire)
{
    otus__pb_varint(w, (uint64_t)field << 3 | wire);
}
void otus__pb_uint(struct otus__pb *w, uint32_t field, uint64_t v);    /* omitted when 0 */
void otus__pb_sint32(struct otus__pb *w, uint32_t field, int32_t v);   /* zigzag, omitted when 0 */
void otus__pb_fixed64(struct otus__pb *w, uint32_t field, uint64_t v); /* omitted when 0 */
void otus__pb_fixed64_always(struct otus__pb *w, uint32_t field, uint64_t v);
void otus__pb_fixed32(struct otus__pb *w, uint32_t field, uint32_t v); /* omitted when 0 */
void otus__pb_double_always(struct otus__pb *w, uint32_t field, double v);
void otus__pb_bytes(struct otus__pb *w, uint32_t field, const void *p,
                    size_t n); /* omitted when empty */
void otus__pb_bytes_always(struct otus__pb *w, uint32_t field, const void *p, size_t n);
/* Opens a length-delimited field with a one-byte length placeholder; returns the mark
 * otus__pb_close needs. */
static inline size_t otus__pb_open(struct otus__pb *w, uint32_t field)
{
    otus__pb_tag(w, field, 2);
    otus__pb_raw(w, "", 1);
    return w->err ? 0 : w->b->len;
}

/* Closes it: the length goes in place, and only a body of 128 bytes or more moves to
 * make room for a longer varint. */
void otus__pb_close_long(struct otus__pb *w, size_t mark);
static inline void otus__pb_close(struct otus__pb *w, size_t mark)
{
    size_t len = w->b->len - mark;
    if (OTUS__LIKELY(len < 0x80 && !w->err)) {
        w->b->data[mark - 1] = (char)len;
        return;
    }
    otus__pb_close_long(w, mark);
}

/* Encodes the attribute at r (otus__attr_put layout) as a KeyValue in field; the
 * reader is advanced past it. */
void otus__pb_attr_from_stream(struct otus__pb *w, uint32_t field, struct otus__rd *r);
/* Skips one encoded attribute, storing its key (up to cap bytes; *key_len full length)
 * and a hash of the key. */
uint64_t otus__attr_skip_key(struct otus__rd *r, char *key, size_t cap, size_t *key_len);
/* Encodes attrs (user form) as KeyValues in field. */
void otus__pb_attrs(struct otus__pb *w, uint32_t field, const struct otus_attr *a, size_t n);
void otus__pb_kv_string(struct otus__pb *w, uint32_t field, const char *key, const char *value);
void otus__pb_resource(struct otus__pb *w, uint32_t field);
void otus__pb_scope(struct otus__pb *w, uint32_t field);

/* Encodes the attributes of one record stream segment: count entries at r, with
 * duplicate keys resolved to the last one; r is advanced past them. */
void otus__pb_stream_attrs(struct otus__pb *w, uint32_t field, struct otus__rd *r, uint32_t count);
/* An attribute's place in a record stream, with its key's hash and length. */
struct otus__acur {
    struct otus__rd at;
    uint64_t key_hash;
    uint32_t key_len;
};
/* Notes the attribute at r in c and moves r past it. */
void otus__acur_take(struct otus__acur *c, struct otus__rd *r);
/* Writes c[0..n) as KeyValues in field; a key that appears again later is left out,
 * so the last value set wins. */
void otus__pb_attr_cursors(struct otus__pb *w, uint32_t field, const struct otus__acur *c,
                           uint32_t n);
/* A string field (omitted when empty) with ill-formed UTF-8 replaced by U+FFFD. */
void otus__pb_string(struct otus__pb *w, uint32_t field, const char *p, size_t n);
/* The same for n bytes of a record stream. */
void otus__pb_stream_string(struct otus__pb *w, uint32_t field, struct otus__rd *r, size_t n);
/* Frees the background thread's encoding scratch. */
void otus__pb_scratch_free(void);

/* ---- spans (trace.c, encode_trace.c) --------------------------------------------- */

/* Entry kinds in a span record stream. */
#define OTUS__E_NAME       1
#define OTUS__E_ATTR       2
#define OTUS__E_EVENT      3
#define OTUS__E_LINK       4
#define OTUS__E_STATUS_MSG 5
#define OTUS__E_TRACESTATE 6

struct otus__span_rec {
    struct otus__pool *pool;
    struct otus__blk *tail; /* appends go here */
    uint64_t start, end;    /* ticks, or Unix ns with OTUS__TIME_NS_FLAG */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8];
    _Atomic uint32_t lock;
    uint8_t kind, flags, status, has_parent;
    uint8_t parent_remote, ended, pad_[2];
    uint16_t n_attrs, n_events, n_links, n_blocks;
    uint32_t dropped_attrs, dropped_events, dropped_links;
    uint32_t n_entries;
};

/* Encodes the ExportTraceServiceRequest for recs[0..n) into out. */
int otus__encode_spans(struct otus_buf *out, struct otus__span_rec *const *recs, size_t n);
/* Frees a span record's blocks. */
void otus__span_rec_free(struct otus__span_rec *rec);

/* Full-length mutexes (the library's, the registry's) for fork handlers. */
void otus__registry_lock(void);
void otus__registry_unlock(void);
void otus__registry_reset_after_fork(void);

/* ---- logs (log.c, encode_log.c) ---------------------------------------------------- */

/* "TRACE", "DEBUG", "INFO", "WARN", "ERROR" or "FATAL" for a level (the names of
 * OTLP's severity ranges, used as severity text and in JSON lines). */
const char *otus__level_name(int level);

/* A log record in the ring: header, then the message and the fields. */
struct otus__log_rec {
    struct otus__ring_hdr h;
    uint64_t time; /* ticks */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t level, trace_flags, has_ctx, pad_;
    uint32_t msg_len;
    uint32_t n_fields;
    uint32_t dropped_fields;
    /* message bytes, then n_fields encoded attributes */
};

/* The lowest log level written (otus_log_threshold() points at it). */
extern int otus__log_min_level;

/* Writes the JSON line of rec to out. */
int otus__log_format_json(struct otus_buf *out, const struct otus__log_rec *rec, uint64_t unix_ns);
/* Formats and writes a record on the caller's thread (library stopped). */
void otus__log_write_direct(int level, const struct otus_span_context *ctx, const char *msg,
                            size_t msg_len, const struct otus_attr *fields, size_t n_fields);
/* Appends one LogRecord (field 2 of ScopeLogs) for rec. */
void otus__encode_log_record(struct otus__pb *w, const struct otus__log_rec *rec, uint64_t unix_ns);

/* ---- the library (sdk.c) --------------------------------------------------------- */

enum otus__state {
    OTUS__STOPPED = 0,
    OTUS__STARTING,
    OTUS__RUNNING,
    OTUS__STOPPING,
};

struct otus__exporter; /* export.c */

struct otus__lib {
    _Atomic int state;     /* enum otus__state */
    _Atomic int recording; /* spans record (running and not disabled) */
    int disabled;
    struct otus__settings set;
    pthread_mutex_t lock; /* init, shutdown, fork; never taken on a record path */
    int atfork_registered;
    struct otus__pool *pool;            /* span blocks, kept for the life of the process */
    struct otus__queue *_Atomic span_q; /* ended spans */
    struct otus__ring *_Atomic log_ring;
    struct otus__queue *retired_q;   /* earlier queues and rings: never freed, since a */
    struct otus__ring *retired_ring; /* thread may still hold a pointer to them */
    struct otus__exporter *exp;
    struct otus_buf resource_pb; /* the Resource message body, sent with every request */
    char *service_name;          /* for JSON lines */
    int log_fd;                  /* the JSON sink; -1: none */
    int log_fd_owned;
    /* Wakes the background thread: producers bump it and futex-wake a sleeper. */
    _Atomic uint32_t wake;
    _Atomic uint32_t sleeping;
};

extern struct otus__lib otus__g;

/* Wakes the background thread (async-signal-safe). */
void otus__wake_exporter(void);
/* Sleeps the background thread until woken or timeout_ns passed. */
void otus__exporter_sleep(uint64_t timeout_ns);
/* Applies settings to the trace module (sampler threshold). */
void otus__trace_configure(void);
/* Creates an instrument of the library itself (any state). */
struct otus_metric *otus__metric_create_internal(const struct otus_metric_opts *o);
/* Child after fork: every series starts over. */
void otus__metrics_after_fork(void);
/* Encodes one span record as a Span (field 2 of ScopeSpans). */
void otus__encode_span(struct otus__pb *w, struct otus__span_rec *rec);
/* Frees the encoders' scratch (background thread). */
void otus__encode_scratch_free(void);

/* ---- the background exporter (export.c) ------------------------------------------- */

int otus__exporter_start(void);
/* Set by unit tests before otus_init(): no background thread is started, and the
 * tests drain the span queue and the log ring themselves. */
extern int otus__exporter_manual;
/* Asks the exporter to flush and waits until done or the deadline (mono ns). */
int otus__exporter_flush(uint64_t deadline_ns);
/* Stops and joins the exporter thread, freeing its resources. */
int otus__exporter_stop(uint64_t deadline_ns);
/* Child after fork: forget the parent's exporter (its thread does not exist here). */
void otus__exporter_forget(void);

/* ---- HTTP semantic conventions (http.c) ------------------------------------------ */

int otus__http_metrics_init(void);

#endif
