/*
 * unsafe.c - the functions that the child of _Fork() in a signal handler
 * must not call before execve or _exit, interposed.
 *
 * The driver is linked with ld's --wrap for each of them (lab.mk lists
 * them): a call to printf in the student's files (and in the driver's)
 * goes to __wrap_printf here, which calls the real one, __real_printf.
 * Once armed (unsafe_arm: in the signal handler's child, just before it
 * calls crash_report_child), the first call records its name in
 * notes->unsafe_call and ends the child with CHILD_UNSAFE.  So every such
 * call is caught, whether or not it would have hung this time: most days
 * printf in that child works, and on the day another thread held stdio's
 * or malloc's lock at the fork it waits for ever.
 *
 * The list is the functions students reach for (signal-safety(7) has the
 * list of the safe ones): malloc and friends; stdio, including what gcc
 * turns printf into (puts, putchar, fwrite) and the _chk variants that
 * _FORTIFY_SOURCE substitutes; strerror (locale data); exit (atexit
 * handlers, stdio flushing); execvp (a PATH search, not in the list); and
 * taking a lock.  Functions not in it that take malloc's lock still cannot
 * pass: the signal_malloc test forks while another thread holds it.
 */
#include "driver.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t armed;

void unsafe_arm(void)
{
    armed = 1;
}

void unsafe_check(const char *function)
{
    if (!armed)
        return;
    if (notes->unsafe_call[0] == '\0')
        strncpy(notes->unsafe_call, function, sizeof notes->unsafe_call - 1);
    _exit(CHILD_UNSAFE);
}

/* The real functions, and the wrappers' own prototypes (-Wmissing-prototypes). */
#define PRINTF(f, v) __attribute__((format(printf, f, v)))
void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_vprintf(const char *fmt, va_list ap) PRINTF(1, 0);
int __real_vfprintf(FILE *f, const char *fmt, va_list ap) PRINTF(2, 0);
int __real_vdprintf(int fd, const char *fmt, va_list ap) PRINTF(2, 0);
int __real_vsprintf(char *s, const char *fmt, va_list ap) PRINTF(2, 0);
int __real_vsnprintf(char *s, size_t n, const char *fmt, va_list ap) PRINTF(3, 0);
int __real___vprintf_chk(int flag, const char *fmt, va_list ap) PRINTF(2, 0);
int __real___vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap) PRINTF(3, 0);
int __real___vdprintf_chk(int fd, int flag, const char *fmt, va_list ap) PRINTF(3, 0);
int __real___vsprintf_chk(char *s, int flag, size_t len, const char *fmt, va_list ap) PRINTF(4, 0);
int __real___vsnprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, va_list ap)
    PRINTF(5, 0);
int __real_puts(const char *s);
int __real_fputs(const char *s, FILE *f);
int __real_putchar(int c);
int __real_fputc(int c, FILE *f);
int __real_putc(int c, FILE *f);
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __real_fflush(FILE *f);
void __real_perror(const char *s);
FILE *__real_fopen(const char *path, const char *mode);
char *__real_strerror(int err);
_Noreturn void __real_exit(int status);
int __real_execvp(const char *file, char *const argv[]);
int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_pthread_mutex_unlock(pthread_mutex_t *m);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t count, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
int __wrap_printf(const char *fmt, ...) PRINTF(1, 2);
int __wrap_vprintf(const char *fmt, va_list ap) PRINTF(1, 0);
int __wrap_fprintf(FILE *f, const char *fmt, ...) PRINTF(2, 3);
int __wrap_vfprintf(FILE *f, const char *fmt, va_list ap) PRINTF(2, 0);
int __wrap_dprintf(int fd, const char *fmt, ...) PRINTF(2, 3);
int __wrap_vdprintf(int fd, const char *fmt, va_list ap) PRINTF(2, 0);
int __wrap_sprintf(char *s, const char *fmt, ...) PRINTF(2, 3);
int __wrap_vsprintf(char *s, const char *fmt, va_list ap) PRINTF(2, 0);
int __wrap_snprintf(char *s, size_t n, const char *fmt, ...) PRINTF(3, 4);
int __wrap_vsnprintf(char *s, size_t n, const char *fmt, va_list ap) PRINTF(3, 0);
int __wrap___printf_chk(int flag, const char *fmt, ...) PRINTF(2, 3);
int __wrap___vprintf_chk(int flag, const char *fmt, va_list ap) PRINTF(2, 0);
int __wrap___fprintf_chk(FILE *f, int flag, const char *fmt, ...) PRINTF(3, 4);
int __wrap___vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap) PRINTF(3, 0);
int __wrap___dprintf_chk(int fd, int flag, const char *fmt, ...) PRINTF(3, 4);
int __wrap___vdprintf_chk(int fd, int flag, const char *fmt, va_list ap) PRINTF(3, 0);
int __wrap___sprintf_chk(char *s, int flag, size_t len, const char *fmt, ...) PRINTF(4, 5);
int __wrap___vsprintf_chk(char *s, int flag, size_t len, const char *fmt, va_list ap) PRINTF(4, 0);
int __wrap___snprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, ...)
    PRINTF(5, 6);
