/*
 * sync.c - threads and one-byte pipe messages (see sync.h).
 */
#include "sync.h"

#include "cli.h"

#include <errno.h>
#include <unistd.h>

pthread_t start_thread(void *(*fn)(void *arg), void *arg)
{
    pthread_t thread;
    int err = pthread_create(&thread, NULL, fn, arg);

    if (err != 0)
        die_err("pthread_create", err);
    return thread;
}

void join_thread(pthread_t thread)
{
    int err = pthread_join(thread, NULL);

    if (err != 0)
        die_err("pthread_join", err);
}

void send_byte(int fd, char byte)
{
    ssize_t n;

    while ((n = write(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        die_errno("write pipe");
}

bool receive_byte(int fd, char *byte)
{
    ssize_t n;

    while ((n = read(fd, byte, 1)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        die_errno("read pipe");
    return n == 1;
}

void send_tid(int fd)
{
    pid_t tid = gettid();

    if (write(fd, &tid, sizeof tid) != (ssize_t)sizeof tid)
        die_errno("write tid pipe");
}

pid_t receive_tid(int fd)
{
    pid_t tid;
    ssize_t n;

    while ((n = read(fd, &tid, sizeof tid)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof tid)
        die_errno("read tid pipe");
    return tid;
}
