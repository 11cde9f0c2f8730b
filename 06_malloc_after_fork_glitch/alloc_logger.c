/*
 * alloc_logger.c - a logging wrapper around malloc and free that notices
 * it has been forked.
 *
 * logged_malloc/logged_free call the C library and append one line per
 * call to a buffer, under the logger's lock; past FLUSH_AT bytes the buffer
 * is written out - still under the lock.  Its output goes to a pipe nobody
 * reads (filled beforehand), so a logging thread ends up blocked in write()
 * holding the lock: at the fork, the lock is held (seen in /proc, not hoped).
 *
 * The logger remembers the pid it belongs to.  Its first call in a new
 * process sees getpid() changed and adopts the state it inherited: the
 * parent's pending records (writing them would print them twice), the
 * parent's counters, and a lock whose owner does not exist here.  It
 * reports that, starts afresh, and goes on.  Without the pid check
 * (--no-pid-check) the child's first record waits for that lock for ever,
 * as in userlock, until the watchdog kills it.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "memory.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { LOGGER_TRIALS = 5, PENDING_CAP = 2048, FLUSH_AT = 512, RECORD_MAX = 96 };

/* What a logger found when it noticed it was in a new process. */
struct fork_note {
    bool noticed;
    pid_t parent_pid;
    bool lock_held;           /* by a thread of the parent: none of ours */
    unsigned pending_records; /* the parent's, never written */
    unsigned long records;    /* the parent's count */
};

struct alloc_logger {
    pthread_mutex_t lock; /* guards everything below */
    bool check_pid;       /* notice a fork by getpid() (the lesson's fix) */
    pid_t pid;            /* the process this state belongs to */
    int fd;               /* where flushed records go */
    char pending[PENDING_CAP];
    size_t pending_bytes;
    unsigned pending_records;
    unsigned long records; /* made in this process */
    struct fork_note after_fork;
};

static void logger_init(struct alloc_logger *lg, int fd, bool check_pid)
{
    memset(lg, 0, sizeof *lg);
    pthread_mutex_init(&lg->lock, NULL);
    lg->check_pid = check_pid;
    lg->pid = getpid();
    lg->fd = fd;
}

/* First call in a new process: note what came from the parent, then start
 * afresh.  The lock is made new rather than unlocked: its owner is a thread
 * of another process (glibc treats its own locks the same way in fork). */
static void logger_adopt(struct alloc_logger *lg, pid_t now)
{
    int busy = pthread_mutex_trylock(&lg->lock) == EBUSY;

    lg->after_fork = (struct fork_note){
        .noticed = true,
        .parent_pid = lg->pid,
        .lock_held = busy,
        .pending_records = lg->pending_records,
        .records = lg->records,
    };
    pthread_mutex_init(&lg->lock, NULL);
    lg->pending_bytes = 0;
    lg->pending_records = 0;
    lg->records = 0;
    lg->pid = now;
}

