#ifndef RUNXL_CARCHIVE_SHIM_H
#define RUNXL_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
// libarchive's lz4 filter writes the LZ4 frame format, but the Linux initramfs unpacker only
// reads the legacy format (`lz4 -l`); the Archive module writes that one itself with liblz4.
#include <lz4.h>
#endif
