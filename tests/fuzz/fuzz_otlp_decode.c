/*
 * fuzz_otlp_decode.c: libFuzzer target. Arbitrary bytes decoded as each OTLP export
 * request into a bounded arena, then re-encoded: no crash, no overread, no unbounded
 * allocation, and whatever decodes re-encodes to a size protobuf-c agrees with.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/arena.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const descs[] = {
        &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
        &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
        &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
    };
    for (size_t i = 0; i < 3; i++) {
        struct otus_arena a;
        otus_arena_init(&a, 4096, 64u << 20);
        ProtobufCMessage *m =
            protobuf_c_message_unpack(descs[i], otus_arena_protobuf(&a), size, data);
        if (m) {
            size_t n = protobuf_c_message_get_packed_size(m);
            uint8_t *out = malloc(n ? n : 1);
            if (out) {
                if (protobuf_c_message_pack(m, out) != n)
                    abort();
                free(out);
            }
        }
        otus_arena_destroy(&a);
    }
    return 0;
}
