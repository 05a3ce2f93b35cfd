/*
 * collect.c: the metric collection of the background thread.
 *
 * Every export interval it walks every instrument and series, sums each series over
 * the cell regions of every slot that ever recorded (counters: a plain sum; histogram
 * cells: a seqlock-consistent copy per slot, merged), and writes one
 * ExportMetricsServiceRequest with cumulative temporality. Exemplars recorded since
 * the previous collection ride along on histogram points.
 */
#include "internal.h"

#include <stdlib.h>

#include "common/buf.h"

static uint64_t last_collect_tick; /* exemplars newer than this are exported */

static inline double bdbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* The regions of every slot that ever held cells; returns how many. */
static size_t regions(unsigned char **out)
{
    size_t n = 0;
    for (unsigned i = 0; i < OTUS__SLOTS; i++) {
        uint64_t ever = atomic_load_explicit(&otus__cells.ever[i / 64], memory_order_acquire);
        if (!((ever >> (i % 64)) & 1))
            continue;
        unsigned char *r = otus__cells_region(i);
        if (r)
            out[n++] = r;
    }
    return n;
}

int64_t otus__series_sum_int(const struct otus_series *s)
{
    if (s->off == SIZE_MAX)
        return 0;
    int64_t sum = 0;
    unsigned char *regs[OTUS__SLOTS];
    size_t nreg = regions(regs);
    for (size_t ri = 0; ri < nreg; ri++) {
        unsigned char *r = regs[ri];
        sum += atomic_load_explicit((_Atomic int64_t *)(r + s->off), memory_order_relaxed);
    }
    return sum;
}

double otus__series_sum_double(const struct otus_series *s)
{
    if (s->off == SIZE_MAX)
        return 0;
    double sum = 0;
    unsigned char *regs[OTUS__SLOTS];
    size_t nreg = regions(regs);
    for (size_t ri = 0; ri < nreg; ri++) {
        unsigned char *r = regs[ri];
        sum += bdbl(atomic_load_explicit((_Atomic uint64_t *)(r + s->off), memory_order_relaxed));
    }
    return sum;
}

/* ---- explicit histograms ------------------------------------------------------------ */

struct hsum {
    uint64_t count;
    double sum, min, max;
    uint64_t *buckets; /* nb + 1 */
};

/* Copies a consistent view of cell c into out (buckets zeroed by the caller). */
static void hcell_read(const struct otus__hcell *c, size_t nb, struct hsum *acc)
{
    uint64_t tmp[1024 + 1];
    uint64_t *b = nb + 1 <= sizeof(tmp) / sizeof(tmp[0]) ? tmp : malloc((nb + 1) * 8);
    if (!b)
        return;
    uint64_t count;
    double sum, min, max;
    for (int tries = 0;; tries++) {
        uint64_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s1 & 1) {
            if (tries > 100000)
                break;
            continue;
        }
        count = atomic_load_explicit(&c->count, memory_order_acquire);
        sum = bdbl(atomic_load_explicit(&c->sum, memory_order_acquire));
        min = bdbl(atomic_load_explicit(&c->min, memory_order_acquire));
        max = bdbl(atomic_load_explicit(&c->max, memory_order_acquire));
        for (size_t i = 0; i <= nb; i++)
            b[i] = atomic_load_explicit(&c->bucket[i], memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s1 == s2) {
            if (count) {
                if (acc->count == 0 || min < acc->min)
                    acc->min = min;
                if (acc->count == 0 || max > acc->max)
                    acc->max = max;
                acc->count += count;
                acc->sum += sum;
                for (size_t i = 0; i <= nb; i++)
                    acc->buckets[i] += b[i];
            }
            break;
        }
    }
    if (b != tmp)
        free(b);
}

/* A consistent copy of an exemplar, or 0 when empty or stale. */
static int exemplar_read(const struct otus__exemplar *e, struct otus__exemplar *out)
{
    for (int tries = 0; tries < 100000; tries++) {
        uint64_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        uint64_t t = atomic_load_explicit(&e->time, memory_order_acquire);
        uint64_t v = atomic_load_explicit(&e->value, memory_order_acquire);
        uint64_t t0 = atomic_load_explicit(&e->tid[0], memory_order_acquire);
        uint64_t t1 = atomic_load_explicit(&e->tid[1], memory_order_acquire);
        uint64_t sid = atomic_load_explicit(&e->sid, memory_order_acquire);
        if (atomic_load_explicit(&e->seq, memory_order_acquire) != s1)
            continue;
        if (!t || t <= last_collect_tick)
            return 0;
        atomic_store_explicit(&out->time, t, memory_order_relaxed);
        atomic_store_explicit(&out->value, v, memory_order_relaxed);
        atomic_store_explicit(&out->tid[0], t0, memory_order_relaxed);
        atomic_store_explicit(&out->tid[1], t1, memory_order_relaxed);
        atomic_store_explicit(&out->sid, sid, memory_order_relaxed);
        return 1;
    }
    return 0;
}

