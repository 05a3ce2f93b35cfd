/*
 * es_encode.c: everything the Elasticsearch exporter writes, without any I/O: bulk
 * bodies (an action line and a source line per record, NDJSON, every line ending in
 * a newline), the deterministic document IDs that make a retried request harmless,
 * index names from time-based patterns, and the index templates installed before the
 * first write. Tests compare its output with golden files in tests/data/es/.
 *
 * The documents themselves are the ones the file exporter writes
 * (exporters/documents.h). An action line is written first with room for the _id,
 * the document after it, and the _id, a hash of the document's bytes, is filled in
 * last: nothing is copied.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/clock.h"
#include "common/json.h"
#include "exporters/documents.h"
#include "exporters/elasticsearch/es.h"

/* ---- index names --------------------------------------------------------------------------- */

int otus__es_index_name_check(const char *name, size_t n, const char **why)
{
    if (n == 0) {
        *why = "an index name cannot be empty";
        return OTUS_ERR_INVALID;
    }
    if (n > 255) {
        *why = "an index name is at most 255 bytes";
        return OTUS_ERR_INVALID;
    }
    if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.')) {
        *why = "an index name cannot be . or ..";
        return OTUS_ERR_INVALID;
    }
    if (name[0] == '-' || name[0] == '_' || name[0] == '+') {
        *why = "an index name cannot start with -, _ or +";
        return OTUS_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z') {
            *why = "an index name is lowercase";
            return OTUS_ERR_INVALID;
        }
        if (c < 0x20 || strchr("\\/*?\"<>| ,#:", c)) {
            *why = "an index name cannot contain \\ / * ? \" < > | space , # :";
            return OTUS_ERR_INVALID;
        }
    }
    return 0;
}

/* Expands the pattern's fields for a civil time into out. Returns the length, or 0
 * when out is too small or a field is unknown. */
static size_t expand(const char *pat, int64_t unix_s, char *out, size_t cap)
{
    int Y, M, D, h, m, s;
    otus_time_civil(unix_s, &Y, &M, &D, &h, &m, &s);
    size_t n = 0;
    for (const char *p = pat; *p; p++) {
        char tmp[8];
        int k;
        if (*p != '%') {
            if (n + 1 >= cap)
                return 0;
            out[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'Y':
            k = snprintf(tmp, sizeof(tmp), "%04d", Y);
            break;
        case 'y':
            k = snprintf(tmp, sizeof(tmp), "%02d", Y % 100);
            break;
        case 'm':
            k = snprintf(tmp, sizeof(tmp), "%02d", M);
            break;
        case 'd':
            k = snprintf(tmp, sizeof(tmp), "%02d", D);
            break;
        case 'H':
            k = snprintf(tmp, sizeof(tmp), "%02d", h);
            break;
        case '%':
            k = snprintf(tmp, sizeof(tmp), "%%");
            break;
        default:
            return 0;
        }
        if (k <= 0 || n + (size_t)k >= cap)
            return 0;
        memcpy(out + n, tmp, (size_t)k);
        n += (size_t)k;
    }
    out[n] = '\0';
    return n;
}

int otus__es_target_init(struct otus__es_target *t, const char *index, const char **why)
{
    memset(t, 0, sizeof(*t));
    t->cache_period = -1;
    size_t n = strlen(index);
    if (n == 0 || n >= sizeof(t->pattern)) {
        *why = "an index name has 1 to 255 bytes";
        return OTUS_ERR_CONFIG;
    }
    memcpy(t->pattern, index, n + 1);
    int fields = 0, hourly = 0;
    for (const char *p = index; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (!*p || !strchr("Yymd%H", *p)) {
            *why = "a time-based index knows the fields %Y %y %m %d %H and %%";
            return OTUS_ERR_CONFIG;
        }
        if (*p != '%')
            fields++;
        if (*p == 'H')
            hourly = 1;
    }
    t->time_based = fields > 0;
    t->data_stream = !t->time_based;
    t->granularity_s = hourly ? 3600 : 86400;
    /* Check the name the pattern makes (for a data stream, the name itself). */
    char sample[256];
    size_t sn = expand(index, 1700000000, sample, sizeof(sample));
    if (sn == 0) {
        *why = "the index name made from the pattern is too long";
        return OTUS_ERR_CONFIG;
    }
    if (otus__es_index_name_check(sample, sn, why) != 0)
        return OTUS_ERR_CONFIG;
    if (t->data_stream && strncmp(index, ".ds-", 4) == 0) {
        *why = "a data stream name cannot start with .ds-";
        return OTUS_ERR_CONFIG;
    }
    /* The template's pattern: each field becomes '*'. */
    size_t k = 0;
    for (const char *p = index; *p && k + 2 < sizeof(t->tmpl_pattern); p++) {
        if (*p == '%') {
            p++;
            if (*p == '%') {
                t->tmpl_pattern[k++] = '%';
            } else if (k == 0 || t->tmpl_pattern[k - 1] != '*') {
                t->tmpl_pattern[k++] = '*';
            }
        } else {
            t->tmpl_pattern[k++] = *p;
        }
    }
    t->tmpl_pattern[k] = '\0';
    /* The template's name: "otus-" and the pattern's literal start. */
    size_t lit = strcspn(index, "%");
    while (lit > 0 && strchr("-._", index[lit - 1]))
        lit--;
    if (lit > sizeof(t->tmpl_name) - 6)
        lit = sizeof(t->tmpl_name) - 6;
    snprintf(t->tmpl_name, sizeof(t->tmpl_name), "otus-%.*s", (int)lit, index);
    if (lit == 0)
        snprintf(t->tmpl_name, sizeof(t->tmpl_name), "otus-index");
    return 0;
}

const char *otus__es_target_index(struct otus__es_target *t, uint64_t unix_ns, size_t *len)
{
    if (!t->time_based) {
        *len = strlen(t->pattern);
        return t->pattern;
    }
    int64_t s = (int64_t)(unix_ns / 1000000000u);
    int64_t period = s / (int64_t)t->granularity_s;
    if (period != t->cache_period) {
        t->cache_len = expand(t->pattern, s, t->cache_name, sizeof(t->cache_name));
        t->cache_period = period;
    }
    *len = t->cache_len;
    return t->cache_name;
}

/* ---- document IDs: MurmurHash3 x64 128 (public domain, Austin Appleby) --------------------- */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts: the reference algorithm's block order */
}

