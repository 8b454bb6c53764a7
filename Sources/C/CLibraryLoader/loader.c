/* The shared half of the C shims' dlopen pattern (CLibraryLoader.h says why). */
#include "CLibraryLoader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *runxl_library_open(const char *soname, char *failure, size_t size) {
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        snprintf(failure, size, "%s", reason != NULL ? reason : soname);
    }
    return handle;
}

bool runxl_library_resolve(void *handle, const char *soname, const char *name, void **slot, char *failure, size_t size) {
    dlerror();
    *slot = dlsym(handle, name);
    if (*slot != NULL) return true;
    const char *reason = dlerror();
    snprintf(failure, size, "%s has no function %s (%s)", soname, name, reason != NULL ? reason : "NULL address");
    return false;
}

void runxl_library_unloaded(const char *library, const char *function) {
    char message[256];
    int length = snprintf(message, sizeof message, "runxl: internal error: %s called before %s was loaded\n", function, library);
    if (length > 0) (void)!write(2, message, (size_t)length < sizeof message ? (size_t)length : sizeof message - 1);
    abort();
}
