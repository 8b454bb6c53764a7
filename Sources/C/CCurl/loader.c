/* The function tables behind the rx_ wrappers, filled by dlopen/dlsym on first use (CCurl.h says why). */
#include "CCurl.h"

#include "CLibraryLoader.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

/* Typed from curl.h's own declarations, so a changed prototype fails the build. */
static __typeof__(curl_global_init) *p_global_init;
static __typeof__(curl_easy_init) *p_easy_init;
static __typeof__(curl_easy_cleanup) *p_easy_cleanup;
static __typeof__(curl_easy_reset) *p_easy_reset;
static __typeof__(curl_easy_perform) *p_easy_perform;
static __typeof__(curl_easy_strerror) *p_easy_strerror;
static __typeof__(curl_easy_setopt) *p_easy_setopt;
static __typeof__(curl_easy_getinfo) *p_easy_getinfo;
static __typeof__(curl_slist_append) *p_slist_append;
static __typeof__(curl_slist_free_all) *p_slist_free_all;

/* libcrypto 3's EVP digest interface, declared here so that building needs no libssl-dev. */
typedef struct runxl_evp_md_ctx runxl_evp_md_ctx;
typedef struct runxl_evp_md runxl_evp_md;
static runxl_evp_md_ctx *(*p_md_ctx_new)(void);
static void (*p_md_ctx_free)(runxl_evp_md_ctx *);
static const runxl_evp_md *(*p_sha256)(void);
static int (*p_digest_init_ex)(runxl_evp_md_ctx *, const runxl_evp_md *, void *engine);
static int (*p_digest_update)(runxl_evp_md_ctx *, const void *, size_t);
static int (*p_digest_final_ex)(runxl_evp_md_ctx *, unsigned char *, unsigned int *);

static char curl_failure[512];
static bool curl_loaded;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char crypto_failure[512];
static bool crypto_loaded;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

#define REQUIRE(pointer) \
    if (__builtin_expect(pointer == NULL, 0)) runxl_library_unloaded("libcurl or libcrypto", #pointer)

static void load_curl(void) {
    void *handle = runxl_library_open(RUNXL_CURL_SONAME, curl_failure, sizeof curl_failure);
    if (handle == NULL) return;
#define RESOLVE(slot, name) \
    if (!runxl_library_resolve(handle, RUNXL_CURL_SONAME, name, (void **)&slot, curl_failure, sizeof curl_failure)) return;
    RESOLVE(p_global_init, "curl_global_init")
    RESOLVE(p_easy_init, "curl_easy_init")
    RESOLVE(p_easy_cleanup, "curl_easy_cleanup")
    RESOLVE(p_easy_reset, "curl_easy_reset")
    RESOLVE(p_easy_perform, "curl_easy_perform")
    RESOLVE(p_easy_strerror, "curl_easy_strerror")
    RESOLVE(p_easy_setopt, "curl_easy_setopt")
    RESOLVE(p_easy_getinfo, "curl_easy_getinfo")
    RESOLVE(p_slist_append, "curl_slist_append")
    RESOLVE(p_slist_free_all, "curl_slist_free_all")
#undef RESOLVE
    /* Not thread-safe in libcurl itself; pthread_once makes it so. */
    CURLcode code = p_global_init(CURL_GLOBAL_ALL);
    if (code != CURLE_OK) {
        snprintf(curl_failure, sizeof curl_failure, "curl_global_init failed (code %d)", (int)code);
        return;
    }
    curl_loaded = true;
}

static void load_crypto(void) {
    void *handle = runxl_library_open(RUNXL_CRYPTO_SONAME, crypto_failure, sizeof crypto_failure);
    if (handle == NULL) return;
#define RESOLVE(slot, name) \
    if (!runxl_library_resolve(handle, RUNXL_CRYPTO_SONAME, name, (void **)&slot, crypto_failure, sizeof crypto_failure)) return;
    RESOLVE(p_md_ctx_new, "EVP_MD_CTX_new")
    RESOLVE(p_md_ctx_free, "EVP_MD_CTX_free")
    RESOLVE(p_sha256, "EVP_sha256")
    RESOLVE(p_digest_init_ex, "EVP_DigestInit_ex")
    RESOLVE(p_digest_update, "EVP_DigestUpdate")
    RESOLVE(p_digest_final_ex, "EVP_DigestFinal_ex")
#undef RESOLVE
    crypto_loaded = true;
}

const char *runxl_curl_load(void) {
    pthread_once(&curl_once, load_curl);
    return curl_loaded ? NULL : curl_failure;
}

const char *runxl_crypto_load(void) {
    pthread_once(&crypto_once, load_crypto);
    return crypto_loaded ? NULL : crypto_failure;
}

CURL *rx_curl_easy_init(void) { REQUIRE(p_easy_init); return p_easy_init(); }
void rx_curl_easy_cleanup(CURL *handle) { REQUIRE(p_easy_cleanup); p_easy_cleanup(handle); }
void rx_curl_easy_reset(CURL *handle) { REQUIRE(p_easy_reset); p_easy_reset(handle); }
CURLcode rx_curl_easy_perform(CURL *handle) { REQUIRE(p_easy_perform); return p_easy_perform(handle); }
const char *rx_curl_easy_strerror(CURLcode code) { REQUIRE(p_easy_strerror); return p_easy_strerror(code); }
struct curl_slist *rx_curl_slist_append(struct curl_slist *list, const char *text) {
    REQUIRE(p_slist_append);
    return p_slist_append(list, text);
}
void rx_curl_slist_free_all(struct curl_slist *list) { REQUIRE(p_slist_free_all); p_slist_free_all(list); }
CURLcode rx_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, value);
}
CURLcode rx_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, value);
}
CURLcode rx_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, value);
}
CURLcode rx_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, value);
}
CURLcode rx_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, value);
}
CURLcode rx_curl_setopt_data_callback(CURL *handle, CURLoption option, rx_curl_data_callback callback) {
    REQUIRE(p_easy_setopt);
    return p_easy_setopt(handle, option, callback);
}
CURLcode rx_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    REQUIRE(p_easy_getinfo);
    return p_easy_getinfo(handle, info, value);
}
CURLcode rx_curl_getinfo_string(CURL *handle, CURLINFO info, const char **value) {
    REQUIRE(p_easy_getinfo);
    return p_easy_getinfo(handle, info, value);
}

void *rx_sha256_new(void) {
    REQUIRE(p_md_ctx_new);
    runxl_evp_md_ctx *context = p_md_ctx_new();
    if (context == NULL) return NULL;
    if (p_digest_init_ex(context, p_sha256(), NULL) != 1) {
        p_md_ctx_free(context);
        return NULL;
    }
    return context;
}
int rx_sha256_update(void *context, const void *bytes, size_t count) {
    REQUIRE(p_digest_update);
    return p_digest_update(context, bytes, count);
}
int rx_sha256_final(void *context, unsigned char *digest) {
    REQUIRE(p_digest_final_ex);
    unsigned int length = 0;
    if (p_digest_final_ex(context, digest, &length) != 1 || length != 32) return 0;
    return p_digest_init_ex(context, p_sha256(), NULL);
}
int rx_sha256_reset(void *context) {
    REQUIRE(p_digest_init_ex);
    return p_digest_init_ex(context, p_sha256(), NULL);
}
void rx_sha256_free(void *context) {
    if (context != NULL && p_md_ctx_free != NULL) p_md_ctx_free(context);
}
