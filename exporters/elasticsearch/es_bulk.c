/*
 * es_bulk.c: reading what Elasticsearch answers to a bulk request, and the
 * dead-letter lines written for documents it refused for good.
 *
 * A bulk answer is {"took":N,"errors":bool,"items":[{"<op>":{"_index":..,"_id":..,
 * "status":N,"error":{"type":..,"reason":..},"failure_store":..}},...]}, one item per
 * action, in order. When "errors" is false every item was stored, so the items are
 * not parsed at all unless one mentions a failure store (a document redirected there
 * is answered with a success status and "failure_store":"used"); otherwise the whole
 * answer is parsed with jansson and each item classified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <otus.h>

#include "common/clock.h"
#include "common/json.h"
#include "exporters/elasticsearch/es.h"

/* ---- a JSON skipper: finds where a value ends without building anything -------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    /* p at the opening quote */
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Returns the end of the JSON value at p (after leading white space), or NULL. */
static const char *skip_value(const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        const char *q = p;
        while (q < end && !strchr(",}] \t\r\n", *q))
            q++;
        return q > p ? q : NULL;
    }
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, end);
            if (!p)
                return NULL;
            continue;
        }
        if (c == '{' || c == '[') {
            if (++depth > 512)
                return NULL;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return NULL;
}

/* The top-level "errors" member: 1 true, 0 false, -1 absent or not a boolean. */
static int errors_flag(const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p++;
    while (p < end) {
        p = skip_ws(p, end);
        if (p < end && *p == '}')
            return -1;
        if (p >= end || *p != '"')
            return -1;
        const char *k = p + 1;
        p = skip_string(p, end);
        if (!p)
            return -1;
        size_t klen = (size_t)(p - 1 - k);
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return -1;
        p = skip_ws(p + 1, end);
        if (klen == 6 && memcmp(k, "errors", 6) == 0) {
            if (end - p >= 5 && memcmp(p, "false", 5) == 0)
                return 0;
            if (end - p >= 4 && memcmp(p, "true", 4) == 0)
                return 1;
            return -1;
        }
        p = skip_value(p, end);
        if (!p)
            return -1;
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p++;
    }
    return -1;
}

/* ---- bulk answers ---------------------------------------------------------------------------- */

void otus__es_results_free(struct otus__es_item_result *res, size_t n)
{
    for (size_t i = 0; res && i < n; i++) {
        free(res[i].error);
        res[i].error = NULL;
    }
}

static int classify(const char *op, json_t *item, struct otus__es_item_result *r)
{
    json_t *st = json_object_get(item, "status");
    if (!json_is_integer(st))
        return OTUS_ERR_PARSE;
    r->status = (int)json_integer_value(st);
    json_t *err = json_object_get(item, "error");
    json_t *fs = json_object_get(item, "failure_store");
    if (r->status >= 200 && r->status < 300) {
        if (json_is_string(fs) && strcmp(json_string_value(fs), "used") == 0)
            r->outcome = OTUS__ES_FAILURE_ST;
        else
            r->outcome = OTUS__ES_OK;
        return 0;
    }
    if (r->status == 409 && strcmp(op, "create") == 0) {
        /* The document with this _id exists: it is ours, sent before (IDs are derived
         * from the content). */
        r->outcome = OTUS__ES_OK;
        return 0;
    }
    r->outcome = (r->status == 429 || r->status >= 500) ? OTUS__ES_RETRY : OTUS__ES_REJECTED;
    if (err) {
        r->error = json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!r->error)
            return OTUS_ERR_NOMEM;
    }
    return 0;
}

int otus__es_bulk_parse(const char *body, size_t len, size_t n, struct otus__es_item_result *res)
{
    memset(res, 0, n * sizeof(*res));
    int errors = errors_flag(body, len);
    if (errors < 0)
        return OTUS_ERR_PARSE;
    if (errors == 0 && !memmem(body, len, "\"failure_store\"", 15))
        return 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return OTUS_ERR_PARSE;
    int rc = 0;
    json_t *items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) != n) {
        rc = OTUS_ERR_PARSE;
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *wrap = json_array_get(items, i);
        const char *op;
        json_t *item;
        if (!json_is_object(wrap) || json_object_size(wrap) != 1) {
            rc = OTUS_ERR_PARSE;
            break;
        }
        json_object_foreach(wrap, op, item)
        {
            rc = json_is_object(item) ? classify(op, item, &res[i]) : OTUS_ERR_PARSE;
        }
    }
out:
    if (rc)
        otus__es_results_free(res, n);
    json_decref(root);
    return rc;
}

