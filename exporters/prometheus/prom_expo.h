/*
 * prom_expo.h: renders the store as a Prometheus text format 0.0.4 or OpenMetrics 1.0
 * exposition. A render reads the store and writes text, nothing else, so one render
 * on the loop thread is a consistent snapshot: no ingest can run in its middle.
 */
#ifndef OTUS_EXPORTERS_PROMETHEUS_PROM_EXPO_H
#define OTUS_EXPORTERS_PROMETHEUS_PROM_EXPO_H

#include "common/buf.h"
#include "exporters/prometheus/prom_store.h"

enum prom_format {
    PROM_FMT_TEXT,        /* text/plain; version=0.0.4 */
    PROM_FMT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
    PROM_FMT_PROTOBUF,    /* delimited io.prometheus.client.MetricFamily (prom_pb.h) */
};

#define PROM_CT_TEXT        "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/*
 * Appends target_info and every family of the store to out, families in name order,
 * series in creation order, without timestamps. OpenMetrics adds UNIT lines,
 * _created samples and exemplars; the caller appends "# EOF\n" after any other
 * families. PROM_FMT_PROTOBUF renders with prom_pb_render() and exponential
 * histograms as native ones. 0, or OTUS_ERR_TOO_BIG / OTUS_ERR_NOMEM from out.
 */
int prom_expo_render(struct prom_store *s, enum prom_format fmt, struct otus_buf *out);

/*
 * Asks the kernel to back the unused room of out with huge pages (Linux
 * madvise(MADV_HUGEPAGE), a hint). A fresh 100 MB scrape buffer otherwise costs some
 * 25,000 page faults as it fills, several times the time of the render itself.
 */
void prom_expo_hugepages(struct otus_buf *out);

#endif
