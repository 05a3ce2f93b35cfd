/*
 * prom_store.c: the series store of the Prometheus exporter (prom_store.h).
 *
 * A data point's identity is the text of its label set, rendered once at ingest
 * exactly as it will be exposed: the resource part (job, instance) and the scope part
 * are rendered once per ResourceMetrics and ScopeMetrics, the point's attributes are
 * sanitised, sorted by label name and appended. That text is hashed with the family
 * and looked up in one chained hash table; the renderer later copies it as it is.
 *
 * Memory: every allocation is counted in bytes; a new series is refused when the
 * count of series or of bytes is at its maximum, and per series the labels, buckets
 * and quantiles have their own limits. Families, bound sets and resources live only
 * as long as a series uses them.
 */
#include "exporters/prometheus/prom_store.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "agent/log.h"
#include "common/clock.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__Exemplar Exemplar;

#define MDATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define TEMPORALITY(x)                                                                             \
    OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_##x
#define NO_RECORDED_VALUE                                                                          \
    OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
#define AV(field) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##field

/* Limits that need no configuration key. */
#define MAX_ATTRS               128  /* attributes per point (more: the point is dropped) */
#define MAX_QUANTILES           64   /* quantiles per summary point */
#define MAX_HELP                1024 /* bytes of description kept */
#define EXEMPLAR_MAX_CODEPOINTS 128  /* OpenMetrics: names and values of its labels */
#define EXP_LE_CACHE            4096 /* cached le texts of exponential bucket bounds */
#define MIN_SCALE               (-10)

/* A string with its length, for the lists of reserved label names. */
struct word {
    const char *s;
    size_t n;
};
#define WORD(lit)                                                                                  \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
#define WORD_END                                                                                   \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* One label while a point's label set is composed. */
struct label {
    const char *name; /* sanitised: the attribute key itself, or in the names scratch */
    long name_off;    /* offset in the names scratch, -1 for the key itself */
    size_t name_len;
    const char *key; /* the original key, for the order of merged values */
    size_t val_off;  /* escaped value in the vals scratch */
    size_t val_len;
};

struct exp_le {
    uint64_t key; /* scale, exponent and sign packed; 0: empty */
    char *text;
    size_t len;
};

#define NAME_CACHE_SLOTS   16
#define NAME_CACHE_KEY_MAX 48

struct prom_store {
    struct prom_store_cfg cfg;
    struct prom_stats stats;
    uint64_t seed;
    size_t bytes;

    struct prom_series **tab; /* series hash table */
    size_t tab_size;          /* power of two */
    size_t nseries;

    struct prom_family **ftab; /* family hash table */
    size_t ftab_size;
    size_t nfamilies;
    struct prom_family **sorted; /* families by name, rebuilt when dirty */
    size_t sorted_cap;
    int sorted_dirty;

    struct prom_resource *res_head, *res_tail;

    struct exp_le *exp_le; /* open-addressed cache, EXP_LE_CACHE slots */
    size_t exp_le_used;

    /* scratch for one point, reused */
    struct otus_buf lab, names, vals, prefix, fname;
    struct label *labels;

    /* Attribute keys seen last and their label names: a handful of keys recur on
     * every point, and sanitising each again cost a quarter of an update. */
    struct name_slot {
        uint8_t key_len;  /* 0: empty slot */
        uint8_t name_len; /* 0: the key is a valid label name as it is */
        char key[NAME_CACHE_KEY_MAX];
        char name[NAME_CACHE_KEY_MAX + 4];
    } name_cache[NAME_CACHE_SLOTS];
};

/* ---- small helpers ----------------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    h ^= n * 0x9E3779B97F4A7C15ull;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 32;
    return h;
}

static void *store_alloc(struct prom_store *s, size_t n)
{
    void *p = malloc(n);
    if (p)
        s->bytes += n;
    return p;
}

static void *store_calloc(struct prom_store *s, size_t n)
{
    void *p = calloc(1, n);
    if (p)
        s->bytes += n;
    return p;
}

static void store_free(struct prom_store *s, void *p, size_t n)
{
    if (!p)
        return;
    assert(s->bytes >= n);
    s->bytes -= n;
    free(p);
}

static char *store_strndup(struct prom_store *s, const char *p, size_t n)
{
    char *d = store_alloc(s, n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static void drop(struct prom_store *s, enum prom_drop why, size_t n)
{
    s->stats.dropped[why] += n;
}

/* ---- create / destroy ------------------------------------------------------------------ */

struct prom_store *prom_store_create(const struct prom_store_cfg *cfg)
{
    struct prom_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->seed = otus_clock_mono_ns() * 0x9E3779B97F4A7C15ull ^ (uintptr_t)s;
    s->tab_size = 1024;
    s->tab = calloc(s->tab_size, sizeof(*s->tab));
    s->ftab_size = 64;
    s->ftab = calloc(s->ftab_size, sizeof(*s->ftab));
    s->exp_le = calloc(EXP_LE_CACHE, sizeof(*s->exp_le));
    s->labels = calloc(MAX_ATTRS * 2 + 8, sizeof(*s->labels));
    if (!s->tab || !s->ftab || !s->exp_le || !s->labels) {
        prom_store_destroy(s);
        return NULL;
    }
    s->bytes = sizeof(*s) + s->tab_size * sizeof(*s->tab) + s->ftab_size * sizeof(*s->ftab) +
               EXP_LE_CACHE * sizeof(*s->exp_le);
    otus_buf_init(&s->lab, 0);
    otus_buf_init(&s->names, 0);
    otus_buf_init(&s->vals, 0);
    otus_buf_init(&s->prefix, 0);
    otus_buf_init(&s->fname, 4096); /* metric names longer than this are dropped */
    return s;
}

static void series_free(struct prom_store *s, struct prom_series *se);
static void family_free(struct prom_store *s, struct prom_family *f);
static void resource_free(struct prom_store *s, struct prom_resource *r);

void prom_store_destroy(struct prom_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->ftab && i < s->ftab_size; i++) {
        struct prom_family *f = s->ftab[i];
        while (f) {
            struct prom_family *fn = f->hnext;
            struct prom_series *se = f->head;
            while (se) {
                struct prom_series *sn = se->next;
                series_free(s, se);
                se = sn;
            }
            f->head = NULL;
            family_free(s, f);
            f = fn;
        }
    }
    struct prom_resource *r = s->res_head;
    while (r) {
        struct prom_resource *rn = r->next;
        resource_free(s, r);
        r = rn;
    }
    for (size_t i = 0; s->exp_le && i < EXP_LE_CACHE; i++)
        free(s->exp_le[i].text);
    free(s->exp_le);
    free(s->tab);
    free(s->ftab);
    free(s->sorted);
    free(s->labels);
    otus_buf_free(&s->lab);
    otus_buf_free(&s->names);
    otus_buf_free(&s->vals);
    otus_buf_free(&s->prefix);
    otus_buf_free(&s->fname);
    free(s);
}

const struct prom_stats *prom_store_stats(const struct prom_store *s)
{
    return &s->stats;
}

size_t prom_store_series(const struct prom_store *s)
{
    return s->nseries;
}

size_t prom_store_bytes(const struct prom_store *s)
{
    return s->bytes;
}

struct prom_resource *prom_store_resources(const struct prom_store *s)
{
    return s->res_head;
}

/* ---- exemplars ------------------------------------------------------------------------- */

static void exemplar_clear(struct prom_store *s, struct prom_exemplar *e)
{
    if (e->extra)
        store_free(s, e->extra, strlen(e->extra) + 1);
    memset(e, 0, sizeof(*e));
}

static void exemplars_free(struct prom_store *s, struct prom_exemplar *ex, size_t n)
{
    if (!ex)
        return;
    for (size_t i = 0; i < n; i++)
        exemplar_clear(s, &ex[i]);
    store_free(s, ex, n * sizeof(*ex));
}

