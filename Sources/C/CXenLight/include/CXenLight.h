#ifndef RUNXL_CXENLIGHT_H
#define RUNXL_CXENLIGHT_H
/*
 * libxenlight, libxenstore and libxentoollog, opened at run time.
 *
 * runxl is one binary for every verb, and most verbs (state, list, ps, spec, features) never
 * talk to Xen: linking libxenlight would make the dynamic loader map it and its dozen Xen
 * libraries at every start, which costs more than the whole `runxl state`. So the libraries'
 * headers are used for their types only; every function runxl calls goes through a table that
 * runxl_xenlight_load() fills with dlopen/dlsym, and is called as rx_<name>, a wrapper with the
 * library's exact prototype (loader.c checks that at compile time).
 */

/* Xen 4.17's libxl; pin the API so a newer libxl keeps the calls we were written against. */
#define LIBXL_API_VERSION 0x041300
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>
#include <xenstore.h>

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The libraries by the SONAME Debian bookworm ships; -D can point one elsewhere to try a failed load. */
#ifndef RUNXL_XENTOOLLOG_SONAME
#define RUNXL_XENTOOLLOG_SONAME "libxentoollog.so.1"
#endif
#ifndef RUNXL_XENSTORE_SONAME
#define RUNXL_XENSTORE_SONAME "libxenstore.so.4"
#endif
#ifndef RUNXL_XENLIGHT_SONAME
#define RUNXL_XENLIGHT_SONAME "libxenlight.so.4.17"
#endif

/*
 * The functions runxl calls, one X-macro list per library:
 * FUNCTION(return type, name, (parameters), (arguments)) and PROCEDURE(name, (parameters),
 * (arguments)) for the void ones. Adding a call to a library function means adding it here.
 */
#define RUNXL_XENTOOLLOG_FUNCTIONS(FUNCTION, PROCEDURE) \
    PROCEDURE(xtl_logger_destroy, (struct xentoollog_logger *logger), (logger))

#define RUNXL_XENSTORE_FUNCTIONS(FUNCTION, PROCEDURE) \
    FUNCTION(struct xs_handle *, xs_open, (unsigned long flags), (flags)) \
    PROCEDURE(xs_close, (struct xs_handle *handle), (handle)) \
    FUNCTION(int, xs_fileno, (struct xs_handle *handle), (handle)) \
    FUNCTION(char *, xs_get_domain_path, (struct xs_handle *handle, unsigned int domid), (handle, domid)) \
    FUNCTION(void *, xs_read, \
             (struct xs_handle *handle, xs_transaction_t transaction, const char *path, unsigned int *length), \
             (handle, transaction, path, length)) \
    FUNCTION(bool, xs_write, \
             (struct xs_handle *handle, xs_transaction_t transaction, const char *path, const void *data, \
              unsigned int length), \
             (handle, transaction, path, data, length)) \
    FUNCTION(bool, xs_watch, (struct xs_handle *handle, const char *path, const char *token), \
             (handle, path, token)) \
    FUNCTION(bool, xs_unwatch, (struct xs_handle *handle, const char *path, const char *token), \
             (handle, path, token)) \
    FUNCTION(char **, xs_check_watch, (struct xs_handle *handle), (handle))

