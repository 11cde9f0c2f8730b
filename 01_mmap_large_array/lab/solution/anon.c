/*
 * anon.c - lab 01, the reference solution.
 *
 * The predictor keeps, for each page, what its page-table entry points at,
 * and replays the steps on that model: a first touch faults once, a read
 * of a never-written page maps the kernel's shared zero page (resident,
 * but no memory of this process: not in its Rss), a write to the zero page
 * faults again to get a page of its own, MADV_DONTNEED empties the entries
 * (the data is gone), mprotect changes no entry's page, and munmap takes
 * the pages out of the mapping altogether.
 */
#include "anon.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* What one page of the mapping is backed by. */
enum backing {
    NOTHING,   /* no entry: never touched, or dropped by MADV_DONTNEED */
    ZERO_PAGE, /* read before any write: the shared zero page, read-only */
    OWN_PAGE,  /* written: a page of this process's own */
    UNMAPPED,  /* taken out of the mapping by munmap */
};

/* Do op to one page; returns the minor faults that took. */
static long apply_to_page(const struct anon_step *step, enum backing *page)
{
    switch (step->op) {
    case ANON_WRITE:
        if (*page == OWN_PAGE)
            return 0;
        *page = OWN_PAGE; /* a fresh zeroed page, or a copy of the zero page's */
        return 1;
    case ANON_READ:
        if (*page != NOTHING)
            return 0;
        *page = ZERO_PAGE;
        return 1;
    case ANON_DONTNEED: *page = NOTHING; return 0;
    case ANON_MUNMAP: *page = UNMAPPED; return 0;
    case ANON_MMAP:
    case ANON_PROTECT: return 0;
    }
    return 0;
}

int predict_anon(const struct anon_step steps[], unsigned count, struct anon_facts facts[])
{
    enum backing pages[ANON_MAX_PAGES];

    if (count == 0 || steps[0].op != ANON_MMAP || steps[0].count > ANON_MAX_PAGES)
        return -1;
    unsigned mapped = steps[0].count;
    for (unsigned p = 0; p < mapped; p++)
        pages[p] = NOTHING;
    for (unsigned i = 0; i < count; i++) {
        struct anon_facts *f = &facts[i];
        f->minor_faults = 0;
        for (unsigned p = steps[i].first; p < steps[i].first + steps[i].count; p++)
            f->minor_faults += apply_to_page(&steps[i], &pages[p]);
        f->resident_pages = f->rss_pages = 0;
        for (unsigned p = 0; p < mapped; p++) {
            f->resident_pages += pages[p] == ZERO_PAGE || pages[p] == OWN_PAGE;
            f->rss_pages += pages[p] == OWN_PAGE; /* the zero page is nobody's */
        }
    }
    return 0;
}

long count_resident(const void *addr, size_t length)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t at = (uintptr_t)addr & ~(page - 1);
    uintptr_t end = ((uintptr_t)addr + length + page - 1) & ~(page - 1);
    unsigned char vec[1024]; /* one byte a page, bit 0 set when resident */
    long resident = 0;

    if (length == 0)
        return 0;
    while (at < end) {
        size_t pages = (end - at) / page < sizeof vec ? (end - at) / page : sizeof vec;
        if (mincore((void *)at, pages * page, vec) != 0)
            return -1; /* errno from mincore: ENOMEM for a hole */
        for (size_t i = 0; i < pages; i++)
            resident += vec[i] & 1;
        at += pages * page;
    }
    return resident;
}

long count_minor_faults(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0) /* RUSAGE_SELF: every thread's */
        return -1;
    return usage.ru_minflt;
}
