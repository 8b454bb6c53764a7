/* The function table behind the rx_ wrappers, filled by dlopen/dlsym on first use (CXenLight.h says why). */
#define RUNXL_XENLIGHT_LOADER 1
#include "CXenLight.h"

#include "CLibraryLoader.h"

#include <pthread.h>
#include <stdbool.h>

/* One pointer per function, typed from the library's own declaration. */
#define RUNXL_POINTER(type, name, parameters, arguments) static __typeof__(name) *runxl_pointer_##name;
#define RUNXL_POINTER_PROCEDURE(name, parameters, arguments) RUNXL_POINTER(void, name, parameters, arguments)
RUNXL_XENTOOLLOG_FUNCTIONS(RUNXL_POINTER, RUNXL_POINTER_PROCEDURE)
RUNXL_XENSTORE_FUNCTIONS(RUNXL_POINTER, RUNXL_POINTER_PROCEDURE)
RUNXL_XENLIGHT_FUNCTIONS(RUNXL_POINTER, RUNXL_POINTER_PROCEDURE)

#define runxl_unloaded(name) runxl_library_unloaded("libxenlight", name)

/*
 * The wrappers. The static assertion holds the prototype written in CXenLight.h against the
 * library header's, so a libxl that changes a signature fails the build instead of the call.
 */
#define RUNXL_WRAPPER(type, name, parameters, arguments) \
    _Static_assert(__builtin_types_compatible_p(__typeof__(name), __typeof__(rx_##name)), \
                   "the prototype of rx_" #name " in CXenLight.h differs from " #name "'s"); \
    type rx_##name parameters { \
        if (__builtin_expect(runxl_pointer_##name == NULL, 0)) runxl_unloaded(#name); \
        return runxl_pointer_##name arguments; \
    }
#define RUNXL_WRAPPER_PROCEDURE(name, parameters, arguments) \
    _Static_assert(__builtin_types_compatible_p(__typeof__(name), __typeof__(rx_##name)), \
                   "the prototype of rx_" #name " in CXenLight.h differs from " #name "'s"); \
    void rx_##name parameters { \
        if (__builtin_expect(runxl_pointer_##name == NULL, 0)) runxl_unloaded(#name); \
        runxl_pointer_##name arguments; \
    }
RUNXL_XENTOOLLOG_FUNCTIONS(RUNXL_WRAPPER, RUNXL_WRAPPER_PROCEDURE)
RUNXL_XENSTORE_FUNCTIONS(RUNXL_WRAPPER, RUNXL_WRAPPER_PROCEDURE)
RUNXL_XENLIGHT_FUNCTIONS(RUNXL_WRAPPER, RUNXL_WRAPPER_PROCEDURE)

/* Written once inside pthread_once, read only after it: no lock needed. */
static char runxl_load_failure[512];
static bool runxl_loaded;
static pthread_once_t runxl_load_once = PTHREAD_ONCE_INIT;

/* The shared helpers, writing their reason into this shim's failure text. */
#define runxl_open(soname) runxl_library_open(soname, runxl_load_failure, sizeof runxl_load_failure)
#define runxl_resolve(handle, soname, name, slot) \
    runxl_library_resolve(handle, soname, name, slot, runxl_load_failure, sizeof runxl_load_failure)

/* The library handles are never closed: libxl's ctx and its threads live until exit. */
#define RUNXL_RESOLVE(type, name, parameters, arguments) \
    if (!runxl_resolve(handle, soname, #name, (void **)&runxl_pointer_##name)) return false;
#define RUNXL_RESOLVE_PROCEDURE(name, parameters, arguments) RUNXL_RESOLVE(void, name, parameters, arguments)

static bool runxl_load_xentoollog(void) {
    const char *soname = RUNXL_XENTOOLLOG_SONAME;
    void *handle = runxl_open(soname);
    if (handle == NULL) return false;
    RUNXL_XENTOOLLOG_FUNCTIONS(RUNXL_RESOLVE, RUNXL_RESOLVE_PROCEDURE)
    return true;
}

static bool runxl_load_xenstore(void) {
    const char *soname = RUNXL_XENSTORE_SONAME;
    void *handle = runxl_open(soname);
    if (handle == NULL) return false;
    RUNXL_XENSTORE_FUNCTIONS(RUNXL_RESOLVE, RUNXL_RESOLVE_PROCEDURE)
    return true;
}

static bool runxl_load_xenlight(void) {
    const char *soname = RUNXL_XENLIGHT_SONAME;
    void *handle = runxl_open(soname);
    if (handle == NULL) return false;
    RUNXL_XENLIGHT_FUNCTIONS(RUNXL_RESOLVE, RUNXL_RESOLVE_PROCEDURE)
    return true;
}

static void runxl_load_all(void) {
    runxl_loaded = runxl_load_xentoollog() && runxl_load_xenstore() && runxl_load_xenlight();
}

const char *runxl_xenlight_load(void) {
    pthread_once(&runxl_load_once, runxl_load_all);
    return runxl_loaded ? NULL : runxl_load_failure;
}
