# helper.bash - loaded by every test file (`load helper`).
#
# Runs the project's programs under coreutils `timeout`, so a hang fails one
# test instead of stalling the suite, and gives the few assertions the suite
# needs.  Every failure message shows the command, its exit status, its
# stdout and its stderr.
#
# Environment: BIN_DIR (default build/) holds the programs; SANITIZER is
# empty, asan, ubsan or tsan; ASSERTS is 1 when the build has the
# allocators' internal checks; TEST_TIMEOUT is the per-command limit in
# seconds (default 60).

bats_require_minimum_version 1.5.0

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIN_DIR=${BIN_DIR:-build}
[[ $BIN_DIR = /* ]] || BIN_DIR=$REPO_ROOT/$BIN_DIR
SANITIZER=${SANITIZER:-}
ASSERTS=${ASSERTS:-0} # 1: the build has the allocators' internal checks (-DASYM_ASSERT=1)
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
export NO_COLOR=1 # plain output, whatever the terminal

# Sanitizers: stop at the first error, with a non-zero status the tests see.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# prog NAME: the path of a built program.
prog() {
  printf '%s/%s' "$BIN_DIR" "$1"
}

# run_prog NAME [ARGS...]: run a built program under the timeout with
# stdout in $output and stderr in $stderr.
run_prog() {
  local name=$1
  shift
  [[ -x $(prog "$name") ]] || fail "$(prog "$name") is not built (run make)"
  run_cmd "$(prog "$name")" "$@"
}

# run_prog_stdout TARGET NAME [ARGS...]: run_prog with the program's stdout
# sent to TARGET instead: a file such as /dev/full, or "closed".
run_prog_stdout() {
  local target=$1 name=$2
  shift 2
  LAST_COMMAND="$name $* (stdout: $target)"
  run --separate-stderr redirect_stdout "$target" timeout -k 5 "$TEST_TIMEOUT" "$(prog "$name")" "$@"
}

redirect_stdout() {
  local target=$1
  shift
  if [[ $target == closed ]]; then
    "$@" >&-
  else
    "$@" >"$target"
  fi
}

# run_cmd COMMAND [ARGS...]: the same for any command.
run_cmd() {
  LAST_COMMAND="$*"
  run --separate-stderr timeout -k 5 "$TEST_TIMEOUT" "$@"
}

# fail MESSAGE: fail the test, showing the last command and what it printed.
fail() {
  {
    printf 'FAILED: %s\n' "$1"
    printf 'command: %s\n' "${LAST_COMMAND:-(none)}"
    printf 'exit status: %s\n' "${status:-(none)}"
    printf -- '--- stdout ---\n%s\n' "${output:-}"
    printf -- '--- stderr ---\n%s\n' "${stderr:-}"
  } >&2
  return 1
}

# The program ran to the end: it neither hung nor died by a signal.
assert_no_hang_or_signal() {
  ((status != 124)) || fail "timed out after ${TEST_TIMEOUT}s"
  ((status < 128)) || fail "died by signal $((status - 128))"
}

assert_status() {
  assert_no_hang_or_signal
  ((status == $1)) || fail "exit status is $1"
}

assert_success() {
  assert_status 0
}

# assert_usage_error [TEXT]: exit 2 and exactly one line on stderr (that
# contains TEXT, when given).
assert_usage_error() {
  assert_status 2
  local lines
  lines=$(printf '%s' "$stderr" | grep -c '')
  ((lines == 1)) || fail "exit status is 2 and stderr is one line (it has $lines)"
  [[ -z ${1:-} || $stderr == *"$1"* ]] || fail "exit status is 2 and stderr names '$1'"
}

# assert_runtime_error [TEXT]: exit 1, one line on stderr starting with the
# program's name (and containing TEXT, when given).
assert_runtime_error() {
  assert_status 1
  local name=${LAST_COMMAND%% *}
  name=${name##*/}
  [[ $stderr == "$name: "* ]] || fail "exit status is 1 and stderr starts with '$name: '"
  [[ -z ${1:-} || $stderr == *"$1"* ]] || fail "exit status is 1 and stderr names '$1'"
}

assert_output_contains() {
  [[ $output == *"$1"* ]] || fail "stdout contains '$1'"
}

assert_stderr_contains() {
  [[ $stderr == *"$1"* ]] || fail "stderr contains '$1'"
}

# fact KEY [KEY2=VALUE2...]: print the value of the fact KEY from the last
# fact line of $output that has it (and, when given, every KEY2=VALUE2 too).
# A fact line is made only of key=value tokens.
fact() {
  local key=$1
  shift
  printf '%s\n' "$output" | awk -v key="$key" -v filters="$*" -f "$REPO_ROOT/common/fact.awk"
}

# assert_fact KEY OP VALUE [KEY2=VALUE2...]: the fact compares as asked.
# OP is one of == != -eq -ne -lt -le -gt -ge (integers for the -xx ones).
assert_fact() {
  local key=$1 op=$2 want=$3
  shift 3
  local got where=""
  got=$(fact "$key" "$@")
  (($#)) && where=" (on the line with $*)"
  [[ -n $got ]] || fail "the fact '$key' is printed$where"
  local words holds
  case $op in
  ==) words="is '$want'" holds=$([[ $got == "$want" ]] && echo 1) ;;
  !=) words="is not '$want'" holds=$([[ $got != "$want" ]] && echo 1) ;;
  -eq | -ne | -lt | -le | -gt | -ge)
    [[ $got =~ ^-?[0-9]+$ ]] || fail "the fact '$key'$where is an integer (it is '$got')"
    case $op in
    -eq) words="equals $want" holds=$((got == want)) ;;
    -ne) words="differs from $want" holds=$((got != want)) ;;
    -lt) words="is less than $want" holds=$((got < want)) ;;
    -le) words="is at most $want" holds=$((got <= want)) ;;
    -gt) words="is greater than $want" holds=$((got > want)) ;;
    -ge) words="is at least $want" holds=$((got >= want)) ;;
    esac
    ;;
  *) fail "assert_fact: unknown operator '$op'" ;;
  esac
  [[ $holds == 1 ]] || fail "the fact '$key'$where $words (it is '$got')"
}

# run_unprivileged NAME [ARGS...]: run_prog as user nobody (skips the test
# when we are not root and cannot switch).
run_unprivileged() {
  local name=$1
  shift
  if ((EUID == 0)); then
    LAST_COMMAND="$(prog "$name") $* (as nobody, via setpriv)"
    run --separate-stderr timeout -k 5 "$TEST_TIMEOUT" \
      setpriv --reuid=nobody --regid=nogroup --clear-groups "$(prog "$name")" "$@"
  else
    run_prog "$name" "$@"
  fi
}

# skip_under_sanitizer SAN...: skip when the suite runs under one of them,
# with the reason given by the caller in SKIP_REASON.
skip_under_sanitizer() {
  local san
  for san in "$@"; do
    [[ $SANITIZER == "$san" ]] && skip "${SKIP_REASON:-not meaningful under $san}"
  done
  return 0
}
