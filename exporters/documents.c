/*
 * documents.c: NDJSON documents for logs, spans and metric points (documents.h).
 *
 * Hot path: a document is built with the JSON writer straight into the output
 * buffer; the members shared by every record of a resource and scope (the "origin")
 * are formatted once per resource/scope and copied in. Attribute maps are flattened
 * with dotted keys and de-duplicated by a hash of the full key.
 */
#include "exporters/documents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/hex.h"

#define AV(field) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##field

/* ---- values --------------------------------------------------------------------------- */

static void put_bytes(struct otus_json *j, const ProtobufCBinaryData *b)
{
    char stack[256];
    size_t n = otus_base64_len(b->len);
    char *p = n <= sizeof(stack) ? stack : malloc(n);
    if (!p) {
        j->err = OTUS_ERR_NOMEM;
        return;
    }
    otus_base64_encode(b->data, b->len, p);
    otus_json_string(j, p, n);
    if (p != stack)
        free(p);
}

void otus_doc_any_value(struct otus_json *j, const otus_any_value *v)
{
    if (!v) {
        otus_json_null(j);
        return;
    }
    switch (v->value_case) {
    case AV(STRING_VALUE):
        otus_json_cstr(j, v->string_value ? v->string_value : "");
        break;
    case AV(BOOL_VALUE):
        otus_json_bool(j, v->bool_value);
        break;
    case AV(INT_VALUE):
        otus_json_int(j, v->int_value);
        break;
    case AV(DOUBLE_VALUE):
        otus_json_double(j, v->double_value);
        break;
    case AV(BYTES_VALUE):
        put_bytes(j, &v->bytes_value);
        break;
    case AV(ARRAY_VALUE):
        otus_json_array_begin(j);
        if (v->array_value)
            for (size_t i = 0; i < v->array_value->n_values; i++)
                otus_doc_any_value(j, v->array_value->values[i]);
        otus_json_array_end(j);
        break;
    case AV(KVLIST_VALUE):
        otus_json_object_begin(j);
        if (v->kvlist_value) {
            for (size_t i = 0; i < v->kvlist_value->n_values; i++) {
                const otus_key_value *kv = v->kvlist_value->values[i];
                otus_json_key_cstr(j, kv->key ? kv->key : "");
                otus_doc_any_value(j, kv->value);
            }
        }
        otus_json_object_end(j);
        break;
    default:
        otus_json_null(j);
        break;
    }
}

/* ---- flat attribute maps ------------------------------------------------------------------ */

struct flat {
    struct otus_json *j;
    struct otus_buf path; /* the dotted key being built */
    uint64_t *hashes;     /* keys written so far */
    size_t nhashes, cap;
    uint64_t stack[32];
};

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Records a key; returns 0 if it was already written (the first value wins). */
static int flat_claim(struct flat *f, const char *k, size_t n)
{
    uint64_t h = hash_key(k, n);
    for (size_t i = 0; i < f->nhashes; i++)
        if (f->hashes[i] == h)
            return 0;
    if (f->nhashes == f->cap) {
        size_t cap = f->cap * 2;
        uint64_t *p =
            f->hashes == f->stack ? malloc(cap * sizeof(*p)) : realloc(f->hashes, cap * sizeof(*p));
        if (!p) {
            f->j->err = OTUS_ERR_NOMEM;
            return 0;
        }
        if (f->hashes == f->stack)
            memcpy(p, f->stack, sizeof(f->stack));
        f->hashes = p;
        f->cap = cap;
    }
    f->hashes[f->nhashes++] = h;
    return 1;
}

static void flat_write(struct flat *f, otus_key_value *const *attrs, size_t n, int depth)
{
    for (size_t i = 0; i < n; i++) {
        const otus_key_value *kv = attrs[i];
        const char *k = kv->key ? kv->key : "";
        size_t base = f->path.len;
        if (base && otus_buf_append_byte(&f->path, '.') != 0) {
            f->j->err = OTUS_ERR_NOMEM;
            return;
        }
        if (otus_buf_append_str(&f->path, k) != 0) {
            f->j->err = OTUS_ERR_NOMEM;
            return;
        }
        const otus_any_value *v = kv->value;
        if (v && v->value_case == AV(KVLIST_VALUE) && v->kvlist_value && depth < 16) {
            flat_write(f, v->kvlist_value->values, v->kvlist_value->n_values, depth + 1);
        } else if (flat_claim(f, f->path.data, f->path.len)) {
            otus_json_key(f->j, f->path.data, f->path.len);
            otus_doc_any_value(f->j, v);
        }
        f->path.len = base;
    }
}

