/*
 * driver.h - the fork lab's test driver, shared between its files.
 *
 *   fork_driver.c   the command line, the table of tests, the demo
 *   support.c       what grader.h promises the libraries (error-checking
 *                   locks, pause points), the notes children leave for the
 *                   driver, and the journal file: reading it, checking it
 *   unsafe.c        the functions a signal handler's child must not call,
 *                   interposed (ld --wrap): armed, each one reports itself
 *   held.c          forks while another thread holds a library's lock, made
 *                   certain by a pause point (held_journal, held_stats,
 *                   handler_order)
 *   state.c         what the child inherits (smoke_single, child_state), and
 *                   forks among hammering threads (fork_storm, the demo)
 *   signals.c       _Fork() from a signal handler, the child running the
 *                   reporter (signal_report, signal_malloc, signal_exec_fails)
 *   reporter.c      the reporter program the child runs
 */
#ifndef FORK_DRIVER_H
#define FORK_DRIVER_H

#include "grader.h"
#include "lab/lab.h"
#include "lab/lab_fork.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    CHILD_DEADLINE_MS = 10000, /* a child's work takes milliseconds: past this it hangs */
    STEP_DEADLINE_MS = 10000,  /* the same for one step of a test (a thread to stop) */
    /* a child's exit statuses that say what it found (0: all well) */
    CHILD_LOCK_ERROR = 70, /* lib_mutex_* refused a call: notes->lock_error says which */
    CHILD_TORN = 71,       /* stats_read gave half an update: notes->child_says */
    CHILD_UNSAFE = 72,     /* called a function a signal handler's child must not */
    CHILD_RETURNED = 73,   /* crash_report_child returned */
    CHILD_WRONG = 74,      /* another check failed: notes->child_says */
};

/* What children (and the interposed functions in them) leave for the
 * driver, in memory shared with every process it forks. */
struct notes {
    char lock_error[256]; /* the first refused lock call, in words */
    char unsafe_call[64]; /* the first unsafe function a signal child called */
    char child_says[256]; /* what a child found wrong */
};
extern struct notes *notes;

/* What the test is doing, for the crash and hang report. */
extern const char *volatile test_step;
void describe_step(struct lab_text *t);

/* support.c: set up the notes (before the first fork); clear them. */
void notes_init(void);
void notes_clear(void);
/* In a child: record what it found, in words. */
void child_says(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The pid of the driver itself: lib_mutex_* fail the test there, and only
 * leave a note and exit in a child. */
extern pid_t driver_pid;

/* The name of the library whose lock is at address ("journal"), or NULL
 * if it is none of theirs. */
const char *library_lock_name(uintptr_t address);

/* The pause points: arm the calling thread to stop at where (once), through
 * stop; pause_point then calls lab_stop_here. */
void pause_arm(enum pause_point where, struct lab_stop *stop);
/* True if the armed stop was reached; disarms it either way. */
bool pause_disarm(void);

/* "journal.log" in the test's scratch folder, opened to append (children
 * and the parent write to it at once, a write at a time). */
int journal_file_open(void);

/*
 * The journal file's records are "w<writer> <seq>": writer is a number the
 * test gives each thread or child, seq counts that writer's records from 0.
 * journal_expect(w, n) says writer w logged n records; journal_check reads
 * the file and fails the test unless each writer's records appear exactly
 * once each, in order, and nothing else does.
 */
enum { WRITERS_MAX = 512 };
#define JOURNAL_ANY UINT64_MAX /* journal_expect: any number of records, each once */
void journal_expect_reset(void);
void journal_expect(unsigned writer, uint64_t records);
void journal_check(const char *when);
/* The same check, without failing: false, and why in why, if it fails. */
bool journal_verify(char *why, size_t size);
/* Log writer's next record: "w<writer> <seq>" (seq is *count, then counted). */
void log_record(unsigned writer, uint64_t *count);
/* Wait until another thread sets flag (it has logged its first record). */
void wait_until_set(const atomic_bool *flag);

/* held.c: how a child that did not end well ended, explained. */
const char *why_child_failed(const struct lab_child_end *e);
void fail_unless_child_ok(const struct lab_child_end *e, const char *what);

/* unsafe.c: from now on (in a signal handler's child), a call to any
 * interposed function is recorded in notes->unsafe_call and ends the
 * process with CHILD_UNSAFE. */
void unsafe_arm(void);
/* Called first by each interposed function (and lib_mutex_lock): when
 * armed, record function and leave. */
void unsafe_check(const char *function);

/* state.c: the fork storm, for the test and the demo: the number of
 * children that did not end well, plus 1 if the journal is wrong.  The
 * test fails at the first problem; verbose (the demo) prints each child's
 * end and what the journal shows, and goes on. */
unsigned fork_storm(unsigned threads, unsigned forks, unsigned run, bool verbose);

/* The tests. */
typedef void test_fn(int argc, char *argv[]);
test_fn test_smoke_single, test_held_journal, test_held_stats, test_child_state, test_handler_order,
    test_fork_storm, test_signal_report, test_signal_malloc, test_signal_exec_fails;

#endif
