/*
 * exphist.c: the base-2 exponential histogram aggregation of the OpenTelemetry
 * metrics SDK (MaxSize 160 and MaxScale 20 by default).
 *
 * Bucket index i at scale s holds the values in (2^(i/2^s), 2^((i+1)/2^s)]. The index
 * of a value is computed without log() for scales up to 10: the IEEE exponent gives
 * the octave, and a 2048-entry table indexed by the top 11 mantissa bits gives the
 * scale-10 sub-bucket to within one, settled by one comparison with the exact
 * boundary. Buckets nest, so the index at scale s <= 10 is the scale-10 index shifted
 * right by 10 - s. Scales above 10 (data of very small contrast) use log2() with the
 * boundary check. Exact powers of two are lower boundaries and handled exactly.
 *
 * A cell keeps one window of max_size buckets per sign. A value outside the window
 * moves the window when the occupied range still fits, and otherwise lowers the scale
 * by the smallest step that makes it fit, merging buckets pairwise in place: the
 * histogram keeps the best resolution its size allows, as the specification asks.
 * Cells written by one thread are guarded by a seqlock so the background thread can
 * copy a consistent snapshot while the owner keeps recording.
 */
#include "internal.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>

#define TAB_SCALE 10
#define MIN_SCALE (-10)

double otus__exp_bound10[(1 << TAB_SCALE) + 1]; /* 2^(j/1024) */
uint16_t otus__exp_lut10[2048];                 /* scale-10 sub-bucket at mantissa k/2048 */
#define bound10 otus__exp_bound10
#define lut10   otus__exp_lut10
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (int j = 0; j <= 1 << TAB_SCALE; j++)
        bound10[j] = exp2((double)j / (double)(1 << TAB_SCALE));
    bound10[0] = 1.0;
    bound10[1 << TAB_SCALE] = 2.0;
    int j = 0;
    for (int k = 0; k < 2048; k++) {
        double m = 1.0 + (double)k / 2048.0;
        /* Largest j with bound10[j] < m (values are strictly above 1 in k = 0). */
        while (j + 1 < (1 << TAB_SCALE) && bound10[j + 1] < m)
            j++;
        lut10[k] = (uint16_t)j;
    }
}

int otus__exp_init(void)
{
    pthread_once(&tab_once, build_tables);
    return 0;
}

int32_t otus__exp_index(double v, int scale)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff);
    uint64_t mant = bits & ((1ull << 52) - 1);
    if (e == 0) { /* subnormal: rounded up to the smallest normal, as the spec allows */
        e = 1;
        mant = 0;
    }
    int32_t exp = e - 1023;
    if (scale <= 0) {
        int32_t i = mant == 0 ? exp - 1 : exp;
        return i >> -scale; /* arithmetic shift: floor division */
    }
    if (mant == 0)
        return (int32_t)((uint32_t)exp << scale) - 1;
    uint64_t mbits = mant | (1023ull << 52);
    double m;
    memcpy(&m, &mbits, sizeof(m)); /* the significand, in (1, 2) */
    if (scale <= TAB_SCALE) {
        int32_t j = lut10[mant >> 41];
        if (m > bound10[j + 1])
            j++;
        int32_t i10 = (int32_t)((uint32_t)exp << TAB_SCALE) + j;
        return i10 >> (TAB_SCALE - scale);
    }
    double per = (double)(1 << scale);
    int32_t j = (int32_t)ceil(log2(m) * per) - 1;
    if (j < 0)
        j = 0;
    if (j >= (1 << scale))
        j = (1 << scale) - 1;
    /* Settle rounding at the boundaries: (2^(j/2^s), 2^((j+1)/2^s)]. */
    if (j > 0 && m <= exp2((double)j / per))
        j--;
    else if (j + 1 < (1 << scale) && m > exp2((double)(j + 1) / per))
        j++;
    return (int32_t)((uint32_t)exp << scale) + j;
}

/* The index of a positive normal v at a scale up to 10, inline; anything else goes to
 * otus__exp_index. */
static inline int32_t index_fast(double v, int scale)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    if (OTUS__UNLIKELY(b - OTUS__EXP_MIN_NORMAL >= OTUS__EXP_INF - OTUS__EXP_MIN_NORMAL ||
                       (uint32_t)(scale - 1) >= (uint32_t)TAB_SCALE))
        return otus__exp_index(v, scale);
    return otus__exp_index_small(b, scale);
}

/* ---- cells ------------------------------------------------------------------------ */

static inline uint64_t ld64(const _Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}
/* Stores inside a seqlock's write section are release stores: none can become
 * visible before the odd sequence number (free on x86-64). */
static inline void st64(_Atomic uint64_t *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_release);
}
static inline int32_t ld32(const _Atomic int32_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}
static inline void st32(_Atomic int32_t *p, int32_t v)
{
    atomic_store_explicit(p, v, memory_order_release);
}
static inline double dbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}
static inline uint64_t bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

struct range {
    _Atomic int32_t *base, *lo, *hi;
    _Atomic uint32_t *used;
    _Atomic uint64_t *counts;
};

static void get_range(struct otus__ecell *c, int m, int neg, struct range *r)
{
    if (neg) {
        r->base = &c->neg_base;
        r->lo = &c->neg_lo;
        r->hi = &c->neg_hi;
        r->used = &c->neg_used;
        r->counts = c->counts + m;
    } else {
        r->base = &c->pos_base;
        r->lo = &c->pos_lo;
        r->hi = &c->pos_hi;
        r->used = &c->pos_used;
        r->counts = c->counts;
    }
}

/* Moves the occupied buckets so that [lo, hi] sits centred in a window of m. */
static void rebase(struct range *r, int m, int32_t new_lo, int32_t new_hi)
{
    int32_t base = ld32(r->base), lo = ld32(r->lo), hi = ld32(r->hi);
    int32_t nb = new_lo - (m - (new_hi - new_lo + 1)) / 2;
    if (nb == base)
        return;
    if (nb < base) { /* moving right in the array: copy from the top */
        for (int32_t i = hi; i >= lo; i--) {
            uint64_t v = ld64(&r->counts[i - base]);
            st64(&r->counts[i - base], 0);
            st64(&r->counts[i - nb], v);
        }
    } else {
        for (int32_t i = lo; i <= hi; i++) {
            uint64_t v = ld64(&r->counts[i - base]);
            st64(&r->counts[i - base], 0);
            st64(&r->counts[i - nb], v);
        }
    }
    st32(r->base, nb);
}

/* Lowers a range's resolution by c: buckets i become i >> c, in place. */
static void downscale(struct range *r, int c)
{
    if (!atomic_load_explicit(r->used, memory_order_relaxed) || c <= 0)
        return;
    int32_t base = ld32(r->base), lo = ld32(r->lo), hi = ld32(r->hi);
    int32_t nlo = lo >> c;
    /* Targets never pass their sources (t <= s) and sources only grow, so one
     * ascending pass merges in place. */
    for (int32_t i = lo; i <= hi; i++) {
        int32_t s = i - base, t = (i >> c) - nlo;
        uint64_t v = ld64(&r->counts[s]);
        if (s != t) {
            st64(&r->counts[s], 0);
            st64(&r->counts[t], ld64(&r->counts[t]) + v);
        }
    }
    st32(r->base, nlo);
    st32(r->lo, nlo);
    st32(r->hi, hi >> c);
}

static void add_to_range(struct otus__ecell *c, int m, int max_scale, int neg, double a)
{
    struct range r;
    get_range(c, m, neg, &r);
    if (!atomic_load_explicit(&c->pos_used, memory_order_relaxed) &&
        !atomic_load_explicit(&c->neg_used, memory_order_relaxed))
        st32(&c->scale, max_scale); /* a single value gets the maximum scale */
    int scale = ld32(&c->scale);
    int32_t idx = otus__exp_index(a, scale);
    if (!atomic_load_explicit(r.used, memory_order_relaxed)) {
        st32(r.base, idx - m / 2);
        st32(r.lo, idx);
        st32(r.hi, idx);
        atomic_store_explicit(r.used, 1, memory_order_release);
        st64(&r.counts[m / 2], ld64(&r.counts[m / 2]) + 1);
        return;
    }
    int32_t base = ld32(r.base), lo = ld32(r.lo), hi = ld32(r.hi);
    if (idx < base || idx >= base + m) {
        int32_t nlo = idx < lo ? idx : lo, nhi = idx > hi ? idx : hi;
        if ((int64_t)nhi - nlo + 1 > m) {
            int ch = 0;
            while (((int64_t)(nhi >> ch) - (nlo >> ch) + 1) > m && scale - ch > MIN_SCALE)
                ch++;
            struct range other;
            get_range(c, m, !neg, &other);
            downscale(&r, ch);
            downscale(&other, ch);
            scale -= ch;
            st32(&c->scale, scale);
            idx = otus__exp_index(a, scale);
            lo = ld32(r.lo);
            hi = ld32(r.hi);
            nlo = idx < lo ? idx : lo;
            nhi = idx > hi ? idx : hi;
        }
        base = ld32(r.base);
        if (idx < base || idx >= base + m) {
            rebase(&r, m, nlo, nhi);
            base = ld32(r.base);
        }
    }
    if (idx < lo)
        st32(r.lo, idx);
    if (idx > hi)
        st32(r.hi, idx);
    st64(&r.counts[idx - base], ld64(&r.counts[idx - base]) + 1);
}