static double exemplar_value(const Exemplar *e)
{
    return e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT
               ? (double)e->as_int
               : e->as_double;
}

static size_t codepoints(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

/* Copies an OTLP exemplar into slot e: trace and span IDs, and the filtered attributes
 * as labels when all of them fit in OpenMetrics' 128 code points. */
static void exemplar_set(struct prom_store *s, struct prom_exemplar *e, const Exemplar *x)
{
    exemplar_clear(s, e);
    e->set = 1;
    e->value = exemplar_value(x);
    e->time_ns = x->time_unix_nano;
    size_t used = 0;
    if (x->trace_id.len == 16 && x->span_id.len == 8) {
        memcpy(e->trace_id, x->trace_id.data, 16);
        memcpy(e->span_id, x->span_id.data, 8);
        e->has_ids = 1;
        used = 8 + 32 + 7 + 16; /* trace_id, span_id and their hex values */
    }
    if (!x->n_filtered_attributes)
        return;
    struct otus_buf b, v;
    otus_buf_init(&b, 512);
    otus_buf_init(&v, 256);
    int ok = 1;
    for (size_t i = 0; i < x->n_filtered_attributes && ok; i++) {
        const KeyValue *kv = x->filtered_attributes[i];
        if (!kv->key || !kv->key[0])
            continue;
        size_t start = b.len;
        if (b.len && otus_buf_append_byte(&b, ',')) {
            ok = 0;
            break;
        }
        size_t nstart = b.len;
        if (prom_label_name(kv->key, &b)) {
            ok = 0;
            break;
        }
        size_t nlen = b.len - nstart;
        if ((nlen == 8 && memcmp(b.data + nstart, "trace_id", 8) == 0) ||
            (nlen == 7 && memcmp(b.data + nstart, "span_id", 7) == 0)) {
            b.len = start;
            continue;
        }
        otus_buf_reset(&v);
        ok = prom_any_value(&v, kv->value) == 0 && otus_buf_append(&b, "=\"", 2) == 0 &&
             prom_escape_value(&b, v.data, v.len) == 0 && otus_buf_append_byte(&b, '"') == 0;
        used += nlen + codepoints(v.data, v.len);
        if (used > EXEMPLAR_MAX_CODEPOINTS)
            ok = 0;
    }
    if (ok && b.len)
        e->extra = store_strndup(s, b.data, b.len);
    otus_buf_free(&b);
    otus_buf_free(&v);
}

/* ---- bounds ----------------------------------------------------------------------------- */

static size_t bounds_size(uint32_t n, size_t le_len)
{
    return sizeof(struct prom_bounds) + n * sizeof(double) + (n + 2) * sizeof(uint32_t) + le_len;
}

/* The family's bound set equal to b[0..n), created if needed; takes a reference. */
static struct prom_bounds *bounds_get(struct prom_store *s, struct prom_family *f, const double *b,
                                      uint32_t n)
{
    for (struct prom_bounds *x = f->bounds; x; x = x->next) {
        if (x->n == n && memcmp(x->b, b, n * sizeof(double)) == 0) {
            x->refs++;
            return x;
        }
    }
    char tmp[PROM_NUM_MAX];
    size_t le_len = 0;
    for (uint32_t i = 0; i < n; i++)
        le_len += prom_fmt_canonical(b[i], tmp) + 6;
    le_len += 10; /* le="+Inf"} */
    size_t sz = bounds_size(n, le_len);
    struct prom_bounds *x = store_alloc(s, sz);
    if (!x)
        return NULL;
    x->refs = 1;
    x->n = n;
    x->b = (double *)(x + 1);
    x->le_off = (uint32_t *)(x->b + n);
    x->le = (char *)(x->le_off + n + 2);
    memcpy(x->b, b, n * sizeof(double));
    size_t off = 0;
    for (uint32_t i = 0; i <= n; i++) {
        x->le_off[i] = (uint32_t)off;
        size_t l = i < n ? prom_fmt_canonical(b[i], tmp) : 4;
        memcpy(x->le + off, "le=\"", 4);
        memcpy(x->le + off + 4, i < n ? tmp : "+Inf", l);
        memcpy(x->le + off + 4 + l, "\"}", 2);
        off += l + 6;
    }
    x->le_off[n + 1] = (uint32_t)off;
    x->next = f->bounds;
    f->bounds = x;
    return x;
}

static void bounds_put(struct prom_store *s, struct prom_family *f, struct prom_bounds *x)
{
    if (!x || --x->refs > 0)
        return;
    struct prom_bounds **pp = &f->bounds;
    while (*pp != x)
        pp = &(*pp)->next;
    *pp = x->next;
    store_free(s, x, bounds_size(x->n, x->le_off[x->n + 1]));
}

/* ---- series ------------------------------------------------------------------------------ */

static void exph_free(struct prom_store *s, struct prom_exph *e)
{
    store_free(s, e->pos, e->pos_n * sizeof(uint64_t));
    store_free(s, e->neg, e->neg_n * sizeof(uint64_t));
    e->pos = e->neg = NULL;
    e->pos_n = e->neg_n = 0;
}

/* Releases what a series holds for its values (not the series itself). */
static void series_clear_values(struct prom_store *s, struct prom_series *se)
{
    switch (se->fam->type) {
    case PROM_COUNTER:
        if (se->u.ex)
            exemplars_free(s, se->u.ex, 1);
        se->u.ex = NULL;
        break;
    case PROM_HISTOGRAM:
        if (se->exp) {
            exph_free(s, &se->u.x.e);
            exemplars_free(s, se->u.x.ex, 1);
            se->u.x.ex = NULL;
        } else if (se->u.h.bounds) {
            uint32_t nb = se->u.h.bounds->n + 1;
            store_free(s, se->u.h.counts, nb * sizeof(uint64_t));
            exemplars_free(s, se->u.h.ex, nb);
            bounds_put(s, se->fam, se->u.h.bounds);
            se->u.h.bounds = NULL;
            se->u.h.counts = NULL;
            se->u.h.ex = NULL;
        }
        break;
    case PROM_SUMMARY:
        store_free(s, se->u.s.q, se->u.s.n * 2 * sizeof(double));
        se->u.s.q = NULL;
        se->u.s.n = 0;
        break;
    case PROM_GAUGE:
        break;
    }
}

static void series_free(struct prom_store *s, struct prom_series *se)
{
    series_clear_values(s, se);
    if (se->res)
        se->res->refs--;
    store_free(s, se, sizeof(*se) + se->labels_len + 1);
}

static void tab_grow(struct prom_store *s)
{
    size_t n = s->tab_size * 2;
    struct prom_series **t = calloc(n, sizeof(*t));
    if (!t)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->tab_size; i++) {
        struct prom_series *se = s->tab[i];
        while (se) {
            struct prom_series *nx = se->hnext;
            size_t k = se->hash & (n - 1);
            se->hnext = t[k];
            t[k] = se;
            se = nx;
        }
    }
    s->bytes += (n - s->tab_size) * sizeof(*t);
    free(s->tab);
    s->tab = t;
    s->tab_size = n;
}

/* Unlinks and frees a series, and its resource when no other series uses it. The
 * caller frees the family once it is left empty. */
static void series_remove(struct prom_store *s, struct prom_series *se)
{
    struct prom_series **pp = &s->tab[se->hash & (s->tab_size - 1)];
    while (*pp != se)
        pp = &(*pp)->hnext;
    *pp = se->hnext;
    struct prom_family *f = se->fam;
    if (se->prev)
        se->prev->next = se->next;
    else
        f->head = se->next;
    if (se->next)
        se->next->prev = se->prev;
    else
        f->tail = se->prev;
    f->nseries--;
    s->nseries--;
    struct prom_resource *r = se->res;
    series_free(s, se);
    if (r && r->refs == 0)
        resource_free(s, r);
}

/* ---- families ----------------------------------------------------------------------------- */

