/*
 * fuzz_otlp_json.c: libFuzzer target. Arbitrary bytes decoded as the OTLP/JSON request
 * of each signal into a bounded arena: a refusal is a parse error or the arena's limit,
 * always with a message; whatever decodes packs as protobuf, encodes as OTLP/JSON, and
 * that JSON decodes again to a request with the same protobuf bytes and the same JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "agent/otlp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len ? *len : 1);
    if (!p)
        abort();
    if (protobuf_c_message_pack(m, p) != *len)
        abort();
    return p;
}

static void check(enum otus_signal s, const char *json, size_t len)
{
    struct otus_arena a, b;
    struct otus_buf err, text, again;
    otus_arena_init(&a, 4096, 64u << 20);
    otus_arena_init(&b, 4096, 64u << 20);
    otus_buf_init(&err, 0);
    otus_buf_init(&text, 0);
    otus_buf_init(&again, 0);
    ProtobufCMessage *m;
    int rc = otus_otlp_json_decode(s, json, len, &a, &m, &err);
    if (rc) {
        if ((rc != OTUS_ERR_PARSE && rc != OTUS_ERR_TOO_BIG) || m || err.len == 0)
            abort();
        goto out;
    }
    if (!m || err.len != 0)
        abort();
    if (otus_otlp_json_encode(s, m, &text) != 0)
        abort();
    ProtobufCMessage *back;
    if (otus_otlp_json_decode(s, text.data, text.len, &b, &back, &err) != 0)
        abort();
    size_t l1, l2;
    uint8_t *p1 = pack(m, &l1), *p2 = pack(back, &l2);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0)
        abort();
    free(p1);
    free(p2);
    if (otus_otlp_json_encode(s, back, &again) != 0 || again.len != text.len ||
        memcmp(again.data, text.data, text.len) != 0)
        abort();
out:
    otus_arena_destroy(&a);
    otus_arena_destroy(&b);
    otus_buf_free(&err);
    otus_buf_free(&text);
    otus_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++)
        check((enum otus_signal)s, (const char *)data, size);
    return 0;
}
