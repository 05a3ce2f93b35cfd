/*
 * trace.c: spans.
 *
 * A span's handle (struct otus_span) is the caller's storage; a sampled span also has
 * a record, built in 512-byte blocks from the span pool: a fixed header (IDs, times,
 * kind, status, counts) followed by a stream of entries (name, attributes, events,
 * links, status message) in the compact form of attr.c. Start copies the name and
 * attributes into the record once; end stamps the time and pushes the record's pointer
 * onto the span queue, where the background thread encodes it and gives the blocks
 * back. A span that is not sampled costs an ID, a sampler decision and a few stores.
 *
 * Times are ticks (see tick.c), turned into Unix time on the background thread.
 * Each thread has a current span; a started span becomes current unless detached, and
 * remembers the span it replaced, which becomes current again at its end.
 */
#include "internal.h"

#include <math.h>

#define ST_MAGIC     0x5a000000u
#define ST_MAGIC_MSK 0xff000000u
#define ST_ACTIVE    0x1u /* current (or in the current chain) of its owner thread */
#define ST_ENDED     0x2u

#define MAX_BLOCKS 256 /* 128 KiB per span record at most */

#define P_REC(sp)   ((sp)->otus_private_[0])
#define P_PREV(sp)  ((sp)->otus_private_[1])
#define P_OWNER(sp) ((sp)->otus_private_[2])

static inline int started(const struct otus_span *sp)
{
    return (sp->otus_private_state_ & ST_MAGIC_MSK) == ST_MAGIC;
}

int otus_span_context_is_valid(const struct otus_span_context *c)
{
    return c && otus__span_context_valid(c);
}

/* ---- samplers ------------------------------------------------------------------------ */

/* TraceIdRatioBased: the 56 rightmost bits of the trace ID are the randomness R; the
 * span is sampled when R >= T, T = (1 - ratio) * 2^56, so a higher ratio samples a
 * superset of what a lower one samples and every service decides alike. */
static uint64_t ratio_threshold(double ratio)
{
    if (ratio >= 1.0)
        return 0;
    if (ratio <= 0.0)
        return 1ull << 56;
    return (1ull << 56) - (uint64_t)llround(ratio * 0x1p56);
}

/* The configured sampler as two settings, so a decision takes no switch: whether a
 * span with a parent follows the parent's sampled flag (the parentbased_* samplers),
 * and the ratio threshold for the others (0 samples everything, 2^56 nothing). */
static struct {
    uint64_t threshold;
    int follow_parent;
} g_sampler = {0, 1};

void otus__trace_configure(void)
{
    uint64_t t;
    int follow;
    switch (otus__g.set.sampler) {
    case OTUS_SAMPLER_ALWAYS_ON:
        t = 0, follow = 0;
        break;
    case OTUS_SAMPLER_ALWAYS_OFF:
        t = 1ull << 56, follow = 0;
        break;
    case OTUS_SAMPLER_TRACEIDRATIO:
        t = ratio_threshold(otus__g.set.ratio), follow = 0;
        break;
    case OTUS_SAMPLER_PARENTBASED_ALWAYS_OFF:
        t = 1ull << 56, follow = 1;
        break;
    case OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO:
        t = ratio_threshold(otus__g.set.ratio), follow = 1;
        break;
    case OTUS_SAMPLER_PARENTBASED_ALWAYS_ON:
    default:
        t = 0, follow = 1;
        break;
    }
    g_sampler.threshold = t;
    g_sampler.follow_parent = follow;
}

static int parent_sampled(const struct otus_span_context *parent)
{
    return (parent->trace_flags & OTUS_TRACE_FLAG_SAMPLED) != 0;
}

static inline int should_sample(const struct otus_span_context *parent, const uint8_t trace_id[16])
{
    if (parent && g_sampler.follow_parent)
        return parent_sampled(parent);
    /* R: the trace ID's last 7 bytes, big-endian. */
    uint64_t r;
    memcpy(&r, trace_id + 8, 8);
    r = __builtin_bswap64(r) & ((1ull << 56) - 1);
    return r >= g_sampler.threshold;
}

/* ---- records ------------------------------------------------------------------------ */

