/*
 * sandbox.c - a child process that may compute but not measure (see
 * sandbox.h).
 *
 * The filter is a classic seccomp BPF program: check the architecture,
 * load the system call's number, compare it with each allowed one, and
 * trap (SIGSYS) at anything else.  The child's SIGSYS handler writes the
 * number into the page it shares with the parent and leaves.
 */
#include "sandbox.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "memory.h"
#include "procfs.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

/* What computing and printing need: memory (malloc uses brk, mmap, munmap,
 * mremap, madvise and mprotect), output (stdio looks at its stream with
 * fstat and ioctl first), abort() and exit.  Nothing here tells a process
 * anything about its memory. */
static const int allowed_calls[] = {
    __NR_write,        __NR_writev,         __NR_brk,          __NR_mmap,   __NR_munmap,
    __NR_mremap,       __NR_madvise,        __NR_mprotect,     __NR_fstat,  __NR_newfstatat,
    __NR_ioctl,        __NR_lseek,          __NR_futex,        __NR_exit,   __NR_exit_group,
    __NR_rt_sigreturn, __NR_rt_sigprocmask, __NR_rt_sigaction, __NR_tgkill, __NR_gettid,
    __NR_getpid,       __NR_clock_gettime,  __NR_getrandom,
};

/* Names for the calls a predictor that measures would make. */
static const struct {
    int nr;
    const char *name;
} call_names[] = {
    {__NR_mincore, "mincore"},
    {__NR_getrusage, "getrusage"},
    {__NR_openat, "openat"},
    {__NR_read, "read"},
    {__NR_pread64, "pread64"},
    {__NR_clone, "clone"},
    {__NR_execve, "execve"},
    {__NR_wait4, "wait4"},
    {__NR_prctl, "prctl"},
    {__NR_kill, "kill"},
    {__NR_sched_yield, "sched_yield"},
    {__NR_clock_nanosleep, "clock_nanosleep"},
    {__NR_ftruncate, "ftruncate"},
    {__NR_msync, "msync"},
    {__NR_fadvise64, "fadvise64"},
    {__NR_getcwd, "getcwd"},
#ifdef __NR_open
    {__NR_open, "open"},
#endif
#ifdef __NR_fork
    {__NR_fork, "fork"},
#endif
#ifdef __NR_clone3
    {__NR_clone3, "clone3"},
#endif
};

/* The page the child and the parent share. */
struct sandbox_report {
    volatile int trapped_call; /* the call SIGSYS stopped, or -1 */
    volatile int returned;     /* body returned (and did not exit itself) */
};

struct sandbox_call {
    void (*body)(void *arg);
    void *arg;
    bool filter;
    struct sandbox_report *report;
};

enum { TRAPPED_STATUS = 121 }; /* the child's exit status after SIGSYS */

static struct sandbox_report *child_report; /* in the child: where SIGSYS reports */

static void on_sigsys(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    child_report->trapped_call = info->si_syscall;
    _exit(TRAPPED_STATUS);
}

/* Install the filter: from here on, this process may only compute. */
static void install_filter(void)
{
#ifdef SANDBOX_ARCH
    enum { CALLS = sizeof allowed_calls / sizeof allowed_calls[0] };
    struct sock_filter code[4 + 2 * CALLS + 1];
    unsigned n = 0;

    code[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    code[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (unsigned i = 0; i < CALLS; i++) {
        code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 (unsigned)allowed_calls[i], 0, 1);
        code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    struct sock_fprog program = {.len = (unsigned short)n, .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die_errno("prctl(PR_SET_NO_NEW_PRIVS)");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        die_errno("prctl(PR_SET_SECCOMP)");
#endif
}

/* Close every descriptor but stdin, stdout and stderr: the grader's
 * verdict file (fd 3) is no business of the student's code. */
static void close_all_but_stdio(void)
{
    long most = sysconf(_SC_OPEN_MAX);

#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
        return;
#endif
    for (int fd = 3; fd < (most > 0 && most < 65536 ? most : 65536); fd++)
        close(fd); /* EBADF for most: nothing was open there */
}

static int run_in_child(void *arg)
{
    const struct sandbox_call *call = arg;
    struct sigaction trap = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};

    close_all_but_stdio();
    child_report = call->report;
    sigemptyset(&trap.sa_mask);
    if (sigaction(SIGSYS, &trap, NULL) != 0)
        die_errno("sigaction(SIGSYS)");
    if (call->filter)
        install_filter();
    call->body(call->arg);
    call->report->returned = 1;
    return 0;
}

struct sandbox_result sandbox_run(void (*body)(void *arg), void *arg, int timeout_ms, bool filter)
{
    struct sandbox_call call = {.body = body, .arg = arg, .filter = filter};
    struct sandbox_result result = {SANDBOX_RETURNED, 0};

    call.report = map_anonymous(page_size(), MAP_SHARED);
    call.report->trapped_call = -1;
    uint64_t started = now_ns();
    struct child_result r = child_wait(child_start(run_in_child, &call), started, timeout_ms);
    if (r.end == CHILD_TIMED_OUT)
        result = (struct sandbox_result){SANDBOX_HUNG, 0};
    else if (r.end == CHILD_SIGNALED)
        result = (struct sandbox_result){SANDBOX_CRASHED, r.code};
    else if (r.code == TRAPPED_STATUS && call.report->trapped_call >= 0)
        result = (struct sandbox_result){SANDBOX_SYSCALL, call.report->trapped_call};
    else if (!call.report->returned || r.code != 0)
        result = (struct sandbox_result){SANDBOX_EXITED, r.code};
    unmap(call.report, page_size());
    return result;
}

static const char *call_name(int nr, char buf[static 24])
{
    for (size_t i = 0; i < sizeof call_names / sizeof call_names[0]; i++)
        if (call_names[i].nr == nr)
            return call_names[i].name;
    snprintf(buf, 24, "number %d", nr);
    return buf;
}

const char *sandbox_describe(const struct sandbox_result *r, int timeout_ms, char buf[static 96])
{
    char name[24];

    switch (r->end) {
    case SANDBOX_RETURNED: buf[0] = '\0'; break;
    case SANDBOX_SYSCALL:
        snprintf(buf, 96, "made a system call a predictor may not make (%s)",
                 call_name(r->detail, name));
        break;
    case SANDBOX_CRASHED: snprintf(buf, 96, "crashed (%s)", signal_name(r->detail, name)); break;
    case SANDBOX_HUNG:
        snprintf(buf, 96, "did not return within %d s (an infinite loop?)", timeout_ms / 1000);
        break;
    case SANDBOX_EXITED: snprintf(buf, 96, "ended the process (exit status %d)", r->detail); break;
    }
    return buf;
}
