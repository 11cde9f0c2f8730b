/*
 * state.c - what a child inherits, and forks among busy threads:
 * smoke_single, child_state, fork_storm (and the driver's demo).
 *
 * Every record in the journal file names its writer and its number
 * ("w3 17"), so journal_check can say of each one whether it was written
 * once, twice (a child wrote out records it inherited from its parent) or
 * not at all (records dropped in the parent).
 */
#include "driver.h"

#include "child.h"
#include "cli.h"
#include "journal.h"
#include "stats.h"
#include "sync.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { CHILD_WRITER = 100, CHILD_RECORDS = 3 };

/* A child logs a few records of its own and writes them out. */
static int child_logs(void *arg)
{
    unsigned writer = (unsigned)(uintptr_t)arg;
    uint64_t count = 0;

    for (int i = 0; i < CHILD_RECORDS; i++)
        log_record(writer, &count);
    journal_flush();
    return 0;
}

/* --------------------------------------------------------- smoke_single */

struct single_writer {
    unsigned writer;
    uint64_t records, bytes;
};

static void *log_many(void *arg)
{
    struct single_writer *w = arg;
    char text[48];

    for (int i = 0; i < 2000; i++) {
        int len = snprintf(text, sizeof text, "w%u %d", w->writer, i);
        journal_log(text);
        w->bytes += (uint64_t)len + 1;
    }
    w->records = 2000;
    return NULL;
}

void test_smoke_single(int argc, char *argv[])
{
    struct single_writer writers[3] = {{.writer = 1}, {.writer = 2}, {.writer = 3}};
    pthread_t threads[3];
    int fd = journal_file_open();

    (void)argc;
    (void)argv;
    test_step = "logging from three threads, no fork";
    if (journal_open(fd, 512) != 0)
        lab_fail("journal_open(fd, 512) returned -1 (errno %d); expected 0", errno);
    for (int i = 0; i < 3; i++)
        threads[i] = start_thread(log_many, &writers[i]);
    journal_expect_reset();
    uint64_t records = 0, bytes = 0;
    for (int i = 0; i < 3; i++) {
        join_thread(threads[i]);
        journal_expect(writers[i].writer, writers[i].records);
        records += writers[i].records;
        bytes += writers[i].bytes;
    }
    journal_flush();
    journal_check("three threads logging, no fork");
    struct stats_totals t = stats_read();
    if (t.records != records || t.bytes != bytes)
        lab_fail("stats_read() gave records=%llu bytes=%llu after three threads logged %llu "
                 "records of %llu bytes; expected the same",
                 (unsigned long long)t.records, (unsigned long long)t.bytes,
                 (unsigned long long)records, (unsigned long long)bytes);
    close(fd);
    lab_pass("%llu records from three threads, each written once, in order; stats agree",
             (unsigned long long)records);
}

/* --------------------------------------------------------- child_state */

void test_child_state(int argc, char *argv[])
{
    unsigned forks = (unsigned)lab_arg(argc, argv, "forks", 3);
    uint64_t parent_records = 0;
    int fd = journal_file_open();
    char what[128];

    if (journal_open(fd, 1024) != 0)
        lab_fail("journal_open(fd, 1024) returned -1 (errno %d); expected 0", errno);
    journal_expect_reset();
    for (unsigned k = 0; k < forks; k++) {
        for (int i = 0; i < 150; i++) /* past flush_at: some written, then */
            log_record(0, &parent_records);
        journal_flush();
        for (int i = 0; i < 5; i++) /* five pending at the fork, for certain */
            log_record(0, &parent_records);
        notes_clear();
        test_step = "waiting for a child forked with records pending";
        struct lab_child_end e =
            lab_watch_child(child_start(child_logs, (void *)(uintptr_t)(CHILD_WRITER + k)),
                            CHILD_DEADLINE_MS, true);
        snprintf(what, sizeof what, "fork %u of %u, made with 5 of the parent's records pending",
                 k + 1, forks);
        fail_unless_child_ok(&e, what);
        journal_expect(CHILD_WRITER + k, CHILD_RECORDS);
    }
    journal_flush();
    journal_expect(0, parent_records);
    journal_check("the journal after forks made with records pending (w0: the parent; w100 and "
                  "up: children)");
    close(fd);
    lab_pass("%u children wrote only their own records, the parent all of its own, each once",
             forks);
}

