/*
 * lab_fork.c - stop points, lock waits seen in /proc, watched children and
 * private shared memory for the labs whose drivers fork (see lab_fork.h).
 *
 * Nothing here calls malloc or stdio on the way that may run while another
 * thread of the driver is held inside malloc (lab 06 holds one there on
 * purpose): paths are built by hand, directories read with getdents64.
 */
#include "lab_fork.h"

#include "cli.h"
#include "clock.h"
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ stop points */

void lab_stop_init(struct lab_stop *s)
{
    if (pipe2(s->at, O_CLOEXEC) != 0 || pipe2(s->go, O_CLOEXEC) != 0)
        die_errno("pipe2");
}

void lab_stop_close(struct lab_stop *s)
{
    close(s->at[0]);
    close(s->at[1]);
    close(s->go[0]);
    close(s->go[1]);
}

/* One byte, retried on EINTR (a signal handler may interrupt).  The test
 * owns both ends of the pipe, so a failure means the test is broken: leave
 * at once, saying so with write(2) alone (this runs in signal handlers and
 * in children of threaded processes). */
static void put_byte(int fd, char byte)
{
    static const char broken[] = "lab_fork: a stop point's pipe is broken\n";
    ssize_t n;

    while ((n = write(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1) {
        ssize_t said = write(STDERR_FILENO, broken, sizeof broken - 1);
        (void)said; /* if even that fails, there is no one left to tell */
        _exit(EXIT_FAILURE);
    }
}

void lab_stop_note(struct lab_stop *s, char byte)
{
    put_byte(s->at[1], byte);
}

void lab_stop_here(struct lab_stop *s)
{
    char byte;
    int saved_errno = errno;

    put_byte(s->at[1], LAB_STOPPED);
    while (read(s->go[0], &byte, 1) < 0 && errno == EINTR)
        ;
    errno = saved_errno;
}

void lab_stop_resume(struct lab_stop *s)
{
    put_byte(s->go[1], 'g');
}

static int open_pidfd(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);

    if (fd < 0)
        die_errno("pidfd_open");
    return fd;
}

/* Milliseconds from now to deadline_ns, at least 0. */
static int ms_until(uint64_t deadline_ns)
{
    uint64_t now = now_ns();

    return now >= deadline_ns ? 0 : (int)((deadline_ns - now + 999999) / 1000000);
}

int lab_stop_wait(struct lab_stop *s, pid_t pid, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = s->at[0], .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    int result = -1;

    if (pid > 0)
        fds[1].fd = open_pidfd(pid);
    for (;;) {
        int ready = poll(fds, 2, ms_until(deadline));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            die_errno("poll");
        if (ready == 0)
            break; /* the deadline: -1 */
        char byte;
        if (fds[0].revents != 0) { /* the pipe first: a note comes before the end */
            ssize_t n = read(s->at[0], &byte, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n != 1)
                die_errno("read stop point");
            result = (unsigned char)byte;
            break;
        }
        result = 0; /* the process ended without a word */
        break;
    }
    if (fds[1].fd >= 0)
        close(fds[1].fd);
    return result;
}

/* ---------------------------------------------------- reading /proc by hand */

/* The first words of /proc/PID/task/TID/syscall: "nr arg0 ... arg5 sp pc"
 * (the arguments in hex), or "running", or "-1 sp pc" (asleep, not in a
 * call).  False unless the thread is in a system call. */
static bool syscall_words(pid_t pid, pid_t tid, unsigned long words[5])
{
    char path[PROC_TASK_PATH_MAX], text[256];

    proc_task_path(path, pid, tid, "/syscall");
    if (!proc_read_small(path, text, sizeof text) || text[0] < '0' || text[0] > '9')
        return false;
    char *at = text;
    for (int i = 0; i < 5; i++)
        words[i] = strtoul(at, &at, i == 0 ? 10 : 16); /* nr, then the arguments */
    return true;
}

bool lab_waiting_for_lock(pid_t pid, pid_t tid)
{
    uintptr_t word;

    return lab_waiting_for_lock_at(pid, tid, &word);
}

bool lab_waiting_for_lock_at(pid_t pid, pid_t tid, uintptr_t *word)
{
    unsigned long words[5]; /* nr, uaddr, op, val, timeout */

    if (!syscall_words(pid, tid, words) || words[0] != SYS_futex)
        return false;
    unsigned long op = words[2] & FUTEX_CMD_MASK;
    bool waits = op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI ||
                 op == FUTEX_WAIT_REQUEUE_PI;
    *word = (uintptr_t)words[1];
    return waits && words[4] == 0; /* no timeout: for ever */
}

static bool sleeping_on_timer(pid_t pid, pid_t tid)
{
    unsigned long words[5];

    return syscall_words(pid, tid, words) &&
           (words[0] == SYS_nanosleep || words[0] == SYS_clock_nanosleep);
}

/* Every thread of pid but main sleeps on a lock or on a timer: a child of
 * the tests starts no thread of its own, and what a sanitizer's runtime
 * starts (ThreadSanitizer's housekeeping thread sleeps in nanosleep) can
 * release none of the child's locks.  Reads /proc by hand, like the rest. */
static bool others_asleep(pid_t pid, pid_t main)
{
    char path[PROC_TASK_PATH_MAX], buf[4096];
    long got;
    bool asleep = true;

    proc_task_path(path, pid, 0, "");
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    /* getdents64 fills buf with records: d_ino, d_off, d_reclen, d_type, d_name */
    while (asleep && (got = getdents64(fd, buf, sizeof buf)) > 0) {
        for (long at = 0; asleep && at < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + offsetof(struct dirent64, d_reclen), sizeof reclen);
            const char *name = buf + at + offsetof(struct dirent64, d_name);
            at += reclen;
            pid_t tid = (pid_t)strtol(name, NULL, 10);
            if (name[0] == '.' || tid == main)
                continue;
            asleep = lab_waiting_for_lock(pid, tid) || sleeping_on_timer(pid, tid);
        }
    }
    close(fd);
    return asleep;
}

