/* PVH boot path: an HVM container without firmware. The hypercall page is
 * requested through the MSR Xen names in CPUID; the console and xenstore
 * rings are found with HVMOP_get_param and are identity mapped. */
#include "xen.h"

void pvh_main(uint32_t start_info_address);

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Xen's CPUID leaves start at 0x40000000, or 0x100 further up when it also
 * presents Viridian; the signature says which. */
static int install_hypercall_page(void)
{
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t a, b, c, d;
        cpuid(base, &a, &b, &c, &d);
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e && a >= base + 2) {
            cpuid(base + 2, &a, &b, &c, &d);
            uint64_t page = (uint64_t)(uintptr_t)hypercall_page;
            __asm__ volatile("wrmsr" ::"c"(b), "a"((uint32_t)page), "d"((uint32_t)(page >> 32)));
            return 0;
        }
    }
    return -1;
}

static uint64_t hvm_param(uint32_t index)
{
    struct xen_hvm_param param = { .domid = DOMID_SELF, .index = index };
    if (hypercall2(__HYPERVISOR_hvm_op, HVMOP_get_param, (unsigned long)&param) != 0)
        return 0;
    return param.value;
}

/* The shared info page is placed over a page of our own image (identity
 * mapped like all of low memory) with XENMEM_add_to_physmap. */
static char shared_page[4096] __attribute__((aligned(4096)));

static volatile struct shared_info *map_shared_info(void)
{
    struct xen_add_to_physmap map = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (uintptr_t)shared_page >> 12,
    };
    if (hypercall2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&map) != 0)
        return NULL;
    return (volatile struct shared_info *)shared_page;
}

void pvh_main(uint32_t start_info_address)
{
    static struct guest guest;
    const struct hvm_start_info *info = (const struct hvm_start_info *)(uintptr_t)start_info_address;

    /* Without hypercalls there is no console to complain on: just stop. */
    if (install_hypercall_page() != 0)
        for (;;)
            __asm__ volatile("cli; hlt");

    guest.flavour = "pvh";
    guest.cmdline = info->magic == XEN_HVM_START_MAGIC_VALUE && info->cmdline_paddr
                        ? (const char *)(uintptr_t)info->cmdline_paddr
                        : "";
    uint64_t console_pfn = hvm_param(HVM_PARAM_CONSOLE_PFN);
    uint64_t store_pfn = hvm_param(HVM_PARAM_STORE_PFN);
    guest.console = console_pfn ? (void *)(uintptr_t)(console_pfn << 12) : NULL;
    guest.console_port = (uint32_t)hvm_param(HVM_PARAM_CONSOLE_EVTCHN);
    guest.store = store_pfn ? (void *)(uintptr_t)(store_pfn << 12) : NULL;
    guest.store_port = (uint32_t)hvm_param(HVM_PARAM_STORE_EVTCHN);
    guest.shared = map_shared_info();
    guest_main(&guest);
}
