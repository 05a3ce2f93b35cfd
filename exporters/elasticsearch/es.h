/*
 * es.h: what the files of the Elasticsearch exporter share. The exporter is split the
 * way its work is: es_config.c (the configuration table and what is derived from it),
 * es_encode.c (bulk bodies, document IDs, index names, index templates: pure, tested
 * against golden files), es_bulk.c (bulk responses, dead-letter lines), elasticsearch.c
 * (lifecycle, endpoints, the retry and breaker machinery on the loop) and es_replay.c
 * (otus-agent --replay-dead-letters).
 *
 * A bulk body is a list of items, one per record: an action line and a source line,
 * each ending in a newline. Items are kept as byte ranges of one NDJSON buffer, so
 * any subset of them (the items to retry, half of a request refused with 413) can be
 * sent again without encoding anything twice.
 */
#ifndef OTUS_EXPORTERS_ELASTICSEARCH_ES_H
#define OTUS_EXPORTERS_ELASTICSEARCH_ES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "common/buf.h"
#include "exporters/exporter.h"

/* ---- configuration (es_config.c) --------------------------------------------------------- */

struct otus__es_tls_cfg {
    char *ca_file;
    bool insecure_skip_verify;
};

struct otus__es_retry_cfg {
    uint64_t initial_interval_ms;
    uint64_t max_interval_ms;
    uint64_t max_elapsed_ms;
};

struct otus__es_breaker_cfg {
    int64_t failures;
    uint64_t open_timeout_ms;
};

struct otus__es_cfg {
    struct otus_queue_cfg queue; /* first, as every push exporter's */
    struct otus_strlist endpoints;
    char *index;        /* logs: a data stream, or a pattern with strftime-like fields */
    char *traces_index; /* spans: the same */
    char *username;
    char *password;
    char *api_key;
    char *compression; /* "gzip" or "none" */
    int64_t compression_level;
    bool manage_template;
    bool ignore_malformed;
    int64_t template_priority;
    struct otus__es_tls_cfg tls;
    uint64_t timeout_ms;
    struct otus__es_retry_cfg retry;
    struct otus__es_breaker_cfg breaker;
    char *dead_letter;              /* path; "" means <data_dir>/dead-letter/<name>.ndjson */
    uint64_t dead_letter_max_bytes; /* the file stops growing here */
};

extern const struct otus_cfg_entry otus__es_table[];

/* Cross-key checks (endpoint URLs, index names, credentials). 0 or OTUS_ERR_CONFIG. */
int otus__es_check(const void *cfg, struct otus_cfg_err *err);

/* ---- targets and encoding (es_encode.c) -------------------------------------------------- */

/* Where one signal's documents go. */
struct otus__es_target {
    char pattern[256];  /* the configured index, possibly with %Y %m %d %H %j %% fields */
    int time_based;     /* pattern has fields: op_type index, one index per period */
    int data_stream;    /* no fields: a data stream, op_type create */
    char tmpl_name[96]; /* the index template installed for it */
    char tmpl_pattern[260];
    /* cache of the last index name made from the pattern */
    int64_t cache_period; /* period number (seconds / granularity) or -1 */
    uint64_t granularity_s;
    char cache_name[256];
    size_t cache_len;
};

/* Sets a target up from a configured index name. 0 or OTUS_ERR_CONFIG (*why says why). */
int otus__es_target_init(struct otus__es_target *t, const char *index, const char **why);

/* The index name for a document with timestamp unix_ns; valid until the next call. */
const char *otus__es_target_index(struct otus__es_target *t, uint64_t unix_ns, size_t *len);

/* Checks an index or data stream name against Elasticsearch's rules. 0 or
 * OTUS_ERR_INVALID (*why says which rule). */
int otus__es_index_name_check(const char *name, size_t n, const char **why);

/* One item of a bulk body: bytes [off, off+len) of the NDJSON buffer, the source line
 * starting at off+src. */
struct otus__es_item {
    size_t off;
    uint32_t len;
    uint32_t src;
};

/* Hard limits: the NDJSON of one send (or replay), and one request body. A send over
 * the first fails to encode and is counted as dropped; max_batch_bytes keeps requests
 * far below the second. */
#define OTUS__ES_MAX_ENCODED (4ull << 30)
#define OTUS__ES_MAX_BODY    (1ull << 30)

/* A growing list of items over one NDJSON buffer. */
struct otus__es_items {
    struct otus_buf ndjson;
    struct otus__es_item *v;
    size_t n, cap;
};

void otus__es_items_init(struct otus__es_items *it);
void otus__es_items_free(struct otus__es_items *it);
void otus__es_items_reset(struct otus__es_items *it);

/* The length of a document ID (128 bits, base64url without padding). */
#define OTUS__ES_ID_LEN 22

/*
 * Writes the deterministic _id of a source (its bytes, without the newline) into out
 * (OTUS__ES_ID_LEN chars, no NUL): 128 bits of MurmurHash3 of the source, which holds
 * the record and its origin (resource, scope), so the same record always gets the
 * same ID and a retried request creates no duplicate.
 */
void otus__es_doc_id(const char *src, size_t n, char *out);

