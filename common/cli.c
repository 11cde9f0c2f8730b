/*
 * cli.c - error reporting, option and size parsing (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t main_pid;

const char *prog_name(void)
{
    return program_invocation_short_name;
}

/*
 * At the main process's exit: what is left in stdout's buffer written and
 * the stream closed - or the output is lost (a full disk, a closed or
 * broken descriptor) and the exit status must say so, as coreutils do.
 * Children leave with _exit() and never come here.
 */
static void close_stdout(void)
{
    bool earlier = ferror(stdout) != 0;
    int err = 0;

    if (getpid() != main_pid)
        return;
    if (fflush(stdout) != 0)
        err = errno;
    if (fclose(stdout) != 0 && err == 0)
        err = errno;
    if (err == 0 && !earlier)
        return;
    if (err != 0) {
        char name_buf[24];
        fprintf(stderr, "%s: write to standard output: %s (%s)\n", prog_name(), strerror(err),
                errno_name(err, name_buf));
    } else
        fprintf(stderr, "%s: write to standard output: an earlier write failed\n", prog_name());
    _exit(EXIT_FAILURE); /* exit() again, from an exit handler, is undefined */
}

void cli_init(void)
{
    main_pid = getpid();
    if (atexit(close_stdout) != 0)
        die("atexit: cannot register the check of standard output");
}

void leave(int status)
{
    if (main_pid != 0 && getpid() != main_pid) {
        fflush(NULL);
        _exit(status);
    }
    exit(status);
}

const char *errno_name(int err, char buf[static 24])
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *name = strerrorname_np(err);
    if (name != NULL)
        return name;
#endif
    snprintf(buf, 24, "errno %d", err);
    return buf;
}

const char *signal_name(int sig, char buf[static 24])
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev != NULL) {
        snprintf(buf, 24, "SIG%s", abbrev);
        return buf;
    }
#endif
    snprintf(buf, 24, "signal %d", sig);
    return buf;
}

void reraise_default(int sig)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    sigemptyset(&dfl.sa_mask);
    if (sigaction(sig, &dfl, NULL) != 0 || raise(sig) != 0)
        _exit(128 + sig); /* cannot die by sig: exit as a shell reports it */
}

/* Write message with every control character escaped (\n, \t, \x01...):
 * a message names what the user typed, and must stay one line whatever
 * that was. */
static void put_escaped(const char *message, FILE *out)
{
    for (const unsigned char *p = (const unsigned char *)message; *p != '\0'; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

void die_err(const char *what, int err)
{
    char name_buf[24];

    fflush(stdout); /* what the program said so far comes before the error */
    fprintf(stderr, "%s: ", prog_name());
    put_escaped(what, stderr); /* often a path the user gave */
    fprintf(stderr, ": %s (%s)\n", strerror(err), errno_name(err, name_buf));
    leave(EXIT_FAILURE);
}

void die_errno(const char *what)
{
    die_err(what, errno);
}

__attribute__((format(printf, 1, 0))) static void vreport(const char *fmt, va_list ap,
                                                          const char *suffix)
{
    char message[1024];

    fflush(stdout);
    if (vsnprintf(message, sizeof message, fmt, ap) >= (int)sizeof message)
        memcpy(message + sizeof message - 4, "...", 4); /* cut, and says so */
    fprintf(stderr, "%s: ", prog_name());
    put_escaped(message, stderr);
    fprintf(stderr, "%s\n", suffix);
}

void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap, "");
    va_end(ap);
    leave(EXIT_FAILURE);
}

void usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap, " (see --help)");
    va_end(ap);
    leave(EXIT_USAGE);
}

/* Digits only, then the caller's suffix rules: strtoull alone would accept
 * leading spaces, a sign and "0x". */
static bool parse_digits(const char *text, uint64_t *value, const char **end, const char **why)
{
    uint64_t v = 0;
    const char *p = text;

    if (*p < '0' || *p > '9') {
        *why = *p == '\0' ? "empty value" : "not a positive decimal number";
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            *why = "too large";
            return false;
        }
        v = v * 10 + digit;
    }
    *value = v;
    *end = p;
    return true;
}

static int suffix_shift(char c)
{
    switch (c) {
    case 'k':
    case 'K': return 10;
    case 'm':
    case 'M': return 20;
    case 'g':
    case 'G': return 30;
    case 't':
    case 'T': return 40;
    case 'p':
    case 'P': return 50;
    default: return -1;
    }
}

