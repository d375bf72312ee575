#ifndef OUTPOST_CCURL_H
#define OUTPOST_CCURL_H
#include <curl/curl.h>

// libcurl is loaded on first use (dlopen "libcurl.so.4"), not linked: a gateway whose uplinks are all MQTT never maps
// libcurl and the ~25 libraries it pulls in (GnuTLS, Kerberos, LDAP, SSH, ...), about 3.6 MiB of resident memory.
// Only curl.h's types and constants are used at build time; every call goes through the functions below.

// Loads libcurl and runs curl_global_init, once per process; safe from any thread. Returns NULL when libcurl is
// usable, else why not (a static string).
const char *outpost_curl_load(void);

// The libcurl functions Outpost calls, valid once outpost_curl_load returned NULL.
CURL *outpost_curl_easy_init(void);
void outpost_curl_easy_cleanup(CURL *handle);
CURLcode outpost_curl_easy_perform(CURL *handle);
const char *outpost_curl_easy_strerror(CURLcode code);
struct curl_slist *outpost_curl_slist_append(struct curl_slist *list, const char *text);
void outpost_curl_slist_free_all(struct curl_slist *list);

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per argument kind.
typedef size_t (*outpost_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode outpost_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode outpost_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode outpost_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode outpost_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode outpost_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode outpost_curl_set_callback(CURL *handle, CURLoption option, outpost_curl_data_callback value);
CURLcode outpost_curl_get_long(CURL *handle, CURLINFO info, long *value);

// Counts every HTTP byte of the handle's exchanges into *counter (request and response, headers and bodies) through
// libcurl's debug callback, a C function in loader.c. *counter must outlive the handle.
CURLcode outpost_curl_count_wire_bytes(CURL *handle, long long *counter);
#endif
