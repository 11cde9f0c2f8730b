/*
 * frames.c - copy-on-write seen from the physical side.
 *
 * One page of heap, written by the parent, then fork.  The child reads the
 * page's frame number from /proc/self/pagemap before and after writing one
 * byte into it: before, it is the parent's frame (shared); after, a new one
 * (copied), and the write cost a minor page fault.  Without CAP_SYS_ADMIN the
 * frame numbers read as 0 and are not printed; the pagemap's exclusive bit,
 * the fault count and the mapping's Private_Dirty / Shared_Dirty in
 * /proc/self/smaps tell the same story to any user.
 *
 * The child stops twice, after looking and after writing, and sends what it
 * saw down a pipe; each time the parent looks at its own entry for the page
 * before it lets the child go on (a byte down a second pipe).  So the two
 * processes' views are taken at the same moments, and frames_picture.c draws
 * them: one frame mapped twice before the write, two frames after.
 */
#include "fork_cow.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "out.h"
#include "procfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the child inherits: the page, what the parent saw before fork, and
 * the two pipes of the handshake. */
struct frames {
    char *page;              /* one page-aligned page from the heap */
    struct page_view parent; /* the parent's view of it, read before fork */
    int to_parent[2];        /* the child's reports */
    int to_child[2];         /* the parent's "go on" bytes */
};

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}

/* Prose for one view: the frame, and whether another process maps it too.
 * When both frame numbers are known, say whether it is still the parent's
 * original one. */
static void say_view(const char *who, const struct page_view *view,
                     const struct page_view *original)
{
    char frame[24];
    const char *note = "";

    if (original != NULL && frame_visible(view) && frame_visible(original))
        note = view->pfn == original->pfn ? " (the original)" : " (a new one)";
    printf("%-32s frame %s%s; mapped by this process only: %s\n", who, frame_text(view, frame),
           note, yes_no(view->exclusive));
}

/* Facts shared by every step: the step's name, the exclusive bit, the frame. */
static void fact_view(const char *step, const char *pfn_key, const struct page_view *view)
{
    fact_word("step", step);
    fact_int("exclusive", view->exclusive);
    fact_pfn(pfn_key, view);
}

/* The mapping's smaps counters, as prose and as facts. */
static void say_dirty(const struct dirty_kib *d)
{
    printf("%-32s Private_Dirty %lld kB, Shared_Dirty %lld kB\n",
           "    its mapping in smaps:", d->private_kib, d->shared_kib);
}

static void fact_dirty(const struct dirty_kib *d)
{
    fact_int("mapping_private_dirty_kib", d->private_kib);
    fact_int("mapping_shared_dirty_kib", d->shared_kib);
}

static void fact_same_frame(const char *key, const struct page_view *a, const struct page_view *b)
{
    if (frame_visible(a) && frame_visible(b))
        fact_int(key, a->pfn == b->pfn);
}

/* In the child: tell the parent what it sees, then wait until the parent has
 * looked too (one byte, or the end of the pipe if the parent died). */
static void report_and_wait(const struct frames *f, const struct page_view *view)
{
    struct frame_report r = {.view = *view, .first_byte = f->page[0]};
    char go;

    if (write(f->to_parent[1], &r, sizeof r) != (ssize_t)sizeof r)
        die_errno("child: write report");
    if (read(f->to_child[0], &go, 1) != 1)
        die("child: the parent did not answer");
}

/* In the child: look, write one byte, look again.  Measure first, print
 * after, so that printing cannot add faults or dirty pages of its own. */