#define RUNXL_XENLIGHT_FUNCTIONS(FUNCTION, PROCEDURE) \
    FUNCTION(int, libxl_ctx_alloc, \
             (libxl_ctx **context, int version, unsigned flags, xentoollog_logger *logger), \
             (context, version, flags, logger)) \
    FUNCTION(int, libxl_ctx_free, (libxl_ctx *context), (context)) \
    PROCEDURE(libxl_childproc_setmode, (libxl_ctx *context, const libxl_childproc_hooks *hooks, void *user), \
              (context, hooks, user)) \
    FUNCTION(const char *, libxl_error_to_string, (libxl_error error), (error)) \
    PROCEDURE(libxl_domain_config_init, (libxl_domain_config *config), (config)) \
    PROCEDURE(libxl_domain_config_dispose, (libxl_domain_config *config), (config)) \
    PROCEDURE(libxl_domain_build_info_init_type, (libxl_domain_build_info *info, libxl_domain_type type), \
              (info, type)) \
    PROCEDURE(libxl_device_disk_init, (libxl_device_disk *disk), (disk)) \
    PROCEDURE(libxl_device_nic_init, (libxl_device_nic *nic), (nic)) \
    PROCEDURE(libxl_device_p9_init, (libxl_device_p9 *p9), (p9)) \
    FUNCTION(int, libxl_cpu_bitmap_alloc, (libxl_ctx *context, libxl_bitmap *map, int max_cpus), \
             (context, map, max_cpus)) \
    PROCEDURE(libxl_bitmap_set, (libxl_bitmap *map, int bit), (map, bit)) \
    PROCEDURE(libxl_bitmap_dispose, (libxl_bitmap *map), (map)) \
    FUNCTION(int, libxl_set_memory_target, \
             (libxl_ctx *context, uint32_t domid, int64_t target_memkb, int relative, int enforce), \
             (context, domid, target_memkb, relative, enforce)) \
    FUNCTION(int, libxl_set_vcpuonline, \
             (libxl_ctx *context, uint32_t domid, libxl_bitmap *cpumap, const libxl_asyncop_how *how), \
             (context, domid, cpumap, how)) \
    FUNCTION(int, libxl_domain_create_new, \
             (libxl_ctx *context, libxl_domain_config *config, uint32_t *domid, const libxl_asyncop_how *how, \
              const libxl_asyncprogress_how *progress), \
             (context, config, domid, how, progress)) \
    FUNCTION(int, libxl_domain_create_restore, \
             (libxl_ctx *context, libxl_domain_config *config, uint32_t *domid, int restore_fd, int send_back_fd, \
              const libxl_domain_restore_params *params, const libxl_asyncop_how *how, \
              const libxl_asyncprogress_how *progress), \
             (context, config, domid, restore_fd, send_back_fd, params, how, progress)) \
    PROCEDURE(libxl_domain_restore_params_init, (libxl_domain_restore_params *params), (params)) \
    PROCEDURE(libxl_domain_restore_params_dispose, (libxl_domain_restore_params *params), (params)) \
    FUNCTION(int, libxl_domain_suspend, \
             (libxl_ctx *context, uint32_t domid, int fd, int flags, const libxl_asyncop_how *how), \
             (context, domid, fd, flags, how)) \
    FUNCTION(int, libxl_domain_need_memory, \
             (libxl_ctx *context, libxl_domain_config *config, uint32_t domid, uint64_t *need_kib), \
             (context, config, domid, need_kib)) \
    FUNCTION(int, libxl_get_free_memory, (libxl_ctx *context, uint64_t *free_kib), (context, free_kib)) \
    FUNCTION(int, libxl_domain_pause, (libxl_ctx *context, uint32_t domid, const libxl_asyncop_how *how), \
             (context, domid, how)) \
    FUNCTION(int, libxl_domain_unpause, (libxl_ctx *context, uint32_t domid, const libxl_asyncop_how *how), \
             (context, domid, how)) \
    FUNCTION(int, libxl_domain_destroy, (libxl_ctx *context, uint32_t domid, const libxl_asyncop_how *how), \
             (context, domid, how)) \
    FUNCTION(int, libxl_domain_info, (libxl_ctx *context, libxl_dominfo *info, uint32_t domid), \
             (context, info, domid)) \
    PROCEDURE(libxl_dominfo_init, (libxl_dominfo *info), (info)) \
    PROCEDURE(libxl_dominfo_dispose, (libxl_dominfo *info), (info)) \
    FUNCTION(libxl_dominfo *, libxl_list_domain, (libxl_ctx *context, int *count), (context, count)) \
    PROCEDURE(libxl_dominfo_list_free, (libxl_dominfo *list, int count), (list, count)) \
    FUNCTION(char *, libxl_domid_to_name, (libxl_ctx *context, uint32_t domid), (context, domid)) \
    FUNCTION(int, libxl_name_to_domid, (libxl_ctx *context, const char *name, uint32_t *domid), \
             (context, name, domid)) \
    FUNCTION(int, libxl_console_get_tty, \
             (libxl_ctx *context, uint32_t domid, int console, libxl_console_type type, char **path), \
             (context, domid, console, type, path)) \
    FUNCTION(int, libxl_evenable_domain_death, \
             (libxl_ctx *context, uint32_t domid, libxl_ev_user user, libxl_evgen_domain_death **generator), \
             (context, domid, user, generator)) \
    PROCEDURE(libxl_evdisable_domain_death, (libxl_ctx *context, libxl_evgen_domain_death *generator), \
              (context, generator)) \
    FUNCTION(int, libxl_event_check, \
             (libxl_ctx *context, libxl_event **event, uint64_t type_mask, libxl_event_predicate *predicate, \
              void *predicate_user), \
             (context, event, type_mask, predicate, predicate_user)) \
    PROCEDURE(libxl_event_free, (libxl_ctx *context, libxl_event *event), (context, event)) \
    FUNCTION(int, libxl_osevent_beforepoll, \
             (libxl_ctx *context, int *count, struct pollfd *descriptors, int *timeout, struct timeval now), \
             (context, count, descriptors, timeout, now)) \
    PROCEDURE(libxl_osevent_afterpoll, \
              (libxl_ctx *context, int count, const struct pollfd *descriptors, struct timeval now), \
              (context, count, descriptors, now))