int __wrap___vsnprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, va_list ap)
    PRINTF(5, 0);
int __wrap_puts(const char *s);
int __wrap_fputs(const char *s, FILE *f);
int __wrap_putchar(int c);
int __wrap_fputc(int c, FILE *f);
int __wrap_putc(int c, FILE *f);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __wrap_fflush(FILE *f);
void __wrap_perror(const char *s);
FILE *__wrap_fopen(const char *path, const char *mode);
char *__wrap_strerror(int err);
_Noreturn void __wrap_exit(int status);
int __wrap_execvp(const char *file, char *const argv[]);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m);

/* ------------------------------------------------------------- memory */

void *__wrap_malloc(size_t n)
{
    unsafe_check("malloc");
    return __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t n)
{
    unsafe_check("calloc");
    return __real_calloc(count, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    unsafe_check("realloc");
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    unsafe_check("free");
    __real_free(p);
}

/* ---------------------------------------------------- formatted output */

/* A variadic wrapper: check, then the v- function with the arguments. */
#define FORWARD(name, call)                                                                        \
    do {                                                                                           \
        va_list ap;                                                                                \
        unsafe_check(name);                                                                        \
        va_start(ap, fmt);                                                                         \
        int n_ = call;                                                                             \
        va_end(ap);                                                                                \
        return n_;                                                                                 \
    } while (0)

int __wrap_printf(const char *fmt, ...)
{
    FORWARD("printf", __real_vprintf(fmt, ap));
}

int __wrap_vprintf(const char *fmt, va_list ap)
{
    unsafe_check("vprintf");
    return __real_vprintf(fmt, ap);
}

int __wrap_fprintf(FILE *f, const char *fmt, ...)
{
    FORWARD("fprintf", __real_vfprintf(f, fmt, ap));
}

int __wrap_vfprintf(FILE *f, const char *fmt, va_list ap)
{
    unsafe_check("vfprintf");
    return __real_vfprintf(f, fmt, ap);
}

int __wrap_dprintf(int fd, const char *fmt, ...)
{
    FORWARD("dprintf", __real_vdprintf(fd, fmt, ap));
}

int __wrap_vdprintf(int fd, const char *fmt, va_list ap)
{
    unsafe_check("vdprintf");
    return __real_vdprintf(fd, fmt, ap);
}

int __wrap_sprintf(char *s, const char *fmt, ...)
{
    FORWARD("sprintf", __real_vsprintf(s, fmt, ap));
}

int __wrap_vsprintf(char *s, const char *fmt, va_list ap)
{
    unsafe_check("vsprintf");
    return __real_vsprintf(s, fmt, ap);
}

int __wrap_snprintf(char *s, size_t n, const char *fmt, ...)
{
    FORWARD("snprintf", __real_vsnprintf(s, n, fmt, ap));
}

int __wrap_vsnprintf(char *s, size_t n, const char *fmt, va_list ap)
{
    unsafe_check("vsnprintf");
    return __real_vsnprintf(s, n, fmt, ap);
}

/* What _FORTIFY_SOURCE turns the same calls into. */
int __wrap___printf_chk(int flag, const char *fmt, ...)
{
    FORWARD("printf", __real___vprintf_chk(flag, fmt, ap));
}

int __wrap___vprintf_chk(int flag, const char *fmt, va_list ap)
{
    unsafe_check("vprintf");
    return __real___vprintf_chk(flag, fmt, ap);
}

int __wrap___fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    FORWARD("fprintf", __real___vfprintf_chk(f, flag, fmt, ap));
}