static int child_writes_page(void *arg)
{
    const struct frames *f = arg;

    close(f->to_parent[0]);
    close(f->to_child[1]);
    struct page_view before = page_view_of(f->page);
    struct dirty_kib dirty_before = dirty_of(f->page);
    report_and_wait(f, &before);
    uint64_t faults = minor_faults();

    touch_pages(f->page, page_size(), 'c');
    faults = minor_faults() - faults;
    struct page_view after = page_view_of(f->page);
    struct dirty_kib dirty_after = dirty_of(f->page);
    report_and_wait(f, &after);

    say_view("child, before writing:", &before, &f->parent);
    say_dirty(&dirty_before);
    fact_view("child_before_write", "pfn_child_before_write", &before);
    fact_same_frame("same_frame_as_parent", &before, &f->parent);
    fact_dirty(&dirty_before);
    facts_end();

    say_view("child, after writing one byte:", &after, &f->parent);
    say_dirty(&dirty_after);
    printf("%-32s %llu minor page fault%s\n", "    the write cost:", (unsigned long long)faults,
           faults == 1 ? "" : "s");
    fact_view("child_after_write", "pfn_child_after_write", &after);
    fact_same_frame("same_frame_as_parent", &after, &f->parent);
    fact_dirty(&dirty_after);
    fact_uint("write_minor_faults", faults);
    facts_end();
    return 0;
}

/* In the parent: wait for the child's report, look at our own entry for
 * the page, and let the child go on. */
static void look_with_child(const struct frames *f, struct frame_moment *m)
{
    struct frame_report r;
    ssize_t got = read(f->to_parent[0], &r, sizeof r);

    if (got < 0)
        die_errno("read the child's report");
    if (got != (ssize_t)sizeof r)
        die("the child ended before it reported");
    m->child = r;
    m->parent.view = page_view_of(f->page);
    m->parent.first_byte = f->page[0];
    if (write(f->to_child[1], "g", 1) != 1)
        die_errno("write to the child");
}

/* In the parent, after the child exited: the page is untouched, and alone
 * again, but fork left its page-table entry read-only. */
static void parent_writes_page(const struct frames *f)
{
    struct page_view view = page_view_of(f->page);
    char first[2] = {f->page[0], '\0'};

    say_view("parent, after the child exited:", &view, &f->parent);
    printf("%-32s '%s' (the child's 'c' never reached it)\n", "    first byte:", first);
    fact_view("parent_after_child_write", "pfn_parent_after_child_write", &view);
    fact_same_frame("same_frame_as_before", &view, &f->parent);
    fact_word("first_byte", first);
    facts_end();

    uint64_t faults = minor_faults();
    touch_pages(f->page, page_size(), 'p');
    faults = minor_faults() - faults;
    view = page_view_of(f->page);
    say_view("parent, after writing:", &view, &f->parent);
    printf("%-32s %llu minor page fault%s: fork write-protected the parent's entry too\n",
           "    the write cost:", (unsigned long long)faults, faults == 1 ? "" : "s");
    fact_view("parent_write", "pfn_parent_after_own_write", &view);
    fact_same_frame("same_frame_as_before", &view, &f->parent);
    fact_uint("write_minor_faults", faults);
    facts_end();
}

void show_frames(void)
{
    struct frames f = {.page = aligned_alloc(page_size(), page_size())};
    struct frame_moment before, after;

    heading("frames: where the buffer lives in physical memory");
    if (f.page == NULL)
        die_errno("aligned_alloc");
    memset(f.page, 'i', page_size());
    f.parent = page_view_of(f.page);
    printf("one page of heap at %p, written by the parent\n", (void *)f.page);
    if (!frame_visible(&f.parent)) {
        say_frames_hidden();
        printf("The write's page fault and the smaps counters tell the rest.\n");
    }
    say_view("parent, before fork:", &f.parent, NULL);
    fact_word("step", "parent_before_fork");
    fact_int("frames_visible", frame_visible(&f.parent));
    fact_int("exclusive", f.parent.exclusive);
    fact_pfn("pfn_parent", &f.parent);
    facts_end();

    if (pipe2(f.to_parent, O_CLOEXEC) != 0 || pipe2(f.to_child, O_CLOEXEC) != 0)
        die_errno("pipe2");
    uint64_t started = now_ns();
    pid_t pid = child_start(child_writes_page, &f);
    close(f.to_parent[1]); /* so that a child that dies gives us EOF */
    close(f.to_child[0]);
    look_with_child(&f, &before);
    look_with_child(&f, &after);
    close(f.to_child[1]);
    finish_child(pid, started);
    close(f.to_parent[0]);
    parent_writes_page(&f);
    draw_frames(f.page, &before, &after);
    free(f.page);
}
