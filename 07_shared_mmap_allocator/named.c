/*
 * named.c - regions with a name in /dev/shm, shared by processes that are
 * not parent and child: create, attach, check and unlink, and the notes
 * list that attach and share extend, linked by offsets.
 *
 * A region in /dev/shm can be written by anyone who may open it: attach
 * checks it (the library's checker, then every link of the notes list)
 * before trusting it, and check does the same in a private copy, writing
 * nothing to the object.  create hands its region to the user, who removes
 * it with unlink.
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- notes: a list linked by offsets ----------------------------------- */

struct note *add_note(struct shalloc *h, const char *text, const char *who)
{
    struct note *n = alloc_or_die(h, sizeof *n);

    n->pid = (int32_t)getpid();
    n->writer_base = (uintptr_t)h->base;
    n->writer_pointer = (uintptr_t)n;
    snprintf(n->text, sizeof n->text, "%s", text);
    list_append(h, NOTES_ROOT, &n->link, sizeof *n, who);
    return n;
}

/* A note's text as printable ASCII, whatever another process wrote there. */
static const char *printable(const char *text, size_t size, char *out)
{
    size_t i = 0;

    for (; i < size && text[i] != '\0'; i++)
        out[i] = text[i] >= ' ' && text[i] <= '~' ? text[i] : '?';
    out[i] = '\0';
    return out;
}

unsigned print_notes(struct shalloc *h, const char *who)
{
    struct list_cursor c;
    const struct note *n;
    unsigned count = 0;
    char text[sizeof n->text + 1];

    list_start(&c, h, NOTES_ROOT, sizeof *n, who);
    for (; (n = list_next(&c)) != NULL; count++)
        printf("  note %u at offset %-8" PRIu64 " pid %-7d region at 0x%" PRIx64 "  \"%s\"\n",
               count, shalloc_offset(h, n), n->pid, n->writer_base,
               printable(n->text, sizeof n->text, text));
    if (count == 0)
        printf("  (no notes yet)\n");
    return count;
}

/* ---- create, attach, check, unlink ----------------------------------- */

_Noreturn void die_region(const char *verb, const char *name, struct shalloc *h)
{
    char what[SHALLOC_NAME_MAX + 260];

    if (errno == EUCLEAN)
        die("%s %s: %s", verb, name, shalloc_error(h));
    snprintf(what, sizeof what, "%s %s: %s", verb, name, shalloc_error(h));
    die_errno(what);
}

/* Run the checker on an attached region; die "VERB NAME: corrupt region:
 * Rn: what at offset N" if an invariant is broken. */
static void check_or_die(struct shalloc *h, const char *verb, const char *name)
{
    struct shalloc_report rep;

    if (!shalloc_check(h, &rep))
        die("%s %s: %s%s", verb, name, rep.busy ? "" : "corrupt region: ", rep.problem);
    printf("checker: every invariant holds (%" PRIu64 " blocks, %" PRIu64 " list links, %" PRIu64
           " free runs)\n",
           rep.blocks, rep.links, rep.runs);
}

/* The object's permission bits, from fstat of a fresh descriptor. */
static unsigned object_mode(const char *name)
{
    char path[SHALLOC_NAME_MAX + 2];
    struct stat st;

    snprintf(path, sizeof path, "%s%s", name[0] == '/' ? "" : "/", name);
    int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 || fstat(fd, &st) != 0)
        die_errno("shm_open/fstat");
    close(fd);
    return st.st_mode & 07777;
}

/* The object's memory is reserved up front (posix_fallocate) and stays
 * until someone unlinks it: refuse to take more than half of what is
 * available now. */
static void check_size_fits(size_t size)
{
    uint64_t available = mem_available_bytes();

    if (size > available / 2) {
        char want[32], have[32];
        die("SIZE %s: more than half of the %s of memory available now", human_size(size, want),
            human_size(available, have));
    }
}

