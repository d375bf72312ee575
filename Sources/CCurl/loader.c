#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// The entry points, resolved once by load(); __typeof__ keeps each pointer's type curl.h's own.
static struct {
    __typeof__(&curl_global_init) global_init;
    __typeof__(&curl_easy_init) easy_init;
    __typeof__(&curl_easy_cleanup) easy_cleanup;
    __typeof__(&curl_easy_perform) easy_perform;
    __typeof__(&curl_easy_strerror) easy_strerror;
    __typeof__(&curl_easy_setopt) easy_setopt;
    __typeof__(&curl_easy_getinfo) easy_getinfo;
    __typeof__(&curl_slist_append) slist_append;
    __typeof__(&curl_slist_free_all) slist_free_all;
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

static int resolve(void *library, void **slot, const char *name) {
    *slot = dlsym(library, name);
    if (*slot) return 1;
    snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks %s", name);
    return 0;
}

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error,
                 "cannot load libcurl (%s); install it: apt-get install libcurl4", dlerror());
        return;
    }
    if (!(resolve(library, (void **)&curl.global_init, "curl_global_init")
          && resolve(library, (void **)&curl.easy_init, "curl_easy_init")
          && resolve(library, (void **)&curl.easy_cleanup, "curl_easy_cleanup")
          && resolve(library, (void **)&curl.easy_perform, "curl_easy_perform")
          && resolve(library, (void **)&curl.easy_strerror, "curl_easy_strerror")
          && resolve(library, (void **)&curl.easy_setopt, "curl_easy_setopt")
          && resolve(library, (void **)&curl.easy_getinfo, "curl_easy_getinfo")
          && resolve(library, (void **)&curl.slist_append, "curl_slist_append")
          && resolve(library, (void **)&curl.slist_free_all, "curl_slist_free_all"))) {
        return;
    }
    // curl_global_init is not thread-safe; pthread_once runs it exactly once.
    CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init failed: %s", curl.easy_strerror(code));
    }
}

const char *outpost_curl_load(void) {
    pthread_once(&load_once, load);
    return load_error[0] ? load_error : NULL;
}

CURL *outpost_curl_easy_init(void) { return curl.easy_init(); }
void outpost_curl_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
CURLcode outpost_curl_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *outpost_curl_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }

struct curl_slist *outpost_curl_slist_append(struct curl_slist *list, const char *text) {
    return curl.slist_append(list, text);
}

void outpost_curl_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

CURLcode outpost_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_set_callback(CURL *handle, CURLoption option, outpost_curl_data_callback value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode outpost_curl_get_long(CURL *handle, CURLINFO info, long *value) {
    return curl.easy_getinfo(handle, info, value);
}

// Adds the HTTP bytes of each exchange to the counter: request headers and body out, response headers and body in,
// as libcurl hands them to its debug callback (TLS and TCP framing are not seen here).
static int count_wire_bytes(CURL *handle, curl_infotype type, char *data, size_t size, void *counter) {
    (void)handle;
    (void)data;
    switch (type) {
    case CURLINFO_HEADER_OUT:
    case CURLINFO_DATA_OUT:
    case CURLINFO_HEADER_IN:
    case CURLINFO_DATA_IN:
        *(long long *)counter += (long long)size;
        break;
    default:
        break;
    }
    return 0;
}

CURLcode outpost_curl_count_wire_bytes(CURL *handle, long long *counter) {
    CURLcode code = curl.easy_setopt(handle, CURLOPT_DEBUGFUNCTION, count_wire_bytes);
    if (code != CURLE_OK) return code;
    code = curl.easy_setopt(handle, CURLOPT_DEBUGDATA, (void *)counter);
    if (code != CURLE_OK) return code;
    return curl.easy_setopt(handle, CURLOPT_VERBOSE, 1L);
}
