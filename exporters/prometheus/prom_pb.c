/*
 * prom_pb.c: the protobuf exposition of the Prometheus exporter (prom_pb.h).
 *
 * Messages are written straight into the output buffer. A length-delimited field
 * whose size is not known in advance (a family, a metric, a histogram) gets a guessed
 * number of bytes for its length; when it is complete the length is written there and,
 * if the guess was wrong, the content is moved by the difference. Guesses are made
 * from what is cheap to know (a metric rarely passes 16 KB, a family's size follows
 * its number of series), so moves are rare and small, and the result is the canonical
 * encoding a protobuf library writes.
 *
 * Labels are kept in the store as the text format writes them (`a="x",b="y"`, values
 * escaped); they are unescaped here, which for most values is one memcpy.
 */
#include "exporters/prometheus/prom_pb.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/hex.h"
#include "exporters/prometheus/prom_names.h"

/* Wire types. */
#define WT_VARINT      0
#define WT_I64         1
#define WT_LEN         2
#define TAG(field, wt) (((uint64_t)(field) << 3) | (wt))

/* io.prometheus.client field numbers. */
enum {
    MF_NAME = 1,
    MF_HELP = 2,
    MF_TYPE = 3,
    MF_METRIC = 4,
    MF_UNIT = 5,
    M_LABEL = 1,
    M_GAUGE = 2,
    M_COUNTER = 3,
    M_SUMMARY = 4,
    M_UNTYPED = 5,
    M_HISTOGRAM = 7,
    LP_NAME = 1,
    LP_VALUE = 2,
    VALUE = 1, /* Gauge, Counter, Untyped */
    C_EXEMPLAR = 2,
    C_CREATED = 3,
    S_COUNT = 1,
    S_SUM = 2,
    S_QUANTILE = 3,
    S_CREATED = 4,
    Q_QUANTILE = 1,
    Q_VALUE = 2,
    H_COUNT = 1,
    H_SUM = 2,
    H_BUCKET = 3,
    H_SCHEMA = 5,
    H_ZERO_THRESHOLD = 6,
    H_ZERO_COUNT = 7,
    H_NEG_SPAN = 9,
    H_NEG_DELTA = 10,
    H_POS_SPAN = 12,
    H_POS_DELTA = 13,
    H_CREATED = 15,
    H_EXEMPLARS = 16,
    B_COUNT = 1,
    B_UPPER = 2,
    B_EXEMPLAR = 3,
    SPAN_OFFSET = 1,
    SPAN_LENGTH = 2,
    E_LABEL = 1,
    E_VALUE = 2,
    E_TIMESTAMP = 3,
    TS_SECONDS = 1,
    TS_NANOS = 2,
};

/* MetricType. */
enum { T_COUNTER = 0, T_GAUGE = 1, T_SUMMARY = 2, T_UNTYPED = 3, T_HISTOGRAM = 4 };

/* A gap of more empty buckets than this between two populated ones starts a new span;
 * shorter gaps are sent as zero counts, which costs less than a span. */
#define SPAN_GAP_MAX 2

struct pbw {
    struct otus_buf *out;
    int rc;
    const struct prom_pb_opts *o;
    struct otus_buf scratch; /* native histogram counts */
};

/* ---- wire primitives ------------------------------------------------------------------ */

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline char *put_varint(char *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (char)(v | 0x80);
        v >>= 7;
    }
    *d++ = (char)v;
    return d;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* n bytes of room at the end of the output, or NULL (and w->rc set). */
static inline char *room(struct pbw *w, size_t n)
{
    if (w->rc)
        return NULL;
    w->rc = otus_buf_reserve(w->out, n);
    return w->rc ? NULL : w->out->data + w->out->len;
}

static inline void commit(struct pbw *w, const char *d, const char *end)
{
    w->out->len += (size_t)(end - d);
}

static void f_varint(struct pbw *w, uint32_t field, uint64_t v)
{
    char *d = room(w, 20);
    if (d)
        commit(w, d, put_varint(put_varint(d, TAG(field, WT_VARINT)), v));
}

