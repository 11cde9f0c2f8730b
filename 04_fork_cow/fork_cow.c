/*
 * 04_fork_cow - copy-on-write after fork, seen from both sides.
 *
 * After fork(), a malloc'd buffer has the same address in parent and child,
 * yet each sees its own contents: the address is virtual, and fork gave the
 * child a copy of the page tables pointing at the same physical pages, all
 * write-protected.  The first write to a page faults, and the kernel copies
 * that one page for the writer.  This program shows it in parts:
 *
 *   contents    heap, global and stack: same addresses, different contents
 *   stdio       a line buffered before fork comes out twice
 *   frames      physical frame numbers (/proc/self/pagemap) before and after
 *               the child's write, the write's minor fault, smaps counters,
 *               and a picture: one frame shared, then two
 *   shared      MAP_SHARED vs MAP_PRIVATE: only one shows the child's write
 *   dontfork    MADV_DONTFORK: the child has no such mapping and faults
 *   wipeonfork  MADV_WIPEONFORK: the child reads zeros
 *   cost        fork time against touched memory; a child rewriting it all
 *
 * Usage: 04_fork_cow [--size SIZE] [--mode MODE]
 *
 * Look for: equal *_addr facts with different *_value facts; pfn_child_before_write
 * equal to pfn_parent and pfn_child_after_write different (as root; frame
 * numbers are hidden from other users, and then the exclusive bit and
 * write_minor_faults=1 tell the story); fork_ns growing with touched_bytes.
 */
#include "fork_cow.h"

#include "cli.h"
#include "out.h"

#include <stdio.h>

enum mode {
    MODE_CONTENTS,
    MODE_STDIO,
    MODE_FRAMES,
    MODE_SHARED,
    MODE_DONTFORK,
    MODE_WIPEONFORK,
    MODE_COST,
    MODE_ALL
};
static const char *const mode_names[] = {"contents",   "stdio", "frames", "shared", "dontfork",
                                         "wipeonfork", "cost",  "all",    NULL};

enum { MIN_SIZE = 1 << 20 }; /* so that 1/16 of it is still 16 pages */

static void usage(void)
{
    printf("Usage: %s [--size SIZE] [--mode MODE]\n"
           "\n"
           "Show copy-on-write after fork: same virtual addresses, separate contents,\n"
           "shared physical frames until the first write, and what fork costs.\n"
           "\n"
           "  -s, --size SIZE   the heap of the cost part; K, M, G, T, P suffixes\n"
           "                    (default 256M, at least 1M; 1/16 of it is the small heap)\n"
           "  -m, --mode MODE   contents    heap, global, stack written after fork\n"
           "                    stdio       a buffered line printed twice by fork\n"
           "                    frames      frame numbers and faults of one page\n"
           "                    shared      MAP_SHARED vs MAP_PRIVATE\n"
           "                    dontfork    madvise(MADV_DONTFORK)\n"
           "                    wipeonfork  madvise(MADV_WIPEONFORK)\n"
           "                    cost        fork time vs touched memory\n"
           "                    all         every part in this order (default)\n"
           "  -h, --help        show this help\n"
           "\n"
           "Frame numbers are shown only to a process with CAP_SYS_ADMIN (run as root).\n",
           prog_name());
}

static void run_part(enum mode mode, size_t size)
{
    switch (mode) {
    case MODE_CONTENTS: show_contents(); break;
    case MODE_STDIO: show_stdio_copy(); break;
    case MODE_FRAMES: show_frames(); break;
    case MODE_SHARED: show_shared_private(); break;
    case MODE_DONTFORK: show_dontfork(); break;
    case MODE_WIPEONFORK: show_wipeonfork(); break;
    case MODE_COST: show_fork_cost(size); break;
    case MODE_ALL:
        for (int m = 0; m < MODE_ALL; m++)
            run_part((enum mode)m, size);
        break;
    }
}

int main(int argc, char *argv[])
{
    size_t size = 256u << 20;
    int mode = MODE_ALL;

    cli_init();
    parse_size_and_mode(argc, argv, &size, &mode, mode_names, usage);
    if (size < MIN_SIZE)
        usage_error("--size: invalid size '%zu': at least 1M, so that 1/16 of it is 16 pages",
                    size);

    heading("04_fork_cow: copy-on-write after fork");
    if (mode == MODE_COST || mode == MODE_ALL)
        check_cost_fits(size);
    run_part(mode, size);
    return 0;
}
