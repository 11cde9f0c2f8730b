/*
 * safe_patterns.c - what the child of a threaded process can safely do.
 *
 * The userlock situation again: lesson 05's allocator with no fork handler,
 * another thread holding every one of its locks at the instant a process
 * is made.  Three ways out that do not care:
 *
 *   async_signal_safe  the child calls only async-signal-safe functions
 *                      (write, _exit) - what POSIX allows it until exec
 *   fork_exec          the child only redirects a descriptor and calls execve:
 *                      the new program starts with fresh memory and no locks
 *   posix_spawn        the same in one call; glibc's runs no fork handler and
 *                      shares memory with the parent until the exec
 *
 * The program run is this one, "--help", its output thrown away.
 */
#include "fork_glitch.h"

#include "cli.h"
#include "out.h"
#include "zone_adapters.h"
#include "zone_malloc.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <unistd.h>

enum { SAFE_TRIALS = 1 };

extern char **environ;

static const char self_path[] = "/proc/self/exe";

/* The arguments of the program started: this one, asked for help. */
static char *const *self_help_argv(void)
{
    static char help[] = "--help";
    static char *argv[3];

    argv[0] = (char *)prog_name();
    argv[1] = help;
    argv[2] = NULL;
    return argv;
}

pid_t spawn_quiet_self(void)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    pid_t pid;
    int err;

    if ((err = posix_spawn_file_actions_init(&actions)) != 0 ||
        (err = posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY,
                                                0)) != 0 ||
        (err = posix_spawnattr_init(&attr)) != 0 ||
        (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP)) != 0 ||
        (err = posix_spawnattr_setpgroup(&attr, 0)) != 0) /* its own group, as child_start's */
        die_err("posix_spawn setup", err);
    err = posix_spawn(&pid, self_path, &actions, &attr, self_help_argv(), environ);
    if (err != 0)
        die_err("posix_spawn", err);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return pid;
}

/* Children that call nothing but async-signal-safe functions: a bare body
 * leaves with _exit itself (child_start would flush stdio after it). */
static int write_and_leave(void *arg)
{
    int fd = *(int *)arg;

    _exit(write(fd, "still alive\n", 12) == 12 ? 0 : 3);
}

static int exec_quietly(void *arg)
{
    int fd = *(int *)arg;

    if (dup2(fd, STDOUT_FILENO) < 0)
        _exit(126);
    execve(self_path, self_help_argv(), environ);
    _exit(127);
}

static int null_fd = -1; /* /dev/null, opened before any fork */

static pid_t start_async_safe(void *arg)
{
    (void)arg;
    return child_start(write_and_leave, &null_fd);
}

static pid_t start_fork_exec(void *arg)
{
    (void)arg;
    return child_start(exec_quietly, &null_fd);
}

static pid_t start_posix_spawn(void *arg)
{
    (void)arg;
    return spawn_quiet_self();
}

static const struct pattern {
    const char *name;
    pid_t (*start)(void *arg);
    const char *how;
} patterns[] = {
    {"async_signal_safe", start_async_safe, "the child calls only write() and _exit()"},
    {"fork_exec", start_fork_exec, "the child calls only dup2() and execve()"},
    {"posix_spawn", start_posix_spawn, "one call, no fork handler, exec at once"},
};
enum { PATTERNS = sizeof patterns / sizeof patterns[0] };

struct fork_outcome show_safe(const struct run_config *cfg)
{
    unsigned trials = trials_or(cfg, SAFE_TRIALS);
    struct fork_outcome o = {0};
    struct child_result last[PATTERNS];
    char how[64];

    heading("safe: the same held lock, and children that do not care");
    printf("The allocator's fork handlers off, another thread holding every one of its\n"
           "locks at the instant the process is made (the userlock situation):\n");
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0)
        die_errno("open /dev/null");
    zm_set_fork_handlers(0);
    for (unsigned i = 0; i < trials; i++) {
        struct fork_outcome round = {0};
        for (int p = 0; p < PATTERNS; p++) {
            struct held_locks locks = zone_held_locks();
            last[p] =
                run_while_held(&locks, patterns[p].start, NULL, SLOW_DEADLINES * cfg->timeout_ms);
            count_outcome(&round, &last[p]);
        }
        /* a round is ok when all its patterns are; else it counts as the worst */
        struct child_result worst = {.end = CHILD_EXITED, .code = 0};
        if (round.deadlocked > 0)
            worst.end = CHILD_TIMED_OUT;
        else if (round.crashed > 0)
            worst.code = 1;
        count_outcome(&o, &worst);
    }
    zm_set_fork_handlers(1);
    close(null_fd);
    for (int p = 0; p < PATTERNS; p++) {
        printf("  %-18s %-44s %s\n", patterns[p].name, patterns[p].how,
               child_describe(&last[p], how));
        fact_word("pattern", patterns[p].name);
        fact_word("result", result_word(&last[p]));
        facts_end();
    }
    printf("The rule for the child of a threaded process is POSIX's: async-signal-safe\n"
           "functions only, until exec.  Everything else (malloc, printf, a logger, any\n"
           "library's lock) needs pthread_atfork handlers from every library involved.\n");
    print_outcome("safe", &o);
    return o;
}
