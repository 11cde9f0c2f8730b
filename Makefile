# asymmetric_c - build every lesson into build/, test, lint, sanitize.
#
# Lessons are the folders named NN_something.  By default the .c files at
# the top of a lesson's folder make one program, build/NN_something, linked
# with the common helpers.  A lesson that needs more (a library in its lib/,
# a test driver in its test/, several programs) adds an NN_something/lesson.mk,
# included before the defaults, which may set
#   NN_something_SRCS      the program's sources (default: the .c files at its top)
#   NN_something_INCLUDES  directories of headers it includes (-I), e.g. a library's
#   NN_something_LDLIBS    extra libraries for the program
#   NN_something_DEPS      extra prerequisites (e.g. a library it links)
# and add rules of its own, appending user-facing programs to PROGRAMS and
# other products (libraries, test drivers) to EXTRAS.
#
# Fragments are read in this order, so each may use the variables of the
# ones before it (a library exports its include directory and its archive,
# e.g. ZONE_MALLOC_INC and ZONE_MALLOC_LIB from 05_zone_malloc/lesson.mk):
#   1. NN_something/lesson.mk, by lesson number
#   2. bench/bench.mk
# No source names another folder with ../ in an #include: it is given the
# directory with -I (test/layers.bats checks both rules).
#
# Your CC, CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are honoured; the project's
# own flags live in the ASYM_* variables.  WERROR=0 turns -Werror off.
# SAN=asan (AddressSanitizer + UndefinedBehaviorSanitizer), SAN=ubsan or
# SAN=tsan (ThreadSanitizer) builds into build/<san>/ instead of build/.
# The allocators' internal checks (zm_assert, shalloc_assert) are compiled
# in with -DASYM_ASSERT=1: in every sanitizer build, and with DEBUG=1.

.DEFAULT_GOAL := all
SHELL := /bin/bash

LESSONS := $(sort $(patsubst %/,%,$(wildcard [0-9][0-9]_*/)))

CFLAGS ?= -O2 -g
WERROR ?= 1
SAN ?=
DEBUG ?=
# The C standard, for the compiler and for cppcheck (which knows no c17: C17
# only fixed defects of C11, so it checks as c11).
C_STD := c17
CPPCHECK_STD := c11

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wpointer-arith -Wvla -Wundef -Wcast-align
SAN_FLAGS_asan := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_FLAGS_ubsan := -fsanitize=undefined -fno-sanitize-recover=all
SAN_FLAGS_tsan := -fsanitize=thread
ifneq ($(SAN),)
  ifeq ($(SAN_FLAGS_$(SAN)),)
    $(error SAN must be asan, ubsan or tsan, not '$(SAN)')
  endif
endif
SAN_FLAGS := $(SAN_FLAGS_$(SAN))

# O=DIR builds somewhere other than build/ (e.g. two checkouts side by side).
O ?= build
BUILD := $(O)$(if $(SAN),/$(SAN))$(if $(filter 1,$(DEBUG)),/debug)
ASSERTS := $(if $(SAN)$(filter 1,$(DEBUG)),-DASYM_ASSERT=1)

# -D_GNU_SOURCE lives here and nowhere else.
ASYM_CPPFLAGS := -D_GNU_SOURCE $(ASSERTS) -Icommon
ASYM_CFLAGS := -std=$(C_STD) $(WARNINGS) $(if $(filter 1,$(WERROR)),-Werror) -pthread $(SAN_FLAGS) -MMD -MP
ASYM_LDFLAGS := -pthread $(SAN_FLAGS)

COMPILE = $(CC) $(ASYM_CPPFLAGS) $(CPPFLAGS) $(ASYM_CFLAGS) $(CFLAGS)
LINK = $(CC) $(ASYM_LDFLAGS) $(LDFLAGS)

# Objects: build/obj/<path>.o, and position-independent ones for shared
# libraries in build/pic/<path>.o.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(COMPILE) -c -o $@ $<
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(COMPILE) -fPIC -c -o $@ $<

