/*
 * support.c - what grader.h promises the lab's libraries, the notes that
 * children leave for the driver, and the journal file the tests read.
 *
 * The libraries' locks are error-checking mutexes, so that the mistakes a
 * plain mutex leaves undefined are refused and named: a lock taken twice by
 * one thread (EDEADLK: a parent handler that never released what prepare
 * took, or handlers registered twice), and an unlock by a thread that does
 * not hold it (EPERM: a child handler unlocking a lock its parent's forking
 * thread took).  lib_mutex_* call the real pthread functions (__real_...):
 * the interposed ones (unsafe.c) watch the student's own calls.
 */
#include "driver.h"

#include "cli.h"
#include "journal.h"
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct notes *notes;
pid_t driver_pid;

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_pthread_mutex_unlock(pthread_mutex_t *m);

void notes_init(void)
{
    notes = map_anonymous(sizeof *notes, MAP_SHARED);
    driver_pid = getpid();
}

void notes_clear(void)
{
    memset(notes, 0, sizeof *notes);
}

void child_says(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(notes->child_says, sizeof notes->child_says, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------ the libraries' locks */

/* Why a lock call was refused, with what usually causes it. */
static void describe_refusal(char *buf, size_t size, const char *call, const char *name, int err)
{
    char err_name[24];
    const char *why = "";

    if (err == EDEADLK)
        why = ": this thread holds it already (does the parent handler release what prepare "
              "took? are the handlers registered more than once?)";
    else if (err == EPERM)
        why = ": this thread does not hold it (in the child of fork() the lock's owner is the "
              "parent's forking thread: make the lock anew with lib_mutex_make, never unlock it)";
    snprintf(buf, size, "%s's lock: %s returned %s%s", name, call, errno_name(err, err_name), why);
}

/* In the driver, the test fails; in a child, a note and CHILD_LOCK_ERROR. */
static void lock_refused(const char *call, const char *name, int err)
{
    char what[sizeof notes->lock_error];

    describe_refusal(what, sizeof what, call, name, err);
    if (getpid() == driver_pid)
        lab_fail("%s", what);
    if (notes->lock_error[0] == '\0')
        memcpy(notes->lock_error, what, sizeof what);
    _exit(CHILD_LOCK_ERROR);
}

/* The libraries' locks, by address, so that a thread seen asleep on a
 * futex word can be said to wait for one of them (a mutex's lock word is
 * its first), and which. */
static struct {
    _Atomic uintptr_t address;
    _Atomic(const char *) name; /* from its first lib_mutex_lock */
} library_locks[8];

static void remember_library_lock(pthread_mutex_t *m, const char *name)
{
    uintptr_t address = (uintptr_t)m;

    for (size_t i = 0; i < sizeof library_locks / sizeof library_locks[0]; i++) {
        uintptr_t seen = 0;
        if (atomic_load(&library_locks[i].address) == address ||
            atomic_compare_exchange_strong(&library_locks[i].address, &seen, address)) {
            const char *none = NULL;
            if (name != NULL)
                atomic_compare_exchange_strong(&library_locks[i].name, &none, name);
            return;
        }
    }
}

const char *library_lock_name(uintptr_t address)
{
    for (size_t i = 0; i < sizeof library_locks / sizeof library_locks[0]; i++)
        if (address != 0 && atomic_load(&library_locks[i].address) == address) {
            const char *name = atomic_load(&library_locks[i].name);
            return name != NULL ? name : "a library's";
        }
    return NULL;
}

void lib_mutex_make(pthread_mutex_t *m)
{
    remember_library_lock(m, NULL);
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);

    if (err == 0)
        err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (err == 0)
        err = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    if (err != 0)
        die_err("pthread_mutex_init", err);
}

void lib_mutex_lock(pthread_mutex_t *m, const char *name)
{
    unsafe_check("pthread_mutex_lock"); /* a signal handler's child must take no lock */
    remember_library_lock(m, name);
    int err = __real_pthread_mutex_lock(m);
    if (err != 0)
        lock_refused("pthread_mutex_lock", name, err);
}

void lib_mutex_unlock(pthread_mutex_t *m, const char *name)
{
    int err = __real_pthread_mutex_unlock(m);

    if (err != 0)
        lock_refused("pthread_mutex_unlock", name, err);
}

/* ---------------------------------------------------------- pause points */

/* One thread at a time is armed; the hammering threads read these at every
 * call, so they are atomics (the thread is written before the stop that
 * publishes it). */
static struct {
    _Atomic(struct lab_stop *) stop;
    pthread_t thread;
    _Atomic int where;
    atomic_bool reached;
} armed;

void pause_arm(enum pause_point where, struct lab_stop *stop)
{
    armed.thread = pthread_self();
    atomic_store(&armed.where, (int)where);
    atomic_store(&armed.reached, false);
    atomic_store(&armed.stop, stop);
}

bool pause_disarm(void)
{
    atomic_store(&armed.stop, NULL);
    return atomic_load(&armed.reached);
}

void pause_point(enum pause_point where)
{
    struct lab_stop *stop = atomic_load(&armed.stop);

    if (stop == NULL || atomic_load(&armed.where) != (int)where ||
        !pthread_equal(armed.thread, pthread_self()))
        return;
    atomic_store(&armed.stop, NULL); /* once */
    atomic_store(&armed.reached, true);
    lab_stop_here(stop);
}

/* ------------------------------------------------------- the journal file */

int journal_file_open(void)
{
    int fd = open("journal.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);

    if (fd < 0)
        die_errno("open journal.log");
    return fd;
}

void log_record(unsigned writer, uint64_t *count)
{
    char text[48];

    snprintf(text, sizeof text, "w%u %" PRIu64, writer, *count);
    journal_log(text);
    (*count)++;
}

void wait_until_set(const atomic_bool *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire))
        sched_yield();
}

