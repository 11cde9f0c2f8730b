/*
 * sigbus.h - survive the SIGBUS of a mapping whose file shrank.
 *
 * Touching a page of a file mapping that lies wholly past the file's end
 * raises SIGBUS; by default the process dies.  call_catching_sigbus() runs
 * a piece of code with a handler that jumps back out (siglongjmp), so the
 * caller can report the fault instead of crashing.
 */
#ifndef MMAP_FILE_SIGBUS_H
#define MMAP_FILE_SIGBUS_H

#include <stdbool.h>

/* Where and why the kernel raised SIGBUS (from the handler's siginfo_t). */
struct bus_fault {
    void *addr; /* the address touched: si_addr */
    int code;   /* si_code: BUS_ADRERR for "no file behind this page" */
};

/*
 * Run body(arg) with SIGBUS caught.  Returns false if body ran to its end,
 * true if a SIGBUS cut it short (then *fault says where).  The previous
 * SIGBUS disposition is restored either way.  body is abandoned midway on a
 * fault, so it must not hold locks or own memory it has not recorded in arg.
 */
bool call_catching_sigbus(void (*body)(void *arg), void *arg, struct bus_fault *fault);

/* "BUS_ADRERR", "BUS_ADRALN", ... or "code N". */
const char *bus_code_name(int code, char buf[static 24]);

#endif