static void murmur3_128(const void *key, size_t len, uint64_t seed, uint64_t out[2])
{
    const unsigned char *data = key;
    size_t nblocks = len / 16;
    uint64_t h1 = seed, h2 = seed;
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t k1 = load64(data + i * 16), k2 = load64(data + i * 16 + 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    const unsigned char *tail = data + nblocks * 16;
    uint64_t k1 = 0, k2 = 0;
    switch (len & 15) {
    case 15:
        k2 ^= (uint64_t)tail[14] << 48; /* fall through */
    case 14:
        k2 ^= (uint64_t)tail[13] << 40; /* fall through */
    case 13:
        k2 ^= (uint64_t)tail[12] << 32; /* fall through */
    case 12:
        k2 ^= (uint64_t)tail[11] << 24; /* fall through */
    case 11:
        k2 ^= (uint64_t)tail[10] << 16; /* fall through */
    case 10:
        k2 ^= (uint64_t)tail[9] << 8; /* fall through */
    case 9:
        k2 ^= (uint64_t)tail[8];
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        /* fall through */
    case 8:
        k1 ^= (uint64_t)tail[7] << 56; /* fall through */
    case 7:
        k1 ^= (uint64_t)tail[6] << 48; /* fall through */
    case 6:
        k1 ^= (uint64_t)tail[5] << 40; /* fall through */
    case 5:
        k1 ^= (uint64_t)tail[4] << 32; /* fall through */
    case 4:
        k1 ^= (uint64_t)tail[3] << 24; /* fall through */
    case 3:
        k1 ^= (uint64_t)tail[2] << 16; /* fall through */
    case 2:
        k1 ^= (uint64_t)tail[1] << 8; /* fall through */
    case 1:
        k1 ^= (uint64_t)tail[0];
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        break;
    default:
        break;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

void otus__es_doc_id(const char *src, size_t n, char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t h[2];
    murmur3_128(src, n, 0x6f747573u /* "otus" */, h);
    unsigned char b[16];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(h[0] >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(h[1] >> (56 - 8 * i));
    }
    size_t k = 0;
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        out[k++] = b64[(v >> 18) & 63];
        out[k++] = b64[(v >> 12) & 63];
        out[k++] = b64[(v >> 6) & 63];
        out[k++] = b64[v & 63];
    }
    out[k++] = b64[b[15] >> 2];
    out[k++] = b64[(b[15] & 3) << 4];
}

/* ---- items ------------------------------------------------------------------------------- */

void otus__es_items_init(struct otus__es_items *it)
{
    memset(it, 0, sizeof(*it));
    otus_buf_init(&it->ndjson, OTUS__ES_MAX_ENCODED);
}

void otus__es_items_free(struct otus__es_items *it)
{
    otus_buf_free(&it->ndjson);
    free(it->v);
    it->v = NULL;
    it->n = it->cap = 0;
}

void otus__es_items_reset(struct otus__es_items *it)
{
    otus_buf_reset(&it->ndjson);
    it->n = 0;
}

static int items_push(struct otus__es_items *it, size_t off, size_t src)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 256;
        struct otus__es_item *v = realloc(it->v, cap * sizeof(*v));
        if (!v)
            return OTUS_ERR_NOMEM;
        it->v = v;
        it->cap = cap;
    }
    size_t len = it->ndjson.len - off;
    if (len > UINT32_MAX)
        return OTUS_ERR_TOO_BIG;
    it->v[it->n].off = off;
    it->v[it->n].len = (uint32_t)len;
    it->v[it->n].src = (uint32_t)(src - off);
    it->n++;
    return 0;
}

