/*
 * hooks.c - sh_hook, the grader's side: it counts the calls at each
 * point, and stops or kills the process at the n-th call at one of them.
 *
 * A stop says so through a stop point (lab_stop_here) and waits there,
 * inside the student's critical section, until the driver resumes it or
 * kills it: that is how the driver makes another process meet a lock held,
 * and a heap half-updated, every time.  A planned death marks itself in the
 * ledger first, so that the driver can tell it from a crash.
 */
#include "driver.h"

#include <signal.h>
#include <unistd.h>

const char *const hook_names[SH_HOOK_POINTS] = {"SH_HOOK_LOCKED", "SH_HOOK_CHOSEN",
                                                "SH_HOOK_UPDATING"};

enum hook_action { HOOK_NOTHING, HOOK_STOP, HOOK_DIE };

static struct {
    unsigned hits[SH_HOOK_POINTS];
    enum hook_action action;
    enum sh_hook_point point;
    unsigned countdown; /* calls at point until the action */
    struct lab_stop *stop;
    unsigned worker;
} hooks;

void hook_stop_at(enum sh_hook_point point, unsigned nth, struct lab_stop *stop)
{
    hooks.action = HOOK_STOP;
    hooks.point = point;
    hooks.countdown = nth;
    hooks.stop = stop;
}

void hook_die_at(enum sh_hook_point point, unsigned nth, unsigned worker)
{
    hooks.action = HOOK_DIE;
    hooks.point = point;
    hooks.countdown = nth;
    hooks.worker = worker;
}

void hook_plan_clear(void)
{
    hooks.action = HOOK_NOTHING;
}

unsigned hook_hits(enum sh_hook_point point)
{
    return hooks.hits[point];
}

void sh_hook(enum sh_hook_point point)
{
    if ((unsigned)point >= SH_HOOK_POINTS)
        test_fail("sh_hook(%d): not one of the points of sh.h", (int)point);
    hooks.hits[point]++;
    if (hooks.action == HOOK_NOTHING || point != hooks.point || --hooks.countdown > 0)
        return;
    enum hook_action action = hooks.action;
    hooks.action = HOOK_NOTHING;
    if (action == HOOK_STOP) {
        lab_stop_here(hooks.stop);
        return;
    }
    atomic_store(&ledger->workers[hooks.worker].planned_death, true);
    kill(getpid(), SIGKILL);
}
