# 06_malloc_after_fork_glitch/lesson.mk - the lesson program links lesson
# 05's allocator (ZONE_MALLOC_LIB, under its zm_ names) next to glibc's malloc.

06_malloc_after_fork_glitch_INCLUDES := $(ZONE_MALLOC_INC)
06_malloc_after_fork_glitch_DEPS := $(ZONE_MALLOC_LIB)
06_malloc_after_fork_glitch_LDLIBS := $(ZONE_MALLOC_LIB)
