#ifndef RUNXL_CSECCOMPHOST_H
#define RUNXL_CSECCOMPHOST_H
/*
 * The supervisor's confinement: libseccomp for runxl on the host (the supervisor's confinement), opened at run time.
 *
 * runxl-init links libseccomp statically through CSeccomp; the runxl executable must not link it
 * at all, so that `state` and every other short verb never map it (see CArchive.h for the same
 * reasoning). Only the supervisor loads it, once, to install its filter; the whole use of the
 * library lives in confine.c, and Swift sees this one function.
 */
#include <stddef.h>
#include <stdint.h>

/*
 * Installs, on every thread of the process (TSYNC), a seccomp filter allowing exactly the system
 * calls named in `names` (x86-64 names; a name this kernel or libseccomp does not know is
 * skipped and counted in *unknown) and answering every other one with `default_action`
 * (a libseccomp action: RUNXL_SECCOMP_DENY_EPERM or RUNXL_SECCOMP_LOG).
 * NULL on success, else the reason, in storage that lives as long as the process.
 */
const char *runxl_seccomp_allow_only(const char *const *names, size_t count, uint32_t default_action, size_t *unknown);

/*
 * Loads libseccomp now, for a process that will install its filter after leaving the host's root
 * (the container's stand-in, after its pivot_root): dlopen then finds the library loaded.
 * NULL on success, else the reason.
 */
const char *runxl_seccomp_preload(void);

/* SCMP_ACT_ERRNO(EPERM): an unlisted call fails, the process lives. */
#define RUNXL_SECCOMP_DENY_EPERM 0x00050001U
/* SCMP_ACT_LOG: an unlisted call is allowed and logged by the kernel (audit type 1326). */
#define RUNXL_SECCOMP_LOG 0x7ffc0000U

/*
 * Keeps only the capabilities numbered in `keep` (effective, permitted; inheritable and ambient
 * emptied) and drops every other one from the bounding set, so no child (libxl's helpers) gets
 * them back. NULL on success, else the reason.
 */
const char *runxl_keep_capabilities(const unsigned *keep, size_t count);

#endif
