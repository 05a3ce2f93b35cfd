/*
 * otlp_encode.c: turns the batches of one send into one OTLP Export*ServiceRequest in
 * protobuf (with the writer of otlp_pb.c), and reads what the backend answers (otlp.h).
 *
 * Merging: the resource entries of every batch (ResourceSpans, ResourceMetrics,
 * ResourceLogs) are grouped by content (the resource, the schema URL and any unknown
 * fields), and within a group the scope entries likewise, as an SDK groups what it
 * sends. Nothing is copied: the groups point at the batches' own structs, and the
 * writer walks them.
 *
 * Writing (otlp_pb.c): a direct protobuf writer for the OTLP messages, one pass. A nested message
 * reserves the bytes its length usually needs, is written, and then gets its length;
 * only when the length needs a different number of bytes does its content move. That
 * is protobuf-c's own trick, without protobuf-c's per-field descriptor dispatch and its
 * size pass over the whole tree first, which together cost four times as much. Fields
 * go out in field number order and zero values are left out as protobuf-c does, so the
 * bytes equal protobuf_c_message_pack()'s for the same structs (the unit tests check
 * this); the one deliberate difference is that a double holding -0.0 is written, where
 * protobuf-c drops it, so the value survives the trip.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <otus.h>

#include "exporters/otlp/otlp.h"
#include "exporters/otlp/otlp_pb.h"
#include "google/rpc/status.pb-c.h"

/* ---- content hashing and equality, for grouping ------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t f = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        f = (f ^ s[i]) * 0x100000001b3ull;
    return mix(h, f ^ n);
}

static inline uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s ? s : "", s ? strlen(s) : 0);
}

static inline int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static inline int bin_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static uint64_t hash_unknown(uint64_t h, const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        h = mix(h, ((uint64_t)u->tag << 3) | u->wire_type);
        h = hash_bytes(h, u->data, u->len);
    }
    return h;
}

static int unknown_eq(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (a->n_unknown_fields != b->n_unknown_fields)
        return 0;
    for (unsigned i = 0; i < a->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *x = &a->unknown_fields[i], *y = &b->unknown_fields[i];
        if (x->tag != y->tag || x->wire_type != y->wire_type || x->len != y->len ||
            (x->len && memcmp(x->data, y->data, x->len) != 0))
            return 0;
    }
    return 1;
}

static uint64_t hash_kvs(uint64_t h, KeyValue *const *kvs, size_t n, unsigned depth);

static uint64_t hash_any(uint64_t h, const AnyValue *v, unsigned depth)
{
    if (!v || depth > OTUS_OTLP_WRITE_MAX_DEPTH)
        return mix(h, 0);
    h = mix(h, (uint64_t)v->value_case + 1);
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return hash_str(h, v->string_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return mix(h, v->bool_value ? 1 : 0);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return mix(h, (uint64_t)v->int_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        return mix(h, double_bits(v->double_value));
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (v->array_value)
            for (size_t i = 0; i < v->array_value->n_values; i++)
                h = hash_any(h, v->array_value->values[i], depth + 1);
        return h;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (v->kvlist_value)
            h = hash_kvs(h, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        return h;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return hash_bytes(h, v->bytes_value.data, v->bytes_value.len);
    default:
        return h;
    }
}

static uint64_t hash_kvs(uint64_t h, KeyValue *const *kvs, size_t n, unsigned depth)
{
    h = mix(h, n);
    for (size_t i = 0; i < n; i++) {
        h = hash_str(h, kvs[i]->key);
        h = hash_any(h, kvs[i]->value, depth);
    }
    return h;
}

static int kvs_eq(KeyValue *const *a, size_t na, KeyValue *const *b, size_t nb, unsigned depth);

/* Equal content, as written: same members set, same values, same unknown fields. */
static int any_eq(const AnyValue *a, const AnyValue *b, unsigned depth)
{
    if (!a || !b)
        return a == b;
    if (depth > OTUS_OTLP_WRITE_MAX_DEPTH || a->value_case != b->value_case ||
        !unknown_eq(&a->base, &b->base))
        return 0;
    switch (a->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        return (a->string_value == NULL) == (b->string_value == NULL) &&
               str_eq(a->string_value, b->string_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        return !a->bool_value == !b->bool_value;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        return a->int_value == b->int_value;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        return double_bits(a->double_value) == double_bits(b->double_value);
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
        const Opentelemetry__Proto__Common__V1__ArrayValue *x = a->array_value, *y = b->array_value;
        if (!x || !y)
            return x == y;
        if (x->n_values != y->n_values || !unknown_eq(&x->base, &y->base))
            return 0;
        for (size_t i = 0; i < x->n_values; i++)
            if (!any_eq(x->values[i], y->values[i], depth + 1))
                return 0;
        return 1;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        const Opentelemetry__Proto__Common__V1__KeyValueList *x = a->kvlist_value,
                                                             *y = b->kvlist_value;
        if (!x || !y)
            return x == y;
        return unknown_eq(&x->base, &y->base) &&
               kvs_eq(x->values, x->n_values, y->values, y->n_values, depth + 1);
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        return bin_eq(&a->bytes_value, &b->bytes_value);
    default:
        return 1;
    }
}

static int kvs_eq(KeyValue *const *a, size_t na, KeyValue *const *b, size_t nb, unsigned depth)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i]->key, b[i]->key) || !unknown_eq(&a[i]->base, &b[i]->base) ||
            !any_eq(a[i]->value, b[i]->value, depth))
            return 0;
    return 1;
}