/* ----------------------------------------------------------- fork_storm */

enum { HAMMERS_MAX = 8 };

struct hammer_thread {
    pthread_t thread;
    unsigned writer;
    uint64_t records; /* written by the thread, read after it is joined */
    atomic_bool *stop;
    atomic_bool started; /* it has logged at least one record */
};

static void *hammer_journal(void *arg)
{
    struct hammer_thread *h = arg;

    while (!atomic_load_explicit(h->stop, memory_order_relaxed)) {
        log_record(h->writer, &h->records);
        atomic_store_explicit(&h->started, true, memory_order_release);
    }
    return NULL;
}

unsigned fork_storm(unsigned threads, unsigned forks, unsigned run, bool verbose)
{
    struct hammer_thread hammers[HAMMERS_MAX] = {0};
    atomic_bool stop = false;
    uint64_t main_records = 0;
    unsigned failed = 0, failed_at = 0, first_writer = CHILD_WRITER + run * forks;
    bool ended_well[WRITERS_MAX] = {false};
    struct lab_child_end first_failure = {.how = LAB_CHILD_EXITED};
    char how[64];
    int fd = journal_file_open();

    if (threads > HAMMERS_MAX || first_writer + forks > WRITERS_MAX)
        die("fork_storm: at most %d threads and %d forks", HAMMERS_MAX, WRITERS_MAX - CHILD_WRITER);
    if (journal_open(fd, 512) != 0)
        lab_fail("journal_open(fd, 512) returned -1 (errno %d); expected 0", errno);
    for (unsigned i = 0; i < threads; i++) {
        hammers[i].writer = 1 + i;
        hammers[i].stop = &stop;
        hammers[i].thread = start_thread(hammer_journal, &hammers[i]);
    }
    test_step = "waiting for the threads to start logging";
    for (unsigned i = 0; i < threads; i++)
        wait_until_set(&hammers[i].started);
    test_step = "forking while threads log";
    for (unsigned k = 0; k < forks; k++) {
        log_record(0, &main_records);
        notes_clear();
        struct lab_child_end e =
            lab_watch_child(child_start(child_logs, (void *)(uintptr_t)(first_writer + k)),
                            CHILD_DEADLINE_MS, true);
        ended_well[k] = lab_child_ok(&e);
        if (verbose)
            printf("child %2u: %s\n", k + 1, lab_child_describe(&e, how));
        if (!lab_child_ok(&e) && failed++ == 0) {
            first_failure = e;
            failed_at = k + 1;
            if (!verbose) /* the test stops at the first: hammers stopped first */
                break;
        }
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < threads; i++)
        join_thread(hammers[i].thread);
    if (failed > 0 && !verbose)
        lab_fail("run %u, fork %u of %u, made while %u threads were logging: %s", run + 1,
                 failed_at, forks, threads, why_child_failed(&first_failure));
    journal_flush();
    journal_expect_reset();
    journal_expect(0, main_records);
    for (unsigned i = 0; i < threads; i++)
        journal_expect(hammers[i].writer, hammers[i].records);
    for (unsigned k = 0; k < forks; k++) /* a child that hung wrote what it could */
        journal_expect(first_writer + k, ended_well[k] ? CHILD_RECORDS : JOURNAL_ANY);
    char why[512];
    bool journal_ok = journal_verify(why, sizeof why);
    if (!journal_ok && !verbose)
        lab_fail("run %u, the journal after %u forks among %u logging threads: %s", run + 1, forks,
                 threads, why);
    if (verbose)
        printf("the journal: %s\n", journal_ok ? "every record written once" : why);
    close(fd);
    return failed + !journal_ok;
}

void test_fork_storm(int argc, char *argv[])
{
    unsigned runs = (unsigned)lab_arg(argc, argv, "runs", 3);
    unsigned threads = (unsigned)lab_arg(argc, argv, "threads", 3);
    unsigned forks = (unsigned)lab_arg(argc, argv, "forks", 20);

    for (unsigned run = 0; run < runs; run++)
        fork_storm(threads, forks, run, false);
    lab_pass("%u runs of %u forks among %u threads logging without pause: every child logged "
             "and wrote its records, every record written once",
             runs, forks, threads);
}