/* The common case: no map values and few keys. Duplicates are found by comparing
 * keys directly, cheaper than hashing for a handful of short keys. */
static int simple_attrs(otus_key_value *const *attrs, size_t n)
{
    if (n > 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const otus_any_value *v = attrs[i]->value;
        if (!attrs[i]->key || (v && v->value_case == AV(KVLIST_VALUE)))
            return 0;
    }
    return 1;
}

void otus_doc_attributes(struct otus_json *j, otus_key_value *const *attrs, size_t n)
{
    if (simple_attrs(attrs, n)) {
        size_t len[16];
        otus_json_object_begin(j);
        for (size_t i = 0; i < n; i++) {
            const char *k = attrs[i]->key;
            len[i] = strlen(k);
            size_t d = 0;
            while (d < i && (len[d] != len[i] || memcmp(attrs[d]->key, k, len[i]) != 0))
                d++;
            if (d < i)
                continue; /* a duplicate key: the first value wins */
            otus_json_key(j, k, len[i]);
            otus_doc_any_value(j, attrs[i]->value);
        }
        otus_json_object_end(j);
        return;
    }
    struct flat f;
    f.j = j;
    otus_buf_init(&f.path, 0);
    f.hashes = f.stack;
    f.nhashes = 0;
    f.cap = sizeof(f.stack) / sizeof(f.stack[0]);
    otus_json_object_begin(j);
    flat_write(&f, attrs, n, 0);
    otus_json_object_end(j);
    otus_buf_free(&f.path);
    if (f.hashes != f.stack)
        free(f.hashes);
}

/* ---- origin: resource and scope ------------------------------------------------------------- */

static const otus_any_value *attr(const otus_resource *res, const char *key)
{
    if (!res)
        return NULL;
    for (size_t i = 0; i < res->n_attributes; i++)
        if (res->attributes[i]->key && strcmp(res->attributes[i]->key, key) == 0)
            return res->attributes[i]->value;
    return NULL;
}

const char *otus_doc_service_name(const otus_resource *res)
{
    const otus_any_value *v = attr(res, "service.name");
    return v && v->value_case == AV(STRING_VALUE) ? v->string_value : NULL;
}

/* Resource attributes promoted to top-level ECS fields (and not repeated). */
static const char *const promoted[] = {"service.name", "service.version", "host.name"};

static int is_promoted(const char *k)
{
    for (size_t i = 0; i < sizeof(promoted) / sizeof(promoted[0]); i++)
        if (strcmp(k, promoted[i]) == 0)
            return 1;
    return 0;
}

