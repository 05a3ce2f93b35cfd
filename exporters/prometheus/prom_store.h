/*
 * prom_store.h: the Prometheus exporter's aggregation store. OTLP data points are
 * merged into series keyed by family (the Prometheus metric name) and label set (the
 * resource's job and instance, the scope, the point's attributes). Delta points are
 * accumulated into cumulative values; a cumulative stream whose start time moves on is
 * taken as a restart and its series starts over. Series that are not updated for the
 * TTL are removed; beyond max_series new series are refused and counted, and every
 * series has bounded labels and buckets, so the memory stays bounded whatever the
 * senders' cardinality.
 *
 * The structures are read by the renderer (prom_expo.c) and by tests; only this
 * store's functions change them. Threading: one thread (the agent's loop) only.
 */
#ifndef OTUS_EXPORTERS_PROMETHEUS_PROM_STORE_H
#define OTUS_EXPORTERS_PROMETHEUS_PROM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/batch.h"
#include "common/buf.h"
#include "exporters/prometheus/prom_names.h"

enum prom_type {
    PROM_COUNTER,
    PROM_GAUGE,
    PROM_HISTOGRAM,
    PROM_SUMMARY,
};

/* Why a data point was not taken (index into prom_stats.dropped). */
enum prom_drop {
    PROM_DROP_TYPE_CONFLICT, /* the name is already a family of another type */
    PROM_DROP_INVALID,       /* malformed point: bad buckets, negative counter, NaN count */
    PROM_DROP_OUT_OF_ORDER,  /* older than what the series already has */
    PROM_DROP_TOO_LARGE,     /* labels, buckets or quantiles over their limits */
    PROM_DROP_SERIES_LIMIT,  /* a new series refused: max_series or max_bytes reached */
    PROM_DROP_COUNT
};

struct prom_store_cfg {
    uint64_t ttl_ms;           /* series not updated for this long are removed */
    size_t max_series;         /* new series beyond this are refused */
    size_t max_bytes;          /* new series are refused while the store holds more */
    size_t max_label_bytes;    /* a series' rendered labels; longer points are dropped */
    uint32_t max_buckets;      /* explicit bounds per point; exponential buckets per sign */
    int resource_to_telemetry; /* copy resource attributes onto every series */
    int scope_labels;          /* otel_scope_name / otel_scope_version labels */
};

/* Counters kept by the store; the exporter publishes them as otus_prometheus_*. */
struct prom_stats {
    uint64_t points;                   /* data points taken */
    uint64_t dropped[PROM_DROP_COUNT]; /* data points not taken, by reason */
    uint64_t series_refused;           /* new series refused (also counted in dropped) */
    uint64_t series_expired;           /* series removed by the TTL */
};

/* An exemplar: the trace and span a sampled measurement belongs to. */
struct prom_exemplar {
    double value;
    uint64_t time_ns; /* 0: none given */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t set;     /* 0: no exemplar in this slot */
    uint8_t has_ids; /* trace_id and span_id are valid */
    char *extra;     /* other labels, rendered and escaped, or NULL; owned */
};

/* A set of explicit bucket bounds, shared by the series of a family that use it, with
 * its "le" label texts rendered once. */
struct prom_bounds {
    struct prom_bounds *next; /* the family's list */
    unsigned refs;
    uint32_t n;       /* bounds; buckets are n + 1, the last one +Inf */
    double *b;        /* n bounds, strictly increasing; in the same block */
    uint32_t *le_off; /* n + 2 offsets into le: text of bucket i is [off[i], off[i+1]) */
    char *le;         /* `le="0.005"}` ... `le="+Inf"}`, concatenated */
};

/* An exponential histogram kept at its own scale (OTLP layout: bucket i of a sign
 * covers (base^i, base^(i+1)] in magnitude, base = 2^(2^-scale)). */
struct prom_exph {
    int32_t scale;
    int32_t pos_off, neg_off; /* index of the first bucket of each array */
    uint32_t pos_n, neg_n;
    uint64_t *pos, *neg; /* owned */
    uint64_t zero_count;
    double zero_threshold;
};

struct prom_family;
struct prom_resource;

