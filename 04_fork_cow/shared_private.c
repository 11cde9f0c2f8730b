/*
 * shared_private.c - MAP_SHARED and MAP_PRIVATE, side by side after fork.
 *
 * Two anonymous pages, one mapped MAP_SHARED and one MAP_PRIVATE, both
 * written 'p' by the parent.  The child writes 'c' into both and exits; the
 * parent then reads them.  Only the shared page shows the child's write:
 * fork gave the child the same shared page, but a private page is copied
 * at the child's first write.
 */
#include "fork_cow.h"

#include "memory.h"
#include "out.h"
#include "procfs.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* The two pages, as the child inherits them. */
struct pages {
    char *shared;  /* MAP_SHARED | MAP_ANONYMOUS */
    char *private; /* MAP_PRIVATE | MAP_ANONYMOUS */
};

/* One row of the table: what one process sees in one page, and its frame
 * (as the fact pfn_child or pfn_parent). */
static void report(const char *mapping, const char *who, const char *page,
                   const struct page_view *view)
{
    char first[2] = {page[0], '\0'}, frame[24], pfn_key[24];

    snprintf(pfn_key, sizeof pfn_key, "pfn_%s", who);
    printf("  %-8s %-7s sees '%s'  frame %-10s mapped by this process only: %s\n", mapping, who,
           first, frame_text(view, frame), view->exclusive ? "yes" : "no");
    fact_word("mapping", mapping);
    fact_word("who", who);
    fact_word("first_byte", first);
    fact_int("exclusive", view->exclusive);
    fact_pfn(pfn_key, view);
    facts_end();
}

static int child_writes_both(void *arg)
{
    const struct pages *p = arg;

    touch_pages(p->shared, page_size(), 'c');
    touch_pages(p->private, page_size(), 'c');
    struct page_view shared = page_view_of(p->shared), private = page_view_of(p->private);
    report("shared", "child", p->shared, &shared);
    report("private", "child", p->private, &private);
    return 0;
}

void show_shared_private(void)
{
    struct pages p = {map_anonymous(page_size(), MAP_SHARED),
                      map_anonymous(page_size(), MAP_PRIVATE)};

    heading("shared vs private: who sees the child's write");
    memset(p.shared, 'p', page_size());
    memset(p.private, 'p', page_size());
    struct page_view probe = page_view_of(p.shared);
    if (!frame_visible(&probe))
        say_frames_hidden();
    printf("The parent wrote 'p' into both pages; the child writes 'c' into both.\n");
    run_child(child_writes_both, &p);

    struct page_view shared = page_view_of(p.shared), private = page_view_of(p.private);
    report("shared", "parent", p.shared, &shared);
    report("private", "parent", p.private, &private);
    bool shared_seen = p.shared[0] == 'c', private_seen = p.private[0] == 'c';
    printf("The parent %s the child's write in the shared page and %s it in the private one.\n",
           shared_seen ? "sees" : "does not see", private_seen ? "sees" : "does not see");
    fact_int("shared_parent_sees_child_write", shared_seen);
    fact_int("private_parent_sees_child_write", private_seen);
    fact_int("frames_visible", frame_visible(&probe));
    facts_end();
    unmap(p.shared, page_size());
    unmap(p.private, page_size());
}
