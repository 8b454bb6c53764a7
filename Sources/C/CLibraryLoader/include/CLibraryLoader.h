/*
 * The one dlopen pattern of runxl's C shims (CXenLight, CArchive, CCurl): each keeps its own
 * function table and typed wrappers, and opens, resolves and reports through these, so that a
 * missing library or symbol reads the same whichever shim met it.
 *
 * Why runxl opens these libraries on first use instead of linking them: docs/architecture.md
 * (podman and containerd run `runxl state` constantly; mapping the libraries behind libxl,
 * libarchive and libcurl cost more than runc's whole run).
 */
#ifndef RUNXL_LIBRARY_LOADER_H
#define RUNXL_LIBRARY_LOADER_H

#include <stdbool.h>
#include <stddef.h>

/* dlopen with RTLD_NOW | RTLD_LOCAL (nothing else in the process should bind to the library's
   symbols); NULL with dlerror's reason written to `failure` when it cannot. Handles are never
   closed: objects of these libraries (a libxl ctx, an archive) may live until exit. */
void *runxl_library_open(const char *soname, char *failure, size_t size);

/* Stores the address of `name` in `slot`; false with the reason written to `failure`. */
bool runxl_library_resolve(void *handle, const char *soname, const char *name, void **slot, char *failure, size_t size);

/* A wrapper called before its library loaded is a bug in runxl, not an input error: says which
   function and library on stderr, then aborts. */
__attribute__((noreturn, cold)) void runxl_library_unloaded(const char *library, const char *function);

#endif
