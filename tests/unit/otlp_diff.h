/*
 * otlp_diff.h: differential checking of the agent's OTLP decoder (agent/otlp_decode.h)
 * against protobuf-c, shared by the unit test test_otlp_decode.c and the fuzz target
 * fuzz_otlp_decode_diff.c. It has no cmocka dependency: otlp_diff() decodes the same
 * bytes both ways and says whether they agree, and why not.
 *
 * Agreement means: both refuse; or both accept and the trees are equal field for field
 * (walking protobuf-c's descriptors: counts, oneof cases, scalars bit for bit, string
 * contents and whether a string is protobuf_c_empty_string, bytes and whether their
 * data is NULL, sub-messages and whether they are NULL, unknown fields: number, wire
 * type and bytes, in order, but for protobuf-c's field-0 ones), and
 * protobuf_c_message_pack() writes identical bytes for both;
 * or protobuf-c accepts, the agent's decoder refuses with OTUS_ERR_PARSE, and with the
 * nesting limit lifted it accepts the same tree: the input nests deeper than
 * OTUS_OTLP_MAX_DEPTH.
 */
#ifndef OTUS_TESTS_OTLP_DIFF_H
#define OTUS_TESTS_OTLP_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "agent/otlp_decode.h"
#include "common/arena.h"

enum otlp_diff_result {
    OTLP_DIFF_ACCEPTED = 0, /* both accept, same tree, same bytes */
    OTLP_DIFF_REFUSED = 1,  /* both refuse */
    OTLP_DIFF_TOO_DEEP = 2, /* protobuf-c accepts; we refuse for the nesting limit only */
    OTLP_DIFF_MISMATCH = 3, /* a disagreement: the decoder has a bug */
};

/* Size of one element of a repeated field of type t, as protobuf-c lays it out. */
static size_t otlp_diff_elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static int otlp_diff_value_equal(const ProtobufCFieldDescriptor *fd, const char *a, const char *b,
                                 char *why, size_t whylen);

/* Deep equality of two messages of the same type; on a difference, why names it. */
static int otlp_diff_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why,
                           size_t whylen)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d) {
        snprintf(why, whylen, "descriptor differs");
        return 0;
    }
    if (a->n_unknown_fields != b->n_unknown_fields) {
        snprintf(why, whylen, "%s: unknown fields %zu vs %zu", d->name, (size_t)a->n_unknown_fields,
                 (size_t)b->n_unknown_fields);
        return 0;
    }
    for (unsigned k = 0; k < a->n_unknown_fields; k++) {
        const ProtobufCMessageUnknownField *ua = &a->unknown_fields[k], *ub = &b->unknown_fields[k];
        if (ua->tag != ub->tag || ua->wire_type != ub->wire_type || ua->len != ub->len ||
            (ua->len && memcmp(ua->data, ub->data, ua->len) != 0)) {
            snprintf(why, whylen, "%s: unknown field %u: tag %u/%u, wire type %d/%d, %zu/%zu bytes",
                     d->name, k, ua->tag, ub->tag, (int)ua->wire_type, (int)ub->wire_type, ua->len,
                     ub->len);
            return 0;
        }
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const char *ma = (const char *)a + fd->offset, *mb = (const char *)b + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)((const char *)a + fd->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + fd->quantifier_offset);
            const char *arr_a = *(char *const *)ma, *arr_b = *(char *const *)mb;
            if (na != nb || (arr_a == NULL) != (arr_b == NULL)) {
                snprintf(why, whylen, "%s.%s: %zu elements (%s) vs %zu (%s)", d->name, fd->name, na,
                         arr_a ? "array" : "NULL", nb, arr_b ? "array" : "NULL");
                return 0;
            }
            size_t sz = otlp_diff_elt_size(fd->type);
            for (size_t k = 0; k < na; k++)
                if (!otlp_diff_value_equal(fd, arr_a + k * sz, arr_b + k * sz, why, whylen))
                    return 0;
            continue;
        }
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)((const char *)a + fd->quantifier_offset);
            uint32_t cb = *(const uint32_t *)((const char *)b + fd->quantifier_offset);
            if (ca != cb) {
                snprintf(why, whylen, "%s.%s: oneof case %u vs %u", d->name, fd->name, ca, cb);
                return 0;
            }
            if (ca != fd->id)
                continue;
        }
        if (!otlp_diff_value_equal(fd, ma, mb, why, whylen))
            return 0;
    }
    return 1;
}

