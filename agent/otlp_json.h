/*
 * otlp_json.h: the OTLP/JSON codec behind the OTLP/HTTP receiver's
 * "Content-Type: application/json". Decoding turns an Export{Trace,Metrics,Logs}
 * ServiceRequest body into exactly the protobuf-c structs that protobuf-c's own unpack
 * builds from the equivalent binary request, allocated from the request's arena, so
 * everything downstream of the receiver sees one representation whatever the
 * encoding. Encoding writes the OTLP/JSON form of a request or of a response.
 *
 * The mapping is proto3's JSON mapping with the deviations the OTLP specification
 * makes ("JSON Protobuf Encoding"), driven by the protobuf-c descriptors generated
 * from proto/, so every field of every message is covered:
 *   - keys are lowerCamelCase; the decoder also accepts the original snake_case name
 *     (a field given under both names is an error) and ignores unknown keys;
 *   - traceId, spanId and parentSpanId (in Span, Link, LogRecord and Exemplar) are
 *     case-insensitive hex, 32 or 16 digits, or "" for none; other bytes are base64
 *     (decoder: standard or URL-safe alphabet, with or without padding);
 *   - enums are integers (the decoder also accepts the value names, e.g.
 *     "SPAN_KIND_SERVER"); 64-bit integers are decimal strings (the decoder accepts
 *     numbers and numeric strings for every integer type, exponent forms included when
 *     they denote an integer);
 *   - doubles are numbers or the strings "NaN", "Infinity", "-Infinity" (the decoder
 *     accepts numeric strings as well);
 *   - null stands for the field's default; fields holding their default are not
 *     written; a oneof member (AnyValue's value, a data point's asDouble/asInt, and the
 *     proto3 optional fields sum/min/max, see DESIGN) is written when it is set, even
 *     with a zero value, and giving two members of one oneof is an error.
 *
 * Nesting is limited to OTUS_OTLP_JSON_MAX_DEPTH JSON objects and arrays along any
 * path through the known fields, the same limit the JSON writer has, so whatever
 * decodes can be encoded again. Integer literals of any length (uint64 values above
 * 2^63-1, or doubles written as long integers) are read exactly.
 *
 * Threading: the functions keep no state; calls on different arenas and buffers may
 * run concurrently.
 */
#ifndef OTUS_AGENT_OTLP_JSON_H
#define OTUS_AGENT_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "agent/batch.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"

/* Deepest nesting of JSON objects and arrays, the top-level object counting as 1. */
#define OTUS_OTLP_JSON_MAX_DEPTH (OTUS_JSON_MAX_DEPTH - 1)

/*
 * Decodes the OTLP/JSON Export*ServiceRequest of the signal held in json[0..len) (not
 * NUL-terminated; need not be) into protobuf-c structs.
 *
 * arena (borrowed) receives every object of the result: the messages (each set up by
 * its generated __init, so base.descriptor is right), their arrays, strings and bytes.
 * On success *out points at the request (an otus_traces_req, otus_metrics_req or
 * otus_logs_req, see batch.h), valid until the arena is reset or destroyed. Fields not
 * in the input hold what protobuf-c's unpack gives them: 0, NULL, n_* = 0 and
 * protobuf_c_empty_string for strings. Nothing else is allocated but the parse tree
 * (common/json_parse.h) in an arena of its own, freed before returning.
 *
 * err (borrowed, MAY be NULL) is emptied and, on failure, receives a short English
 * message that names the place of the fault as a path of the keys as written, e.g.
 * "resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits".
 *
 * Returns 0, or:
 *   OTUS_ERR_PARSE    not JSON, not an object at the top level, a known field of the
 *                     wrong JSON type, a bad hex ID or base64 string, an integer out of
 *                     its field's range, an unknown enum value name, a field given
 *                     twice, two members of one oneof, or nesting deeper than
 *                     OTUS_OTLP_JSON_MAX_DEPTH;
 *   OTUS_ERR_TOO_BIG  the arena reached its maximum (or the system's memory ran out);
 *   OTUS_ERR_NOMEM    the parse tree could not be allocated;
 *   OTUS_ERR_INVALID  signal is not one of enum otus_signal.
 * On failure *out is NULL; what was allocated stays in the arena until its reset.
 */
int otus_otlp_json_decode(enum otus_signal signal, const char *json, size_t len,
                          struct otus_arena *arena, ProtobufCMessage **out, struct otus_buf *err);

/*
 * Appends the OTLP/JSON form of req (borrowed; an Export*ServiceRequest of the signal)
 * to out (borrowed): lowerCamelCase keys in field-number order, hex IDs, 64-bit
 * integers as decimal strings, enums as integers, default-valued fields left out.
 * Strings that are not valid UTF-8 are written with U+FFFD for each bad sequence.
 *
 * Returns 0, or OTUS_ERR_INVALID (req is not the signal's request, or it nests deeper
 * than the JSON writer allows), OTUS_ERR_TOO_BIG (out's maximum), OTUS_ERR_NOMEM. On
 * failure out is left as it was.
 */
int otus_otlp_json_encode(enum otus_signal signal, const ProtobufCMessage *req,
                          struct otus_buf *out);

/*
 * Appends the OTLP/JSON Export*ServiceResponse of the signal to out (borrowed): "{}"
 * when rejected is 0 and error_message (borrowed, MAY be NULL) is empty, otherwise
 * {"partialSuccess":{...}} with rejectedSpans, rejectedDataPoints or
 * rejectedLogRecords as a decimal string (left out when 0) and errorMessage (left out
 * when empty).
 *
 * Returns 0, or OTUS_ERR_INVALID (unknown signal, negative rejected),
 * OTUS_ERR_TOO_BIG, OTUS_ERR_NOMEM. On failure out is left as it was.
 */
int otus_otlp_json_encode_response(enum otus_signal signal, int64_t rejected,
                                   const char *error_message, struct otus_buf *out);

#endif
