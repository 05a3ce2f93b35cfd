/*
 * prom_expo.c: the text renderer of the Prometheus exporter (prom_expo.h).
 *
 * A scrape of a large store writes millions of lines, so each line is assembled with
 * a handful of memcpys into room reserved once per line: the series' label text was
 * rendered at ingest, "le" texts once per bound set, and counts take an integer fast
 * path. Only sums and other non-integral values go through the double formatter.
 */
#include "exporters/prometheus/prom_expo.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include <otus.h>

#include "common/hex.h"
#include "exporters/prometheus/prom_pb.h"

/* Room for a value, an exemplar with its IDs and timestamp, and punctuation; the
 * exemplar's other labels are reserved separately. */
#define LINE_EXTRA 256

struct w {
    struct otus_buf *out;
    enum prom_format fmt;
    int rc;
};

static char *room(struct w *w, size_t n)
{
    if (w->rc)
        return NULL;
    w->rc = otus_buf_reserve(w->out, n);
    return w->rc ? NULL : w->out->data + w->out->len;
}

/* name + suffix + "{" + labels [+ "," + extra] + "}" + " "; extra, when given, ends
 * with its own '}' (the le texts do). Returns the write position. */
static char *line_head(char *d, const struct prom_family *f, const char *suffix, size_t slen,
                       const struct prom_series *se, const char *extra, size_t elen)
{
    memcpy(d, f->name, f->name_len);
    d += f->name_len;
    memcpy(d, suffix, slen);
    d += slen;
    if (se->labels_len || elen) {
        *d++ = '{';
        memcpy(d, se->labels, se->labels_len);
        d += se->labels_len;
        if (elen) {
            if (se->labels_len)
                *d++ = ',';
            memcpy(d, extra, elen);
            d += elen;
        } else {
            *d++ = '}';
        }
    }
    *d++ = ' ';
    return d;
}

static char *put_exemplar(char *d, const struct prom_exemplar *e)
{
    memcpy(d, " # {", 4);
    d += 4;
    int comma = 0;
    if (e->has_ids) {
        memcpy(d, "trace_id=\"", 10);
        d += 10;
        otus_hex_encode(e->trace_id, 16, d);
        d += 32;
        memcpy(d, "\",span_id=\"", 11);
        d += 11;
        otus_hex_encode(e->span_id, 8, d);
        d += 16;
        *d++ = '"';
        comma = 1;
    }
    if (e->extra) {
        size_t n = strlen(e->extra);
        if (comma)
            *d++ = ',';
        memcpy(d, e->extra, n);
        d += n;
    }
    *d++ = '}';
    *d++ = ' ';
    d += prom_fmt_double(e->value, d);
    if (e->time_ns) {
        *d++ = ' ';
        d += prom_fmt_unix_ns(e->time_ns, d);
    }
    return d;
}

static size_t exemplar_room(const struct prom_exemplar *e)
{
    return e && e->set && e->extra ? strlen(e->extra) : 0;
}

/* One sample line; value text given. */
static void sample(struct w *w, const struct prom_family *f, const char *suffix,
                   const struct prom_series *se, const char *extra, size_t elen, const char *val,
                   size_t vlen, const struct prom_exemplar *ex)
{
    size_t slen = strlen(suffix);
    char *d =
        room(w, f->name_len + slen + se->labels_len + elen + vlen + LINE_EXTRA + exemplar_room(ex));
    if (!d)
        return;
    char *start = d;
    d = line_head(d, f, suffix, slen, se, extra, elen);
    memcpy(d, val, vlen);
    d += vlen;
    if (ex && ex->set && w->fmt == PROM_FMT_OPENMETRICS)
        d = put_exemplar(d, ex);
    *d++ = '\n';
    w->out->len += (size_t)(d - start);
}

static void sample_double(struct w *w, const struct prom_family *f, const char *suffix,
                          const struct prom_series *se, const char *extra, size_t elen, double v,
                          const struct prom_exemplar *ex)
{
    char num[PROM_NUM_MAX];
    size_t n = prom_fmt_double(v, num);
    sample(w, f, suffix, se, extra, elen, num, n, ex);
}

static void sample_u64(struct w *w, const struct prom_family *f, const char *suffix,
                       const struct prom_series *se, const char *extra, size_t elen, uint64_t v,
                       const struct prom_exemplar *ex)
{
    char num[PROM_NUM_MAX];
    size_t n = prom_fmt_u64(v, num);
    sample(w, f, suffix, se, extra, elen, num, n, ex);
}

static void created(struct w *w, const struct prom_family *f, const struct prom_series *se)
{
    if (w->fmt != PROM_FMT_OPENMETRICS || !se->start_ns)
        return;
    char num[PROM_NUM_MAX];
    size_t n = prom_fmt_unix_ns(se->start_ns, num);
    sample(w, f, "_created", se, NULL, 0, num, n, NULL);
}