/* ------------------------------------------------------- watching a child */

enum { WATCH_LOOK_MS = 2 }; /* how often a watched child's state is read */

struct lab_child_end lab_reap(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die_errno("waitpid");
    if (WIFSIGNALED(status))
        return (struct lab_child_end){LAB_CHILD_SIGNALED, WTERMSIG(status), 0};
    return (struct lab_child_end){LAB_CHILD_EXITED, WEXITSTATUS(status), 0};
}

void lab_kill_and_reap(pid_t pid)
{
    kill(-pid, SIGKILL); /* its group: what it started goes too */
    kill(pid, SIGKILL);  /* in case it left its group */
    lab_reap(pid);
}

static struct lab_child_end kill_and_reap(pid_t pid, enum lab_child_how how, int code,
                                          uintptr_t lock_word)
{
    lab_kill_and_reap(pid);
    return (struct lab_child_end){how, code, lock_word};
}

struct lab_child_end lab_watch_child(pid_t pid, int timeout_ms, bool lock_wait_is_deadlock)
{
    struct pollfd pfd = {.fd = open_pidfd(pid), .events = POLLIN};
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct lab_child_end end;

    for (;;) {
        int left = ms_until(deadline);
        int ready = poll(&pfd, 1, left < WATCH_LOOK_MS ? left : WATCH_LOOK_MS);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            die_errno("poll pidfd");
        if (ready > 0) {
            end = lab_reap(pid);
            break;
        }
        uintptr_t word;
        if (lock_wait_is_deadlock && lab_waiting_for_lock_at(pid, pid, &word) &&
            others_asleep(pid, pid)) {
            end = kill_and_reap(pid, LAB_CHILD_DEADLOCKED, 0, word);
            break;
        }
        if (left == 0) {
            end = kill_and_reap(pid, LAB_CHILD_TIMED_OUT, timeout_ms, 0);
            break;
        }
    }
    close(pfd.fd);
    return end;
}

bool lab_child_ok(const struct lab_child_end *e)
{
    return e->how == LAB_CHILD_EXITED && e->code == 0;
}

const char *lab_child_describe(const struct lab_child_end *e, char buf[static 64])
{
    char name[24];

    switch (e->how) {
    case LAB_CHILD_EXITED: snprintf(buf, 64, "exit %d", e->code); break;
    case LAB_CHILD_SIGNALED: snprintf(buf, 64, "killed by %s", signal_name(e->code, name)); break;
    case LAB_CHILD_DEADLOCKED: snprintf(buf, 64, "asleep on a lock (deadlock)"); break;
    case LAB_CHILD_TIMED_OUT: snprintf(buf, 64, "still running after %d ms", e->code); break;
    }
    return buf;
}

/* ------------------------------------------------- private shared memory */

int lab_shm_create(const char *tag, size_t size, char *name, size_t name_size)
{
    static unsigned made;
    int fd = -1, err;

    for (unsigned tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(name, name_size, "/asym-lab%s-%d-%u", tag, (int)getpid(), made++);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            die_errno("shm_open");
    }
    if (fd < 0)
        die("shm_open: no free name like %s", name);
    /* The name's only job was to make the object: gone now, whatever happens next. */
    if (shm_unlink(name) != 0)
        die_errno("shm_unlink");
    if (fchmod(fd, 0600) != 0) /* exactly 0600, whatever the umask took away */
        die_errno("fchmod");
    if ((err = posix_fallocate(fd, 0, (off_t)size)) != 0)
        die_err("posix_fallocate of the shared memory object", err);
    return fd;
}
