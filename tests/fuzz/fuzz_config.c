/*
 * fuzz_config.c: libFuzzer target. Arbitrary text loaded as otus-agent's YAML
 * configuration: accepted or refused with a message, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_config.h"
#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct otus_cfg_doc doc;
    struct otus_cfg_err err;
    if (otus_cfg_doc_load_string(&doc, "fuzz", text, &err) == 0) {
        struct otus_config cfg;
        if (otus_config_load_doc(&cfg, &doc, &err) == 0)
            otus_config_free(&cfg);
        else if (!err.msg[0])
            abort();
    }
    otus_cfg_doc_free(&doc);
    free(text);
    return 0;
}
