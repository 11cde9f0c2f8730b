/*
 * watch.c - looking at processes and threads from outside, and the small
 * helpers the parts share (see fork_glitch.h).
 *
 * Everything that may run in the child of a threaded process (reading
 * /proc, counting threads) uses open/read/getdents64 into fixed buffers:
 * no malloc, no stdio, whose locks another thread may have held at fork.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "clock.h"
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The system call a thread is in, and its first argument: the file reads
 * "nr arg0 arg1 ... sp pc" (arguments in hex), "running", or "-1 sp pc". */
struct syscall_now {
    long nr;
    unsigned long arg0;
};

static struct syscall_now syscall_now(pid_t pid, pid_t tid)
{
    struct syscall_now now = {.nr = SYSCALL_UNKNOWN};
    char path[PROC_TASK_PATH_MAX], text[256];

    proc_task_path(path, pid, tid, "/syscall");
    if (!proc_read_small(path, text, sizeof text))
        return now;
    if (strncmp(text, "running", 7) == 0) {
        now.nr = SYSCALL_RUNNING;
    } else if (text[0] == '-') {
        now.nr = SYSCALL_NONE; /* "-1 sp pc": blocked, not in a system call */
    } else {
        char *end;
        now.nr = strtol(text, &end, 10);
        now.arg0 = strtoul(end, NULL, 16); /* " 0x..." */
    }
    return now;
}

long syscall_of(pid_t pid, pid_t tid)
{
    return syscall_now(pid, tid).nr;
}

const char *syscall_name(long nr)
{
    switch (nr) {
    case SYS_futex: return "futex";
    case SYS_write: return "write";
    case SYS_read: return "read";
    case SYS_wait4: return "wait4";
    case SYS_poll: return "poll";
    case SYSCALL_RUNNING: return "running";
    case SYSCALL_NONE: return "none";
    case SYSCALL_UNKNOWN: return "unknown";
    default: return "other";
    }
}

struct child_result run_watched(int (*body)(void *arg), void *arg, int timeout_ms)
{
    uint64_t started = now_ns();
    pid_t pid = child_start(body, arg);

    for (int deadline = 0; deadline < SLOW_DEADLINES; deadline++) {
        if (child_exited_within(pid, timeout_ms))
            return child_wait(pid, started, -1); /* it has ended: reap it */
        if (syscall_of(pid, pid) == SYS_futex)
            break; /* asleep on a lock: that is the deadlock we watch for */
    }
    struct child_result r = child_wait(pid, started, 0); /* SIGKILL, group and all */
    if (r.end == CHILD_TIMED_OUT)
        r.code = (int)(r.elapsed_ns / 1000000u); /* what child_describe shows */
    return r;
}

static bool is_in(struct syscall_now now, long nr, long arg0)
{
    return now.nr == nr && (arg0 < 0 || now.arg0 == (unsigned long)arg0);
}

bool wait_until_in_syscall(pid_t pid, pid_t tid, long nr, long arg0, int timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

    while (!is_in(syscall_now(pid, tid), nr, arg0)) {
        if (now_ns() >= deadline)
            return false;
        sched_yield(); /* a look every few microseconds: a condition, not a delay */
    }
    return true;
}

unsigned count_threads(void)
{
    /* getdents64 fills buf with records: d_ino, d_off, d_reclen, d_type, d_name */
    char buf[4096];
    unsigned threads = 0;
    long got;
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        die_errno("open /proc/self/task");
    while ((got = getdents64(fd, buf, sizeof buf)) > 0) {
        for (long at = 0; at < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + offsetof(struct dirent64, d_reclen), sizeof reclen);
            threads += buf[at + offsetof(struct dirent64, d_name)] != '.'; /* not . or .. */
            at += reclen;
        }
    }
    if (got < 0)
        die_errno("getdents64 /proc/self/task");
    close(fd);
    return threads;
}

unsigned children_left(void)
{
    siginfo_t info;

    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == ECHILD)
            return 0; /* no child at all, running or zombie */
        die_errno("waitid");
    }
    return 1; /* a zombie (si_pid set) or a running child (si_pid 0) */
}

/* Write chunk-byte pieces of nothing in particular until the pipe says
 * EAGAIN; add what went in to *bytes. */
static void write_until_full(int fd, size_t chunk, unsigned *bytes)
{
    static const char junk[512];
    ssize_t n;

    while ((n = write(fd, junk, chunk)) > 0)
        *bytes += (unsigned)n;
    if (errno != EAGAIN)
        die_errno("write pipe");
}

unsigned fill_pipe(int write_fd)
{
    unsigned bytes = 0;
    int flags = fcntl(write_fd, F_GETFL);

    if (fcntl(write_fd, F_SETPIPE_SZ, (int)sysconf(_SC_PAGESIZE)) < 0)
        die_errno("fcntl F_SETPIPE_SZ");
    if (flags < 0 || fcntl(write_fd, F_SETFL, flags | O_NONBLOCK) != 0)
        die_errno("fcntl O_NONBLOCK");
    write_until_full(write_fd, 512, &bytes); /* big pieces first, */
    write_until_full(write_fd, 1, &bytes);   /* then the last gap, byte by byte */
    if (fcntl(write_fd, F_SETFL, flags) != 0)
        die_errno("fcntl");
    return bytes;
}

void drain_until_eof(int fd)
{
    char buf[4096];
    ssize_t got;

    while ((got = read(fd, buf, sizeof buf)) != 0)
        if (got < 0 && errno != EINTR)
            die_errno("read pipe");
}
