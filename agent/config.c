/*
 * config.c: YAML loading with libyaml's document API and the table-driven
 * application of settings (config.h).
 */
#include "agent/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

void otus_cfg_errorf(struct otus_cfg_err *err, struct otus_cfg_doc *d, const yaml_node_t *node,
                     const char *key, const char *fmt, ...)
{
    int n;
    if (node)
        n = snprintf(err->msg, sizeof(err->msg), "%s:%zu: %s%s", d ? d->name : "config",
                     node->start_mark.line + 1, key ? key : "", key ? ": " : "");
    else
        n = snprintf(err->msg, sizeof(err->msg), "%s: %s%s", d ? d->name : "config", key ? key : "",
                     key ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof(err->msg))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- loading ------------------------------------------------------------------------ */

static int load(struct otus_cfg_doc *d, yaml_parser_t *p, struct otus_cfg_err *err)
{
    if (!yaml_parser_load(p, &d->doc)) {
        snprintf(err->msg, sizeof(err->msg), "%s:%zu: invalid YAML: %s", d->name,
                 p->problem_mark.line + 1, p->problem ? p->problem : "parse error");
        return OTUS_ERR_CONFIG;
    }
    d->loaded = 1;
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (root && root->type != YAML_MAPPING_NODE &&
        !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
        otus_cfg_errorf(err, d, root, NULL, "the configuration must be a mapping of sections");
        return OTUS_ERR_CONFIG;
    }
    return 0;
}

int otus_cfg_doc_load_file(struct otus_cfg_doc *d, const char *path, struct otus_cfg_err *err)
{
    memset(d, 0, sizeof(*d));
    d->name = strdup(path);
    if (!d->name)
        return OTUS_ERR_NOMEM;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", path, strerror(errno));
        return OTUS_ERR_IO;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc = load(d, &p, err);
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

int otus_cfg_doc_load_string(struct otus_cfg_doc *d, const char *name, const char *text,
                             struct otus_cfg_err *err)
{
    memset(d, 0, sizeof(*d));
    d->name = strdup(name);
    if (!d->name)
        return OTUS_ERR_NOMEM;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    int rc = load(d, &p, err);
    yaml_parser_delete(&p);
    return rc;
}

void otus_cfg_doc_free(struct otus_cfg_doc *d)
{
    if (!d)
        return;
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = 0;
    free(d->name);
    d->name = NULL;
}

yaml_node_t *otus_cfg_root(struct otus_cfg_doc *d)
{
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return NULL;
    return root;
}

static int scalar_is(yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

yaml_node_t *otus_cfg_get(struct otus_cfg_doc *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (scalar_is(yaml_document_get_node(&d->doc, p->key), key))
            return yaml_document_get_node(&d->doc, p->value);
    }
    return NULL;
}

/* ---- value parsing -------------------------------------------------------------------- */

int otus_cfg_expand_env(const char *s, struct otus_buf *out, const char **bad)
{
    while (*s) {
        if (s[0] == '$' && s[1] == '$') {
            if (otus_buf_append_byte(out, '$'))
                return OTUS_ERR_NOMEM;
            s += 2;
            continue;
        }
        if (s[0] == '$' && s[1] == '{') {
            const char *start = s + 2;
            const char *end = strchr(start, '}');
            if (!end || end == start) {
                *bad = s;
                return OTUS_ERR_INVALID;
            }
            const char *dflt = NULL;
            size_t nlen = (size_t)(end - start);
            const char *sep = strstr(start, ":-");
            if (sep && sep < end) {
                nlen = (size_t)(sep - start);
                dflt = sep + 2;
            }
            char name[256];
            if (nlen == 0 || nlen >= sizeof(name)) {
                *bad = s;
                return OTUS_ERR_INVALID;
            }
            memcpy(name, start, nlen);
            name[nlen] = '\0';
            for (size_t i = 0; i < nlen; i++) {
                if (!(isalnum((unsigned char)name[i]) || name[i] == '_')) {
                    *bad = s;
                    return OTUS_ERR_INVALID;
                }
            }
            const char *v = getenv(name);
            int rc = 0;
            if (v && *v)
                rc = otus_buf_append_str(out, v);
            else if (dflt)
                rc = otus_buf_append(out, dflt, (size_t)(end - dflt));
            if (rc)
                return OTUS_ERR_NOMEM;
            s = end + 1;
            continue;
        }
        if (otus_buf_append_byte(out, *s))
            return OTUS_ERR_NOMEM;
        s++;
    }
    return 0;
}

int otus_cfg_scalar(struct otus_cfg_doc *d, yaml_node_t *node, const char *key, char **out,
                    struct otus_cfg_err *err)
{
    *out = NULL;
    if (!node || node->type != YAML_SCALAR_NODE) {
        otus_cfg_errorf(err, d, node, key, "expected a single value, found a %s",
                        node && node->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return OTUS_ERR_CONFIG;
    }
    const char *raw = (const char *)node->data.scalar.value;
    if (strlen(raw) != node->data.scalar.length) {
        otus_cfg_errorf(err, d, node, key, "value contains a NUL character");
        return OTUS_ERR_CONFIG;
    }
    struct otus_buf b;
    otus_buf_init(&b, 1024 * 1024);
    const char *bad = NULL;
    int rc = otus_cfg_expand_env(raw, &b, &bad);
    if (rc == 0)
        rc = otus_buf_append_byte(&b, '\0');
    if (rc) {
        otus_buf_free(&b);
        if (rc == OTUS_ERR_INVALID)
            otus_cfg_errorf(err, d, node, key,
                            "bad environment reference at \"%.40s\" (use ${NAME} or "
                            "${NAME:-default})",
                            bad);
        else
            otus_cfg_errorf(err, d, node, key, "out of memory");
        return OTUS_ERR_CONFIG;
    }
    *out = otus_buf_steal(&b, NULL);
    return 0;
}

int otus_parse_bool(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (strcmp(s, yes[i]) == 0) {
            *v = true;
            return 0;
        }
    for (int i = 0; no[i]; i++)
        if (strcmp(s, no[i]) == 0) {
            *v = false;
            return 0;
        }
    return OTUS_ERR_INVALID;
}

int otus_parse_duration_ms(const char *s, uint64_t *ms)
{
    /* A sequence of <number><unit>: 1h30m, 500ms, 2.5s. "0" alone is allowed. */
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    double total_ns = 0;
    const char *p = s;
    if (!*p)
        return OTUS_ERR_INVALID;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0 || *p == '+' || *p == '-' || isspace((unsigned char)*p))
            return OTUS_ERR_INVALID;
        p = end;
        double unit;
        if (strncmp(p, "ns", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (strncmp(p, "us", 2) == 0) {
            unit = 1e3;
            p += 2;
        } else if (strncmp(p, "ms", 2) == 0) {
            unit = 1e6;
            p += 2;
        } else if (*p == 's') {
            unit = 1e9;
            p++;
        } else if (*p == 'm') {
            unit = 60e9;
            p++;
        } else if (*p == 'h') {
            unit = 3600e9;
            p++;
        } else if (*p == 'd') {
            unit = 86400e9;
            p++;
        } else {
            return OTUS_ERR_INVALID;
        }
        total_ns += v * unit;
    }
    double total_ms = total_ns / 1e6;
    if (total_ms > 9.2e15)
        return OTUS_ERR_INVALID;
    *ms = (uint64_t)(total_ms + 0.5);
    if (*ms == 0 && total_ns > 0)
        *ms = 1; /* never round a positive duration down to "none" */
    return 0;
}

int otus_parse_size(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"TiB", 1ull << 40},
        {"KB", 1000ull},
        {"MB", 1000000ull},
        {"GB", 1000000000ull},
        {"TB", 1000000000000ull},
        {"B", 1},
        {"", 1},
    };
    if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
        return OTUS_ERR_INVALID;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return OTUS_ERR_INVALID;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            double b = v * (double)units[i].mult;
            if (b > 1.8e19)
                return OTUS_ERR_INVALID;
            if (b != (double)(uint64_t)b && units[i].mult == 1)
                return OTUS_ERR_INVALID; /* fractional bytes */
            *bytes = (uint64_t)b;
            return 0;
        }
    }
    return OTUS_ERR_INVALID;
}

