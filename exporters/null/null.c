/*
 * null.c: the null exporter takes every signal and delivers it nowhere, at once. It
 * goes through the same queue, batching and accounting as any push exporter, so it
 * measures the agent itself (receive, decode, route, queue) and lets a pipeline be
 * switched off without touching the others. Records it takes count as sent.
 */
#include <stdlib.h>

#include <otus.h>

#include "exporters/exporter.h"

struct null_cfg {
    struct otus_queue_cfg queue; /* first, as every push exporter's */
};

static const struct otus_cfg_entry null_table[] = {
    OTUS_CFG_QUEUE,
    OTUS_CFG_END,
};

/* No state: a non-NULL self so the core can tell it was created. */
static char null_self;

static int null_create(const struct otus_exporter_env *env, const void *cfg, void **self,
                       const char **detail)
{
    (void)env;
    (void)cfg;
    (void)detail;
    *self = &null_self;
    return 0;
}

static int null_send(void *self, struct otus_send *s)
{
    (void)self;
    struct otus_send_result r = {.sent = s->records};
    otus_send_done(s, &r);
    return 0;
}

static void null_destroy(void *self, void (*closed)(void *arg), void *arg)
{
    (void)self;
    if (closed)
        closed(arg);
}

const struct otus_exporter_ops otus_null_exporter = {
    .type = "null",
    .signals = OTUS_SIGNALS_ALL,
    .config = null_table,
    .config_size = sizeof(struct null_cfg),
    .create = null_create,
    .send = null_send,
    .destroy = null_destroy,
};
