/*
 * fault.c - a load or a store, with SIGBUS and SIGSEGV caught (see fault.h).
 */
#include "fault.h"

#include "cli.h"

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>

static struct {
    sigjmp_buf resume;
    volatile sig_atomic_t signal;
    volatile int code;
} caught;

static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)context;
    caught.signal = sig;
    caught.code = info->si_code;
    siglongjmp(caught.resume, 1); /* restores the mask sigsetjmp saved */
}

/* The access itself, never instrumented: a sanitizer's shadow memory check
 * would be a second access, and could fault on its own. */
__attribute__((no_sanitize("address", "thread"), noinline)) static uint8_t
access_byte(volatile uint8_t *p, bool store, uint8_t value)
{
    if (store) {
        *p = value;
        return value;
    }
    return *p;
}

static struct lab_access access_catching(volatile uint8_t *p, bool store, uint8_t value)
{
    struct sigaction handler = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    struct sigaction old_bus, old_segv;
    struct lab_access result = {LAB_NO_FAULT, 0, 0};

    sigemptyset(&handler.sa_mask);
    if (sigaction(SIGBUS, &handler, &old_bus) != 0 || sigaction(SIGSEGV, &handler, &old_segv) != 0)
        die_errno("sigaction");
    if (sigsetjmp(caught.resume, 1) == 0) {
        result.value = access_byte(p, store, value);
    } else {
        result.fault = caught.signal == SIGBUS ? LAB_SIGBUS : LAB_SIGSEGV;
        result.code = caught.code;
    }
    if (sigaction(SIGBUS, &old_bus, NULL) != 0 || sigaction(SIGSEGV, &old_segv, NULL) != 0)
        die_errno("sigaction");
    return result;
}

struct lab_access lab_load(const void *p)
{
    return access_catching((volatile uint8_t *)(uintptr_t)p, false, 0);
}

struct lab_access lab_store(void *p, uint8_t value)
{
    return access_catching(p, true, value);
}