static void family_free(struct prom_store *s, struct prom_family *f)
{
    assert(!f->head && !f->bounds);
    struct prom_family **pp = &s->ftab[f->hash & (s->ftab_size - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = f->hnext;
        s->nfamilies--;
        s->sorted_dirty = 1;
    }
    if (s->nfamilies == 0 && s->sorted) {
        s->bytes -= s->sorted_cap * sizeof(*s->sorted);
        free(s->sorted);
        s->sorted = NULL;
        s->sorted_cap = 0;
    }
    if (f->help)
        store_free(s, f->help, strlen(f->help) + 1);
    store_free(s, f->name, f->name_len + 1);
    store_free(s, f, sizeof(*f));
}

static struct prom_family *family_find(struct prom_store *s, const char *name, size_t n, uint64_t h)
{
    for (struct prom_family *f = s->ftab[h & (s->ftab_size - 1)]; f; f = f->hnext)
        if (f->hash == h && f->name_len == n && memcmp(f->name, name, n) == 0)
            return f;
    return NULL;
}

static void ftab_grow(struct prom_store *s)
{
    size_t n = s->ftab_size * 2;
    struct prom_family **t = calloc(n, sizeof(*t));
    if (!t)
        return;
    for (size_t i = 0; i < s->ftab_size; i++) {
        struct prom_family *f = s->ftab[i];
        while (f) {
            struct prom_family *nx = f->hnext;
            f->hnext = t[f->hash & (n - 1)];
            t[f->hash & (n - 1)] = f;
            f = nx;
        }
    }
    s->bytes += (n - s->ftab_size) * sizeof(*t);
    free(s->ftab);
    s->ftab = t;
    s->ftab_size = n;
}

static struct prom_family *family_new(struct prom_store *s, const char *name, size_t n, uint64_t h,
                                      enum prom_type type, const char *unit, const char *help)
{
    struct prom_family *f = store_calloc(s, sizeof(*f));
    if (!f)
        return NULL;
    f->name = store_strndup(s, name, n);
    size_t hl = help ? strnlen(help, MAX_HELP) : 0;
    f->help = hl ? store_strndup(s, help, hl) : NULL;
    if (!f->name || (hl && !f->help)) {
        if (f->name)
            store_free(s, f->name, n + 1);
        store_free(s, f, sizeof(*f));
        return NULL;
    }
    f->name_len = n;
    f->hash = h;
    f->type = type;
    snprintf(f->unit, sizeof(f->unit), "%s", unit);
    f->hnext = s->ftab[h & (s->ftab_size - 1)];
    s->ftab[h & (s->ftab_size - 1)] = f;
    s->nfamilies++;
    s->sorted_dirty = 1;
    if (s->nfamilies > s->ftab_size)
        ftab_grow(s);
    return f;
}

static int family_cmp(const void *a, const void *b)
{
    const struct prom_family *x = *(struct prom_family *const *)a;
    const struct prom_family *y = *(struct prom_family *const *)b;
    return strcmp(x->name, y->name);
}

size_t prom_store_families(struct prom_store *s, struct prom_family ***out)
{
    if (s->sorted_dirty) {
        if (s->nfamilies > s->sorted_cap) {
            size_t cap = s->nfamilies * 2;
            struct prom_family **p = realloc(s->sorted, cap * sizeof(*p));
            if (!p) {
                *out = NULL;
                return 0;
            }
            s->bytes += (cap - s->sorted_cap) * sizeof(*p);
            s->sorted = p;
            s->sorted_cap = cap;
        }
        size_t k = 0;
        for (size_t i = 0; i < s->ftab_size; i++)
            for (struct prom_family *f = s->ftab[i]; f; f = f->hnext)
                s->sorted[k++] = f;
        if (k)
            qsort(s->sorted, k, sizeof(*s->sorted), family_cmp);
        s->sorted_dirty = 0;
    }
    *out = s->sorted;
    return s->nfamilies;
}

/* ---- resources ------------------------------------------------------------------------------ */

static void resource_free(struct prom_store *s, struct prom_resource *r)
{
    assert(r->refs == 0);
    if (r->prev)
        r->prev->next = r->next;
    else if (s->res_head == r)
        s->res_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else if (s->res_tail == r)
        s->res_tail = r->prev;
    store_free(s, r->id, r->id_len + 1);
    if (r->info)
        store_free(s, r->info, r->info_len + 1);
    if (r->attrs)
        store_free(s, r->attrs, r->attrs_len + 1);
    store_free(s, r, sizeof(*r));
}

static const char *string_attr(const KeyValue *kv)
{
    if (!kv->value || kv->value->value_case != AV(STRING_VALUE) || !kv->value->string_value)
        return NULL;
    return kv->value->string_value;
}

static int label_cmp(const struct label *a, const struct label *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    if (a->name_len != b->name_len)
        return a->name_len < b->name_len ? -1 : 1;
    return strcmp(a->key, b->key);
}

/*
 * The label name of attribute key: the key itself (*name_off -1) when it is valid as
 * it is, else its sanitised form appended to s->names at *name_off. *name_len is the
 * name's length either way. Recent keys come from s->name_cache.
 */
static int label_name(struct prom_store *s, const char *key, size_t *name_len, long *name_off)
{
    size_t klen = strlen(key);
    struct name_slot *c = NULL;
    if (klen > 0 && klen < NAME_CACHE_KEY_MAX) {
        c = &s->name_cache[(klen * 31 + (unsigned char)key[0] + (unsigned char)key[klen - 1]) %
                           NAME_CACHE_SLOTS];
        if (c->key_len == klen && memcmp(c->key, key, klen) == 0) {
            if (!c->name_len) {
                *name_len = klen;
                return 0;
            }
            *name_off = (long)s->names.len;
            *name_len = c->name_len;
            return otus_buf_append(&s->names, c->name, c->name_len);
        }
    }
    size_t clean = prom_label_name_clean_len(key);
    if (clean) {
        *name_len = clean;
    } else {
        *name_off = (long)s->names.len;
        int rc = prom_label_name(key, &s->names);
        if (rc)
            return rc;
        *name_len = s->names.len - (size_t)*name_off;
    }
    if (c && *name_len <= sizeof(c->name)) {
        c->key_len = (uint8_t)klen;
        memcpy(c->key, key, klen);
        c->name_len = clean ? 0 : (uint8_t)*name_len;
        if (!clean)
            memcpy(c->name, s->names.data + *name_off, *name_len);
    }
    return 0;
}

/*
 * Sanitises, sorts and renders attributes as `a="x",b="y"` at the end of out.
 * Attributes whose label name is one of reserved (NULL-terminated) or in extra_names
 * (a rendered label list whose names are taken, MAY be NULL) get "exported_" in front;
 * names that collide after sanitising get their values joined with ';' in the order of
 * the original keys (the compatibility specification's rule). skip (MAY be NULL) names
 * attribute keys to leave out. 0, OTUS_ERR_TOO_BIG (over max bytes or MAX_ATTRS), or
 * another negative otus_status.
 */
static int render_attrs(struct prom_store *s, KeyValue *const *kv, size_t n,
                        const struct word *reserved, const char *taken, size_t taken_len,
                        const char *const *skip, struct otus_buf *out)
{
    if (n > MAX_ATTRS)
        return OTUS_ERR_TOO_BIG;
    otus_buf_reset(&s->names);
    otus_buf_reset(&s->vals);
    int rc = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = kv[i]->key;
        if (!key || !key[0])
            continue;
        int skipped = 0;
        for (size_t k = 0; skip && skip[k]; k++)
            skipped |= strcmp(skip[k], key) == 0;
        if (skipped)
            continue;
        struct label *l = &s->labels[m];
        l->key = key;
        /* Names are offsets into the names scratch until it stops growing. */
        const char *name = key;
        size_t name_len;
        long name_off = -1;
        if ((rc = label_name(s, key, &name_len, &name_off)) != 0)
            return rc;
        /* A name already used by the exporter's own labels becomes exported_<name>. */
        for (int round = 0; round < 4; round++) {
            if (name_off >= 0)
                name = s->names.data + name_off;
            int taken_now = 0;
            for (const struct word *r = reserved; r && r->s; r++)
                taken_now |= r->n == name_len && memcmp(r->s, name, name_len) == 0;
            for (const char *p = taken; p && p < taken + taken_len && !taken_now;) {
                const char *eq = memchr(p, '=', (size_t)(taken + taken_len - p));
                if (!eq)
                    break;
                taken_now = (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0;
                const char *q = eq + 2; /* past =" to the closing quote */
                while (q < taken + taken_len && *q != '"')
                    q += *q == '\\' ? 2 : 1;
                p = q + 2;
            }
            if (!taken_now)
                break;
            size_t off = s->names.len;
            if ((rc = otus_buf_append(&s->names, "exported_", 9)) != 0 ||
                (rc = otus_buf_append(&s->names, name, name_len)) != 0)
                return rc;
            name_off = (long)off;
            name_len += 9;
        }
        l->name = name_off >= 0 ? NULL : key;
        l->name_off = name_off;
        l->name_len = name_len;
        l->val_off = s->vals.len;
        const AnyValue *v = kv[i]->value;
        if (v && v->value_case == AV(STRING_VALUE) && v->string_value) {
            rc = prom_escape_value(&s->vals, v->string_value, strlen(v->string_value));
        } else {
            struct otus_buf tmp;
            otus_buf_init(&tmp, s->cfg.max_label_bytes);
            rc = prom_any_value(&tmp, v);
            if (!rc)
                rc = prom_escape_value(&s->vals, tmp.data ? tmp.data : "", tmp.len);
            otus_buf_free(&tmp);
        }
        if (rc)
            return rc;
        l->val_len = s->vals.len - l->val_off;
        m++;
    }
    for (size_t i = 0; i < m; i++)
        if (s->labels[i].name_off >= 0)
            s->labels[i].name = s->names.data + s->labels[i].name_off;
    /* Insertion sort: attribute lists are short and usually sorted already. */
    for (size_t i = 1; i < m; i++) {
        struct label t = s->labels[i];
        size_t j = i;
        while (j > 0 && label_cmp(&s->labels[j - 1], &t) > 0) {
            s->labels[j] = s->labels[j - 1];
            j--;
        }
        s->labels[j] = t;
    }
    size_t need = 0;
    for (size_t i = 0; i < m; i++)
        need += s->labels[i].name_len + s->labels[i].val_len + 4;
    if ((rc = otus_buf_reserve(out, need)) != 0)
        return rc;
    char *d = out->data + out->len;
    for (size_t i = 0; i < m; i++) {
        const struct label *l = &s->labels[i];
        if (i > 0 && l->name_len == s->labels[i - 1].name_len &&
            memcmp(l->name, s->labels[i - 1].name, l->name_len) == 0) {
            d[-1] = ';'; /* reopen the previous value */
        } else {
            if (d > out->data)
                *d++ = ',';
            memcpy(d, l->name, l->name_len);
            d += l->name_len;
            *d++ = '=';
            *d++ = '"';
        }
        memcpy(d, s->vals.data + l->val_off, l->val_len);
        d += l->val_len;
        *d++ = '"';
    }
    out->len = (size_t)(d - out->data);
    return 0;
}

static int put_label(struct otus_buf *out, const char *name, const char *v, size_t n)
{
    int rc = 0;
    if (out->len)
        rc = otus_buf_append_byte(out, ',');
    if (!rc)
        rc = otus_buf_append_str(out, name);
    if (!rc)
        rc = otus_buf_append(out, "=\"", 2);
    if (!rc)
        rc = prom_escape_value(out, v, n);
    if (!rc)
        rc = otus_buf_append_byte(out, '"');
    return rc;
}

/*
 * The resource for an OTLP resource: job from service.namespace/service.name, instance
 * from service.instance.id (or host.name), the other attributes for target_info.
 * Found by its job and instance, created if new (with no series yet), its other
 * attributes updated to the latest. NULL on out of memory or over the label limit.
 */
static struct prom_resource *resource_get(struct prom_store *s,
                                          const Opentelemetry__Proto__Resource__V1__Resource *res)
{
    const char *name = NULL, *ns = NULL, *inst = NULL, *host = NULL;
    KeyValue *const *kv = res ? res->attributes : NULL;
    size_t n = res ? res->n_attributes : 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i]->key;
        if (!k)
            continue;
        if (strcmp(k, "service.name") == 0)
            name = string_attr(kv[i]);
        else if (strcmp(k, "service.namespace") == 0)
            ns = string_attr(kv[i]);
        else if (strcmp(k, "service.instance.id") == 0)
            inst = string_attr(kv[i]);
        else if (strcmp(k, "host.name") == 0)
            host = string_attr(kv[i]);
    }
    if (!inst)
        inst = host;
    struct otus_buf id;
    otus_buf_init(&id, s->cfg.max_label_bytes);
    int rc = 0;
    if (name && name[0]) {
        if (ns && ns[0]) {
            struct otus_buf job;
            otus_buf_init(&job, s->cfg.max_label_bytes);
            rc = otus_buf_printf(&job, "%s/%s", ns, name);
            if (!rc)
                rc = put_label(&id, "job", job.data, job.len);
            otus_buf_free(&job);
        } else {
            rc = put_label(&id, "job", name, strlen(name));
        }
    }
    if (!rc && inst && inst[0])
        rc = put_label(&id, "instance", inst, strlen(inst));
    /* The other attributes: target_info, and every series with resource_to_telemetry. */
    static const char *const id_keys[] = {"service.name", "service.namespace",
                                          "service.instance.id", NULL};
    static const struct word res_reserved[] = {WORD("job"), WORD("instance"),
                                               WORD("otel_scope_name"), WORD("otel_scope_version"),
                                               WORD_END};
    struct otus_buf attrs;
    otus_buf_init(&attrs, s->cfg.max_label_bytes);
    if (!rc)
        rc = render_attrs(s, kv, n, res_reserved, NULL, 0, id_keys, &attrs);
    struct prom_resource *r = NULL;
    if (rc)
        goto out;
    uint64_t h = hash_bytes(id.data ? id.data : "", id.len, s->seed);
    for (r = s->res_head; r; r = r->next)
        if (r->hash == h && r->id_len == id.len &&
            memcmp(r->id, id.data ? id.data : "", id.len) == 0)
            break;
    if (!r) {
        r = store_calloc(s, sizeof(*r));
        if (!r)
            goto out;
        r->id = store_strndup(s, id.data ? id.data : "", id.len);
        if (!r->id) {
            store_free(s, r, sizeof(*r));
            r = NULL;
            goto out;
        }
        r->id_len = id.len;
        r->hash = h;
        r->prev = s->res_tail;
        if (s->res_tail)
            s->res_tail->next = r;
        else
            s->res_head = r;
        s->res_tail = r;
    }
    if (r->attrs_len != attrs.len || (attrs.len && memcmp(r->attrs, attrs.data, attrs.len) != 0)) {
        char *a = attrs.len ? store_strndup(s, attrs.data, attrs.len) : NULL;
        char *info = NULL;
        size_t info_len = id.len + (id.len ? 1 : 0) + attrs.len;
        if (attrs.len && a) {
            info = store_alloc(s, info_len + 1);
            if (info)
                snprintf(info, info_len + 1, "%.*s%s%.*s", (int)id.len, id.data ? id.data : "",
                         id.len ? "," : "", (int)attrs.len, attrs.data);
        }
        if (attrs.len && (!a || !info)) {
            if (a)
                store_free(s, a, attrs.len + 1);
            goto out; /* keep the previous attributes */
        }
        if (r->attrs)
            store_free(s, r->attrs, r->attrs_len + 1);
        if (r->info)
            store_free(s, r->info, r->info_len + 1);
        r->attrs = a;
        r->attrs_len = attrs.len;
        r->info = info;
        r->info_len = info ? info_len : 0;
    }
