/*
 * signals.c - _Fork() from a signal handler, and the student's child side:
 * signal_report, signal_malloc, signal_exec_fails.
 *
 * A worker thread logs through the journal without pause; the test sends
 * it SIGUSR1 or SIGUSR2 (pthread_kill), wherever it is - often inside
 * journal_log, holding the journal's lock.  The handler (the grader's, here)
 * calls _Fork(), which takes no lock and runs no handler, so the child may
 * find any lock held.  The child puts itself in a process group of its own
 * (the watchdog kills the group), arms the interposed unsafe functions
 * (unsafe.c) and calls crash_report_child, the student's, which must
 * execve the reporter (tests/reporter.c) or _exit.  The handler tells the
 * test the child's pid through a pipe (write(2): async-signal-safe).
 *
 * signal_malloc adds what makes an unsafe call hang for real: another
 * thread stopped inside malloc_stats(), which holds malloc's arena lock
 * while it prints.  Its stderr is swapped for a stream whose first write
 * stops the thread (fopencookie), so the lock is held, by construction,
 * at every fork; and half of the signals go to that very thread, as the
 * lesson's signal mode interrupts malloc.  A child that reaches malloc by
 * a path the interposer does not watch then sleeps on that lock, and the
 * watchdog says so.  While that thread holds the lock, the test itself
 * allocates nothing and prints nothing: it judges after letting it go.
 */
#include "driver.h"

#include "cli.h"
#include "crash_report.h"
#include "journal.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

enum { SIGNALS_DEFAULT = 6, SIGNALS_MAX = 64, TEXT_MAX = 256 };

/* What the handler and its child read, made before each signal is sent
 * and published with a release store that the handler loads (acquire):
 * sending a signal orders nothing by itself. */
struct signal_setup {
    struct crash_report report;
    int err_fd; /* the child's standard error */
};

static struct {
    _Atomic(const struct signal_setup *) setup;
    int pid_pipe[2]; /* the handler writes the child's pid (or -errno) here */
} handler;

/* In the child of _Fork(): only async-signal-safe calls, then the student's. */
static void child_of_handler(const struct signal_setup *setup, int signo)
{
    setpgid(0, 0); /* the watchdog kills its group */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != driver_pid)
        _exit(1); /* the driver is gone: nobody to report to */
    if (dup2(setup->err_fd, STDERR_FILENO) < 0)
        _exit(1);
    unsafe_arm();
    crash_report_child(&setup->report, signo);
    _exit(CHILD_RETURNED);
}

static void on_report_signal(int signo)
{
    int saved_errno = errno;
    const struct signal_setup *setup = atomic_load_explicit(&handler.setup, memory_order_acquire);
    pid_t pid = _Fork(); /* fork() here could wait for a lock the interrupted code holds */

    if (pid == 0)
        child_of_handler(setup, signo);
    long word = pid > 0 ? pid : -errno;
    if (write(handler.pid_pipe[1], &word, sizeof word) != sizeof word)
        _exit(1); /* the pipe cannot fail: the test owns both ends */
    errno = saved_errno;
}

static void install_handler(void)
{
    struct sigaction sa = {.sa_handler = on_report_signal, .sa_flags = SA_RESTART};

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGUSR2, &sa, NULL) != 0)
        die_errno("sigaction");
    if (pipe2(handler.pid_pipe, O_CLOEXEC) != 0)
        die_errno("pipe2");
}

/* ------------------------------------------------- the threads beside */

/* The worker: logs until told to stop, so that a signal lands anywhere in
 * journal_log, the journal's lock held or not. */
static struct {
    pthread_t thread;
    atomic_bool stop;
    atomic_bool logging; /* it has logged its first record */
    uint64_t records;
} worker;

static void *worker_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&worker.stop, memory_order_relaxed)) {
        log_record(1, &worker.records);
        atomic_store_explicit(&worker.logging, true, memory_order_release);
    }
    return NULL;
}

