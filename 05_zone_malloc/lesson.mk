# 05_zone_malloc/lesson.mk - the allocator (lib/) as two libraries, the
# lesson's demo, and the test driver (test/).
#
# Exported to the fragments read after this one (lesson 06, bench/):
#   ZONE_MALLOC_INC   the directory of zone_malloc.h and zone_adapters.h
#   ZONE_MALLOC_LIB   build/libzone_malloc.a: the allocator under its zm_ names
#                     (and zone_adapters.c)
#   ZONE_MALLOC_SO    build/libzone_malloc.so: the allocator under zm_ names and
#                     the C library's (malloc, free, ...), for LD_PRELOAD
#
# Built here:
#   build/05_zone_malloc      the lesson program (zone_malloc_demo.c)
#   build/zone_malloc_test    the test driver (run by test/05_zone_malloc.bats)

ZONE_MALLOC_INC := 05_zone_malloc/lib
# The library's files in layer order, bottom first: each calls only files
# before it in this list (see lib/README.md; test/layers.bats checks it).
ZONE_MALLOC_LAYERS := text report options state os size_class zone_pool zone tiny small large_cache \
  large block remote_free thread_cache heap_check debug malloc_api stats show_alloc_mem
ZONE_MALLOC_SRCS := $(patsubst %,$(ZONE_MALLOC_INC)/%.c,$(ZONE_MALLOC_LAYERS))
LIBRARIES += ZONE_MALLOC
ZONE_MALLOC_LIB := $(BUILD)/libzone_malloc.a
ZONE_MALLOC_SO := $(BUILD)/libzone_malloc.so

$(ZONE_MALLOC_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(ZONE_MALLOC_SRCS) $(ZONE_MALLOC_INC)/zone_adapters.c)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

# The C library's names, for LD_PRELOAD: each one whose zm_ call takes the
# same arguments is that call itself, a second name the linker gives its
# address (--defsym), so a program's free is zm_free with no jump between;
# lib/libc_names.c holds the one that differs (malloc_trim).
# -Bsymbolic-functions: calls inside the library bind to the library, not
# to a definition an earlier object might bring.
ZONE_MALLOC_LIBC_NAMES := malloc free calloc realloc reallocarray posix_memalign aligned_alloc \
  memalign valloc pvalloc malloc_usable_size show_alloc_mem show_alloc_mem_ex
$(ZONE_MALLOC_SO): $(patsubst %.c,$(BUILD)/pic/%.o,$(ZONE_MALLOC_SRCS) $(ZONE_MALLOC_INC)/libc_names.c)
	@mkdir -p $(@D)
	$(LINK) -shared -Wl,-Bsymbolic-functions \
	  $(foreach name,$(ZONE_MALLOC_LIBC_NAMES),-Wl,--defsym=$(name)=zm_$(name)) -o $@ $^

05_zone_malloc_INCLUDES := $(ZONE_MALLOC_INC)
05_zone_malloc_DEPS := $(ZONE_MALLOC_LIB)
05_zone_malloc_LDLIBS := $(ZONE_MALLOC_LIB)

ZONE_MALLOC_TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard 05_zone_malloc/test/*.c))
$(ZONE_MALLOC_TEST_OBJS): ASYM_CPPFLAGS += -I$(ZONE_MALLOC_INC)
$(BUILD)/zone_malloc_test: $(ZONE_MALLOC_TEST_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB)
	$(LINK) -o $@ $(ZONE_MALLOC_TEST_OBJS) $(ZONE_MALLOC_LIB) $(COMMON_LIB) $(LDLIBS)

EXTRAS += $(ZONE_MALLOC_LIB) $(ZONE_MALLOC_SO) $(BUILD)/zone_malloc_test
