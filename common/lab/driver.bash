# driver.bash - what a lab's test driver written in bash shares with the
# grader (the C drivers have common/lab/lab.h).  Source it:
#     source "$LAB_FRAMEWORK/driver.bash"
#
# The grader runs the driver as  DRIVER TEST_ID [KEY=VALUE...]  (the
# rubric's arguments: "$2" on) in an empty scratch directory ($LAB_TMP,
# removed afterwards), with LAB_SEED, LAB_DIR (the lab's folder), LAB_OUT
# (what the lab built for this implementation), LAB_TIMEOUT_S, LAB_SANITIZER
# and LAB_VERDICT_FD (3: the verdict file) set.
# End with one verdict; say what you are doing with lab_where before a step
# that may hang, so that a timeout names it.

LAB_VERDICT_FD=${LAB_VERDICT_FD:-2} # run by hand: verdicts on stderr

# lab_verdict KIND TEXT...: one line to the grader's verdict file.
lab_verdict() {
  local kind=$1
  shift
  local text="$*"
  text=${text//$'\n'/ }
  printf '%s %s\n' "$kind" "$text" >&"$LAB_VERDICT_FD"
}

lab_pass() {
  lab_verdict pass "$@"
  exit 0
}

lab_fail() {
  lab_verdict fail "$@"
  exit 1
}

lab_skip() {
  lab_verdict skip "$@"
  exit 77
}

# lab_where TEXT...: what the driver is doing now (the last one is reported
# if the test crashes or times out).
lab_where() {
  lab_verdict where "$@"
}