/* The wrappers: rx_<name> calls <name> from the library runxl_xenlight_load() opened. */
#define RUNXL_DECLARE_FUNCTION(type, name, parameters, arguments) type rx_##name parameters;
#define RUNXL_DECLARE_PROCEDURE(name, parameters, arguments) void rx_##name parameters;
RUNXL_XENTOOLLOG_FUNCTIONS(RUNXL_DECLARE_FUNCTION, RUNXL_DECLARE_PROCEDURE)
RUNXL_XENSTORE_FUNCTIONS(RUNXL_DECLARE_FUNCTION, RUNXL_DECLARE_PROCEDURE)
RUNXL_XENLIGHT_FUNCTIONS(RUNXL_DECLARE_FUNCTION, RUNXL_DECLARE_PROCEDURE)
#undef RUNXL_DECLARE_FUNCTION
#undef RUNXL_DECLARE_PROCEDURE

/*
 * Outside loader.c the libraries' own names are unavailable, so a direct call is a compile
 * error naming the wrapper instead of an undefined symbol at link time (or, worse, a NEEDED
 * entry that brings back the start-up cost).
 */
#ifndef RUNXL_XENLIGHT_LOADER
#define RUNXL_HIDE_FUNCTION(type, name, parameters, arguments) \
    type name parameters __attribute__((unavailable("libxenlight is opened at run time: call rx_" #name)));
#define RUNXL_HIDE_PROCEDURE(name, parameters, arguments) RUNXL_HIDE_FUNCTION(void, name, parameters, arguments)
RUNXL_XENTOOLLOG_FUNCTIONS(RUNXL_HIDE_FUNCTION, RUNXL_HIDE_PROCEDURE)
RUNXL_XENSTORE_FUNCTIONS(RUNXL_HIDE_FUNCTION, RUNXL_HIDE_PROCEDURE)
RUNXL_XENLIGHT_FUNCTIONS(RUNXL_HIDE_FUNCTION, RUNXL_HIDE_PROCEDURE)
#undef RUNXL_HIDE_FUNCTION
#undef RUNXL_HIDE_PROCEDURE
#endif

/*
 * Opens the three libraries and resolves every function above, once per process (later calls
 * only return the first outcome). NULL when all is there, else the reason (dlerror's text), in
 * storage that lives as long as the process. Call it before any rx_ function.
 */
const char *runxl_xenlight_load(void);

/*
 * Swift cannot implement a C function that takes a va_list, so the xentoollog logger that
 * forwards libxl's messages to Swift is C: it formats each message and hands the finished text
 * to a plain C callback.
 */
typedef void (*runxl_log_sink)(void *user, int level, int errnoval, const char *context,
                               const char *message);

/* A logger passing every message at min_level or above to sink; free it with rx_xtl_logger_destroy. */
xentoollog_logger *runxl_logger_create(runxl_log_sink sink, void *user, int min_level);

/*
 * runxl starts its own children (supervisors, hooks) and reaps them with waitpid. libxl's
 * default SIGCHLD mode reaps every child of the process while it has one of its own, which would
 * steal those exit statuses; selective reaping makes libxl wait only for the pids it forked.
 */
void runxl_childproc_selective_reap(libxl_ctx *ctx);

/*
 * libxl_event_check's predicate: only events whose for_user equals the uint64_t `user` points at.
 * Each wait enables its events with a token of its own, so concurrent waits on one ctx (even on
 * the same domain) never take each other's events.
 */
libxl_event_predicate *runxl_event_predicate_for_token(void);

/* Appends a zero-initialised (libxl_device_disk_init) disk to the config; NULL when out of memory. */
libxl_device_disk *runxl_config_add_disk(libxl_domain_config *config);

/* Appends a libxl_device_nic_init'ed nic to the config, with the next device id; NULL when out of memory. */
libxl_device_nic *runxl_config_add_nic(libxl_domain_config *config);

/* Appends a libxl_device_p9_init'ed 9pfs share to the config, with the next device id; NULL when out of memory. */
libxl_device_p9 *runxl_config_add_p9(libxl_domain_config *config);

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