/* A double's 8 bytes, little-endian as on the wire. */
static inline char *put_fixed64(char *d, double v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(d, &v, 8);
#else
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++)
        d[i] = (char)(bits >> (8 * i));
#endif
    return d + 8;
}

static void f_double(struct pbw *w, uint32_t field, double v)
{
    char *d = room(w, 16);
    if (d)
        commit(w, d, put_fixed64(put_varint(d, TAG(field, WT_I64)), v));
}

static void f_bytes(struct pbw *w, uint32_t field, const char *p, size_t n)
{
    char *d = room(w, 20 + n);
    if (!d)
        return;
    char *e = put_varint(put_varint(d, TAG(field, WT_LEN)), n);
    memcpy(e, p, n);
    commit(w, d, e + n);
}

/* A length-delimited field being written: where its length goes, and the bytes
 * reserved for it. */
struct msg {
    size_t at;
    size_t guess;
};

/* Starts a length-delimited field (field 0: no tag, a delimited top-level message),
 * reserving guess (>= 1) bytes for the length. */
static struct msg msg_begin(struct pbw *w, uint32_t field, size_t guess)
{
    struct msg m = {0, guess};
    char *d = room(w, 10 + guess);
    if (!d)
        return m;
    char *e = field ? put_varint(d, TAG(field, WT_LEN)) : d;
    m.at = w->out->len + (size_t)(e - d);
    w->out->len = m.at + guess;
    return m;
}

/* Ends it: writes the length in its shortest form, moving the content if the guess
 * was wrong. */
static void msg_end(struct pbw *w, struct msg m)
{
    if (w->rc)
        return;
    assert(m.guess >= 1 && w->out->len >= m.at + m.guess);
    size_t body = w->out->len - m.at - m.guess;
    size_t n = varint_len(body);
    if (n > m.guess && (w->rc = otus_buf_reserve(w->out, n - m.guess)) != 0)
        return;
    char *at = w->out->data + m.at;
    if (n != m.guess)
        memmove(at + n, at + m.guess, body);
    put_varint(at, body);
    w->out->len = m.at + n + body;
}

/* google.protobuf.Timestamp is proto3: zero fields are left out. */
static inline size_t ts_size(uint64_t ns)
{
    uint64_t s = ns / 1000000000u, n = ns % 1000000000u;
    return (s ? 1 + varint_len(s) : 0) + (n ? 1 + varint_len(n) : 0);
}

/* A Timestamp field: at most 1 + 1 + 22 bytes. */
static inline char *put_ts(char *d, uint32_t field, uint64_t ns)
{
    uint64_t s = ns / 1000000000u, n = ns % 1000000000u;
    d = put_varint(put_varint(d, TAG(field, WT_LEN)), ts_size(ns));
    if (s)
        d = put_varint(put_varint(d, TAG(TS_SECONDS, WT_VARINT)), s);
    if (n)
        d = put_varint(put_varint(d, TAG(TS_NANOS, WT_VARINT)), n);
    return d;
}

static void f_timestamp(struct pbw *w, uint32_t field, uint64_t ns)
{
    char *d = room(w, 32);
    if (d)
        commit(w, d, put_ts(d, field, ns));
}

/* The start of a LabelPair field whose value is vlen bytes, up to the value. */
static inline char *put_label_head(char *d, uint32_t field, const char *name, size_t nlen,
                                   size_t vlen)
{
    size_t len = 2 + varint_len(nlen) + nlen + varint_len(vlen) + vlen;
    d = put_varint(put_varint(d, TAG(field, WT_LEN)), len);
    d = put_varint(put_varint(d, TAG(LP_NAME, WT_LEN)), nlen);
    memcpy(d, name, nlen);
    return put_varint(put_varint(d + nlen, TAG(LP_VALUE, WT_LEN)), vlen);
}

/* A LabelPair field, name and value as they are. */
static void f_label(struct pbw *w, uint32_t field, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    char *d = room(w, 32 + nlen + vlen);
    if (!d)
        return;
    char *e = put_label_head(d, field, name, nlen, vlen);
    memcpy(e, value, vlen);
    commit(w, d, e + vlen);
}