/*
 * Appends one item per record of the batches (logs or spans) to it: the action line
 * for the document's index (op_type create for a data stream, index for a
 * time-based index), with its _id, then the document. With omit_index, the action
 * line names no _index (the request goes to /<index>/_bulk). 0 or a negative
 * otus_status; on failure it is left as it was.
 */
int otus__es_encode(struct otus__es_target *t, int omit_index, struct otus_batch *const *batches,
                    size_t n, struct otus__es_items *it);

/*
 * Appends one item for an already encoded document (a dead letter being replayed):
 * action (op "create" or "index") for index, with id (or a fresh deterministic one
 * when id is NULL or empty), then src. 0 or a negative otus_status.
 */
int otus__es_item_raw(struct otus__es_items *it, const char *op, const char *index, const char *id,
                      const char *src, size_t srclen);

/* Appends the body of PUT /_index_template/<name> for t and the signal. */
int otus__es_template_body(const struct otus__es_target *t, enum otus_signal signal,
                           const struct otus__es_cfg *cfg, struct otus_buf *out);

/* ---- bulk responses and dead letters (es_bulk.c) --------------------------------------- */

/* What became of one item of a bulk request. */
enum otus__es_outcome {
    OTUS__ES_OK = 0,     /* stored (a 409 on create of our own _id counts here) */
    OTUS__ES_RETRY,      /* 429 or 5xx: send it again */
    OTUS__ES_REJECTED,   /* refused for good (400 and other 4xx): dead letter */
    OTUS__ES_FAILURE_ST, /* redirected to the data stream's failure store: failed */
};

struct otus__es_item_result {
    enum otus__es_outcome outcome;
    int status;  /* the item's HTTP status */
    char *error; /* the item's error object as compact JSON (malloc'd), or NULL */
};

/*
 * Reads a bulk response for a request of n items (body[0..len)). res gets n results
 * (zeroed first) when the whole answer says anything per item: 0. With "errors":
 * false and no item in a failure store, every item is OK without parsing the items
 * (the fast path). OTUS_ERR_PARSE: not a bulk response, or not n items (the caller
 * cannot tell which items landed and sends them all again; the _id makes that safe).
 * OTUS_ERR_NOMEM.
 */
int otus__es_bulk_parse(const char *body, size_t len, size_t n, struct otus__es_item_result *res);

/* Frees the error texts of n results. */
void otus__es_results_free(struct otus__es_item_result *res, size_t n);

/* Reads the _index, _id and op of an action line. 0 or OTUS_ERR_PARSE. */
int otus__es_action_parse(const char *line, size_t len, char *op, size_t oplen, char *index,
                          size_t indexlen, char *id, size_t idlen);

/*
 * Appends one dead-letter line for an item to out:
 * {"@timestamp":..,"exporter":..,"index":..,"op_type":..,"_id":..,"status":N,
 *  "document":{source},"error":{...}}
 * index is the item's own _index or, when its action has none, default_index.
 * error is compact JSON or NULL (reason is then written as {"type":..,"reason":..}).
 */
int otus__es_dead_letter_line(struct otus_buf *out, const char *exporter, const char *default_index,
                              const char *item, size_t len, uint32_t src, int status,
                              const char *error, const char *type, const char *reason,
                              uint64_t now_ns);

/* A dead-letter line read back. Pointers point into the line. */
struct otus__es_dead_letter {
    char exporter[160];
    char index[256];
    char op[16];
    char id[512];
    const char *doc; /* the "document" value, raw JSON */
    size_t doclen;
};

/* Parses one dead-letter line. 0 or OTUS_ERR_PARSE. */
int otus__es_dead_letter_parse(const char *line, size_t len, struct otus__es_dead_letter *dl);

/* ---- the exporter (elasticsearch.c), as replay uses it ---------------------------------- */

struct otus__es;

/* A unit of delivery: items over one NDJSON buffer, settled once through done. */
struct otus__es_job {
    struct otus__es_items items;    /* owned by the job */
    struct otus__es_target *target; /* borrowed from the exporter */
    int omit_index;                 /* the items' actions name no _index */
    uint64_t deadline_ms;           /* loop time to give up at (0: none) */
    void (*done)(struct otus__es_job *j, size_t sent, size_t failed, size_t dropped);
    size_t returned; /* when done runs: items handed back undelivered (0 or all) */
    void *arg;
    struct otus_send *send; /* the core's send, when the job is one */
    void *priv;             /* private to elasticsearch.c */
};

/* Starts delivering a job (the exporter takes it until done runs). 0 or a negative
 * otus_status (done will not run). */
int otus__es_job_start(struct otus__es *es, struct otus__es_job *j);

/* The exporter's target for a signal. */
struct otus__es_target *otus__es_target_of(struct otus__es *es, enum otus_signal s);

/* Sends without installing index templates (replay: the user's mapping fix stays). */
void otus__es_templates_off(struct otus__es *es);

/* The path of the exporter's dead-letter file. */
const char *otus__es_dead_letter_path(const struct otus__es *es);

extern const struct otus_exporter_ops otus_elasticsearch_exporter;

#endif