/* Write the buffer out, all of it; the caller holds the lock. */
static void logger_flush_locked(struct alloc_logger *lg)
{
    size_t done = 0;

    while (done < lg->pending_bytes) {
        ssize_t n = write(lg->fd, lg->pending + done, lg->pending_bytes - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno("logger: write");
        done += (size_t)n;
    }
    lg->pending_bytes = 0;
    lg->pending_records = 0;
}

/* ptr travels as a number: the record prints the address, never reads it. */
static void logger_record(struct alloc_logger *lg, const char *op, size_t size, uintptr_t ptr)
{
    pid_t now = getpid();

    if (lg->check_pid && now != lg->pid) /* before the lock: a thread we lack may hold it */
        logger_adopt(lg, now);
    pthread_mutex_lock(&lg->lock);
    if (lg->pending_bytes + RECORD_MAX > PENDING_CAP)
        logger_flush_locked(lg);
    int n = snprintf(lg->pending + lg->pending_bytes, RECORD_MAX,
                     "pid=%d op=%s size=%zu ptr=%#lx\n", (int)now, op, size, (unsigned long)ptr);
    lg->pending_bytes += n < RECORD_MAX ? (size_t)n : RECORD_MAX - 1;
    lg->pending_records++;
    lg->records++;
    if (lg->pending_bytes >= FLUSH_AT)
        logger_flush_locked(lg);
    pthread_mutex_unlock(&lg->lock);
}

static void *logged_malloc(struct alloc_logger *lg, size_t size)
{
    void *p = malloc(size);

    logger_record(lg, "malloc", size, (uintptr_t)p);
    return p;
}

static void logged_free(struct alloc_logger *lg, void *p)
{
    logger_record(lg, "free", 0, (uintptr_t)p);
    free(p);
}

/* --- the experiment ---------------------------------------------------- */

struct logging_thread {
    pthread_t thread;
    struct alloc_logger *lg;
    int tid_pipe[2]; /* it sends its thread id here first */
    atomic_bool stop;
};

/* Allocate and free through the logger until told to stop; once the
 * output pipe is full it blocks in write() with the logger's lock held. */
static void *logging_main(void *arg)
{
    struct logging_thread *t = arg;

    send_tid(t->tid_pipe[1]);
    for (size_t size = 16; !atomic_load(&t->stop); size = size % 4000 + 16) {
        char *p = logged_malloc(t->lg, size);
        if (p == NULL)
            die_errno("malloc");
        p[0] = 1;
        logged_free(t->lg, p);
    }
    close(t->lg->fd); /* the last writer gone: the reader gets end of file */
    return NULL;
}

/* What the child gets: the logger, and where to copy what it found. */
struct child_view {
    struct alloc_logger *lg;
    struct fork_note *note; /* shared with the parent */
};

/* In the child: one allocation through the logger, and what it found. */
static int child_logs(void *arg)
{
    struct alloc_logger *lg = ((struct child_view *)arg)->lg;
    struct fork_note *note = ((struct child_view *)arg)->note;

    char *p = logged_malloc(lg, 64);
    if (p == NULL)
        return 3;
    p[0] = 1;
    logged_free(lg, p);
    *note = lg->after_fork;
    return lg->records == 2 && lg->pending_records == 2 ? 0 : 4;
}

/* One trial: a logging thread stuck in write() with the lock, a fork, the
 * child's first records, then the pipe drained and the thread stopped. */
static struct child_result trial(struct alloc_logger *lg, struct fork_note *note,
                                 bool *held_at_fork, const struct run_config *cfg)
{
    struct logging_thread t = {.lg = lg};
    int sink[2];
    pid_t tid;

    if (pipe2(sink, O_CLOEXEC) != 0 || pipe2(t.tid_pipe, O_CLOEXEC) != 0)
        die_errno("pipe2");
    fill_pipe(sink[1]);
    logger_init(lg, sink[1], !cfg->no_pid_check);
    t.thread = start_thread(logging_main, &t);
    tid = receive_tid(t.tid_pipe[0]);
    /* in write() to the full pipe: inside a flush, which holds the lock */
    *held_at_fork = wait_until_in_syscall(getpid(), tid, SYS_write, sink[1], cfg->timeout_ms);

    struct child_view view = {lg, note};
    struct child_result r = run_watched(child_logs, &view, cfg->timeout_ms);

    atomic_store(&t.stop, true);
    drain_until_eof(sink[0]);
    join_thread(t.thread);
    close(sink[0]);
    close(t.tid_pipe[0]);
    close(t.tid_pipe[1]);
    pthread_mutex_destroy(&lg->lock);
    return r;
}

/* What the trials showed, in words chosen from how they ended. */
static void explain_logger(const struct run_config *cfg, const struct fork_outcome *o,
                           unsigned noticed, const struct fork_note *note,
                           const struct child_result *last)
{
    if (noticed > 0) {
        char how[64];
        printf("%u of %u children's loggers saw getpid() change.  In the last, the state\n"
               "belonged to pid %d and it found:\n"
               "  the lock           %s\n"
               "  pending records    %u of the parent's, never written (writing them here would\n"
               "                     print them twice)\n"
               "  records made       %lu, the parent's count\n"
               "It dropped them, made a new lock, and logged the child's own calls: %s.\n",
               noticed, o->forks, (int)note->parent_pid,
               note->lock_held ? "held, by a thread that does not exist here" : "free",
               note->pending_records, note->records, child_describe(last, how));
        return;
    }
    printf("%s: each child's first record asked for\n"
           "the lock it inherited, held by a thread that does not exist in it.  %u of %u\n"
           "children deadlocked (the watchdog killed them); %u ended otherwise.\n",
           cfg->no_pid_check ? "No logger checked getpid() (--no-pid-check)"
                             : "No logger noticed the fork",
           o->deadlocked, o->forks, o->forks - o->deadlocked);
}

struct fork_outcome show_logger(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, LOGGER_TRIALS);
    struct fork_outcome o = {0};
    struct alloc_logger logger, *lg = &logger;
    struct fork_note *note = map_anonymous(sizeof *note, MAP_SHARED);
    unsigned held = 0, noticed = 0;

    heading(cfg->no_pid_check ? "logger: an allocation logger, without its pid check"
                              : "logger: an allocation logger that notices the pid change");
    printf("logged_malloc/logged_free log each call under the logger's lock and write the\n"
           "buffer out past %d bytes, lock held.  A thread logs allocations into a pipe\n"
           "nobody reads: at the fork it is blocked in write(), holding the lock.  The\n"
           "child allocates through the logger.\n",
           FLUSH_AT);
    struct child_result r = {0};
    for (unsigned i = 0; i < trials; i++) {
        bool held_at_fork;
        *note = (struct fork_note){0};
        r = trial(lg, note, &held_at_fork, cfg);
        count_outcome(&o, &r);
        held += held_at_fork;
        noticed += note->noticed;
    }
    explain_logger(cfg, &o, noticed, note, &r);
    fact_uint("forks_with_lock_held", held);
    fact_uint("forks_noticed", noticed);
    if (noticed > 0) { /* what the last child's logger found */
        fact_word("inherited_lock", note->lock_held ? "held" : "free");
        fact_uint("inherited_pending_records", note->pending_records);
        fact_uint("inherited_records", note->records);
    }
    facts_end();
    unmap(note, sizeof *note);
    print_outcome("logger", &o);
    return o;
}
