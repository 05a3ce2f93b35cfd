/*
 * fuzz_json_escape.c: libFuzzer target. Arbitrary bytes written as JSON strings must
 * always give a document jansson accepts, and valid UTF-8 input must come back
 * unchanged. (Keys go through the same escaper; jansson refuses NUL in keys, so the
 * document is an array.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    struct otus_json j;
    otus_json_init(&j, &b);
    otus_json_array_begin(&j);
    otus_json_string(&j, (const char *)data, size);
    otus_json_string(&j, (const char *)data, size);
    otus_json_array_end(&j);
    if (otus_json_error(&j) != 0)
        abort();
    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &err);
    if (!doc)
        abort();
    /* If the input was valid UTF-8 (jansson agrees), the value is the input itself. */
    json_t *probe = json_stringn((const char *)data, size);
    if (probe) {
        size_t i;
        json_t *v;
        json_array_foreach(doc, i, v)
        {
            if (json_string_length(v) != size || memcmp(json_string_value(v), data, size) != 0)
                abort();
        }
        json_decref(probe);
    }
    json_decref(doc);
    otus_buf_free(&b);
    return 0;
}
