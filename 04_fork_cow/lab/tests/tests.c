/*
 * tests.c - lab 04's implement half: probe_page against the driver's own
 * reading of pagemap (common/pagemap.h), in a parent and in its child,
 * before and after the child's writes, with and without root; same_page
 * on the probes of both; and, where frame numbers are visible, a case
 * only frame numbers can decide.
 *
 * The processes of a test share one MAP_SHARED board: the first check
 * that fails, in whichever process, writes it there, and the test fails
 * with it.  Every child is started with common/child.h and reaped
 * against a deadline; every wait for another process has one.
 */
#include "cow.h"
#include "cow_lab.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "lab.h"
#include "memory.h"
#include "pagemap.h"
#include "procfs.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

enum { WAIT_MS = 10000, PAGES = 3 };

/* What the processes of a test share. */
struct board {
    _Atomic int claimed;                   /* a process is writing failure */
    char failure[768];                     /* the first failed check, or "" */
    struct page_probe child_before[PAGES]; /* the child's probes, before its writes */
    struct page_probe child_after[PAGES];  /* ... and after */
    struct page_probe other[2];            /* probe_frames: X's and Y's probe of the page */
};

static struct board *board;

__attribute__((format(printf, 1, 2))) static void failed(const char *fmt, ...)
{
    va_list ap;

    if (atomic_exchange(&board->claimed, 1) != 0)
        return; /* the first failure is the one reported */
    va_start(ap, fmt);
    vsnprintf(board->failure, sizeof board->failure, fmt, ap);
    va_end(ap);
}

/* probe_page(addr) in this process, checked against the pagemap entry the
 * driver reads itself.  Returns the probe (zeroed if it failed). */
static struct page_probe probe_checked(const char *who, const char *what, const char *addr)
{
    struct page_probe got = {-1, -1, UINT64_MAX};

    errno = 0;
    int rc = probe_page(addr, &got);
    int err = errno;
    struct page_view truth = page_view_of(addr);
    if (rc != 0) {
        char name[24];
        failed("probe_page(%s) in the %s returned %d (errno %s); expected 0 and what pagemap "
               "says: present=%d exclusive=%d pfn=%s",
               what, who, rc, errno_name(err, name), truth.present, truth.exclusive,
               truth.pfn       ? "its frame"
               : truth.present ? "0 (hidden)"
                               : "0");
        return (struct page_probe){0, 0, 0};
    }
    if (got.present != truth.present || got.exclusive != truth.exclusive || got.pfn != truth.pfn)
        failed("probe_page(%s) in the %s said present=%d exclusive=%d pfn=0x%" PRIx64
               "; pagemap says present=%d exclusive=%d pfn=0x%" PRIx64 "%s",
               what, who, got.present, got.exclusive, got.pfn, truth.present, truth.exclusive,
               truth.pfn, truth.present && truth.pfn == 0 ? " (frame numbers hidden here)" : "");
    return got;
}

static const char *const page_roles[PAGES] = {
    "page 0 (never touched before the fork)",
    "page 1 (written by the parent)",
    "page 2 (only read: the zero page)",
};

static void probe_all(const char *who, const char *base, struct page_probe out[PAGES])
{
    for (int i = 0; i < PAGES; i++)
        out[i] = probe_checked(who, page_roles[i], base + i * page_size());
}

static void expect_same(const char *when, int page, const struct page_probe *parent,
                        const struct page_probe *child, int want, const char *why)
{
    int got = same_page(parent, child);

    if (got != want)
        failed("same_page(the parent's and the child's probes of %s, %s) returned %d; expected "
               "%d: %s",
               page_roles[page], when, got, want, why);
}

/* The handshake: one byte down a pipe, awaited with a deadline. */
static void tell(int fd)
{
    if (write(fd, "g", 1) != 1)
        die_errno("write to the other process");
}