/* Writes the action line with a placeholder _id; *idpos gets where the _id goes. */
static int action_begin(struct otus_buf *b, const struct otus__es_target *t, const char *index,
                        size_t ilen, int omit_index, size_t *idpos)
{
    static const char create[] = "{\"create\":{", index_op[] = "{\"index\":{";
    const char *op = t->data_stream ? create : index_op;
    size_t oplen = t->data_stream ? sizeof(create) - 1 : sizeof(index_op) - 1;
    int rc = otus_buf_reserve(b, oplen + ilen + OTUS__ES_ID_LEN + 32);
    if (rc)
        return rc;
    char *p = b->data + b->len;
    memcpy(p, op, oplen);
    p += oplen;
    if (!omit_index) {
        memcpy(p, "\"_index\":\"", 10);
        p += 10;
        memcpy(p, index, ilen); /* checked: nothing to escape in an index name */
        p += ilen;
        memcpy(p, "\",", 2);
        p += 2;
    }
    memcpy(p, "\"_id\":\"", 7);
    p += 7;
    *idpos = (size_t)(p - b->data);
    memset(p, '?', OTUS__ES_ID_LEN);
    p += OTUS__ES_ID_LEN;
    memcpy(p, "\"}}\n", 4);
    p += 4;
    b->len = (size_t)(p - b->data);
    return 0;
}

/* Fills in the _id once the document after the action line is written. */
static void action_finish(struct otus_buf *b, size_t idpos, size_t src)
{
    size_t n = b->len - src;
    assert(n > 0 && b->data[b->len - 1] == '\n');
    otus__es_doc_id(b->data + src, n - 1, b->data + idpos);
}

int otus__es_item_raw(struct otus__es_items *it, const char *op, const char *index, const char *id,
                      const char *src, size_t srclen)
{
    struct otus_buf *b = &it->ndjson;
    size_t start = b->len;
    int rc = otus_buf_printf(b, "{\"%s\":{\"_index\":", op);
    if (!rc)
        rc = otus_json_escape(b, index, strlen(index));
    if (!rc)
        rc = otus_buf_append_str(b, ",\"_id\":");
    char fresh[OTUS__ES_ID_LEN];
    if (!rc && id && *id) {
        rc = otus_json_escape(b, id, strlen(id));
    } else if (!rc) {
        otus__es_doc_id(src, srclen, fresh);
        rc = otus_buf_append_byte(b, '"');
        if (!rc)
            rc = otus_buf_append(b, fresh, sizeof(fresh));
        if (!rc)
            rc = otus_buf_append_byte(b, '"');
    }
    if (!rc)
        rc = otus_buf_append_str(b, "}}\n");
    size_t srcpos = b->len;
    if (!rc)
        rc = otus_buf_append(b, src, srclen);
    if (!rc)
        rc = otus_buf_append_byte(b, '\n');
    if (!rc)
        rc = items_push(it, start, srcpos);
    if (rc)
        b->len = start;
    return rc;
}

