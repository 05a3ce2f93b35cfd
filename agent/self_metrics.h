/*
 * self_metrics.h: the agent's own metrics (prefix otus_), exposed on its /metrics
 * endpoint. A component creates a family once (name, help, type, label names), gets a
 * series per label-value combination, and keeps a pointer to the series' value, which
 * it updates directly: counting costs one add on the loop thread, nothing else.
 * Gauges that are cheaper to compute at scrape time register a collect callback.
 *
 * Threading: loop thread only.
 */
#ifndef OTUS_AGENT_SELF_METRICS_H
#define OTUS_AGENT_SELF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum otus_metric_type {
    OTUS_METRIC_COUNTER,
    OTUS_METRIC_GAUGE,
};

#define OTUS_METRIC_MAX_LABELS 4

struct otus_self_metrics;
struct otus_metric_family;

struct otus_metric_series {
    double value; /* counters only ever grow */
    /* private to self_metrics.c */
    uint64_t refs; /* holders: every otus_self_metrics_series() call takes one */
    struct otus_metric_series *next;
    struct otus_metric_family *family;
    char *labels[OTUS_METRIC_MAX_LABELS]; /* values, owned */
};

/* Called before every render so gauges can be refreshed. */
typedef void (*otus_metrics_collect_cb)(void *ctx);

struct otus_self_metrics *otus_self_metrics_create(void);
void otus_self_metrics_destroy(struct otus_self_metrics *m); /* accepts NULL */

/*
 * Returns the family called name, creating it (name, help and label names borrowed:
 * string literals). A second call with the same name returns the same family.
 * NULL on out of memory.
 */
struct otus_metric_family *otus_self_metrics_family(struct otus_self_metrics *m, const char *name,
                                                    const char *help, enum otus_metric_type type,
                                                    const char *const *label_names, size_t nlabels);

/*
 * Returns the series with these label values (copied), creating it at 0, and takes a
 * reference to it: two holders of the same series (an exporter and its replacement
 * during a reload) share it, and it goes when the last of them removes it. The
 * pointer stays valid until the caller's otus_self_metrics_series_remove() or destroy.
 * A caller that never removes may look a series up again and again. NULL on out of
 * memory.
 */
struct otus_metric_series *otus_self_metrics_series(struct otus_metric_family *f,
                                                    const char *const *label_values);

/* Drops the caller's reference; the last one removes the series. Accepts NULL. */
void otus_self_metrics_series_remove(struct otus_metric_series *s);

/* Registers a callback run before each render. 0 or OTUS_ERR_NOMEM. */
int otus_self_metrics_on_collect(struct otus_self_metrics *m, otus_metrics_collect_cb cb,
                                 void *ctx);
void otus_self_metrics_off_collect(struct otus_self_metrics *m, otus_metrics_collect_cb cb,
                                   void *ctx);

/*
 * Appends every family in Prometheus text format 0.0.4 (openmetrics 0) or OpenMetrics
 * 1.0 (openmetrics 1; without the final "# EOF", which the caller adds after any
 * other families). Families are in name order, series in creation order.
 */
int otus_self_metrics_render(struct otus_self_metrics *m, int openmetrics, struct otus_buf *out);

/* Convenience for the common case of a family with one series and no labels. */
struct otus_metric_series *otus_self_metrics_simple(struct otus_self_metrics *m, const char *name,
                                                    const char *help, enum otus_metric_type type);

#endif
