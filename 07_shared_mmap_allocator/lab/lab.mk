# 07_shared_mmap_allocator/lab/lab.mk - the shared allocator lab, built for
# one implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=07_shared_mmap_allocator).
#
#   $(LAB_OUT)/sh_driver   the test driver, linked with the student's sh.c;
#                          its sh_hook is the grader's (tests/hooks.c)

LAB_FILES := sh.c

SH_LAB_TESTS := $(addprefix $(BUILD)/obj/07_shared_mmap_allocator/lab/tests/,sh_driver.o \
  views.o ledger.o hooks.o workers.o basic.o crowd.o forced.o)
$(LAB_OUT)/sh_driver: $(SH_LAB_TESTS) $(LAB_OUT)/obj/sh.o $(BUILD)/obj/common/lab/lab_fork.o \
  $(LAB_HARNESS) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/sh_driver
