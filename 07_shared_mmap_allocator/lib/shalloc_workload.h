/*
 * shalloc_workload.h - a shared region as a common/workload.h contender.
 */
#ifndef SHALLOC_WORKLOAD_H
#define SHALLOC_WORKLOAD_H

#include "shalloc.h"
#include "workload.h"

/* shalloc_alloc and shalloc_free on the region behind h. */
struct alloc_api shalloc_workload_api(struct shalloc *h);

#endif
