# 05_zone_malloc/lab/lab.mk - the malloc lab, built for one implementation
# (included by common/lab/lab.mk for make lab-build LAB_NAME=05_zone_malloc).
#
#   $(LAB_OUT)/mm_driver          the test driver, linked with the student's mm.c
#   $(LAB_OUT)/libmm_preload.so   mm.c behind the C library's names, for the
#                                 LD_PRELOAD stage (tests/preload.sh); not
#                                 built under a sanitizer, where it cannot run

LAB_FILES := mm.c

MM_LAB_TESTS := $(addprefix $(BUILD)/obj/05_zone_malloc/lab/tests/,mm_driver.o trace.o api.o \
  threads.o measure.o)
$(LAB_OUT)/mm_driver: $(MM_LAB_TESTS) $(LAB_OUT)/obj/mm.o $(LAB_HARNESS) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/mm_driver

ifeq ($(SAN),)
$(LAB_OUT)/libmm_preload.so: $(BUILD)/pic/05_zone_malloc/lab/tests/preload_shim.o $(LAB_OUT)/pic/mm.o
	$(LINK) -shared -o $@ $^
LAB_PRODUCTS += $(LAB_OUT)/libmm_preload.so
endif
