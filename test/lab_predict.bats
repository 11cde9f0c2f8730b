#!/usr/bin/env bats
# The predict-and-measure labs of lessons 01 to 04 (common/lab/scenario.c
# and NN_lesson/lab/): each starter fails all but its smoke tests, each
# solution scores full marks, the quiz asks and answers the same scenario
# for the same seed, a predictor that measures, crashes or hangs is caught
# and named, a wrong prediction names its step, and all of it runs as
# nobody.  The full self-test (every mutant, five runs of each solution)
# is `make lab-selftest`.

load lab_helper

LABS=(01 02 03 04)
SOLUTION_ONLY="the reference solutions are not in this tree (a student handout)"

# lab_dir NN: the lab's folder, relative to the repository.
lab_dir() {
  local dir
  for dir in "$REPO_ROOT/$1"_*/lab; do
    printf '%s' "${dir#"$REPO_ROOT"/}"
    return
  done
}

setup_file() {
  export LAB_RUNS=$BATS_FILE_TMPDIR
  cd "$REPO_ROOT" || return 1
  local nn
  for nn in "${LABS[@]}"; do
    grade_saved "starter.$nn" --lab "$nn" --json "$LAB_RUNS/starter.$nn.json"
    if [[ -d $(lab_dir "$nn")/solution ]]; then
      grade_saved "solution.$nn" --lab "$nn" --impl solution
    fi
  done
}

# quiz NN IMPL ARGS...: lab NN's quiz, as the grader built it for IMPL.
quiz() {
  local nn=$1 impl=$2
  shift 2
  run_cmd "$BIN_DIR/lab/$(basename "$(dirname "$(lab_dir "$nn")")")/$impl/quiz" "$@"
}

