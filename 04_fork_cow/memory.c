/*
 * memory.c - small helpers every part of lesson 04 uses (see fork_cow.h);
 * mapping and touching memory are in common/memory.h.
 */
#include "fork_cow.h"

#include "child.h"
#include "cli.h"
#include "clock.h"
#include "procfs.h"

/* Not instrumented either: the address may be unmapped on purpose, and the
 * fault must reach our own handler, not a sanitizer's report. */
__attribute__((no_sanitize("address", "thread"))) char read_byte(const char *addr)
{
    return *(const volatile char *)addr;
}

struct dirty_kib dirty_of(const void *addr)
{
    struct dirty_kib d = {smaps_kib(addr, "Private_Dirty"), smaps_kib(addr, "Shared_Dirty")};

    if (d.private_kib < 0 || d.shared_kib < 0)
        die("/proc/self/smaps: no Private_Dirty/Shared_Dirty for %p", addr);
    return d;
}

void finish_child(pid_t pid, uint64_t started_ns)
{
    struct child_result result = child_wait(pid, started_ns, CHILD_DEADLINE_MS);

    if (!child_ok(&result)) {
        char why[64];
        die("child: %s", child_describe(&result, why));
    }
}

void run_child(int (*body)(void *arg), void *arg)
{
    uint64_t started = now_ns();

    finish_child(child_start(body, arg), started);
}
