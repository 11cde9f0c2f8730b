# 04_fork_cow/lab/lab.mk - the copy-on-write lab, built for one
# implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=04_fork_cow).
#
#   $(LAB_OUT)/cow_driver   the grader's tests, linked with the student's cow.c
#   $(LAB_OUT)/quiz         the scenarios for the student: questions, the
#                           kernel's answers, and the student's beside them

LAB_FILES := cow.c

include common/lab/scenario.mk
COW_LAB_OBJS := $(addprefix $(BUILD)/obj/04_fork_cow/lab/tests/,generate.o scenario.o tests.o pages.o) \
  $(LAB_OUT)/obj/cow.o $(SCENARIO_OBJS) $(LAB_HARNESS) $(COMMON_LIB)

$(LAB_OUT)/cow_driver: $(SCENARIO_DRIVER_MAIN) $(COW_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
$(LAB_OUT)/quiz: $(SCENARIO_QUIZ_MAIN) $(COW_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/cow_driver $(LAB_OUT)/quiz
