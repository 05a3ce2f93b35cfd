/*
 * curl_load.c: libcurl, loaded when the agent first needs it.
 *
 * libcurl brings in some thirty shared libraries (OpenSSL, GnuTLS, Kerberos, LDAP,
 * ...) whose loading alone touches about 5 MiB of pages. An agent that exports only to
 * files and the Prometheus endpoint never sends over HTTP, so the agent is not linked
 * against libcurl: this file defines the libcurl functions agent/http_client.c calls,
 * and each forwards to the real one, which curl_global_init() (always the first call)
 * finds with dlopen("libcurl.so.4") and dlsym().
 *
 * The variadic setters forward their one argument by the type the option number
 * encodes (curl.h: CURLOPTTYPE_LONG, OBJECTPOINT, FUNCTIONPOINT, OFF_T, BLOB);
 * curl_easy_getinfo's argument is always a pointer.
 *
 * Threading: loading happens once (pthread_once); the functions are then as
 * thread-safe as libcurl's.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/log.h"

#define LIBCURL_SONAME "libcurl.so.4"

typedef void (*fnptr)(void);

static struct {
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    curl_version_info_data *(*version_info)(CURLversion);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

/* Stores dlsym(h, name) into the function pointer at slot; 0 or -1. */
static int bind_sym(void *h, const char *name, void *slot)
{
    void *sym = dlsym(h, name);
    if (!sym)
        return -1;
    /* POSIX: a function's address from dlsym is converted through an object pointer. */
    *(void **)slot = sym;
    return 0;
}

static void load(void)
{
    void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        otus_log(OTUS_LOG_ERROR, "http", "cannot load %s: %s", LIBCURL_SONAME,
                 why ? why : "unknown error");
        return;
    }
    int rc = 0;
    rc |= bind_sym(h, "curl_global_init", &api.global_init);
    rc |= bind_sym(h, "curl_global_cleanup", &api.global_cleanup);
    rc |= bind_sym(h, "curl_version_info", &api.version_info);
    rc |= bind_sym(h, "curl_easy_init", &api.easy_init);
    rc |= bind_sym(h, "curl_easy_setopt", &api.easy_setopt);
    rc |= bind_sym(h, "curl_easy_getinfo", &api.easy_getinfo);
    rc |= bind_sym(h, "curl_easy_cleanup", &api.easy_cleanup);
    rc |= bind_sym(h, "curl_easy_reset", &api.easy_reset);
    rc |= bind_sym(h, "curl_easy_strerror", &api.easy_strerror);
    rc |= bind_sym(h, "curl_slist_append", &api.slist_append);
    rc |= bind_sym(h, "curl_slist_free_all", &api.slist_free_all);
    rc |= bind_sym(h, "curl_multi_init", &api.multi_init);
    rc |= bind_sym(h, "curl_multi_setopt", &api.multi_setopt);
    rc |= bind_sym(h, "curl_multi_add_handle", &api.multi_add_handle);
    rc |= bind_sym(h, "curl_multi_remove_handle", &api.multi_remove_handle);
    rc |= bind_sym(h, "curl_multi_socket_action", &api.multi_socket_action);
    rc |= bind_sym(h, "curl_multi_info_read", &api.multi_info_read);
    rc |= bind_sym(h, "curl_multi_cleanup", &api.multi_cleanup);
    rc |= bind_sym(h, "curl_multi_assign", &api.multi_assign);
    if (rc) {
        otus_log(OTUS_LOG_ERROR, "http", "%s lacks a function the agent calls", LIBCURL_SONAME);
        dlclose(h);
        return;
    }
    loaded = 1; /* the library stays loaded for the process's life */
}

CURLcode curl_global_init(long flags)
{
    pthread_once(&once, load);
    return loaded ? api.global_init(flags) : CURLE_FAILED_INIT;
}

/* The functions below are called only after a successful curl_global_init(). */

void curl_global_cleanup(void)
{
    if (loaded)
        api.global_cleanup();
}

curl_version_info_data *curl_version_info(CURLversion v)
{
    return api.version_info(v);
}

CURL *curl_easy_init(void)
{
    return api.easy_init();
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT)
        rc = api.easy_setopt(curl, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        rc = api.easy_setopt(curl, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        rc = api.easy_setopt(curl, option, va_arg(ap, fnptr));
    else if (option < CURLOPTTYPE_BLOB)
        rc = api.easy_setopt(curl, option, va_arg(ap, curl_off_t));
    else
        rc = api.easy_setopt(curl, option, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    CURLcode rc = api.easy_getinfo(curl, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

void curl_easy_cleanup(CURL *curl)
{
    api.easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
    api.easy_reset(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
    return loaded ? api.easy_strerror(code) : "libcurl is not loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return api.slist_append(list, s);
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list)
        api.slist_free_all(list);
}

CURLM *curl_multi_init(void)
{
    return api.multi_init();
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLMcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT)
        rc = api.multi_setopt(multi, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        rc = api.multi_setopt(multi, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        rc = api.multi_setopt(multi, option, va_arg(ap, fnptr));
    else
        rc = api.multi_setopt(multi, option, va_arg(ap, curl_off_t));
    va_end(ap);
    return rc;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy)
{
    return api.multi_add_handle(multi, easy);
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy)
{
    return api.multi_remove_handle(multi, easy);
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask,
                                   int *running_handles)
{
    return api.multi_socket_action(multi, s, ev_bitmask, running_handles);
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *msgs_in_queue)
{
    return api.multi_info_read(multi, msgs_in_queue);
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
    return api.multi_cleanup(multi);
}

CURLMcode curl_multi_assign(CURLM *multi, curl_socket_t s, void *sockp)
{
    return api.multi_assign(multi, s, sockp);
}
