/* The supervisor's seccomp filter through libseccomp opened by dlopen (CSeccompHost.h says why). */
#include "CSeccompHost.h"

#include <dlfcn.h>
#include <errno.h>
#include <seccomp.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(RUNXL_SECCOMP_DENY_EPERM == SCMP_ACT_ERRNO(EPERM), "RUNXL_SECCOMP_DENY_EPERM drifted");
_Static_assert(RUNXL_SECCOMP_LOG == SCMP_ACT_LOG, "RUNXL_SECCOMP_LOG drifted");

#ifndef RUNXL_SECCOMP_SONAME
#define RUNXL_SECCOMP_SONAME "libseccomp.so.2"
#endif

static char runxl_seccomp_failure[512];

#define RUNXL_FAIL(...) \
    do { \
        snprintf(runxl_seccomp_failure, sizeof runxl_seccomp_failure, __VA_ARGS__); \
        return runxl_seccomp_failure; \
    } while (0)

const char *runxl_seccomp_preload(void) {
    /* Never closed: a later dlopen of the same name finds it loaded, whatever the root is then. */
    if (dlopen(RUNXL_SECCOMP_SONAME, RTLD_NOW | RTLD_LOCAL) == NULL)
        RUNXL_FAIL("cannot load %s: %s (install libseccomp2)", RUNXL_SECCOMP_SONAME, dlerror());
    return NULL;
}

const char *runxl_seccomp_allow_only(const char *const *names, size_t count, uint32_t default_action, size_t *unknown) {
    *unknown = 0;
    void *library = dlopen(RUNXL_SECCOMP_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) RUNXL_FAIL("cannot load %s: %s (install libseccomp2)", RUNXL_SECCOMP_SONAME, dlerror());
    /* Typed from the library's own declarations, so a changed signature fails the build. */
    __typeof__(seccomp_init) *init = (__typeof__(seccomp_init) *)dlsym(library, "seccomp_init");
    __typeof__(seccomp_release) *release = (__typeof__(seccomp_release) *)dlsym(library, "seccomp_release");
    __typeof__(seccomp_attr_set) *attr_set = (__typeof__(seccomp_attr_set) *)dlsym(library, "seccomp_attr_set");
    __typeof__(seccomp_syscall_resolve_name) *resolve =
        (__typeof__(seccomp_syscall_resolve_name) *)dlsym(library, "seccomp_syscall_resolve_name");
    __typeof__(seccomp_rule_add_array) *rule_add =
        (__typeof__(seccomp_rule_add_array) *)dlsym(library, "seccomp_rule_add_array");
    __typeof__(seccomp_load) *load = (__typeof__(seccomp_load) *)dlsym(library, "seccomp_load");
    if (!init || !release || !attr_set || !resolve || !rule_add || !load)
        RUNXL_FAIL("%s lacks a function runxl needs", RUNXL_SECCOMP_SONAME);

    scmp_filter_ctx filter = init(default_action);
    if (filter == NULL) RUNXL_FAIL("seccomp_init failed");
    int status = attr_set(filter, SCMP_FLTATR_CTL_TSYNC, 1);
    if (status != 0) {
        release(filter);
        RUNXL_FAIL("seccomp_attr_set(TSYNC): error %d", -status);
    }
    for (size_t index = 0; index < count; index++) {
        int number = resolve(names[index]);
        if (number == __NR_SCMP_ERROR) {
            (*unknown)++;
            continue;
        }
        status = rule_add(filter, SCMP_ACT_ALLOW, number, 0, NULL);
        if (status != 0) {
            release(filter);
            RUNXL_FAIL("seccomp_rule_add(%s): error %d", names[index], -status);
        }
    }
    status = load(filter);
    release(filter);
    if (status != 0) RUNXL_FAIL("seccomp_load: error %d", -status);
    return NULL;
}

const char *runxl_keep_capabilities(const unsigned *keep, size_t count) {
    uint32_t words[2] = {0, 0};
    for (size_t index = 0; index < count; index++) {
        if (keep[index] < 64) words[keep[index] / 32] |= 1U << (keep[index] % 32);
    }
    /* The bounding set first: dropping from it needs CAP_SETPCAP, which capset below removes. */
    for (unsigned capability = 0; capability < 64; capability++) {
        bool kept = (words[capability / 32] >> (capability % 32)) & 1U;
        if (kept) continue;
        if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL)
            RUNXL_FAIL("prctl(PR_CAPBSET_DROP, %u): errno %d", capability, errno);
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {
        {.effective = words[0], .permitted = words[0], .inheritable = 0},
        {.effective = words[1], .permitted = words[1], .inheritable = 0},
    };
    if (syscall(SYS_capset, &header, data) != 0) RUNXL_FAIL("capset: errno %d", errno);
    return NULL;
}
