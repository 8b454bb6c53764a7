#ifndef RUNXL_CSECCOMP_SHIM_H
#define RUNXL_CSECCOMP_SHIM_H
#include <seccomp.h>
#endif
