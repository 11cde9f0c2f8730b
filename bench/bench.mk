# bench/bench.mk - measurements against a reference, in the same run.
#
#   build/alloc_bench   the allocation workload against glibc's malloc,
#                       lesson 05's zone allocator or lesson 07's shared
#                       region (--allocator)

ALLOC_BENCH_OBJS := $(BUILD)/obj/bench/alloc_bench.o $(BUILD)/obj/05_zone_malloc/zone_workload.o
$(BUILD)/obj/bench/alloc_bench.o: ASYM_CPPFLAGS += -I$(SHALLOC_INC)
$(BUILD)/alloc_bench: $(ALLOC_BENCH_OBJS) $(ZONE_MALLOC_LIB) $(SHALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(ALLOC_BENCH_OBJS) $(ZONE_MALLOC_LIB) $(SHALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

PROGRAMS += $(BUILD)/alloc_bench

#   build/alloc_trace   make allocation traces and replay them against
#                       glibc's malloc or the zone allocator
ALLOC_TRACE_OBJS := $(BUILD)/obj/bench/alloc_trace.o
$(BUILD)/alloc_trace: $(ALLOC_TRACE_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(ALLOC_TRACE_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

PROGRAMS += $(BUILD)/alloc_trace
