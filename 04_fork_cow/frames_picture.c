/*
 * frames_picture.c - copy-on-write as a picture, drawn from what the parent
 * and the child each read from their own /proc/self/pagemap at the same
 * moments (frames.c takes the views):
 *
 *   before the child's write: one frame, in both page tables
 *     parent  page 0x55c6d8970000 --\
 *                                    >-- frame 0x1a14c9   holds 'i'  mapped twice (...)
 *     child   page 0x55c6d8970000 --/
 *   after the child's write: two frames, one each
 *     parent  page 0x55c6d8970000 ------ frame 0x1a14c9   holds 'i'  mapped once (...)
 *     child   page 0x55c6d8970000 ------ frame 0x1322dc   holds 'c'  mapped once (...)
 *
 * One frame or two is decided by the frame numbers when the kernel shows
 * them (root), and otherwise by the exclusive bit (pagemap bit 56), which it
 * shows to everyone: clear in both processes means one frame mapped twice.
 */
#include "fork_cow.h"

#include "out.h"

#include <stdio.h>

/* Whether the two views are of one frame. */
static bool one_frame(const struct frame_moment *m)
{
    if (frame_visible(&m->parent.view) && frame_visible(&m->child.view))
        return m->parent.view.pfn == m->child.view.pfn;
    return !m->parent.view.exclusive && !m->child.view.exclusive;
}

/* "frame 0x1a14c9" or "frame ?" (the number is hidden). */
static const char *frame_label(const struct page_view *view, char buf[static 32])
{
    if (frame_visible(view))
        snprintf(buf, 32, "frame 0x%llx", (unsigned long long)view->pfn);
    else
        snprintf(buf, 32, "frame ?");
    return buf;
}

static const char *mapped_text(const struct page_view *view)
{
    return view->exclusive ? "mapped once (exclusive bit 1)" : "mapped twice (exclusive bit 0)";
}

/* "parent  page 0x55c6d8970000 ": the left column, whose width sets where
 * the arrows go. */
static int entry_text(const char *who, const char *page, char buf[static 48])
{
    return snprintf(buf, 48, "%-7s page %p ", who, (const void *)page);
}

/* The two page-table entries meet at one frame. */
static void draw_shared(const char *page, const struct frame_moment *m)
{
    char left[48], frame[32];
    int width = entry_text("parent", page, left);

    printf("    %s--\\\n", left);
    printf("    %*s>-- %-16s holds '%c'  %s\n", width + 3, "", frame_label(&m->parent.view, frame),
           m->parent.first_byte, mapped_text(&m->parent.view));
    entry_text("child", page, left);
    printf("    %s--/\n", left);
}

/* Each entry has a frame of its own. */
static void draw_split(const char *page, const struct frame_moment *m)
{
    char left[48], frame[32];

    entry_text("parent", page, left);
    printf("    %s------ %-16s holds '%c'  %s\n", left, frame_label(&m->parent.view, frame),
           m->parent.first_byte, mapped_text(&m->parent.view));
    entry_text("child", page, left);
    printf("    %s------ %-16s holds '%c'  %s\n", left, frame_label(&m->child.view, frame),
           m->child.first_byte, mapped_text(&m->child.view));
}

static void draw_moment(const char *title, const char *stage, const char *page,
                        const struct frame_moment *m)
{
    bool shared = one_frame(m);

    printf("  %s: %s\n", title, shared ? "one frame, in both page tables" : "two frames, one each");
    if (shared)
        draw_shared(page, m);
    else
        draw_split(page, m);
    fact_word("picture", "frames");
    fact_word("stage", stage);
    fact_int("frames_drawn", shared ? 1 : 2);
    fact_int("parent_exclusive", m->parent.view.exclusive);
    fact_int("child_exclusive", m->child.view.exclusive);
    facts_end();
}

void draw_frames(const char *page, const struct frame_moment *before,
                 const struct frame_moment *after)
{
    printf("the page in both processes, as each read its own pagemap at the same moment:\n");
    draw_moment("before the child's write", "before_child_write", page, before);
    draw_moment("after the child's write", "after_child_write", page, after);
    if (!frame_visible(&before->parent.view))
        printf("  (the numbers are hidden: one frame or two is read from the exclusive bits)\n");
}
