/*
 * fault.h - one load or store that may fault, caught: for the labs whose
 * scenarios touch pages past the end of a file (SIGBUS, lab 02) or ranges
 * a child does not have (SIGSEGV, lab 04).
 *
 * The access runs under handlers for SIGBUS and SIGSEGV that jump back
 * out (sigsetjmp/siglongjmp, the signal mask restored), and the handlers
 * in place before are put back afterwards: a crash anywhere else is still
 * reported as one.
 */
#ifndef ASYM_LAB_FAULT_H
#define ASYM_LAB_FAULT_H

#include <stdint.h>

enum lab_fault { LAB_NO_FAULT, LAB_SIGBUS, LAB_SIGSEGV };

struct lab_access {
    enum lab_fault fault; /* what the access raised */
    int code;             /* the signal's si_code (BUS_ADRERR, SEGV_MAPERR...) */
    uint8_t value;        /* a load's byte, when it did not fault */
};

/* Load the byte at p, or say how it faulted. */
struct lab_access lab_load(const void *p);
/* Store value at p, or say how it faulted. */
struct lab_access lab_store(void *p, uint8_t value);

#endif
