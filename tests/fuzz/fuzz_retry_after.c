/*
 * fuzz_retry_after.c: libFuzzer target. Arbitrary bytes as a Retry-After value and,
 * after the first newline, a Date header: parsing either succeeds with a delay of zero
 * or more milliseconds or fails cleanly, and an HTTP-date that parses lies within the
 * four-digit years the formats can express.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <otus.h>

#include "common/backoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *date = strchr(text, '\n');
    if (date)
        *date++ = '\0';

    int64_t ms = -1;
    int rc = otus_retry_after_parse(text, date, 784111777000ull, &ms);
    if (rc != 0 && rc != OTUS_ERR_PARSE)
        abort();
    if (rc == 0 && ms < 0)
        abort();

    int64_t s;
    if (otus_http_date_parse(text, &s) == 0 &&
        (s < -62167219200ll /* 0000-01-01 */ || s > 253402300800ll /* 10000-01-01 */))
        abort();
    free(text);
    return 0;
}
