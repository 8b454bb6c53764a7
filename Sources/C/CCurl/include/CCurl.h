#ifndef RUNXL_CCURL_H
#define RUNXL_CCURL_H
/*
 * libcurl, and libcrypto's SHA-256, opened at run time.
 *
 * Only `image pull` talks to registries, yet linking libcurl makes the dynamic loader map it and
 * its two dozen dependencies (OpenSSL, nghttp2, libssh2, LDAP, Kerberos, librtmp...) at every
 * start of runxl, `state` included. So curl.h is used for its types and constants only; every
 * function runxl calls goes through a table that runxl_curl_load() fills with dlopen/dlsym.
 *
 * libcrypto comes with it because libcurl4 (the OpenSSL flavour) already maps it: its SHA-256
 * uses the CPU's SHA extensions and hashes blobs about ten times faster than portable code,
 * which matters when every byte of a pull is hashed as it arrives.
 */
#include <curl/curl.h>
#include <stddef.h>

#ifndef RUNXL_CURL_SONAME
#define RUNXL_CURL_SONAME "libcurl.so.4"
#endif
#ifndef RUNXL_CRYPTO_SONAME
#define RUNXL_CRYPTO_SONAME "libcrypto.so.3"
#endif

/* NULL once libcurl is loaded and curl_global_init has run; else why not (a static string). */
const char *runxl_curl_load(void);
/* NULL once libcrypto's SHA-256 is usable; else why not. Independent of libcurl. */
const char *runxl_crypto_load(void);

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per argument kind. */
CURL *rx_curl_easy_init(void);
void rx_curl_easy_cleanup(CURL *handle);
void rx_curl_easy_reset(CURL *handle);
CURLcode rx_curl_easy_perform(CURL *handle);
const char *rx_curl_easy_strerror(CURLcode code);
struct curl_slist *rx_curl_slist_append(struct curl_slist *list, const char *text);
void rx_curl_slist_free_all(struct curl_slist *list);
CURLcode rx_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode rx_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode rx_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode rx_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode rx_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
typedef size_t (*rx_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode rx_curl_setopt_data_callback(CURL *handle, CURLoption option, rx_curl_data_callback callback);
CURLcode rx_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode rx_curl_getinfo_string(CURL *handle, CURLINFO info, const char **value);

/* SHA-256 through libcrypto's EVP interface; the context is opaque. NULL/0 on failure. */
void *rx_sha256_new(void);
int rx_sha256_update(void *context, const void *bytes, size_t count);
/* Writes 32 bytes and resets the context for reuse. */
int rx_sha256_final(void *context, unsigned char *digest);
int rx_sha256_reset(void *context);
void rx_sha256_free(void *context);
#endif
