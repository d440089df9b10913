// SPDX-License-Identifier: Apache-2.0
/*
 * libcurl, loaded when a client verb (casulo pause --api ...) first needs it
 * (see lazylib.h). Each wrapper has libcurl's prototype and forwards to the
 * real symbol; the variadic ones read their one argument by its documented
 * type (CURLOPTTYPE_* ranges for options, a pointer for getinfo).
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/lazylib.h"

#define CURL_SONAME "libcurl.so.4"

static struct {
    pthread_once_t once;
    bool ok;
    char why[256];
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*init)(void);
    void (*cleanup)(CURL *);
    CURLcode (*perform)(CURL *);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    const char *(*strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} lc = { .once = PTHREAD_ONCE_INIT };

static void load(void)
{
    void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lc.why, sizeof(lc.why), "cannot load %s: %s", CURL_SONAME, dlerror());
        return;
    }
    struct { void **slot; const char *name; } syms[] = {
        { (void **)&lc.global_init, "curl_global_init" },
        { (void **)&lc.global_cleanup, "curl_global_cleanup" },
        { (void **)&lc.init, "curl_easy_init" },
        { (void **)&lc.cleanup, "curl_easy_cleanup" },
        { (void **)&lc.perform, "curl_easy_perform" },
        { (void **)&lc.setopt, "curl_easy_setopt" },
        { (void **)&lc.getinfo, "curl_easy_getinfo" },
        { (void **)&lc.strerror, "curl_easy_strerror" },
        { (void **)&lc.slist_append, "curl_slist_append" },
        { (void **)&lc.slist_free_all, "curl_slist_free_all" },
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(lc.why, sizeof(lc.why), "%s lacks %s", CURL_SONAME, syms[i].name);
            return;
        }
    }
    lc.ok = true;
}

bool lazy_curl_load(char *err, size_t errlen)
{
    pthread_once(&lc.once, load);
    if (!lc.ok && err)
        snprintf(err, errlen, "%s", lc.why);
    return lc.ok;
}

CURLcode curl_global_init(long flags)
{
    return lazy_curl_load(NULL, 0) ? lc.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
    if (lazy_curl_load(NULL, 0))
        lc.global_cleanup();
}

CURL *curl_easy_init(void)
{
    return lazy_curl_load(NULL, 0) ? lc.init() : NULL;
}

/* The rest are only reached with a handle from curl_easy_init: the library is loaded. */
void curl_easy_cleanup(CURL *curl)
{
    lc.cleanup(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
    return lc.perform(curl);
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode ret;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        ret = lc.setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        ret = lc.setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        ret = lc.setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        ret = lc.setopt(curl, option, v);
    } else {
        void *v = va_arg(ap, void *);
        ret = lc.setopt(curl, option, v);
    }
    va_end(ap);
    return ret;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    void *out = va_arg(ap, void *);
    va_end(ap);
    return lc.getinfo(curl, info, out);
}

const char *curl_easy_strerror(CURLcode code)
{
    return lazy_curl_load(NULL, 0) ? lc.strerror(code) : "libcurl is not available";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return lazy_curl_load(NULL, 0) ? lc.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (list)
        lc.slist_free_all(list);
}
