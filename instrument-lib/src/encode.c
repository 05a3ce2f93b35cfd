/*
 * encode.c: OTLP protobuf for span and log records, written by the background thread
 * directly from the records' own memory (span blocks, log ring) with the writer of
 * pb.c. A span is read in two passes over its entry stream: the first finds the last
 * name and status message and where each attribute, event and link starts; the
 * second writes the Span message, with duplicate attribute keys resolved to the value
 * set last.
 */
#include "internal.h"

#include <stdlib.h>

/* Growable arrays of stream positions (background thread only). */
struct cursors {
    struct otus__rd *at;
    uint32_t n, cap;
};

static int cursors_push(struct cursors *c, const struct otus__rd *r)
{
    if (c->n == c->cap) {
        uint32_t nc = c->cap ? c->cap * 2 : 64;
        struct otus__rd *g = realloc(c->at, nc * sizeof(*g));
        if (!g)
            return OTUS_ERR_NOMEM;
        c->at = g;
        c->cap = nc;
    }
    c->at[c->n++] = *r;
    return 0;
}

static struct cursors events_c, links_c;

/* The span's attributes, with their key hashes. */
static struct otus__acur *attrs_c;
static uint32_t attrs_n, attrs_cap;

static int attrs_push(struct otus__rd *r)
{
    if (attrs_n == attrs_cap) {
        uint32_t nc = attrs_cap ? attrs_cap * 2 : 64;
        struct otus__acur *g = realloc(attrs_c, nc * sizeof(*g));
        if (!g)
            return OTUS_ERR_NOMEM;
        attrs_c = g;
        attrs_cap = nc;
    }
    otus__acur_take(&attrs_c[attrs_n++], r);
    return 0;
}

void otus__encode_scratch_free(void)
{
    free(attrs_c);
    attrs_c = NULL;
    attrs_n = attrs_cap = 0;
    free(events_c.at);
    free(links_c.at);
    memset(&events_c, 0, sizeof(events_c));
    memset(&links_c, 0, sizeof(links_c));
}

static void skip_attr(struct otus__rd *r)
{
    char key[1];
    size_t kl;
    otus__attr_skip_key(r, key, 0, &kl);
}

/* An attribute list inside an event or link: count, dropped, then entries. Writes them
 * as KeyValues in field and returns the dropped count. */
static uint32_t write_attr_list(struct otus__pb *w, uint32_t field, struct otus__rd *r)
{
    uint32_t n = otus__rd_u32(r);
    uint32_t dropped = otus__rd_u32(r);
    otus__pb_stream_attrs(w, field, r, n);
    return dropped;
}

static void skip_attr_list(struct otus__rd *r)
{
    uint32_t n = otus__rd_u32(r);
    otus__rd_skip(r, 4);
    for (uint32_t i = 0; i < n; i++)
        skip_attr(r);
}

