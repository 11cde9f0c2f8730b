/*
 * held.c - fork() while another thread is inside a library, holding its
 * lock: held_journal, held_stats, handler_order.
 *
 * Luck would rarely put a thread inside a critical section at the instant
 * of a fork; a pause point does it every time.  A holder thread calls the
 * library, armed to stop at one of its pause points (grader.h), and says
 * so.  Then the main thread forks, and a releaser thread watches it:
 *
 *   - if fork() returns while the holder is still stopped, no prepare
 *     handler took the lock: the child has it held, by a thread it does
 *     not have, and its first call into the library sleeps for ever - the
 *     watchdog sees its only thread asleep on a lock (lab_watch_child);
 *   - if the forking thread goes to sleep on a lock, a prepare handler is
 *     waiting for the holder: the releaser lets the holder go, the
 *     library's state is complete when the copy is made, and the child
 *     must find it usable.
 *
 * The releaser goes on watching: if the holder, let go, goes to sleep on a
 * lock too while fork() has not returned, the two wait for each other -
 * prepare handlers that take the locks in the other order than the code
 * does (handler_order) - and the test fails at once, naming the order.
 * Every verdict holds under any interleaving: nothing here depends on how
 * long anything takes.
 */
#include "driver.h"

#include "child.h"
#include "cli.h"
#include "journal.h"
#include "stats.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One fork with a thread stopped inside a library. */
struct held {
    enum pause_point where;   /* where the holder stops */
    const char *inside;       /* "journal_log" */
    void (*enter)(void *arg); /* the library call the holder makes */
    void *enter_arg;
    int (*child)(void *arg); /* what the child of the fork does */
    void *child_arg;
};

struct holder {
    const struct held *h;
    struct lab_stop stop;
    pid_t tid;
};

static void *holder_main(void *arg)
{
    struct holder *ho = arg;

    ho->tid = gettid(); /* read by the main thread after the stop: the pipe orders it */
    pause_arm(ho->h->where, &ho->stop);
    ho->h->enter(ho->h->enter_arg);
    if (!pause_disarm())
        lab_stop_note(&ho->stop, 'e'); /* it returned without stopping */
    return NULL;
}

struct releaser {
    struct lab_stop *stop;
    pid_t forker, holder; /* thread ids */
    const char *inside;
    atomic_bool forked; /* fork() has returned in the parent */
};

/* Thread tid sleeps on one of the libraries' locks (not on a lock of the
 * C library's, or a sanitizer's). */
static bool asleep_on_library_lock(pid_t tid)
{
    uintptr_t word;

    return lab_waiting_for_lock_at(getpid(), tid, &word) && library_lock_name(word) != NULL;
}

static void *releaser_main(void *arg)
{
    struct releaser *r = arg;

    while (!atomic_load(&r->forked) && !asleep_on_library_lock(r->forker))
        sched_yield(); /* a look every few microseconds: a condition, not a delay */
    lab_stop_resume(r->stop);
    while (!atomic_load(&r->forked)) {
        if (asleep_on_library_lock(r->holder) && asleep_on_library_lock(r->forker))
            lab_fail("deadlock in the parent: fork() waits in a prepare handler for a lock that "
                     "a thread inside %s holds, and that thread waits for a lock the prepare "
                     "handlers took before: they take the locks in another order than the "
                     "libraries do (journal_log holds the journal's lock while it counts in "
                     "stats: the journal's prepare must run first, and prepare handlers run in "
                     "the reverse order of registration, so stats must register first)",
                     r->inside);
        sched_yield();
    }
    return NULL;
}

/* Fork with a thread stopped inside h->inside; how the child ended. */
static struct lab_child_end fork_while_held(const struct held *h)
{
    struct holder ho = {.h = h};

    lab_stop_init(&ho.stop);
    pthread_t holder = start_thread(holder_main, &ho);
    test_step = "waiting for a thread to stop at its pause point";
    int got = lab_stop_wait(&ho.stop, 0, STEP_DEADLINE_MS);
    if (got == 'e')
        lab_fail("%s returned without reaching its pause point: leave the calls to pause_point() "
                 "where they are in the library's code",
                 h->inside);
    if (got != LAB_STOPPED)
        lab_fail("a thread calling %s neither stopped at its pause point nor returned in %d ms",
                 h->inside, STEP_DEADLINE_MS);