bool parse_size(const char *text, size_t *out, const char **why)
{
    uint64_t value;
    const char *end;
    int shift = 0;

    if (!parse_digits(text, &value, &end, why))
        return false;
    if (*end != '\0') {
        shift = suffix_shift(*end);
        if (shift < 0 || end[1] != '\0') {
            *why = "unknown suffix (use K, M, G, T or P)";
            return false;
        }
    }
    if (value == 0) {
        *why = "must be greater than zero";
        return false;
    }
    if (value > (SIZE_MAX >> shift)) {
        *why = "too large";
        return false;
    }
    *out = (size_t)value << shift;
    return true;
}

bool parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out, const char **why)
{
    uint64_t value;
    const char *end;

    if (!parse_digits(text, &value, &end, why))
        return false;
    if (*end != '\0') {
        *why = "not a decimal number";
        return false;
    }
    if (value < min) {
        *why = "too small";
        return false;
    }
    if (value > max) {
        *why = "too large";
        return false;
    }
    *out = value;
    return true;
}

size_t opt_size(const char *option, const char *text)
{
    size_t size;
    const char *why;

    if (!parse_size(text, &size, &why))
        usage_error("%s: invalid size '%s': %s", option, text, why);
    return size;
}

void opt_size_range(const char *option, const char *text, size_t *min, size_t *max)
{
    const char *dash = strchr(text, '-'), *why;
    char low[32];

    if (dash == NULL || (size_t)(dash - text) >= sizeof low)
        usage_error("%s: invalid range '%s' (expected MIN-MAX, e.g. 16-1000)", option, text);
    memcpy(low, text, (size_t)(dash - text));
    low[dash - text] = '\0';
    if (!parse_size(low, min, &why) || !parse_size(dash + 1, max, &why))
        usage_error("%s: invalid range '%s': %s", option, text, why);
    if (*min > *max)
        usage_error("%s: invalid range '%s': the minimum is above the maximum", option, text);
}

uint64_t opt_uint(const char *option, const char *text, uint64_t min, uint64_t max)
{
    uint64_t value;
    const char *why;

    if (!parse_uint(text, min, max, &value, &why))
        usage_error("%s: invalid value '%s': %s (expected %" PRIu64 " to %" PRIu64 ")", option,
                    text, why, min, max);
    return value;
}

int opt_choice(const char *option, const char *text, const char *const choices[])
{
    char list[256] = "";

    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(text, choices[i]) == 0)
            return i;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "", choices[i]);
    }
    usage_error("%s: unknown value '%s' (expected %s)", option, text, list);
}

void parse_size_and_mode(int argc, char *argv[], size_t *size, int *mode,
                         const char *const mode_names[], void (*usage)(void))
{
    static const struct option options[] = {
        {"size", required_argument, NULL, 's'},
        {"mode", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":s:m:h", options, NULL)) != -1) {
        switch (opt) {
        case 's': *size = opt_size("--size", optarg); break;
        case 'm': *mode = opt_choice("--mode", optarg, mode_names); break;
        case 'h': usage(); leave(EXIT_SUCCESS);
        default: bad_option(opt, argv);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
}

void bad_option(int code, char *const argv[])
{
    const char *arg = argv[optind - 1];

    if (code == ':')
        usage_error("option '%s' needs a value", arg);
    if (strncmp(arg, "--", 2) == 0)
        /* getopt_long sets optopt only for a known option given a value */
        usage_error(optopt != 0 ? "option '%s' takes no value" : "unknown option '%s'", arg);
    usage_error("unknown option '-%c'", optopt);
}

const char *human_size(uint64_t bytes, char buf[static 32])
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int unit = 0;

    while (unit < 6 && bytes >> (10 * (unit + 1)) != 0)
        unit++;
    if (unit == 0)
        snprintf(buf, 32, "%" PRIu64 " bytes", bytes);
    else if (bytes % (UINT64_C(1) << (10 * unit)) == 0)
        snprintf(buf, 32, "%" PRIu64 " %s", bytes >> (10 * unit), units[unit]);
    else
        snprintf(buf, 32, "%.1f %s", (double)bytes / (double)(UINT64_C(1) << (10 * unit)),
                 units[unit]);
    return buf;
}
