/*
 * lab.c - verdicts, crash reports, seeds, patterns and machine facts for
 * the labs' test drivers (see lab.h).
 */
#include "lab.h"

#include "cli.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- verdicts */

/* The grader says which descriptor takes verdicts; run by hand, stderr. */
static int verdict_fd(void)
{
    const char *fd = getenv("LAB_VERDICT_FD");

    return fd != NULL && strcmp(fd, "3") == 0 ? 3 : STDERR_FILENO;
}

/* Write all of buf, however the kernel splits it; false if it cannot. */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

enum { VERDICT_MAX = 2048 };

/* "<kind> <message>" in line, as one line: newlines and tabs become spaces. */
__attribute__((format(printf, 3, 0))) static void
format_verdict(char line[static VERDICT_MAX], const char *kind, const char *fmt, va_list ap)
{
    int n = snprintf(line, VERDICT_MAX, "%s", kind);

    if (fmt != NULL) {
        line[n++] = ' ';
        vsnprintf(line + n, VERDICT_MAX - (size_t)n - 1, fmt, ap);
    }
    for (char *c = line; *c != '\0'; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
}

/* Hand the verdict line to the grader and leave with status.  Only the
 * first verdict counts: a second thread that fails at the same time waits
 * for the first one's exit to end it. */
static _Noreturn void give_verdict(const char *line, int status)
{
    static atomic_flag given = ATOMIC_FLAG_INIT;
    size_t n = strlen(line);

    if (atomic_flag_test_and_set(&given))
        for (;;)
            pause();
    fflush(NULL); /* what was printed before belongs before the verdict in the log */
    if (!write_all(verdict_fd(), line, n) || !write_all(verdict_fd(), "\n", 1))
        _exit(EXIT_FAILURE);
    exit(status);
}

void lab_pass(const char *fmt, ...)
{
    char line[VERDICT_MAX];
    va_list ap;

    va_start(ap, fmt);
    format_verdict(line, "pass", fmt, ap);
    va_end(ap);
    give_verdict(line, EXIT_SUCCESS);
}

void lab_partial(unsigned pct, const char *fmt, ...)
{
    char line[VERDICT_MAX], kind[24];
    va_list ap;

    snprintf(kind, sizeof kind, "partial %u", pct > 100 ? 100 : pct);
    va_start(ap, fmt);
    format_verdict(line, kind, fmt, ap);
    va_end(ap);
    give_verdict(line, EXIT_SUCCESS);
}

void lab_fail(const char *fmt, ...)
{
    char line[VERDICT_MAX];
    va_list ap;

    va_start(ap, fmt);
    format_verdict(line, "fail", fmt, ap);
    va_end(ap);
    give_verdict(line, EXIT_FAILURE);
}

void lab_skip(const char *fmt, ...)
{
    char line[VERDICT_MAX];
    va_list ap;

    va_start(ap, fmt);
    format_verdict(line, "skip", fmt, ap);
    va_end(ap);
    give_verdict(line, LAB_EXIT_SKIP);
}

/* --------------------------------------------------- crashes and hangs */

void lab_text_str(struct lab_text *t, const char *s)
{
    while (*s != '\0' && t->len < sizeof t->buf - 1)
        t->buf[t->len++] = *s++;
}

void lab_text_uint(struct lab_text *t, uint64_t value)
{
    char digits[24];
    size_t n = 0;

    do
        digits[n++] = (char)('0' + value % 10);
    while ((value /= 10) != 0);
    while (n > 0 && t->len < sizeof t->buf - 1)
        t->buf[t->len++] = digits[--n];
}

void lab_text_hex(struct lab_text *t, uintptr_t value)
{
    char digits[24];
    size_t n = 0;

    do
        digits[n++] = "0123456789abcdef"[value % 16];
    while ((value /= 16) != 0);
    lab_text_str(t, "0x");
    while (n > 0 && t->len < sizeof t->buf - 1)
        t->buf[t->len++] = digits[--n];
}

static void (*crash_describe)(struct lab_text *t);

static void on_crash(int sig)
{
    int saved_errno = errno;
    static struct lab_text t; /* one crash report per process: the signals stay blocked */

    t.len = 0;
    lab_text_str(&t, "where ");
    crash_describe(&t);
    t.buf[t.len++] = '\n';
    write_all(verdict_fd(), t.buf, t.len);
    errno = saved_errno;
    reraise_default(sig); /* delivered when we return: death by sig */
}

void lab_on_crash(void (*describe)(struct lab_text *t))
{
    static char alt_stack[64 << 10];
    static const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM};
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    struct sigaction sa;

    crash_describe = describe;
    if (sigaltstack(&ss, NULL) != 0)
        die_errno("sigaltstack");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK; /* not SA_RESETHAND: see reraise_default */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaddset(&sa.sa_mask, signals[i]); /* none of them interrupts the report */
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (sigaction(signals[i], &sa, NULL) != 0)
            die_errno("sigaction");
}

/* ------------------------------------------------------ a driver's tests */

void lab_list_tests(const struct lab_test tests[], size_t count, int width)
{
    for (size_t i = 0; i < count; i++)
        printf("%-*s %s\n", width, tests[i].id, tests[i].claim);
}