int otus__es_action_parse(const char *line, size_t len, char *op, size_t oplen, char *index,
                          size_t indexlen, char *id, size_t idlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_DISABLE_EOF_CHECK, &jerr);
    int rc = OTUS_ERR_PARSE;
    const char *k;
    json_t *v;
    if (!json_is_object(root) || json_object_size(root) != 1)
        goto out;
    json_object_foreach(root, k, v)
    {
        if (!json_is_object(v) || strlen(k) >= oplen)
            goto out;
        snprintf(op, oplen, "%s", k);
        json_t *ix = json_object_get(v, "_index");
        json_t *di = json_object_get(v, "_id");
        snprintf(index, indexlen, "%s", json_is_string(ix) ? json_string_value(ix) : "");
        snprintf(id, idlen, "%s", json_is_string(di) ? json_string_value(di) : "");
        rc = 0;
    }
out:
    json_decref(root);
    return rc;
}

/* ---- dead letters ------------------------------------------------------------------------------
 */

int otus__es_dead_letter_line(struct otus_buf *out, const char *exporter, const char *default_index,
                              const char *item, size_t len, uint32_t src, int status,
                              const char *error, const char *type, const char *reason,
                              uint64_t now_ns)
{
    char op[16], index[256], id[512];
    if (otus__es_action_parse(item, src, op, sizeof(op), index, sizeof(index), id, sizeof(id)))
        return OTUS_ERR_PARSE;
    if (!*index)
        snprintf(index, sizeof(index), "%s", default_index);
    size_t start = out->len;
    struct otus_json j;
    otus_json_init(&j, out);
    otus_json_object_begin(&j);
    char ts[OTUS_RFC3339_BUF];
    otus_time_rfc3339_nano(now_ns, ts);
    otus_json_key_cstr(&j, "@timestamp");
    otus_json_cstr(&j, ts);
    otus_json_key_cstr(&j, "exporter");
    otus_json_cstr(&j, exporter);
    otus_json_key_cstr(&j, "index");
    otus_json_cstr(&j, index);
    otus_json_key_cstr(&j, "op_type");
    otus_json_cstr(&j, op);
    otus_json_key_cstr(&j, "_id");
    otus_json_cstr(&j, id);
    otus_json_key_cstr(&j, "status");
    otus_json_int(&j, status);
    /* The document goes first among what is not ours, so that a reader finds its raw
     * text at the first "document" key (nothing before it can contain that text). */
    size_t slen = len - src;
    if (slen > 0 && item[len - 1] == '\n')
        slen--;
    otus_json_key_cstr(&j, "document");
    otus_json_raw(&j, item + src, slen);
    otus_json_key_cstr(&j, "error");
    if (error && *error) {
        otus_json_raw(&j, error, strlen(error));
    } else {
        otus_json_object_begin(&j);
        otus_json_key_cstr(&j, "type");
        otus_json_cstr(&j, type ? type : "unknown");
        otus_json_key_cstr(&j, "reason");
        otus_json_cstr(&j, reason ? reason : "");
        otus_json_object_end(&j);
    }
    otus_json_object_end(&j);
    int rc = otus_json_error(&j);
    if (!rc)
        rc = otus_buf_append_byte(out, '\n');
    if (rc)
        out->len = start;
    return rc;
}

static void copy_str(json_t *root, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(root, key);
    snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int otus__es_dead_letter_parse(const char *line, size_t len, struct otus__es_dead_letter *dl)
{
    memset(dl, 0, sizeof(*dl));
    json_error_t jerr;
    json_t *root = json_loadb(line, len, 0, &jerr);
    int rc = OTUS_ERR_PARSE;
    if (!json_is_object(root) || !json_is_object(json_object_get(root, "document")))
        goto out;
    copy_str(root, "exporter", dl->exporter, sizeof(dl->exporter));
    copy_str(root, "index", dl->index, sizeof(dl->index));
    copy_str(root, "op_type", dl->op, sizeof(dl->op));
    copy_str(root, "_id", dl->id, sizeof(dl->id));
    if (strcmp(dl->op, "create") != 0 && strcmp(dl->op, "index") != 0)
        goto out;
    if (!*dl->index)
        goto out;
    const char *k = memmem(line, len, "\"document\":", 11);
    if (!k)
        goto out;
    const char *v = skip_ws(k + 11, line + len);
    const char *e = skip_value(v, line + len);
    if (!e || *v != '{')
        goto out;
    dl->doc = v;
    dl->doclen = (size_t)(e - v);
    rc = 0;
out:
    json_decref(root);
    return rc;
}
