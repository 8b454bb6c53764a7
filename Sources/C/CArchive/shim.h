#ifndef RUNXL_CARCHIVE_SHIM_H
#define RUNXL_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#endif
