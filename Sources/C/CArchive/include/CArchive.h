#ifndef RUNXL_CARCHIVE_H
#define RUNXL_CARCHIVE_H
/*
 * libarchive and liblz4, opened at run time.
 *
 * Only guest builds and image unpacking need them, yet linking libarchive makes the dynamic
 * loader map it and its own dependencies (libxml2, ICU with its 30 MB data, nettle, acl, bzip2,
 * lzma, zstd...) at every start of runxl, the `state` verb included. So the headers are used for
 * their types only; every function runxl calls goes through a table that runxl_archive_load()
 * fills with dlopen/dlsym, and is called as rx_<name>, a wrapper with the library's exact
 * prototype (loader.c checks that at compile time).
 */
#include <archive.h>
#include <archive_entry.h>
// libarchive's lz4 filter writes the LZ4 frame format, but the Linux initramfs unpacker only
// reads the legacy format (`lz4 -l`); the Archive module writes that one itself with liblz4.
#include <lz4.h>

#include <sys/types.h>
#include <time.h>

/* The libraries by the SONAME Debian bookworm ships; -D can point one elsewhere to try a failed load. */
#ifndef RUNXL_ARCHIVE_SONAME
#define RUNXL_ARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef RUNXL_LZ4_SONAME
#define RUNXL_LZ4_SONAME "liblz4.so.1"
#endif

/*
 * The functions runxl calls, one X-macro list per library:
 * FUNCTION(return type, name, (parameters), (arguments)) and PROCEDURE(name, (parameters),
 * (arguments)) for the void ones. Adding a call to a library function means adding it here.
 */
#define RUNXL_LZ4_FUNCTIONS(FUNCTION, PROCEDURE) \
    FUNCTION(int, LZ4_compressBound, (int input_size), (input_size)) \
    FUNCTION(int, LZ4_compress_default, (const char *source, char *destination, int source_size, int capacity), \
             (source, destination, source_size, capacity))

#define RUNXL_ARCHIVE_FUNCTIONS(FUNCTION, PROCEDURE) \
    FUNCTION(int, archive_errno, (struct archive *archive), (archive)) \
    FUNCTION(const char *, archive_error_string, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_filter_code, (struct archive *archive, int filter), (archive, filter)) \
    FUNCTION(const char *, archive_filter_name, (struct archive *archive, int filter), (archive, filter)) \
    FUNCTION(struct archive *, archive_read_new, (void), ()) \
    FUNCTION(int, archive_read_free, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_support_filter_all, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_support_format_all, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_support_format_raw, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_open_filename, (struct archive *archive, const char *path, size_t block_size), \
             (archive, path, block_size)) \
    FUNCTION(int, archive_read_open_memory, (struct archive *archive, const void *buffer, size_t size), \
             (archive, buffer, size)) \
    FUNCTION(int, archive_read_support_filter_gzip, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_support_filter_zstd, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_support_format_tar, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_read_open, \
             (struct archive *archive, void *client, archive_open_callback *open, archive_read_callback *read, \
              archive_close_callback *close), \
             (archive, client, open, read, close)) \
    FUNCTION(int, archive_read_data_block, \
             (struct archive *archive, const void **buffer, size_t *size, la_int64_t *offset), \
             (archive, buffer, size, offset)) \
    FUNCTION(int, archive_read_next_header, (struct archive *archive, struct archive_entry **entry), \
             (archive, entry)) \
    FUNCTION(la_ssize_t, archive_read_data, (struct archive *archive, void *buffer, size_t size), \
             (archive, buffer, size)) \
    FUNCTION(struct archive *, archive_write_new, (void), ()) \
    FUNCTION(int, archive_write_free, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_write_set_format_cpio_newc, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_write_add_filter_none, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_write_add_filter_gzip, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_write_add_filter_zstd, (struct archive *archive), (archive)) \
    FUNCTION(int, archive_write_set_filter_option, \
             (struct archive *archive, const char *module, const char *option, const char *value), \
             (archive, module, option, value)) \
    FUNCTION(int, archive_write_set_bytes_per_block, (struct archive *archive, int bytes), (archive, bytes)) \
    FUNCTION(int, archive_write_set_bytes_in_last_block, (struct archive *archive, int bytes), (archive, bytes)) \
    FUNCTION(int, archive_write_open, \
             (struct archive *archive, void *client, archive_open_callback *open, archive_write_callback *write, \
              archive_close_callback *close), \
             (archive, client, open, write, close)) \
    FUNCTION(int, archive_write_header, (struct archive *archive, struct archive_entry *entry), (archive, entry)) \
    FUNCTION(la_ssize_t, archive_write_data, (struct archive *archive, const void *buffer, size_t size), \
             (archive, buffer, size)) \
    FUNCTION(int, archive_write_close, (struct archive *archive), (archive)) \
    FUNCTION(struct archive_entry *, archive_entry_new, (void), ()) \
    PROCEDURE(archive_entry_free, (struct archive_entry *entry), (entry)) \
    FUNCTION(struct archive_entry *, archive_entry_clear, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_pathname, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_symlink, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_hardlink, (struct archive_entry *entry), (entry)) \
    FUNCTION(mode_t, archive_entry_mode, (struct archive_entry *entry), (entry)) \
    FUNCTION(la_int64_t, archive_entry_uid, (struct archive_entry *entry), (entry)) \
    FUNCTION(la_int64_t, archive_entry_gid, (struct archive_entry *entry), (entry)) \
    FUNCTION(la_int64_t, archive_entry_size, (struct archive_entry *entry), (entry)) \
    FUNCTION(time_t, archive_entry_mtime, (struct archive_entry *entry), (entry)) \
    FUNCTION(long, archive_entry_mtime_nsec, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_pathname_utf8, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_symlink_utf8, (struct archive_entry *entry), (entry)) \
    FUNCTION(const char *, archive_entry_hardlink_utf8, (struct archive_entry *entry), (entry)) \
    FUNCTION(int, archive_entry_xattr_reset, (struct archive_entry *entry), (entry)) \
    FUNCTION(int, archive_entry_xattr_next, \
             (struct archive_entry *entry, const char **name, const void **value, size_t *size), \
             (entry, name, value, size)) \
    FUNCTION(la_int64_t, archive_entry_ino64, (struct archive_entry *entry), (entry)) \
    FUNCTION(unsigned int, archive_entry_nlink, (struct archive_entry *entry), (entry)) \
    FUNCTION(dev_t, archive_entry_rdevmajor, (struct archive_entry *entry), (entry)) \
    FUNCTION(dev_t, archive_entry_rdevminor, (struct archive_entry *entry), (entry)) \
    PROCEDURE(archive_entry_copy_pathname, (struct archive_entry *entry, const char *path), (entry, path)) \
    PROCEDURE(archive_entry_copy_symlink, (struct archive_entry *entry, const char *target), (entry, target)) \
    PROCEDURE(archive_entry_set_mode, (struct archive_entry *entry, mode_t mode), (entry, mode)) \
    PROCEDURE(archive_entry_set_uid, (struct archive_entry *entry, la_int64_t uid), (entry, uid)) \
    PROCEDURE(archive_entry_set_gid, (struct archive_entry *entry, la_int64_t gid), (entry, gid)) \
    PROCEDURE(archive_entry_set_mtime, (struct archive_entry *entry, time_t seconds, long nanoseconds), \
              (entry, seconds, nanoseconds)) \
    PROCEDURE(archive_entry_set_nlink, (struct archive_entry *entry, unsigned int count), (entry, count)) \
    PROCEDURE(archive_entry_set_size, (struct archive_entry *entry, la_int64_t size), (entry, size)) \
    PROCEDURE(archive_entry_set_ino64, (struct archive_entry *entry, la_int64_t inode), (entry, inode)) \
    PROCEDURE(archive_entry_set_rdev, (struct archive_entry *entry, dev_t device), (entry, device)) \
    PROCEDURE(archive_entry_set_rdevmajor, (struct archive_entry *entry, dev_t major), (entry, major)) \
    PROCEDURE(archive_entry_set_rdevminor, (struct archive_entry *entry, dev_t minor), (entry, minor))

