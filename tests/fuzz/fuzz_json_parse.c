/*
 * fuzz_json_parse.c: libFuzzer target for the JSON parser (common/json_parse.h) with
 * jansson as an independent oracle. On arbitrary bytes both must take the same
 * decision; a refusal must come with the same line, column, offset and message
 * (json_parse words \u0000 in a string its own way); an accepted text must give the
 * same tree: kinds, string bytes, number values, array elements in order and object
 * members found under the same keys. The tree must also stay within its memory bound.
 *
 * Two differences are by design and skipped: jansson refuses integers beyond a long
 * long ("too big integer"), which json_parse keeps as text; and jansson reads past a
 * NUL byte that follows a number or a literal, where json_parse refuses every NUL.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <otus.h>

#include "common/arena.h"
#include "common/json_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "json_parse and jansson differ: %s\ninput (%zu bytes): %.*s\n", what, size,
            (int)(size < 400 ? size : 400), (const char *)data);
    abort();
}

/* jansson's error code as json_parse's. */
static int expected_code(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_invalid_syntax:
        return OTUS_JSON_ERROR_SYNTAX;
    case json_error_premature_end_of_input:
        return OTUS_JSON_ERROR_END;
    case json_error_invalid_utf8:
        return OTUS_JSON_ERROR_UTF8;
    case json_error_end_of_input_expected:
        return OTUS_JSON_ERROR_TRAILING;
    case json_error_numeric_overflow:
        return OTUS_JSON_ERROR_RANGE;
    case json_error_duplicate_key:
        return OTUS_JSON_ERROR_DUPLICATE;
    case json_error_null_character:
        return OTUS_JSON_ERROR_NUL;
    case json_error_null_byte_in_key:
        return OTUS_JSON_ERROR_NUL_KEY;
    case json_error_stack_overflow:
        return OTUS_JSON_ERROR_DEPTH;
    default:
        return -1;
    }
}

static bool same_tree(const struct otus_json_node *v, json_t *j)
{
    switch (v->kind) {
    case OTUS_JSON_NULL:
        return json_is_null(j);
    case OTUS_JSON_TRUE:
        return json_is_true(j);
    case OTUS_JSON_FALSE:
        return json_is_false(j);
    case OTUS_JSON_STRING:
        return json_is_string(j) && json_string_length(j) == v->len &&
               memcmp(json_string_value(j), v->u.str, v->len) == 0 && !memchr(v->u.str, 0, v->len);
    case OTUS_JSON_NUMBER: {
        char text[512];
        if (v->len >= sizeof(text))
            return json_is_number(j); /* long reals: the kind is enough */
        memcpy(text, v->u.str, v->len);
        text[v->len] = '\0';
        if (v->flags & OTUS_JSON_INTEGER)
            return json_is_integer(j) && strtoll(text, NULL, 10) == json_integer_value(j);
        double d = strtod(text, NULL);
        return json_is_real(j) && memcmp(&d, &(double){json_real_value(j)}, sizeof(d)) == 0;
    }
    case OTUS_JSON_ARRAY:
        if (!json_is_array(j) || json_array_size(j) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++) {
            if (!same_tree(&v->u.items[i], json_array_get(j, i)))
                return false;
        }
        return true;
    case OTUS_JSON_OBJECT:
        if (!json_is_object(j) || json_object_size(j) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++) {
            const struct otus_json_member *m = &v->u.members[i];
            json_t *jv = json_object_getn(j, m->key.u.str, m->key.len);
            if (m->key.kind != OTUS_JSON_STRING || !jv || !same_tree(&m->value, jv))
                return false;
        }
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct otus_arena arena;
    /* 16 bytes per input byte at most, plus what chunks of 4 KiB can leave unused */
    otus_arena_init(&arena, 4096, (16 * size + 64) / 3 * 4 + 4096);
    const struct otus_json_node *root;
    struct otus_json_parse_error err;
    int rc = otus_json_parse(s, size, &arena, &root, &err);
    if (rc != 0 && rc != OTUS_ERR_PARSE)
        mismatch("json_parse failed for memory: its tree outgrew 16 bytes per input byte", data,
                 size);
    json_error_t je;
    json_t *j = json_loadb(s, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);

    if (memchr(data, '\0', size)) {
        if (rc == 0)
            mismatch("a NUL byte was accepted", data, size);
        goto out;
    }
    if (!j && json_error_code(&je) == json_error_numeric_overflow &&
        strncmp(je.text, "too big", 7) == 0)
        goto out; /* an integer beyond a long long, kept by json_parse */
    if (!j != (rc != 0))
        mismatch(rc ? "json_parse refused, jansson accepted"
                    : "json_parse accepted, jansson refused",
                 data, size);
    if (j) {
        if (!same_tree(root, j))
            mismatch("the trees differ", data, size);
        goto out;
    }
    char want[sizeof(je.text)];
    if (json_error_code(&je) == json_error_null_character)
        snprintf(want, sizeof(want), "strings may not contain \\u0000");
    else
        snprintf(want, sizeof(want), "%s", je.text);
    if (err.code != expected_code(&je) || err.line != je.line || err.column != je.column ||
        err.offset != (size_t)je.position || strcmp(err.text, want) != 0) {
        fprintf(stderr,
                "jansson:    code %d at %d:%d (%d) %s\njson_parse: code %d at %d:%d (%zu) %s\n",
                expected_code(&je), je.line, je.column, je.position, want, err.code, err.line,
                err.column, err.offset, err.text);
        mismatch("the errors differ", data, size);
    }
out:
    json_decref(j);
    otus_arena_destroy(&arena);
    return 0;
}
