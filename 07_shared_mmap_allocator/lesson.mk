# 07_shared_mmap_allocator/lesson.mk - the shalloc library (lib/) and the
# lesson program linked with it.
#
# Exported to the fragments read after this one (bench/):
#   SHALLOC_INC   the library's include directory (add -I$(SHALLOC_INC), then
#                 #include "shalloc.h")
#   SHALLOC_LIB   the library, build/libshalloc.a
#
# Built here:
#   build/07_shared_mmap_allocator   the lesson program: the .c files at the
#                                    top of the lesson folder (lib/ is the
#                                    library, never part of the program)
#   build/shalloc_test               the library's misuse driver (test/; run
#                                    by test/07_shared_mmap_allocator.bats)
#   build/shalloc_kill               SIGKILL at every instruction of an
#                                    operation, the region checked after each
#   build/shalloc_fuzz               randomly damaged regions: no crash, no
#                                    hang, nothing touched outside

SHALLOC_INC := 07_shared_mmap_allocator/lib
# The library's files in layer order, bottom first: each calls only files
# before it in this list (see lib/README.md; test/layers.bats checks it).
SHALLOC_LAYERS := shalloc_report shalloc_layout shalloc_lock shalloc_span shalloc_bins shalloc_run \
  shalloc_repair shalloc_run_cache shalloc_cache shalloc_region shalloc shalloc_check shalloc_stats shalloc_workload
LIBRARIES += SHALLOC
SHALLOC_SRCS := $(patsubst %,$(SHALLOC_INC)/%.c,$(SHALLOC_LAYERS))
SHALLOC_LIB := $(BUILD)/libshalloc.a

$(SHALLOC_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(SHALLOC_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

07_shared_mmap_allocator_INCLUDES := $(SHALLOC_INC)
07_shared_mmap_allocator_DEPS := $(SHALLOC_LIB)
07_shared_mmap_allocator_LDLIBS := $(SHALLOC_LIB)

SHALLOC_TEST_OBJS := $(BUILD)/obj/07_shared_mmap_allocator/test/shalloc_test.o
$(SHALLOC_TEST_OBJS): ASYM_CPPFLAGS += -I$(SHALLOC_INC)
$(BUILD)/shalloc_test: $(SHALLOC_TEST_OBJS) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(SHALLOC_TEST_OBJS) $(SHALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

SHALLOC_KILL_OBJS := $(BUILD)/obj/07_shared_mmap_allocator/test/shalloc_kill.o
$(SHALLOC_KILL_OBJS): ASYM_CPPFLAGS += -I$(SHALLOC_INC)
$(BUILD)/shalloc_kill: $(SHALLOC_KILL_OBJS) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(SHALLOC_KILL_OBJS) $(SHALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

SHALLOC_FUZZ_OBJS := $(BUILD)/obj/07_shared_mmap_allocator/test/shalloc_fuzz.o
$(SHALLOC_FUZZ_OBJS): ASYM_CPPFLAGS += -I$(SHALLOC_INC)
$(BUILD)/shalloc_fuzz: $(SHALLOC_FUZZ_OBJS) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(SHALLOC_FUZZ_OBJS) $(SHALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

EXTRAS += $(SHALLOC_LIB) $(BUILD)/shalloc_test $(BUILD)/shalloc_kill $(BUILD)/shalloc_fuzz
