/* PVH entry: Xen starts the guest at the PHYS32_ENTRY note in 32-bit
 * protected mode, paging off, flat segments, ebx = physical address of
 * hvm_start_info. We identity-map the low 4 GiB with 2 MiB pages (the console
 * and xenstore pages sit just below 4 GiB) and switch to long mode, so the
 * portable part is the same 64-bit code as PV. */
#include "notes.h"

XEN_NOTE(XEN_ELFNOTE_PHYS32_ENTRY, .long pvh_start)

#define PAGE_PRESENT_WRITABLE 0x3
#define PAGE_LARGE 0x80
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE_PG 0x80000001

    .section .text.entry, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cli
    cld
    mov %ebx, %esi
    mov $stack_top, %esp

    /* PML4 and PDPT zeroed, then PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs. */
    mov $pml4, %edi
    xor %eax, %eax
    mov $(2 * 4096 / 4), %ecx
    rep stosl
    movl $(pdpt + PAGE_PRESENT_WRITABLE), pml4
    mov $pdpt, %edi
    mov $(page_directories + PAGE_PRESENT_WRITABLE), %eax
    mov $4, %ecx
1:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b

    /* 2048 entries of 2 MiB: the whole low 4 GiB, identity. */
    mov $page_directories, %edi
    mov $(PAGE_PRESENT_WRITABLE + PAGE_LARGE), %eax
    mov $2048, %ecx
2:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $CR0_PE_PG, %eax
    mov %eax, %cr0

    lgdt gdt_pointer
    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $stack_top, %rsp
    mov %esi, %edi
    call pvh_main
3:  hlt
    jmp 3b

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt

    .section .bss.page, "aw", @nobits
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .skip 4096
pml4:
    .skip 4096
pdpt:
    .skip 4096
page_directories:
    .skip 4 * 4096
stack:
    .skip 16384
stack_top:
