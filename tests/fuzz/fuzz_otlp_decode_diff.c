/*
 * fuzz_otlp_decode_diff.c: libFuzzer target comparing the agent's OTLP decoder
 * (agent/otlp_decode.h) with protobuf-c on arbitrary bytes, decoded as each of the
 * three export requests. Whatever protobuf-c accepts, the agent's decoder accepts
 * into an equal tree that re-packs to identical bytes (protobuf-c's unknown fields
 * aside); whatever protobuf-c refuses, it refuses. The one allowed difference is the
 * nesting limit: an input protobuf-c accepts that the decoder refuses must decode, with
 * the limit lifted, to the same tree (otlp_diff.h). Any other difference aborts.
 *
 * Inputs are capped at 4 KiB (libFuzzer's default -max_len): protobuf-c recurses a few
 * frames per nested message with no limit, so a much longer chain of nested values
 * could overflow protobuf-c's stack under ASan, which is not what this target tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/otlp_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (size > 4096)
        return 0;
    for (int s = 0; s < OTUS_SIGNAL_COUNT; s++) {
        if (otlp_diff((enum otus_signal)s, data, size, why, sizeof(why)) == OTLP_DIFF_MISMATCH) {
            fprintf(stderr, "%s: %s\n", otus_signal_name((enum otus_signal)s), why);
            abort();
        }
    }
    return 0;
}