/* ---- metadata ------------------------------------------------------------------------- */

static const char *type_name(enum prom_type t)
{
    switch (t) {
    case PROM_COUNTER:
        return "counter";
    case PROM_GAUGE:
        return "gauge";
    case PROM_HISTOGRAM:
        return "histogram";
    case PROM_SUMMARY:
        return "summary";
    }
    return "unknown";
}

static void metadata(struct w *w, const struct prom_family *f)
{
    struct otus_buf *o = w->out;
    const char *help = f->help && f->help[0] ? f->help : f->name;
    /* Text 0.0.4 names a counter's family by its sample name, with _total. */
    const char *total = w->fmt == PROM_FMT_TEXT && f->type == PROM_COUNTER ? "_total" : "";
    const char *type = type_name(f->type);
    if (w->rc)
        return;
    if (w->fmt == PROM_FMT_OPENMETRICS) {
        w->rc = otus_buf_printf(o, "# TYPE %s %s\n", f->name, type);
        if (!w->rc && f->unit[0])
            w->rc = otus_buf_printf(o, "# UNIT %s %s\n", f->name, f->unit);
        if (!w->rc)
            w->rc = otus_buf_printf(o, "# HELP %s ", f->name);
        if (!w->rc)
            w->rc = prom_escape_help(o, help, strlen(help), 1);
        if (!w->rc)
            w->rc = otus_buf_append_byte(o, '\n');
        return;
    }
    w->rc = otus_buf_printf(o, "# HELP %s%s ", f->name, total);
    if (!w->rc)
        w->rc = prom_escape_help(o, help, strlen(help), 0);
    if (!w->rc)
        w->rc = otus_buf_printf(o, "\n# TYPE %s%s %s\n", f->name, total, type);
}

/* ---- families -------------------------------------------------------------------------- */

static void render_counter(struct w *w, const struct prom_family *f, const struct prom_series *se)
{
    sample_double(w, f, "_total", se, NULL, 0, se->value, se->u.ex);
    created(w, f, se);
}

/* Count, sum and created after the buckets: the sum only when no bucket lies below 0
 * (the compatibility specification; OpenMetrics then forbids it), and in OpenMetrics
 * the count only together with the sum. */
static void hist_tail(struct w *w, const struct prom_family *f, const struct prom_series *se,
                      uint64_t total, int negative)
{
    int sum = se->has_sum && !negative;
    if (sum || w->fmt == PROM_FMT_TEXT)
        sample_u64(w, f, "_count", se, NULL, 0, total, NULL);
    if (sum)
        sample_double(w, f, "_sum", se, NULL, 0, se->value, NULL);
    created(w, f, se);
}

static void render_explicit(struct w *w, const struct prom_family *f, const struct prom_series *se)
{
    const struct prom_bounds *b = se->u.h.bounds;
    if (!b)
        return;
    const struct prom_exemplar *ex = NULL;
    int om = w->fmt == PROM_FMT_OPENMETRICS;
    uint64_t cum = 0;
    for (uint32_t i = 0; i <= b->n; i++) {
        cum += se->u.h.counts[i];
        /* A bucket without its own exemplar shows the nearest one below it. */
        if (om && se->u.h.ex && se->u.h.ex[i].set)
            ex = &se->u.h.ex[i];
        sample_u64(w, f, "_bucket", se, b->le + b->le_off[i], b->le_off[i + 1] - b->le_off[i], cum,
                   ex);
    }
    hist_tail(w, f, se, cum, b->n && b->b[0] < 0);
}

/* The cumulative buckets of an exponential histogram: negative buckets from the most
 * negative up, the zero bucket, positive buckets, +Inf. */
