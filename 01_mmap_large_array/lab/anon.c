/*
 * anon.c - your part of lab 01 (see README.md in this folder; anon.h says
 * what each function must do).
 *
 * predict_anon: work out, from the steps alone, what mincore(), the
 * mapping's Rss and getrusage() say after each step.  No system calls:
 * the grader runs this in a process that may only compute.
 * count_resident, count_minor_faults: measure, with mincore() and
 * getrusage().
 *
 * As handed out, nothing is predicted or measured: the grader passes the
 * smoke tests (this file compiles cleanly, the scenarios run) and fails all
 * the others.  Run it with:  make grade LAB=01
 */
#include "anon.h"

#include <errno.h>

int predict_anon(const struct anon_step steps[], unsigned count, struct anon_facts facts[])
{
    (void)steps;
    (void)count;
    (void)facts;
    return -1;
}

long count_resident(const void *addr, size_t length)
{
    (void)addr;
    (void)length;
    errno = ENOSYS;
    return -1;
}

long count_minor_faults(void)
{
    errno = ENOSYS;
    return -1;
}
