/*
 * status.c: the text and the retry class of every enum otus_status value, shared by
 * libotus and otus-agent so both speak of failures the same way.
 */
#include <otus.h>

const char *otus_strerror(int status)
{
    switch ((enum otus_status)status) {
    case OTUS_OK:
        return "success";
    case OTUS_ERR_NOMEM:
        return "out of memory";
    case OTUS_ERR_INVALID:
        return "invalid argument";
    case OTUS_ERR_TOO_BIG:
        return "over the size limit";
    case OTUS_ERR_PARSE:
        return "malformed input";
    case OTUS_ERR_IO:
        return "input/output error";
    case OTUS_ERR_FULL:
        return "queue or buffer full";
    case OTUS_ERR_TIMEOUT:
        return "timed out";
    case OTUS_ERR_CONNECT:
        return "could not connect";
    case OTUS_ERR_HTTP_RETRY:
        return "peer busy or failing (HTTP 429 or 5xx)";
    case OTUS_ERR_HTTP_REJECT:
        return "peer rejected the request (HTTP 4xx)";
    case OTUS_ERR_CONFIG:
        return "invalid configuration";
    case OTUS_ERR_STATE:
        return "operation not allowed in the current state";
    case OTUS_ERR_UNSUPPORTED:
        return "not supported";
    case OTUS_ERR_NOT_FOUND:
        return "not found";
    case OTUS_ERR_DISABLED:
        return "disabled";
    case OTUS_ERR_CANCELED:
        return "canceled";
    }
    return "unknown status";
}

int otus_status_is_retryable(int status)
{
    switch (status) {
    case OTUS_ERR_FULL:
    case OTUS_ERR_TIMEOUT:
    case OTUS_ERR_CONNECT:
    case OTUS_ERR_HTTP_RETRY:
    case OTUS_ERR_NOMEM:
        return 1;
    default:
        return 0;
    }
}

const char *otus_version(void)
{
    return OTUS_VERSION_STRING;
}
