/*
 * zone_workload.h - the zone allocator as a common/workload.h contender.
 */
#ifndef ZONE_WORKLOAD_H
#define ZONE_WORKLOAD_H

#include "workload.h"

/* zm_malloc and zm_free. */
extern const struct alloc_api zone_workload_api;

#endif