/* The wrappers: rx_<name> calls <name> from the library runxl_archive_load() opened. */
#define RUNXL_DECLARE_FUNCTION(type, name, parameters, arguments) type rx_##name parameters;
#define RUNXL_DECLARE_PROCEDURE(name, parameters, arguments) void rx_##name parameters;
RUNXL_LZ4_FUNCTIONS(RUNXL_DECLARE_FUNCTION, RUNXL_DECLARE_PROCEDURE)
RUNXL_ARCHIVE_FUNCTIONS(RUNXL_DECLARE_FUNCTION, RUNXL_DECLARE_PROCEDURE)
#undef RUNXL_DECLARE_FUNCTION
#undef RUNXL_DECLARE_PROCEDURE

/*
 * Outside loader.c the libraries' own names are unavailable, so a direct call is a compile
 * error naming the wrapper instead of an undefined symbol at link time.
 */
#ifndef RUNXL_ARCHIVE_LOADER
#define RUNXL_HIDE_FUNCTION(type, name, parameters, arguments) \
    type name parameters __attribute__((unavailable("libarchive is opened at run time: call rx_" #name)));
#define RUNXL_HIDE_PROCEDURE(name, parameters, arguments) RUNXL_HIDE_FUNCTION(void, name, parameters, arguments)
RUNXL_LZ4_FUNCTIONS(RUNXL_HIDE_FUNCTION, RUNXL_HIDE_PROCEDURE)
RUNXL_ARCHIVE_FUNCTIONS(RUNXL_HIDE_FUNCTION, RUNXL_HIDE_PROCEDURE)
#undef RUNXL_HIDE_FUNCTION
#undef RUNXL_HIDE_PROCEDURE
#endif

/*
 * Opens both libraries and resolves every function above, once per process (later calls only
 * return the first outcome). NULL when all is there, else the reason (dlerror's text), in
 * storage that lives as long as the process. Call it before any rx_ function.
 */
const char *runxl_archive_load(void);

#endif
