# 07_shared_mmap_allocator: the shalloc library (build/libshared_alloc.a,
# also used by bench/) and the lesson program linked with it.
SHALLOC_DIR := 07_shared_mmap_allocator
SHALLOC_INC := $(SHALLOC_DIR)
SHALLOC_SRCS := $(addprefix $(SHALLOC_DIR)/,shalloc.c shalloc_region.c shalloc_repair.c shalloc_check.c \
                 shalloc_workload.c)
SHALLOC_LIB := $(BUILD)/libshared_alloc.a

$(SHALLOC_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(SHALLOC_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

EXTRAS += $(SHALLOC_LIB)
07_shared_mmap_allocator_SRCS := $(filter-out $(SHALLOC_SRCS),$(wildcard $(SHALLOC_DIR)/*.c))
07_shared_mmap_allocator_DEPS := $(SHALLOC_LIB)
07_shared_mmap_allocator_LDLIBS := $(SHALLOC_LIB)
