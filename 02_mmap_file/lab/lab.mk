# 02_mmap_file/lab/lab.mk - the file-backed maps lab, built for one
# implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=02_mmap_file).
#
#   $(LAB_OUT)/file_driver   the grader's tests, linked with the student's filemap.c
#   $(LAB_OUT)/quiz          the scenarios for the student: questions, the
#                            kernel's answers, and the student's beside them

LAB_FILES := filemap.c

include common/lab/scenario.mk
FILE_LAB_OBJS := $(addprefix $(BUILD)/obj/02_mmap_file/lab/tests/,generate.o scenario.o tests.o files.o) \
  $(LAB_OUT)/obj/filemap.o $(SCENARIO_OBJS) $(LAB_HARNESS) $(COMMON_LIB)

$(LAB_OUT)/file_driver: $(SCENARIO_DRIVER_MAIN) $(FILE_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
$(LAB_OUT)/quiz: $(SCENARIO_QUIZ_MAIN) $(FILE_LAB_OBJS)
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/file_driver $(LAB_OUT)/quiz