/*
 * Writes the labels of text (`a="x",b="y"`, values escaped with \\, \" and \n as the
 * text format does) as repeated LabelPair field `field`. Values without a backslash,
 * nearly all, are copied as they are.
 */
static void f_labels(struct pbw *w, uint32_t field, const char *text, size_t n)
{
    const char *p = text, *end = text + n;
    while (p < end && !w->rc) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || end - eq < 3 || eq[1] != '"')
            return; /* not label text: the store never writes such */
        const char *v = eq + 2;
        const char *q = memchr(v, '"', (size_t)(end - v));
        if (!q)
            return;
        const char *bs = memchr(v, '\\', (size_t)(q - v));
        if (!bs) {
            f_label(w, field, p, (size_t)(eq - p), v, (size_t)(q - v));
        } else {
            /* The closing quote is the first one not escaped. */
            size_t escapes = 0;
            for (q = bs; q < end && *q != '"'; q++) {
                if (*q == '\\' && q + 1 < end) {
                    q++;
                    escapes++;
                }
            }
            size_t nlen = (size_t)(eq - p), vlen = (size_t)(q - v) - escapes;
            char *d = room(w, 32 + nlen + vlen);
            if (!d)
                return;
            char *e = put_label_head(d, field, p, nlen, vlen);
            for (const char *s = v; s < q; s++) {
                if (*s == '\\' && s + 1 < q) {
                    s++;
                    *e++ = *s == 'n' ? '\n' : *s;
                } else {
                    *e++ = *s;
                }
            }
            commit(w, d, e);
        }
        p = q + 1;
        if (p < end && *p == ',')
            p++;
    }
}

static void f_exemplar(struct pbw *w, uint32_t field, const struct prom_exemplar *e)
{
    struct msg m = msg_begin(w, field, 1);
    if (e->has_ids) {
        char hex[32];
        otus_hex_encode(e->trace_id, 16, hex);
        f_label(w, E_LABEL, "trace_id", 8, hex, 32);
        otus_hex_encode(e->span_id, 8, hex);
        f_label(w, E_LABEL, "span_id", 7, hex, 16);
    }
    if (e->extra)
        f_labels(w, E_LABEL, e->extra, strlen(e->extra));
    f_double(w, E_VALUE, e->value);
    if (e->time_ns)
        f_timestamp(w, E_TIMESTAMP, e->time_ns);
    msg_end(w, m);
}

/* A string field with invalid UTF-8 replaced (Prometheus refuses it). */
static void f_text(struct pbw *w, uint32_t field, const char *s, size_t n)
{
    struct msg m = msg_begin(w, field, n < 128 ? 1 : 2);
    if (!w->rc)
        w->rc = prom_utf8_clean(w->out, s, n);
    msg_end(w, m);
}

/* ---- native histograms ------------------------------------------------------------------ */

static int64_t idx_down(int64_t i, int k)
{
    return i >= 0 ? i >> k : -((-(i + 1)) >> k) - 1;
}

/* One sign: OTLP buckets off.. at scale - k merged to the schema, in counts (len
 * slots, zeroed); Prometheus indices; buckets wholly inside the zero threshold go to
 * *zero. */
static void native_side(const uint64_t *src, int32_t off, uint32_t n, int k, int32_t schema,
                        double zero_threshold, uint64_t *counts, struct prom_native_side *side,
                        uint64_t *zero)
{
    side->first = 0;
    side->n = 0;
    side->counts = counts;
    if (!n)
        return;
    int64_t lo = idx_down(off, k), hi = idx_down((int64_t)off + n - 1, k);
    uint32_t len = (uint32_t)(hi - lo + 1);
    assert(len >= 1 && len <= n); /* merging never adds buckets */
    for (uint32_t i = 0; i < n; i++)
        counts[idx_down((int64_t)off + i, k) - lo] += src[i];
    /* OTLP bucket j is (base^j, base^(j+1)]: Prometheus bucket j + 1. */
    int64_t first = lo + 1;
    uint32_t skip = 0;
    while (skip < len && prom_exp_bound(schema, first + skip) <= zero_threshold)
        *zero += counts[skip++];
    side->first = (int32_t)(first + skip);
    side->n = len - skip;
    side->counts = counts + skip;
}

