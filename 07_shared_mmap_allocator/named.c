/*
 * named.c - regions with a name in /dev/shm, shared by processes that are
 * not parent and child: create, attach, unlink, and share, which runs this
 * program again (fork + exec: nothing inherited) to attach at an address
 * of its own and extend a list that links its entries by offset.
 *
 * Whoever creates a region owns its name until it hands it over: share
 * removes its region on every way out, SIGINT and SIGTERM included;
 * create hands its region to the user, who removes it with unlink.
 *
 * A region in /dev/shm can be written by anyone who may open it: attach
 * checks it (the library's checker, then every link of the notes list)
 * before trusting it, and check does the same in a private copy, writing
 * nothing to the object.
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SHARE_REGION = 1 << 20, HOLD_LIMIT_MS = 600000, NOTES_ROOT = 0 };

/* The name this process must remove if it leaves early. */
static struct {
    char name[SHALLOC_NAME_MAX + 2]; /* as given to shm_unlink */
    pid_t owner;                     /* the process that created it (not its children) */
    volatile sig_atomic_t armed;     /* set while the name is ours to remove */
    bool installed;                  /* handlers and atexit are in place */
} cleanup;

/* The signals whose default action ends the process (SIGKILL cannot be caught). */
static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

static void remove_owned_name(void)
{
    if (cleanup.armed && getpid() == cleanup.owner) {
        cleanup.armed = 0;
        shm_unlink(cleanup.name); /* glibc: builds the path on the stack, then unlink(2) */
    }
}

/* SA_RESETHAND has restored the default action: re-raise to die by it. */
static void on_fatal_signal(int sig)
{
    remove_owned_name();
    raise(sig);
}

static void install_cleanup(void)
{
    struct sigaction sa = {.sa_handler = on_fatal_signal, .sa_flags = SA_RESETHAND};

    if (cleanup.installed)
        return;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        if (sigaction(fatal_signals[i], &sa, NULL) != 0)
            die_errno("sigaction");
    if (atexit(remove_owned_name) != 0)
        die("atexit failed");
    cleanup.installed = true;
}

/* Create a named region with no instant at which a signal could leave its
 * name behind: the signals wait until the name is recorded for removal. */
static void create_owned(struct shalloc *h, const char *name, size_t size)
{
    sigset_t fatal, old;

    install_cleanup();
    sigemptyset(&fatal);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaddset(&fatal, fatal_signals[i]);
    if (sigprocmask(SIG_BLOCK, &fatal, &old) != 0)
        die_errno("sigprocmask");
    open_region(h, name, size);
    snprintf(cleanup.name, sizeof cleanup.name, "%s%s", name[0] == '/' ? "" : "/", name);
    cleanup.owner = getpid();
    cleanup.armed = 1;
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0)
        die_errno("sigprocmask");
}

static void disown_name(void)
{
    cleanup.armed = 0;
}

/* ---- notes: a list linked by offsets ----------------------------------- */

struct note {
    struct list_link link;   /* the next note, by offset */
    int32_t pid;             /* who wrote it */
    uint64_t writer_base;    /* where the writer had the region mapped */
    uint64_t writer_pointer; /* the writer's raw pointer to this note */
    char text[40];
};

static struct note *add_note(struct shalloc *h, const char *text, const char *who)
{
    struct note *n = alloc_or_die(h, sizeof *n);

    n->pid = (int32_t)getpid();
    n->writer_base = (uintptr_t)h->base;
    n->writer_pointer = (uintptr_t)n;
    snprintf(n->text, sizeof n->text, "%s", text);
    list_append(h, NOTES_ROOT, &n->link, sizeof *n, who);
    return n;
}

/* Print the notes (their text as far as it goes, whatever it holds);
 * returns how many there are. */
static unsigned print_notes(struct shalloc *h, const char *who)
{
    struct list_cursor c;
    const struct note *n;
    unsigned count = 0;

    list_start(&c, h, NOTES_ROOT, sizeof *n, who);
    for (; (n = list_next(&c)) != NULL; count++)
        printf("  note %u at offset %-8" PRIu64 " pid %-7d region at 0x%" PRIx64 "  \"%.*s\"\n",
               count, shalloc_offset(h, n), n->pid, n->writer_base, (int)sizeof n->text, n->text);
    if (count == 0)
        printf("  (no notes yet)\n");
    return count;
}

/* ---- create, attach, unlink ------------------------------------------- */

/* "VERB NAME: why", and the errno too unless the region is corrupt (the
 * library's "corrupt region: what at offset N" says it all). */