int otus_doc_origin(const otus_resource *res, const otus_scope *scope, struct otus_buf *out)
{
    struct otus_json j;
    /* Write inside a throw-away object so the writer inserts commas; keep the inside. */
    size_t start = out->len;
    otus_json_init(&j, out);
    otus_json_object_begin(&j);
    otus_json_raw(&j, "0", 1); /* placeholder member position, removed below */
    for (size_t i = 0; i < sizeof(promoted) / sizeof(promoted[0]); i++) {
        const otus_any_value *v = attr(res, promoted[i]);
        if (v) {
            otus_json_key_cstr(&j, promoted[i]);
            otus_doc_any_value(&j, v);
        }
    }
    if (res && res->n_attributes) {
        otus_key_value *rest_stack[32];
        otus_key_value **rest =
            res->n_attributes <= 32 ? rest_stack : malloc(res->n_attributes * sizeof(*rest));
        if (!rest)
            return OTUS_ERR_NOMEM;
        size_t n = 0;
        for (size_t i = 0; i < res->n_attributes; i++)
            if (!res->attributes[i]->key || !is_promoted(res->attributes[i]->key))
                rest[n++] = res->attributes[i];
        if (n) {
            otus_json_key_plain(&j, "resource.attributes", 19);
            otus_doc_attributes(&j, rest, n);
        }
        if (rest != rest_stack)
            free(rest);
    }
    if (scope) {
        if (scope->name && *scope->name) {
            otus_json_key_plain(&j, "scope.name", 10);
            otus_json_cstr(&j, scope->name);
        }
        if (scope->version && *scope->version) {
            otus_json_key_plain(&j, "scope.version", 13);
            otus_json_cstr(&j, scope->version);
        }
        if (scope->n_attributes) {
            otus_json_key_plain(&j, "scope.attributes", 16);
            otus_doc_attributes(&j, scope->attributes, scope->n_attributes);
        }
    }
    otus_json_object_end(&j);
    int rc = otus_json_error(&j);
    if (rc) {
        out->len = start;
        return rc;
    }
    /* Drop "{0" and "}": what stays is ",member,member" or nothing. */
    size_t inner = out->len - start - 3;
    memmove(out->data + start, out->data + start + 2, inner);
    out->len = start + inner;
    return 0;
}

/* ---- logs ----------------------------------------------------------------------------------- */

const char *otus_doc_log_level(const Opentelemetry__Proto__Logs__V1__LogRecord *lr)
{
    static const char *const ranges[] = {"trace", "debug", "info", "warn", "error", "fatal"};
    if (lr->severity_text && *lr->severity_text)
        return lr->severity_text;
    int n = (int)lr->severity_number;
    if (n >= 1 && n <= 24)
        return ranges[(n - 1) / 4];
    return NULL;
}

/* Keys and values below are plain ASCII: written without the escaper. */
static void put_time(struct otus_json *j, const char *key, uint64_t ns)
{
    char ts[OTUS_RFC3339_BUF + 2];
    ts[0] = '"';
    otus_time_rfc3339_nano(ns, ts + 1);
    ts[OTUS_RFC3339_NANO_LEN + 1] = '"';
    otus_json_key_plain(j, key, strlen(key));
    otus_json_raw(j, ts, OTUS_RFC3339_NANO_LEN + 2);
}

static void put_id(struct otus_json *j, const char *key, const ProtobufCBinaryData *id)
{
    char hex[66];
    if (!id->len || id->len > 32)
        return;
    hex[0] = '"';
    otus_hex_encode(id->data, id->len, hex + 1);
    hex[id->len * 2 + 1] = '"';
    otus_json_key_plain(j, key, strlen(key));
    otus_json_raw(j, hex, id->len * 2 + 2);
}

/* Closes a document: origin members, '}' and a newline. */
static int finish(struct otus_json *j, const struct otus_buf *origin)
{
    if (origin && origin->len && !j->err) {
        int rc = otus_buf_append(j->b, origin->data, origin->len);
        if (rc)
            j->err = rc;
    }
    otus_json_object_end(j);
    int rc = otus_json_error(j);
    if (!rc)
        rc = otus_buf_append_byte(j->b, '\n');
    return rc;
}

