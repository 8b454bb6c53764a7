/* PV entry: Xen starts the guest in 64-bit long mode on its own page tables,
 * at the ELF note ENTRY, with rsi = the virtual address of start_info. */
#include "notes.h"

XEN_NOTE(XEN_ELFNOTE_GUEST_OS, .asciz "runxl-test-unikernel")
XEN_NOTE(XEN_ELFNOTE_XEN_VERSION, .asciz "xen-3.0")
XEN_NOTE(XEN_ELFNOTE_LOADER, .asciz "generic")
XEN_NOTE(XEN_ELFNOTE_ENTRY, .quad pv_start)
XEN_NOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page)
/* Pseudo-physical 0 is mapped at virtual 0: virtual address = pfn << 12. */
XEN_NOTE(XEN_ELFNOTE_VIRT_BASE, .quad 0)
XEN_NOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad 0)

    .section .text.entry, "ax"
    .code64
    .globl pv_start
pv_start:
    cld
    lea stack_top(%rip), %rsp
    mov %rsi, %rdi
    call pv_main
1:  hlt
    jmp 1b

    .section .bss.page, "aw", @nobits
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .skip 4096
stack:
    .skip 16384
stack_top:
