# common/lab/lab.mk - the labs: make grade, make lab-selftest, make handout.
#
# A lab is a folder NN_lesson/lab/ with a rubric, the student's starter
# file(s), its test drivers, solution/ and mutants/ (common/lab/README.md
# says how to write one).  The targets run the scripts of this folder, which
# build one lab for one implementation by calling this Makefile back:
#     make lab-build LAB_NAME=05_zone_malloc LAB_OUT=build/lab/05_zone_malloc/starter
# with the student's files copied into $(LAB_OUT)/src/.  That includes the
# lab's own NN_lesson/lab/lab.mk, and no other; a lab.mk sets LAB_FILES (the
# files a student hands in) and adds its drivers to LAB_PRODUCTS, linking
# the student's objects $(LAB_OUT)/obj/NAME.o (or $(LAB_OUT)/pic/NAME.o for
# a shared library) with its harness, $(LAB_HARNESS) and $(COMMON_LIB):
# libc and pthreads, never a lesson's library.

LAB ?= all
IMPL ?= starter
SEED ?=
JSON ?=
TEST ?=
TIMEOUT ?=
RUBRIC ?=
LAB_REPEATS ?= 5

LAB_HARNESS := $(BUILD)/lab/liblab.a
LAB_MACHINE := $(BUILD)/lab/lab_machine

$(LAB_HARNESS): $(BUILD)/obj/common/lab/lab.o
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(LAB_MACHINE): $(BUILD)/obj/common/lab/lab_machine.o $(LAB_HARNESS) $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)

# The student's files: C17 with the project's warnings, but never -Werror:
# the smoke_build test reports warnings rather than refusing to grade.  Each
# object's compiler messages stay beside it in NAME.o.warnings.
LAB_STUDENT_COMPILE = $(CC) -D_GNU_SOURCE -I$(LAB_NAME)/lab $(CPPFLAGS) -std=c17 $(WARNINGS) \
  -pthread $(SAN_FLAGS) $(CFLAGS)

ifneq ($(LAB_NAME),)
LAB_FILES :=
LAB_PRODUCTS :=
# The lab's own drivers find the lab's headers (the student's API) and the
# harness by directory, never by a ../ path.
$(BUILD)/obj/$(LAB_NAME)/lab/%.o $(BUILD)/pic/$(LAB_NAME)/lab/%.o: \
  ASYM_CPPFLAGS += -I$(LAB_NAME)/lab -Icommon/lab
include $(LAB_NAME)/lab/lab.mk
LAB_HEADERS := $(wildcard $(LAB_NAME)/lab/*.h)

$(LAB_OUT)/obj/%.o: $(LAB_OUT)/src/%.c $(LAB_HEADERS)
	@mkdir -p $(@D)
	@$(LAB_STUDENT_COMPILE) -c -o $@ $< 2>$@.warnings || { cat $@.warnings >&2; exit 1; }
$(LAB_OUT)/pic/%.o: $(LAB_OUT)/src/%.c $(LAB_HEADERS)
	@mkdir -p $(@D)
	@$(LAB_STUDENT_COMPILE) -fPIC -c -o $@ $< 2>$@.warnings || { cat $@.warnings >&2; exit 1; }
endif

.PHONY: grade lab-selftest handout lab-build lab-files lab-machine
lab-machine: $(LAB_MACHINE)
lab-build: $(LAB_MACHINE) $(LAB_PRODUCTS)
lab-files:
	@echo $(LAB_FILES)

LAB_ENV = MAKE='$(MAKE)' LAB_O='$(O)' LAB_BUILD_ROOT='$(BUILD)' LAB_SANITIZER='$(SAN)'

grade: ## grade labs: LAB=NN|all IMPL=starter|solution|DIR SEED=S JSON=FILE TEST=id,...
	@$(LAB_ENV) common/lab/grade.sh --lab '$(LAB)' --impl '$(IMPL)' \
	  $(if $(SEED),--seed '$(SEED)') $(if $(JSON),--json '$(JSON)') \
	  $(if $(TEST),--test '$(TEST)') $(if $(TIMEOUT),--timeout '$(TIMEOUT)') \
	  $(if $(RUBRIC),--rubric '$(RUBRIC)')

lab-selftest: ## prove each lab's grader: solution full marks, starter and mutants fail
	@$(LAB_ENV) common/lab/selftest.sh --lab '$(LAB)' --repeats '$(LAB_REPEATS)'

handout: ## the student tree, without solutions: build/handout/ (folder and .tar.gz)
	@common/lab/handout.sh '$(O)/handout'

# The top Makefile lints every .c, .h, .sh and .bash file; the scripts
# without a suffix are these.
SHELL_FILES += common/lab/gradescope/run_autograder