int prom_native_from_exp(const struct prom_exph *e, struct prom_native *n, struct otus_buf *scratch)
{
    memset(n, 0, sizeof(*n));
    if (e->scale < PROM_NATIVE_SCHEMA_MIN)
        return OTUS_ERR_INVALID;
    int32_t schema = e->scale > PROM_NATIVE_SCHEMA_MAX ? PROM_NATIVE_SCHEMA_MAX : e->scale;
    int k = e->scale - schema;
    /* Merged, each sign spans at most as many buckets as it had. */
    size_t slots = (size_t)e->pos_n + e->neg_n;
    n->schema = schema;
    n->zero_threshold = e->zero_threshold;
    n->zero_count = n->count = e->zero_count;
    if (!slots)
        return 0;
    otus_buf_reset(scratch);
    int rc = otus_buf_reserve(scratch, slots * sizeof(uint64_t));
    if (rc)
        return rc;
    uint64_t *c = (uint64_t *)(void *)scratch->data;
    memset(c, 0, slots * sizeof(uint64_t));
    native_side(e->pos, e->pos_off, e->pos_n, k, schema, e->zero_threshold, c, &n->pos,
                &n->zero_count);
    native_side(e->neg, e->neg_off, e->neg_n, k, schema, e->zero_threshold, c + e->pos_n, &n->neg,
                &n->zero_count);
    n->count = n->zero_count;
    for (uint32_t i = 0; i < n->pos.n; i++)
        n->count += n->pos.counts[i];
    for (uint32_t i = 0; i < n->neg.n; i++)
        n->count += n->neg.counts[i];
    return 0;
}

static void f_span(struct pbw *w, uint32_t field, int64_t offset, uint32_t length)
{
    struct msg m = msg_begin(w, field, 1);
    f_varint(w, SPAN_OFFSET, zigzag(offset));
    f_varint(w, SPAN_LENGTH, length);
    msg_end(w, m);
}

/*
 * The buckets of one sign as they are encoded: spans of consecutive buckets, each
 * populated bucket a delta to the previous count; a gap of more than SPAN_GAP_MAX empty
 * buckets starts a new span, a shorter one is sent as zero counts. Writes the spans
 * (spans != 0, as field `field`) or the deltas: both walks take the same steps.
 */
static void f_side(struct pbw *w, const struct prom_native_side *s, uint32_t field, int spans)
{
    int started = 0;
    int64_t next = 0, offset = 0, prev = 0; /* next: index after the last bucket sent */
    uint32_t length = 0;
    for (uint32_t i = 0; i < s->n && !w->rc; i++) {
        if (!s->counts[i])
            continue;
        int64_t idx = (int64_t)s->first + i;
        if (!started || idx - next > SPAN_GAP_MAX) {
            if (started && spans)
                f_span(w, field, offset, length);
            offset = started ? idx - next : idx;
            length = 0;
            started = 1;
        } else {
            for (; next < idx; next++, length++) {
                if (!spans)
                    f_varint(w, field, zigzag(-prev));
                prev = 0;
            }
        }
        if (!spans)
            f_varint(w, field, zigzag((int64_t)s->counts[i] - prev));
        prev = (int64_t)s->counts[i];
        length++;
        next = idx + 1;
    }
    if (started && spans)
        f_span(w, field, offset, length);
}

/* ---- histograms, summaries, counters ---------------------------------------------------- */

static void f_bucket(struct pbw *w, uint64_t cum, double upper, const struct prom_exemplar *ex)
{
    if (!ex) {
        /* { cumulative_count, upper_bound }: known size, written at once. */
        char *d = room(w, 32);
        if (!d)
            return;
        char *e = put_varint(d, TAG(H_BUCKET, WT_LEN));
        static_assert(1 + 10 + 9 < 128, "a bucket's length takes one byte");
        *e++ = (char)(1 + varint_len(cum) + 9);
        e = put_varint(put_varint(e, TAG(B_COUNT, WT_VARINT)), cum);
        e = put_fixed64(put_varint(e, TAG(B_UPPER, WT_I64)), upper);
        commit(w, d, e);
        return;
    }
    struct msg m = msg_begin(w, H_BUCKET, 1);
    f_varint(w, B_COUNT, cum);
    f_double(w, B_UPPER, upper);
    if (ex)
        f_exemplar(w, B_EXEMPLAR, ex);
    msg_end(w, m);
}

/* A classic histogram. Exemplars as in OpenMetrics: a bucket without one of its own
 * carries the nearest below it. The sum only when no bucket lies below 0. */
static void hist_explicit(struct pbw *w, const struct prom_series *se)
{
    const struct prom_bounds *b = se->u.h.bounds;
    struct msg m = msg_begin(w, M_HISTOGRAM, 2);
    uint64_t total = 0;
    for (uint32_t i = 0; b && i <= b->n; i++)
        total += se->u.h.counts[i];
    f_varint(w, H_COUNT, total);
    if (se->has_sum && !(b && b->n && b->b[0] < 0))
        f_double(w, H_SUM, se->value);
    const struct prom_exemplar *ex = NULL;
    uint64_t cum = 0;
    for (uint32_t i = 0; b && i <= b->n; i++) {
        cum += se->u.h.counts[i];
        if (se->u.h.ex && se->u.h.ex[i].set)
            ex = &se->u.h.ex[i];
        f_bucket(w, cum, i < b->n ? b->b[i] : INFINITY, ex);
    }
    if (se->start_ns)
        f_timestamp(w, H_CREATED, se->start_ns);
    msg_end(w, m);
}

/* The classic buckets of an exponential histogram, as the text formats show them:
 * negative buckets from the most negative up, the zero bucket (with the positive
 * buckets inside its threshold), positive buckets, +Inf. The exemplar goes on the
 * first bucket that holds its value and the ones above. */
static void exp_classic(struct pbw *w, const struct prom_series *se)
{
    const struct prom_exph *e = &se->u.x.e;
    const struct prom_exemplar *ex = se->u.x.ex && se->u.x.ex->set ? se->u.x.ex : NULL;
    int shown = 0;
    uint64_t cum = 0;
    for (uint32_t k = e->neg_n; k-- > 0;) {
        cum += e->neg[k];
        double ub = -prom_exp_bound(e->scale, (int64_t)e->neg_off + k);
        shown |= ex && ex->value <= ub;
        f_bucket(w, cum, ub, shown ? ex : NULL);
    }
    uint32_t first = 0;
    for (; first < e->pos_n; first++) {
        if (prom_exp_bound(e->scale, (int64_t)e->pos_off + first + 1) > e->zero_threshold)
            break;
        cum += e->pos[first];
    }
    cum += e->zero_count;
    shown |= ex && ex->value <= e->zero_threshold;
    f_bucket(w, cum, e->zero_threshold, shown ? ex : NULL);
    for (uint32_t k = first; k < e->pos_n; k++) {
        cum += e->pos[k];
        double ub = prom_exp_bound(e->scale, (int64_t)e->pos_off + k + 1);
        shown |= ex && ex->value <= ub;
        f_bucket(w, cum, ub, shown ? ex : NULL);
    }
    f_bucket(w, cum, INFINITY, ex);
}

