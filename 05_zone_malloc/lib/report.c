/*
 * report.c - the allocator's last words: a pointer it was handed that is
 * not one of its live blocks, or an invariant found broken (zm_assert).
 *
 * The lowest layer but text.c: any file may call it, so a zone kind or the
 * block layer can report misuse without calling the debug layer above it.
 */
#include "zm_internal.h"

#include <stdlib.h>
#include <unistd.h>

void zm_die_pointer(const char *op, const void *ptr, const char *what)
{
    struct text t = {.fd = STDERR_FILENO};

    text_str(&t, "zone_malloc: ");
    text_str(&t, op);
    text_str(&t, "(");
    text_hex(&t, (uintptr_t)ptr);
    text_str(&t, "): ");
    text_str(&t, what);
    text_str(&t, "\n");
    text_flush(&t);
    abort();
}

void zm_assert_failed(const char *expr, const char *file, int line)
{
    struct text t = {.fd = STDERR_FILENO};

    text_str(&t, "zone_malloc: internal check failed: ");
    text_str(&t, expr);
    text_str(&t, " (");
    text_str(&t, file);
    text_str(&t, ":");
    text_uint(&t, (uint64_t)line);
    text_str(&t, ")\n");
    text_flush(&t);
    abort();
}
