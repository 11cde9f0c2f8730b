/*
 * mm.h - the malloc lab's interface.  Do not edit: the grader compiles
 * your mm.c against its own copy of this file.
 *
 * Each function behaves as the C library's function of the same name, with
 * the choices below where the C standard leaves one to the implementation:
 *
 *   mm_init()              called once, before any other mm_ call; 0 on
 *                          success, -1 if the allocator cannot start
 *   mm_malloc(n)           a block of at least n bytes, 16-byte aligned;
 *                          mm_malloc(0) returns a unique pointer (not NULL)
 *                          that mm_free accepts; NULL and errno = ENOMEM when
 *                          no block can be had (mm_malloc(SIZE_MAX) included)
 *   mm_free(p)             gives back a block; mm_free(NULL) does nothing
 *   mm_realloc(p, n)       a block of n bytes holding the first min(old, n)
 *                          bytes of p's block, which is freed unless it is the
 *                          one returned; mm_realloc(NULL, n) is mm_malloc(n);
 *                          mm_realloc(p, 0) frees p and returns NULL; on
 *                          failure NULL, errno = ENOMEM, and p is untouched
 *   mm_calloc(count, size) mm_malloc(count * size) with every byte zero; NULL
 *                          and errno = ENOMEM if count * size overflows
 *
 * Every function may be called from several threads at once.
 */
#ifndef MM_H
#define MM_H

#include <stddef.h>

enum { MM_ALIGNMENT = 16 };

int mm_init(void);
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);
void *mm_calloc(size_t count, size_t size);

#endif
