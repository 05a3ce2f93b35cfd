/*
 * prom_pb.h: the Prometheus protobuf exposition of the store: a stream of
 * io.prometheus.client.MetricFamily messages (proto/io/prometheus/client/metrics.proto),
 * each preceded by its length as a varint, which Prometheus asks for when its native
 * histograms are enabled. Every family the text formats show is here too; exponential
 * histograms become native histograms (with their classic buckets as well when asked),
 * exemplars travel with counters, classic buckets and native histograms, and start
 * times become created timestamps.
 *
 * Like prom_expo.c this reads the store and writes bytes, nothing else. The encoding
 * is canonical (what a protobuf library would write for the same message): fields in
 * number order, shortest varints, proto2 repeated scalars unpacked.
 */
#ifndef OTUS_EXPORTERS_PROMETHEUS_PROM_PB_H
#define OTUS_EXPORTERS_PROMETHEUS_PROM_PB_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "exporters/prometheus/prom_store.h"

#define PROM_CT_PROTOBUF                                                                           \
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "                   \
    "encoding=delimited"

/* The native histogram schemas Prometheus reads (the OTLP scale, within this range). */
#define PROM_NATIVE_SCHEMA_MIN (-4)
#define PROM_NATIVE_SCHEMA_MAX 8

struct prom_pb_opts {
    int native;             /* exponential histograms as native histograms */
    int classic_for_native; /* ... with their classic buckets ("le") as well */
};

/* One sign of a native histogram: the counts of the consecutive buckets first,
 * first + 1, ... in Prometheus' numbering (bucket i holds magnitudes in
 * (base^(i-1), base^i]). */
struct prom_native_side {
    int32_t first;
    uint32_t n;
    const uint64_t *counts; /* n counts, some maybe 0; borrowed from the scratch */
};

/* An exponential histogram as a native histogram. */
struct prom_native {
    int32_t schema;        /* the OTLP scale, lowered to PROM_NATIVE_SCHEMA_MAX */
    double zero_threshold; /* the zero bucket is [-zero_threshold, zero_threshold] */
    uint64_t zero_count;   /* with the buckets wholly inside the threshold */
    uint64_t count;        /* zero_count and every bucket */
    struct prom_native_side pos, neg;
};

/*
 * Maps an exponential histogram kept at OTLP scale s to a native histogram: schema s,
 * or 8 with 2^(s-8) neighbouring buckets merged when s is above 8; OTLP bucket i of
 * either sign (magnitudes in (base^i, base^(i+1)]) is Prometheus bucket i + 1; buckets
 * wholly inside the zero threshold count in the zero bucket. scratch (borrowed, reused
 * across calls) holds the counts until the next call. 0; OTUS_ERR_INVALID when s is
 * below -4 (no native form: the histogram keeps its classic buckets); or
 * OTUS_ERR_NOMEM from scratch.
 */
int prom_native_from_exp(const struct prom_exph *e, struct prom_native *n,
                         struct otus_buf *scratch);

/*
 * Appends target_info and every family of s as length-delimited MetricFamily messages:
 * families in name order, series in creation order, no timestamps. 0, or
 * OTUS_ERR_TOO_BIG / OTUS_ERR_NOMEM from out.
 */
int prom_pb_render(struct prom_store *s, const struct prom_pb_opts *o, struct otus_buf *out);

/*
 * Appends the families of a text format 0.0.4 exposition (text[0..len), the agent's own
 * metrics) as MetricFamily messages: HELP and TYPE become the family's help and type
 * (counter, gauge; untyped otherwise), and samples whose name is not the family's
 * (the suffixed samples of a histogram or summary) become untyped families of their
 * own names, so that every sample keeps its series. Malformed lines are skipped.
 * 0, or an error from out.
 */
int prom_pb_from_text(const char *text, size_t len, struct otus_buf *out);

#endif