out:
    otus_buf_free(&id);
    otus_buf_free(&attrs);
    return r;
}

/* ---- series lookup ------------------------------------------------------------------------- */

/*
 * The series of family f with labels lab[0..n), created if new and allowed (cap on
 * series and bytes). NULL when refused (counted) or out of memory.
 */
static struct prom_series *series_get(struct prom_store *s, struct prom_family *f,
                                      struct prom_resource *r, const char *lab, size_t n)
{
    uint64_t h = hash_bytes(lab, n, s->seed ^ (uintptr_t)f);
    for (struct prom_series *se = s->tab[h & (s->tab_size - 1)]; se; se = se->hnext) {
        if (se->hash == h && se->fam == f && se->labels_len == n &&
            memcmp(se->labels, lab, n) == 0) {
            se->fresh = 0;
            return se;
        }
    }
    if (s->nseries >= s->cfg.max_series || s->bytes >= s->cfg.max_bytes) {
        s->stats.series_refused++;
        drop(s, PROM_DROP_SERIES_LIMIT, 1);
        return NULL;
    }
    struct prom_series *se = store_calloc(s, sizeof(*se) + n + 1);
    if (!se) {
        drop(s, PROM_DROP_SERIES_LIMIT, 1);
        return NULL;
    }
    memcpy(se->labels, lab, n);
    se->labels[n] = '\0';
    se->labels_len = (uint32_t)n;
    se->hash = h;
    se->fam = f;
    se->res = r;
    se->fresh = 1;
    r->refs++;
    se->hnext = s->tab[h & (s->tab_size - 1)];
    s->tab[h & (s->tab_size - 1)] = se;
    se->prev = f->tail;
    if (f->tail)
        f->tail->next = se;
    else
        f->head = se;
    f->tail = se;
    f->nseries++;
    s->nseries++;
    if (s->nseries > s->tab_size && s->tab_size < (1u << 26))
        tab_grow(s);
    return se;
}

