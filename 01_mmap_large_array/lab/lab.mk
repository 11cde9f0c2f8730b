# 01_mmap_large_array/lab/lab.mk - the anonymous memory lab, built for one
# implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=01_mmap_large_array).
#
#   $(LAB_OUT)/anon_driver   the grader's tests, linked with the student's anon.c
#   $(LAB_OUT)/quiz          the scenarios for the student: questions, the
#                            kernel's answers, and the student's beside them

LAB_FILES := anon.c

include common/lab/scenario.mk
ANON_LAB_OBJS := $(addprefix $(BUILD)/obj/01_mmap_large_array/lab/tests/,scenario.o tests.o pages.o) \
  $(LAB_OUT)/obj/anon.o $(SCENARIO_OBJS) $(LAB_HARNESS) $(COMMON_LIB)

$(LAB_OUT)/anon_driver: $(SCENARIO_DRIVER_MAIN) $(ANON_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
$(LAB_OUT)/quiz: $(SCENARIO_QUIZ_MAIN) $(ANON_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/anon_driver $(LAB_OUT)/quiz
