/*
 * demo_sigbus.c - step 6 of the demo: the file shrinks under the mapping.
 *
 * The file is truncated to half its size plus 100 bytes while the mapping
 * keeps its length.  The rest of the last page reads as zeros; the first
 * page wholly past the end has no file behind it, and touching it raises
 * SIGBUS: a child dies of it, and the same touch here is caught.
 */
#include "demo.h"

#include "child.h"
#include "cli.h"
#include "out.h"
#include "procfs.h"
#include "sigbus.h"

#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Read one byte through a mapping; volatile, so the read really happens. */
static unsigned char touch_byte(const unsigned char *p)
{
    return *(const volatile unsigned char *)p;
}

static void touch_in_handler(void *p)
{
    touch_byte(p);
}

/* In a child: touch the byte with SIGBUS at its default action, as in a
 * program that does not expect the file to shrink. */
static int touch_in_child(void *p)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    sigemptyset(&dfl.sa_mask);
    if (sigaction(SIGBUS, &dfl, NULL) != 0) /* undo a sanitizer's handler, if any */
        die_errno("sigaction(SIGBUS)");
    touch_byte(p);
    return 0;
}

void step_sigbus(const struct demo_file *f)
{
    subheading("6. the trap: the file shrinks while mapped, and a touch past its end");
    const unsigned char *data = map_file(f, PROT_READ, MAP_SHARED);
    size_t cut = f->size / 2 / page_size() * page_size() + 100;
    size_t beyond = (cut + page_size() - 1) / page_size() * page_size();
    char name_buf[64], code_buf[24];

    if (ftruncate(f->fd, (off_t)cut) != 0)
        die_errno("ftruncate");
    printf("truncated the file from %zu to %zu bytes; the mapping still spans %zu\n", f->size, cut,
           f->size);
    unsigned char tail = touch_byte(data + cut);
    printf("data[%zu], past the end but in the file's last page: %u (the page is zero-filled)\n",
           cut, tail);
    struct child_result r = child_run(touch_in_child, (void *)(data + beyond), 10000);
    printf("a child touching data[%zu], the first page wholly past the end: %s\n", beyond,
           child_describe(&r, name_buf));
    struct bus_fault fault = {NULL, 0};
    int caught = call_catching_sigbus(touch_in_handler, (void *)(data + beyond), &fault);
    size_t fault_offset = caught ? (size_t)((const unsigned char *)fault.addr - data) : 0;
    if (caught)
        printf("the same touch here, with a SIGBUS handler: caught, si_addr = data + %zu, "
               "si_code = %s;\nsiglongjmp left the handler and the program goes on\n",
               fault_offset, bus_code_name(fault.code, code_buf));
    else
        printf("the same touch here did not raise SIGBUS\n");
    fact_word("step", "sigbus");
    fact_uint("truncated_to_bytes", cut);
    fact_uint("tail_byte", tail);
    fact_uint("touched_offset_bytes", beyond);
    fact_word("child_end", r.end == CHILD_SIGNALED ? signal_name(r.code, name_buf)
                           : r.end == CHILD_EXITED ? "exited"
                                                   : "timed_out");
    fact_int("sigbus_caught", caught);
    fact_uint("fault_offset_bytes", fault_offset);
    fact_word("si_code", caught ? bus_code_name(fault.code, code_buf) : "none");
    facts_end();
    unmap_file(f, (void *)data);
}
