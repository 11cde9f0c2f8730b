# lab_helper.bash - loaded by the lab system's test files (lab.bats,
# lab_06_07.bats, lab_predict.bats) with `load lab_helper`, in place of
# helper.bash, which it loads.
#
# Runs common/lab/grade.sh itself, with the environment make grade gives
# it, either as a test's command or once in setup_file with its output kept
# for the tests that read it.

load helper

# shellcheck disable=SC2034 # read by run_cmd in helper.bash
TEST_TIMEOUT=600 # a whole grader run under TSan

# The build folder's O (BIN_DIR is O, or O/SAN under a sanitizer).
O_DIR=${BIN_DIR%/"$SANITIZER"}

# grade ARGS...: the grader itself (its own exit status, not make's).
grade() {
  run_cmd env MAKE=make LAB_O="$O_DIR" LAB_BUILD_ROOT="$BIN_DIR" LAB_SANITIZER="$SANITIZER" \
    "$REPO_ROOT/common/lab/grade.sh" "$@"
}

# grade_saved NAME ARGS...: run the grader, keeping its output and status
# in $LAB_RUNS/NAME.out and NAME.status (setup_file runs under set -e).
grade_saved() {
  local name=$1 status=0
  shift
  env MAKE=make LAB_O="$O_DIR" LAB_BUILD_ROOT="$BIN_DIR" LAB_SANITIZER="$SANITIZER" \
    "$REPO_ROOT/common/lab/grade.sh" "$@" >"$LAB_RUNS/$name.out" 2>&1 || status=$?
  echo "$status" >"$LAB_RUNS/$name.status"
}

# saved NAME: the output and status of a grader run made in setup_file.
saved() {
  # shellcheck disable=SC2034 # read by the tests and by fail() in helper.bash
  output=$(cat "$LAB_RUNS/$1.out") status=$(cat "$LAB_RUNS/$1.status") stderr="" \
    LAST_COMMAND="common/lab/grade.sh (in setup_file: $1)"
}

# The test lines of a report: "PASS align 5/5".
test_lines() {
  printf '%s\n' "$output" | grep -E '^(PASS|FAIL|SKIP) '
}

# assert_grader_passed LABEL: the grader exited 0.  If not, the message
# itself names each failed test and its reason, first, so that they are
# seen even where only the head of a long report is shown (a CI log).
assert_grader_passed() {
  ((status == 0)) && return
  local failed
  failed=$(printf '%s\n' "$output" | grep -A1 -E '^FAIL ' | grep -v -- '^--$' | tr '\n' ' ')
  fail "$1: the grader exits 0, every test passing (failed: ${failed:-none named})"
}

# rubric_ids LAB: the test ids of NN_lesson's rubric, in order.
rubric_ids() {
  awk -f "$REPO_ROOT/common/lab/rubric.awk" "$REPO_ROOT/$1/lab/rubric" | cut -f1
}

# nobody_tree: a copy of the repository (no builds, no .git) that nobody
# owns, with its own tmp/, for a grader run as nobody; prints its path.
nobody_tree() {
  local tree
  tree=$(mktemp -d /tmp/lab-nobody.XXXXXX) &&
    tar -C "$REPO_ROOT" --exclude=./build --exclude='./build*' --exclude=./node_modules \
      --exclude=./.git -cf - . | tar -C "$tree" -xf - &&
    mkdir "$tree/tmp" &&
    chown -R nobody:nogroup "$tree" &&
    chmod 755 "$tree" &&
    printf '%s' "$tree"
}

# as_nobody TREE COMMAND...: run_cmd COMMAND as nobody, at home in TREE.
as_nobody() {
  local tree=$1
  shift
  run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$tree" TMPDIR="$tree/tmp" \
    "$@"
}
