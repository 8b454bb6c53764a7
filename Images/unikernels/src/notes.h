/* One Xen ELF note (name "Xen"); DESC is the directive that emits its value. */
#include <xen/elfnote.h>
#define XEN_NOTE(type, desc)                 \
    .pushsection .note.Xen, "a", @note;      \
    .balign 4;                               \
    .long 4;                                 \
    .long 2f - 1f;                           \
    .long type;                              \
    .asciz "Xen";                            \
    1: desc;                                 \
    2: .balign 4;                            \
    .popsection