static void record_locked(struct otus__ecell *c, int m, int max_scale, double v)
{
    uint64_t n = ld64(&c->count);
    st64(&c->count, n + 1);
    st64(&c->sum, bits(dbl(ld64(&c->sum)) + v));
    if (n == 0 || v < dbl(ld64(&c->min)))
        st64(&c->min, bits(v));
    if (n == 0 || v > dbl(ld64(&c->max)))
        st64(&c->max, bits(v));
    /* The common case: a positive value inside the current window. */
    if (v > 0 && atomic_load_explicit(&c->pos_used, memory_order_relaxed)) {
        int32_t idx = index_fast(v, ld32(&c->scale));
        int32_t base = ld32(&c->pos_base);
        if ((uint32_t)(idx - base) < (uint32_t)m) {
            st64(&c->counts[idx - base], ld64(&c->counts[idx - base]) + 1);
            if (idx < ld32(&c->pos_lo))
                st32(&c->pos_lo, idx);
            if (idx > ld32(&c->pos_hi))
                st32(&c->pos_hi, idx);
            return;
        }
    }
    if (v == 0) {
        st64(&c->zero, ld64(&c->zero) + 1);
        return;
    }
    add_to_range(c, m, max_scale, v < 0, fabs(v));
}

void otus__exp_record(struct otus__ecell *c, int m, int max_scale, double v)
{
    /* Seqlock: odd while the owner writes; the reader retries. */
    uint64_t seq = ld64(&c->seq);
    st64(&c->seq, seq + 1);
    record_locked(c, m, max_scale, v);
    atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
}

