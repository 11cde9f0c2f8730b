/*
 * sync.h - threads and one-byte pipe messages, the two ways the lessons
 * make one thing wait for another (never sleep()).
 */
#ifndef ASYM_SYNC_H
#define ASYM_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/* pthread_create and pthread_join, or die naming the call. */
pthread_t start_thread(void *(*fn)(void *arg), void *arg);
void join_thread(pthread_t thread);

/* One byte through a pipe, retrying on EINTR; die on error.
 * receive_byte returns false at end of file. */
void send_byte(int fd, char byte);
bool receive_byte(int fd, char *byte);

/* A thread says who it is (its gettid()) through a pipe, so that another can
 * watch it in /proc/self/task/TID; die on error or end of file. */
void send_tid(int fd);
pid_t receive_tid(int fd);

#endif
