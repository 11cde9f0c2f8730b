/*
 * out.c - headings and fact lines (see out.h).
 */
#include "out.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOLD  "\033[1m"
#define DIM   "\033[2m"
#define RESET "\033[0m"

static bool fact_line_open;

static bool use_colour(void)
{
    static int cached = -1;

    if (cached < 0)
        cached = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    return cached;
}

__attribute__((format(printf, 3, 0))) static void vtitle(const char *before, const char *after,
                                                         const char *fmt, va_list ap)
{
    if (fact_line_open)
        facts_end();
    fputs(before, stdout);
    if (use_colour())
        fputs(BOLD, stdout);
    vprintf(fmt, ap);
    if (use_colour())
        fputs(RESET, stdout);
    fputs(after, stdout);
}

void heading(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vtitle("\n== ", " ==\n", fmt, ap);
    va_end(ap);
}

void subheading(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vtitle("\n-- ", " --\n", fmt, ap);
    va_end(ap);
}

/* Keys are part of the contract with tests: keep them machine-friendly. */
static bool is_snake_case(const char *key)
{
    if (*key < 'a' || *key > 'z')
        return false;
    return strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(key);
}

static void fact_key(const char *key)
{
    assert(is_snake_case(key));
    if (!fact_line_open) {
        if (use_colour())
            fputs(DIM, stdout);
        fact_line_open = true;
    } else {
        putchar(' ');
    }
    printf("%s=", key);
}

void fact_int(const char *key, long long value)
{
    fact_key(key);
    printf("%lld", value);
}

void fact_uint(const char *key, unsigned long long value)
{
    fact_key(key);
    printf("%llu", value);
}

void fact_hex(const char *key, uintptr_t value)
{
    fact_key(key);
    printf("0x%jx", (uintmax_t)value);
}

void fact_word(const char *key, const char *value)
{
    assert(*value != '\0' && strpbrk(value, " \t\n") == NULL);
    fact_key(key);
    fputs(value, stdout);
}

void facts_end(void)
{
    if (!fact_line_open)
        return;
    if (use_colour())
        fputs(RESET, stdout);
    putchar('\n');
    fact_line_open = false;
}
