/*
 * libc_names.c - the C library's name for the one call of the allocator
 * whose arguments differ from its zm_ call's, built into libzone_malloc.so
 * only.
 *
 * LD_PRELOAD puts the library first in the dynamic linker's search, so
 * every call to malloc in the program - the C library's own internal ones
 * included - lands in it.  malloc, free, calloc and the others are not
 * functions here: the link gives each zm_ function its C library name as a
 * second symbol at the same address (lesson.mk, ZONE_MALLOC_LIBC_NAMES),
 * so that a call costs no extra jump (`nm -D build/libzone_malloc.so`
 * shows free and zm_free at one address).
 */
#include "zone_malloc.h"

#include <malloc.h>

int malloc_trim(size_t pad)
{
    (void)pad; /* what is kept is kept whole: there is no top of a heap to pad */
    return zm_trim();
}