static void hist_exp(struct pbw *w, const struct prom_series *se)
{
    const struct prom_exph *e = &se->u.x.e;
    struct prom_native n;
    int native = 0;
    if (w->o->native) {
        int rc = prom_native_from_exp(e, &n, &w->scratch);
        if (rc && rc != OTUS_ERR_INVALID) {
            w->rc = rc;
            return;
        }
        native = rc == 0;
    }
    int classic = !native || w->o->classic_for_native;
    uint64_t total = e->zero_count;
    int negative = 0;
    for (uint32_t i = 0; i < e->pos_n; i++)
        total += e->pos[i];
    for (uint32_t i = 0; i < e->neg_n; i++) {
        total += e->neg[i];
        negative |= e->neg[i] != 0;
    }
    struct msg m = msg_begin(w, M_HISTOGRAM, 2);
    f_varint(w, H_COUNT, total);
    /* Native histograms take a sum whatever the signs; classic ones only without
     * negative observations. */
    if (se->has_sum && (native || !negative))
        f_double(w, H_SUM, se->value);
    if (classic)
        exp_classic(w, se);
    if (native) {
        f_varint(w, H_SCHEMA, zigzag(n.schema));
        f_double(w, H_ZERO_THRESHOLD, n.zero_threshold);
        f_varint(w, H_ZERO_COUNT, n.zero_count);
        size_t before = w->out->len;
        f_side(w, &n.neg, H_NEG_SPAN, 1);
        int spans = w->out->len != before;
        f_side(w, &n.neg, H_NEG_DELTA, 0);
        before = w->out->len;
        f_side(w, &n.pos, H_POS_SPAN, 1);
        spans |= w->out->len != before;
        /* Without any span a native histogram would read as a classic one: an empty
         * one carries a span of offset 0 and length 0. */
        if (!spans)
            f_span(w, H_POS_SPAN, 0, 0);
        f_side(w, &n.pos, H_POS_DELTA, 0);
    }
    if (se->start_ns)
        f_timestamp(w, H_CREATED, se->start_ns);
    /* Exemplars of native histograms must have a timestamp. */
    const struct prom_exemplar *ex = se->u.x.ex;
    if (native && ex && ex->set && ex->time_ns)
        f_exemplar(w, H_EXEMPLARS, ex);
    msg_end(w, m);
}

static void summary(struct pbw *w, const struct prom_series *se)
{
    struct msg m = msg_begin(w, M_SUMMARY, 1);
    f_varint(w, S_COUNT, se->count);
    f_double(w, S_SUM, se->value);
    for (uint32_t i = 0; i < se->u.s.n; i++) {
        struct msg q = msg_begin(w, S_QUANTILE, 1);
        f_double(w, Q_QUANTILE, se->u.s.q[i]);
        f_double(w, Q_VALUE, se->u.s.q[se->u.s.n + i]);
        msg_end(w, q);
    }
    if (se->start_ns)
        f_timestamp(w, S_CREATED, se->start_ns);
    msg_end(w, m);
}

static void counter(struct pbw *w, const struct prom_series *se)
{
    if (!se->u.ex || !se->u.ex->set) {
        /* { value, created_timestamp }: known size, written at once. */
        char *d = room(w, 48);
        if (!d)
            return;
        char *e = put_varint(d, TAG(M_COUNTER, WT_LEN));
        static_assert(9 + 2 + 22 < 128, "a counter's length takes one byte");
        *e++ = (char)(9 + (se->start_ns ? 2 + ts_size(se->start_ns) : 0));
        e = put_fixed64(put_varint(e, TAG(VALUE, WT_I64)), se->value);
        if (se->start_ns)
            e = put_ts(e, C_CREATED, se->start_ns);
        commit(w, d, e);
        return;
    }
    struct msg m = msg_begin(w, M_COUNTER, 1);
    f_double(w, VALUE, se->value);
    if (se->u.ex && se->u.ex->set)
        f_exemplar(w, C_EXEMPLAR, se->u.ex);
    if (se->start_ns)
        f_timestamp(w, C_CREATED, se->start_ns);
    msg_end(w, m);
}

/* A Gauge, Counter or Untyped message with only its value (9 bytes) as field `field`. */
static void value_msg(struct pbw *w, uint32_t field, double v)
{
    char *d = room(w, 12);
    if (!d)
        return;
    char *e = put_varint(d, TAG(field, WT_LEN));
    *e++ = 9;
    commit(w, d, e);
    f_double(w, VALUE, v);
}

/* ---- families ------------------------------------------------------------------------------ */

static int family_type(enum prom_type t)
{
    switch (t) {
    case PROM_COUNTER:
        return T_COUNTER;
    case PROM_GAUGE:
        return T_GAUGE;
    case PROM_HISTOGRAM:
        return T_HISTOGRAM;
    case PROM_SUMMARY:
        return T_SUMMARY;
    }
    return T_UNTYPED;
}

