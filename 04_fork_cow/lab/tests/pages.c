/*
 * pages.c - touching a scenario's pages and reading what this process's
 * pagemap says of them (see cow_lab.h).
 */
#include "cow.h"
#include "cow_lab.h"

#include "cli.h"
#include "pagemap.h"
#include "procfs.h"

#include <errno.h>
#include <sys/mman.h>

/* Not instrumented: a sanitizer's shadow memory is none of the scenario's
 * business. */
__attribute__((no_sanitize("address", "thread"))) void store_each_page(char *base, size_t count,
                                                                       char letter)
{
    for (size_t i = 0; i < count; i++)
        ((volatile char *)base)[i * page_size()] = letter;
}

void advise(void *at, size_t bytes, int advice)
{
    /* MADV_NOHUGEPAGE fails with EINVAL on a kernel without THP, where
     * there is nothing to opt out of */
    if (madvise(at, bytes, advice) != 0 && !(advice == MADV_NOHUGEPAGE && errno == EINVAL))
        die_errno("madvise");
}

void page_states(const char *base, unsigned pages, char out[])
{
    for (unsigned i = 0; i < pages; i++) {
        const char *page = base + i * page_size();
        struct mapping m;
        if (!mapping_find(page, &m)) {
            out[i] = PAGE_UNMAPPED;
            continue;
        }
        struct page_view v = page_view_of(page);
        out[i] = !v.present ? PAGE_ABSENT : v.exclusive ? PAGE_OWN : PAGE_SHARED;
    }
    out[pages] = '\0';
}
