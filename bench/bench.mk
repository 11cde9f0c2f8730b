# bench/bench.mk - measurements against a reference, in the same run.  Read
# after every lesson's fragment: it uses the allocators' exported variables
# (ZONE_MALLOC_INC/_LIB from lesson 05, SHALLOC_INC/_LIB from lesson 07).
#
#   build/alloc_bench   the allocation workload against glibc's malloc,
#                       lesson 05's zone allocator or lesson 07's shared
#                       region (--allocator)
#   build/alloc_trace   make allocation traces and replay them against
#                       glibc's malloc or the zone allocator
#   build/alloc_patterns  six allocation patterns of real programs, on the
#                       process's malloc only (bench/run.sh malloc preloads
#                       each allocator in turn)

BENCH_OBJS := $(BUILD)/obj/bench/alloc_bench.o $(BUILD)/obj/bench/alloc_trace.o
$(BENCH_OBJS): ASYM_CPPFLAGS += -I$(ZONE_MALLOC_INC) -I$(SHALLOC_INC)

$(BUILD)/alloc_bench: $(BUILD)/obj/bench/alloc_bench.o $(ZONE_MALLOC_LIB) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)

$(BUILD)/alloc_trace: $(BUILD)/obj/bench/alloc_trace.o $(ZONE_MALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)

PROGRAMS += $(BUILD)/alloc_bench $(BUILD)/alloc_trace

ALLOC_PATTERNS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,bench/alloc_patterns.c $(wildcard bench/pattern_*.c))
$(BUILD)/alloc_patterns: $(ALLOC_PATTERNS_OBJS) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)

PROGRAMS += $(BUILD)/alloc_patterns