static int strs_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return 0;
    return 1;
}

static uint64_t hash_resource(uint64_t h, const Resource *r)
{
    if (!r)
        return mix(h, 1);
    h = hash_kvs(h, r->attributes, r->n_attributes, 1);
    h = mix(h, r->dropped_attributes_count);
    for (size_t i = 0; i < r->n_entity_refs; i++) {
        h = hash_str(h, r->entity_refs[i]->type);
        h = hash_str(h, r->entity_refs[i]->schema_url);
    }
    return hash_unknown(h, &r->base);
}

static int resource_eq(const Resource *a, const Resource *b)
{
    if (!a || !b)
        return a == b;
    if (a->dropped_attributes_count != b->dropped_attributes_count ||
        a->n_entity_refs != b->n_entity_refs || !unknown_eq(&a->base, &b->base) ||
        !kvs_eq(a->attributes, a->n_attributes, b->attributes, b->n_attributes, 1))
        return 0;
    for (size_t i = 0; i < a->n_entity_refs; i++) {
        const EntityRef *x = a->entity_refs[i], *y = b->entity_refs[i];
        if (!str_eq(x->schema_url, y->schema_url) || !str_eq(x->type, y->type) ||
            !strs_eq(x->id_keys, x->n_id_keys, y->id_keys, y->n_id_keys) ||
            !strs_eq(x->description_keys, x->n_description_keys, y->description_keys,
                     y->n_description_keys) ||
            !unknown_eq(&x->base, &y->base))
            return 0;
    }
    return 1;
}

static uint64_t hash_scope(uint64_t h, const Scope *s)
{
    if (!s)
        return mix(h, 1);
    h = hash_str(h, s->name);
    h = hash_str(h, s->version);
    h = hash_kvs(h, s->attributes, s->n_attributes, 1);
    h = mix(h, s->dropped_attributes_count);
    return hash_unknown(h, &s->base);
}

static int scope_eq(const Scope *a, const Scope *b)
{
    if (!a || !b)
        return a == b;
    return str_eq(a->name, b->name) && str_eq(a->version, b->version) &&
           a->dropped_attributes_count == b->dropped_attributes_count &&
           unknown_eq(&a->base, &b->base) &&
           kvs_eq(a->attributes, a->n_attributes, b->attributes, b->n_attributes, 1);
}

/* ---- grouping ------------------------------------------------------------------------------ */

/*
 * The three signals share one shape: a request holds resource entries (resource = 1,
 * scope entries = 2, schema_url = 3), which hold scope entries (scope = 1, records = 2,
 * schema_url = 3). These views read that shape from any of them.
 */
struct rview {
    const ProtobufCMessage *msg;
    const Resource *resource;
    const char *schema_url;
    size_t nscopes;
    void *const *scopes;
};