static _Noreturn void die_region(const char *verb, const char *name, struct shalloc *h)
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
    create_owned(&h, o->name, o->size);
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
    if (rep.slots_reclaimed > 0)
        printf("%" PRIu64 " slots of dead processes: their caches given back (in the copy)\n",
               rep.slots_reclaimed);
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
    fact_uint("dead_slots", rep.slots_reclaimed);
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

/* ---- share -------------------------------------------------------------- */

/* In the child: become this program again, attaching by name. */
static int exec_attach(void *arg)
{
    const char *name = arg;

    execl("/proc/self/exe", prog_name(), "attach", name, (char *)NULL);
    die_errno("execl /proc/self/exe");
}

/* The same object mapped a second time in this process: the same bytes at
 * another address, reached by the same offset. */
static bool second_view_agrees(const struct shalloc *h, const char *name, uint64_t note_off,
                               uintptr_t *view_base)
{
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        die_errno("shm_open");
    char *view = mmap(NULL, h->size, PROT_READ, MAP_SHARED, fd, 0);
    if (view == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    const struct note *there = (const void *)(view + note_off);
    const struct note *here = shalloc_pointer(h, note_off);
    bool same = strcmp(there->text, here->text) == 0;
    printf("a second mapping of the same object in this process, at %p: offset %" PRIu64
           " holds \"%s\" there too\n",
           (void *)view, note_off, there->text);
    *view_base = (uintptr_t)view;
    if (munmap(view, h->size) != 0)
        die_errno("munmap");
    return same;
}

static void wait_for_enter(const char *name)
{
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
    char line[256];
    int ready;

    printf("\nholding /dev/shm/%s until you press Enter (at most 10 minutes); meanwhile try\n"
           "  %s attach %s\n",
           name + 1, prog_name(), name + 1);
    fflush(stdout);
    while ((ready = poll(&in, 1, HOLD_LIMIT_MS)) < 0 && errno == EINTR)
        ;
    if (ready < 0)
        die_errno("poll stdin");
    if (ready > 0 && read(STDIN_FILENO, line, sizeof line) < 0)
        die_errno("read stdin");
}

int run_share(const struct options *o)
{
    struct shalloc h;
    char name[64];
    uintptr_t view_base, child_base = 0;
    bool pointer_valid = false;

    snprintf(name, sizeof name, "/asym07-share-%d", (int)getpid());
    heading("share: one region, two unrelated processes, two addresses");
    create_owned(&h, name, SHARE_REGION);
    printf("created /dev/shm%s, mapped here (pid %d) at %p\n", name, (int)getpid(), (void *)h.base);
    struct note *first = add_note(&h, "written by the creator", "share");
    bool agree = second_view_agrees(&h, name, shalloc_offset(&h, first), &view_base);

    printf("\nnow fork + exec '%s attach %s': a new program, nothing inherited\n", prog_name(),
           name + 1);
    struct child_result r = child_run(exec_attach, name + 1, CHILD_TIMEOUT_MS);
    if (!child_ok(&r)) {
        char what[64];
        die("the attaching process failed: %s", child_describe(&r, what));
    }

    printf("\nback in the creator (pid %d, region at %p), the list now reads:\n", (int)getpid(),
           (void *)h.base);
    unsigned notes = print_notes(&h, "share");
    uint64_t second = atomic_load(&first->link.next);
    if (second != 0) {
        const struct note *theirs = shalloc_block_pointer(&h, second, sizeof *theirs);
        if (theirs == NULL)
            die("share: corrupt region: the child's note is not a block in use at offset %" PRIu64,
                shalloc_offset(&h, first));
        child_base = theirs->writer_base;
        pointer_valid = theirs->writer_pointer == (uintptr_t)theirs;
        printf("the child stored its own pointer to its note, 0x%" PRIx64
               "; here the note is at %p:\nthe pointer is %s in this process, the offset %" PRIu64
               " is not\n",
               theirs->writer_pointer, (const void *)theirs, pointer_valid ? "valid" : "garbage",
               second);
    }
    if (o->hold) {
        wait_for_enter(name);
        printf("the list now reads:\n");
        print_notes(&h, "share");
    }
    bool ok = report_check(&h);
    if (shm_unlink(name) != 0)
        die_errno("shm_unlink");
    disown_name();
    printf("removed /dev/shm%s\n", name);

    fact_word("command", "share");
    fact_hex("parent_base", (uintptr_t)h.base);
    fact_hex("second_view_base", view_base);
    fact_hex("child_base", child_base);
    fact_int("different_address", child_base != 0 && child_base != (uintptr_t)h.base);
    fact_int("offsets_agree", agree && notes >= 2);
    fact_int("raw_pointer_valid_here", pointer_valid);
    fact_uint("notes", notes);
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    close_region(&h);
    return ok ? 0 : 1;
}
