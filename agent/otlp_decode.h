/*
 * otlp_decode.h: the receiver's protobuf decoder for OTLP export requests. It fills
 * the same protobuf-c structs that protobuf_c_message_unpack() would (the agent's
 * internal representation, see batch.h), but it knows the OTLP messages at compile
 * time: one pass over the bytes, no descriptor lookups, every object taken from the
 * request's arena.
 *
 * What it produces is what protobuf-c 1.4.1 produces for the same bytes, field for
 * field, including protobuf-c's handling of the unusual cases: a repeated scalar may
 * come packed or unpacked (both are accepted, mixed, in order); a singular scalar or
 * string that occurs twice keeps the last value; a oneof member replaces any earlier
 * member of its oneof; a singular message field that occurs twice is merged the way
 * protobuf-c's merge_messages() does it (repeated fields concatenated, a string or a
 * message kept from the earlier copy when the later one lacks it, other scalars taken
 * from the later copy; two AnyValues that both carry no value cannot be merged and
 * the input is refused). The input is refused wherever protobuf-c refuses it: a
 * truncated key, varint, fixed-size value or length; a length past the end of its
 * message or above INT_MAX; a key longer than 5 bytes or whose first byte has field
 * number bits of 0; groups and wire types 6 and 7, known field or not; a known field
 * with a wire type protobuf-c rejects for it (a bool field takes any wire type, as in
 * protobuf-c, and is true when any of the field's value bytes has a non-zero low 7
 * bits); a packed fixed-size payload whose length is not a multiple of the element
 * size; an unterminated varint in a packed payload.
 *
 * Unknown fields (a newer OTLP version's) are kept as protobuf-c keeps them
 * (base.unknown_fields: number, wire type and the bytes after the key, in order), so
 * that the OTLP exporter writes them on: a request that holds any is decoded a second
 * time, by protobuf-c, into the same arena, and that tree is returned. Requests
 * without them, nearly all, pay nothing for it.
 *
 * Differences from protobuf-c, both deliberate:
 * - An unknown field numbered 0 (possible only with a non-minimal key) is dropped:
 *   written again, it would make a request every decoder refuses.
 * - Values nest: an AnyValue may hold an ArrayValue or KeyValueList holding AnyValues.
 *   protobuf-c recurses without limit and a hostile request can overflow its stack;
 *   this decoder refuses an AnyValue nested more than OTUS_OTLP_MAX_DEPTH deep (the
 *   attribute value or log body itself is depth 1). Every other message has a fixed
 *   depth in the schema.
 *
 * Threading: none of its own; one decode uses only its arguments.
 */
#ifndef OTUS_AGENT_OTLP_DECODE_H
#define OTUS_AGENT_OTLP_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "agent/batch.h"
#include "common/arena.h"

/* Deepest AnyValue nesting accepted (values inside arrays and key-value lists). */
#define OTUS_OTLP_MAX_DEPTH 64

/*
 * Decodes data[0..len) as the export request of signal (ExportTraceServiceRequest,
 * ExportMetricsServiceRequest or ExportLogsServiceRequest) into protobuf-c structs.
 *
 * data:  borrowed; not referenced after the call (strings and bytes are copied, strings
 *        NUL-terminated). MAY be NULL when len is 0.
 * arena: borrowed; every object of the result is allocated from it, so the result
 *        lives until the arena is reset or destroyed. Nothing else is allocated.
 * out:   set to the request (cast it to otus_traces_req, otus_metrics_req or
 *        otus_logs_req) on success; left untouched on failure.
 *
 * Returns 0; OTUS_ERR_PARSE when the bytes are not a request protobuf-c would accept
 * or when values nest deeper than OTUS_OTLP_MAX_DEPTH; OTUS_ERR_TOO_BIG when the
 * arena refuses memory (its maximum, then arena->exhausted is set, or the system's);
 * OTUS_ERR_INVALID for an unknown signal. On failure the arena keeps whatever was
 * allocated before the failure, to be released with it.
 */
int otus_otlp_decode(enum otus_signal signal, const uint8_t *data, size_t len,
                     struct otus_arena *arena, ProtobufCMessage **out);

/*
 * otus_otlp_decode() with another nesting limit instead of OTUS_OTLP_MAX_DEPTH. For
 * tests that compare with protobuf-c on inputs nested deeper than the agent accepts;
 * the stack grows by a few hundred bytes per level.
 */
int otus__otlp_decode_depth(enum otus_signal signal, const uint8_t *data, size_t len,
                            struct otus_arena *arena, unsigned max_depth, ProtobufCMessage **out);

/* Drops the unknown fields numbered 0 of m and of every message below it: only a
 * non-minimal key says 0, and written again it would make a request every decoder
 * refuses. The decoder does it to what protobuf-c decodes for it; the differential
 * tests do it to protobuf-c's own tree. */
void otus__otlp_drop_field0(ProtobufCMessage *m);

#endif