struct sview {
    const ProtobufCMessage *msg;
    const Scope *scope;
    const char *schema_url;
    size_t nrecords;
    void *const *records;
};

static void rview_of(enum otus_signal s, const void *p, struct rview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES: {
        const ResourceSpans *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_spans,
                            (void *const *)r->scope_spans};
        break;
    }
    case OTUS_SIGNAL_METRICS: {
        const ResourceMetrics *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_metrics,
                            (void *const *)r->scope_metrics};
        break;
    }
    case OTUS_SIGNAL_LOGS: {
        const ResourceLogs *r = p;
        *v = (struct rview){&r->base, r->resource, r->schema_url, r->n_scope_logs,
                            (void *const *)r->scope_logs};
        break;
    }
    }
}

static void sview_of(enum otus_signal s, const void *p, struct sview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES: {
        const ScopeSpans *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_spans, (void *const *)x->spans};
        break;
    }
    case OTUS_SIGNAL_METRICS: {
        const ScopeMetrics *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_metrics,
                            (void *const *)x->metrics};
        break;
    }
    case OTUS_SIGNAL_LOGS: {
        const ScopeLogs *x = p;
        *v = (struct sview){&x->base, x->scope, x->schema_url, x->n_log_records,
                            (void *const *)x->log_records};
        break;
    }
    }
}

/* The resource entries of a request. */
static size_t request_entries(const struct otus_batch *b, void *const **out)
{
    switch (b->signal) {
    case OTUS_SIGNAL_TRACES:
        *out = b->req.traces ? (void *const *)b->req.traces->resource_spans : NULL;
        return b->req.traces ? b->req.traces->n_resource_spans : 0;
    case OTUS_SIGNAL_METRICS:
        *out = b->req.metrics ? (void *const *)b->req.metrics->resource_metrics : NULL;
        return b->req.metrics ? b->req.metrics->n_resource_metrics : 0;
    case OTUS_SIGNAL_LOGS:
        *out = b->req.logs ? (void *const *)b->req.logs->resource_logs : NULL;
        return b->req.logs ? b->req.logs->n_resource_logs : 0;
    }
    *out = NULL;
    return 0;
}

struct member {
    const void *scope_entry; /* ScopeSpans, ScopeMetrics or ScopeLogs */
    struct member *next;
};

struct sgroup {
    struct sview first; /* scope, schema URL and unknown fields written */
    uint64_t hash;
    struct member *head, *tail;
    struct sgroup *next;
};

struct rgroup {
    struct rview first;
    uint64_t hash;
    struct sgroup *scopes, *scopes_tail;
    struct rgroup *next;
};