static int rec_lock(struct otus__span_rec *rec)
{
    for (int spin = 0; spin < (1 << 16); spin++) {
        uint32_t z = 0;
        if (atomic_compare_exchange_weak_explicit(&rec->lock, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return 1;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
    }
    return 0; /* only a signal handler nested in a mutator of this span gets here */
}

static void rec_unlock(struct otus__span_rec *rec)
{
    atomic_store_explicit(&rec->lock, 0, memory_order_release);
}

static struct otus__blk *rec_first_block(struct otus__span_rec *rec)
{
    return (struct otus__blk *)((unsigned char *)rec - offsetof(struct otus__blk, data));
}

/* rec_reserve when the tail block is short of room: links enough new blocks. */
static __attribute__((noinline)) int rec_grow(struct otus__span_rec *rec, size_t n,
                                              struct otus__wr *w)
{
    struct otus__blk *tail = rec->tail;
    size_t have = OTUS__BLK_DATA - tail->len;
    struct otus__blk *last = tail;
    uint16_t added = 0;
    while (have < n) {
        struct otus__blk *b = rec->n_blocks + added < MAX_BLOCKS ? otus__pool_get(rec->pool) : NULL;
        if (!b) {
            if (tail->next) {
                otus__pool_put_chain(rec->pool, tail->next);
                tail->next = NULL;
            }
            return -1;
        }
        last->next = b;
        last = b;
        added++;
        have += OTUS__BLK_DATA;
    }
    rec->n_blocks = (uint16_t)(rec->n_blocks + added);
    w->blk = tail;
    w->p = tail->data + tail->len;
    w->end = tail->data + OTUS__BLK_DATA;
    return 0;
}

/* Makes room for n bytes after the record's end; sets w there. 0 or -1 (no memory). */
static inline int rec_reserve(struct otus__span_rec *rec, size_t n, struct otus__wr *w)
{
    struct otus__blk *tail = rec->tail;
    if (OTUS__UNLIKELY(OTUS__BLK_DATA - tail->len < n))
        return rec_grow(rec, n, w);
    w->blk = tail;
    w->p = tail->data + tail->len;
    w->end = tail->data + OTUS__BLK_DATA;
    return 0;
}

static void rec_commit(struct otus__span_rec *rec, struct otus__wr *w)
{
    w->blk->len = (uint32_t)(w->p - w->blk->data);
    rec->tail = w->blk;
    rec->n_entries++;
}

void otus__span_rec_free(struct otus__span_rec *rec)
{
    otus__pool_put_chain(rec->pool, rec_first_block(rec));
}

static void rec_put_string(struct otus__span_rec *rec, uint8_t kind, const char *s, size_t n)
{
    struct otus__wr w;
    if (rec_reserve(rec, 5 + n, &w))
        return;
    otus__wr_u8(&w, kind);
    otus__wr_u32(&w, (uint32_t)n);
    otus__wr_bytes(&w, s, n);
    rec_commit(rec, &w);
}

static void rec_put_attrs(struct otus__span_rec *rec, const struct otus_attr *a, size_t n)
{
    uint32_t limit = otus__g.set.span_value_limit;
    size_t room =
        otus__g.set.span_attr_limit > rec->n_attrs ? otus__g.set.span_attr_limit - rec->n_attrs : 0;
    size_t k = n < room ? n : room;
    rec->dropped_attrs += (uint32_t)(n - k);
    if (k <= OTUS__FLAT_MAX) {
        /* Sized once, one reservation, written from the saved lengths. */
        struct otus__alen len[OTUS__FLAT_MAX];
        size_t bytes = otus__attrs_measure(a, k, limit, len);
        struct otus__wr w;
        if (!rec_reserve(rec, bytes + k, &w)) {
            otus__attrs_write(&w, a, k, limit, len, OTUS__E_ATTR, bytes);
            w.blk->len = (uint32_t)(w.p - w.blk->data);
            rec->tail = w.blk;
            rec->n_entries += (uint32_t)k;
            rec->n_attrs = (uint16_t)(rec->n_attrs + k);
            return;
        }
    }
    for (size_t i = 0; i < k; i++) {
        struct otus__wr w;
        if (rec_reserve(rec, 1 + otus__attr_size(&a[i], limit), &w)) {
            rec->dropped_attrs++;
            continue;
        }
        otus__wr_u8(&w, OTUS__E_ATTR);
        otus__attr_put(&w, &a[i], limit);
        rec_commit(rec, &w);
        rec->n_attrs++;
    }
}

/* Attribute list of an event or link: count, dropped count, attributes. */
static size_t attrs_size(const struct otus_attr *a, size_t n, uint32_t max, uint32_t limit)
{
    size_t bytes = 8;
    for (size_t i = 0; i < n && i < max; i++)
        bytes += otus__attr_size(&a[i], limit);
    return bytes;
}

static void attrs_put(struct otus__wr *w, const struct otus_attr *a, size_t n, uint32_t max,
                      uint32_t limit)
{
    uint32_t k = n < max ? (uint32_t)n : max;
    otus__wr_u32(w, k);
    otus__wr_u32(w, (uint32_t)(n - k));
    for (uint32_t i = 0; i < k; i++)
        otus__attr_put(w, &a[i], limit);
}

static void rec_put_link(struct otus__span_rec *rec, const struct otus_link *l)
{
    if (!l || !l->ctx || !otus__span_context_valid(l->ctx))
        return;
    if (rec->n_links >= otus__g.set.span_link_limit) {
        rec->dropped_links++;
        return;
    }
    uint32_t limit = otus__g.set.span_value_limit, max = otus__g.set.link_attr_limit;
    size_t n = l->attrs ? l->n_attrs : 0;
    size_t tsl = l->ctx->tracestate ? l->ctx->tracestate_len : 0;
    struct otus__wr w;
    if (rec_reserve(rec, 1 + 26 + 2 + tsl + attrs_size(l->attrs, n, max, limit), &w)) {
        rec->dropped_links++;
        return;
    }
    otus__wr_u8(&w, OTUS__E_LINK);
    otus__wr_bytes(&w, l->ctx->trace_id, 16);
    otus__wr_bytes(&w, l->ctx->span_id, 8);
    otus__wr_u8(&w, l->ctx->trace_flags);
    otus__wr_u8(&w, l->ctx->is_remote);
    otus__wr_u16(&w, (uint16_t)tsl);
    otus__wr_bytes(&w, l->ctx->tracestate, tsl);
    attrs_put(&w, l->attrs, n, max, limit);
    rec_commit(rec, &w);
    rec->n_links++;
}

/* ---- start and end ---------------------------------------------------------------- */

/* A new record for sp: the header, then the name, the tracestate and the attributes
 * sized together and written with one reservation (inside the first block unless they
 * are long), then the links. NULL when the pool is out of blocks. */
static __attribute__((noinline)) struct otus__span_rec *
rec_new(struct otus_span *sp, const struct otus_span_context *parent, const char *name, int kind,
        const struct otus_span_opts *o)
{
    uint64_t start =
        o && o->start_time_ns ? (o->start_time_ns | OTUS__TIME_NS_FLAG) : otus__ticks();
    struct otus__pool *pool = otus__g.pool;
    struct otus__blk *b = pool ? otus__pool_get(pool) : NULL;
    if (!b) {
        otus__stat_add(OTUS__STAT_SPANS_DROPPED, 1);
        return NULL;
    }
    struct otus__span_rec *rec = (struct otus__span_rec *)b->data;
    *rec = (struct otus__span_rec){
        .pool = pool,
        .tail = b,
        .start = start,
        .kind = (uint8_t)((unsigned)kind - OTUS_SPAN_INTERNAL <=
                                  (unsigned)(OTUS_SPAN_CONSUMER - OTUS_SPAN_INTERNAL)
                              ? kind
                              : OTUS_SPAN_INTERNAL),
        .flags = sp->ctx.trace_flags,
        .has_parent = parent != NULL,
        .parent_remote = parent ? parent->is_remote : 0,
        .n_blocks = 1,
    };
    b->len = sizeof(*rec);
    memcpy(rec->trace_id, sp->ctx.trace_id, 16);
    memcpy(rec->span_id, sp->ctx.span_id, 8);
    if (parent)
        memcpy(rec->parent_id, parent->span_id, 8);

    size_t nl = name ? strlen(name) : 0;
    if (nl > 0x3fffffff)
        nl = 0x3fffffff;
    uint16_t tsl = sp->ctx.tracestate ? sp->ctx.tracestate_len : 0;
    const struct otus_attr *a = o ? o->attrs : NULL;
    size_t n = a ? o->n_attrs : 0, k = 0, ab = 0;
    uint32_t limit = otus__g.set.span_value_limit;
    struct otus__alen len[OTUS__FLAT_MAX];
    if (n) {
        k = n < otus__g.set.span_attr_limit ? n : otus__g.set.span_attr_limit;
        rec->dropped_attrs = (uint32_t)(n - k);
        if (k <= OTUS__FLAT_MAX)
            ab = otus__attrs_measure(a, k, limit, len) + k;
    }
    size_t head = 5 + nl + (tsl ? 3u + tsl : 0);
    struct otus__wr w;
    int room = !rec_reserve(rec, head + ab, &w);
    if (!room && ab) { /* out of blocks: the name at least, then what fits */
        ab = 0;
        room = !rec_reserve(rec, head, &w);
    }
    if (room) {
        unsigned char *p = w.p;
        if (OTUS__LIKELY(!w.blk->next)) { /* all in the first block */
            uint32_t nl32 = (uint32_t)nl;
            *p = OTUS__E_NAME;
            memcpy(p + 1, &nl32, 4);
            otus__copy(p + 5, name, nl);
            w.p = p + 5 + nl;
        } else {
            otus__wr_u8(&w, OTUS__E_NAME);
            otus__wr_u32(&w, (uint32_t)nl);
            otus__wr_bytes(&w, name, nl);
        }
        rec->n_entries++;
        if (tsl) {
            otus__wr_u8(&w, OTUS__E_TRACESTATE);
            otus__wr_u16(&w, tsl);
            otus__wr_bytes(&w, sp->ctx.tracestate, tsl);
            rec->n_entries++;
        }
        if (ab) {
            otus__attrs_write(&w, a, k, limit, len, OTUS__E_ATTR, ab - k);
            rec->n_entries += (uint32_t)k;
            rec->n_attrs = (uint16_t)k;
            k = 0;
        }
        w.blk->len = (uint32_t)(w.p - w.blk->data);
        rec->tail = w.blk;
    }
    if (k) /* many attributes, or no room for them with the name */
        rec_put_attrs(rec, a, k);
    for (size_t i = 0; o && o->links && i < o->n_links; i++)
        rec_put_link(rec, &o->links[i]);
    return rec;
}

/* The parts of a start that call out (seeding the generator, building a record),
 * kept out of otus_span_start so that its common path saves no registers. */
static __attribute__((noinline)) void start_seeding(struct otus_span *sp, const char *name,
                                                    int kind, const struct otus_span_opts *o)
{
    otus__rng_seed(&otus__tls);
    otus_span_start(sp, name, kind, o);
}

/* Makes sp, whole now, current on t unless detached: a signal handler that logs may
 * look at it from then on. */
static inline void make_current(struct otus_span *sp, struct otus__tls *t, uint32_t flags)
{
    sp->otus_private_pad_ = 0;
    if (!(flags & OTUS_SPAN_DETACHED)) {
        P_PREV(sp) = t->cur;
        P_OWNER(sp) = t;
        sp->otus_private_state_ = ST_MAGIC | ST_ACTIVE;
        atomic_signal_fence(memory_order_release);
        t->cur = sp;
    } else {
        P_PREV(sp) = NULL;
        P_OWNER(sp) = NULL;
        sp->otus_private_state_ = ST_MAGIC;
    }
}

static __attribute__((noinline)) void
start_recording(struct otus_span *sp, const struct otus_span_context *parent, const char *name,
                int kind, const struct otus_span_opts *o, uint32_t flags)
{
    P_REC(sp) = rec_new(sp, parent, name, kind, o);
    make_current(sp, &otus__tls, flags);
}

void otus_span_start(struct otus_span *sp, const char *name, int kind,
                     const struct otus_span_opts *o)
{
    struct otus__tls *t = &otus__tls;
    if (OTUS__UNLIKELY(t->rng_gen !=
                       atomic_load_explicit(&otus__fork_gen, memory_order_relaxed) + 1)) {
        start_seeding(sp, name, kind, o);
        return;
    }
    const struct otus_span_context *parent = NULL;
    uint32_t flags = 0;
    if (o) {
        flags = o->flags;
        if (o->parent_span && started(o->parent_span))
            parent = &o->parent_span->ctx;
        else if (o->parent && otus__span_context_valid(o->parent))
            parent = o->parent;
    }
    if (!parent && !(flags & OTUS_SPAN_ROOT) && t->cur)
        parent = &t->cur->ctx;

    P_REC(sp) = NULL;
    sp->ctx.is_remote = 0;
    if (parent) {
        memcpy(sp->ctx.trace_id, parent->trace_id, 16);
        sp->ctx.tracestate = parent->tracestate_len ? parent->tracestate : NULL;
        sp->ctx.tracestate_len = parent->tracestate ? parent->tracestate_len : 0;
    } else {
        otus__new_trace_id(t, sp->ctx.trace_id);
        sp->ctx.tracestate = NULL;
        sp->ctx.tracestate_len = 0;
    }

    int rec_on = atomic_load_explicit(&otus__g.recording, memory_order_relaxed);
    if (OTUS__LIKELY(rec_on)) {
        otus__new_span_id(t, sp->ctx.span_id);
        int sampled = should_sample(parent, sp->ctx.trace_id);
        sp->ctx.trace_flags = sampled ? OTUS_TRACE_FLAG_SAMPLED : 0;
        if (sampled) {
            start_recording(sp, parent, name, kind, o, flags);
            return;
        }
    } else if (!otus__g.disabled) {
        /* Stopped: a valid context that follows the parent's decision, no record. */
        otus__new_span_id(t, sp->ctx.span_id);
        sp->ctx.trace_flags = parent && parent_sampled(parent) ? OTUS_TRACE_FLAG_SAMPLED : 0;
    } else if (parent) {
        /* The no-op SDK: the parent's context passes through unchanged. */
        memcpy(sp->ctx.span_id, parent->span_id, 8);
        sp->ctx.trace_flags = parent->trace_flags;
    } else {
        memset(sp->ctx.trace_id, 0, 16);
        memset(sp->ctx.span_id, 0, 8);
        sp->ctx.trace_flags = 0;
    }

    make_current(sp, t, flags);
}

/* Takes sp out of the calling thread's current chain. */
static void uncurrent(struct otus_span *sp)
{
    struct otus__tls *t = &otus__tls;
    if (P_OWNER(sp) == t) {
        struct otus_span **pp = &t->cur;
        while (*pp && *pp != sp)
            pp = (struct otus_span **)&P_PREV(*pp);
        if (*pp)
            *pp = (struct otus_span *)P_PREV(sp);
    } else if (t->cur == sp) {
        t->cur = NULL;
    }
}

/* Stamps the end of a recording span's record and queues it for export. */
static __attribute__((noinline)) void rec_finish(struct otus__span_rec *rec, uint64_t end)
{
    if (!rec_lock(rec))
        return;
    rec->end = end;
    rec->ended = 1;
    rec_unlock(rec);
    int wake = 0;
    struct otus__queue *q = atomic_load_explicit(&otus__g.span_q, memory_order_acquire);
    if (!q || otus__queue_push(q, rec, &wake)) {
        otus__span_rec_free(rec);
        otus__stat_add(OTUS__STAT_SPANS_DROPPED, 1);
        return;
    }
    if (OTUS__UNLIKELY(wake))
        otus__wake_exporter();
}

static inline void span_end(struct otus_span *sp, uint64_t end_ns)
{
    if (!sp || !started(sp) || (sp->otus_private_state_ & ST_ENDED))
        return;
    uint64_t end = end_ns ? (end_ns | OTUS__TIME_NS_FLAG) : 0;
    struct otus__span_rec *rec = P_REC(sp);
    if (rec && !end)
        end = otus__ticks(); /* the end comes first: what follows is not the span's */
    sp->otus_private_state_ |= ST_ENDED;
    struct otus__tls *t = &otus__tls;
    if (OTUS__LIKELY(t->cur == sp && P_OWNER(sp) == t))
        t->cur = (struct otus_span *)P_PREV(sp); /* ending the current span: the usual case */
    else if (sp->otus_private_state_ & ST_ACTIVE)
        uncurrent(sp);
    else if (t->cur == sp)
        t->cur = NULL;
    if (!rec)
        return;
    P_REC(sp) = NULL;
    rec_finish(rec, end);
}

void otus_span_end_at(struct otus_span *sp, uint64_t end_ns)
{
    span_end(sp, end_ns);
}

void otus_span_end(struct otus_span *sp)
{
    span_end(sp, 0);
}

int otus_span_is_recording(const struct otus_span *sp)
{
    return sp && started(sp) && !(sp->otus_private_state_ & ST_ENDED) && P_REC(sp) != NULL;
}

/* The record of a live recording span, locked, or NULL. */
static struct otus__span_rec *mut_begin(struct otus_span *sp)
{
    if (!sp || !started(sp) || (sp->otus_private_state_ & ST_ENDED))
        return NULL;
    struct otus__span_rec *rec = P_REC(sp);
    if (!rec || !rec_lock(rec))
        return NULL;
    if (rec->ended) {
        rec_unlock(rec);
        return NULL;
    }
    return rec;
}

void otus_span_set_attrs(struct otus_span *sp, const struct otus_attr *attrs, size_t n)
{
    struct otus__span_rec *rec = mut_begin(sp);
    if (!rec)
        return;
    if (attrs)
        rec_put_attrs(rec, attrs, n);
    rec_unlock(rec);
}

void otus_span_add_event(struct otus_span *sp, const char *name, const struct otus_attr *attrs,
                         size_t n)
{
    struct otus__span_rec *rec = mut_begin(sp);
    if (!rec)
        return;
    if (rec->n_events >= otus__g.set.span_event_limit) {
        rec->dropped_events++;
        goto out;
    }
    uint32_t limit = otus__g.set.span_value_limit, max = otus__g.set.event_attr_limit;
    size_t nl = name ? strlen(name) : 0;
    n = attrs ? n : 0;
    struct otus__wr w;
    if (rec_reserve(rec, 1 + 8 + 4 + nl + attrs_size(attrs, n, max, limit), &w)) {
        rec->dropped_events++;
        goto out;
    }
    otus__wr_u8(&w, OTUS__E_EVENT);
    otus__wr_u64(&w, otus__ticks());
    otus__wr_u32(&w, (uint32_t)nl);
    otus__wr_bytes(&w, name, nl);
    attrs_put(&w, attrs, n, max, limit);
    rec_commit(rec, &w);
    rec->n_events++;
out:
    rec_unlock(rec);
}

void otus_span_add_link(struct otus_span *sp, const struct otus_link *link)
{
    struct otus__span_rec *rec = mut_begin(sp);
    if (!rec)
        return;
    rec_put_link(rec, link);
    rec_unlock(rec);
}

void otus_span_set_status(struct otus_span *sp, int status, const char *description)
{
    struct otus__span_rec *rec = mut_begin(sp);
    if (!rec)
        return;
    /* OK is final; UNSET changes nothing; a description goes with ERROR only. */
    if (rec->status != OTUS_STATUS_OK &&
        (status == OTUS_STATUS_OK || status == OTUS_STATUS_ERROR)) {
        rec->status = (uint8_t)status;
        if (status == OTUS_STATUS_ERROR && description && *description)
            rec_put_string(rec, OTUS__E_STATUS_MSG, description, strlen(description));
        else if (status == OTUS_STATUS_ERROR)
            rec_put_string(rec, OTUS__E_STATUS_MSG, "", 0);
    }
    rec_unlock(rec);
}

void otus_span_update_name(struct otus_span *sp, const char *name)
{
    struct otus__span_rec *rec = mut_begin(sp);
    if (!rec)
        return;
    rec_put_string(rec, OTUS__E_NAME, name ? name : "", name ? strlen(name) : 0);
    rec_unlock(rec);
}

void otus_span_record_error(struct otus_span *sp, const char *type, const char *message)
{
    struct otus_attr a[2];
    size_t n = 0;
    if (type)
        a[n++] = otus_attr_str("exception.type", type);
    if (message)
        a[n++] = otus_attr_str("exception.message", message);
    otus_span_add_event(sp, "exception", a, n);
    otus_span_set_status(sp, OTUS_STATUS_ERROR, message);
}

struct otus_span *otus_span_current(void)
{
    return otus__tls.cur;
}

struct otus_span *otus_span_swap_current(struct otus_span *sp)
{
    struct otus__tls *t = &otus__tls;
    struct otus_span *old = t->cur;
    t->cur = sp && started(sp) ? sp : NULL;
    return old;
}