int otus__spin_lock(_Atomic uint64_t *flag, int nested)
{
    for (unsigned spin = 0;; spin++) {
        uint64_t z = 0;
        if (atomic_compare_exchange_weak_explicit(flag, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return 1;
        if (nested && spin >= 64)
            return 0;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        if (spin % 64 == 63)
            sched_yield();
    }
}

/* The shared cell: its spin flag (the lock word) around the same update. */
int otus__exp_record_shared(struct otus__ecell *c, int m, int max_scale, double v, int nested)
{
    if (!otus__spin_lock((_Atomic uint64_t *)&c->lock, nested))
        return OTUS_ERR_FULL;
    uint64_t seq = ld64(&c->seq);
    st64(&c->seq, seq + 1);
    record_locked(c, m, max_scale, v);
    atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
    atomic_store_explicit((_Atomic uint64_t *)&c->lock, 0, memory_order_release);
    return 0;
}

/* ---- exporter-side aggregation ------------------------------------------------------ */

int otus__expagg_init(struct otus__expagg *a, int max_size, int max_scale)
{
    memset(a, 0, sizeof(*a));
    a->max_size = max_size;
    a->scale = max_scale;
    a->pos = calloc((size_t)max_size, sizeof(uint64_t));
    a->neg = calloc((size_t)max_size, sizeof(uint64_t));
    if (!a->pos || !a->neg) {
        otus__expagg_free(a);
        return OTUS_ERR_NOMEM;
    }
    return 0;
}

void otus__expagg_free(struct otus__expagg *a)
{
    if (!a)
        return;
    free(a->pos);
    free(a->neg);
    a->pos = a->neg = NULL;
}

/* An aggregate range: counts[0..n) for indices off..off+n-1. */
static void agg_downscale(uint64_t *counts, int32_t *off, size_t *n, int c)
{
    if (!*n || c <= 0)
        return;
    int32_t lo = *off, hi = *off + (int32_t)*n - 1;
    int32_t nlo = lo >> c;
    for (int32_t i = lo; i <= hi; i++) {
        int32_t s = i - lo, t = (i >> c) - nlo;
        if (s != t) {
            counts[t] += counts[s];
            counts[s] = 0;
        }
    }
    *off = nlo;
    *n = (size_t)((hi >> c) - nlo + 1);
}

static int fits(int32_t lo, int32_t hi, int m)
{
    return (int64_t)hi - lo + 1 <= m;
}

/* Adds count v at index i (already at the aggregate's scale). The caller has made
 * sure the range fits. */
static void agg_add(uint64_t *counts, int32_t *off, size_t *n, int m, int32_t i, uint64_t v)
{
    if (!*n) {
        *off = i;
        *n = 1;
        counts[0] += v;
        return;
    }
    if (i < *off) {
        size_t shift = (size_t)(*off - i);
        memmove(counts + shift, counts, *n * sizeof(uint64_t));
        memset(counts, 0, shift * sizeof(uint64_t));
        *off = i;
        *n += shift;
    } else if (i >= *off + (int32_t)*n) {
        *n = (size_t)(i - *off + 1);
    }
    (void)m;
    counts[i - *off] += v;
}

void otus__expagg_merge_cell(struct otus__expagg *a, const struct otus__ecell *c, int m)
{
    uint64_t count = atomic_load_explicit(&c->count, memory_order_relaxed);
    if (!count)
        return;
    double cmin = dbl(atomic_load_explicit(&c->min, memory_order_relaxed));
    double cmax = dbl(atomic_load_explicit(&c->max, memory_order_relaxed));
    if (a->count == 0 || cmin < a->min)
        a->min = cmin;
    if (a->count == 0 || cmax > a->max)
        a->max = cmax;
    a->count += count;
    a->sum += dbl(atomic_load_explicit(&c->sum, memory_order_relaxed));
    a->zero += atomic_load_explicit(&c->zero, memory_order_relaxed);
    int pu = (int)atomic_load_explicit(&c->pos_used, memory_order_relaxed);
    int nu = (int)atomic_load_explicit(&c->neg_used, memory_order_relaxed);
    if (!pu && !nu)
        return;
    int cs = atomic_load_explicit(&c->scale, memory_order_relaxed);
    int32_t plo = atomic_load_explicit(&c->pos_lo, memory_order_relaxed);
    int32_t phi = atomic_load_explicit(&c->pos_hi, memory_order_relaxed);
    int32_t pbase = atomic_load_explicit(&c->pos_base, memory_order_relaxed);
    int32_t nlo = atomic_load_explicit(&c->neg_lo, memory_order_relaxed);
    int32_t nhi = atomic_load_explicit(&c->neg_hi, memory_order_relaxed);
    int32_t nbase = atomic_load_explicit(&c->neg_base, memory_order_relaxed);

    /* Common scale: the lower one, then lower still until both ranges fit. */
    int s = cs < a->scale ? cs : a->scale;
    for (;;) {
        int dc = cs - s, da = a->scale - s;
        int ok = 1;
        if (pu) {
            int32_t lo = plo >> dc, hi = phi >> dc;
            if (a->pos_n) {
                int32_t alo = a->pos_off >> da, ahi = (a->pos_off + (int32_t)a->pos_n - 1) >> da;
                lo = lo < alo ? lo : alo;
                hi = hi > ahi ? hi : ahi;
            }
            ok &= fits(lo, hi, m);
        }
        if (nu) {
            int32_t lo = nlo >> dc, hi = nhi >> dc;
            if (a->neg_n) {
                int32_t alo = a->neg_off >> da, ahi = (a->neg_off + (int32_t)a->neg_n - 1) >> da;
                lo = lo < alo ? lo : alo;
                hi = hi > ahi ? hi : ahi;
            }
            ok &= fits(lo, hi, m);
        }
        if (ok || s <= MIN_SCALE)
            break;
        s--;
    }
    agg_downscale(a->pos, &a->pos_off, &a->pos_n, a->scale - s);
    agg_downscale(a->neg, &a->neg_off, &a->neg_n, a->scale - s);
    a->scale = s;
    int dc = cs - s;
    if (pu)
        for (int32_t i = plo; i <= phi; i++) {
            uint64_t v = atomic_load_explicit(&c->counts[i - pbase], memory_order_relaxed);
            if (v)
                agg_add(a->pos, &a->pos_off, &a->pos_n, m, i >> dc, v);
        }
    if (nu)
        for (int32_t i = nlo; i <= nhi; i++) {
            uint64_t v = atomic_load_explicit(&c->counts[m + i - nbase], memory_order_relaxed);
            if (v)
                agg_add(a->neg, &a->neg_off, &a->neg_n, m, i >> dc, v);
        }
}