int __wrap___vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
    unsafe_check("vfprintf");
    return __real___vfprintf_chk(f, flag, fmt, ap);
}

int __wrap___dprintf_chk(int fd, int flag, const char *fmt, ...)
{
    FORWARD("dprintf", __real___vdprintf_chk(fd, flag, fmt, ap));
}

int __wrap___vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
    unsafe_check("vdprintf");
    return __real___vdprintf_chk(fd, flag, fmt, ap);
}

int __wrap___sprintf_chk(char *s, int flag, size_t len, const char *fmt, ...)
{
    FORWARD("sprintf", __real___vsprintf_chk(s, flag, len, fmt, ap));
}

int __wrap___vsprintf_chk(char *s, int flag, size_t len, const char *fmt, va_list ap)
{
    unsafe_check("vsprintf");
    return __real___vsprintf_chk(s, flag, len, fmt, ap);
}

int __wrap___snprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, ...)
{
    FORWARD("snprintf", __real___vsnprintf_chk(s, n, flag, len, fmt, ap));
}

int __wrap___vsnprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, va_list ap)
{
    unsafe_check("vsnprintf");
    return __real___vsnprintf_chk(s, n, flag, len, fmt, ap);
}

/* ---------------------------------------------------------- other stdio */

int __wrap_puts(const char *s)
{
    unsafe_check("puts");
    return __real_puts(s);
}

int __wrap_fputs(const char *s, FILE *f)
{
    unsafe_check("fputs");
    return __real_fputs(s, f);
}

int __wrap_putchar(int c)
{
    unsafe_check("putchar");
    return __real_putchar(c);
}

int __wrap_fputc(int c, FILE *f)
{
    unsafe_check("fputc");
    return __real_fputc(c, f);
}

int __wrap_putc(int c, FILE *f)
{
    unsafe_check("putc");
    return __real_putc(c, f);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    unsafe_check("fwrite");
    return __real_fwrite(p, size, n, f);
}

int __wrap_fflush(FILE *f)
{
    unsafe_check("fflush");
    return __real_fflush(f);
}

void __wrap_perror(const char *s)
{
    unsafe_check("perror");
    __real_perror(s);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    unsafe_check("fopen");
    return __real_fopen(path, mode);
}

/* ------------------------------------------------------- the rest */

char *__wrap_strerror(int err)
{
    unsafe_check("strerror");
    return __real_strerror(err);
}

void __wrap_exit(int status)
{
    unsafe_check("exit");
    __real_exit(status);
}

int __wrap_execvp(const char *file, char *const argv[])
{
    unsafe_check("execvp");
    return __real_execvp(file, argv);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    unsafe_check("pthread_mutex_lock");
    return __real_pthread_mutex_lock(m);
}

/* An unlock refused is recorded for the report: the mistake it names (a
 * child handler unlocking a lock its parent's thread took) is otherwise
 * silent until the child's next lock waits for ever. */
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    int err = __real_pthread_mutex_unlock(m);

    if (err == EPERM && notes != NULL && notes->lock_error[0] == '\0')
        snprintf(notes->lock_error, sizeof notes->lock_error,
                 "a pthread_mutex_unlock returned EPERM: the calling thread does not hold that "
                 "lock (in the child of fork() a lock taken in prepare belongs to the parent's "
                 "forking thread: make it anew with lib_mutex_make, never unlock it)");
    return err;
}