struct prom_series *prom_store_find(struct prom_store *s, const char *family, const char *labels)
{
    size_t fn = strlen(family);
    struct prom_family *f = family_find(s, family, fn, hash_bytes(family, fn, s->seed));
    if (!f)
        return NULL;
    size_t n = strlen(labels);
    uint64_t h = hash_bytes(labels, n, s->seed ^ (uintptr_t)f);
    for (struct prom_series *se = s->tab[h & (s->tab_size - 1)]; se; se = se->hnext)
        if (se->hash == h && se->fam == f && se->labels_len == n &&
            memcmp(se->labels, labels, n) == 0)
            return se;
    return NULL;
}

/* ---- applying points ---------------------------------------------------------------------- */

/*
 * Where a point stands against its series' cumulative run. NEW: the first point or a
 * restart (its start time moved on): the series starts over from this point. SAME:
 * the same run, newer. OLD: older than what the series has, or from a run already
 * replaced: dropped.
 */
enum run { RUN_NEW, RUN_SAME, RUN_OLD };

static enum run run_of(const struct prom_series *se, uint64_t start_ns, uint64_t time_ns)
{
    if (se->fresh)
        return RUN_NEW;
    if (start_ns && se->start_ns && start_ns != se->start_ns)
        return start_ns > se->start_ns ? RUN_NEW : RUN_OLD;
    if (time_ns && se->last_ns && time_ns < se->last_ns)
        return RUN_OLD;
    return RUN_SAME;
}

/* Delta points follow each other: one that is not newer than the last is a repeat. */
static int delta_is_old(const struct prom_series *se, uint64_t time_ns)
{
    return !se->fresh && time_ns && se->last_ns && time_ns <= se->last_ns;
}

static void counter_exemplar(struct prom_store *s, struct prom_series *se, Exemplar *const *ex,
                             size_t n)
{
    if (!n)
        return;
    if (!se->u.ex) {
        se->u.ex = store_calloc(s, sizeof(*se->u.ex));
        if (!se->u.ex)
            return;
    }
    exemplar_set(s, se->u.ex, ex[n - 1]);
}

static int apply_number(struct prom_store *s, struct prom_series *se, const NumberDataPoint *p,
                        int delta)
{
    double v = p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
                   ? (double)p->as_int
                   : p->as_double;
    enum prom_type t = se->fam->type;
    if (t == PROM_COUNTER && (isnan(v) || v < 0))
        return PROM_DROP_INVALID;
    if (delta) {
        if (delta_is_old(se, p->time_unix_nano))
            return PROM_DROP_OUT_OF_ORDER;
        if (se->fresh) {
            se->start_ns = p->start_time_unix_nano ? p->start_time_unix_nano : p->time_unix_nano;
            se->value = 0;
        }
        se->value += v;
    } else {
        enum run run = run_of(se, p->start_time_unix_nano, p->time_unix_nano);
        if (run == RUN_OLD)
            return PROM_DROP_OUT_OF_ORDER;
        if (run == RUN_NEW && t == PROM_COUNTER && se->u.ex)
            exemplar_clear(s, se->u.ex);
        /* A counter that goes down without a start time is a restart too. */
        if (run == RUN_NEW || (t == PROM_COUNTER && v < se->value && !p->start_time_unix_nano))
            se->start_ns = p->start_time_unix_nano;
        se->value = v;
    }
    if (p->time_unix_nano > se->last_ns)
        se->last_ns = p->time_unix_nano;
    if (t == PROM_COUNTER)
        counter_exemplar(s, se, p->exemplars, p->n_exemplars);
    return -1;
}

/* Index of the bucket value v falls in: the first bound >= v, or n (+Inf). */
static uint32_t bucket_of(const double *b, uint32_t n, double v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v <= b[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Empties a histogram's count and sum for a point that replaces them; a delta stream
 * without a start time starts at its first point. */
static void hist_start(struct prom_series *se, uint64_t start_ns, uint64_t time_ns, int delta)
{
    se->start_ns = delta && !start_ns ? time_ns : start_ns;
    se->count = 0;
    se->value = 0;
    se->has_sum = 0;
}

static int bounds_valid(const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i && b[i] <= b[i - 1]))
            return 0;
    return 1;
}

