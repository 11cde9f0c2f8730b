/*
 * child.c - starting and watching child processes (see child.h).
 */
#include "child.h"

#include "cli.h"
#include "clock.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t child_try_start(int (*body)(void *arg), void *arg)
{
    pid_t pid;

    pid_t parent = getpid();

    fflush(NULL); /* or the child inherits, and later prints, our buffer */
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0); /* cannot fail for ourselves right after fork */
        /* Its own group means Ctrl-C reaches only the parent: make sure the
         * child dies with it rather than run on unwatched. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(EXIT_FAILURE);
        int status = body(arg);
        fflush(NULL);
        _exit(status);
    }
    setpgid(pid, pid); /* also here: whichever runs first wins, both agree */
    return pid;
}

pid_t child_start(int (*body)(void *arg), void *arg)
{
    pid_t pid = child_try_start(body, arg);

    if (pid < 0)
        die_errno("fork");
    return pid;
}

static struct child_result decode_status(int status)
{
    struct child_result r = {0};

    if (WIFSIGNALED(status)) {
        r.end = CHILD_SIGNALED;
        r.code = WTERMSIG(status);
    } else {
        r.end = CHILD_EXITED;
        r.code = WEXITSTATUS(status);
    }
    return r;
}

static int reap(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die_errno("waitpid");
    return status;
}

/* A pidfd (Linux 5.3+) becomes readable when the process ends, so poll()
 * gives us a wait with a deadline and no signal handler. */
bool child_exited_within(pid_t pid, int timeout_ms)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd pfd;
    int ready;

    if (pidfd < 0)
        die_errno("pidfd_open");
    pfd.fd = pidfd;
    pfd.events = POLLIN;
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    do {
        uint64_t now = now_ns();
        int left_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
        ready = poll(&pfd, 1, left_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0)
        die_errno("poll pidfd");
    close(pidfd);
    return ready > 0;
}

struct child_result child_wait(pid_t pid, uint64_t started_ns, int timeout_ms)
{
    struct child_result r;

    if (timeout_ms >= 0 && !child_exited_within(pid, timeout_ms)) {
        kill(-pid, SIGKILL); /* the whole group: what it forked goes too */
        kill(pid, SIGKILL);  /* in case it left its group */
        reap(pid);
        r.end = CHILD_TIMED_OUT;
        r.code = timeout_ms;
    } else {
        r = decode_status(reap(pid));
    }
    r.elapsed_ns = now_ns() - started_ns;
    return r;
}

struct child_result child_run(int (*body)(void *arg), void *arg, int timeout_ms)
{
    uint64_t started = now_ns();

    return child_wait(child_start(body, arg), started, timeout_ms);
}

int child_ok(const struct child_result *r)
{
    return r->end == CHILD_EXITED && r->code == 0;
}

const char *child_describe(const struct child_result *r, char buf[static 64])
{
    switch (r->end) {
    case CHILD_EXITED: snprintf(buf, 64, "exit %d", r->code); break;
    case CHILD_SIGNALED: {
        char name_buf[24];
        snprintf(buf, 64, "killed by %s", signal_name(r->code, name_buf));
        break;
    }
    case CHILD_TIMED_OUT: snprintf(buf, 64, "timed out after %d ms", r->code); break;
    }
    return buf;
}

void count_outcome(struct fork_outcome *o, const struct child_result *r)
{
    o->forks++;
    if (child_ok(r)) {
        o->ok++;
        if (r->elapsed_ns > o->slowest_ok_ns)
            o->slowest_ok_ns = r->elapsed_ns;
    } else if (r->end == CHILD_TIMED_OUT)
        o->deadlocked++;
    else
        o->crashed++;
}

struct holder {
    const struct held_locks *locks;
    int ready[2];   /* it sends a byte here once it holds the locks */
    int release[2]; /* it lets go when a byte arrives here, and ends at the next */
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    char byte;

    h->locks->lock();
    send_byte(h->ready[1], 'r');
    receive_byte(h->release[0], &byte);
    h->locks->unlock();
    receive_byte(h->release[0], &byte); /* alive until the start is over, as a thread would be */
    return NULL;
}