    struct releaser rel = {
        .stop = &ho.stop, .forker = gettid(), .holder = ho.tid, .inside = h->inside};
    pthread_t releaser = start_thread(releaser_main, &rel);
    test_step = "in fork(), while another thread is inside a library";
    pid_t pid = child_start(h->child, h->child_arg);
    atomic_store(&rel.forked, true);
    join_thread(releaser);
    test_step = "waiting for the thread that was inside the library to return";
    join_thread(holder);
    lab_stop_close(&ho.stop);
    test_step = "waiting for the child of fork()";
    return lab_watch_child(pid, CHILD_DEADLINE_MS, true);
}

const char *why_child_failed(const struct lab_child_end *e)
{
    static char why[768];
    char how[64];
    const char *lock_note = notes->lock_error[0] != '\0' ? notes->lock_error : NULL;

    switch (e->how) {
    case LAB_CHILD_DEADLOCKED: {
        const char *lock = library_lock_name(e->lock_word);
        snprintf(why, sizeof why,
                 "the child's only thread sleeps for ever on %s%s lock: held at the fork by a "
                 "thread of the parent, which does not exist in the child; a prepare handler, "
                 "registered when the library is set up, must take it, so that fork() waits "
                 "until no thread is inside, and the child handler make it anew%s%s",
                 lock ? "the " : "a", lock ? lock : "", lock_note ? "; and before that: " : "",
                 lock_note ? lock_note : "");
        break;
    }
    case LAB_CHILD_EXITED:
        if (e->code == CHILD_LOCK_ERROR && lock_note) {
            snprintf(why, sizeof why, "%s", lock_note);
            break;
        }
        if ((e->code == CHILD_TORN || e->code == CHILD_WRONG) && notes->child_says[0] != '\0') {
            snprintf(why, sizeof why, "%s", notes->child_says);
            break;
        }
        /* fall through */
    default:
        snprintf(why, sizeof why, "the child ended otherwise: %s%s%s", lab_child_describe(e, how),
                 lock_note ? "; " : "", lock_note ? lock_note : "");
    }
    return why;
}

void fail_unless_child_ok(const struct lab_child_end *e, const char *what)
{
    if (!lab_child_ok(e))
        lab_fail("%s: %s", what, why_child_failed(e));
}

/* ------------------------------------------------------------ the tests */

enum { CHILD_WRITER = 100, DEFAULT_FORKS = 3, LARGE_FLUSH = 32 << 10 };

/* A child of these tests logs two records of its own and writes them out. */
static int child_logs(void *arg)
{
    unsigned writer = (unsigned)(uintptr_t)arg;
    uint64_t count = 0;

    log_record(writer, &count);
    log_record(writer, &count);
    journal_flush();
    return 0;
}

static uint64_t holder_records;

static void log_then_flush(void *arg)
{
    (void)arg;
    log_record(0, &holder_records);
    journal_flush(); /* stops inside, holding the journal's lock */
}

static void log_one(void *arg)
{
    (void)arg;
    log_record(0, &holder_records); /* stops inside, before counting in stats */
}

/* Open the journal twice, as a program may: the handlers must still be
 * registered once (twice, prepare would lock twice). */
static void open_journal_twice(int fd)
{
    int scratch = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (scratch < 0)
        die_errno("open /dev/null");
    if (journal_open(scratch, LARGE_FLUSH) != 0 || journal_open(fd, LARGE_FLUSH) != 0)
        lab_fail("journal_open returned -1 (errno %d); expected 0", errno);
    close(scratch);
}

/* The forks of held_journal and handler_order: a thread stopped at where. */
static void forks_inside_journal(int argc, char *argv[], enum pause_point where,
                                 void (*enter)(void *arg), const char *inside)
{
    unsigned forks = (unsigned)lab_arg(argc, argv, "forks", DEFAULT_FORKS);
    int fd = journal_file_open();
    char what[160];

    open_journal_twice(fd);
    journal_expect_reset();
    for (unsigned k = 0; k < forks; k++) {
        struct held h = {.where = where,
                         .inside = inside,
                         .enter = enter,
                         .child = child_logs,
                         .child_arg = (void *)(uintptr_t)(CHILD_WRITER + k)};
        notes_clear();
        struct lab_child_end e = fork_while_held(&h);
        snprintf(what, sizeof what, "fork %u of %u, made while another thread was inside %s", k + 1,
                 forks, inside);
        fail_unless_child_ok(&e, what);
        journal_expect(CHILD_WRITER + k, 2);
    }
    test_step = "writing the parent's records";
    journal_flush(); /* the parent's journal still works: its handler released the lock */
    journal_expect(0, holder_records);
    journal_check("the journal after the forks (w0: the parent's thread; w100 and up: children)");
    close(fd);
}