static int apply_histogram(struct prom_store *s, struct prom_series *se,
                           const HistogramDataPoint *p, int delta)
{
    if (p->flags & NO_RECORDED_VALUE)
        return PROM_DROP_INVALID;
    size_t nb = p->n_explicit_bounds;
    if (nb > s->cfg.max_buckets)
        return PROM_DROP_TOO_LARGE;
    if (p->n_bucket_counts != 0 && p->n_bucket_counts != nb + 1)
        return PROM_DROP_INVALID;
    if (!bounds_valid(p->explicit_bounds, nb))
        return PROM_DROP_INVALID;
    if (se->exp)
        return PROM_DROP_TYPE_CONFLICT;
    /* Without bucket counts a point has only count and sum: one +Inf bucket. */
    if (p->n_bucket_counts == 0)
        nb = 0;
    enum run run = delta ? (delta_is_old(se, p->time_unix_nano) ? RUN_OLD : RUN_SAME)
                         : run_of(se, p->start_time_unix_nano, p->time_unix_nano);
    if (run == RUN_OLD)
        return PROM_DROP_OUT_OF_ORDER;
    struct prom_bounds *cur = se->u.h.bounds;
    int same_bounds =
        cur && cur->n == nb && memcmp(cur->b, p->explicit_bounds, nb * sizeof(double)) == 0;
    /* A restart (new run, new bounds) clears the exemplars too; a cumulative point of
     * the same run replaces the counts and keeps the exemplars its buckets lack. */
    int restart = se->fresh || run == RUN_NEW || !same_bounds;
    int replace = restart || !delta;
    if (!same_bounds) {
        /* New layout: new counts; a delta stream changing its bounds starts over. */
        struct prom_bounds *b = bounds_get(s, se->fam, p->explicit_bounds, (uint32_t)nb);
        if (!b)
            return PROM_DROP_SERIES_LIMIT;
        uint64_t *counts = store_calloc(s, (nb + 1) * sizeof(uint64_t));
        if (!counts) {
            bounds_put(s, se->fam, b);
            return PROM_DROP_SERIES_LIMIT;
        }
        series_clear_values(s, se);
        se->u.h.bounds = b;
        se->u.h.counts = counts;
    }
    uint64_t *c = se->u.h.counts;
    if (replace)
        hist_start(se, p->start_time_unix_nano, p->time_unix_nano, delta);
    if (restart && se->u.h.ex)
        for (size_t i = 0; i <= nb; i++)
            exemplar_clear(s, &se->u.h.ex[i]);
    if (!p->n_bucket_counts) {
        if (replace)
            c[0] = 0;
        c[0] += p->count;
    } else if (replace) {
        memcpy(c, p->bucket_counts, (nb + 1) * sizeof(uint64_t));
    } else {
        for (size_t i = 0; i <= nb; i++)
            c[i] += p->bucket_counts[i];
    }
    se->count += p->count;
    if (p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM) {
        se->value += p->sum;
        se->has_sum = 1;
    }
    if (p->time_unix_nano > se->last_ns)
        se->last_ns = p->time_unix_nano;
    if (p->n_exemplars) {
        if (!se->u.h.ex)
            se->u.h.ex = store_calloc(s, (nb + 1) * sizeof(*se->u.h.ex));
        /* Per bucket, the point's largest exemplar replaces the one kept. */
        for (size_t i = 0; se->u.h.ex && i < p->n_exemplars; i++) {
            double v = exemplar_value(p->exemplars[i]);
            if (isnan(v))
                continue;
            uint32_t k = bucket_of(p->explicit_bounds, (uint32_t)nb, v);
            struct prom_exemplar *e = &se->u.h.ex[k];
            int better = 1;
            for (size_t j = 0; j < p->n_exemplars; j++) {
                double w = exemplar_value(p->exemplars[j]);
                if (j != i && bucket_of(p->explicit_bounds, (uint32_t)nb, w) == k &&
                    (w > v || (w == v && j > i)))
                    better = 0;
            }
            if (better)
                exemplar_set(s, e, p->exemplars[i]);
        }
    }
    return -1;
}

/* ---- exponential histograms ----------------------------------------------------------- */

static int32_t idx_down(int32_t i, int k)
{
    return i >= 0 ? i >> k : -((-(i + 1)) >> k) - 1;
}

/*
 * Adds counts[0..n) starting at index off, at scale from, into *arr / *aoff / *an kept at
 * scale to (<= from). The result spans both ranges; NULL arrays mean empty.
 */
static int exp_merge(struct prom_store *s, uint64_t **arr, int32_t *aoff, uint32_t *an, int a_shift,
                     const uint64_t *counts, int32_t off, size_t n, int shift)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    if (*an) {
        lo = idx_down(*aoff, a_shift);
        hi = idx_down(*aoff + (int32_t)*an - 1, a_shift);
    }
    if (n) {
        int64_t l2 = idx_down(off, shift), h2 = idx_down(off + (int32_t)n - 1, shift);
        lo = l2 < lo ? l2 : lo;
        hi = h2 > hi ? h2 : hi;
    }
    if (lo > hi) {
        return 0;
    }
    size_t len = (size_t)(hi - lo + 1);
    uint64_t *d = store_calloc(s, len * sizeof(uint64_t));
    if (!d)
        return OTUS_ERR_NOMEM;
    for (uint32_t i = 0; i < *an; i++)
        d[idx_down(*aoff + (int32_t)i, a_shift) - lo] += (*arr)[i];
    for (size_t i = 0; i < n; i++)
        d[idx_down(off + (int32_t)i, shift) - lo] += counts[i];
    store_free(s, *arr, *an * sizeof(uint64_t));
    *arr = d;
    *aoff = (int32_t)lo;
    *an = (uint32_t)len;
    return 0;
}

/* The scale at which both ranges (in indices at scale `scale`) fit max buckets. */
static int32_t exp_fit_scale(int32_t scale, int64_t lo, int64_t hi, uint32_t max)
{
    while (scale > MIN_SCALE && hi >= lo && (uint64_t)(hi - lo + 1) > max) {
        lo = lo >= 0 ? lo >> 1 : -((-(lo + 1)) >> 1) - 1;
        hi = hi >= 0 ? hi >> 1 : -((-(hi + 1)) >> 1) - 1;
        scale--;
    }
    return scale;
}

static void range_at(int32_t off, size_t n, int shift, int64_t *lo, int64_t *hi)
{
    if (!n)
        return;
    int64_t l = idx_down(off, shift), h = idx_down(off + (int32_t)n - 1, shift);
    *lo = l < *lo ? l : *lo;
    *hi = h > *hi ? h : *hi;
}

static int apply_exp(struct prom_store *s, struct prom_series *se, const ExpHistogramDataPoint *p,
                     int delta)
{
    if (p->flags & NO_RECORDED_VALUE)
        return PROM_DROP_INVALID;
    if (p->scale < -10 || p->scale > 20)
        return PROM_DROP_INVALID;
    if (!se->fresh && !se->exp)
        return PROM_DROP_TYPE_CONFLICT;
    const ExpBuckets *pb = p->positive, *nb = p->negative;
    size_t pn = pb ? pb->n_bucket_counts : 0, nn = nb ? nb->n_bucket_counts : 0;
    if (pn > (1u << 20) || nn > (1u << 20))
        return PROM_DROP_TOO_LARGE;
    enum run run = delta ? (delta_is_old(se, p->time_unix_nano) ? RUN_OLD : RUN_SAME)
                         : run_of(se, p->start_time_unix_nano, p->time_unix_nano);
    if (run == RUN_OLD)
        return PROM_DROP_OUT_OF_ORDER;
    struct prom_exph *e = &se->u.x.e;
    int replace = se->fresh || !delta || run == RUN_NEW;
    if (replace) {
        if (!se->exp) {
            series_clear_values(s, se);
            se->exp = 1;
        }
        exph_free(s, e);
        e->scale = p->scale;
        e->zero_count = 0;
        e->zero_threshold = 0;
        hist_start(se, p->start_time_unix_nano, p->time_unix_nano, delta);
        if (se->u.x.ex && (se->fresh || run == RUN_NEW))
            exemplar_clear(s, se->u.x.ex);
    }
    /* Common scale: the lower of the two, lowered further until each sign's range
     * fits max_buckets. */
    int32_t scale = p->scale < e->scale ? p->scale : e->scale;
    for (int pass = 0; pass < 2; pass++) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        const ExpBuckets *b = pass ? nb : pb;
        uint32_t an = pass ? e->neg_n : e->pos_n;
        int32_t aoff = pass ? e->neg_off : e->pos_off;
        range_at(aoff, an, e->scale - scale, &lo, &hi);
        if (b)
            range_at(b->offset, pass ? nn : pn, p->scale - scale, &lo, &hi);
        scale = exp_fit_scale(scale, lo, hi, s->cfg.max_buckets);
    }
    int a_shift = e->scale - scale, p_shift = p->scale - scale;
    int rc = exp_merge(s, &e->pos, &e->pos_off, &e->pos_n, a_shift, pb ? pb->bucket_counts : NULL,
                       pb ? pb->offset : 0, pn, p_shift);
    if (!rc)
        rc = exp_merge(s, &e->neg, &e->neg_off, &e->neg_n, a_shift, nb ? nb->bucket_counts : NULL,
                       nb ? nb->offset : 0, nn, p_shift);
    if (rc)
        return PROM_DROP_SERIES_LIMIT;
    e->scale = scale;
    e->zero_count += p->zero_count;
    if (p->zero_threshold > e->zero_threshold)
        e->zero_threshold = p->zero_threshold;
    se->count += p->count;
    if (p->_sum_case ==
        OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM) {
        se->value += p->sum;
        se->has_sum = 1;
    }
    if (p->time_unix_nano > se->last_ns)
        se->last_ns = p->time_unix_nano;
    if (p->n_exemplars) {
        if (!se->u.x.ex)
            se->u.x.ex = store_calloc(s, sizeof(*se->u.x.ex));
        if (se->u.x.ex) {
            size_t best = 0;
            for (size_t i = 1; i < p->n_exemplars; i++)
                if (exemplar_value(p->exemplars[i]) >= exemplar_value(p->exemplars[best]))
                    best = i;
            exemplar_set(s, se->u.x.ex, p->exemplars[best]);
        }
    }
    return -1;
}