/* ---- tables ----------------------------------------------------------------------------- */

#define FIELD(base, e, T) ((T *)((char *)(base) + (e)->offset))

static void strlist_free(struct otus_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void strmap_free(struct otus_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    m->n = 0;
}

void otus_cfg_free(const struct otus_cfg_entry *table, void *base)
{
    for (const struct otus_cfg_entry *e = table; e->key; e++) {
        switch (e->type) {
        case OTUS_CFG_STRING:
            free(*FIELD(base, e, char *));
            *FIELD(base, e, char *) = NULL;
            break;
        case OTUS_CFG_STRLIST:
            strlist_free(FIELD(base, e, struct otus_strlist));
            break;
        case OTUS_CFG_STRMAP:
            strmap_free(FIELD(base, e, struct otus_strmap));
            break;
        case OTUS_CFG_SECTION:
        case OTUS_CFG_INLINE:
            otus_cfg_free(e->sub, FIELD(base, e, char));
            break;
        case OTUS_CFG_CUSTOM:
            e->custom->free(FIELD(base, e, char));
            break;
        default:
            break;
        }
    }
}

static int in_range(const struct otus_cfg_entry *e, int64_t v)
{
    if (e->min == 0 && e->max == 0)
        return 1;
    return v >= e->min && v <= e->max;
}

/* Sets one scalar-typed entry from text. */
static int set_scalar(const struct otus_cfg_entry *e, void *base, const char *text,
                      struct otus_cfg_err *err, struct otus_cfg_doc *d, yaml_node_t *node,
                      const char *key)
{
    switch (e->type) {
    case OTUS_CFG_STRING: {
        if (e->choices) {
            int ok = 0;
            for (int i = 0; e->choices[i]; i++)
                ok |= strcmp(text, e->choices[i]) == 0;
            if (!ok) {
                char list[256] = "";
                for (int i = 0; e->choices[i]; i++) {
                    strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                    strncat(list, e->choices[i], sizeof(list) - strlen(list) - 1);
                }
                otus_cfg_errorf(err, d, node, key, "\"%s\" is not one of: %s", text, list);
                return OTUS_ERR_CONFIG;
            }
        }
        char *copy = strdup(text);
        if (!copy) {
            otus_cfg_errorf(err, d, node, key, "out of memory");
            return OTUS_ERR_CONFIG;
        }
        free(*FIELD(base, e, char *));
        *FIELD(base, e, char *) = copy;
        return 0;
    }
    case OTUS_CFG_BOOL:
        if (otus_parse_bool(text, FIELD(base, e, bool)) != 0) {
            otus_cfg_errorf(err, d, node, key, "\"%s\" is not a boolean (true or false)", text);
            return OTUS_ERR_CONFIG;
        }
        return 0;
    case OTUS_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno) {
            otus_cfg_errorf(err, d, node, key, "\"%s\" is not an integer", text);
            return OTUS_ERR_CONFIG;
        }
        if (!in_range(e, v)) {
            otus_cfg_errorf(err, d, node, key, "%lld is out of range [%" PRId64 ", %" PRId64 "]", v,
                            e->min, e->max);
            return OTUS_ERR_CONFIG;
        }
        *FIELD(base, e, int64_t) = v;
        return 0;
    }
    case OTUS_CFG_SIZE: {
        uint64_t v;
        if (otus_parse_size(text, &v) != 0) {
            otus_cfg_errorf(err, d, node, key, "\"%s\" is not a size (use e.g. 512KiB, 8MiB, 1GiB)",
                            text);
            return OTUS_ERR_CONFIG;
        }
        if (v > INT64_MAX || !in_range(e, (int64_t)v)) {
            otus_cfg_errorf(err, d, node, key,
                            "%s is out of range [%" PRId64 ", %" PRId64 "] bytes", text, e->min,
                            e->max);
            return OTUS_ERR_CONFIG;
        }
        *FIELD(base, e, uint64_t) = v;
        return 0;
    }
    case OTUS_CFG_DURATION: {
        uint64_t v;
        if (otus_parse_duration_ms(text, &v) != 0) {
            otus_cfg_errorf(err, d, node, key,
                            "\"%s\" is not a duration (use e.g. 500ms, 5s, 5m, 1h)", text);
            return OTUS_ERR_CONFIG;
        }
        if (v > INT64_MAX || !in_range(e, (int64_t)v)) {
            otus_cfg_errorf(err, d, node, key, "%s is out of range [%" PRId64 "ms, %" PRId64 "ms]",
                            text, e->min, e->max);
            return OTUS_ERR_CONFIG;
        }
        *FIELD(base, e, uint64_t) = v;
        return 0;
    }
    case OTUS_CFG_STRLIST: {
        /* A default or a lone scalar: a comma-separated list. */
        struct otus_strlist *l = FIELD(base, e, struct otus_strlist);
        strlist_free(l);
        const char *p = text;
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            if (!*p)
                break;
            const char *q = p;
            while (*q && *q != ',')
                q++;
            const char *r = q;
            while (r > p && r[-1] == ' ')
                r--;
            char **items = realloc(l->items, (l->n + 1) * sizeof(char *));
            if (!items)
                goto nomem;
            l->items = items;
            l->items[l->n] = strndup(p, (size_t)(r - p));
            if (!l->items[l->n])
                goto nomem;
            l->n++;
            p = q;
        }
        return 0;
    nomem:
        otus_cfg_errorf(err, d, node, key, "out of memory");
        return OTUS_ERR_CONFIG;
    }
    default:
        otus_cfg_errorf(err, d, node, key, "expected a mapping or a list");
        return OTUS_ERR_CONFIG;
    }
}

