/*
 * registry.c: the one table through which the core finds exporter types, and the
 * queue settings every push exporter shares. Adding an exporter touches this table
 * and nothing else in the core.
 */
#include <stddef.h>
#include <string.h>

#include "exporters/exporter.h"

const struct otus_cfg_entry otus_queue_cfg_table[] = {
    {"flush_interval", OTUS_CFG_DURATION, "1s", offsetof(struct otus_queue_cfg, flush_interval_ms),
     "Send what is queued at least this often.", 1, 3600000, NULL, NULL},
    {"max_batch_bytes", OTUS_CFG_SIZE, "5MiB", offsetof(struct otus_queue_cfg, max_batch_bytes),
     "A send carries about this much data at most (decoded size).", 1024, 1LL << 32, NULL, NULL},
    {"max_batch_records", OTUS_CFG_INT, "10000", offsetof(struct otus_queue_cfg, max_batch_records),
     "A send carries about this many records at most.", 1, 10000000, NULL, NULL},
    {"max_in_flight", OTUS_CFG_INT, "2", offsetof(struct otus_queue_cfg, max_in_flight),
     "Sends in progress at once.", 1, 64, NULL, NULL},
    {"queue_max_bytes", OTUS_CFG_SIZE, "256MiB", offsetof(struct otus_queue_cfg, queue_max_bytes),
     "Data waiting for this exporter over this size is dropped and counted.", 1024, 1LL << 40, NULL,
     NULL},
    OTUS_CFG_END,
};

extern const struct otus_exporter_ops otus_file_exporter;
extern const struct otus_exporter_ops otus_prometheus_exporter;
extern const struct otus_exporter_ops otus_elasticsearch_exporter;
extern const struct otus_exporter_ops otus_otlp_exporter, otus_jaeger_exporter;
extern const struct otus_exporter_ops otus_null_exporter;

const struct otus_exporter_ops *const otus_exporter_types[] = {
    &otus_file_exporter,          /* exporters/file/ */
    &otus_prometheus_exporter,    /* exporters/prometheus/ */
    &otus_elasticsearch_exporter, /* exporters/elasticsearch/ */
    &otus_otlp_exporter,          /* exporters/otlp/ */
    &otus_jaeger_exporter,        /* exporters/otlp/, its traces-only preset */
    &otus_null_exporter,          /* exporters/null/ */
    NULL,
};

const struct otus_exporter_ops *otus_exporter_find(const char *type)
{
    for (size_t i = 0; otus_exporter_types[i]; i++)
        if (strcmp(otus_exporter_types[i]->type, type) == 0)
            return otus_exporter_types[i];
    return NULL;
}
