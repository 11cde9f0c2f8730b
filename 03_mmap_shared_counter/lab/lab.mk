# 03_mmap_shared_counter/lab/lab.mk - the shared counter lab, built for one
# implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=03_mmap_shared_counter).
#
#   $(LAB_OUT)/counter_driver  the grader's tests, linked with the student's counter.c
#   $(LAB_OUT)/quiz            the scenarios for the student: questions, the
#                              kernel's answers, and the student's beside them

LAB_FILES := counter.c

include common/lab/scenario.mk
COUNTER_LAB_OBJS := $(addprefix $(BUILD)/obj/03_mmap_shared_counter/lab/tests/,scenario.o tests.o) \
  $(LAB_OUT)/obj/counter.o $(SCENARIO_OBJS) $(LAB_HARNESS) $(COMMON_LIB)

$(LAB_OUT)/counter_driver: $(SCENARIO_DRIVER_MAIN) $(COUNTER_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
$(LAB_OUT)/quiz: $(SCENARIO_QUIZ_MAIN) $(COUNTER_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/counter_driver $(LAB_OUT)/quiz