int otus_doc_log(struct otus_buf *out, const Opentelemetry__Proto__Logs__V1__LogRecord *lr,
                 const struct otus_buf *origin, uint64_t received_ns)
{
    size_t start = out->len;
    struct otus_json j;
    otus_json_init(&j, out);
    otus_json_object_begin(&j);
    uint64_t t = lr->time_unix_nano            ? lr->time_unix_nano
                 : lr->observed_time_unix_nano ? lr->observed_time_unix_nano
                                               : received_ns;
    put_time(&j, "@timestamp", t);
    const char *level = otus_doc_log_level(lr);
    if (level) {
        otus_json_key_plain(&j, "log.level", 9);
        otus_json_cstr(&j, level);
    }
    const otus_any_value *body = lr->body;
    if (body) {
        switch (body->value_case) {
        case AV(STRING_VALUE):
            otus_json_key_plain(&j, "message", 7);
            otus_json_cstr(&j, body->string_value ? body->string_value : "");
            break;
        case AV(BOOL_VALUE):
            otus_json_key_plain(&j, "message", 7);
            otus_json_cstr(&j, body->bool_value ? "true" : "false");
            break;
        case AV(INT_VALUE): {
            char tmp[24];
            int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)body->int_value);
            otus_json_key_plain(&j, "message", 7);
            otus_json_string(&j, tmp, (size_t)n);
            break;
        }
        case AV(DOUBLE_VALUE): {
            char tmp[40];
            size_t n = otus_json_format_double(body->double_value, tmp);
            otus_json_key_plain(&j, "message", 7);
            otus_json_string(&j, tmp, n);
            break;
        }
        case AV(BYTES_VALUE):
            otus_json_key_plain(&j, "message", 7);
            put_bytes(&j, &body->bytes_value);
            break;
        case AV(ARRAY_VALUE):
        case AV(KVLIST_VALUE):
            otus_json_key_plain(&j, "body.structured", 15);
            otus_doc_any_value(&j, body);
            break;
        default:
            break;
        }
    }
    if (lr->severity_number) {
        otus_json_key_plain(&j, "event.severity", 14);
        otus_json_int(&j, lr->severity_number);
    }
    put_id(&j, "trace.id", &lr->trace_id);
    put_id(&j, "span.id", &lr->span_id);
    if (lr->event_name && *lr->event_name) {
        otus_json_key_plain(&j, "event.name", 10);
        otus_json_cstr(&j, lr->event_name);
    }
    if (lr->n_attributes) {
        otus_json_key_plain(&j, "attributes", 10);
        otus_doc_attributes(&j, lr->attributes, lr->n_attributes);
    }
    if (lr->dropped_attributes_count) {
        otus_json_key_plain(&j, "dropped_attributes_count", 24);
        otus_json_uint(&j, lr->dropped_attributes_count);
    }
    int rc = finish(&j, origin);
    if (rc)
        out->len = start;
    return rc;
}

/* ---- spans ------------------------------------------------------------------------------- */

