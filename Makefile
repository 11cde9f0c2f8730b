# asymmetric_c - build every lesson into build/, test, lint, sanitize.
#
# Lessons are the folders named NN_something.  By default all the .c files
# of a lesson make one program, build/NN_something, linked with the common
# helpers.  A lesson that needs more (a library, several programs) adds an
# NN_something/lesson.mk, included before the defaults, which may set
#   NN_something_SRCS    the program's sources (default: every .c there)
#   NN_something_LDLIBS  extra libraries for the program
#   NN_something_DEPS    extra prerequisites (e.g. a library it links)
# and add rules of its own, appending user-facing programs to PROGRAMS and
# other products (libraries, test drivers) to EXTRAS.  bench/bench.mk is
# included the same way.
#
# Your CC, CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are honoured; the project's
# own flags live in the ASYM_* variables.  WERROR=0 turns -Werror off.
# SAN=asan (AddressSanitizer + UndefinedBehaviorSanitizer), SAN=ubsan or
# SAN=tsan (ThreadSanitizer) builds into build/<san>/ instead of build/.

.DEFAULT_GOAL := all
SHELL := /bin/bash

LESSONS := $(sort $(patsubst %/,%,$(wildcard [0-9][0-9]_*/)))

CFLAGS ?= -O2 -g
WERROR ?= 1
SAN ?=

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
BUILD := $(O)$(if $(SAN),/$(SAN))

# -D_GNU_SOURCE lives here and nowhere else.
ASYM_CPPFLAGS := -D_GNU_SOURCE -Icommon
ASYM_CFLAGS := -std=c17 $(WARNINGS) $(if $(filter 1,$(WERROR)),-Werror) -pthread $(SAN_FLAGS) -MMD -MP
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
	$(AR) rcs $@ $^

# PROGRAMS: what users run (all of them obey the CLI conventions and are
# checked by test/00_harness.bats).  EXTRAS: other build products.
PROGRAMS :=
EXTRAS :=

# Per-lesson and bench fragments come first (see the top of this file).
-include $(wildcard $(addsuffix /lesson.mk,$(LESSONS)) bench/bench.mk)

define lesson_program
$(1)_SRCS ?= $$(wildcard $(1)/*.c)
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRCS))
$$(BUILD)/$(1): $$($(1)_OBJS) $$($(1)_DEPS) $$(COMMON_LIB)
	$$(LINK) -o $$@ $$($(1)_OBJS) $$($(1)_LDLIBS) $$(COMMON_LIB) $$(LDLIBS)
PROGRAMS += $$(BUILD)/$(1)
endef
$(foreach lesson,$(LESSONS),$(eval $(call lesson_program,$(lesson))))

.PHONY: all run test bench check-sanitizers asan ubsan tsan lint format clean help
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
	BIN_DIR=$(BUILD) SANITIZER=$(SAN) test/run

bench: all ## measure against references in the same run (bench/run.sh; BENCH_ARGS=...)
	BIN_DIR=$(BUILD) bench/run.sh $(BENCH_ARGS)

asan ubsan tsan: ## build with that sanitizer into build/<name>/
	$(MAKE) SAN=$@ all

check-sanitizers: ## run the test suite under ASan+UBSan, then under TSan
	$(MAKE) SAN=asan test
	$(MAKE) SAN=tsan test

C_FILES := $(wildcard common/*.[ch] $(addsuffix /*.[ch],$(LESSONS)) bench/*.[ch] test/*.[ch])
SHELL_FILES := run_all.sh test/run .ci/run $(wildcard bench/*.sh bench/*.bash test/*.bash)

# The labs (NN_lesson/lab/): make grade, make lab-selftest, make handout.
include common/lab/lab.mk

lint: ## clang-format check, cppcheck and shellcheck: all must be clean
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	  --std=c11 --inline-suppr --suppressions-list=.cppcheck-suppressions \
	  -D_GNU_SOURCE -D__GNUC__ -D__x86_64__ -Icommon $(C_FILES)
	shellcheck -x $(SHELL_FILES)
	shellcheck --shell=bats $(wildcard test/*.bats)

format: ## rewrite the C sources in the project's clang-format style
	clang-format -i $(C_FILES)

clean: ## remove build/ (every build, sanitizers included)
	rm -rf $(O)

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_ -]*:.*## ' $(MAKEFILE_LIST) | \
	  sed -E 's/^([^:]*):.*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{ printf "  %-18s %s\n", $$1, $$2 }'

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