static struct {
    uint64_t expected; /* records the writer logged */
    uint64_t next;     /* the next one the file should hold */
    bool known;
} writers[WRITERS_MAX];

void journal_expect_reset(void)
{
    memset(writers, 0, sizeof writers);
}

void journal_expect(unsigned writer, uint64_t records)
{
    if (writer >= WRITERS_MAX)
        die("journal_expect: writer %u", writer);
    writers[writer].expected = records;
    writers[writer].known = true;
}

/* The whole file, NUL-terminated (malloc'd). */
static char *read_journal(size_t *len)
{
    int fd = open("journal.log", O_RDONLY | O_CLOEXEC);
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    ssize_t n;

    if (fd < 0)
        die_errno("open journal.log");
    if (buf == NULL)
        die_errno("malloc");
    while ((n = read(fd, buf + used, cap - used - 1)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno("read journal.log");
        used += (size_t)n;
        if (cap - used < 2) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL)
                die_errno("realloc");
            buf = bigger;
        }
    }
    close(fd);
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* One line "w<writer> <seq>" against what the writer logged; false (and
 * why) if it is wrong. */
static bool check_record(const char *line, size_t number, char *why, size_t size)
{
    unsigned writer;
    uint64_t seq;
    int end = 0;

    if (sscanf(line, "w%u %" SCNu64 "%n", &writer, &seq, &end) != 2 || line[end] != '\0' ||
        writer >= WRITERS_MAX || !writers[writer].known) {
        snprintf(why, size, "line %zu of the journal is '%.60s', which no thread or child logged",
                 number, line);
        return false;
    }
    uint64_t *next = &writers[writer].next;
    if (seq < *next) {
        snprintf(why, size,
                 "record 'w%u %" PRIu64 "' is in the journal twice (line %zu): a "
                 "record is written by the process that logged it, and only once; did a child "
                 "write out records it inherited from its parent?",
                 writer, seq, number);
        return false;
    }
    if (seq > *next) {
        snprintf(why, size,
                 "records 'w%u %" PRIu64 "' to 'w%u %" PRIu64 "' are missing from the "
                 "journal (line %zu holds 'w%u %" PRIu64 "'): were the parent's pending records "
                 "dropped?",
                 writer, *next, writer, seq - 1, number, writer, seq);
        return false;
    }
    (*next)++;
    return true;
}

bool journal_verify(char *why, size_t size)
{
    size_t len, number = 0;
    char *text = read_journal(&len);
    bool ok = true;

    for (unsigned w = 0; w < WRITERS_MAX; w++)
        writers[w].next = 0;
    if (len > 0 && text[len - 1] != '\n') {
        snprintf(why, size, "the journal ends in the middle of a record");
        ok = false;
    }
    for (char *line = text, *nl; ok && *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = '\0';
        ok = check_record(line, ++number, why, size);
    }
    free(text);
    for (unsigned w = 0; ok && w < WRITERS_MAX; w++)
        if (writers[w].known && writers[w].expected != JOURNAL_ANY &&
            writers[w].next != writers[w].expected) {
            snprintf(why, size,
                     "writer %u logged %" PRIu64 " records and the journal holds %" PRIu64
                     " of them (the last ones are missing: were pending records dropped?)",
                     w, writers[w].expected, writers[w].next);
            ok = false;
        }
    return ok;
}

void journal_check(const char *when)
{
    char why[512];

    if (!journal_verify(why, sizeof why))
        lab_fail("%s: %s", when, why);
}
