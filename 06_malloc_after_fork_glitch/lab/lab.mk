# 06_malloc_after_fork_glitch/lab/lab.mk - the fork lab, built for one
# implementation (included by common/lab/lab.mk for make lab-build
# LAB_NAME=06_malloc_after_fork_glitch).
#
#   $(LAB_OUT)/fork_driver   the test driver, linked with the student's three
#                            files; the functions a signal handler's child must
#                            not call are interposed with ld's --wrap
#                            (tests/unsafe.c)
#   $(LAB_OUT)/reporter      the program the student's crash_report_child runs

LAB_FILES := stats.c journal.c crash_report.c

FORK_LAB_TESTS := $(addprefix $(BUILD)/obj/06_malloc_after_fork_glitch/lab/tests/,fork_driver.o \
  support.o unsafe.o held.o state.o signals.o)
FORK_LAB_STUDENT := $(addprefix $(LAB_OUT)/obj/,stats.o journal.o crash_report.o)
FORK_LAB_WRAPPED := malloc calloc realloc free printf vprintf fprintf vfprintf dprintf vdprintf \
  sprintf vsprintf snprintf vsnprintf __printf_chk __vprintf_chk __fprintf_chk __vfprintf_chk \
  __dprintf_chk __vdprintf_chk __sprintf_chk __vsprintf_chk __snprintf_chk __vsnprintf_chk puts \
  fputs putchar fputc putc fwrite fflush perror fopen strerror exit execvp pthread_mutex_lock \
  pthread_mutex_unlock
FORK_LAB_WRAP := $(foreach f,$(FORK_LAB_WRAPPED),-Xlinker --wrap=$(f))

$(LAB_OUT)/fork_driver: $(FORK_LAB_TESTS) $(FORK_LAB_STUDENT) $(BUILD)/obj/common/lab/lab_fork.o \
  $(LAB_HARNESS) $(COMMON_LIB)
	$(LINK) $(FORK_LAB_WRAP) -o $@ $^ $(LDLIBS)
$(LAB_OUT)/reporter: $(BUILD)/obj/06_malloc_after_fork_glitch/lab/tests/reporter.o
	$(LINK) -o $@ $^ $(LDLIBS)
LAB_PRODUCTS += $(LAB_OUT)/fork_driver $(LAB_OUT)/reporter