struct prom_series {
    struct prom_series *hnext;       /* hash chain */
    struct prom_series *prev, *next; /* the family's series in creation order */
    struct prom_family *fam;
    struct prom_resource *res;
    uint64_t hash;
    uint64_t updated_ms; /* store clock at the last update */
    uint64_t start_ns;   /* start of the cumulative run (_created); 0: unknown */
    uint64_t last_ns;    /* time of the newest point taken */
    double value;        /* counter or gauge value; histogram or summary sum */
    uint64_t count;      /* histogram or summary count */
    uint8_t has_sum;     /* histogram: a sum was given */
    uint8_t exp;         /* histogram kept as exponential (e below) */
    uint8_t fresh;       /* created by the point being applied */
    union {
        struct {
            struct prom_bounds *bounds;
            uint64_t *counts;         /* bounds->n + 1 per-bucket counts; owned */
            struct prom_exemplar *ex; /* bounds->n + 1 slots, or NULL; owned */
        } h;
        struct {
            struct prom_exph e;
            struct prom_exemplar *ex; /* one slot, or NULL; owned */
        } x;
        struct {
            uint32_t n;
            double *q; /* n quantiles then n values; owned */
        } s;
        struct prom_exemplar *ex; /* counters: one slot, or NULL; owned */
    } u;
    uint32_t labels_len;
    char labels[]; /* `job="a",instance="b",k="v"`, no braces */
};

struct prom_family {
    struct prom_family *hnext; /* name hash chain */
    uint64_t hash;
    enum prom_type type;
    char *name; /* family name (counters without _total); owned */
    size_t name_len;
    char *help;               /* raw description; owned */
    char unit[PROM_UNIT_MAX]; /* UNIT word, "" for none */
    struct prom_series *head, *tail;
    size_t nseries;
    struct prom_bounds *bounds; /* bound sets in use */
    uint8_t conflict_logged;
};

struct prom_resource {
    struct prom_resource *next, *prev; /* the store's resources in creation order */
    uint64_t hash;
    unsigned refs; /* series that point here */
    char *id;      /* `job="..",instance=".."`; owned */
    size_t id_len;
    char *info; /* target_info labels (id and the other attributes),
                   NULL when there are no other attributes; owned */
    size_t info_len;
    char *attrs; /* the other attributes as labels; owned */
    size_t attrs_len;
};

struct prom_store;

/* A store with cfg (copied). NULL on out of memory. */
struct prom_store *prom_store_create(const struct prom_store_cfg *cfg);
void prom_store_destroy(struct prom_store *s); /* accepts NULL */

/*
 * Takes every data point of a metrics request (borrowed) into the store; now_ms is
 * the store clock (the loop's) for the TTL. Points that cannot be taken are counted
 * in the stats and never fail the rest.
 */
void prom_store_ingest(struct prom_store *s, const otus_metrics_req *req, uint64_t now_ms);

/* Removes the series not updated since now_ms - ttl; returns how many. */
size_t prom_store_expire(struct prom_store *s, uint64_t now_ms);

const struct prom_stats *prom_store_stats(const struct prom_store *s);
size_t prom_store_series(const struct prom_store *s);
size_t prom_store_bytes(const struct prom_store *s);

/* The families sorted by name into *out (an array owned by the store, valid until the
 * next change); returns the count. NULL-safe for an empty store. */
size_t prom_store_families(struct prom_store *s, struct prom_family ***out);

/* The resources in creation order (walk ->next). */
struct prom_resource *prom_store_resources(const struct prom_store *s);

/* Finds a series by family name and exact label text (tests, tools). NULL if none. */
struct prom_series *prom_store_find(struct prom_store *s, const char *family, const char *labels);

/* base^k for an exponential histogram at scale (base = 2^(2^-scale)): the upper bound
 * of positive OTLP bucket k - 1, the magnitude of a bucket boundary. */
double prom_exp_bound(int32_t scale, int64_t k);

/* The "le" label text for the upper bound of exponential bucket index at scale (or the
 * lower magnitude bound of a negative bucket when neg), as `le="..."}`; cached per
 * store. Sets *len. NULL on out of memory. */
const char *prom_store_exp_le(struct prom_store *s, int32_t scale, int32_t index, int neg,
                              size_t *len);

#endif
