/*
 * config.h: table-driven configuration. Each component describes its settings once,
 * as an array of struct otus_cfg_entry (key, type, default, offset into the
 * component's struct, description). The same table drives YAML parsing, type and
 * range checks, defaults, the --help text and docs/configuration.md. Unknown keys,
 * wrong types and bad values are errors that name the file, the line and the full
 * key ("otus.yaml:12: exporters.file.max_files: ...").
 *
 * Scalars may use ${VAR} and ${VAR:-default}, expanded from the environment before
 * the value is parsed; "$$" is a literal "$". Durations are written 500ms, 5s, 5m,
 * 1h30m; sizes 512KiB, 8MiB, 1GiB (or KB/MB/GB, or plain bytes).
 */
#ifndef OTUS_AGENT_CONFIG_H
#define OTUS_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "common/buf.h"

enum otus_cfg_type {
    OTUS_CFG_STRING,   /* char * (owned by the struct, freed by otus_cfg_free) */
    OTUS_CFG_BOOL,     /* bool */
    OTUS_CFG_INT,      /* int64_t, within [min, max] */
    OTUS_CFG_SIZE,     /* uint64_t bytes, within [min, max] */
    OTUS_CFG_DURATION, /* uint64_t milliseconds, within [min, max] */
    OTUS_CFG_STRLIST,  /* struct otus_strlist; a YAML sequence of scalars (or one scalar) */
    OTUS_CFG_STRMAP,   /* struct otus_strmap; a YAML mapping of scalars */
    OTUS_CFG_SECTION,  /* a nested table: sub describes the struct at offset */
    OTUS_CFG_INLINE,   /* sub's keys merged at this level; sub describes the struct at offset */
    OTUS_CFG_CUSTOM,   /* parsed, freed and described by the functions in custom */
};

struct otus_cfg_doc;
struct otus_cfg_err;
struct otus_cfg_entry;

/* A setting whose shape no table can describe (e.g. exporters: keys are names). */
struct otus_cfg_custom {
    /* Parses node (key is its dotted path) into the struct at base. 0 or OTUS_ERR_CONFIG. */
    int (*parse)(struct otus_cfg_doc *d, yaml_node_t *node, const char *key, void *base,
                 struct otus_cfg_err *err);
    /* Frees what parse stored at base; safe on a zeroed struct. */
    void (*free)(void *base);
    /* Appends reference rows (as otus_cfg_describe does) for keys under prefix. */
    int (*describe)(const char *prefix, struct otus_buf *out);
};

struct otus_strlist {
    char **items; /* owned */
    size_t n;
};

struct otus_strmap {
    char **keys;   /* owned */
    char **values; /* owned */
    size_t n;
};

struct otus_cfg_entry {
    const char *key;
    enum otus_cfg_type type;
    const char *def;                      /* default written as in YAML; NULL: empty/0/false */
    size_t offset;                        /* offsetof() into the component's struct */
    const char *desc;                     /* one sentence for --help and docs */
    int64_t min, max;                     /* bounds for INT, SIZE, DURATION (both 0: none) */
    const char *const *choices;           /* STRING: allowed values, NULL-terminated; MAY be NULL */
    const struct otus_cfg_entry *sub;     /* SECTION, INLINE: its table */
    const struct otus_cfg_custom *custom; /* CUSTOM: its functions */
};

/* Ends every table. */
#define OTUS_CFG_END                                                                               \
    {                                                                                              \
        NULL, OTUS_CFG_STRING, NULL, 0, NULL, 0, 0, NULL, NULL, NULL                               \
    }

/* A loaded YAML document and the name used in messages (file path or a label). */
struct otus_cfg_doc {
    yaml_document_t doc;
    char *name; /* owned */
    int loaded;
};

/* Error text: "file:line: key: message". */
#define OTUS_CFG_ERR_MAX 768
struct otus_cfg_err {
    char msg[OTUS_CFG_ERR_MAX];
};

/* Loads a YAML file. 0, OTUS_ERR_IO (cannot read), OTUS_ERR_CONFIG (not YAML). */
int otus_cfg_doc_load_file(struct otus_cfg_doc *d, const char *path, struct otus_cfg_err *err);

/* Loads YAML text; name appears in messages. 0 or OTUS_ERR_CONFIG. */
int otus_cfg_doc_load_string(struct otus_cfg_doc *d, const char *name, const char *text,
                             struct otus_cfg_err *err);

void otus_cfg_doc_free(struct otus_cfg_doc *d);

/* The root node (a mapping for a config file) or NULL for an empty document. */
yaml_node_t *otus_cfg_root(struct otus_cfg_doc *d);

/* Looks up key in a mapping node; NULL when absent (or node is not a mapping). */
yaml_node_t *otus_cfg_get(struct otus_cfg_doc *d, yaml_node_t *map, const char *key);

/* Sets every entry of table in base to its default. 0, or OTUS_ERR_CONFIG when a
 * default itself is invalid (a bug: err says which). */
int otus_cfg_defaults(const struct otus_cfg_entry *table, void *base, struct otus_cfg_err *err);

/*
 * Applies the mapping node map to base according to table. prefix is the dotted path
 * of map ("exporters.file") for messages. Keys not in table are errors. 0 or
 * OTUS_ERR_CONFIG (err filled).
 */
int otus_cfg_apply(struct otus_cfg_doc *d, yaml_node_t *map, const char *prefix,
                   const struct otus_cfg_entry *table, void *base, struct otus_cfg_err *err);

/* 1 when a and b hold the same settings according to table (CUSTOM entries never
 * compare equal). */
int otus_cfg_equal(const struct otus_cfg_entry *table, const void *a, const void *b);

/* Frees what otus_cfg_defaults/otus_cfg_apply allocated in base. */
void otus_cfg_free(const struct otus_cfg_entry *table, void *base);

/* Formats err as "name:line: key: message". */
void otus_cfg_errorf(struct otus_cfg_err *err, struct otus_cfg_doc *d, const yaml_node_t *node,
                     const char *key, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A scalar node's text with ${VAR} expanded, in *out (malloc'd). 0 or OTUS_ERR_CONFIG. */
int otus_cfg_scalar(struct otus_cfg_doc *d, yaml_node_t *node, const char *key, char **out,
                    struct otus_cfg_err *err);

/* Value parsers, usable alone. 0 or OTUS_ERR_INVALID. */
int otus_parse_duration_ms(const char *s, uint64_t *ms);
int otus_parse_size(const char *s, uint64_t *bytes);
int otus_parse_bool(const char *s, bool *v);

/* Expands ${VAR}, ${VAR:-default} and $$ in s into out. 0, or OTUS_ERR_INVALID for an
 * unterminated or empty ${...} (*bad gets a pointer into s). */
int otus_cfg_expand_env(const char *s, struct otus_buf *out, const char **bad);

/* Appends a Markdown reference of table (one row per key) under prefix. */
int otus_cfg_describe(const struct otus_cfg_entry *table, const char *prefix, struct otus_buf *out);

#endif
