/*
 * pagemap.c - showing what /proc/self/pagemap says (common/pagemap.h reads
 * it): frame numbers as text and as facts, and the sentence for when the
 * kernel hides them.
 *
 * Since Linux 4.2 the PFN reads as 0 unless the reader has CAP_SYS_ADMIN;
 * a 0 is never printed as a frame number.
 */
#include "fork_cow.h"

#include "out.h"

#include <stdio.h>

const char *frame_text(const struct page_view *view, char buf[static 24])
{
    if (!view->present)
        snprintf(buf, 24, "none");
    else if (view->pfn == 0)
        snprintf(buf, 24, "hidden");
    else
        snprintf(buf, 24, "0x%jx", (uintmax_t)view->pfn);
    return buf;
}

void fact_pfn(const char *key, const struct page_view *view)
{
    if (frame_visible(view))
        fact_hex(key, (uintptr_t)view->pfn);
}

void say_frames_hidden(void)
{
    printf("Frame numbers are hidden here: without CAP_SYS_ADMIN the kernel reports\n"
           "every frame as 0, so none is printed.  The pagemap's \"mapped by this\n"
           "process only\" bit is shown to everyone: it says whether a page is shared.\n");
}