int otus_cfg_defaults(const struct otus_cfg_entry *table, void *base, struct otus_cfg_err *err)
{
    for (const struct otus_cfg_entry *e = table; e->key; e++) {
        switch (e->type) {
        case OTUS_CFG_STRING:
            *FIELD(base, e, char *) = NULL;
            break;
        case OTUS_CFG_BOOL:
            *FIELD(base, e, bool) = false;
            break;
        case OTUS_CFG_INT:
            *FIELD(base, e, int64_t) = 0;
            break;
        case OTUS_CFG_SIZE:
        case OTUS_CFG_DURATION:
            *FIELD(base, e, uint64_t) = 0;
            break;
        case OTUS_CFG_STRLIST:
            memset(FIELD(base, e, struct otus_strlist), 0, sizeof(struct otus_strlist));
            break;
        case OTUS_CFG_STRMAP:
            memset(FIELD(base, e, struct otus_strmap), 0, sizeof(struct otus_strmap));
            break;
        case OTUS_CFG_SECTION:
        case OTUS_CFG_INLINE: {
            int rc = otus_cfg_defaults(e->sub, FIELD(base, e, char), err);
            if (rc)
                return rc;
            continue;
        }
        case OTUS_CFG_CUSTOM:
            continue; /* a zeroed struct is the custom setting's default */
        }
        if (e->def && set_scalar(e, base, e->def, err, NULL, NULL, e->key) != 0)
            return OTUS_ERR_CONFIG;
        if (!e->def && e->type == OTUS_CFG_STRING) {
            char *empty = strdup("");
            if (!empty)
                return OTUS_ERR_NOMEM;
            *FIELD(base, e, char *) = empty;
        }
    }
    return 0;
}

