# 05_zone_malloc/lesson.mk - the allocator as two libraries, the lesson's
# demo, and the test driver.
#
#   build/libzone_malloc.a    the allocator under zm_ names (for the demo, the
#                             test driver, bench/alloc_bench)
#   build/libzone_malloc.so   the same plus the C library's names, for
#                             LD_PRELOAD (position-independent objects)
#   build/05_zone_malloc      the lesson program
#   build/zone_malloc_test    the test driver (run by test/05_zone_malloc.bats)

ZONE_MALLOC_SRCS := $(addprefix 05_zone_malloc/,arena.c block.c debug.c heap_check.c large.c \
  malloc_api.c show_alloc_mem.c small.c text.c thread_cache.c tiny.c zone.c)
ZONE_MALLOC_LIB := $(BUILD)/libzone_malloc.a
ZONE_MALLOC_SO := $(BUILD)/libzone_malloc.so

$(ZONE_MALLOC_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(ZONE_MALLOC_SRCS))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# -Bsymbolic-functions: calls inside the library bind to the library, so
# malloc -> zm_malloc is a direct jump, not a trip through the PLT.
$(ZONE_MALLOC_SO): $(patsubst %.c,$(BUILD)/pic/%.o,$(ZONE_MALLOC_SRCS) 05_zone_malloc/libc_names.c)
	@mkdir -p $(@D)
	$(LINK) -shared -Wl,-Bsymbolic-functions -o $@ $^

05_zone_malloc_SRCS := $(addprefix 05_zone_malloc/,zone_malloc_demo.c fork_check.c zone_workload.c)
05_zone_malloc_DEPS := $(ZONE_MALLOC_LIB)
05_zone_malloc_LDLIBS := $(ZONE_MALLOC_LIB)

ZONE_MALLOC_TEST_SRCS := $(addprefix 05_zone_malloc/,zone_malloc_test.c test_zones.c \
  test_misuse.c test_trace.c test_threads.c fork_check.c)
ZONE_MALLOC_TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(ZONE_MALLOC_TEST_SRCS))
$(BUILD)/zone_malloc_test: $(ZONE_MALLOC_TEST_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(ZONE_MALLOC_TEST_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

EXTRAS += $(ZONE_MALLOC_LIB) $(ZONE_MALLOC_SO) $(BUILD)/zone_malloc_test
