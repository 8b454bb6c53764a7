#ifndef RUNXL_CXENLIGHT_SHIM_H
#define RUNXL_CXENLIGHT_SHIM_H
/* Xen 4.17's libxl; pin the API so a newer libxl keeps the calls we were written against. */
#define LIBXL_API_VERSION 0x041300
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>
#include <xenstore.h>

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Swift cannot implement a C function that takes a va_list, so the xentoollog logger that
 * forwards libxl's messages to Swift lives here: it formats each message and hands the finished
 * text to a plain C callback.
 */
typedef void (*runxl_log_sink)(void *user, int level, int errnoval, const char *context,
                               const char *message);

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

/* A logger passing every message at min_level or above to sink; free it with xtl_logger_destroy. */
static inline xentoollog_logger *runxl_logger_create(runxl_log_sink sink, void *user, int min_level) {
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
 * runxl starts its own children (supervisors, hooks) and reaps them with waitpid. libxl's
 * default SIGCHLD mode reaps every child of the process while it has one of its own, which would
 * steal those exit statuses; selective reaping makes libxl wait only for the pids it forked.
 * The hooks must outlive the ctx, hence the static storage.
 */
static inline void runxl_childproc_selective_reap(libxl_ctx *ctx) {
    static const libxl_childproc_hooks hooks = {
        .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
        .fork_replacement = NULL,
        .reaped_callback = NULL,
    };
    libxl_childproc_setmode(ctx, &hooks, NULL);
}

/*
 * libxl_event_check's predicate: only events whose for_user equals the uint64_t `user` points at.
 * Each wait enables its events with a token of its own, so concurrent waits on one ctx (even on
 * the same domain) never take each other's events.
 */
static int runxl_event_has_token(const libxl_event *event, void *user) {
    return event->for_user == *(const uint64_t *)user;
}

static inline libxl_event_predicate *runxl_event_predicate_for_token(void) {
    return runxl_event_has_token;
}

/* Appends a zero-initialised (libxl_device_disk_init) disk to the config; NULL when out of memory. */
static inline libxl_device_disk *runxl_config_add_disk(libxl_domain_config *config) {
    libxl_device_disk *disks =
        realloc(config->disks, sizeof(libxl_device_disk) * (size_t)(config->num_disks + 1));
    if (disks == NULL) return NULL;
    config->disks = disks;
    libxl_device_disk *disk = &disks[config->num_disks];
    libxl_device_disk_init(disk);
    config->num_disks += 1;
    return disk;
}

/* Appends a libxl_device_nic_init'ed nic to the config, with the next device id; NULL when out of memory. */
static inline libxl_device_nic *runxl_config_add_nic(libxl_domain_config *config) {
    libxl_device_nic *nics =
        realloc(config->nics, sizeof(libxl_device_nic) * (size_t)(config->num_nics + 1));
    if (nics == NULL) return NULL;
    config->nics = nics;
    libxl_device_nic *nic = &nics[config->num_nics];
    libxl_device_nic_init(nic);
    nic->devid = config->num_nics;
    config->num_nics += 1;
    return nic;
}

static inline void runxl_nic_set_mac(libxl_device_nic *nic, const uint8_t *bytes) {
    memcpy(nic->mac, bytes, sizeof nic->mac);
}

/* The value of INVALID_DOMID, a macro Swift cannot import (it is `~0`). */
static inline uint32_t runxl_invalid_domid(void) { return (uint32_t)INVALID_DOMID; }

/* The memkb sentinel libxl uses for "choose a default". */
static inline uint64_t runxl_memkb_default(void) { return LIBXL_MEMKB_DEFAULT; }

/* Bytes malloc has handed out and not got back, all arenas: how the lab tests find leaks, since
 * valgrind cannot run the Swift test runner. */
static inline size_t runxl_heap_bytes_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

#endif
