/* C helpers around libxl that Swift cannot express; library calls go through the rx_ wrappers. */
#include "CXenLight.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct runxl_logger {
    xentoollog_logger vtable; /* first, so a runxl_logger* is a xentoollog_logger* */
    runxl_log_sink sink;
    void *user;
    int min_level;
} runxl_logger;

static void runxl_logger_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
                                  const char *context, const char *format, va_list args) {
    runxl_logger *self = (runxl_logger *)logger;
    if ((int)level < self->min_level || self->sink == NULL) return;
    char small[512];
    va_list copy;
    va_copy(copy, args);
    int length = vsnprintf(small, sizeof small, format, copy);
    va_end(copy);
    if (length < 0) {
        self->sink(self->user, level, errnoval, context, format);
        return;
    }
    if ((size_t)length < sizeof small) {
        self->sink(self->user, level, errnoval, context, small);
        return;
    }
    char *large = malloc((size_t)length + 1);
    if (large == NULL) {
        self->sink(self->user, level, errnoval, context, small);
        return;
    }
    vsnprintf(large, (size_t)length + 1, format, args);
    self->sink(self->user, level, errnoval, context, large);
    free(large);
}

static void runxl_logger_destroy(xentoollog_logger *logger) { free(logger); }

xentoollog_logger *runxl_logger_create(runxl_log_sink sink, void *user, int min_level) {
    runxl_logger *self = calloc(1, sizeof *self);
    if (self == NULL) return NULL;
    self->vtable.vmessage = runxl_logger_vmessage;
    self->vtable.progress = NULL;
    self->vtable.destroy = runxl_logger_destroy;
    self->sink = sink;
    self->user = user;
    self->min_level = min_level;
    return &self->vtable;
}

/*
 * libxl's children (the 9pfs backend's QEMU, hotplug scripts) would inherit the forking thread's
 * signal mask: `runxl launch` blocks SIGTERM and SIGHUP in every thread for its interrupt watch,
 * and a QEMU started with them blocked ignores the SIGHUP libxl stops it with at destroy, which
 * leaves the domain dying and the backend's mounts alive. Each child starts with an empty mask.
 */
static pid_t runxl_fork_with_empty_mask(void *user) {
    (void)user;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    return pid;
}

void runxl_childproc_selective_reap(libxl_ctx *ctx) {
    /* The hooks must outlive the ctx, hence the static storage. */
    static const libxl_childproc_hooks hooks = {
        .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
        .fork_replacement = runxl_fork_with_empty_mask,
        .reaped_callback = NULL,
    };
    rx_libxl_childproc_setmode(ctx, &hooks, NULL);
}

static int runxl_event_has_token(const libxl_event *event, void *user) {
    return event->for_user == *(const uint64_t *)user;
}

libxl_event_predicate *runxl_event_predicate_for_token(void) { return runxl_event_has_token; }

libxl_device_disk *runxl_config_add_disk(libxl_domain_config *config) {
    libxl_device_disk *disks =
        realloc(config->disks, sizeof(libxl_device_disk) * (size_t)(config->num_disks + 1));
    if (disks == NULL) return NULL;
    config->disks = disks;
    libxl_device_disk *disk = &disks[config->num_disks];
    rx_libxl_device_disk_init(disk);
    config->num_disks += 1;
    return disk;
}

libxl_device_nic *runxl_config_add_nic(libxl_domain_config *config) {
    libxl_device_nic *nics =
        realloc(config->nics, sizeof(libxl_device_nic) * (size_t)(config->num_nics + 1));
    if (nics == NULL) return NULL;
    config->nics = nics;
    libxl_device_nic *nic = &nics[config->num_nics];
    rx_libxl_device_nic_init(nic);
    nic->devid = config->num_nics;
    config->num_nics += 1;
    return nic;
}

libxl_device_p9 *runxl_config_add_p9(libxl_domain_config *config) {
    libxl_device_p9 *shares = realloc(config->p9s, sizeof(libxl_device_p9) * (size_t)(config->num_p9s + 1));
    if (shares == NULL) return NULL;
    config->p9s = shares;
    libxl_device_p9 *share = &shares[config->num_p9s];
    rx_libxl_device_p9_init(share);
    share->devid = config->num_p9s;
    config->num_p9s += 1;
    return share;
}