void otus__encode_span(struct otus__pb *w, struct otus__span_rec *rec)
{
    struct otus__blk *first =
        (struct otus__blk *)((unsigned char *)rec - offsetof(struct otus__blk, data));
    struct otus__rd r = {first->data + sizeof(*rec), first->data + first->len, first};
    struct otus__rd name = {0}, status = {0}, ts = {0};
    uint32_t name_len = 0, status_len = 0;
    uint16_t ts_len = 0;
    attrs_n = events_c.n = links_c.n = 0;
    for (uint32_t e = 0; e < rec->n_entries; e++) {
        uint8_t kind = otus__rd_u8(&r);
        switch (kind) {
        case OTUS__E_NAME:
            name_len = otus__rd_u32(&r);
            name = r;
            otus__rd_skip(&r, name_len);
            break;
        case OTUS__E_STATUS_MSG:
            status_len = otus__rd_u32(&r);
            status = r;
            otus__rd_skip(&r, status_len);
            break;
        case OTUS__E_TRACESTATE:
            ts_len = otus__rd_u16(&r);
            ts = r;
            otus__rd_skip(&r, ts_len);
            break;
        case OTUS__E_ATTR:
            if (attrs_push(&r)) {
                w->err = OTUS_ERR_NOMEM;
                return;
            }
            break;
        case OTUS__E_EVENT:
            if (cursors_push(&events_c, &r))
                w->err = OTUS_ERR_NOMEM;
            otus__rd_skip(&r, 8);
            otus__rd_skip(&r, otus__rd_u32(&r));
            skip_attr_list(&r);
            break;
        case OTUS__E_LINK:
            if (cursors_push(&links_c, &r))
                w->err = OTUS_ERR_NOMEM;
            otus__rd_skip(&r, 26);
            otus__rd_skip(&r, otus__rd_u16(&r));
            skip_attr_list(&r);
            break;
        default:
            w->err = OTUS_ERR_STATE; /* cannot happen: the writer only writes these kinds */
            return;
        }
    }

    size_t sp = otus__pb_open(w, 2);
    otus__pb_bytes(w, 1, rec->trace_id, 16);
    otus__pb_bytes(w, 2, rec->span_id, 8);
    if (ts_len)
        otus__pb_stream_string(w, 3, &ts, ts_len);
    if (rec->has_parent)
        otus__pb_bytes(w, 4, rec->parent_id, 8);
    /* flags: W3C trace flags, and whether the parent is remote. */
    uint32_t flags = rec->flags | 0x100u | (rec->has_parent && rec->parent_remote ? 0x200u : 0);
    otus__pb_fixed32(w, 16, flags);
    otus__pb_stream_string(w, 5, &name, name_len);
    otus__pb_uint(w, 6, rec->kind);
    otus__pb_fixed64(w, 7, otus__time_to_unix_ns(rec->start));
    otus__pb_fixed64(w, 8, otus__time_to_unix_ns(rec->end));

    otus__pb_attr_cursors(w, 9, attrs_c, attrs_n); /* the last value of a key wins */
    otus__pb_uint(w, 10, rec->dropped_attrs);

    for (uint32_t i = 0; i < events_c.n; i++) {
        struct otus__rd er = events_c.at[i];
        size_t ev = otus__pb_open(w, 11);
        otus__pb_fixed64(w, 1, otus__ticks_to_unix_ns(otus__rd_u64(&er)));
        uint32_t nl = otus__rd_u32(&er);
        otus__pb_stream_string(w, 2, &er, nl);
        uint32_t dropped = write_attr_list(w, 3, &er);
        otus__pb_uint(w, 4, dropped);
        otus__pb_close(w, ev);
    }
    otus__pb_uint(w, 12, rec->dropped_events);

    for (uint32_t i = 0; i < links_c.n; i++) {
        struct otus__rd lr = links_c.at[i];
        uint8_t tid[16], sid[8];
        otus__rd_bytes(&lr, tid, 16);
        otus__rd_bytes(&lr, sid, 8);
        uint8_t lflags = otus__rd_u8(&lr);
        uint8_t lremote = otus__rd_u8(&lr);
        uint16_t lts = otus__rd_u16(&lr);
        size_t lk = otus__pb_open(w, 13);
        otus__pb_bytes(w, 1, tid, 16);
        otus__pb_bytes(w, 2, sid, 8);
        otus__pb_stream_string(w, 3, &lr, lts);
        uint32_t dropped = write_attr_list(w, 4, &lr);
        otus__pb_uint(w, 5, dropped);
        otus__pb_fixed32(w, 6, lflags | 0x100u | (lremote ? 0x200u : 0));
        otus__pb_close(w, lk);
    }
    otus__pb_uint(w, 14, rec->dropped_links);

    if (rec->status != OTUS_STATUS_UNSET) {
        size_t st = otus__pb_open(w, 15);
        if (rec->status == OTUS_STATUS_ERROR && status_len)
            otus__pb_stream_string(w, 2, &status, status_len);
        otus__pb_uint(w, 3, rec->status);
        otus__pb_close(w, st);
    }
    otus__pb_close(w, sp);
}

int otus__encode_spans(struct otus_buf *out, struct otus__span_rec *const *recs, size_t n)
{
    struct otus__pb w = {out, 0};
    size_t rs = otus__pb_open(&w, 1); /* ExportTraceServiceRequest.resource_spans */
    otus__pb_resource(&w, 1);
    size_t ss = otus__pb_open(&w, 2); /* ResourceSpans.scope_spans */
    otus__pb_scope(&w, 1);
    for (size_t i = 0; i < n; i++)
        otus__encode_span(&w, recs[i]);
    otus__pb_close(&w, ss);
    otus__pb_close(&w, rs);
    return w.err;
}

/* ---- logs ------------------------------------------------------------------------- */

void otus__encode_log_record(struct otus__pb *w, const struct otus__log_rec *rec, uint64_t unix_ns)
{
    size_t lr = otus__pb_open(w, 2); /* ScopeLogs.log_records */
    otus__pb_fixed64(w, 1, unix_ns);
    otus__pb_fixed64(w, 11, unix_ns); /* observed: recorded on the spot */
    otus__pb_uint(w, 2, rec->level);
    const char *st = otus__level_name(rec->level);
    otus__pb_string(w, 3, st, strlen(st));
    const unsigned char *p = (const unsigned char *)(rec + 1);
    size_t body = otus__pb_open(w, 5);
    otus__pb_string(w, 1, (const char *)p, rec->msg_len);
    if (!rec->msg_len) {
        otus__pb_tag(w, 1, 2); /* an empty string body is still a string */
        otus__pb_varint(w, 0);
    }
    otus__pb_close(w, body);
    struct otus__rd r = {p + rec->msg_len, (const unsigned char *)rec + rec->h.len, NULL};
    otus__pb_stream_attrs(w, 6, &r, rec->n_fields);
    otus__pb_uint(w, 7, rec->dropped_fields);
    otus__pb_fixed32(w, 8, rec->has_ctx ? rec->trace_flags : 0);
    if (rec->has_ctx) {
        otus__pb_bytes(w, 9, rec->trace_id, 16);
        otus__pb_bytes(w, 10, rec->span_id, 8);
    }
    otus__pb_close(w, lr);
}