/* A thread stopped inside malloc_stats, holding malloc's arena lock. */
static struct {
    pthread_t thread;
    struct lab_stop stop;
    FILE *saved_stderr, *cookie;
    atomic_bool stopped;
    bool running;
} in_malloc;

/* malloc_stats's first line arrives here, arena lock held: stop. */
static ssize_t stop_in_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    (void)buf;
    if (!atomic_exchange(&in_malloc.stopped, true))
        lab_stop_here(&in_malloc.stop);
    return (ssize_t)n;
}

static void *malloc_stats_main(void *arg)
{
    (void)arg;
    malloc_stats(); /* glibc: prints each arena to stderr with its lock held */
    return NULL;
}

static void hold_malloc_lock(void)
{
    cookie_io_functions_t io = {.write = stop_in_write};

    lab_stop_init(&in_malloc.stop);
    in_malloc.cookie = fopencookie(NULL, "w", io);
    if (in_malloc.cookie == NULL)
        die_errno("fopencookie");
    setvbuf(in_malloc.cookie, NULL, _IONBF, 0);
    fflush(NULL);
    in_malloc.saved_stderr = stderr;
    stderr = in_malloc.cookie; /* glibc reads the variable: malloc_stats prints to our stream */
    in_malloc.thread = start_thread(malloc_stats_main, NULL);
    if (lab_stop_wait(&in_malloc.stop, 0, STEP_DEADLINE_MS) != LAB_STOPPED)
        die("malloc_stats() never wrote its first line");
    in_malloc.running = true;
}

static void release_malloc_lock(void)
{
    if (!in_malloc.running)
        return;
    in_malloc.running = false;
    lab_stop_resume(&in_malloc.stop);
    join_thread(in_malloc.thread);
    stderr = in_malloc.saved_stderr;
    fclose(in_malloc.cookie);
    lab_stop_close(&in_malloc.stop);
}

/* --------------------------------------------------- one signal, one child */

struct outcome {
    int signo;
    const char *target; /* "the worker thread", "the thread inside malloc" */
    struct lab_child_end end;
    char out[TEXT_MAX], err[TEXT_MAX], unsafe[64];
};