static void render_exp(struct w *w, struct prom_store *s, const struct prom_family *f,
                       const struct prom_series *se)
{
    const struct prom_exph *e = &se->u.x.e;
    const struct prom_exemplar *ex = se->u.x.ex && se->u.x.ex->set ? se->u.x.ex : NULL;
    int om = w->fmt == PROM_FMT_OPENMETRICS;
    int shown = 0; /* the exemplar goes on the first bucket that holds its value */
    uint64_t cum = 0;
    int negative = 0;
    for (uint32_t k = e->neg_n; k-- > 0;) {
        cum += e->neg[k];
        negative |= e->neg[k] != 0;
        size_t n;
        const char *le = prom_store_exp_le(s, e->scale, e->neg_off + (int32_t)k, 1, &n);
        if (!le) {
            w->rc = OTUS_ERR_NOMEM;
            return;
        }
        double ub = -exp2((double)(e->neg_off + (int32_t)k) * exp2(-(double)e->scale));
        shown |= ex && ex->value <= ub;
        sample_u64(w, f, "_bucket", se, le, n, cum, om && shown ? ex : NULL);
    }
    /* Positive buckets that lie inside the zero bucket's threshold count there, so
     * that the le values keep increasing. */
    uint32_t first = 0;
    for (; first < e->pos_n; first++) {
        double ub = exp2((double)(e->pos_off + (int32_t)first + 1) * exp2(-(double)e->scale));
        if (ub > e->zero_threshold)
            break;
        cum += e->pos[first];
    }
    cum += e->zero_count;
    char zl[PROM_NUM_MAX + 8];
    size_t zn = prom_fmt_canonical(e->zero_threshold, zl + 4);
    memcpy(zl, "le=\"", 4);
    memcpy(zl + 4 + zn, "\"}", 2);
    shown |= ex && ex->value <= e->zero_threshold;
    sample_u64(w, f, "_bucket", se, zl, zn + 6, cum, om && shown ? ex : NULL);
    for (uint32_t k = first; k < e->pos_n; k++) {
        cum += e->pos[k];
        size_t n;
        const char *le = prom_store_exp_le(s, e->scale, e->pos_off + (int32_t)k, 0, &n);
        if (!le) {
            w->rc = OTUS_ERR_NOMEM;
            return;
        }
        double ub = exp2((double)(e->pos_off + (int32_t)k + 1) * exp2(-(double)e->scale));
        shown |= ex && ex->value <= ub;
        sample_u64(w, f, "_bucket", se, le, n, cum, om && shown ? ex : NULL);
    }
    sample_u64(w, f, "_bucket", se, "le=\"+Inf\"}", 10, cum, om && ex ? ex : NULL);
    hist_tail(w, f, se, cum, negative);
}

static void render_summary(struct w *w, const struct prom_family *f, const struct prom_series *se)
{
    for (uint32_t i = 0; i < se->u.s.n; i++) {
        char q[PROM_NUM_MAX + 16];
        memcpy(q, "quantile=\"", 10);
        size_t n = 10 + prom_fmt_canonical(se->u.s.q[i], q + 10);
        memcpy(q + n, "\"}", 2);
        sample_double(w, f, "", se, q, n + 2, se->u.s.q[se->u.s.n + i], NULL);
    }
    sample_u64(w, f, "_count", se, NULL, 0, se->count, NULL);
    sample_double(w, f, "_sum", se, NULL, 0, se->value, NULL);
    created(w, f, se);
}

static void render_target_info(struct w *w, struct prom_store *s)
{
    int any = 0;
    for (struct prom_resource *r = prom_store_resources(s); r && !w->rc; r = r->next) {
        if (!r->info)
            continue;
        if (!any) {
            w->rc = otus_buf_append_str(w->out, w->fmt == PROM_FMT_OPENMETRICS
                                                    ? "# TYPE target info\n"
                                                      "# HELP target Target metadata\n"
                                                    : "# HELP target_info Target metadata\n"
                                                      "# TYPE target_info gauge\n");
            any = 1;
        }
        char *d = room(w, r->info_len + 24);
        if (!d)
            return;
        memcpy(d, "target_info{", 12);
        memcpy(d + 12, r->info, r->info_len);
        memcpy(d + 12 + r->info_len, "} 1\n", 4);
        w->out->len += r->info_len + 16;
    }
}

int prom_expo_render(struct prom_store *s, enum prom_format fmt, struct otus_buf *out)
{
    if (fmt == PROM_FMT_PROTOBUF) {
        static const struct prom_pb_opts native = {.native = 1};
        return prom_pb_render(s, &native, out);
    }
    struct w w = {out, fmt, 0};
    render_target_info(&w, s);
    struct prom_family **fams;
    size_t nf = prom_store_families(s, &fams);
    for (size_t i = 0; i < nf && !w.rc; i++) {
        const struct prom_family *f = fams[i];
        /* target_info is the resources' own family. */
        if (strcmp(f->name, "target_info") == 0 || strcmp(f->name, "target") == 0)
            continue;
        metadata(&w, f);
        for (const struct prom_series *se = f->head; se && !w.rc; se = se->next) {
            switch (f->type) {
            case PROM_COUNTER:
                render_counter(&w, f, se);
                break;
            case PROM_GAUGE:
                sample_double(&w, f, "", se, NULL, 0, se->value, NULL);
                break;
            case PROM_HISTOGRAM:
                if (se->exp)
                    render_exp(&w, s, f, se);
                else
                    render_explicit(&w, f, se);
                break;
            case PROM_SUMMARY:
                render_summary(&w, f, se);
                break;
            }
        }
    }
    return w.rc;
}

void prom_expo_hugepages(struct otus_buf *out)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = 2u << 20;
    uintptr_t start = ((uintptr_t)out->data + out->len + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)out->data + out->cap) & ~(huge - 1);
    if (out->data && end > start)
        madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)out;
#endif
}