struct child_result run_while_held(const struct held_locks *locks, pid_t (*start)(void *arg),
                                   void *arg, int timeout_ms)
{
    struct holder h = {.locks = locks};
    char byte;

    /* close-on-exec: a process that start() execs must not inherit them */
    if (pipe2(h.ready, O_CLOEXEC) != 0 || pipe2(h.release, O_CLOEXEC) != 0)
        die_errno("pipe2");
    pthread_t thread = start_thread(holder_main, &h);
    if (!receive_byte(h.ready[0], &byte)) /* from here on, it holds the locks */
        die("run_while_held: the holder ended early");
    uint64_t started = now_ns();
    if (locks->fork_waits)
        send_byte(h.release[1], 'g'); /* fork's prepare handler will wait for it */
    struct child_result r = child_wait(start(arg), started, timeout_ms);
    if (!locks->fork_waits)
        send_byte(h.release[1], 'g');
    send_byte(h.release[1], 'e');
    join_thread(thread);
    close(h.ready[0]);
    close(h.ready[1]);
    close(h.release[0]);
    close(h.release[1]);
    return r;
}

void gate_init(struct gate *g)
{
    if (pipe2(g->ready, O_CLOEXEC) != 0 || pipe2(g->go, O_CLOEXEC) != 0)
        die_errno("pipe2");
}

void gate_pass(struct gate *g)
{
    char byte = 'r';
    ssize_t n;

    close(g->ready[0]);
    close(g->go[1]); /* or we would hold the gate open for ourselves */
    if (write(g->ready[1], &byte, 1) != 1)
        die_errno("gate: write");
    close(g->ready[1]);
    do
        n = read(g->go[0], &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n != 0)
        die("gate: expected the parent to close the gate pipe");
    close(g->go[0]);
}

/* gate_release's work: 0 once all n arrived, or the children that did not
 * (-1: read failed, errno set). */
static int release_arrivals(struct gate *g, int n)
{
    char buf[256];
    int arrived = 0;

    close(g->ready[1]); /* so a child that dies early gives us EOF, not a hang */
    close(g->go[0]);
    while (arrived < n) {
        ssize_t got = read(g->ready[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int err = errno;
            close(g->ready[0]);
            close(g->go[1]);
            errno = err;
            return got < 0 ? -1 : n - arrived;
        }
        arrived += (int)got;
    }
    close(g->ready[0]);
    close(g->go[1]); /* EOF for everyone at once */
    return 0;
}

void gate_release(struct gate *g, int n)
{
    int missing = release_arrivals(g, n);

    if (missing < 0)
        die_errno("gate: read");
    if (missing > 0)
        die("gate: %d of %d children ended before reaching the gate", missing, n);
}

static int crew_member(void *arg)
{
    struct crew *c = arg;

    gate_pass(&c->gate);
    return c->body(c->ctx, c->index);
}

void crew_abort(struct crew *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        kill(-c->pid[i], SIGKILL); /* its group: what it forked goes too */
        kill(c->pid[i], SIGKILL);
    }
    for (unsigned i = 0; i < c->n; i++)
        reap(c->pid[i]);
    c->n = 0;
}

void crew_start(struct crew *c, unsigned n, int (*body)(void *ctx, unsigned index), void *ctx)
{
    if (n > CREW_MAX)
        die("crew_start: %u children, more than %d", n, CREW_MAX);
    c->n = 0;
    c->body = body;
    c->ctx = ctx;
    c->first_failure[0] = '\0';
    gate_init(&c->gate);
    c->started_ns = now_ns();
    for (unsigned i = 0; i < n; i++) {
        c->index = i; /* the child's copy keeps its own index */
        if ((c->pid[i] = child_try_start(crew_member, c)) < 0) {
            int err = errno;
            close(c->gate.ready[0]);
            close(c->gate.ready[1]);
            close(c->gate.go[0]);
            close(c->gate.go[1]);
            crew_abort(c); /* the ones already started: killed and reaped */
            errno = err;
            die_errno("fork");
        }
        c->n = i + 1;
    }
}

void crew_release(struct crew *c)
{
    int missing = release_arrivals(&c->gate, (int)c->n);

    if (missing == 0)
        return;
    int err = errno;
    unsigned n = c->n;
    crew_abort(c);
    errno = err;
    if (missing < 0)
        die_errno("gate: read");
    die("gate: %d of %u children ended before reaching the gate", missing, n);
}

unsigned crew_wait(struct crew *c, int timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
    unsigned failed = 0;

    for (unsigned i = 0; i < c->n; i++) {
        uint64_t now = now_ns();
        int left_ms = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)((deadline - now) / 1000000);
        struct child_result r = child_wait(c->pid[i], c->started_ns, left_ms);
        char how[64], line[96];
        if (child_ok(&r))
            continue;
        snprintf(line, sizeof line, "child %u (pid %d): %s", i, (int)c->pid[i],
                 child_describe(&r, how));
        printf("%s\n", line);
        if (failed++ == 0)
            memcpy(c->first_failure, line, sizeof line);
    }
    return failed;
}