void lab_run_test(const struct lab_test tests[], size_t count, int argc, char *argv[],
                  void (*describe)(struct lab_text *t))
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(argv[1], tests[i].id) != 0)
            continue;
        for (int a = 2; a < argc; a++)
            if (strchr(argv[a], '=') == NULL)
                usage_error("unexpected argument '%s' (expected KEY=VALUE)", argv[a]);
        lab_on_crash(describe);
        tests[i].run(argc - 2, argv + 2); /* ends with a verdict */
        lab_fail("the test ended without a verdict (a bug in the driver)");
    }
    usage_error("unknown test '%s'; --list shows the tests", argv[1]);
}

/* ------------------------------------------------- seed and arguments */

uint64_t lab_seed(void)
{
    const char *text = getenv("LAB_SEED"), *why;
    uint64_t seed;

    if (text == NULL || *text == '\0')
        return 1;
    if (!parse_uint(text, 0, UINT64_MAX, &seed, &why))
        die("LAB_SEED='%s': %s", text, why);
    return seed;
}

uint64_t lab_arg(int argc, char *const argv[], const char *key, uint64_t fallback)
{
    size_t key_len = strlen(key);
    uint64_t value;
    const char *why;

    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], key, key_len) != 0 || argv[i][key_len] != '=')
            continue;
        if (!parse_uint(argv[i] + key_len + 1, 0, UINT64_MAX, &value, &why))
            die("argument %s: %s", argv[i], why);
        return value;
    }
    return fallback;
}

/* ------------------------------------------------------------- patterns */

/* Eight pattern bytes for word `index` of a block stamped `stamp`. */
static uint64_t pattern_word(uint64_t stamp, uint64_t index)
{
    uint64_t z = stamp * 0x9e3779b97f4a7c15u + index * 0xbf58476d1ce4e5b9u + 1;

    z = (z ^ (z >> 31)) * 0x94d049bb133111ebu;
    return z ^ (z >> 29);
}

uint8_t lab_pattern_byte(uint64_t stamp, size_t offset)
{
    return (uint8_t)(pattern_word(stamp, offset / 8) >> (8 * (offset % 8)));
}

void lab_fill_range(void *p, size_t from, size_t to, uint64_t stamp)
{
    uint8_t *bytes = p;
    size_t off = from;

    for (; off < to && off % 8 != 0; off++)
        bytes[off] = lab_pattern_byte(stamp, off);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; off + 8 <= to; off += 8) { /* whole words: the byte order matches */
        uint64_t w = pattern_word(stamp, off / 8);
        memcpy(bytes + off, &w, 8);
    }
#endif
    for (; off < to; off++)
        bytes[off] = lab_pattern_byte(stamp, off);
}

void lab_fill(void *p, size_t n, uint64_t stamp)
{
    lab_fill_range(p, 0, n, stamp);
}

size_t lab_check_range(const void *p, size_t from, size_t to, uint64_t stamp)
{
    const uint8_t *bytes = p;
    size_t off = from;

    for (; off < to && off % 8 != 0; off++)
        if (bytes[off] != lab_pattern_byte(stamp, off))
            return off;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; off + 8 <= to; off += 8) {
        uint64_t w = pattern_word(stamp, off / 8);
        if (memcmp(bytes + off, &w, 8) != 0)
            break;
    }
#endif
    for (; off < to; off++)
        if (bytes[off] != lab_pattern_byte(stamp, off))
            return off;
    return to;
}

size_t lab_check(const void *p, size_t n, uint64_t stamp)
{
    return lab_check_range(p, 0, n, stamp);
}

/* -------------------------------------------------------------- machine */

/* The word in [brackets] of /sys/kernel/mm/transparent_hugepage/enabled. */
static void read_thp_mode(char out[static 16])
{
    char buf[128];
    const char *open_bracket, *close_bracket;

    strcpy(out, "none");
    if (!proc_read_small("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf))
        return;
    open_bracket = strchr(buf, '[');
    close_bracket = open_bracket ? strchr(open_bracket, ']') : NULL;
    if (close_bracket == NULL || close_bracket - open_bracket - 1 >= 16)
        return;
    memcpy(out, open_bracket + 1, (size_t)(close_bracket - open_bracket - 1));
    out[close_bracket - open_bracket - 1] = '\0';
}

/* Whether pagemap shows the frame number of a page we have touched: the
 * kernel shows zero instead to processes without CAP_SYS_ADMIN. */
static bool read_frame_numbers_visible(void)
{
    static volatile char probe[1];
    uint64_t entry = 0;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    bool visible;

    if (fd < 0 || page <= 0)
        return false;
    probe[0] = 1; /* present, so a frame exists to be shown */
    off_t at = (off_t)((uintptr_t)probe / (uintptr_t)page * sizeof entry);
    visible = pread(fd, &entry, sizeof entry, at) == (ssize_t)sizeof entry &&
              (entry & (UINT64_C(1) << 63)) && (entry & ((UINT64_C(1) << 55) - 1)) != 0;
    close(fd);
    return visible;
}

void lab_machine_read(struct lab_machine *m)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    m->cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
    read_thp_mode(m->thp);
    m->frame_numbers_visible = read_frame_numbers_visible();
    m->root = geteuid() == 0;
}
