/*
 * views.c - the region under test, and its views.
 *
 * The region is a POSIX shared memory object made for one test with mode
 * 0600 and unlinked at once (lab_shm_create): it lives on only through its
 * descriptor and the mappings, so no way a test ends can leave it in
 * /dev/shm.
 *
 * Each process sees it through a view of its own: one reservation of
 * address space (PROT_NONE), made before any fork and so at the same place
 * in every process, is cut into VIEWS_MAX slots; view i is the object
 * mapped over slot i.  A child keeps only its own view and turns the others
 * back into PROT_NONE, so the region is at a different address in every
 * process, and an address stored in it by another process - a raw pointer
 * instead of an offset - faults at once, every time, where it is used.
 */
#include "driver.h"

#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct region region;

enum { SLOT_GAP = 1 << 20 }; /* unmapped space between two views */

void region_create(size_t size, bool format)
{
    memset(&region, 0, sizeof region);
    region.size = size;
    region.fd = lab_shm_create("07", size, region.name, sizeof region.name);
    region.stride = (size + SLOT_GAP + SLOT_GAP - 1) / SLOT_GAP * SLOT_GAP;
    region.reservation = mmap(NULL, region.stride * VIEWS_MAX, PROT_NONE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region.reservation == MAP_FAILED)
        die_errno("mmap reservation");
    printf("region %s: %zu bytes, mode 0600, unlinked at once; view 0 at %p\n", region.name, size,
           (void *)view_map(0));
    if (!format)
        return;
    test_step = "in sh_init";
    int status = sh_init(region.reservation, size);
    if (status != 0)
        test_fail("sh_init(region, %zu) returned %d (errno %d); expected 0", size, status, errno);
    test_step = NULL;
}

void region_destroy(void)
{
    if (munmap(region.reservation, region.stride * VIEWS_MAX) != 0)
        die_errno("munmap");
    close(region.fd);
    region.reservation = NULL;
}

static char *slot(unsigned i)
{
    if (i >= VIEWS_MAX)
        die("view %u: at most %d", i, VIEWS_MAX);
    return region.reservation + (size_t)i * region.stride;
}

char *view_map(unsigned i)
{
    char *at = slot(i);

    if (mmap(at, region.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, region.fd, 0) != at)
        die_errno("mmap view");
    region.mapped[i] = true;
    return at;
}

void view_drop(unsigned i)
{
    char *at = slot(i);

    if (mmap(at, region.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
             -1, 0) != at)
        die_errno("mmap PROT_NONE over a view");
    region.mapped[i] = false;
}

char *view_keep_only(unsigned i)
{
    for (unsigned j = 0; j < VIEWS_MAX; j++)
        if (j != i && region.mapped[j])
            view_drop(j);
    return region.mapped[i] ? slot(i) : view_map(i);
}

int view_of(uintptr_t address)
{
    uintptr_t base = (uintptr_t)region.reservation;

    if (region.reservation == NULL || address < base || address >= base + region.stride * VIEWS_MAX)
        return -1;
    return (int)((address - base) / region.stride);
}
