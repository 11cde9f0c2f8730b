/*
 * workers.c - the child processes of a test: each works through a view of
 * its own (view_keep_only), records its crash (the signal and the faulting
 * address, in the ledger) before it dies by it, and is described in words
 * when it does not end well.
 */
#include "driver.h"

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned my_index; /* in a worker: which one it is */

/* Record where the crash was, then die by the same signal (SA_RESETHAND). */
static void record_crash(int sig, siginfo_t *info, void *context)
{
    struct worker_info *me = &ledger->workers[my_index];

    (void)context;
    me->fault_signal = sig;
    me->fault_address = (uintptr_t)info->si_addr;
    raise(sig);
}

static void install_crash_recorder(void)
{
    struct sigaction sa = {.sa_sigaction = record_crash, .sa_flags = SA_SIGINFO | SA_RESETHAND};

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0 || sigaction(SIGBUS, &sa, NULL) != 0)
        die_errno("sigaction");
}

struct start {
    unsigned index;
    worker_body *body;
    void *arg;
    struct gate *gate;
};

static int worker_main(void *arg)
{
    const struct start *s = arg;
    struct worker w;

    my_index = s->index;
    install_crash_recorder();
    worker_start(&w, s->index, view_keep_only(s->index));
    if (s->gate != NULL)
        gate_pass(s->gate);
    s->body(&w, s->arg);
    worker_finish(&w);
    return 0;
}

pid_t start_worker(unsigned index, worker_body *body, void *arg, struct gate *gate)
{
    struct start s = {index, body, arg, gate};

    memset(&ledger->workers[index], 0, sizeof ledger->workers[index]);
    return child_start(worker_main, &s); /* the child has its copy of s */
}

const char *worker_end_text(unsigned index, const struct lab_child_end *e)
{
    static char text[1024];
    const struct worker_info *info = &ledger->workers[index];
    char how[64], signal_text[24];

    if (e->how == LAB_CHILD_EXITED && e->code == WORKER_FAILED && ledger->failed) {
        snprintf(text, sizeof text, "%s", ledger->failure);
    } else if (e->how == LAB_CHILD_SIGNALED && info->fault_signal == e->code) {
        int view = view_of(info->fault_address);
        snprintf(text, sizeof text, "process %u was killed by %s touching address %#" PRIxPTR " %s",
                 index, signal_name(e->code, signal_text), info->fault_address,
                 view < 0 ? "(outside every view of the region)"
                 : (unsigned)view == info->view
                     ? "(inside its own view of the region)"
                     : "(where another process maps the region, and this one does not: an "
                       "address stored in the region; store offsets, not pointers)");
    } else if (e->how == LAB_CHILD_DEADLOCKED) {
        snprintf(text, sizeof text,
                 "process %u sleeps on a lock for ever, and no living process holds it", index);
    } else {
        snprintf(text, sizeof text, "process %u ended: %s", index, lab_child_describe(e, how));
    }
    return text;
}

void expect_worker_ok(unsigned index, const struct lab_child_end *e, const char *what)
{
    if (!lab_child_ok(e))
        lab_fail("%s: %s", what, worker_end_text(index, e));
}