static void family(struct pbw *w, const struct prom_family *f)
{
    /* A metric is some 100 to 400 bytes: guess the length's size from that. */
    struct msg fm = msg_begin(w, 0, varint_len((uint64_t)f->nseries * 256 + 64));
    /* A counter's family is named by its samples, with _total. */
    int total = f->type == PROM_COUNTER;
    char *d = room(w, 20 + f->name_len + 6);
    if (!d)
        return;
    char *e = put_varint(put_varint(d, TAG(MF_NAME, WT_LEN)), f->name_len + (total ? 6 : 0));
    memcpy(e, f->name, f->name_len);
    e += f->name_len;
    if (total) {
        memcpy(e, "_total", 6);
        e += 6;
    }
    commit(w, d, e);
    const char *help = f->help && f->help[0] ? f->help : f->name;
    f_text(w, MF_HELP, help, strlen(help));
    f_varint(w, MF_TYPE, (uint64_t)family_type(f->type));
    for (const struct prom_series *se = f->head; se && !w->rc; se = se->next) {
        struct msg mm = msg_begin(w, MF_METRIC, 2);
        f_labels(w, M_LABEL, se->labels, se->labels_len);
        switch (f->type) {
        case PROM_COUNTER:
            counter(w, se);
            break;
        case PROM_GAUGE:
            value_msg(w, M_GAUGE, se->value);
            break;
        case PROM_HISTOGRAM:
            if (se->exp)
                hist_exp(w, se);
            else
                hist_explicit(w, se);
            break;
        case PROM_SUMMARY:
            summary(w, se);
            break;
        }
        msg_end(w, mm);
    }
    if (f->unit[0])
        f_bytes(w, MF_UNIT, f->unit, strlen(f->unit));
    msg_end(w, fm);
}

static void target_info(struct pbw *w, struct prom_store *s)
{
    struct msg fm = {0, 0};
    int any = 0;
    for (struct prom_resource *r = prom_store_resources(s); r && !w->rc; r = r->next) {
        if (!r->info)
            continue;
        if (!any) {
            fm = msg_begin(w, 0, 2);
            f_bytes(w, MF_NAME, "target_info", 11);
            f_bytes(w, MF_HELP, "Target metadata", 15);
            f_varint(w, MF_TYPE, T_GAUGE);
            any = 1;
        }
        struct msg mm = msg_begin(w, MF_METRIC, 2);
        f_labels(w, M_LABEL, r->info, r->info_len);
        value_msg(w, M_GAUGE, 1);
        msg_end(w, mm);
    }
    if (any)
        msg_end(w, fm);
}

int prom_pb_render(struct prom_store *s, const struct prom_pb_opts *o, struct otus_buf *out)
{
    struct pbw w = {.out = out, .o = o};
    otus_buf_init(&w.scratch, 0);
    target_info(&w, s);
    struct prom_family **fams;
    size_t nf = prom_store_families(s, &fams);
    for (size_t i = 0; i < nf && !w.rc; i++) {
        /* target_info is the resources' own family. */
        if (strcmp(fams[i]->name, "target_info") == 0 || strcmp(fams[i]->name, "target") == 0)
            continue;
        family(&w, fams[i]);
    }
    otus_buf_free(&w.scratch);
    return w.rc;
}

/* ---- the text format's families ---------------------------------------------------------- */

/* One line of text without its '\n'. */
struct line {
    const char *p;
    size_t n;
};

/* The name at the start of s (up to a space, '{' or the end). */
static size_t name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != ' ' && s[i] != '{' && s[i] != '\t')
        i++;
    return i;
}

/* Metadata seen for a name, waiting for its samples. */
struct meta {
    char name[256];
    size_t name_len;
    int type;
    struct otus_buf help; /* unescaped */
};

static void meta_set_help(struct meta *m, const char *s, size_t n)
{
    otus_buf_reset(&m->help);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 'n' ? '\n' : c;
        }
        if (otus_buf_append_byte(&m->help, c))
            return;
    }
}

/* Sets m to the metadata line's name (a new name forgets the old help and type);
 * returns the rest of the line after the name. */
