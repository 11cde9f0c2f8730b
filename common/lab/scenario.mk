# common/lab/scenario.mk - the predict-and-measure engine of labs 01 to 04,
# for their lab.mk (include it there): the objects every such lab links,
# and its two mains, the quiz and the test driver.  See scenario.h.

SCENARIO_OBJS := $(addprefix $(BUILD)/obj/common/lab/,scenario.o scenario_quiz.o scenario_grade.o sandbox.o fault.o)
SCENARIO_QUIZ_MAIN := $(BUILD)/obj/common/lab/quiz_main.o
SCENARIO_DRIVER_MAIN := $(BUILD)/obj/common/lab/driver_main.o