static int apply_summary(struct prom_store *s, struct prom_series *se, const SummaryDataPoint *p)
{
    if (p->flags & NO_RECORDED_VALUE)
        return PROM_DROP_INVALID;
    if (p->n_quantile_values > MAX_QUANTILES)
        return PROM_DROP_TOO_LARGE;
    enum run run = run_of(se, p->start_time_unix_nano, p->time_unix_nano);
    if (run == RUN_OLD)
        return PROM_DROP_OUT_OF_ORDER;
    uint32_t n = (uint32_t)p->n_quantile_values;
    for (uint32_t i = 0; i < n; i++) {
        double q = p->quantile_values[i]->quantile;
        if (!(q >= 0 && q <= 1))
            return PROM_DROP_INVALID;
    }
    if (n != se->u.s.n) {
        double *q = n ? store_alloc(s, n * 2 * sizeof(double)) : NULL;
        if (n && !q)
            return PROM_DROP_SERIES_LIMIT;
        store_free(s, se->u.s.q, se->u.s.n * 2 * sizeof(double));
        se->u.s.q = q;
        se->u.s.n = n;
    }
    /* Sorted by quantile, as the exposition lists them. */
    for (uint32_t i = 0; i < n; i++) {
        double q = p->quantile_values[i]->quantile, v = p->quantile_values[i]->value;
        uint32_t j = i;
        while (j > 0 && se->u.s.q[j - 1] > q) {
            se->u.s.q[j] = se->u.s.q[j - 1];
            se->u.s.q[n + j] = se->u.s.q[n + j - 1];
            j--;
        }
        se->u.s.q[j] = q;
        se->u.s.q[n + j] = v;
    }
    if (run == RUN_NEW)
        se->start_ns = p->start_time_unix_nano;
    se->count = p->count;
    se->value = p->sum;
    se->has_sum = 1;
    if (p->time_unix_nano > se->last_ns)
        se->last_ns = p->time_unix_nano;
    return -1;
}

/* ---- ingest -----------------------------------------------------------------------------------
 */

struct metric_kind {
    enum prom_type type;
    int delta;
    int ok;
};

static struct metric_kind kind_of(const Metric *m)
{
    struct metric_kind k = {PROM_GAUGE, 0, 1};
    switch (m->data_case) {
    case MDATA(GAUGE):
        k.ok = m->gauge != NULL;
        break;
    case MDATA(SUM):
        if (!m->sum) {
            k.ok = 0;
            break;
        }
        k.type = m->sum->is_monotonic ? PROM_COUNTER : PROM_GAUGE;
        k.delta = m->sum->aggregation_temporality == TEMPORALITY(DELTA);
        k.ok = m->sum->aggregation_temporality != TEMPORALITY(UNSPECIFIED);
        break;
    case MDATA(HISTOGRAM):
        k.type = PROM_HISTOGRAM;
        k.ok = m->histogram && m->histogram->aggregation_temporality != TEMPORALITY(UNSPECIFIED);
        k.delta = k.ok && m->histogram->aggregation_temporality == TEMPORALITY(DELTA);
        break;
    case MDATA(EXPONENTIAL_HISTOGRAM):
        k.type = PROM_HISTOGRAM;
        k.ok = m->exponential_histogram &&
               m->exponential_histogram->aggregation_temporality != TEMPORALITY(UNSPECIFIED);
        k.delta = k.ok && m->exponential_histogram->aggregation_temporality == TEMPORALITY(DELTA);
        break;
    case MDATA(SUMMARY):
        k.type = PROM_SUMMARY;
        k.ok = m->summary != NULL;
        break;
    default:
        k.ok = 0;
        break;
    }
    return k;
}

/* The attributes of data point i of m. */
static void point_attrs(const Metric *m, size_t i, KeyValue ***kv, size_t *n)
{
    switch (m->data_case) {
    case MDATA(GAUGE):
        *kv = m->gauge->data_points[i]->attributes;
        *n = m->gauge->data_points[i]->n_attributes;
        break;
    case MDATA(SUM):
        *kv = m->sum->data_points[i]->attributes;
        *n = m->sum->data_points[i]->n_attributes;
        break;
    case MDATA(HISTOGRAM):
        *kv = m->histogram->data_points[i]->attributes;
        *n = m->histogram->data_points[i]->n_attributes;
        break;
    case MDATA(EXPONENTIAL_HISTOGRAM):
        *kv = m->exponential_histogram->data_points[i]->attributes;
        *n = m->exponential_histogram->data_points[i]->n_attributes;
        break;
    case MDATA(SUMMARY):
        *kv = m->summary->data_points[i]->attributes;
        *n = m->summary->data_points[i]->n_attributes;
        break;
    default:
        *kv = NULL;
        *n = 0;
        break;
    }
}

static int apply_point(struct prom_store *s, struct prom_series *se, const Metric *m, size_t i,
                       int delta)
{
    switch (m->data_case) {
    case MDATA(GAUGE): {
        const NumberDataPoint *p = m->gauge->data_points[i];
        if (p->flags & NO_RECORDED_VALUE)
            return PROM_DROP_INVALID;
        if (!se->fresh && p->time_unix_nano && p->time_unix_nano < se->last_ns)
            return PROM_DROP_OUT_OF_ORDER;
        se->value =
            p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
                ? (double)p->as_int
                : p->as_double;
        if (p->time_unix_nano > se->last_ns)
            se->last_ns = p->time_unix_nano;
        return -1;
    }
    case MDATA(SUM): {
        const NumberDataPoint *p = m->sum->data_points[i];
        if (p->flags & NO_RECORDED_VALUE)
            return PROM_DROP_INVALID;
        return apply_number(s, se, p, delta);
    }
    case MDATA(HISTOGRAM):
        return apply_histogram(s, se, m->histogram->data_points[i], delta);
    case MDATA(EXPONENTIAL_HISTOGRAM):
        return apply_exp(s, se, m->exponential_histogram->data_points[i], delta);
    case MDATA(SUMMARY):
        return apply_summary(s, se, m->summary->data_points[i]);
    default:
        return PROM_DROP_INVALID;
    }
}

