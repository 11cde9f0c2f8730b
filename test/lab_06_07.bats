#!/usr/bin/env bats
# The labs whose test drivers fork: 06 (make a library fork-safe, and a
# signal handler's child) and 07 (an allocator inside shared memory).
# Their reports, their verdicts on broken code, and what they leave behind:
# nothing in /dev/shm, no process.  The full proof of each grader (the
# solution in repeated runs, every mutant) is `make lab-selftest`.

load lab_helper

SOLUTION_ONLY="the reference solution is not in this tree (a student handout)"
LAB06=06_malloc_after_fork_glitch
LAB07=07_shared_mmap_allocator

# The objects a run may leave in /dev/shm, and the processes, by name.
shm_objects() {
  find /dev/shm -maxdepth 1 -name 'asym-lab*' 2>/dev/null
}

lab_processes() {
  pgrep -f -- "$BIN_DIR/lab/(${LAB06}|${LAB07})/" || true
}

setup_file() {
  export LAB_RUNS=$BATS_FILE_TMPDIR
  cd "$REPO_ROOT" || return 1
  shm_objects >"$LAB_RUNS/shm.before"
  local dir lab
  for dir in "$LAB06" "$LAB07"; do
    lab=${dir:0:2}
    grade_saved "starter$lab" --lab "$lab" --json "$LAB_RUNS/starter$lab.json"
    if [[ -d $REPO_ROOT/$dir/lab/solution ]]; then
      grade_saved "solution$lab" --lab "$lab" --impl solution --json "$LAB_RUNS/solution$lab.json"
    fi
  done
}

# impl_from_solution NAME LAB: a folder with the lab's solution files, for
# a test to break one of them.
impl_from_solution() {
  local dir=$BATS_TEST_TMPDIR/$1
  mkdir -p "$dir"
  cp "$REPO_ROOT/$2/lab/solution/"* "$dir/"
  printf '%s\n' "$dir"
}

# --- the reports ------------------------------------------------------------

@test "each starter's report: the header, a line per rubric test, only the smoke tests pass, exit 1" {
  local lab dir
  for lab in 06 07; do
    saved "starter$lab"
    dir=$([[ $lab == 06 ]] && echo "$LAB06" || echo "$LAB07")
    assert_status 1
    [[ $(printf '%s\n' "$output" | head -1) =~ ^lab=${dir}\ impl=starter\ seed=1\ cpus=[0-9]+ ]] ||
      fail "lab $lab: the header names the lab, the seed and the machine"
    diff <(test_lines | awk '{ print $2 }') <(rubric_ids "$dir") >/dev/null ||
      fail "lab $lab: one line per rubric test, in order"
    local wrong
    wrong=$(test_lines | awk '($2 ~ /^smoke/) != ($1 == "PASS")')
    [[ -z $wrong ]] || fail "lab $lab: the smoke tests pass and every other one fails (not: $wrong)"
    [[ $(printf '%s\n' "$output" | tail -1) =~ ^[0-9]+\ passed,\ [0-9]+\ failed ]] ||
      fail "lab $lab: the closing line"
  done
}