static bool heard_within(int fd, int timeout_ms)
{
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    char byte;
    int n;

    while ((n = poll(&ready, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return n > 0 && read(fd, &byte, 1) == 1;
}

/* ---------------------------------------------------------- the probes */

struct probe_run {
    char *base;
    int to_parent[2], to_child[2];
};

static int probe_in_child(void *arg)
{
    struct probe_run *run = arg;

    close(run->to_parent[0]);
    close(run->to_child[1]);
    probe_all("child", run->base, board->child_before);
    tell(run->to_parent[1]);
    if (!heard_within(run->to_child[0], WAIT_MS))
        return 1;
    store_each_page(run->base + page_size(), 1, 'c');
    store_each_page(run->base, 1, 'n');
    probe_all("child, after writing pages 0 and 1", run->base, board->child_after);
    tell(run->to_parent[1]);
    heard_within(run->to_child[0], WAIT_MS); /* until the parent is done: EOF */
    return 0;
}

/* A parent, its child, the child's writes: every probe checked, same_page
 * asked before and after.  What failed is in board->failure. */
static void probe_with_a_child(void)
{
    struct probe_run run = {.base = map_anonymous(PAGES * page_size(), MAP_PRIVATE)};
    struct page_probe before[PAGES], after[PAGES];

    advise(run.base, PAGES * page_size(), MADV_NOHUGEPAGE);
    store_each_page(run.base + page_size(), 1, 'p');
    (void)*(volatile char *)(run.base + 2 * page_size());
    probe_all("parent, before the fork", run.base, before);
    if (pipe2(run.to_parent, O_CLOEXEC) != 0 || pipe2(run.to_child, O_CLOEXEC) != 0)
        die_errno("pipe2");
    uint64_t started = now_ns();
    pid_t pid = child_start(probe_in_child, &run);
    close(run.to_parent[1]);
    close(run.to_child[0]);
    if (heard_within(run.to_parent[0], WAIT_MS)) {
        probe_all("parent, after the fork", run.base, before);
        expect_same("before the child writes", 0, &before[0], &board->child_before[0], -1,
                    "neither has a page there");
        expect_same("before the child writes", 1, &before[1], &board->child_before[1], 1,
                    "the child has not written it: both map the parent's page");
        expect_same("before the child writes", 2, &before[2], &board->child_before[2], 1,
                    "both map the zero page");
        tell(run.to_child[1]);
    }
    if (heard_within(run.to_parent[0], WAIT_MS)) {
        probe_all("parent, after the child's writes", run.base, after);
        expect_same("after the child wrote page 0", 0, &after[0], &board->child_after[0], -1,
                    "the parent still has no page there");
        expect_same("after the child wrote it", 1, &after[1], &board->child_after[1], 0,
                    "the child's write gave it a copy of its own");
        expect_same("after the child's writes", 2, &after[2], &board->child_after[2], 1,
                    "both still map the zero page");
    }
    close(run.to_child[1]); /* the child may leave */
    struct child_result r = child_wait(pid, started, WAIT_MS);
    if (!child_ok(&r)) {
        char how[64];
        failed("the child of the probe test ended badly (%s)", child_describe(&r, how));
    }
    close(run.to_parent[0]);
    unmap(run.base, PAGES * page_size());
}

static void start_board(void)
{
    board = map_anonymous(sizeof *board, MAP_SHARED);
}

static void test_probe_bits(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    start_board();
    probe_with_a_child();
    if (board->failure[0] != '\0')
        lab_fail("%s", board->failure);
    lab_pass("every probe as pagemap says, in the parent and in the child; same_page right "
             "before and after the child's writes");
}

/* Become nobody (65534) if root: the pagemap of an ordinary user.  The
 * process stays dumpable, so that its /proc/self files are its own. */
static void drop_root(void)
{
    if (geteuid() != 0)
        return;
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
        die_errno("dropping root for nobody");
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
        die_errno("prctl(PR_SET_DUMPABLE)");
}

static int probe_as_nobody(void *arg)
{
    (void)arg;
    drop_root();
    probe_with_a_child();
    return 0;
}

static void test_probe_unprivileged(int argc, char *argv[])
{
    bool root = geteuid() == 0;

    (void)argc;
    (void)argv;
    start_board();
    struct child_result r = child_run(probe_as_nobody, NULL, 3 * WAIT_MS);
    if (board->failure[0] != '\0')
        lab_fail("as %s, where frame numbers are hidden: %s", root ? "nobody" : "this user",
                 board->failure);
    if (!child_ok(&r)) {
        char how[64];
        lab_fail("the unprivileged probe test ended badly (%s)", child_describe(&r, how));
    }
    lab_pass("as %s: every probe as pagemap says, frame numbers 0 (hidden), same_page right",
             root ? "nobody" : "this user");
}

/* ------------------------------------------------------ frame numbers */

/* X: a child that keeps the parent's page, probes it, and waits. */
static int keep_and_wait(void *arg)
{
    struct probe_run *run = arg;

    close(run->to_child[1]); /* so that the parent's close is our EOF */
    board->other[0] = probe_checked("first child", "the page", run->base);
    tell(run->to_parent[1]);
    heard_within(run->to_child[0], 3 * WAIT_MS);
    return 0;
}

/* Z: Y's child, which keeps Y's copy mapped twice, and waits. */
static int hold_and_wait(void *arg)
{
    int *hold = arg;

    close(hold[1]); /* so that Y's close is our EOF */
    heard_within(hold[0], 3 * WAIT_MS);
    return 0;
}

/* Y: a child that writes the page (a copy of its own), forks Z so that
 * the copy is mapped twice too, probes it, and waits. */
static int copy_share_and_wait(void *arg)
{
    struct probe_run *run = arg;
    int hold[2];

    close(run->to_child[1]); /* so that the parent's close is our EOF */
    store_each_page(run->base, 1, 'y');
    if (pipe2(hold, O_CLOEXEC) != 0)
        die_errno("pipe2");
    uint64_t started = now_ns();
    pid_t z = child_start(hold_and_wait, hold);
    close(hold[0]);
    board->other[1] =
        probe_checked("second child, sharing its copy with its own child", "the page", run->base);
    tell(run->to_parent[1]);
    heard_within(run->to_child[0], 3 * WAIT_MS);
    close(hold[1]);
    struct child_result r = child_wait(z, started, WAIT_MS);
    return child_ok(&r) ? 0 : 1;
}

static void test_probe_frames(int argc, char *argv[])
{
    struct lab_machine m;
    struct probe_run run;
    pid_t pids[2];
    uint64_t started = now_ns();
    int (*bodies[2])(void *) = {keep_and_wait, copy_share_and_wait};

    (void)argc;
    (void)argv;
    lab_machine_read(&m);
    if (!m.frame_numbers_visible)
        lab_skip("frame numbers are hidden here (they need root, CAP_SYS_ADMIN): "
                 "probe_unprivileged checks the rest");
    start_board();
    run.base = map_anonymous(page_size(), MAP_PRIVATE);
    advise(run.base, page_size(), MADV_NOHUGEPAGE);
    store_each_page(run.base, 1, 'p');
    if (pipe2(run.to_parent, O_CLOEXEC) != 0 || pipe2(run.to_child, O_CLOEXEC) != 0)
        die_errno("pipe2");
    for (int i = 0; i < 2; i++)
        pids[i] = child_start(bodies[i], &run);
    close(run.to_child[0]);
    if (heard_within(run.to_parent[0], WAIT_MS) && heard_within(run.to_parent[0], WAIT_MS)) {
        /* The parent's page is mapped by the first child too, the second
         * child's copy by its own child: not exclusive anywhere, so only
         * the frame numbers tell the two apart. */
        struct page_probe mine = probe_checked("parent", "the page", run.base);
        if (same_page(&mine, &board->other[0]) != 1)
            failed("same_page(the parent's probe, the probe of a child that never wrote the page) "
                   "returned %d; expected 1: both show frame 0x%" PRIx64,
                   same_page(&mine, &board->other[0]), mine.pfn);
        if (same_page(&mine, &board->other[1]) != 0)
            failed("same_page(the parent's probe, the probe of a child that wrote the page and "
                   "then forked) returned %d; expected 0: frames 0x%" PRIx64 " and 0x%" PRIx64
                   " differ, though both pages are mapped twice (exclusive 0 in both)",
                   same_page(&mine, &board->other[1]), mine.pfn, board->other[1].pfn);
    } else {
        failed("the children of the frame test did not report");
    }
    close(run.to_child[1]);
    close(run.to_parent[1]);
    for (int i = 0; i < 2; i++) {
        struct child_result r = child_wait(pids[i], started, 2 * WAIT_MS);
        if (!child_ok(&r)) {
            char how[64];
            failed("a child of the frame test ended badly (%s)", child_describe(&r, how));
        }
    }
    close(run.to_parent[0]);
    unmap(run.base, page_size());
    if (board->failure[0] != '\0')
        lab_fail("%s", board->failure);
    lab_pass("frame numbers as pagemap shows them; same_page decided by them where the "
             "exclusive bits cannot");
}

const struct lab_test lab_tests[] = {
    {"probe_bits", "probe_page and same_page, in a parent and its child", test_probe_bits},
    {"probe_unprivileged", "the same without root: frame numbers hidden (0)",
     test_probe_unprivileged},
    {"probe_frames", "as root: frame numbers, and same_page where only they tell",
     test_probe_frames},
};
const size_t lab_test_count = sizeof lab_tests / sizeof lab_tests[0];