static void ingest_metric(struct prom_store *s, struct prom_resource *r, const Metric *m,
                          size_t prefix_len, uint64_t now_ms)
{
    size_t npoints = otus_metric_points(m);
    if (!npoints)
        return;
    struct metric_kind k = kind_of(m);
    if (!k.ok || !m->name) {
        drop(s, PROM_DROP_INVALID, npoints);
        return;
    }
    char unit[PROM_UNIT_MAX];
    struct otus_buf *name = &s->fname;
    otus_buf_reset(name);
    int rc = prom_family_name(m->name, m->unit, k.type == PROM_COUNTER, name, unit);
    if (rc) {
        drop(s, rc == OTUS_ERR_INVALID ? PROM_DROP_INVALID : PROM_DROP_TOO_LARGE, npoints);
        return;
    }
    uint64_t fh = hash_bytes(name->data, name->len, s->seed);
    struct prom_family *f = family_find(s, name->data, name->len, fh);
    if (f && f->type != k.type) {
        drop(s, PROM_DROP_TYPE_CONFLICT, npoints);
        if (!f->conflict_logged) {
            f->conflict_logged = 1;
            otus_log(OTUS_LOG_WARN, "prometheus",
                     "metric %s dropped: %s is already a family of another type", m->name, f->name);
        }
        return;
    }
    if (!f)
        f = family_new(s, name->data, name->len, fh, k.type, unit, m->description);
    if (!f) {
        drop(s, PROM_DROP_SERIES_LIMIT, npoints);
        return;
    }
    static const struct word reserved_plain[] = {WORD("job"), WORD("instance"),
                                                 WORD("otel_scope_name"),
                                                 WORD("otel_scope_version"), WORD_END};
    static const struct word reserved_hist[] = {
        WORD("job"), WORD("instance"), WORD("otel_scope_name"), WORD("otel_scope_version"),
        WORD("le"),  WORD_END};
    static const struct word reserved_summary[] = {
        WORD("job"),      WORD("instance"), WORD("otel_scope_name"), WORD("otel_scope_version"),
        WORD("quantile"), WORD_END};
    const struct word *reserved = k.type == PROM_HISTOGRAM ? reserved_hist
                                  : k.type == PROM_SUMMARY ? reserved_summary
                                                           : reserved_plain;
    for (size_t i = 0; i < npoints; i++) {
        KeyValue **kv;
        size_t nkv;
        point_attrs(m, i, &kv, &nkv);
        s->lab.len = 0;
        rc = otus_buf_append(&s->lab, s->prefix.data, prefix_len);
        if (!rc)
            rc = render_attrs(s, kv, nkv, reserved, s->cfg.resource_to_telemetry ? r->attrs : NULL,
                              s->cfg.resource_to_telemetry ? r->attrs_len : 0, NULL, &s->lab);
        if (rc) {
            drop(s, rc == OTUS_ERR_NOMEM ? PROM_DROP_SERIES_LIMIT : PROM_DROP_TOO_LARGE, 1);
            continue;
        }
        struct prom_series *se = series_get(s, f, r, s->lab.data ? s->lab.data : "", s->lab.len);
        if (!se)
            continue;
        int why = apply_point(s, se, m, i, k.delta);
        if (why >= 0) {
            drop(s, (enum prom_drop)why, 1);
            if (se->fresh)
                series_remove(s, se);
            continue;
        }
        se->fresh = 0;
        se->updated_ms = now_ms;
        s->stats.points++;
    }
    if (f->nseries == 0)
        family_free(s, f);
}

void prom_store_ingest(struct prom_store *s, const otus_metrics_req *req, uint64_t now_ms)
{
    if (!req)
        return;
    s->lab.max = s->cfg.max_label_bytes;
    for (size_t i = 0; i < req->n_resource_metrics; i++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = req->resource_metrics[i];
        size_t points = 0;
        for (size_t j = 0; j < rm->n_scope_metrics; j++)
            for (size_t k = 0; k < rm->scope_metrics[j]->n_metrics; k++)
                points += otus_metric_points(rm->scope_metrics[j]->metrics[k]);
        if (!points)
            continue;
        struct prom_resource *r = resource_get(s, rm->resource);
        if (!r) {
            drop(s, PROM_DROP_TOO_LARGE, points);
            continue;
        }
        r->refs++; /* held while its points are applied */
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[j];
            otus_buf_reset(&s->prefix);
            s->prefix.max = s->cfg.max_label_bytes;
            int rc = otus_buf_append(&s->prefix, r->id, r->id_len);
            if (!rc && s->cfg.scope_labels && sm->scope && sm->scope->name && sm->scope->name[0])
                rc = put_label(&s->prefix, "otel_scope_name", sm->scope->name,
                               strlen(sm->scope->name));
            if (!rc && s->cfg.scope_labels && sm->scope && sm->scope->version &&
                sm->scope->version[0])
                rc = put_label(&s->prefix, "otel_scope_version", sm->scope->version,
                               strlen(sm->scope->version));
            if (!rc && s->cfg.resource_to_telemetry && r->attrs_len) {
                if (s->prefix.len)
                    rc = otus_buf_append_byte(&s->prefix, ',');
                if (!rc)
                    rc = otus_buf_append(&s->prefix, r->attrs, r->attrs_len);
            }
            for (size_t k = 0; k < sm->n_metrics; k++) {
                if (rc) {
                    drop(s, PROM_DROP_TOO_LARGE, otus_metric_points(sm->metrics[k]));
                    continue;
                }
                ingest_metric(s, r, sm->metrics[k], s->prefix.len, now_ms);
            }
        }
        if (--r->refs == 0)
            resource_free(s, r);
    }
}

size_t prom_store_expire(struct prom_store *s, uint64_t now_ms)
{
    if (now_ms < s->cfg.ttl_ms)
        return 0;
    uint64_t before = now_ms - s->cfg.ttl_ms;
    size_t n = 0;
    for (size_t i = 0; i < s->ftab_size; i++) {
        struct prom_family *f = s->ftab[i];
        while (f) {
            struct prom_family *fn = f->hnext;
            struct prom_series *se = f->head;
            while (se) {
                struct prom_series *sn = se->next;
                if (se->updated_ms < before) {
                    series_remove(s, se);
                    n++;
                }
                se = sn;
            }
            if (f->nseries == 0)
                family_free(s, f);
            f = fn;
        }
    }
    s->stats.series_expired += n;
    return n;
}

/* ---- le texts of exponential buckets ----------------------------------------------------- */

double prom_exp_bound(int32_t scale, int64_t k)
{
    if (scale >= 0)
        return exp2((double)k / (double)(1 << scale));
    /* An exact power of two; beyond the double range it is 0 or +Inf anyway. */
    int64_t e = k * ((int64_t)1 << -scale);
    e = e > 4096 ? 4096 : e < -4096 ? -4096 : e;
    return ldexp(1.0, (int)e);
}

const char *prom_store_exp_le(struct prom_store *s, int32_t scale, int32_t index, int neg,
                              size_t *len)
{
    /* Positive bucket i: upper bound base^(i+1). Negative bucket i: upper bound -base^i. */
    int64_t k = neg ? index : (int64_t)index + 1;
    uint64_t key = ((uint64_t)(uint32_t)(scale + 64) << 40) ^ ((uint64_t)(k + (1ll << 38))) ^
                   ((uint64_t)neg << 39) ^ (1ull << 63);
    size_t slot = (size_t)(hash_bytes(&key, sizeof(key), 0) & (EXP_LE_CACHE - 1));
    for (size_t probe = 0; probe < 8; probe++) {
        struct exp_le *c = &s->exp_le[(slot + probe) & (EXP_LE_CACHE - 1)];
        if (c->key == key) {
            *len = c->len;
            return c->text;
        }
        if (c->key == 0) {
            slot = (slot + probe) & (EXP_LE_CACHE - 1);
            break;
        }
        if (probe == 7)
            slot = (slot + (size_t)(key % 8)) & (EXP_LE_CACHE - 1); /* evict */
    }
    double bound = prom_exp_bound(scale, k);
    if (neg)
        bound = -bound;
    char num[PROM_NUM_MAX];
    size_t n = prom_fmt_canonical(bound, num);
    char *t = malloc(n + 7);
    if (!t)
        return NULL;
    memcpy(t, "le=\"", 4);
    memcpy(t + 4, num, n);
    memcpy(t + 4 + n, "\"}", 3);
    struct exp_le *c = &s->exp_le[slot];
    free(c->text);
    c->key = key;
    c->text = t;
    c->len = n + 6;
    *len = c->len;
    return t;
}
