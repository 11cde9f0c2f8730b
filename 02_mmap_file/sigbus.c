/*
 * sigbus.c - catching SIGBUS with sigsetjmp/siglongjmp (see sigbus.h).
 */
#include "sigbus.h"

#include "cli.h"

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* The state the handler shares with call_catching_sigbus. */
static struct {
    sigjmp_buf resume;           /* where the handler jumps back to */
    volatile sig_atomic_t armed; /* 1 while body runs: a SIGBUS is ours */
    struct bus_fault fault;      /* what the handler saw */
} guard;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    if (!guard.armed) {
        /* Not ours: fall back to the default action, which the fault
         * re-raises as soon as we return (the process dies by SIGBUS). */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        if (sigaction(sig, &dfl, NULL) != 0)
            _exit(128 + sig); /* as if it had killed us */
        return;
    }
    guard.armed = 0;
    guard.fault.addr = info->si_addr;
    guard.fault.code = info->si_code;
    siglongjmp(guard.resume, 1); /* restores the mask saved by sigsetjmp */
}

static void set_sigbus_action(const struct sigaction *action, struct sigaction *previous)
{
    if (sigaction(SIGBUS, action, previous) != 0)
        die_errno("sigaction(SIGBUS)");
}

bool call_catching_sigbus(void (*body)(void *arg), void *arg, struct bus_fault *fault)
{
    struct sigaction catch = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    struct sigaction previous;

    sigemptyset(&catch.sa_mask);
    set_sigbus_action(&catch, &previous);
    if (sigsetjmp(guard.resume, 1) != 0) {
        /* Back from the handler: body was abandoned at the fault. */
        set_sigbus_action(&previous, NULL);
        *fault = guard.fault;
        return true;
    }
    guard.armed = 1;
    body(arg);
    guard.armed = 0;
    set_sigbus_action(&previous, NULL);
    return false;
}

const char *bus_code_name(int code, char buf[static 24])
{
    switch (code) {
    case BUS_ADRALN: return "BUS_ADRALN";
    case BUS_ADRERR: return "BUS_ADRERR";
    case BUS_OBJERR: return "BUS_OBJERR";
    default: snprintf(buf, 24, "code %d", code); return buf;
    }
}