/* Whatever is in fd now (the writers are gone), NUL-terminated. */
static void read_leftover(int fd, char buf[static TEXT_MAX])
{
    size_t used = 0;
    ssize_t n;

    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
        die_errno("fcntl");
    while (used < TEXT_MAX - 1 && (n = read(fd, buf + used, TEXT_MAX - 1 - used)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN: all there is */
        used += (size_t)n;
    }
    buf[used] = '\0';
}

/* The pid the handler sent, or a failure; nothing allocated. */
static pid_t read_child_pid(void)
{
    struct pollfd pfd = {.fd = handler.pid_pipe[0], .events = POLLIN};
    long word = 0;
    int ready;

    while ((ready = poll(&pfd, 1, STEP_DEADLINE_MS)) < 0 && errno == EINTR)
        ;
    if (ready <= 0 || read(handler.pid_pipe[0], &word, sizeof word) != sizeof word)
        return -1;
    return word > 0 ? (pid_t)word : -1;
}

/* Send signo to target and watch the child the handler makes. */
static void one_signal(pthread_t target, const char *reporter, struct outcome *o)
{
    int out[2], err[2];

    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        die_errno("pipe2");
    static struct signal_setup setup;
    setup = (struct signal_setup){
        .report = {.reporter = reporter, .out_fd = out[1], .pid = driver_pid},
        .err_fd = err[1],
    };
    atomic_store_explicit(&handler.setup, &setup, memory_order_release);
    notes_clear();
    int e = pthread_kill(target, o->signo);
    if (e != 0)
        die_err("pthread_kill", e);
    pid_t pid = read_child_pid();
    if (pid < 0)
        die("the signal handler made no child (_Fork failed)");
    o->end = lab_watch_child(pid, CHILD_DEADLINE_MS, true);
    close(out[1]);
    close(err[1]);
    read_leftover(out[0], o->out);
    read_leftover(err[0], o->err);
    close(out[0]);
    close(err[0]);
    memcpy(o->unsafe, notes->unsafe_call, sizeof o->unsafe);
}

/* What went wrong with how the child ended, or NULL if it exited with a
 * status of its own (the reporter's, or its _exit). */
static const char *judge_end(const struct outcome *o, char *why, size_t size)
{
    char how[64];

    if (o->end.how == LAB_CHILD_EXITED && o->end.code == CHILD_UNSAFE)
        snprintf(why, size,
                 "the child called %s() before execve or _exit: it is not "
                 "async-signal-safe (signal-safety(7)), and another thread may hold the lock it "
                 "takes",
                 o->unsafe);
    else if (o->end.how == LAB_CHILD_EXITED && o->end.code == CHILD_RETURNED)
        snprintf(why, size,
                 "crash_report_child returned without running the reporter; it must "
                 "end with execve, or _exit(127) if execve fails");
    else if (o->end.how == LAB_CHILD_DEADLOCKED)
        snprintf(why, size,
                 "the child sleeps on a lock for ever: it called something that takes "
                 "one (malloc's, or stdio's: another thread held it at the _Fork)");
    else if (o->end.how != LAB_CHILD_EXITED)
        snprintf(why, size, "the child was %s (its stderr: '%.100s')",
                 lab_child_describe(&o->end, how), o->err);
    else
        return NULL;
    return why;
}

/* What went wrong with a child that should have run the reporter, or NULL. */
static const char *judge_report(const struct outcome *o, const char *reporter, char *why,
                                size_t size)
{
    char want[TEXT_MAX];

    snprintf(want, sizeof want, "report argc=3 pid=%d signal=%d ppid=%d\n", (int)driver_pid,
             o->signo, (int)driver_pid);
    if (judge_end(o, why, size) != NULL)
        return why;
    if (o->end.code != 0)
        snprintf(why, size,
                 "the child exited with status %d (its stderr: '%.*s'); expected the "
                 "reporter %.200s to run and exit 0",
                 o->end.code, (int)strcspn(o->err, "\n"), o->err, reporter);
    else if (strcmp(o->out, want) != 0)
        snprintf(why, size,
                 "the reporter printed '%.*s' on out_fd; expected '%.*s' (argv: the "
                 "reporter's path, the pid, the signal; its standard output on out_fd; run by "
                 "execve in the child itself)",
                 (int)strcspn(o->out, "\n"), o->out, (int)strcspn(want, "\n"), want);
    else
        return NULL;
    return why;
}

/* The reporter, built beside the driver. */
static const char *reporter_path(void)
{
    static char path[4096];
    const char *out = getenv("LAB_OUT");

    if (out == NULL)
        die("LAB_OUT is not set (run by make grade)");
    snprintf(path, sizeof path, "%s/reporter", out);
    return path;
}

static void start_worker(void)
{
    int fd = journal_file_open();

    if (journal_open(fd, 4096) != 0)
        die_errno("journal_open");
    worker.thread = start_thread(worker_main, NULL);
    /* A signal sent sooner could land while the thread is still being set
     * up, before it runs any of the journal's code: nothing of the
     * student's is tested then, and a sanitizer's runtime, which does not
     * know that thread's stack yet, warns on the child's stderr when the
     * child calls _exit (seen with ASan: 10 runs of 231 failed so). */
    test_step = "waiting for the worker thread to log its first record";
    wait_until_set(&worker.logging);
}

static void stop_worker(void)
{
    atomic_store(&worker.stop, true);
    join_thread(worker.thread);
}

/* Signals alternately SIGUSR1 and SIGUSR2, to the worker, or (with the
 * malloc lock held) every other one to the thread inside malloc. */
static void run_signals(unsigned signals, bool inside_malloc, const char *reporter,
                        struct outcome outcomes[])
{
    for (unsigned i = 0; i < signals; i++) {
        struct outcome *o = &outcomes[i];
        bool to_malloc = inside_malloc && i % 2 == 1;
        o->signo = i % 2 == 0 ? SIGUSR1 : SIGUSR2;
        o->target = to_malloc ? "the thread inside malloc_stats" : "the thread logging";
        one_signal(to_malloc ? in_malloc.thread : worker.thread, reporter, o);
    }
}

static void report_tests(int argc, char *argv[], bool inside_malloc)
{
    unsigned signals = (unsigned)lab_arg(argc, argv, "signals", SIGNALS_DEFAULT);
    struct outcome outcomes[SIGNALS_MAX] = {0};
    const char *reporter = reporter_path();
    char why[512];

    if (signals > SIGNALS_MAX)
        die("signals=%u: at most %d", signals, SIGNALS_MAX);
    if (inside_malloc) {
        const char *sanitizer = getenv("LAB_SANITIZER");
        if (sanitizer != NULL && (strcmp(sanitizer, "asan") == 0 || strcmp(sanitizer, "tsan") == 0))
            lab_skip("a sanitizer build (%s) has its own malloc: no thread can be held inside "
                     "glibc's",
                     sanitizer);
        mallopt(M_ARENA_MAX, 1); /* every thread, the children too, on the lock held */
    }
    install_handler();
    start_worker();
    if (inside_malloc)
        hold_malloc_lock();
    test_step = "sending signals, watching the children their handler makes";
    run_signals(signals, inside_malloc, reporter, outcomes);
    release_malloc_lock();
    stop_worker();
    for (unsigned i = 0; i < signals; i++)
        if (judge_report(&outcomes[i], reporter, why, sizeof why))
            lab_fail("signal %u of %u (%s, to %s%s): %s", i + 1, signals,
                     outcomes[i].signo == SIGUSR1 ? "SIGUSR1" : "SIGUSR2", outcomes[i].target,
                     inside_malloc ? ", another thread inside malloc holding its lock" : "", why);
    lab_pass("%u signals, each child ran the reporter with the right arguments and standard "
             "output, calling nothing unsafe on the way%s",
             signals, inside_malloc ? ", while another thread held malloc's lock" : "");
}

void test_signal_report(int argc, char *argv[])
{
    report_tests(argc, argv, false);
}

void test_signal_malloc(int argc, char *argv[])
{
    report_tests(argc, argv, true);
}

void test_signal_exec_fails(int argc, char *argv[])
{
    char missing[4096], want[4200], why[512];
    const char *tmp = getenv("LAB_TMP");
    struct outcome o = {.signo = SIGUSR1};

    (void)argc;
    (void)argv;
    snprintf(missing, sizeof missing, "%s/no-such-reporter", tmp != NULL ? tmp : ".");
    install_handler();
    start_worker();
    test_step = "sending a signal whose reporter does not exist";
    one_signal(worker.thread, missing, &o);
    stop_worker();
    snprintf(want, sizeof want, "crash_report: cannot execute %s (errno %d)\n", missing, ENOENT);
    if (judge_end(&o, why, sizeof why) != NULL)
        lab_fail("a reporter that does not exist (%s): %s", missing, why);
    if (o.end.code != 127)
        lab_fail("a reporter that does not exist (%s): the child exited with status %d; expected "
                 "_exit(127)",
                 missing, o.end.code);
    if (strcmp(o.err, want) != 0)
        lab_fail("a reporter that does not exist: the child wrote '%.*s' on stderr; expected "
                 "'%.*s'",
                 (int)strcspn(o.err, "\n"), o.err, (int)strcspn(want, "\n"), want);
    lab_pass("execve failed (ENOENT): the child said so on stderr and left with _exit(127), "
             "calling nothing unsafe");
}