void test_held_journal(int argc, char *argv[])
{
    forks_inside_journal(argc, argv, PAUSE_JOURNAL_FLUSHING, log_then_flush, "journal_flush");
    lab_pass("every child of a fork made while a thread was inside journal_flush logged and "
             "wrote its records; each record written once");
}

void test_handler_order(int argc, char *argv[])
{
    forks_inside_journal(argc, argv, PAUSE_JOURNAL_LOCKED, log_one, "journal_log");
    lab_pass("fork() waited for a thread inside journal_log, holding the journal's lock and "
             "about to take the stats': the prepare handlers take the locks in the libraries' "
             "order");
}

/* held_stats: the totals before the update in progress, and that update. */
static struct {
    struct stats_totals before;
    uint64_t update_bytes;
} in_progress;

static void count_big(void *arg)
{
    (void)arg;
    stats_count(1, in_progress.update_bytes); /* stops half-way */
}

static bool totals_equal(struct stats_totals a, struct stats_totals b)
{
    return a.records == b.records && a.bytes == b.bytes;
}

/* In the child: the totals are one of the two whole states, and usable. */
static int child_reads_stats(void *arg)
{
    struct stats_totals seen = stats_read(), before = in_progress.before;
    struct stats_totals after = {before.records + 1, before.bytes + in_progress.update_bytes};

    (void)arg;
    if (!totals_equal(seen, before) && !totals_equal(seen, after)) {
        child_says("stats_read() in the child gave records=%llu bytes=%llu: half of an update "
                   "(before it the totals were %llu and %llu, after it %llu and %llu); a prepare "
                   "handler must take the stats' lock, so that fork() waits for the update",
                   (unsigned long long)seen.records, (unsigned long long)seen.bytes,
                   (unsigned long long)before.records, (unsigned long long)before.bytes,
                   (unsigned long long)after.records, (unsigned long long)after.bytes);
        return CHILD_TORN;
    }
    stats_count(1, 7);
    struct stats_totals later = stats_read();
    if (later.records != seen.records + 1 || later.bytes != seen.bytes + 7) {
        child_says("after stats_count(1, 7) in the child, stats_read() gave records=%llu "
                   "bytes=%llu; expected %llu and %llu",
                   (unsigned long long)later.records, (unsigned long long)later.bytes,
                   (unsigned long long)seen.records + 1, (unsigned long long)seen.bytes + 7);
        return CHILD_WRONG;
    }
    return 0;
}

void test_held_stats(int argc, char *argv[])
{
    unsigned forks = (unsigned)lab_arg(argc, argv, "forks", DEFAULT_FORKS);
    char what[160];

    stats_init();
    for (unsigned k = 0; k < forks; k++) {
        stats_count(1, 10);
        in_progress.before = stats_read();
        in_progress.update_bytes = 1000 * (k + 1);
        struct held h = {.where = PAUSE_STATS_HALFWAY,
                         .inside = "stats_count",
                         .enter = count_big,
                         .child = child_reads_stats};
        notes_clear();
        struct lab_child_end e = fork_while_held(&h);
        snprintf(what, sizeof what,
                 "fork %u of %u, made while another thread was half-way "
                 "through stats_count",
                 k + 1, forks);
        fail_unless_child_ok(&e, what);
        struct stats_totals now = stats_read(); /* the parent's: its handler released the lock */
        if (now.records != in_progress.before.records + 1 ||
            now.bytes != in_progress.before.bytes + in_progress.update_bytes)
            lab_fail("after fork %u the parent's totals are records=%llu bytes=%llu; expected "
                     "%llu and %llu",
                     k + 1, (unsigned long long)now.records, (unsigned long long)now.bytes,
                     (unsigned long long)in_progress.before.records + 1,
                     (unsigned long long)(in_progress.before.bytes + in_progress.update_bytes));
    }
    lab_pass("every child of a fork made half-way through stats_count found whole totals and "
             "could count");
}