@test "every starter failure says what was wrong, what was expected, and how to replay it" {
  local lab missing
  for lab in 06 07; do
    saved "starter$lab"
    missing=$(printf '%s\n' "$output" | awk -v lab="$lab" '
      /^FAIL / { id = $2; getline
                 if ($0 !~ /^  / || index($0, "[replay: make grade LAB=" lab " TEST=" id " SEED=1]") == 0)
                   print id }')
    [[ -z $missing ]] || fail "lab $lab: a reason and a replay under each FAIL (not for: $missing)"
  done
  saved starter06
  [[ $output == *"FAIL held_journal 0/12"*"the child's only thread sleeps for ever on the journal lock"* ]] ||
    fail "lab 06: a fork with the journal's lock held is a deadlock in the child, named, not a timeout"
  [[ $output == *"FAIL child_state 0/12"*"is in the journal twice"* ]] ||
    fail "lab 06: a child that writes its parent's records is caught"
  saved starter07
  [[ $output == *"FAIL single 0/8"* && $output == *"FAIL procs_fill 0/12"*"returned 0 with errno ENOSYS"* ]] ||
    fail "lab 07: the starter's sh_alloc is named"
}

@test "each solution scores full marks, and results.json is valid for every run" {
  local lab
  for lab in 06 07; do
    [[ -f $LAB_RUNS/solution$lab.status ]] || skip "$SOLUTION_ONLY"
    saved "solution$lab"
    assert_grader_passed "lab $lab"
    [[ $output =~ Score\ ([0-9]+)/([0-9]+) ]] || fail "lab $lab: a Score line"
    ((BASH_REMATCH[1] == BASH_REMATCH[2])) || fail "lab $lab: full marks (${BASH_REMATCH[0]})"
    [[ -n $SANITIZER || $output == *"Score 100/100"* ]] || fail "lab $lab: 100 of 100, nothing skipped"
    for run in "starter$lab" "solution$lab"; do
      run_cmd env LC_ALL=C awk -f "$REPO_ROOT/common/lab/json_check.awk" "$LAB_RUNS/$run.json"
      assert_success
    done
  done
}

@test "grading leaves nothing in /dev/shm and no process behind" {
  [[ -z $(comm -13 <(sort "$LAB_RUNS/shm.before") <(shm_objects | sort)) ]] ||
    fail "no asym-lab object is left in /dev/shm: $(shm_objects)"
  [[ -z $(lab_processes) ]] || fail "no lab driver or reporter still runs: $(lab_processes)"
}

# --- failures a student makes ------------------------------------------------------

@test "06: a signal handler's child that calls printf fails, naming printf" {
  [[ -d $REPO_ROOT/$LAB06/lab/solution ]] || skip "$SOLUTION_ONLY"
  local dir
  dir=$(impl_from_solution printf_child "$LAB06")
  sed -i 's/^    report_failure(r->reporter, errno);/    printf("reporter failed\\n");\n&/' "$dir/crash_report.c"
  sed -i 's/^#include <errno.h>/&\n#include <stdio.h>/' "$dir/crash_report.c"
  grade --lab 06 --impl "$dir" --test smoke_build,signal_exec_fails
  assert_status 1
  [[ $output == *"PASS smoke_build"*"FAIL signal_exec_fails 0/11"*"the child called puts() before execve or _exit"* ||
    $output == *"FAIL signal_exec_fails 0/11"*"the child called printf() before execve or _exit"* ]] ||
    fail "the call is named (gcc makes this printf a puts)"
}

@test "07: an sh_alloc that loops for ever is a deadlock-or-loop failure that leaves nothing behind" {
  local dir=$BATS_TEST_TMPDIR/loops
  mkdir -p "$dir"
  sed 's/^    errno = ENOSYS;$/    for (volatile int spin = 1; spin;)\n        ;\n    errno = ENOSYS;/' \
    "$REPO_ROOT/$LAB07/lab/sh.c" >"$dir/sh.c"
  grade --lab 07 --impl "$dir" --test hooks,procs_fill --timeout 3
  assert_status 1
  [[ $output == *"FAIL hooks 0/4"*"deadlock or infinite loop: no result after 3s"* ]] ||
    fail "the hang is reported as a deadlock or infinite loop"
  [[ $output == *"FAIL procs_fill 0/12"* ]] || fail "a crowd of looping processes is stopped too"
  [[ -z $(shm_objects) ]] || fail "nothing in /dev/shm: $(shm_objects)"
  [[ -z $(lab_processes) ]] || fail "no process left: $(lab_processes)"
}

@test "07: a lock that is not robust deadlocks the next process, and the watchdog says so at once" {
  [[ -d $REPO_ROOT/$LAB07/lab/solution ]] || skip "$SOLUTION_ONLY"
  local dir
  dir=$(impl_from_solution not_robust "$LAB07")
  awk -f "$REPO_ROOT/common/lab/mutate.awk" "$REPO_ROOT/$LAB07/lab/mutants/not_robust.mut" \
    "$REPO_ROOT/$LAB07/lab/solution/sh.c" >"$dir/sh.c"
  local began=$SECONDS
  grade --lab 07 --impl "$dir" --test kill_locked
  assert_status 1
  [[ $output == *"FAIL kill_locked 0/12"*"the next process sleeps on the lock for ever"* ]] ||
    fail "the deadlock is named"
  ((SECONDS - began < 50)) || fail "it is seen in /proc, well before the 60 s timeout"
}

# --- the programs -------------------------------------------------------------------

@test "the drivers follow the command-line conventions, and the fork demo runs" {
  local exe=$BIN_DIR/lab/$LAB06/starter/fork_driver
  [[ -x $exe ]] || fail "setup_file built $exe"
  run_cmd "$exe" --help
  assert_success
  [[ $output == *"Usage: "* ]] || fail "a usage line"
  run_cmd "$exe" no_such_test
  assert_usage_error "unknown test"
  run_cmd "$exe" demo --forks 0
  assert_usage_error "--forks"
  [[ -f $LAB_RUNS/solution06.status ]] || return 0
  run_cmd "$BIN_DIR/lab/$LAB06/solution/fork_driver" demo --forks 4
  assert_success
  [[ $output == *"child  4: exit 0"*"the journal: every record written once"* ]] ||
    fail "with the solution's libraries every child ends well"
  run_cmd "$BIN_DIR/lab/$LAB07/starter/sh_driver" --list
  assert_success
  [[ $output == *"kill_storm"* ]] || fail "--list shows the tests"
}

@test "the labs' graders run unprivileged, as nobody" {
  SKIP_REASON="the privilege test runs in the plain build only" skip_under_sanitizer asan ubsan tsan
  [[ -f $LAB_RUNS/solution06.status && -f $LAB_RUNS/solution07.status ]] || skip "$SOLUTION_ONLY"
  ((EUID == 0)) || skip "not root: the suite itself runs unprivileged"
  local tree
  tree=$(nobody_tree)
  as_nobody "$tree" \
    bash -c "make -C '$tree' -s --no-print-directory grade LAB=06 IMPL=solution &&
             make -C '$tree' -s --no-print-directory grade LAB=07 IMPL=solution"
  rm -rf "$tree"
  assert_success
  [[ $output == *"lab=$LAB06 "*" root=0"*"Score 100/100"*"lab=$LAB07 "*" root=0"*"Score 100/100"* ]] ||
    fail "both solutions score full marks as nobody"
  [[ -z $(shm_objects) ]] || fail "nothing in /dev/shm"
}