static void *scratch_alloc(struct otlp_encoder *e, size_t n)
{
    void *p = otus_arena_alloc(&e->scratch, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static int add_scope(struct otlp_encoder *e, enum otus_signal s, struct rgroup *rg,
                     const void *entry)
{
    struct sview v;
    sview_of(s, entry, &v);
    uint64_t h = hash_str(hash_scope(0, v.scope), v.schema_url);
    h = hash_unknown(h, v.msg);
    struct sgroup *g;
    for (g = rg->scopes; g; g = g->next)
        if (g->hash == h && scope_eq(g->first.scope, v.scope) &&
            str_eq(g->first.schema_url, v.schema_url) && unknown_eq(g->first.msg, v.msg))
            break;
    if (!g) {
        g = scratch_alloc(e, sizeof(*g));
        if (!g)
            return OTUS_ERR_NOMEM;
        g->first = v;
        g->hash = h;
        if (rg->scopes_tail)
            rg->scopes_tail->next = g;
        else
            rg->scopes = g;
        rg->scopes_tail = g;
    }
    struct member *m = scratch_alloc(e, sizeof(*m));
    if (!m)
        return OTUS_ERR_NOMEM;
    m->scope_entry = entry;
    if (g->tail)
        g->tail->next = m;
    else
        g->head = m;
    g->tail = m;
    return 0;
}

/* Builds the resource groups of batches[0..n) in order of first appearance. */
static int group(struct otlp_encoder *e, enum otus_signal s, struct otus_batch *const *batches,
                 size_t n, struct rgroup **out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        void *const *entries;
        total += request_entries(batches[i], &entries);
    }
    size_t slots = 16;
    while (slots < total * 2)
        slots *= 2;
    struct rgroup **table = scratch_alloc(e, slots * sizeof(*table));
    if (!table)
        return OTUS_ERR_NOMEM;
    struct rgroup *head = NULL, *tail = NULL;
    for (size_t i = 0; i < n; i++) {
        void *const *entries;
        size_t ne = request_entries(batches[i], &entries);
        for (size_t k = 0; k < ne; k++) {
            struct rview v;
            rview_of(s, entries[k], &v);
            uint64_t h = hash_str(hash_resource(0, v.resource), v.schema_url);
            h = hash_unknown(h, v.msg);
            size_t slot = (size_t)h & (slots - 1);
            struct rgroup *g;
            while ((g = table[slot]) != NULL) {
                if (g->hash == h && resource_eq(g->first.resource, v.resource) &&
                    str_eq(g->first.schema_url, v.schema_url) && unknown_eq(g->first.msg, v.msg))
                    break;
                slot = (slot + 1) & (slots - 1);
            }
            if (!g) {
                g = scratch_alloc(e, sizeof(*g));
                if (!g)
                    return OTUS_ERR_NOMEM;
                g->first = v;
                g->hash = h;
                table[slot] = g;
                if (tail)
                    tail->next = g;
                else
                    head = g;
                tail = g;
            }
            for (size_t j = 0; j < v.nscopes; j++) {
                int rc = add_scope(e, s, g, v.scopes[j]);
                if (rc)
                    return rc;
            }
        }
    }
    *out = head;
    return 0;
}

static void w_records(struct pbw *w, enum otus_signal s, const struct sview *v)
{
    switch (s) {
    case OTUS_SIGNAL_TRACES:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            otus__otlp_pb_span(w, v->records[i]);
        break;
    case OTUS_SIGNAL_METRICS:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            otus__otlp_pb_metric(w, v->records[i]);
        break;
    case OTUS_SIGNAL_LOGS:
        for (size_t i = 0; i < v->nrecords && !w->err; i++)
            otus__otlp_pb_log_record(w, v->records[i]);
        break;
    }
}

void otus__otlp_encoder_init(struct otlp_encoder *e)
{
    otus_arena_init(&e->scratch, 64 * 1024, 256u << 20);
}

void otus__otlp_encoder_destroy(struct otlp_encoder *e)
{
    otus_arena_destroy(&e->scratch);
}

int otus__otlp_encode(struct otlp_encoder *e, enum otus_signal s, struct otus_batch *const *batches,
                      size_t n, struct otus_buf *out)
{
    size_t base = out->len;
    otus_arena_reset(&e->scratch);
    struct rgroup *groups = NULL;
    int rc = group(e, s, batches, n, &groups);
    if (rc)
        return rc;
    /* The decoded size bounds the encoded size closely enough to reserve once. */
    size_t guess = 0;
    for (size_t i = 0; i < n; i++)
        guess += batches[i]->charged;
    if (guess > (64u << 20))
        guess = 64u << 20;
    struct pbw w = {.b = out};
    if (guess)
        room(&w, guess);
    w.err = 0; /* a failed guess is no failure: the writer grows as it goes */
    for (struct rgroup *rg = groups; rg && !w.err; rg = rg->next) {
        size_t rm = w_begin(&w, 1, 3);
        if (rg->first.resource)
            otus__otlp_pb_resource(&w, rg->first.resource);
        for (struct sgroup *sg = rg->scopes; sg && !w.err; sg = sg->next) {
            size_t sm = w_begin(&w, 2, 3);
            if (sg->first.scope)
                otus__otlp_pb_scope(&w, sg->first.scope);
            for (struct member *m = sg->head; m && !w.err; m = m->next) {
                struct sview v;
                sview_of(s, m->scope_entry, &v);
                w_records(&w, s, &v);
            }
            w_string(&w, 3, sg->first.schema_url);
            otus__otlp_pb_unknown(&w, sg->first.msg);
            w_end(&w, sm, 3);
        }
        w_string(&w, 3, rg->first.schema_url);
        otus__otlp_pb_unknown(&w, rg->first.msg);
        w_end(&w, rm, 3);
    }
    if (!w.err && out->len - base > OTUS_OTLP_MAX_BODY)
        w.err = OTUS_ERR_TOO_BIG;
    if (w.err)
        out->len = base;
    return w.err;
}

/* ---- answers ------------------------------------------------------------------------------- */

static void copy_msg(char *msg, size_t msglen, const char *s, size_t n)
{
    if (!msglen)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < msglen; i++) {
        unsigned char c = (unsigned char)s[i];
        msg[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    msg[k] = '\0';
}

static const ProtobufCMessageDescriptor *const response_desc[OTUS_SIGNAL_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor,
};

static int parse_json_response(enum otus_signal s, const void *body, size_t len, int64_t *rejected,
                               char *msg, size_t msglen)
{
    static const char *const camel[] = {"rejectedSpans", "rejectedDataPoints",
                                        "rejectedLogRecords"};
    static const char *const snake[] = {"rejected_spans", "rejected_data_points",
                                        "rejected_log_records"};
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return OTUS_ERR_PARSE;
    }
    json_t *ps = json_object_get(root, "partialSuccess");
    if (!ps)
        ps = json_object_get(root, "partial_success");
    if (ps && json_is_object(ps)) {
        json_t *r = json_object_get(ps, camel[s]);
        if (!r)
            r = json_object_get(ps, snake[s]);
        if (json_is_integer(r))
            *rejected = (int64_t)json_integer_value(r);
        else if (json_is_string(r))
            *rejected = strtoll(json_string_value(r), NULL, 10);
        else if (json_is_real(r))
            *rejected = (int64_t)json_real_value(r);
        json_t *m = json_object_get(ps, "errorMessage");
        if (!m)
            m = json_object_get(ps, "error_message");
        if (json_is_string(m))
            copy_msg(msg, msglen, json_string_value(m), json_string_length(m));
    }
    json_decref(root);
    return 0;
}

int otus__otlp_parse_response(enum otus_signal s, const void *body, size_t len, int json,
                              int64_t *rejected, char *msg, size_t msglen)
{
    *rejected = 0;
    if (msglen)
        msg[0] = '\0';
    if (len == 0)
        return 0;
    int rc = 0;
    if (json) {
        rc = parse_json_response(s, body, len, rejected, msg, msglen);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(response_desc[s], NULL, len, body);
        if (!m)
            return OTUS_ERR_PARSE;
        int64_t r = 0;
        const char *em = NULL;
        switch (s) {
        case OTUS_SIGNAL_TRACES: {
            const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_spans;
                em = t->partial_success->error_message;
            }
            break;
        }
        case OTUS_SIGNAL_METRICS: {
            const Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_data_points;
                em = t->partial_success->error_message;
            }
            break;
        }
        case OTUS_SIGNAL_LOGS: {
            const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *t =
                (const void *)m;
            if (t->partial_success) {
                r = t->partial_success->rejected_log_records;
                em = t->partial_success->error_message;
            }
            break;
        }
        }
        *rejected = r;
        if (em)
            copy_msg(msg, msglen, em, strlen(em));
        protobuf_c_message_free_unpacked(m, NULL);
    }
    if (*rejected < 0)
        *rejected = 0;
    return rc;
}

void otus__otlp_failure_text(const void *body, size_t len, const char *content_type, char *msg,
                             size_t msglen)
{
    if (!msglen)
        return;
    msg[0] = '\0';
    if (len == 0)
        return;
    const char *ct = content_type ? content_type : "";
    if (strstr(ct, "protobuf")) {
        Google__Rpc__Status *st = google__rpc__status__unpack(NULL, len, body);
        if (st) {
            if (st->message)
                copy_msg(msg, msglen, st->message, strlen(st->message));
            google__rpc__status__free_unpacked(st, NULL);
            return;
        }
    } else if (strstr(ct, "json")) {
        json_error_t jerr;
        json_t *root = json_loadb(body, len, 0, &jerr);
        json_t *m = root ? json_object_get(root, "message") : NULL;
        if (json_is_string(m)) {
            copy_msg(msg, msglen, json_string_value(m), json_string_length(m));
            json_decref(root);
            return;
        }
        json_decref(root);
    }
    copy_msg(msg, msglen, body, len);
}
