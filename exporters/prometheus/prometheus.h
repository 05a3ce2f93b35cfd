/*
 * prometheus.h: the Prometheus exporter's ops for the exporter table, and the pieces
 * of its endpoint that tests and benchmarks drive directly.
 */
#ifndef OTUS_EXPORTERS_PROMETHEUS_PROMETHEUS_H
#define OTUS_EXPORTERS_PROMETHEUS_PROMETHEUS_H

#include "common/buf.h"
#include "exporters/exporter.h"
#include "exporters/prometheus/prom_expo.h"
#include "exporters/prometheus/prom_pb.h"
#include "exporters/prometheus/prom_store.h"

extern const struct otus_exporter_ops otus_prometheus_exporter;

struct prom_exporter;

/* The format an Accept header asks for (NULL: text 0.0.4): protobuf, OpenMetrics or
 * text, by q value, ties going in that order. */
enum prom_format prom_negotiate(const char *accept);

/* 1 when an Accept-Encoding header (MAY be NULL) allows gzip. */
int prom_accepts_gzip(const char *accept_encoding);

/* The whole scrape body: the store, the agent's own metrics, "# EOF" for OpenMetrics. */
int prom_exporter_render(struct prom_exporter *px, enum prom_format fmt, struct otus_buf *out);

#endif