static int otlp_diff_value_equal(const ProtobufCFieldDescriptor *fd, const char *a, const char *b,
                                 char *why, size_t whylen)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *sa = *(char *const *)a, *sb = *(char *const *)b;
        if ((sa == protobuf_c_empty_string) != (sb == protobuf_c_empty_string) || !sa || !sb ||
            strcmp(sa, sb) != 0) {
            snprintf(why, whylen, "%s: string \"%s\" vs \"%s\"", fd->name, sa ? sa : "(null)",
                     sb ? sb : "(null)");
            return 0;
        }
        return 1;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *ba = (const void *)a, *bb = (const void *)b;
        if (ba->len != bb->len || (ba->data == NULL) != (bb->data == NULL) ||
            (ba->len && memcmp(ba->data, bb->data, ba->len) != 0)) {
            snprintf(why, whylen, "%s: bytes differ (%zu vs %zu)", fd->name, ba->len, bb->len);
            return 0;
        }
        return 1;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *pa = *(ProtobufCMessage *const *)a;
        const ProtobufCMessage *pb = *(ProtobufCMessage *const *)b;
        if ((pa == NULL) != (pb == NULL)) {
            snprintf(why, whylen, "%s: message %s vs %s", fd->name, pa ? "set" : "NULL",
                     pb ? "set" : "NULL");
            return 0;
        }
        return !pa || otlp_diff_equal(pa, pb, why, whylen);
    }
    default:
        if (memcmp(a, b, otlp_diff_elt_size(fd->type)) != 0) {
            snprintf(why, whylen, "%s: scalar differs", fd->name);
            return 0;
        }
        return 1;
    }
}

/* protobuf_c_message_pack() of both trees gives the same bytes. */
static int otlp_diff_same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a);
    size_t nb = protobuf_c_message_get_packed_size(b);
    if (na != nb)
        return 0;
    uint8_t *wa = malloc(na ? na : 1), *wb = malloc(nb ? nb : 1);
    int same = wa && wb && protobuf_c_message_pack(a, wa) == na &&
               protobuf_c_message_pack(b, wb) == nb && memcmp(wa, wb, na) == 0;
    free(wa);
    free(wb);
    return same;
}

/*
 * Decodes data both ways as the request of signal sig and compares. why (MAY be NULL)
 * receives a description of a mismatch.
 */
static enum otlp_diff_result otlp_diff(enum otus_signal sig, const uint8_t *data, size_t len,
                                       char *why, size_t whylen)
{
    char scratch[256];
    struct otus_arena pa, oa, da;
    enum otlp_diff_result res = OTLP_DIFF_MISMATCH;
    ProtobufCMessage *ours = NULL, *deep = NULL;
    if (!why) {
        why = scratch;
        whylen = sizeof(scratch);
    }
    why[0] = '\0';
    otus_arena_init(&pa, 4096, 256u << 20);
    otus_arena_init(&oa, 4096, 256u << 20);
    otus_arena_init(&da, 4096, 256u << 20);
    ProtobufCMessage *ref = protobuf_c_message_unpack(otus_request_descriptor(sig),
                                                      otus_arena_protobuf(&pa), len, data);
    int rc = otus_otlp_decode(sig, data, len, &oa, &ours);
    if (!ref && rc != 0) {
        if (rc == OTUS_ERR_PARSE)
            res = OTLP_DIFF_REFUSED;
        else
            snprintf(why, whylen, "both refuse, ours with %d", rc);
        goto out;
    }
    if (!ref) {
        snprintf(why, whylen, "protobuf-c refuses, ours accepts");
        goto out;
    }
    otus__otlp_drop_field0(ref); /* as the decoder does */
    if (rc != 0) {
        /* Beyond the nesting limit only: each AnyValue level takes at least 2 bytes. */
        int drc = rc == OTUS_ERR_PARSE
                      ? otus__otlp_decode_depth(sig, data, len, &da, (unsigned)(len / 2 + 2), &deep)
                      : rc;
        if (drc != 0) {
            snprintf(why, whylen, "protobuf-c accepts, ours refuses with %d (unlimited: %d)", rc,
                     drc);
            goto out;
        }
        ours = deep;
        res = OTLP_DIFF_TOO_DEEP;
    } else {
        res = OTLP_DIFF_ACCEPTED;
    }
    if (!otlp_diff_equal(ref, ours, why, whylen)) {
        res = OTLP_DIFF_MISMATCH;
        goto out;
    }
    if (!otlp_diff_same_bytes(ref, ours)) {
        snprintf(why, whylen, "re-packed bytes differ");
        res = OTLP_DIFF_MISMATCH;
    }
out:
    otus_arena_destroy(&pa);
    otus_arena_destroy(&oa);
    otus_arena_destroy(&da);
    return res;
}

#endif
