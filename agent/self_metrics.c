/*
 * self_metrics.c: the registry of the agent's own metrics and its Prometheus and
 * OpenMetrics rendering (self_metrics.h). Families are kept sorted by name, so the
 * exposition order is stable.
 */
#include "agent/self_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

struct otus_metric_family {
    struct otus_metric_family *next; /* by name */
    const char *name;
    const char *help;
    enum otus_metric_type type;
    const char *label_names[OTUS_METRIC_MAX_LABELS];
    size_t nlabels;
    struct otus_metric_series *series, **tail;
};

struct collector {
    struct collector *next;
    otus_metrics_collect_cb cb;
    void *ctx;
};

struct otus_self_metrics {
    struct otus_metric_family *families;
    struct collector *collectors;
};

struct otus_self_metrics *otus_self_metrics_create(void)
{
    return calloc(1, sizeof(struct otus_self_metrics));
}

static void series_free(struct otus_metric_series *s)
{
    for (size_t i = 0; i < OTUS_METRIC_MAX_LABELS; i++)
        free(s->labels[i]);
    free(s);
}

void otus_self_metrics_destroy(struct otus_self_metrics *m)
{
    if (!m)
        return;
    struct otus_metric_family *f = m->families;
    while (f) {
        struct otus_metric_family *fn = f->next;
        struct otus_metric_series *s = f->series;
        while (s) {
            struct otus_metric_series *sn = s->next;
            series_free(s);
            s = sn;
        }
        free(f);
        f = fn;
    }
    struct collector *c = m->collectors;
    while (c) {
        struct collector *cn = c->next;
        free(c);
        c = cn;
    }
    free(m);
}

struct otus_metric_family *otus_self_metrics_family(struct otus_self_metrics *m, const char *name,
                                                    const char *help, enum otus_metric_type type,
                                                    const char *const *label_names, size_t nlabels)
{
    struct otus_metric_family **pp = &m->families;
    while (*pp && strcmp((*pp)->name, name) < 0)
        pp = &(*pp)->next;
    if (*pp && strcmp((*pp)->name, name) == 0)
        return *pp;
    if (nlabels > OTUS_METRIC_MAX_LABELS)
        return NULL;
    struct otus_metric_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->name = name;
    f->help = help;
    f->type = type;
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        f->label_names[i] = label_names[i];
    f->tail = &f->series;
    f->next = *pp;
    *pp = f;
    return f;
}

struct otus_metric_series *otus_self_metrics_series(struct otus_metric_family *f,
                                                    const char *const *label_values)
{
    for (struct otus_metric_series *s = f->series; s; s = s->next) {
        size_t i = 0; /* a family without labels has one series */
        while (i < f->nlabels && strcmp(s->labels[i], label_values[i]) == 0)
            i++;
        if (i == f->nlabels) {
            s->refs++;
            return s;
        }
    }
    struct otus_metric_series *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->family = f;
    s->refs = 1;
    for (size_t i = 0; i < f->nlabels; i++) {
        s->labels[i] = strdup(label_values[i]);
        if (!s->labels[i]) {
            series_free(s);
            return NULL;
        }
    }
    *f->tail = s;
    f->tail = &s->next;
    return s;
}

void otus_self_metrics_series_remove(struct otus_metric_series *s)
{
    if (!s || --s->refs > 0)
        return;
    struct otus_metric_family *f = s->family;
    struct otus_metric_series **pp = &f->series;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = s->next;
    if (f->tail == &s->next)
        f->tail = pp;
    series_free(s);
}

struct otus_metric_series *otus_self_metrics_simple(struct otus_self_metrics *m, const char *name,
                                                    const char *help, enum otus_metric_type type)
{
    static const char *const no_values[1] = {""};
    struct otus_metric_family *f = otus_self_metrics_family(m, name, help, type, NULL, 0);
    return f ? otus_self_metrics_series(f, no_values) : NULL;
}

int otus_self_metrics_on_collect(struct otus_self_metrics *m, otus_metrics_collect_cb cb, void *ctx)
{
    struct collector *c = calloc(1, sizeof(*c));
    if (!c)
        return OTUS_ERR_NOMEM;
    c->cb = cb;
    c->ctx = ctx;
    c->next = m->collectors;
    m->collectors = c;
    return 0;
}

void otus_self_metrics_off_collect(struct otus_self_metrics *m, otus_metrics_collect_cb cb,
                                   void *ctx)
{
    for (struct collector **pp = &m->collectors; *pp; pp = &(*pp)->next) {
        if ((*pp)->cb == cb && (*pp)->ctx == ctx) {
            struct collector *c = *pp;
            *pp = c->next;
            free(c);
            return;
        }
    }
}

static int put_label_value(struct otus_buf *out, const char *v)
{
    int rc = 0;
    for (const char *p = v; *p && !rc; p++) {
        if (*p == '\\')
            rc = otus_buf_append(out, "\\\\", 2);
        else if (*p == '"')
            rc = otus_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            rc = otus_buf_append(out, "\\n", 2);
        else
            rc = otus_buf_append_byte(out, *p);
    }
    return rc;
}

static int put_value(struct otus_buf *out, double v)
{
    if (isnan(v))
        return otus_buf_append_str(out, "NaN");
    if (isinf(v))
        return otus_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return otus_buf_printf(out, "%.0f", v);
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return otus_buf_append_str(out, tmp);
}

int otus_self_metrics_render(struct otus_self_metrics *m, int openmetrics, struct otus_buf *out)
{
    for (struct collector *c = m->collectors; c; c = c->next)
        c->cb(c->ctx);
    int rc = 0;
    for (struct otus_metric_family *f = m->families; f && !rc; f = f->next) {
        if (!f->series)
            continue;
        size_t nlen = strlen(f->name);
        /* OpenMetrics names a counter family without its _total suffix. */
        if (openmetrics && f->type == OTUS_METRIC_COUNTER && nlen > 6 &&
            strcmp(f->name + nlen - 6, "_total") == 0)
            nlen -= 6;
        const char *type = f->type == OTUS_METRIC_COUNTER ? "counter" : "gauge";
        rc = otus_buf_printf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)nlen, f->name, f->help,
                             (int)nlen, f->name, type);
        for (struct otus_metric_series *s = f->series; s && !rc; s = s->next) {
            rc = otus_buf_append_str(out, f->name);
            if (!rc && f->nlabels) {
                rc = otus_buf_append_byte(out, '{');
                for (size_t i = 0; i < f->nlabels && !rc; i++) {
                    rc = otus_buf_printf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
                    if (!rc)
                        rc = put_label_value(out, s->labels[i]);
                    if (!rc)
                        rc = otus_buf_append_byte(out, '"');
                }
                if (!rc)
                    rc = otus_buf_append_byte(out, '}');
            }
            if (!rc)
                rc = otus_buf_append_byte(out, ' ');
            if (!rc)
                rc = put_value(out, s->value);
            if (!rc)
                rc = otus_buf_append_byte(out, '\n');
        }
    }
    return rc;
}
