/*
 * cow.c - lab 04, the reference solution.
 *
 * The predictor keeps, for each page and each process, what its entry
 * points at: nothing, the zero page, a page (numbered as it is made), or
 * no mapping at all; and for each page made, how many processes map it
 * and what its first byte holds.  fork() gives the child the parent's
 * entries (one more user for each page), none in a MADV_WIPEONFORK range
 * and no mapping in a MADV_DONTFORK one.  A write to a page another
 * process maps too makes a copy (one user less for the old page); a write
 * to a page mapped once reuses it.  A page is "shared" in pagemap when it
 * is mapped more than once, which the zero page always is; "own" when
 * once.  The child's exit takes its users away.
 *
 * The probe reads one 64-bit entry of /proc/self/pagemap, opening the file
 * each time: a descriptor opened before a fork would still read the
 * parent's page tables.
 */
#include "cow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

/* ------------------------------------------------------------ predict */

enum { MAX_MADE = COW_MAX_PAGES * COW_MAX_STEPS + COW_MAX_PAGES };

enum backing { NO_PAGE, ZERO_PAGE, A_PAGE, NOT_MAPPED };

struct entry {
    enum backing what;
    int page; /* A_PAGE: which page made */
};

struct model {
    unsigned pages;
    struct entry parent[COW_MAX_PAGES], child[COW_MAX_PAGES];
    bool dontfork[COW_MAX_PAGES], wipeonfork[COW_MAX_PAGES];
    int made;               /* pages made so far */
    int users[MAX_MADE];    /* processes mapping each page */
    char content[MAX_MADE]; /* each page's first byte */
};

static void write_page(struct model *m, struct entry *e, char letter)
{
    if (e->what == A_PAGE && m->users[e->page] == 1) {
        m->content[e->page] = letter; /* mapped once: written in place */
        return;
    }
    if (e->what == A_PAGE)
        m->users[e->page]--; /* copy on write: the other keeps the old page */
    *e = (struct entry){A_PAGE, m->made};
    m->users[m->made] = 1;
    m->content[m->made++] = letter;
}

static int read_page(const struct model *m, struct entry *e)
{
    switch (e->what) {
    case NOT_MAPPED: return SEES_SIGSEGV;
    case NO_PAGE: e->what = ZERO_PAGE; return 0;
    case ZERO_PAGE: return 0;
    case A_PAGE: return m->content[e->page];
    }
    return 0;
}

static void fork_model(struct model *m)
{
    for (unsigned i = 0; i < m->pages; i++) {
        struct entry e = m->parent[i];
        if (m->dontfork[i])
            e.what = NOT_MAPPED;
        else if (m->wipeonfork[i])
            e.what = NO_PAGE;
        else if (e.what == A_PAGE)
            m->users[e.page]++;
        m->child[i] = e;
    }
}

static void exit_child(struct model *m)
{
    for (unsigned i = 0; i < m->pages; i++)
        if (m->child[i].what == A_PAGE)
            m->users[m->child[i].page]--;
}

static void describe(const struct model *m, const struct entry entries[], char out[])
{
    for (unsigned i = 0; i < m->pages; i++) {
        const struct entry *e = &entries[i];
        out[i] = e->what == NOT_MAPPED                         ? PAGE_UNMAPPED
                 : e->what == NO_PAGE                          ? PAGE_ABSENT
                 : e->what == A_PAGE && m->users[e->page] == 1 ? PAGE_OWN
                                                               : PAGE_SHARED;
    }
    out[m->pages] = '\0';
}

int predict_cow(const struct cow_step steps[], unsigned count, struct cow_facts facts[])
{
    static struct model m;
    bool forked = false, exited = false;

    if (count == 0 || steps[0].op != COW_MMAP || steps[0].count > COW_MAX_PAGES)
        return -1;
    m = (struct model){.pages = steps[0].count};
    for (unsigned i = 0; i < count; i++) {
        const struct cow_step *s = &steps[i];
        struct entry *mine = s->who == COW_PARENT ? m.parent : m.child;
        facts[i].sees = 0;
        for (unsigned p = s->first; p < s->first + s->count && s->op != COW_MMAP; p++) {
            if (s->op == COW_WRITE)
                write_page(&m, &mine[p], s->letter);
            else if (s->op == COW_READ)
                facts[i].sees = read_page(&m, &mine[p]);
            else if (s->op == COW_DONTFORK)
                m.dontfork[p] = true;
            else if (s->op == COW_WIPEONFORK)
                m.wipeonfork[p] = true;
        }
        if (s->op == COW_FORK) {
            fork_model(&m);
            forked = true;
        } else if (s->op == COW_EXIT) {
            exit_child(&m);
            exited = true;
        }
        describe(&m, m.parent, facts[i].parent);
        if (forked && !exited)
            describe(&m, m.child, facts[i].child);
    }
    return 0;
}

/* ---------------------------------------------------------- implement */

#define PRESENT   (UINT64_C(1) << 63)
#define EXCLUSIVE (UINT64_C(1) << 56)
#define PFN_MASK  ((UINT64_C(1) << 55) - 1)

int probe_page(const void *addr, struct page_probe *out)
{
    uint64_t entry, page = (uint64_t)sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    ssize_t got = pread(fd, &entry, sizeof entry, (off_t)((uintptr_t)addr / page * sizeof entry));
    int err = errno;
    close(fd);
    if (got != (ssize_t)sizeof entry) {
        errno = got < 0 ? err : EIO;
        return -1;
    }
    out->present = (entry & PRESENT) != 0;
    out->exclusive = (entry & EXCLUSIVE) != 0;
    out->pfn = out->present ? entry & PFN_MASK : 0; /* 0 also when hidden: not an error */
    return 0;
}

int same_page(const struct page_probe *in_parent, const struct page_probe *in_child)
{
    if (!in_parent->present || !in_child->present)
        return -1;
    if (in_parent->pfn != 0 && in_child->pfn != 0)
        return in_parent->pfn == in_child->pfn;
    /* Without frame numbers: a page both map is mapped twice, exclusive in
     * neither; a copy made it exclusive in the writer at least. */
    return !in_parent->exclusive && !in_child->exclusive;
}