# impl_with NN NAME SED-EXPR: a folder holding lab NN's solution, changed
# by the sed expression (a student's broken attempt).
impl_with() {
  local nn=$1 dir=$BATS_TEST_TMPDIR/$2
  mkdir -p "$dir"
  cp "$REPO_ROOT/$(lab_dir "$nn")"/solution/* "$dir"/
  sed -i "$3" "$dir"/*.c
  printf '%s\n' "$dir"
}

# --- the reports ------------------------------------------------------------

@test "each starter passes only its smoke tests, every failure says why and how to replay it" {
  local nn wrong missing
  for nn in "${LABS[@]}"; do
    saved "starter.$nn"
    assert_status 1
    [[ $(printf '%s\n' "$output" | head -1) == "lab=$(basename "$(dirname "$(lab_dir "$nn")")") impl=starter seed=1 cpus="* ]] ||
      fail "lab $nn: the header names the lab, the seed and the machine"
    wrong=$(test_lines | awk '($2 ~ /^smoke/) != ($1 == "PASS")')
    [[ -z $wrong ]] || fail "lab $nn: smoke tests pass and every other fails or skips (not: $wrong)"
    missing=$(printf '%s\n' "$output" | awk -v nn="$nn" '
      /^FAIL / { id = $2; getline
                 if ($0 !~ /expected/ || index($0, "[replay: make grade LAB=" nn " TEST=" id " SEED=1]") == 0)
                   print id }')
    [[ -z $missing ]] || fail "lab $nn: each failure says what was expected and how to replay it (not: $missing)"
    [[ $output == *"Score 4/"* ]] || fail "lab $nn: the starter scores its smoke tests' 4 points"
  done
}

@test "each solution scores full marks, skipping only what this machine lacks" {
  [[ -f $LAB_RUNS/solution.01.status ]] || skip "$SOLUTION_ONLY"
  local nn
  for nn in "${LABS[@]}"; do
    saved "solution.$nn"
    assert_grader_passed "lab $nn"
    [[ $output =~ Score\ ([0-9]+)/([0-9]+) ]] || fail "lab $nn: a Score line"
    ((BASH_REMATCH[1] == BASH_REMATCH[2])) || fail "lab $nn: full marks (${BASH_REMATCH[0]})"
    [[ -n $SANITIZER || $(id -u) != 0 || $output == *"Score 100/100"* ]] ||
      fail "lab $nn: 100 of 100 here, as root in the plain build"
    printf '%s\n' "$output" | awk '/^SKIP / { getline; if ($0 !~ /^  [a-z]/) bad = 1 } END { exit bad }' ||
      fail "lab $nn: a skipped test says why"
  done
}

@test "results.json of each starter run is valid, with a test per rubric line" {
  local nn tests
  for nn in "${LABS[@]}"; do
    run_cmd env LC_ALL=C awk -f "$REPO_ROOT/common/lab/json_check.awk" "$LAB_RUNS/starter.$nn.json"
    assert_success
    tests=$(awk -f "$REPO_ROOT/common/lab/rubric.awk" "$REPO_ROOT/$(lab_dir "$nn")/rubric" | grep -c '')
    [[ $output == "ok tests=$tests score=4" ]] || fail "lab $nn: $tests tests and the starter's 4 points"
  done
}

@test "the same seed gives the same scenarios; another seed, others" {
  grade --lab 03 --seed 7 --test predict_racy,predict_private
  local first=$output
  grade --lab 03 --seed 7 --test predict_racy,predict_private
  [[ $output == "$first" ]] || fail "two runs with SEED=7 print the same report"
  [[ $output == *"scenario 7000 (level racy)"* ]] || fail "SEED=7 grades scenarios 7000 and on"
  quiz 01 starter --seed 7000 --level all
  first=$output
  quiz 01 starter --seed 7000 --level all
  [[ $output == "$first" ]] || fail "the quiz asks the same questions for the same seed"
  quiz 01 starter --seed 7001 --level all
  [[ $output != "$first" ]] || fail "another seed, another scenario"
}

# --- the quiz ----------------------------------------------------------------

@test "the quiz asks with a ? per fact, and --answers gives the kernel's, the same twice" {
  local nn first
  for nn in "${LABS[@]}"; do
    quiz "$nn" starter --seed 3
    assert_success
    [[ $output == *"step  what happens"* && $output == *"?"* && $output == *"--answers"* ]] ||
      fail "lab $nn: the questions, and how to get the answers"
    quiz "$nn" starter --seed 3 --answers
    assert_success
    first=$output
    [[ $first != *" ? "* ]] || fail "lab $nn: every question answered"
    quiz "$nn" starter --seed 3 --answers
    [[ $output == "$first" ]] || fail "lab $nn: the kernel answers the same scenario the same way"
  done
}

@test "the quiz's --compare: the solution gets every fact right, the starter has no prediction" {
  [[ -f $LAB_RUNS/solution.01.status ]] || skip "$SOLUTION_ONLY"
  local nn level
  for nn in "${LABS[@]}"; do
    for level in $(quiz "$nn" starter --help && printf '%s\n' "$output" | sed -n 's/.*default [a-z]*):\(.*\)/\1/p'); do
      quiz "$nn" solution --seed 11 --level "$level" --compare
      assert_success
      [[ $output =~ :\ ([0-9]+)\ of\ ([0-9]+)\ facts\ right ]] || fail "lab $nn $level: a count of facts right"
      ((BASH_REMATCH[1] == BASH_REMATCH[2])) || fail "lab $nn $level: every fact right"
    done
    quiz "$nn" starter --seed 11 --compare
    assert_status 1
    [[ $output == *"returned -1: no prediction yet"* ]] || fail "lab $nn: the starter says it has no prediction"
  done
}

@test "the quiz's command line: --help, and bad usage is one line and exit 2" {
  quiz 02 starter --help
  assert_success
  [[ $output == Usage:* && $output == *"--level"*"shared private truncate cache"* ]] || fail "usage, with the levels"
  quiz 02 starter --seed x
  assert_usage_error "--seed"
  quiz 02 starter --level nope
  assert_usage_error "--level"
  quiz 02 starter --answers --compare
  assert_usage_error "not both"
  quiz 02 starter extra
  assert_usage_error "unexpected argument"
  quiz 02 starter --bogus
  assert_usage_error
}

@test "the quiz leaves no file behind" {
  local dir=$BATS_TEST_TMPDIR/quiz-tmp
  mkdir -p "$dir"
  TMPDIR=$dir quiz 02 starter --seed 5 --level cache --answers
  assert_success
  [[ -z $(ls -A "$dir") ]] || fail "the scenario's file is gone: $(ls -A "$dir")"
}

# --- predictors that misbehave -----------------------------------------------

@test "a predictor that measures is stopped at its system call, and the failure names it" {
  SKIP_REASON="under a sanitizer, whose runtime makes calls of its own, the predictor runs unfiltered" \
    skip_under_sanitizer asan ubsan tsan
  [[ -f $LAB_RUNS/solution.01.status ]] || skip "$SOLUTION_ONLY"
  local dir
  dir=$(impl_with 01 measures '/^int predict_anon/,/^}/s|^    enum backing pages\[ANON_MAX_PAGES\];|&\n    unsigned char measured;\n    if (mincore((void *)((uintptr_t)\&measured \& ~(uintptr_t)4095), 1, \&measured) == 0)\n        return -1;|')
  grade --lab 01 --impl "$dir" --test smoke_build,predict_write
  assert_status 1
  [[ $output == *"PASS smoke_build"* ]] || fail "the measuring predictor compiles cleanly"
  [[ $output == *"FAIL predict_write 0/12"*"predict_anon made a system call a predictor may not make (mincore) on scenario 1000"* ]] ||
    fail "the failure names the system call and the scenario"
}

@test "a predictor that crashes, or hangs, fails its test saying so" {
  SKIP_REASON="a sanitizer reports a crash itself, and exits" skip_under_sanitizer asan ubsan tsan
  [[ -f $LAB_RUNS/solution.03.status ]] || skip "$SOLUTION_ONLY"
  local dir
  dir=$(impl_with 03 crashes 's|^    for (unsigned i = 0; i < s->count; i++) {$|    *(volatile int *)(uintptr_t)s->count = 0;\n&|')
  sed -i 's|#include <errno.h>|#include <errno.h>\n#include <stdint.h>|' "$dir/counter.c"
  grade --lab 03 --impl "$dir" --test predict_racy
  assert_status 1
  [[ $output == *"predict_counter crashed (SIGSEGV) on scenario 1000 (level racy)"* ]] || fail "the crash is named"
  dir=$(impl_with 03 hangs 's|^    for (unsigned i = 0; i < s->count; i++) {$|    for (volatile int forever = 1; forever;)\n        ;\n&|')
  grade --lab 03 --impl "$dir" --test predict_racy --timeout 2
  assert_status 1
  [[ $output == *"predict_counter did not return within 1 s (an infinite loop?) on scenario 1000"* ]] ||
    fail "the hang is the predictor's, named, within the test's own timeout"
}

@test "a wrong prediction names the scenario, the step, both values, and the quiz that shows them" {
  [[ -f $LAB_RUNS/solution.04.status ]] || skip "$SOLUTION_ONLY"
  local dir=$BATS_TEST_TMPDIR/wrong command
  mkdir -p "$dir"
  awk -f "$REPO_ROOT/common/lab/mutate.awk" "$REPO_ROOT/$(lab_dir 04)/mutants/parent_keeps_sharing.mut" \
    "$REPO_ROOT/$(lab_dir 04)/solution/cow.c" >"$dir/cow.c"
  grade --lab 04 --impl "$dir" --test predict_fork
  assert_status 1
  [[ $output =~ scenario\ 100[0-9]\ \(level\ fork\),\ step\ [0-9]+\ of\ [0-9]+\ \(child:\ write\ [^\)]*\):\ parent_pages\ predicted\ [.os-]+,\ measured\ [.os-]+\ \(the\ whole\ table:\ ([^\)]*)\) ]] ||
    fail "the step, the fact, both values and the quiz command"
  command=${BASH_REMATCH[1]}
  [[ $command == *" --compare" ]] || fail "the quiz command compares"
  run_cmd bash -c "cd '$REPO_ROOT' && $command"
  assert_status 1
  [[ $output == *"<- differs"* ]] || fail "the quiz shows where the prediction differs"
}

@test "every mutant of labs 01 to 04 applies, names a test of its rubric, and changes the solution" {
  [[ -f $LAB_RUNS/solution.01.status ]] || skip "$SOLUTION_ONLY"
  local nn mutant test file count
  for nn in "${LABS[@]}"; do
    count=0
    for mutant in "$REPO_ROOT/$(lab_dir "$nn")"/mutants/*.mut; do
      test=$(awk '$1 == "test" { print $2 }' "$mutant")
      file=$(awk '$1 == "file" { print $2 }' "$mutant")
      awk -f "$REPO_ROOT/common/lab/rubric.awk" "$REPO_ROOT/$(lab_dir "$nn")/rubric" | cut -f1 | grep -qx "$test" ||
        fail "$(basename "$mutant") names a test of lab $nn's rubric ($test)"
      run_cmd awk -f "$REPO_ROOT/common/lab/mutate.awk" "$mutant" "$REPO_ROOT/$(lab_dir "$nn")/solution/$file"
      assert_success
      [[ $output != "$(cat "$REPO_ROOT/$(lab_dir "$nn")/solution/$file")" ]] || fail "$(basename "$mutant") changes the solution"
      count=$((count + 1))
    done
    ((count >= 3)) || fail "lab $nn has at least three mutants (found $count)"
  done
}

# --- privileges -----------------------------------------------------------------

@test "the four labs grade unprivileged, as nobody: full marks, frame numbers skipped" {
  SKIP_REASON="the privilege test runs in the plain build only" skip_under_sanitizer asan ubsan tsan
  [[ -f $LAB_RUNS/solution.01.status ]] || skip "$SOLUTION_ONLY"
  ((EUID == 0)) || skip "not root: the suite itself runs unprivileged"
  local tree nn
  tree=$(nobody_tree)
  for nn in "${LABS[@]}"; do
    as_nobody "$tree" make -C "$tree" -s --no-print-directory grade LAB="$nn" IMPL=solution
    if ((status != 0)) || [[ $output != *" root=0"* || $output != *"frame_numbers_visible=0"* ]] ||
      ! [[ $output =~ Score\ ([0-9]+)/([0-9]+) ]] || ((BASH_REMATCH[1] != BASH_REMATCH[2])); then
      rm -rf "$tree"
      fail "lab $nn: full marks as nobody, the header saying root=0 frame_numbers_visible=0"
    fi
    [[ $nn != 04 || $output == *"SKIP probe_frames 0/12"*"frame numbers are hidden here"* ]] ||
      { rm -rf "$tree"; fail "lab 04: probe_frames skipped without frame numbers, saying why"; }
  done
  rm -rf "$tree"
}
