# 07_shared_mmap_allocator/lesson.mk - the shalloc library and the lesson
# program linked with it.
#
# Exports, for the lesson program and for bench/:
#   SHALLOC_INC   the library's include directory (add -I$(SHALLOC_INC),
#                 then #include "shalloc.h")
#   SHALLOC_LIB   the library, build/libshalloc.a
#
#   build/07_shared_mmap_allocator   the lesson program: the .c files at the
#                                    top of the lesson folder (lib/ is the
#                                    library, never part of the program)
#   build/shalloc_test               the library's misuse driver (test/; run
#                                    by test/07_shared_mmap_allocator.bats)

SHALLOC_INC := 07_shared_mmap_allocator/lib
SHALLOC_SRCS := $(wildcard $(SHALLOC_INC)/*.c)
SHALLOC_LIB := $(BUILD)/libshalloc.a

$(SHALLOC_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(SHALLOC_SRCS))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

EXTRAS += $(SHALLOC_LIB)

07_shared_mmap_allocator_SRCS := $(wildcard 07_shared_mmap_allocator/*.c)
07_shared_mmap_allocator_DEPS := $(SHALLOC_LIB)
07_shared_mmap_allocator_LDLIBS := $(SHALLOC_LIB)
$(patsubst %.c,$(BUILD)/obj/%.o,$(07_shared_mmap_allocator_SRCS)): ASYM_CPPFLAGS += -I$(SHALLOC_INC)

SHALLOC_TEST_OBJS := $(BUILD)/obj/07_shared_mmap_allocator/test/shalloc_test.o
$(SHALLOC_TEST_OBJS): ASYM_CPPFLAGS += -I$(SHALLOC_INC)
$(BUILD)/shalloc_test: $(SHALLOC_TEST_OBJS) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(SHALLOC_TEST_OBJS) $(SHALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

EXTRAS += $(BUILD)/shalloc_test
