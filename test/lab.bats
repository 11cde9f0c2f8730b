#!/usr/bin/env bats
# The lab system (common/lab/) and the malloc lab (05_zone_malloc/lab/): the
# grader's report and exit status, results.json, failures that name their
# cause, hangs and crashes, the handout, the self-test.  The full self-test
# (five runs of each solution, every mutant) is `make lab-selftest`.

load lab_helper

LAB=05_zone_malloc
SOLUTION_ONLY="the reference solution is not in this tree (a student handout)"

setup_file() {
  export LAB_RUNS=$BATS_FILE_TMPDIR
  cd "$REPO_ROOT" || return 1
  grade_saved starter --lab 05 --json "$LAB_RUNS/starter.json"
  if [[ -d $LAB/lab/solution ]]; then
    grade_saved solution --lab 05 --impl solution --json "$LAB_RUNS/solution.json"
  fi
}

json_check() {
  run_cmd env LC_ALL=C awk -f "$REPO_ROOT/common/lab/json_check.awk" "$1"
}

# write_impl NAME C-BODY: a folder holding an mm.c made of the starter's
# functions, with C-BODY replacing mm_malloc (a student's broken attempt).
write_impl() {
  local dir=$BATS_TEST_TMPDIR/$1
  mkdir -p "$dir"
  awk -v body="$2" '
    /^void \*mm_malloc\(size_t size\)$/ { print; print "{"; print body; print "}"; skip = 1; next }
    skip && /^}$/ { skip = 0; next }
    !skip' "$REPO_ROOT/$LAB/lab/mm.c" >"$dir/mm.c"
  printf '%s\n' "$dir"
}

# --- the report ------------------------------------------------------------

@test "the starter's report: a header of machine facts, a line per rubric test, Score, the closing line" {
  saved starter
  local header
  header=$(printf '%s\n' "$output" | head -1)
  [[ $header =~ ^lab=05_zone_malloc\ impl=starter\ seed=1\ cpus=[0-9]+\ thp=[a-z]+\ frame_numbers_visible=[01]\ root=[01] ]] ||
    fail "the first line is the header with the lab, the seed and the machine's facts"
  diff <(test_lines | awk '{ print $2 }') <(rubric_ids "$LAB") >/dev/null ||
    fail "one line per rubric test, in the rubric's order"
  local bad
  bad=$(test_lines | grep -vE '^(PASS|FAIL|SKIP) [a-z0-9_]+ [0-9]+/[0-9]+$' || true)
  [[ -z $bad ]] || fail "every test line is 'PASS|FAIL|SKIP id points/max' (not: $bad)"
  printf '%s\n' "$output" | grep -qE '^Score [0-9]+/[0-9]+$' || fail "a 'Score X/Y' line"
  [[ $(printf '%s\n' "$output" | tail -1) =~ ^[0-9]+\ passed,\ [0-9]+\ failed(,\ [0-9]+\ skipped)?$ ]] ||
    fail "the last line is exactly 'N passed, M failed' (', K skipped' may follow)"
}

@test "the untouched starter passes only the smoke tests, and the grader exits 1" {
  saved starter
  assert_status 1
  local wrong
  wrong=$(test_lines | awk '($2 ~ /^smoke/) != ($1 == "PASS")')
  [[ -z $wrong ]] || fail "smoke tests pass and every other test fails or skips (not: $wrong)"
  [[ $output == *"Score 3/"* ]] || fail "the starter scores the smoke tests' 3 points"
  [[ -n $SANITIZER || $output == *"Score 3/100"* ]] || fail "of 100, with nothing skipped here"
}

