/* PV boot path: start_info gives machine frame numbers for the console and
 * xenstore rings; they are mapped in the boot page tables at their pseudo-
 * physical address, found by searching the pfn-to-mfn list. */
#include "xen.h"

void pv_main(start_info_t *info);

static void *page_of_machine_frame(const start_info_t *info, xen_pfn_t mfn)
{
    const xen_pfn_t *pfn_to_mfn = (const xen_pfn_t *)info->mfn_list;
    for (unsigned long pfn = 0; pfn < info->nr_pages; pfn++)
        if (pfn_to_mfn[pfn] == mfn)
            return (void *)(pfn << 12);
    return NULL;
}

/* A page of our own image whose mapping is replaced by the shared info
 * frame: the boot page tables already cover it, so one update_va_mapping
 * does it (present, writable, user (64-bit PV kernels run in ring 3),
 * accessed, dirty). */
static char shared_page[4096] __attribute__((aligned(4096)));

static volatile struct shared_info *map_shared_info(const start_info_t *info)
{
    unsigned long pte = (info->shared_info & ~0xfffUL) | 0x67;
    if (hypercall3(__HYPERVISOR_update_va_mapping, (unsigned long)shared_page, pte, UVMF_INVLPG) != 0)
        return NULL;
    return (volatile struct shared_info *)shared_page;
}

void pv_main(start_info_t *info)
{
    static struct guest guest;
    static char cmdline[MAX_GUEST_CMDLINE + 1];
    for (int n = 0; n < MAX_GUEST_CMDLINE; n++)
        cmdline[n] = (char)info->cmd_line[n];
    cmdline[MAX_GUEST_CMDLINE] = 0;

    guest.flavour = "pv";
    guest.cmdline = cmdline;
    guest.console = page_of_machine_frame(info, info->console.domU.mfn);
    guest.console_port = info->console.domU.evtchn;
    guest.store = page_of_machine_frame(info, info->store_mfn);
    guest.store_port = info->store_evtchn;
    guest.shared = map_shared_info(info);
    guest_main(&guest);
}