/* One log record or span: action, document, _id. */
static int encode_log(struct otus__es_target *t, int omit_index, struct otus__es_items *it,
                      const Opentelemetry__Proto__Logs__V1__LogRecord *lr,
                      const struct otus_buf *origin, uint64_t received_ns)
{
    struct otus_buf *b = &it->ndjson;
    size_t start = b->len, idpos, ilen;
    uint64_t ts = lr->time_unix_nano            ? lr->time_unix_nano
                  : lr->observed_time_unix_nano ? lr->observed_time_unix_nano
                                                : received_ns;
    const char *index = otus__es_target_index(t, ts, &ilen);
    int rc = action_begin(b, t, index, ilen, omit_index, &idpos);
    size_t src = b->len;
    if (!rc)
        rc = otus_doc_log(b, lr, origin, received_ns);
    if (!rc) {
        action_finish(b, idpos, src);
        rc = items_push(it, start, src);
    }
    if (rc)
        b->len = start;
    return rc;
}

static int encode_span(struct otus__es_target *t, int omit_index, struct otus__es_items *it,
                       const Opentelemetry__Proto__Trace__V1__Span *sp,
                       const struct otus_buf *origin)
{
    struct otus_buf *b = &it->ndjson;
    size_t start = b->len, idpos, ilen;
    const char *index = otus__es_target_index(t, sp->start_time_unix_nano, &ilen);
    int rc = action_begin(b, t, index, ilen, omit_index, &idpos);
    size_t src = b->len;
    if (!rc)
        rc = otus_doc_span(b, sp, origin);
    if (!rc) {
        action_finish(b, idpos, src);
        rc = items_push(it, start, src);
    }
    if (rc)
        b->len = start;
    return rc;
}

struct encode_ctx {
    struct otus__es_target *t;
    int omit_index;
    struct otus__es_items *it;
};

static int encode_record(const struct otus_doc_record *r, void *ctx)
{
    struct encode_ctx *e = ctx;
    if (r->signal == OTUS_SIGNAL_LOGS)
        return encode_log(e->t, e->omit_index, e->it, r->u.log, r->origin, r->received_ns);
    if (r->signal == OTUS_SIGNAL_TRACES)
        return encode_span(e->t, e->omit_index, e->it, r->u.span, r->origin);
    return OTUS_ERR_UNSUPPORTED;
}

int otus__es_encode(struct otus__es_target *t, int omit_index, struct otus_batch *const *batches,
                    size_t n, struct otus__es_items *it)
{
    size_t len0 = it->ndjson.len, n0 = it->n;
    struct encode_ctx e = {t, omit_index, it};
    int rc = 0;
    for (size_t bi = 0; bi < n && !rc; bi++)
        rc = otus_doc_each(batches[bi], encode_record, &e);
    if (rc) {
        it->ndjson.len = len0;
        it->n = n0;
    }
    return rc;
}

/* ---- index templates ------------------------------------------------------------------------ */

/* Mappings of the fields every log document may carry. Attribute maps are written
 * flat with dotted keys ("user.id"), and mapped with subobjects: false, so a key that
 * is an object in one record and a scalar in another never conflicts; a structured
 * body is one flattened field for the same reason. */
static const char log_properties[] =
    "\"@timestamp\":{\"type\":\"date_nanos\"},"
    "\"message\":{\"type\":\"text\"},"
    "\"log\":{\"properties\":{\"level\":{\"type\":\"keyword\"}}},"
    "\"event\":{\"properties\":{\"severity\":{\"type\":\"long\"},\"name\":{\"type\":\"keyword\"}}},"
    "\"trace\":{\"properties\":{\"id\":{\"type\":\"keyword\"}}},"
    "\"span\":{\"properties\":{\"id\":{\"type\":\"keyword\"}}},"
    "\"body\":{\"properties\":{\"structured\":{\"type\":\"flattened\"}}},"
    "\"attributes\":{\"type\":\"object\",\"subobjects\":false},"
    "\"dropped_attributes_count\":{\"type\":\"long\"}";

