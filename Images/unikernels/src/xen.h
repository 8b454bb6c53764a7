/* The Xen public interface as this freestanding kernel sees it: gcc's own
 * <stdint.h> (no libc) and the interface version pinned, so the headers in
 * /usr/include/xen give the current hypercall numbers, not the compat ones. */
#ifndef UNIKERNEL_XEN_H
#define UNIKERNEL_XEN_H

#include <stdint.h>
#include <stddef.h>

#define __XEN_INTERFACE_VERSION__ 0x00040e00

#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/memory.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>

/* Every kernel owns one 4 KiB page that holds the hypercall trampolines:
 * Xen fills it for PV (ELF note HYPERCALL_PAGE); PVH asks for it via an MSR. */
extern char hypercall_page[4096];

/* The x86-64 hypercall ABI: arguments in rdi, rsi (rdx, r10, r8 unused here),
 * result in rax; the trampoline for hypercall N sits at N * 32 in the page. */
static inline long hypercall2(unsigned int number, unsigned long first, unsigned long second)
{
    register unsigned long rdi __asm__("rdi") = first;
    register unsigned long rsi __asm__("rsi") = second;
    long result;
    __asm__ volatile("call *%[trampoline]"
                     : "=a"(result), "+r"(rdi), "+r"(rsi)
                     : [trampoline] "r"(hypercall_page + number * 32)
                     : "memory", "rcx", "rdx", "r8", "r9", "r10", "r11");
    return result;
}

static inline long hypercall3(unsigned int number, unsigned long first, unsigned long second,
                              unsigned long third)
{
    register unsigned long rdi __asm__("rdi") = first;
    register unsigned long rsi __asm__("rsi") = second;
    register unsigned long rdx __asm__("rdx") = third;
    long result;
    __asm__ volatile("call *%[trampoline]"
                     : "=a"(result), "+r"(rdi), "+r"(rsi), "+r"(rdx)
                     : [trampoline] "r"(hypercall_page + number * 32)
                     : "memory", "rcx", "r8", "r9", "r10", "r11");
    return result;
}

/* What a boot path hands to the portable part: every pointer already usable
 * (PV translates machine frames, PVH runs identity mapped). */
struct guest {
    const char *flavour;
    const char *cmdline;
    volatile struct xencons_interface *console;
    uint32_t console_port;
    volatile struct xenstore_domain_interface *store;
    uint32_t store_port;
    /* Mapped by the boot path; only the sleep mode needs it (event
     * pending bits), so NULL is tolerated elsewhere. */
    volatile struct shared_info *shared;
};

__attribute__((noreturn)) void guest_main(const struct guest *guest);
__attribute__((noreturn)) void shutdown(unsigned int reason);

#endif
