# 06_malloc_after_fork_glitch/lesson.mk - the lesson program links lesson
# 05's allocator (build/libzone_malloc.a, under its zm_ names) and its fork
# experiments (fork_check.c), next to glibc's malloc.

06_malloc_after_fork_glitch_SRCS := $(wildcard 06_malloc_after_fork_glitch/*.c) \
  05_zone_malloc/fork_check.c
06_malloc_after_fork_glitch_DEPS := $(ZONE_MALLOC_LIB)
06_malloc_after_fork_glitch_LDLIBS := $(ZONE_MALLOC_LIB)