static struct line meta_name(struct meta *m, struct line l)
{
    size_t nl = name_len(l.p, l.n);
    if (nl != m->name_len || memcmp(m->name, l.p, nl) != 0) {
        m->name_len = nl < sizeof(m->name) ? nl : 0;
        memcpy(m->name, l.p, m->name_len);
        m->type = T_UNTYPED;
        otus_buf_reset(&m->help);
    }
    struct line rest = {l.p + nl, l.n - nl};
    if (rest.n && rest.p[0] == ' ') {
        rest.p++;
        rest.n--;
    }
    return rest;
}

int prom_pb_from_text(const char *text, size_t len, struct otus_buf *out)
{
    struct pbw w = {.out = out};
    struct meta meta = {.type = T_UNTYPED};
    otus_buf_init(&meta.help, 64 * 1024);
    const char *fam = NULL; /* the open family's name (in text) */
    size_t fam_len = 0;
    int fam_type = T_UNTYPED;
    struct msg fm = {0, 0};
    const char *p = text, *end = text + len;
    while (p < end && !w.rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct line l = {p, (size_t)((nl ? nl : end) - p)};
        p = nl ? nl + 1 : end;
        if (!l.n)
            continue;
        if (l.p[0] == '#') {
            if (l.n > 7 && memcmp(l.p, "# HELP ", 7) == 0) {
                struct line rest = meta_name(&meta, (struct line){l.p + 7, l.n - 7});
                meta_set_help(&meta, rest.p, rest.n);
            } else if (l.n > 7 && memcmp(l.p, "# TYPE ", 7) == 0) {
                struct line rest = meta_name(&meta, (struct line){l.p + 7, l.n - 7});
                meta.type = rest.n == 7 && memcmp(rest.p, "counter", 7) == 0 ? T_COUNTER
                            : rest.n == 5 && memcmp(rest.p, "gauge", 5) == 0 ? T_GAUGE
                                                                             : T_UNTYPED;
            }
            continue;
        }
        size_t nlen = name_len(l.p, l.n);
        const char *labels = NULL, *v = l.p + nlen;
        size_t labels_len = 0;
        if (v < l.p + l.n && *v == '{') {
            /* Up to the '}' outside a quoted value. */
            const char *q = v + 1;
            int quoted = 0;
            while (q < l.p + l.n && (quoted || *q != '}')) {
                if (quoted && *q == '\\')
                    q++;
                else if (*q == '"')
                    quoted = !quoted;
                q++;
            }
            if (q >= l.p + l.n)
                continue;
            labels = v + 1;
            labels_len = (size_t)(q - labels);
            v = q + 1;
        }
        while (v < l.p + l.n && (*v == ' ' || *v == '\t'))
            v++;
        char num[64];
        size_t vl = 0;
        while (v + vl < l.p + l.n && v[vl] != ' ' && vl < sizeof(num) - 1) {
            num[vl] = v[vl];
            vl++;
        }
        num[vl] = '\0';
        char *num_end;
        double value = strtod(num, &num_end);
        if (!nlen || !vl || *num_end)
            continue;
        if (!fam || fam_len != nlen || memcmp(fam, l.p, nlen) != 0) {
            if (fam)
                msg_end(&w, fm);
            fam = l.p;
            fam_len = nlen;
            int known = meta.name_len == nlen && memcmp(meta.name, l.p, nlen) == 0;
            fam_type = known ? meta.type : T_UNTYPED;
            fm = msg_begin(&w, 0, 2);
            f_bytes(&w, MF_NAME, l.p, nlen);
            if (known && meta.help.len)
                f_text(&w, MF_HELP, meta.help.data, meta.help.len);
            f_varint(&w, MF_TYPE, (uint64_t)fam_type);
        }
        struct msg mm = msg_begin(&w, MF_METRIC, 1);
        f_labels(&w, M_LABEL, labels, labels_len);
        value_msg(&w,
                  fam_type == T_COUNTER ? M_COUNTER
                  : fam_type == T_GAUGE ? M_GAUGE
                                        : M_UNTYPED,
                  value);
        msg_end(&w, mm);
    }
    if (fam)
        msg_end(&w, fm);
    otus_buf_free(&meta.help);
    return w.rc;
}