/* Finds key in table or in its inline sub-tables; *ebase gets the struct the entry's
 * offset applies to. */
static const struct otus_cfg_entry *find_entry(const struct otus_cfg_entry *table, void *base,
                                               const char *key, void **ebase)
{
    for (const struct otus_cfg_entry *e = table; e->key; e++) {
        if (e->type == OTUS_CFG_INLINE) {
            const struct otus_cfg_entry *f = find_entry(e->sub, FIELD(base, e, char), key, ebase);
            if (f)
                return f;
        } else if (strcmp(e->key, key) == 0) {
            *ebase = base;
            return e;
        }
    }
    return NULL;
}

static void list_keys(const struct otus_cfg_entry *table, char *out, size_t len)
{
    for (const struct otus_cfg_entry *x = table; x->key; x++) {
        if (x->type == OTUS_CFG_INLINE) {
            list_keys(x->sub, out, len);
            continue;
        }
        strncat(out, *out ? ", " : "", len - strlen(out) - 1);
        strncat(out, x->key, len - strlen(out) - 1);
    }
}

int otus_cfg_apply(struct otus_cfg_doc *d, yaml_node_t *map, const char *prefix,
                   const struct otus_cfg_entry *table, void *base, struct otus_cfg_err *err)
{
    char key[256];
    if (!map)
        return 0;
    if (map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0)
        return 0; /* "section:" with nothing under it */
    if (map->type != YAML_MAPPING_NODE) {
        otus_cfg_errorf(err, d, map, prefix, "expected a mapping of settings");
        return OTUS_ERR_CONFIG;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) {
            otus_cfg_errorf(err, d, kn, prefix, "keys must be plain names");
            return OTUS_ERR_CONFIG;
        }
        const char *k = (const char *)kn->data.scalar.value;
        snprintf(key, sizeof(key), "%s%s%s", prefix && *prefix ? prefix : "",
                 prefix && *prefix ? "." : "", k);
        void *ebase = base;
        const struct otus_cfg_entry *e = find_entry(table, base, k, &ebase);
        if (!e) {
            char known[512] = "";
            list_keys(table, known, sizeof(known));
            otus_cfg_errorf(err, d, kn, key, "unknown key (known here: %s)", known);
            return OTUS_ERR_CONFIG;
        }
        int rc = 0;
        if (e->type == OTUS_CFG_CUSTOM) {
            rc = e->custom->parse(d, vn, key, FIELD(ebase, e, char), err);
        } else if (e->type == OTUS_CFG_SECTION) {
            rc = otus_cfg_apply(d, vn, key, e->sub, FIELD(ebase, e, char), err);
        } else if (e->type == OTUS_CFG_STRLIST && vn->type == YAML_SEQUENCE_NODE) {
            struct otus_strlist *l = FIELD(ebase, e, struct otus_strlist);
            strlist_free(l);
            size_t n = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
            l->items = calloc(n ? n : 1, sizeof(char *));
            if (!l->items) {
                otus_cfg_errorf(err, d, vn, key, "out of memory");
                return OTUS_ERR_CONFIG;
            }
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *item =
                    yaml_document_get_node(&d->doc, vn->data.sequence.items.start[i]);
                rc = otus_cfg_scalar(d, item, key, &l->items[i], err);
                if (rc)
                    return rc;
                l->n++;
            }
        } else if (e->type == OTUS_CFG_STRMAP) {
            struct otus_strmap *m = FIELD(ebase, e, struct otus_strmap);
            strmap_free(m);
            if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0)
                continue;
            if (vn->type != YAML_MAPPING_NODE) {
                otus_cfg_errorf(err, d, vn, key, "expected a mapping of names to values");
                return OTUS_ERR_CONFIG;
            }
            size_t n = (size_t)(vn->data.mapping.pairs.top - vn->data.mapping.pairs.start);
            m->keys = calloc(n ? n : 1, sizeof(char *));
            m->values = calloc(n ? n : 1, sizeof(char *));
            if (!m->keys || !m->values) {
                otus_cfg_errorf(err, d, vn, key, "out of memory");
                return OTUS_ERR_CONFIG;
            }
            for (size_t i = 0; i < n; i++) {
                yaml_node_pair_t *mp = &vn->data.mapping.pairs.start[i];
                yaml_node_t *mk = yaml_document_get_node(&d->doc, mp->key);
                yaml_node_t *mv = yaml_document_get_node(&d->doc, mp->value);
                rc = otus_cfg_scalar(d, mk, key, &m->keys[i], err);
                if (!rc)
                    rc = otus_cfg_scalar(d, mv, key, &m->values[i], err);
                m->n = i + 1;
                if (rc)
                    return rc;
            }
        } else {
            if (vn->type != YAML_SCALAR_NODE) {
                otus_cfg_errorf(err, d, vn, key, "expected a single value, found a %s",
                                vn->type == YAML_MAPPING_NODE ? "mapping" : "list");
                return OTUS_ERR_CONFIG;
            }
            char *text;
            rc = otus_cfg_scalar(d, vn, key, &text, err);
            if (rc)
                return rc;
            rc = set_scalar(e, ebase, text, err, d, vn, key);
            free(text);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int otus_cfg_equal(const struct otus_cfg_entry *table, const void *a, const void *b)
{
    for (const struct otus_cfg_entry *e = table; e->key; e++) {
        const char *pa = (const char *)a + e->offset, *pb = (const char *)b + e->offset;
        switch (e->type) {
        case OTUS_CFG_STRING:
            if (!str_eq(*(char *const *)pa, *(char *const *)pb))
                return 0;
            break;
        case OTUS_CFG_BOOL:
            if (*(const bool *)pa != *(const bool *)pb)
                return 0;
            break;
        case OTUS_CFG_INT:
        case OTUS_CFG_SIZE:
        case OTUS_CFG_DURATION:
            if (memcmp(pa, pb, sizeof(uint64_t)) != 0)
                return 0;
            break;
        case OTUS_CFG_STRLIST: {
            const struct otus_strlist *la = (const void *)pa, *lb = (const void *)pb;
            if (la->n != lb->n)
                return 0;
            for (size_t i = 0; i < la->n; i++)
                if (!str_eq(la->items[i], lb->items[i]))
                    return 0;
            break;
        }
        case OTUS_CFG_STRMAP: {
            const struct otus_strmap *ma = (const void *)pa, *mb = (const void *)pb;
            if (ma->n != mb->n)
                return 0;
            for (size_t i = 0; i < ma->n; i++)
                if (!str_eq(ma->keys[i], mb->keys[i]) || !str_eq(ma->values[i], mb->values[i]))
                    return 0;
            break;
        }
        case OTUS_CFG_SECTION:
        case OTUS_CFG_INLINE:
            if (!otus_cfg_equal(e->sub, pa, pb))
                return 0;
            break;
        case OTUS_CFG_CUSTOM:
            return 0;
        }
    }
    return 1;
}

static const char *type_name(enum otus_cfg_type t)
{
    switch (t) {
    case OTUS_CFG_STRING:
        return "string";
    case OTUS_CFG_BOOL:
        return "bool";
    case OTUS_CFG_INT:
        return "integer";
    case OTUS_CFG_SIZE:
        return "size";
    case OTUS_CFG_DURATION:
        return "duration";
    case OTUS_CFG_STRLIST:
        return "list";
    case OTUS_CFG_STRMAP:
        return "map";
    case OTUS_CFG_SECTION:
        return "section";
    case OTUS_CFG_INLINE:
        return "inline";
    case OTUS_CFG_CUSTOM:
        return "custom";
    }
    return "?";
}

int otus_cfg_describe(const struct otus_cfg_entry *table, const char *prefix, struct otus_buf *out)
{
    int rc = 0;
    for (const struct otus_cfg_entry *e = table; e->key && !rc; e++) {
        char key[256];
        snprintf(key, sizeof(key), "%s%s%s", prefix && *prefix ? prefix : "",
                 prefix && *prefix ? "." : "", e->key);
        if (e->type == OTUS_CFG_SECTION) {
            rc = otus_cfg_describe(e->sub, key, out);
            continue;
        }
        if (e->type == OTUS_CFG_INLINE) {
            rc = otus_cfg_describe(e->sub, prefix, out);
            continue;
        }
        if (e->type == OTUS_CFG_CUSTOM) {
            rc = e->custom->describe(key, out);
            continue;
        }
        rc = otus_buf_printf(out, "| `%s` | %s | %s%s%s | %s", key, type_name(e->type),
                             e->def && *e->def ? "`" : "", e->def && *e->def ? e->def : "",
                             e->def && *e->def ? "`" : "", e->desc ? e->desc : "");
        if (!rc && e->choices) {
            rc = otus_buf_append_str(out, " One of:");
            for (int i = 0; e->choices[i] && !rc; i++)
                rc = otus_buf_printf(out, "%s `%s`", i ? "," : "", e->choices[i]);
            if (!rc)
                rc = otus_buf_append_str(out, ".");
        }
        if (!rc)
            rc = otus_buf_append_str(out, " |\n");
    }
    return rc;
}