# The common helpers, as a static library every program links.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_LIB := $(BUILD)/libcommon.a
$(COMMON_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

# PROGRAMS: what users run (all of them obey the CLI conventions and are
# checked by test/00_harness.bats).  EXTRAS: other build products.
PROGRAMS :=
EXTRAS :=
LIBRARIES :=

# build/orphan_reap: a subreaper that runs a command and counts the
# processes it left behind (the tests of 03 and 07 under ulimit -u).
$(BUILD)/orphan_reap: $(BUILD)/obj/test/orphan_reap.o $(COMMON_LIB)
	$(LINK) -o $@ $^ $(LDLIBS)
EXTRAS += $(BUILD)/orphan_reap

# Per-lesson and bench fragments come first (see the top of this file).
-include $(wildcard $(addsuffix /lesson.mk,$(LESSONS))) bench/bench.mk

define lesson_program
$(1)_SRCS ?= $$(wildcard $(1)/*.c)
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRCS))
$$($(1)_OBJS): ASYM_CPPFLAGS += $$(addprefix -I,$$($(1)_INCLUDES))
$$(BUILD)/$(1): $$($(1)_OBJS) $$($(1)_DEPS) $$(COMMON_LIB)
	$$(LINK) -o $$@ $$($(1)_OBJS) $$($(1)_LDLIBS) $$(COMMON_LIB) $$(LDLIBS)
PROGRAMS += $$(BUILD)/$(1)
endef
$(foreach lesson,$(LESSONS),$(eval $(call lesson_program,$(lesson))))

.PHONY: all run test bench check-sanitizers asan ubsan tsan lint format clean help library-layers
all: $(PROGRAMS) $(EXTRAS) $(BUILD)/programs.txt ## build every lesson into build/

# The list of user-facing programs, read by the harness tests.
$(BUILD)/programs.txt: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' $(notdir $(PROGRAMS)) > $@.tmp && \
	  { cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@; }
FORCE:

run: all ## run every lesson's default demo (./run_all.sh)
	./run_all.sh

test: all ## run the bats test suite (installs bats locally if missing)
	BIN_DIR=$(BUILD) SANITIZER=$(SAN) ASSERTS=$(if $(ASSERTS),1,0) test/run

bench: all ## measure against references in the same run (bench/run.sh; BENCH_ARGS=...)
	BIN_DIR=$(BUILD) bench/run.sh $(BENCH_ARGS)

asan ubsan tsan: ## build with that sanitizer into build/<name>/
	$(MAKE) SAN=$@ all

check-sanitizers: ## run the test suite under ASan+UBSan, then under TSan
	$(MAKE) SAN=asan test
	$(MAKE) SAN=tsan test

# Every C file and shell script at every depth, a library's lib/ and a lab's
# files included (from git, so that nothing built or fetched is linted; in a
# tree without git, found on disk).
SOURCES = $(shell git ls-files --cached --others --exclude-standard -- $(1) 2>/dev/null || \
  find . -path ./$(O) -prune -o -path ./node_modules -prune -o -type f \( $(2) \) -print)
C_FILES := $(call SOURCES,'*.[ch]',-name '*.[ch]')
SHELL_FILES := $(call SOURCES,'*.sh' '*.bash' run_all.sh test/run test/check_layers .ci/run,\
  -name '*.sh' -o -name '*.bash' -o -name run_all.sh -o -path ./test/run -o -path ./test/check_layers -o -path ./.ci/run)
BATS_FILES := $(call SOURCES,'*.bats',-name '*.bats')
INCLUDE_DIRS := $(sort $(dir $(filter %.h,$(C_FILES))))

# The labs (NN_lesson/lab/): make grade, make lab-selftest, make handout.
include common/lab/lab.mk

lint: ## clang-format check, cppcheck and shellcheck of every file: all must be clean
	@echo "clang-format: $(words $(C_FILES)) C files"
	@clang-format --dry-run --Werror $(C_FILES)
	@echo "cppcheck (--std=$(CPPCHECK_STD), for -std=$(C_STD)): $(words $(C_FILES)) C files"
	@cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	  --std=$(CPPCHECK_STD) --inline-suppr --suppressions-list=.cppcheck-suppressions \
	  -D_GNU_SOURCE -D__GNUC__ -D__x86_64__ $(addprefix -I,$(INCLUDE_DIRS)) $(C_FILES)
	@echo "shellcheck: $(words $(SHELL_FILES)) scripts, $(words $(BATS_FILES)) bats files"
	@shellcheck -x $(SHELL_FILES)
	@shellcheck --shell=bats $(BATS_FILES)

format: ## rewrite the C sources in the project's clang-format style
	clang-format -i $(C_FILES)

clean: ## remove build/ (every build, sanitizers included)
	rm -rf $(O)

# One line per library: its name, then its sources bottom layer first (each
# library fragment appends its name to LIBRARIES and sets NAME_SRCS in layer
# order), for test/layers.bats.
library-layers:
	@$(foreach lib,$(LIBRARIES),echo $(lib) $($(lib)_SRCS);)

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_ -]*:.*## ' $(MAKEFILE_LIST) | \
	  sed -E 's/^([^:]*):.*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{ printf "  %-18s %s\n", $$1, $$2 }'

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
