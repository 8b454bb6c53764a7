#ifndef RUNXL_CXENLIGHT_SHIM_H
#define RUNXL_CXENLIGHT_SHIM_H
/* Xen 4.17's libxl; pin the API so a newer libxl keeps the calls we were written against. */
#define LIBXL_API_VERSION 0x041300
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>
#include <xenstore.h>
#endif