static void write_exemplar(struct otus__pb *w, uint32_t field, const struct otus__exemplar *e)
{
    size_t x = otus__pb_open(w, field);
    uint64_t t = atomic_load_explicit(&e->time, memory_order_acquire);
    otus__pb_fixed64(w, 2, otus__ticks_to_unix_ns(t));
    otus__pb_double_always(w, 3, bdbl(atomic_load_explicit(&e->value, memory_order_acquire)));
    uint64_t sid = atomic_load_explicit(&e->sid, memory_order_acquire);
    uint64_t tid[2] = {atomic_load_explicit(&e->tid[0], memory_order_acquire),
                       atomic_load_explicit(&e->tid[1], memory_order_acquire)};
    if (sid)
        otus__pb_bytes(w, 4, &sid, 8);
    if (tid[0] | tid[1])
        otus__pb_bytes(w, 5, tid, 16);
    otus__pb_close(w, x);
}

/* The freshest exemplar of each of n slots across every region. */
static size_t gather_exemplars(const struct otus_series *s, size_t n, struct otus__exemplar *out)
{
    if (s->ex_off == SIZE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&out[i].time, 0, memory_order_relaxed);
    unsigned char *regs[OTUS__SLOTS];
    size_t nreg = regions(regs);
    for (size_t ri = 0; ri < nreg; ri++) {
        unsigned char *r = regs[ri];
        const struct otus__exemplar *ex = (const struct otus__exemplar *)(r + s->ex_off);
        for (size_t i = 0; i < n; i++) {
            struct otus__exemplar e;
            if (exemplar_read(&ex[i], &e) &&
                atomic_load_explicit(&e.time, memory_order_relaxed) >
                    atomic_load_explicit(&out[i].time, memory_order_relaxed)) {
                atomic_store_explicit(&out[i].time, atomic_load(&e.time), memory_order_relaxed);
                atomic_store_explicit(&out[i].value, atomic_load(&e.value), memory_order_relaxed);
                atomic_store_explicit(&out[i].tid[0], atomic_load(&e.tid[0]), memory_order_relaxed);
                atomic_store_explicit(&out[i].tid[1], atomic_load(&e.tid[1]), memory_order_relaxed);
                atomic_store_explicit(&out[i].sid, atomic_load(&e.sid), memory_order_relaxed);
            }
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (atomic_load_explicit(&out[i].time, memory_order_relaxed))
            k++;
    return k;
}

static void write_packed_fixed64(struct otus__pb *w, uint32_t field, const uint64_t *v, size_t n)
{
    otus__pb_tag(w, field, 2);
    otus__pb_varint(w, n * 8);
    otus__pb_raw(w, v, n * 8);
}

static int hist_point(struct otus__pb *w, const struct otus_metric *m, const struct otus_series *s,
                      uint64_t now)
{
    size_t nb = m->n_bounds;
    uint64_t stack[64];
    uint64_t *buckets = nb + 1 <= 64 ? stack : calloc(nb + 1, 8);
    if (!buckets)
        return OTUS_ERR_NOMEM;
    memset(buckets, 0, (nb + 1) * 8);
    struct hsum acc = {0, 0, 0, 0, buckets};
    unsigned char *regs[OTUS__SLOTS];
    size_t nreg = regions(regs);
    for (size_t ri = 0; ri < nreg; ri++) {
        unsigned char *r = regs[ri];
        hcell_read((const struct otus__hcell *)(r + s->off), nb, &acc);
    }
    size_t p = otus__pb_open(w, 1);
    otus__pb_attrs(w, 9, s->attrs.a, s->attrs.n);
    otus__pb_fixed64(w, 2, atomic_load_explicit(&s->start_ns, memory_order_relaxed));
    otus__pb_fixed64(w, 3, now);
    otus__pb_fixed64(w, 4, acc.count);
    if (acc.count && acc.min >= 0)
        otus__pb_double_always(w, 5, acc.sum); /* only without negative measurements */
    write_packed_fixed64(w, 6, buckets, nb + 1);
    if (nb) {
        otus__pb_tag(w, 7, 2);
        otus__pb_varint(w, nb * 8);
        otus__pb_raw(w, m->bounds, nb * 8);
    }
    struct otus__exemplar ex[64];
    if (nb + 1 <= 64 && gather_exemplars(s, nb + 1, ex))
        for (size_t i = 0; i <= nb; i++)
            if (atomic_load_explicit(&ex[i].time, memory_order_relaxed))
                write_exemplar(w, 8, &ex[i]);
    if (acc.count) {
        otus__pb_double_always(w, 11, acc.min);
        otus__pb_double_always(w, 12, acc.max);
    }
    otus__pb_close(w, p);
    if (buckets != stack)
        free(buckets);
    return 0;
}

/* ---- exponential histograms --------------------------------------------------------- */

static void write_buckets(struct otus__pb *w, uint32_t field, int32_t off, const uint64_t *c,
                          size_t n)
{
    if (!n)
        return;
    size_t b = otus__pb_open(w, field);
    otus__pb_sint32(w, 1, off);
    size_t packed = otus__pb_open(w, 2);
    for (size_t i = 0; i < n; i++)
        otus__pb_varint(w, c[i]);
    otus__pb_close(w, packed);
    otus__pb_close(w, b);
}

/* Copies exclusive or shared cell c into out under its seqlock; 0 when the writer
 * never let go (it is then left out of this collection). */
static int ecell_snapshot(const struct otus__ecell *c, struct otus__ecell *out, int m)
{
    for (int tries = 0; tries < 100000; tries++) {
        uint64_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
#define COPY(f)                                                                                    \
    atomic_store_explicit(&out->f, atomic_load_explicit(&c->f, memory_order_acquire),              \
                          memory_order_relaxed)
        COPY(count);
        COPY(sum);
        COPY(min);
        COPY(max);
        COPY(zero);
        COPY(scale);
        COPY(pos_base);
        COPY(pos_lo);
        COPY(pos_hi);
        COPY(neg_base);
        COPY(neg_lo);
        COPY(neg_hi);
        COPY(pos_used);
        COPY(neg_used);
        for (int i = 0; i < 2 * m; i++)
            COPY(counts[i]);
#undef COPY
        if (atomic_load_explicit(&c->seq, memory_order_acquire) == s1)
            return 1;
    }
    return 0;
}

static int exp_point(struct otus__pb *w, const struct otus_metric *m, const struct otus_series *s,
                     uint64_t now)
{
    int rc;
    struct otus__expagg agg;
    rc = otus__expagg_init(&agg, m->max_size, m->max_scale);
    if (rc)
        return rc;
    size_t cell_bytes = m->cell_size;
    struct otus__ecell *copy = malloc(cell_bytes);
    if (!copy) {
        otus__expagg_free(&agg);
        return OTUS_ERR_NOMEM;
    }
    unsigned char *regs[OTUS__SLOTS];
    size_t nreg = regions(regs);
    for (size_t ri = 0; ri < nreg; ri++) {
        unsigned char *r = regs[ri];
        const struct otus__ecell *c = (const struct otus__ecell *)(r + s->off);
        if (ecell_snapshot(c, copy, m->max_size))
            otus__expagg_merge_cell(&agg, copy, m->max_size);
    }
    free(copy);

    size_t p = otus__pb_open(w, 1);
    otus__pb_attrs(w, 1, s->attrs.a, s->attrs.n);
    otus__pb_fixed64(w, 2, atomic_load_explicit(&s->start_ns, memory_order_relaxed));
    otus__pb_fixed64(w, 3, now);
    otus__pb_fixed64(w, 4, agg.count);
    if (agg.count && agg.min >= 0)
        otus__pb_double_always(w, 5, agg.sum);
    otus__pb_sint32(w, 6, agg.scale);
    otus__pb_fixed64(w, 7, agg.zero);
    write_buckets(w, 8, agg.pos_off, agg.pos, agg.pos_n);
    write_buckets(w, 9, agg.neg_off, agg.neg, agg.neg_n);
    struct otus__exemplar ex[OTUS__EXP_RESERVOIR];
    if (gather_exemplars(s, OTUS__EXP_RESERVOIR, ex))
        for (size_t i = 0; i < OTUS__EXP_RESERVOIR; i++)
            if (atomic_load_explicit(&ex[i].time, memory_order_relaxed))
                write_exemplar(w, 11, &ex[i]);
    if (agg.count) {
        otus__pb_double_always(w, 12, agg.min);
        otus__pb_double_always(w, 13, agg.max);
    }
    otus__pb_close(w, p);
    otus__expagg_free(&agg);
    return 0;
}

/* ---- the request ---------------------------------------------------------------------- */

static long encode_metric(struct otus__pb *w, struct otus_metric *m, uint64_t now)
{
    struct otus_series *head = atomic_load_explicit(&m->list, memory_order_acquire);
    size_t touched = 0;
    for (struct otus_series *s = head; s; s = s->next)
        if (atomic_load_explicit(&s->start_ns, memory_order_relaxed))
            touched++;
    if (!touched)
        return 0;
    size_t mk = otus__pb_open(w, 2);
    otus__pb_string(w, 1, m->name, strlen(m->name));
    otus__pb_string(w, 2, m->description, strlen(m->description));
    otus__pb_string(w, 3, m->unit, strlen(m->unit));
    uint32_t field = m->kind == OTUS_GAUGE           ? 5
                     : m->kind == OTUS_HISTOGRAM     ? 9
                     : m->kind == OTUS_EXP_HISTOGRAM ? 10
                                                     : 7;
    size_t data = otus__pb_open(w, field);
    long points = 0;
    for (struct otus_series *s = head; s; s = s->next) {
        uint64_t start = atomic_load_explicit(&s->start_ns, memory_order_relaxed);
        if (!start)
            continue;
        points++;
        if (m->kind == OTUS_HISTOGRAM) {
            int rc = hist_point(w, m, s, now);
            if (rc)
                w->err = rc;
            continue;
        }
        if (m->kind == OTUS_EXP_HISTOGRAM) {
            int rc = exp_point(w, m, s, now);
            if (rc)
                w->err = rc;
            continue;
        }
        size_t p = otus__pb_open(w, 1);
        otus__pb_attrs(w, 7, s->attrs.a, s->attrs.n);
        if (m->kind != OTUS_GAUGE)
            otus__pb_fixed64(w, 2, start);
        otus__pb_fixed64(w, 3, now);
        if (m->kind == OTUS_GAUGE) {
            uint64_t b = atomic_load_explicit(&s->gauge, memory_order_relaxed);
            if (m->value_type == OTUS_VALUE_INT)
                otus__pb_fixed64_always(w, 6, b); /* sfixed64 as_int */
            else
                otus__pb_fixed64_always(w, 4, b); /* double as_double */
        } else if (m->value_type == OTUS_VALUE_INT) {
            otus__pb_fixed64_always(w, 6, (uint64_t)otus__series_sum_int(s));
        } else {
            otus__pb_double_always(w, 4, otus__series_sum_double(s));
        }
        otus__pb_close(w, p);
    }
    if (m->kind != OTUS_GAUGE)
        otus__pb_uint(w, 2, 2); /* AGGREGATION_TEMPORALITY_CUMULATIVE */
    if (m->kind == OTUS_COUNTER)
        otus__pb_uint(w, 3, 1); /* is_monotonic */
    otus__pb_close(w, data);
    otus__pb_close(w, mk);
    return points;
}

long otus__metrics_collect(struct otus_buf *out)
{
    uint64_t now = otus__wall_ns();
    uint64_t now_tick = otus__ticks();
    struct otus__pb w = {out, 0};
    size_t rm = otus__pb_open(&w, 1);
    otus__pb_resource(&w, 1);
    size_t sm = otus__pb_open(&w, 2);
    otus__pb_scope(&w, 1);
    pthread_mutex_lock(&otus__reg.lock);
    struct otus_metric *head = otus__reg.head;
    pthread_mutex_unlock(&otus__reg.lock);
    long points = 0;
    /* Instruments are only ever prepended and never freed: the list is stable. */
    for (struct otus_metric *m = head; m; m = m->next)
        points += encode_metric(&w, m, now);
    otus__pb_close(&w, sm);
    otus__pb_close(&w, rm);
    last_collect_tick = now_tick;
    atomic_fetch_add_explicit(&otus__metric_epoch, 1, memory_order_relaxed);
    return w.err ? w.err : points;
}