@test "every failure says what was wrong, what was expected, and how to replay it" {
  saved starter
  local missing
  missing=$(printf '%s\n' "$output" | awk '
    /^FAIL / { id = $2; getline
               if ($0 !~ /^  / || $0 !~ /expected/ || index($0, "[replay: make grade LAB=05 TEST=" id " SEED=1]") == 0)
                 print id }')
  [[ -z $missing ]] || fail "each FAIL line is followed by a reason naming the replay (not for: $missing)"
  [[ $output == *"trace small (seed 1) line 2 ("*"): mm_malloc("*") returned NULL (errno ENOSYS); expected a block"* ]] ||
    fail "a trace failure names the trace, its seed, the line and the call"
}

@test "make grade prints the same report and fails when a test fails" {
  run_cmd make -C "$REPO_ROOT" -s --no-print-directory grade LAB=05 TEST=smoke_init,align \
    O="$O_DIR" SAN="$SANITIZER"
  ((status != 0)) || fail "make grade exits non-zero (make's own 2) when a test failed"
  [[ $output == *"FAIL align 0/5"* && $output == *"1 passed, 1 failed" ]] ||
    fail "the report of the two tests asked for"
}

@test "the solution scores full marks, and the grader exits 0" {
  [[ -f $LAB_RUNS/solution.status ]] || skip "$SOLUTION_ONLY"
  saved solution
  assert_grader_passed "the solution"
  [[ $output =~ Score\ ([0-9]+)/([0-9]+) ]] || fail "a Score line"
  ((BASH_REMATCH[1] == BASH_REMATCH[2])) || fail "full marks (${BASH_REMATCH[0]})"
  [[ $output == *" 0 failed"* ]] || fail "no test fails"
  if [[ -z $SANITIZER ]]; then
    [[ $output == *"Score 100/100"* ]] || fail "100 of 100 points, nothing skipped here"
  fi
}

@test "results.json is valid JSON with Gradescope's fields, and agrees with the report" {
  json_check "$LAB_RUNS/starter.json"
  assert_success
  [[ $output == "ok tests=22 score=3" ]] || fail "22 tests and the starter's 3 points"
  grep -q '"name": "05 align", "score": 0, "max_score": 5, "status": "failed"' "$LAB_RUNS/starter.json" ||
    fail "a failed test with its name, score, max_score and status"
  grep -q '"visibility": "visible"' "$LAB_RUNS/starter.json" || fail "each test has a visibility"
  [[ -f $LAB_RUNS/solution.json ]] || return 0
  json_check "$LAB_RUNS/solution.json"
  assert_success
  [[ $output == "ok tests=22 score="* ]] || fail "22 tests for the solution too"
}

@test "the JSON checker rejects broken JSON and missing fields" {
  local f=$BATS_TEST_TMPDIR/bad.json
  printf '{"score": 1, "tests": [}' >"$f"
  json_check "$f"
  assert_status 1
  printf '{"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1, "status": "ok", "output": "", "visibility": "visible"}]}' >"$f"
  json_check "$f"
  assert_status 1
  # shellcheck disable=SC2154 # $stderr is set by run_cmd (bats's run --separate-stderr)
  [[ $stderr == *"not passed or failed"* ]] || fail "it names the bad status"
  printf '{"score": 1, "tests": [{"name": "a\\u0041", "score": 1, "max_score": 2, "status": "failed", "output": "x\\ny", "visibility": "hidden"}]}' >"$f"
  json_check "$f"
  assert_success
}

@test "the same seed gives the same cases; another seed, other cases" {
  grade --lab 05 --seed 7 --test trace_small,trace_mixed,util_small
  local first=$output
  grade --lab 05 --seed 7 --test trace_small,trace_mixed,util_small
  [[ $output == "$first" ]] || fail "two runs with SEED=7 print the same report"
  [[ $output == *"trace small (seed 7) line"* && $output == *"SEED=7]"* ]] ||
    fail "the report names seed 7"
  local seven_small
  seven_small=$(printf '%s\n' "$first" | grep -A1 '^FAIL trace_small' | tail -1)
  grade --lab 05 --seed 8 --test trace_small
  [[ $output == *"trace small (seed 8) line 2 ("* ]] || fail "seed 8 names its own trace"
  [[ $(printf '%s\n' "$output" | grep -A1 '^FAIL trace_small' | tail -1) != "${seven_small//seed 7/seed 8}" ]] ||
    fail "seed 8's trace starts with another call than seed 7's"
}

# --- failures a student makes --------------------------------------------------

@test "a hang is a failure that says deadlock or infinite loop and where it was" {
  local dir
  dir=$(write_impl hang '    (void)size;
    for (;;) {
    }')
  grade --lab 05 --impl "$dir" --test smoke_init,trace_small --timeout 2 --json "$BATS_TEST_TMPDIR/r.json"
  assert_status 1
  [[ $output == *"FAIL trace_small 0/6"*"deadlock or infinite loop: no result after 2s"* ]] ||
    fail "the hung test fails as a deadlock or infinite loop"
  # TSan holds signals back until the thread calls into its runtime, which a
  # bare loop never does: there the timeout's SIGKILL ends it, saying nothing.
  [[ $SANITIZER == tsan || $output == *"after 2s, during trace small (seed 1) line 2, block "*" ("*"): in mm_malloc"* ]] ||
    fail "it names the trace, the line and the call"
  [[ $output == *"PASS smoke_init 1/1"* ]] || fail "the other test still runs"
  json_check "$BATS_TEST_TMPDIR/r.json"
  assert_success
}

@test "a crash is a failure that names the signal, the trace, the line and the block" {
  local dir
  dir=$(write_impl crash '    (void)size;
    return (void *)16;')
  grade --lab 05 --impl "$dir" --test trace_small --json "$BATS_TEST_TMPDIR/r.json"
  assert_status 1
  [[ $output == *"crashed (SIGSEGV) during trace small (seed 1) line 2, block "*"): writing the new block's bytes (at 0x10, "* ]] ||
    fail "the crash names where it happened"
  json_check "$BATS_TEST_TMPDIR/r.json"
  assert_success
}

@test "results.json is valid while a test hangs, and after the grader is stopped" {
  local dir fifo=$BATS_TEST_TMPDIR/hung json=$BATS_TEST_TMPDIR/r.json grade_pid byte
  mkfifo "$fifo"
  dir=$(write_impl hang_and_say '    (void)size;
    int fd = open(getenv("HUNG_FIFO"), O_WRONLY);
    if (fd >= 0 && write(fd, "h", 1) == 1)
        close(fd);
    for (;;)
        pause();')
  sed -i 's/#include <errno.h>/#include <errno.h>\n#include <fcntl.h>\n#include <stdlib.h>\n#include <unistd.h>/' "$dir/mm.c"
  HUNG_FIFO=$fifo env MAKE=make LAB_O="$O_DIR" LAB_BUILD_ROOT="$BIN_DIR" LAB_SANITIZER="$SANITIZER" \
    "$REPO_ROOT/common/lab/grade.sh" --lab 05 --impl "$dir" --test smoke_init,trace_small,align \
    --json "$json" >"$BATS_TEST_TMPDIR/out" 2>&1 &
  grade_pid=$!
  read -r -n 1 -t 300 byte <"$fifo" || fail "mm_malloc was reached"
  json_check "$json"
  assert_success
  grep -q '"name": "05 smoke_init", "score": 1, "max_score": 1, "status": "passed"' "$json" ||
    fail "the finished test is in results.json while the next one hangs"
  kill -TERM "$grade_pid"
  status=0
  wait "$grade_pid" || status=$?
  ((status == 130)) || fail "the stopped grader exits 130 (it exited $status)"
  json_check "$json"
  assert_success
  grep -q '"name": "05 align", "score": 0, "max_score": 5, "status": "failed", "visibility": "visible", "output": "not run' "$json" ||
    fail "the tests not run are in results.json as failed, not run"
  [[ $byte == h ]]
}

@test "an mm.c that does not compile fails every test, saying why" {
  local dir=$BATS_TEST_TMPDIR/broken
  mkdir -p "$dir"
  printf '#include "mm.h"\nint mm_init(void) { return 0 }\n' >"$dir/mm.c"
  grade --lab 05 --impl "$dir" --test smoke_build,smoke_init,align --json "$BATS_TEST_TMPDIR/r.json"
  assert_status 1
  [[ $output == *"FAIL smoke_build 0/2"*"it does not compile: mm.c:2:"*"error"* ]] ||
    fail "smoke_build names the compiler's first error"
  [[ $output == *"FAIL align 0/5"*"not run: it does not compile"* ]] || fail "the other tests are not run"
  json_check "$BATS_TEST_TMPDIR/r.json"
  assert_success
}

@test "a warning costs the smoke_build points and nothing else" {
  local dir
  dir=$(write_impl warns '    int unused;
    (void)size;
    errno = ENOSYS;
    return NULL;')
  grade --lab 05 --impl "$dir" --test smoke_build,smoke_init
  assert_status 1
  [[ $output == *"FAIL smoke_build 0/2"*"compiles with warnings, expected none: mm.c:"*"unused"* ]] ||
    fail "the warning is named"
  [[ $output == *"PASS smoke_init 1/1"* ]] || fail "the other tests run"
}

# --- the instructor's side ------------------------------------------------------

@test "editing the rubric changes the points, without touching code" {
  local rubric=$BATS_TEST_TMPDIR/rubric
  sed 's/^smoke_build        2 /smoke_build        10/' "$REPO_ROOT/$LAB/lab/rubric" >"$rubric"
  grade --lab 05 --rubric "$rubric" --test smoke_build,smoke_init
  assert_success
  [[ $output == *"PASS smoke_build 10/10"* && $output == *"Score 11/11"* ]] || fail "the new points count"
}

@test "bad usage of the grader is one line on stderr and exit 2" {
  grade --lab 99
  assert_usage_error "no lab '99'"
  grade --lab 05 --seed x
  assert_usage_error "SEED"
  grade --lab 05 --impl /nonexistent/dir
  assert_usage_error "IMPL"
  grade --lab 05 --test no_such_test
  assert_usage_error "no test 'no_such_test'"
  local rubric=$BATS_TEST_TMPDIR/rubric
  printf 'align 5 everyone 30 mm_driver\n' >"$rubric"
  grade --lab 05 --rubric "$rubric"
  assert_status 2
  [[ $stderr == *"rubric:1: visibility 'everyone'"* ]] || fail "a bad rubric line is named"
}

@test "the grader runs unprivileged, as nobody" {
  SKIP_REASON="the privilege test runs in the plain build only" skip_under_sanitizer asan ubsan tsan
  [[ -f $LAB_RUNS/solution.status ]] || skip "$SOLUTION_ONLY"
  ((EUID == 0)) || skip "not root: the suite itself runs unprivileged"
  local tree
  tree=$(nobody_tree)
  as_nobody "$tree" make -C "$tree" -s --no-print-directory grade LAB=05 IMPL=solution
  rm -rf "$tree"
  assert_success
  [[ $output == *" root=0"* && $output == *"frame_numbers_visible=0"* ]] ||
    fail "the header says: not root, frame numbers hidden"
  [[ $output == *"Score 100/100"* ]] || fail "the solution scores full marks as nobody"
}

@test "make handout writes a tree and a tarball without any solution, where make grade works" {
  SKIP_REASON="the handout test runs in the plain build only" skip_under_sanitizer asan ubsan tsan
  local out=$BATS_TEST_TMPDIR/o tree
  run_cmd make -C "$REPO_ROOT" -s --no-print-directory handout O="$out"
  assert_success
  tree=$out/handout/asymmetric_c
  [[ -f $tree/$LAB/lab/mm.c && -f $tree/$LAB/lab/rubric && -f $tree/Makefile ]] ||
    fail "the tree has the starter, the rubric and the Makefile"
  [[ ! -e $tree/$LAB/lab/solution && ! -e $tree/$LAB/lab/mutants ]] || fail "no solution/ and no mutants/"
  run_cmd tar -tzf "$out/handout/asymmetric_c.tar.gz"
  assert_success
  [[ $output == *"asymmetric_c/$LAB/lab/mm.c"* && $output != *"/lab/solution"* && $output != *"/lab/mutants"* ]] ||
    fail "the tarball holds the same tree"
  if [[ -d $REPO_ROOT/$LAB/lab/solution ]]; then
    # the solution's own function names (chunk_map_locked...) are nowhere in the lab
    grep -oE '^static [^(]*[ *][a-z_]+\(' "$REPO_ROOT/$LAB/lab/solution/mm.c" |
      sed -E 's/.*[ *]([a-z_]+)\($/\1/' | awk 'length >= 10' >"$BATS_TEST_TMPDIR/names"
    (($(grep -c '' "$BATS_TEST_TMPDIR/names") >= 10)) || fail "the solution's function names are read"
    run_cmd grep -rlwFf "$BATS_TEST_TMPDIR/names" "$tree/$LAB/lab"
    assert_status 1
  fi
  run_cmd "$REPO_ROOT/common/lab/handout.sh" --check "$tree"
  assert_success
  run_cmd make -C "$tree" -s --no-print-directory grade LAB=05 TEST=smoke_build,align
  ((status != 0)) || fail "grading the starter in the handout fails"
  [[ $output == *"PASS smoke_build 2/2"* && $output == *"FAIL align 0/5"* ]] || fail "the report, in the handout"
  run_cmd make -C "$tree" -s --no-print-directory grade LAB=05 IMPL=solution
  [[ $stderr == *"no 05_zone_malloc/lab/solution"* ]] || fail "IMPL=solution says the handout has none"
}

@test "the handout check finds a solution's line pasted into a lab's file" {
  [[ -d $REPO_ROOT/$LAB/lab/solution ]] || skip "$SOLUTION_ONLY"
  local tree=$BATS_TEST_TMPDIR/tree
  mkdir -p "$tree/$LAB/lab"
  cp "$REPO_ROOT/$LAB/lab/mm.c" "$tree/$LAB/lab/"
  grep -m1 'resize_in_place_locked(struct block' "$REPO_ROOT/$LAB/lab/solution/mm.c" >"$tree/$LAB/lab/README.md"
  run_cmd "$REPO_ROOT/common/lab/handout.sh" --check "$tree"
  assert_status 1
  [[ $stderr == *"$LAB/lab/README.md:1:"* ]] || fail "the leak is named with its file and line"
}

@test "the GitHub Classroom workflow has one step per rubric test, worth its points" {
  run_cmd "$REPO_ROOT/common/lab/classroom.sh" 05
  assert_success
  local steps
  steps=$(printf '%s\n' "$output" | awk '/command: make grade LAB=05 TEST=/ { sub(/.*TEST=/, ""); id = $0 }
    /max-score:/ { print id, $2 }')
  diff <(printf '%s\n' "$steps") <(awk -f "$REPO_ROOT/common/lab/rubric.awk" "$REPO_ROOT/$LAB/lab/rubric" |
    awk -F'\t' '{ print $1, $2 }') >/dev/null || fail "a step per test with the rubric's points"
  [[ $output == *"runners: test-smoke-build,test-smoke-init,"* ]] || fail "the reporter adds up every step"
  run_cmd "$REPO_ROOT/common/lab/classroom.sh" 99
  assert_usage_error "no lab 99"
}

# --- the self-test ---------------------------------------------------------------

@test "every mutant applies to the solution, names a rubric test, and changes it" {
  [[ -d $REPO_ROOT/$LAB/lab/solution ]] || skip "$SOLUTION_ONLY"
  local mutant test count=0
  for mutant in "$REPO_ROOT/$LAB"/lab/mutants/*.mut; do
    test=$(awk '$1 == "test" { print $2 }' "$mutant")
    rubric_ids "$LAB" | grep -qx "$test" || fail "$(basename "$mutant") names a test of the rubric ($test)"
    run_cmd awk -f "$REPO_ROOT/common/lab/mutate.awk" "$mutant" "$REPO_ROOT/$LAB/lab/solution/mm.c"
    assert_success
    [[ $output != "$(cat "$REPO_ROOT/$LAB/lab/solution/mm.c")" ]] || fail "$(basename "$mutant") changes the solution"
    count=$((count + 1))
  done
  ((count >= 5)) || fail "at least five mutants (found $count)"
}

@test "a mutant that no longer fits the solution is an error, not a silent non-mutant" {
  [[ -d $REPO_ROOT/$LAB/lab/solution ]] || skip "$SOLUTION_ONLY"
  printf 'test align\nfile mm.c\n- this line is not in the solution\n+ nor this one\n' >"$BATS_TEST_TMPDIR/stale.mut"
  run_cmd awk -f "$REPO_ROOT/common/lab/mutate.awk" "$BATS_TEST_TMPDIR/stale.mut" "$REPO_ROOT/$LAB/lab/solution/mm.c"
  assert_status 1
  [[ $stderr == *"matches 0 places in the solution, not 1"* ]] || fail "it says the hunk does not match"
}

@test "a mutant with 8-byte aligned blocks fails the align test" {
  [[ -d $REPO_ROOT/$LAB/lab/solution ]] || skip "$SOLUTION_ONLY"
  local dir=$BATS_TEST_TMPDIR/align8
  mkdir -p "$dir"
  awk -f "$REPO_ROOT/common/lab/mutate.awk" "$REPO_ROOT/$LAB/lab/mutants/align8.mut" \
    "$REPO_ROOT/$LAB/lab/solution/mm.c" >"$dir/mm.c"
  grade --lab 05 --impl "$dir" --test smoke_build,align
  assert_status 1
  [[ $output == *"PASS smoke_build 2/2"*"FAIL align 0/5"*"8 bytes past a 16-byte boundary"* ]] ||
    fail "the mutant builds cleanly and fails align, saying why"
}

@test "lab-selftest in a tree without solutions says so and passes" {
  local tree=$BATS_TEST_TMPDIR/nosolution
  mkdir -p "$tree/common" "$tree/$LAB/lab"
  cp -r "$REPO_ROOT/common/lab" "$tree/common/"
  cp "$REPO_ROOT/$LAB/lab/rubric" "$tree/$LAB/lab/"
  run_cmd "$tree/common/lab/selftest.sh"
  assert_success
  [[ $output == *"SKIP $LAB: no solution in this tree"*"0 passed, 0 failed"* ]] || fail "nothing to prove"
}
