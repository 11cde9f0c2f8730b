/*
 * journal.c - the journal library (journal.h), made fork-safe: the fork
 * lab's reference solution.
 *
 * The journal's lock guards its buffer of pending records and the
 * descriptor they go to.  journal_log holds it while it counts the record
 * in stats, so the two locks are always taken in one order: the journal's,
 * then the stats'.  fork() must take them in that order too, or a thread
 * inside journal_log (holding the journal's lock, wanting the stats') and
 * the forking thread (holding the stats', wanting the journal's) wait for
 * each other for ever.  Prepare handlers run in the reverse order of their
 * registration, so stats registers first (journal_setup calls stats_init
 * before registering its own), and the journal's prepare runs first.
 *
 *   prepare  take the journal's lock: no record is half-appended at the copy
 *   parent   release it
 *   child    make the lock anew, and drop the pending records: they are the
 *            parent's, which will write them; written here too, they would
 *            appear twice
 */
#include "journal.h"

#include "grader.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    pthread_mutex_t lock; /* guards everything below */
    int fd;               /* where records are written */
    size_t flush_at;      /* write the buffer out when it holds this much */
    size_t pending_bytes;
    char pending[JOURNAL_CAPACITY]; /* records logged and not yet written */
} journal;

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;

static void journal_prepare(void)
{
    lib_mutex_lock(&journal.lock, "journal");
}

static void journal_parent(void)
{
    lib_mutex_unlock(&journal.lock, "journal");
}

static void journal_child(void)
{
    lib_mutex_make(&journal.lock);
    journal.pending_bytes = 0;
}

static void register_fork_handlers(void)
{
    if (pthread_atfork(journal_prepare, journal_parent, journal_child) != 0)
        abort(); /* ENOMEM, its only failure: nothing sensible is left to do */
}

static void journal_setup(void)
{
    stats_init(); /* first: stats' handlers before ours, so ours prepare first */
    lib_mutex_make(&journal.lock);
    register_fork_handlers();
}

/* Write out the pending records, all of them; the caller holds the lock. */
static void journal_flush_locked(void)
{
    size_t done = 0;

    while (done < journal.pending_bytes) {
        ssize_t n = write(journal.fd, journal.pending + done, journal.pending_bytes - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the descriptor is gone or full: the records are lost, not retried */
        done += (size_t)n;
    }
    journal.pending_bytes = 0;
}

int journal_open(int fd, size_t flush_at)
{
    if (fd < 0 || flush_at == 0 || flush_at > JOURNAL_CAPACITY) {
        errno = EINVAL;
        return -1;
    }
    pthread_once(&journal_once, journal_setup);
    lib_mutex_lock(&journal.lock, "journal");
    if (journal.pending_bytes > 0)
        journal_flush_locked(); /* to the old descriptor, where they belong */
    journal.fd = fd;
    journal.flush_at = flush_at;
    lib_mutex_unlock(&journal.lock, "journal");
    return 0;
}

void journal_log(const char *text)
{
    size_t len = strnlen(text, JOURNAL_RECORD_MAX - 1);

    lib_mutex_lock(&journal.lock, "journal");
    pause_point(PAUSE_JOURNAL_LOCKED);
    if (journal.pending_bytes + len + 1 > JOURNAL_CAPACITY)
        journal_flush_locked();
    memcpy(journal.pending + journal.pending_bytes, text, len);
    journal.pending[journal.pending_bytes + len] = '\n';
    journal.pending_bytes += len + 1;
    stats_count(1, len + 1); /* the stats' lock inside the journal's: always this order */
    if (journal.pending_bytes >= journal.flush_at)
        journal_flush_locked();
    lib_mutex_unlock(&journal.lock, "journal");
}

void journal_flush(void)
{
    lib_mutex_lock(&journal.lock, "journal");
    pause_point(PAUSE_JOURNAL_FLUSHING);
    journal_flush_locked();
    lib_mutex_unlock(&journal.lock, "journal");
}