static const char span_properties[] =
    "\"@timestamp\":{\"type\":\"date_nanos\"},"
    "\"trace_id\":{\"type\":\"keyword\"},"
    "\"span_id\":{\"type\":\"keyword\"},"
    "\"parent_span_id\":{\"type\":\"keyword\"},"
    "\"trace_state\":{\"type\":\"keyword\"},"
    "\"flags\":{\"type\":\"long\"},"
    "\"name\":{\"type\":\"keyword\"},"
    "\"kind\":{\"type\":\"keyword\"},"
    "\"start_time\":{\"type\":\"date_nanos\"},"
    "\"end_time\":{\"type\":\"date_nanos\"},"
    "\"start_time_unix_nano\":{\"type\":\"long\"},"
    "\"end_time_unix_nano\":{\"type\":\"long\"},"
    "\"duration_ns\":{\"type\":\"long\"},"
    "\"status\":{\"properties\":{\"code\":{\"type\":\"keyword\"},\"message\":{\"type\":\"text\"}}},"
    "\"attributes\":{\"type\":\"object\",\"subobjects\":false},"
    "\"events\":{\"properties\":{\"time\":{\"type\":\"date_nanos\"},"
    "\"time_unix_nano\":{\"type\":\"long\"},\"name\":{\"type\":\"keyword\"},"
    "\"attributes\":{\"type\":\"object\",\"subobjects\":false},"
    "\"dropped_attributes_count\":{\"type\":\"long\"}}},"
    "\"links\":{\"properties\":{\"trace_id\":{\"type\":\"keyword\"},"
    "\"span_id\":{\"type\":\"keyword\"},\"trace_state\":{\"type\":\"keyword\"},"
    "\"flags\":{\"type\":\"long\"},"
    "\"attributes\":{\"type\":\"object\",\"subobjects\":false},"
    "\"dropped_attributes_count\":{\"type\":\"long\"}}},"
    "\"dropped_attributes_count\":{\"type\":\"long\"},"
    "\"dropped_events_count\":{\"type\":\"long\"},"
    "\"dropped_links_count\":{\"type\":\"long\"}";

/* The members both kinds share: the origin (resource and scope). */
static const char origin_properties[] =
    "\"service\":{\"properties\":{\"name\":{\"type\":\"keyword\"},"
    "\"version\":{\"type\":\"keyword\"}}},"
    "\"host\":{\"properties\":{\"name\":{\"type\":\"keyword\"}}},"
    "\"resource\":{\"properties\":{\"attributes\":{\"type\":\"object\",\"subobjects\":false}}},"
    "\"scope\":{\"properties\":{\"name\":{\"type\":\"keyword\"},\"version\":{\"type\":\"keyword\"},"
    "\"attributes\":{\"type\":\"object\",\"subobjects\":false}}}";

int otus__es_template_body(const struct otus__es_target *t, enum otus_signal signal,
                           const struct otus__es_cfg *cfg, struct otus_buf *out)
{
    int rc = otus_buf_append_str(out, "{\"index_patterns\":[");
    if (!rc)
        rc = otus_json_escape(out, t->tmpl_pattern, strlen(t->tmpl_pattern));
    if (!rc)
        rc = otus_buf_printf(out, "],%s\"priority\":%lld,\"template\":{",
                             t->data_stream ? "\"data_stream\":{}," : "",
                             (long long)cfg->template_priority);
    if (!rc && cfg->ignore_malformed)
        rc = otus_buf_append_str(out, "\"settings\":{\"index.mapping.ignore_malformed\":true},");
    /* Strings the template does not name are keywords (exact values, aggregatable), and
     * no string is ever guessed to be a date: one record's "2024-01-01" would make the
     * field a date and refuse every later record with text in it. */
    if (!rc)
        rc = otus_buf_append_str(
            out, "\"mappings\":{\"date_detection\":false,\"dynamic_templates\":[{"
                 "\"strings_as_keyword\":{\"match_mapping_type\":\"string\",\"mapping\":{"
                 "\"type\":\"keyword\",\"ignore_above\":1024}}}],\"properties\":{");
    if (!rc)
        rc = otus_buf_append_str(out,
                                 signal == OTUS_SIGNAL_TRACES ? span_properties : log_properties);
    if (!rc)
        rc = otus_buf_append_byte(out, ',');
    if (!rc)
        rc = otus_buf_append_str(out, origin_properties);
    if (!rc)
        rc = otus_buf_append_str(out, "}}},\"_meta\":{\"managed_by\":\"otus\"}}");
    return rc;
}
