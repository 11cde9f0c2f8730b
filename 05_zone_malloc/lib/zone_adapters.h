/*
 * zone_adapters.h - the zone allocator in the shapes common/ measures and
 * forks with: a workload contender (common/workload.h), the child's job of
 * a fork experiment (common/hammer.h) and its locks (common/child.h).  For
 * the lesson's demo and test driver, lesson 06 and bench/; built into
 * libzone_malloc.a only.
 */
#ifndef ZONE_ADAPTERS_H
#define ZONE_ADAPTERS_H

#include "child.h"
#include "hammer.h"
#include "workload.h"

/* zm_malloc, zm_free and zm_realloc. */
extern const struct alloc_api zone_workload_api;

/* Allocate every kind of block through zm_, then zm_check_heap. */
extern const struct child_job zone_child_job;

/* zm_lock_all and zm_unlock_all; fork_waits while the fork handlers are on. */
struct held_locks zone_held_locks(void);

#endif