int run_create(const struct options *o)
{
    struct shalloc h;
    struct shalloc_stats st;
    char size_text[32];

    heading("create: a named shared allocator region");
    check_size_fits(o->size);
    create_owned(&h, "create", o->name, o->size);
    shalloc_stats(&h, &st);
    unsigned mode = object_mode(o->name);
    printf("created /dev/shm/%s (%s, mode %o), mapped here at %p: %" PRIu64 " spans of %d KiB\n",
           o->name[0] == '/' ? o->name + 1 : o->name, human_size(h.size, size_text), mode,
           (void *)h.base, st.span_count, SHALLOC_SPAN_BYTES / 1024);
    printf("it outlives this process: attach it with '%s attach %s', remove it with\n"
           "'%s unlink %s'\n",
           prog_name(), o->name, prog_name(), o->name);
    fact_word("command", "create");
    fact_uint("size_bytes", h.size);
    fact_uint("spans", st.span_count);
    fact_uint("mode", mode / 64 * 100 + mode / 8 % 8 * 10 + mode % 8);
    fact_hex("base", (uintptr_t)h.base);
    facts_end();
    disown_name(); /* the user's now */
    close_region(&h);
    return 0;
}

int run_attach(const struct options *o)
{
    struct shalloc h;

    char who[SHALLOC_NAME_MAX + 16];

    heading("attach: %s", o->name);
    snprintf(who, sizeof who, "attach %s", o->name);
    if (shalloc_attach(&h, o->name) != 0)
        die_region("attach", o->name, &h);
    printf("pid %d mapped the region at %p (%zu bytes)\n", (int)getpid(), (void *)h.base, h.size);
    check_or_die(&h, "attach", o->name);
    printf("its notes:\n");
    unsigned before = print_notes(&h, who);
    char text[40];
    snprintf(text, sizeof text, "attached by pid %d", (int)getpid());
    struct note *mine = add_note(&h, text, who);
    printf("appended note %u at offset %" PRIu64 "; linked by offset, not by pointer\n", before,
           shalloc_offset(&h, mine));
    fact_word("command", "attach");
    fact_hex("base", (uintptr_t)h.base);
    fact_uint("notes_before", before);
    fact_uint("note_offset", shalloc_offset(&h, mine));
    facts_end();
    close_region(&h);
    return 0;
}

int run_check(const struct options *o)
{
    struct shalloc h;
    struct shalloc_report rep;
    struct shalloc_stats before, after;

    heading("check: %s, in a private copy (nothing is written to the object)", o->name);
    if (shalloc_attach_copy(&h, o->name) != 0)
        die_region("check", o->name, &h);
    shalloc_stats(&h, &before);
    bool ok = shalloc_check(&h, &rep);
    shalloc_stats(&h, &after);
    if (after.repairs > before.repairs)
        printf("the region lock's last holder died in the middle of a change: repaired (here,\n"
               "in the copy; the next process to take the lock repairs the region itself)\n");
    uint64_t dead = after.slots_reclaimed - before.slots_reclaimed;
    if (dead > 0)
        printf("%" PRIu64 " slots of dead processes: their caches given back (in the copy)\n",
               dead);
    if (ok)
        printf("checker: every invariant holds (%" PRIu64 " blocks, %" PRIu64
               " list links, %" PRIu64 " free runs)\n",
               rep.blocks, rep.links, rep.runs);
    fact_word("command", "check");
    fact_uint("size_bytes", h.size);
    fact_uint("blocks", rep.blocks);
    fact_uint("links", rep.links);
    fact_uint("free_runs", rep.runs);
    fact_uint("repairs_needed", after.repairs - before.repairs);
    fact_uint("dead_slots", dead);
    fact_word("check", ok ? "ok" : rep.busy ? "busy" : "corrupt");
    if (!ok && !rep.busy)
        fact_uint("corrupt_offset", rep.offset);
    facts_end();
    if (!ok)
        die("check %s: %s%s", o->name, rep.busy ? "" : "corrupt region: ", rep.problem);
    close_region(&h);
    return 0;
}

int run_unlink(const struct options *o)
{
    const char *why;

    heading("unlink: %s", o->name);
    if (shalloc_unlink(o->name, &why) != 0) {
        char what[SHALLOC_NAME_MAX + 160];
        if (errno == EINVAL)
            die("unlink %s: %s; if it is a region too damaged to say so, remove it with: rm "
                "/dev/shm/%s",
                o->name, why, o->name[0] == '/' ? o->name + 1 : o->name);
        snprintf(what, sizeof what, "unlink %s: %s", o->name, why);
        die_errno(what);
    }
    printf("removed; processes that still have it mapped keep it until they unmap it\n");
    fact_word("command", "unlink");
    fact_int("unlinked", 1);
    facts_end();
    return 0;
}
