/*
 * share.c - a named region used by an unrelated process (share): this
 * program runs again (fork + exec: nothing inherited) as `attach NAME`,
 * maps the region at an address of its own and extends the notes list,
 * linked by offsets; and the names a creator owns.
 *
 * Whoever creates a region owns its name until it hands it over.  share
 * removes its region on every way out it can see: at exit, and on SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT and SIGPIPE; and, without --hold, as soon as
 * the attaching process is done with it (the region stays mapped here).
 * SIGKILL cannot be caught: a share killed that way leaves its name, so
 * every share starts by removing the regions of share runs whose process
 * is gone (asym07-share-PID, PID dead).
 */
#include "cli.h"
#include "lesson07.h"
#include "out.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SHARE_REGION = 1 << 20, HOLD_LIMIT_MS = 600000 };

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

/* Remove the name, then die by the signal. */
static void on_fatal_signal(int sig)
{
    remove_owned_name();
    reraise_default(sig);
}

static void install_cleanup(void)
{
    /* not SA_RESETHAND: see reraise_default */
    struct sigaction sa = {.sa_handler = on_fatal_signal};

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

void create_owned(struct shalloc *h, const char *verb, const char *name, size_t size)
{
    sigset_t fatal, old;

    install_cleanup();
    sigemptyset(&fatal);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaddset(&fatal, fatal_signals[i]);
    if (sigprocmask(SIG_BLOCK, &fatal, &old) != 0)
        die_errno("sigprocmask");
    if (shalloc_create(h, name, size) != 0) {
        if (errno == ENOSPC) { /* posix_fallocate: tmpfs full */
            char what[SHALLOC_NAME_MAX + 160], text[32];
            snprintf(what, sizeof what, "%s %s: %s: /dev/shm has no room for a region of %s", verb,
                     name, shalloc_error(h), human_size(size, text));
            die_errno(what);
        }
        die_region(verb, name, h);
    }
    snprintf(cleanup.name, sizeof cleanup.name, "%s%s", name[0] == '/' ? "" : "/", name);
    cleanup.owner = getpid();
    cleanup.armed = 1;
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0)
        die_errno("sigprocmask");
}

void disown_name(void)
{
    cleanup.armed = 0;
}

/* ---- share -------------------------------------------------------------- */

static const char share_prefix[] = "asym07-share-";

/* Is name share's name for the region of a process that no longer exists? */
static bool left_by_dead_share(const char *name)
{
    char *end;

    if (strncmp(name, share_prefix, sizeof share_prefix - 1) != 0)
        return false;
    errno = 0;
    long pid = strtol(name + sizeof share_prefix - 1, &end, 10);
    return errno == 0 && *end == '\0' && pid > 0 && pid <= INT32_MAX && kill((pid_t)pid, 0) != 0 &&
           errno == ESRCH;
}

/* Remove the regions that share runs killed by SIGKILL left behind: their
 * PID is gone.  Not through shalloc_unlink, which wants a magic number: a
 * share killed while it was making its region left one without (another
 * user's stays: /dev/shm is sticky).  Returns how many were removed. */
static unsigned remove_stale_shares(void)
{
    DIR *dir = opendir("/dev/shm");
    const struct dirent *entry;
    unsigned removed = 0;
    char path[sizeof entry->d_name + 1];

    if (dir == NULL)
        return 0; /* no /dev/shm to look in: nothing left there either */
    while ((entry = readdir(dir)) != NULL) {
        if (!left_by_dead_share(entry->d_name))
            continue;
        snprintf(path, sizeof path, "/%s", entry->d_name);
        if (shm_unlink(path) == 0) {
            printf("removed /dev/shm/%s, left by a share that was killed\n", entry->d_name);
            removed++;
        }
    }
    closedir(dir);
    return removed;
}

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

/* Remove our region's name (the mapping stays) and say so. */
static void remove_name(const char *name)
{
    if (shm_unlink(name) != 0)
        die_errno("shm_unlink");
    disown_name();
    printf("removed /dev/shm%s (this process still has the region mapped)\n", name);
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

    snprintf(name, sizeof name, "/%s%d", share_prefix, (int)getpid());
    heading("share: one region, two unrelated processes, two addresses");
    unsigned stale = remove_stale_shares();
    create_owned(&h, "share", name, SHARE_REGION);
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
    if (!o->hold)
        remove_name(name); /* both have had it open: it is mapped here, the name can go */

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
    unsigned after_attach = notes;
    if (o->hold) {
        wait_for_enter(name);
        printf("the list now reads:\n");
        notes = print_notes(&h, "share"); /* with the notes of any attach run by hand */
    }
    bool ok = report_check(&h);
    if (o->hold)
        remove_name(name);

    fact_word("command", "share");
    fact_hex("parent_base", (uintptr_t)h.base);
    fact_hex("second_view_base", view_base);
    fact_hex("child_base", child_base);
    fact_int("different_address", child_base != 0 && child_base != (uintptr_t)h.base);
    fact_int("offsets_agree", agree && after_attach >= 2);
    fact_int("raw_pointer_valid_here", pointer_valid);
    fact_uint("notes", notes); /* in the list as it reads at the end */
    fact_word("check", ok ? "ok" : "fail");
    facts_end();
    fact_word("command", "share");
    fact_uint("stale_removed", stale);
    fact_uint("notes_added_while_held", notes - after_attach);
    facts_end();
    close_region(&h);
    return ok ? 0 : 1;
}