static const char *span_kind(int k)
{
    static const char *const kinds[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
    return k >= 0 && k <= 5 ? kinds[k] : "unspecified";
}

static const char *status_code(int c)
{
    return c == 1 ? "ok" : c == 2 ? "error" : "unset";
}

int otus_doc_span(struct otus_buf *out, const Opentelemetry__Proto__Trace__V1__Span *sp,
                  const struct otus_buf *origin)
{
    size_t start = out->len;
    struct otus_json j;
    otus_json_init(&j, out);
    otus_json_object_begin(&j);
    put_time(&j, "@timestamp", sp->start_time_unix_nano);
    put_id(&j, "trace_id", &sp->trace_id);
    put_id(&j, "span_id", &sp->span_id);
    put_id(&j, "parent_span_id", &sp->parent_span_id);
    if (sp->trace_state && *sp->trace_state) {
        otus_json_key_plain(&j, "trace_state", 11);
        otus_json_cstr(&j, sp->trace_state);
    }
    if (sp->flags) {
        otus_json_key_plain(&j, "flags", 5);
        otus_json_uint(&j, sp->flags);
    }
    otus_json_key_plain(&j, "name", 4);
    otus_json_cstr(&j, sp->name ? sp->name : "");
    otus_json_key_plain(&j, "kind", 4);
    otus_json_cstr(&j, span_kind(sp->kind));
    put_time(&j, "start_time", sp->start_time_unix_nano);
    put_time(&j, "end_time", sp->end_time_unix_nano);
    otus_json_key_plain(&j, "start_time_unix_nano", 20);
    otus_json_uint(&j, sp->start_time_unix_nano);
    otus_json_key_plain(&j, "end_time_unix_nano", 18);
    otus_json_uint(&j, sp->end_time_unix_nano);
    otus_json_key_plain(&j, "duration_ns", 11);
    otus_json_int(&j, sp->end_time_unix_nano >= sp->start_time_unix_nano
                          ? (int64_t)(sp->end_time_unix_nano - sp->start_time_unix_nano)
                          : -(int64_t)(sp->start_time_unix_nano - sp->end_time_unix_nano));
    otus_json_key_plain(&j, "status", 6);
    otus_json_object_begin(&j);
    otus_json_key_plain(&j, "code", 4);
    otus_json_cstr(&j, status_code(sp->status ? sp->status->code : 0));
    if (sp->status && sp->status->message && *sp->status->message) {
        otus_json_key_plain(&j, "message", 7);
        otus_json_cstr(&j, sp->status->message);
    }
    otus_json_object_end(&j);
    if (sp->n_attributes) {
        otus_json_key_plain(&j, "attributes", 10);
        otus_doc_attributes(&j, sp->attributes, sp->n_attributes);
    }
    if (sp->n_events) {
        otus_json_key_plain(&j, "events", 6);
        otus_json_array_begin(&j);
        for (size_t i = 0; i < sp->n_events; i++) {
            const Opentelemetry__Proto__Trace__V1__Span__Event *e = sp->events[i];
            otus_json_object_begin(&j);
            put_time(&j, "time", e->time_unix_nano);
            otus_json_key_plain(&j, "time_unix_nano", 14);
            otus_json_uint(&j, e->time_unix_nano);
            otus_json_key_plain(&j, "name", 4);
            otus_json_cstr(&j, e->name ? e->name : "");
            if (e->n_attributes) {
                otus_json_key_plain(&j, "attributes", 10);
                otus_doc_attributes(&j, e->attributes, e->n_attributes);
            }
            if (e->dropped_attributes_count) {
                otus_json_key_plain(&j, "dropped_attributes_count", 24);
                otus_json_uint(&j, e->dropped_attributes_count);
            }
            otus_json_object_end(&j);
        }
        otus_json_array_end(&j);
    }
    if (sp->n_links) {
        otus_json_key_plain(&j, "links", 5);
        otus_json_array_begin(&j);
        for (size_t i = 0; i < sp->n_links; i++) {
            const Opentelemetry__Proto__Trace__V1__Span__Link *l = sp->links[i];
            otus_json_object_begin(&j);
            put_id(&j, "trace_id", &l->trace_id);
            put_id(&j, "span_id", &l->span_id);
            if (l->trace_state && *l->trace_state) {
                otus_json_key_plain(&j, "trace_state", 11);
                otus_json_cstr(&j, l->trace_state);
            }
            if (l->flags) {
                otus_json_key_plain(&j, "flags", 5);
                otus_json_uint(&j, l->flags);
            }
            if (l->n_attributes) {
                otus_json_key_plain(&j, "attributes", 10);
                otus_doc_attributes(&j, l->attributes, l->n_attributes);
            }
            if (l->dropped_attributes_count) {
                otus_json_key_plain(&j, "dropped_attributes_count", 24);
                otus_json_uint(&j, l->dropped_attributes_count);
            }
            otus_json_object_end(&j);
        }
        otus_json_array_end(&j);
    }
    static const struct {
        const char *key;
        size_t off;
    } dropped[] = {
        {"dropped_attributes_count",
         offsetof(Opentelemetry__Proto__Trace__V1__Span, dropped_attributes_count)},
        {"dropped_events_count",
         offsetof(Opentelemetry__Proto__Trace__V1__Span, dropped_events_count)},
        {"dropped_links_count",
         offsetof(Opentelemetry__Proto__Trace__V1__Span, dropped_links_count)},
    };
    for (size_t i = 0; i < 3; i++) {
        uint32_t v = *(const uint32_t *)((const char *)sp + dropped[i].off);
        if (v) {
            otus_json_key_cstr(&j, dropped[i].key);
            otus_json_uint(&j, v);
        }
    }
    int rc = finish(&j, origin);
    if (rc)
        out->len = start;
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------------ */

typedef Opentelemetry__Proto__Metrics__V1__Exemplar otus_exemplar;

static void put_exemplars(struct otus_json *j, otus_exemplar *const *ex, size_t n)
{
    if (!n)
        return;
    otus_json_key_plain(j, "exemplars", 9);
    otus_json_array_begin(j);
    for (size_t i = 0; i < n; i++) {
        const otus_exemplar *e = ex[i];
        otus_json_object_begin(j);
        put_time(j, "time", e->time_unix_nano);
        otus_json_key_plain(j, "value", 5);
        if (e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT)
            otus_json_int(j, e->as_int);
        else
            otus_json_double(j, e->as_double);
        put_id(j, "trace_id", &e->trace_id);
        put_id(j, "span_id", &e->span_id);
        if (e->n_filtered_attributes) {
            otus_json_key_plain(j, "filtered_attributes", 19);
            otus_doc_attributes(j, e->filtered_attributes, e->n_filtered_attributes);
        }
        otus_json_object_end(j);
    }
    otus_json_array_end(j);
}

/* The members every point document of metric m starts with. */
static void point_head(struct otus_json *j, const Opentelemetry__Proto__Metrics__V1__Metric *m,
                       const char *type, uint64_t t, uint64_t start_t, otus_key_value *const *attrs,
                       size_t nattrs, uint32_t flags)
{
    otus_json_object_begin(j);
    put_time(j, "@timestamp", t);
    if (start_t)
        put_time(j, "start_timestamp", start_t);
    otus_json_key_plain(j, "name", 4);
    otus_json_cstr(j, m->name ? m->name : "");
    if (m->description && *m->description) {
        otus_json_key_plain(j, "description", 11);
        otus_json_cstr(j, m->description);
    }
    if (m->unit && *m->unit) {
        otus_json_key_plain(j, "unit", 4);
        otus_json_cstr(j, m->unit);
    }
    otus_json_key_plain(j, "type", 4);
    otus_json_cstr(j, type);
    if (nattrs) {
        otus_json_key_plain(j, "attributes", 10);
        otus_doc_attributes(j, attrs, nattrs);
    }
    if (flags) {
        otus_json_key_plain(j, "flags", 5);
        otus_json_uint(j, flags);
    }
}

static const char *temporality(int t)
{
    return t == 1 ? "delta" : t == 2 ? "cumulative" : "unspecified";
}

static int number_points(struct otus_buf *out, const Opentelemetry__Proto__Metrics__V1__Metric *m,
                         const char *type,
                         Opentelemetry__Proto__Metrics__V1__NumberDataPoint *const *pts, size_t n,
                         int temp, int monotonic, const struct otus_buf *origin)
{
    for (size_t i = 0; i < n; i++) {
        const Opentelemetry__Proto__Metrics__V1__NumberDataPoint *p = pts[i];
        struct otus_json j;
        otus_json_init(&j, out);
        point_head(&j, m, type, p->time_unix_nano, p->start_time_unix_nano, p->attributes,
                   p->n_attributes, p->flags);
        if (temp >= 0) {
            otus_json_key_plain(&j, "temporality", 11);
            otus_json_cstr(&j, temporality(temp));
            otus_json_key_plain(&j, "monotonic", 9);
            otus_json_bool(&j, monotonic);
        }
        otus_json_key_plain(&j, "value", 5);
        if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
            otus_json_int(&j, p->as_int);
        else if (p->value_case ==
                 OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
            otus_json_double(&j, p->as_double);
        else
            otus_json_null(&j);
        put_exemplars(&j, p->exemplars, p->n_exemplars);
        int rc = finish(&j, origin);
        if (rc)
            return rc;
    }
    return 0;
}

static void
put_buckets(struct otus_json *j, const char *key,
            const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b)
{
    if (!b)
        return;
    otus_json_key_cstr(j, key);
    otus_json_object_begin(j);
    otus_json_key_plain(j, "offset", 6);
    otus_json_int(j, b->offset);
    otus_json_key_plain(j, "bucket_counts", 13);
    otus_json_array_begin(j);
    for (size_t i = 0; i < b->n_bucket_counts; i++)
        otus_json_uint(j, b->bucket_counts[i]);
    otus_json_array_end(j);
    otus_json_object_end(j);
}

int otus_doc_metric(struct otus_buf *out, const Opentelemetry__Proto__Metrics__V1__Metric *m,
                    const struct otus_buf *origin)
{
    size_t start = out->len;
    int rc = 0;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        if (m->gauge)
            rc = number_points(out, m, "gauge", m->gauge->data_points, m->gauge->n_data_points, -1,
                               0, origin);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (m->sum)
            rc = number_points(out, m, "sum", m->sum->data_points, m->sum->n_data_points,
                               m->sum->aggregation_temporality, m->sum->is_monotonic, origin);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        for (size_t i = 0; m->histogram && i < m->histogram->n_data_points && !rc; i++) {
            const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p =
                m->histogram->data_points[i];
            struct otus_json j;
            otus_json_init(&j, out);
            point_head(&j, m, "histogram", p->time_unix_nano, p->start_time_unix_nano,
                       p->attributes, p->n_attributes, p->flags);
            otus_json_key_plain(&j, "temporality", 11);
            otus_json_cstr(&j, temporality(m->histogram->aggregation_temporality));
            otus_json_key_plain(&j, "count", 5);
            otus_json_uint(&j, p->count);
            if (p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM) {
                otus_json_key_plain(&j, "sum", 3);
                otus_json_double(&j, p->sum);
            }
            if (p->_min_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MIN_MIN) {
                otus_json_key_plain(&j, "min", 3);
                otus_json_double(&j, p->min);
            }
            if (p->_max_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___MAX_MAX) {
                otus_json_key_plain(&j, "max", 3);
                otus_json_double(&j, p->max);
            }
            otus_json_key_plain(&j, "bucket_counts", 13);
            otus_json_array_begin(&j);
            for (size_t b = 0; b < p->n_bucket_counts; b++)
                otus_json_uint(&j, p->bucket_counts[b]);
            otus_json_array_end(&j);
            otus_json_key_plain(&j, "explicit_bounds", 15);
            otus_json_array_begin(&j);
            for (size_t b = 0; b < p->n_explicit_bounds; b++)
                otus_json_double(&j, p->explicit_bounds[b]);
            otus_json_array_end(&j);
            put_exemplars(&j, p->exemplars, p->n_exemplars);
            rc = finish(&j, origin);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        for (size_t i = 0;
             m->exponential_histogram && i < m->exponential_histogram->n_data_points && !rc; i++) {
            const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *p =
                m->exponential_histogram->data_points[i];
            struct otus_json j;
            otus_json_init(&j, out);
            point_head(&j, m, "exponential_histogram", p->time_unix_nano, p->start_time_unix_nano,
                       p->attributes, p->n_attributes, p->flags);
            otus_json_key_plain(&j, "temporality", 11);
            otus_json_cstr(&j, temporality(m->exponential_histogram->aggregation_temporality));
            otus_json_key_plain(&j, "count", 5);
            otus_json_uint(&j, p->count);
            if (p->_sum_case ==
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM) {
                otus_json_key_plain(&j, "sum", 3);
                otus_json_double(&j, p->sum);
            }
            if (p->_min_case ==
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MIN_MIN) {
                otus_json_key_plain(&j, "min", 3);
                otus_json_double(&j, p->min);
            }
            if (p->_max_case ==
                OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___MAX_MAX) {
                otus_json_key_plain(&j, "max", 3);
                otus_json_double(&j, p->max);
            }
            otus_json_key_plain(&j, "scale", 5);
            otus_json_int(&j, p->scale);
            otus_json_key_plain(&j, "zero_count", 10);
            otus_json_uint(&j, p->zero_count);
            if (p->zero_threshold != 0) {
                otus_json_key_plain(&j, "zero_threshold", 14);
                otus_json_double(&j, p->zero_threshold);
            }
            put_buckets(&j, "positive", p->positive);
            put_buckets(&j, "negative", p->negative);
            put_exemplars(&j, p->exemplars, p->n_exemplars);
            rc = finish(&j, origin);
        }
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        for (size_t i = 0; m->summary && i < m->summary->n_data_points && !rc; i++) {
            const Opentelemetry__Proto__Metrics__V1__SummaryDataPoint *p =
                m->summary->data_points[i];
            struct otus_json j;
            otus_json_init(&j, out);
            point_head(&j, m, "summary", p->time_unix_nano, p->start_time_unix_nano, p->attributes,
                       p->n_attributes, p->flags);
            otus_json_key_plain(&j, "count", 5);
            otus_json_uint(&j, p->count);
            otus_json_key_plain(&j, "sum", 3);
            otus_json_double(&j, p->sum);
            otus_json_key_plain(&j, "quantiles", 9);
            otus_json_array_begin(&j);
            for (size_t q = 0; q < p->n_quantile_values; q++) {
                otus_json_object_begin(&j);
                otus_json_key_plain(&j, "quantile", 8);
                otus_json_double(&j, p->quantile_values[q]->quantile);
                otus_json_key_plain(&j, "value", 5);
                otus_json_double(&j, p->quantile_values[q]->value);
                otus_json_object_end(&j);
            }
            otus_json_array_end(&j);
            rc = finish(&j, origin);
        }
        break;
    default:
        break;
    }
    if (rc)
        out->len = start;
    return rc;
}

/* ---- whole batches ---------------------------------------------------------------------- */

int otus_doc_each(const struct otus_batch *b, int (*fn)(const struct otus_doc_record *r, void *ctx),
                  void *ctx)
{
    struct otus_buf origin;
    otus_buf_init(&origin, 16u << 20);
    struct otus_doc_record rec = {
        .signal = b->signal, .origin = &origin, .received_ns = b->received_ns};
    int rc = 0;
    switch (b->signal) {
    case OTUS_SIGNAL_LOGS:
        for (size_t i = 0; !rc && b->req.logs && i < b->req.logs->n_resource_logs; i++) {
            const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = b->req.logs->resource_logs[i];
            for (size_t k = 0; !rc && k < rl->n_scope_logs; k++) {
                const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[k];
                otus_buf_reset(&origin);
                rc = otus_doc_origin(rl->resource, sl->scope, &origin);
                for (size_t r = 0; !rc && r < sl->n_log_records; r++) {
                    rec.u.log = sl->log_records[r];
                    rc = fn(&rec, ctx);
                }
            }
        }
        break;
    case OTUS_SIGNAL_TRACES:
        for (size_t i = 0; !rc && b->req.traces && i < b->req.traces->n_resource_spans; i++) {
            const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
                b->req.traces->resource_spans[i];
            for (size_t k = 0; !rc && k < rs->n_scope_spans; k++) {
                const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[k];
                otus_buf_reset(&origin);
                rc = otus_doc_origin(rs->resource, ss->scope, &origin);
                for (size_t r = 0; !rc && r < ss->n_spans; r++) {
                    rec.u.span = ss->spans[r];
                    rc = fn(&rec, ctx);
                }
            }
        }
        break;
    case OTUS_SIGNAL_METRICS:
        for (size_t i = 0; !rc && b->req.metrics && i < b->req.metrics->n_resource_metrics; i++) {
            const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm =
                b->req.metrics->resource_metrics[i];
            for (size_t k = 0; !rc && k < rm->n_scope_metrics; k++) {
                const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[k];
                otus_buf_reset(&origin);
                rc = otus_doc_origin(rm->resource, sm->scope, &origin);
                for (size_t r = 0; !rc && r < sm->n_metrics; r++) {
                    rec.u.metric = sm->metrics[r];
                    rc = fn(&rec, ctx);
                }
            }
        }
        break;
    }
    otus_buf_free(&origin);
    return rc;
}

static int append_doc(const struct otus_doc_record *r, void *ctx)
{
    struct otus_buf *out = ctx;
    switch (r->signal) {
    case OTUS_SIGNAL_LOGS:
        return otus_doc_log(out, r->u.log, r->origin, r->received_ns);
    case OTUS_SIGNAL_TRACES:
        return otus_doc_span(out, r->u.span, r->origin);
    case OTUS_SIGNAL_METRICS:
        return otus_doc_metric(out, r->u.metric, r->origin);
    }
    return OTUS_ERR_INVALID;
}

int otus_doc_batch(struct otus_buf *out, const struct otus_batch *b)
{
    return otus_doc_each(b, append_doc, out);
}
