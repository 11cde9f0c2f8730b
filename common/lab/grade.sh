#!/usr/bin/env bash
# grade.sh - the labs' grader: what `make grade` runs.
#
# Usage: common/lab/grade.sh [--lab NN|all] [--impl starter|solution|DIR]
#          [--seed S] [--json FILE] [--test ID[,ID...]] [--timeout S]
#          [--rubric FILE]
#
# For each lab (a folder NN_lesson/lab/ with a rubric): copies the student's
# files from the implementation (starter: the files in place, the student's
# work; solution: lab/solution/; DIR: a folder holding them, or a copy of
# the repository), builds the lab's drivers with them, runs each test of the
# rubric under a timeout and prints a report:
#
#   lab=05_zone_malloc impl=starter seed=1 cpus=2 thp=madvise frame_numbers_visible=0 root=0
#   PASS smoke_build 2/2
#   FAIL align 0/5
#     mm_malloc(1) returned NULL (errno ENOSYS); expected a block [replay: make grade LAB=05 TEST=align SEED=1]
#   ...
#   Score 3/100
#   2 passed, 19 failed, 1 skipped
#
# The last line is always "N passed, M failed" (", K skipped" when some
# were); with several labs, each has its header and Score, then a Total.
# A test that hangs past its timeout fails as "deadlock or infinite loop",
# one that dies by a signal as "crashed", both saying where they were.
# Skipped tests (a missing program, no root) score 0 of 0.  --timeout
# overrides every test's; --rubric replaces the lab's (one lab only).
# --json FILE writes Gradescope's results.json, rewritten atomically after
# every test, so that it is valid however the run ends.
#
# Exit status: 0 when no test failed, 1 when one did, 2 on bad usage or when
# the grader itself cannot run.  MAKE, LAB_O and LAB_BUILD_ROOT (the
# Makefile's O and build folder, default build) and LAB_SANITIZER (its SAN)
# come from make.
set -uo pipefail

start_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
framework=$root/common/lab
make_cmd=${MAKE:-make}
sanitizer=${LAB_SANITIZER:-}
build_root=${LAB_BUILD_ROOT:-${LAB_O:-build}${sanitizer:+/$sanitizer}}
# the Makefile's own O= and SAN=, for the builds this script asks it for
make_vars=(O="${LAB_O:-build}" SAN="$sanitizer")

usage() {
  sed -n '3,5s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

usage_error() {
  printf 'grade: %s (see --help)\n' "$1" >&2
  exit 2
}

lab_arg=all impl=starter seed=1 json="" tests="" timeout_override="" rubric_override=""
while (($#)); do
  case $1 in
  -h | --help) usage && exit 0 ;;
  --lab | --impl | --seed | --json | --test | --timeout | --rubric)
    (($# >= 2)) || usage_error "$1 needs a value"
    case $1 in
    --lab) lab_arg=$2 ;;
    --impl) impl=$2 ;;
    --seed) seed=$2 ;;
    --json) json=$2 ;;
    --test) tests=$2 ;;
    --timeout) timeout_override=$2 ;;
    --rubric) rubric_override=$2 ;;
    esac
    shift 2
    ;;
  *) usage_error "unexpected argument '$1'" ;;
  esac
done

[[ $seed =~ ^[0-9]{1,19}$ ]] || usage_error "SEED must be a whole number, not '$seed'"
[[ -z $timeout_override || $timeout_override =~ ^[1-9][0-9]{0,4}$ ]] ||
  usage_error "TIMEOUT must be a number of seconds, not '$timeout_override'"
[[ -z $tests || $tests =~ ^[a-z0-9_,]+$ ]] || usage_error "TEST must be test ids separated by commas"
[[ -z $impl ]] && usage_error "IMPL must be starter, solution or a folder"
absolute() { [[ $1 == /* ]] && printf '%s\n' "$1" || printf '%s\n' "$start_dir/$1"; }
if [[ -n $json ]]; then
  json=$(absolute "$json")
  [[ -d $(dirname "$json") ]] || usage_error "JSON: no folder $(dirname "$json")"
fi
[[ -z $rubric_override ]] || rubric_override=$(absolute "$rubric_override")
if [[ $impl != starter && $impl != solution ]]; then
  impl_dir=$(absolute "$impl")
  [[ -d $impl_dir ]] || usage_error "IMPL: no folder '$impl' (expected starter, solution or a folder)"
fi

cd "$root" || exit 2
[[ $build_root == /* ]] || build_root=$root/$build_root

# --- the labs --------------------------------------------------------------

labs=()
if [[ $lab_arg == all ]]; then
  for rubric in [0-9][0-9]_*/lab/rubric; do
    [[ -f $rubric ]] && labs+=("${rubric%/lab/rubric}")
  done
  ((${#labs[@]})) || usage_error "this tree has no labs"
else
  for rubric in "$lab_arg"*/lab/rubric; do
    [[ -f $rubric && ($lab_arg == [0-9][0-9] || ${rubric%/lab/rubric} == "$lab_arg") ]] &&
      labs+=("${rubric%/lab/rubric}")
  done
  if ((${#labs[@]} != 1)); then
    known=$(for r in [0-9][0-9]_*/lab/rubric; do [[ -f $r ]] && printf '%s ' "${r%%_*}"; done)
    usage_error "no lab '$lab_arg' (labs: ${known% }; or all)"
  fi
fi
[[ -z $rubric_override || ${#labs[@]} == 1 ]] || usage_error "RUBRIC needs a single LAB"
if [[ $impl == solution ]]; then
  for lab in "${labs[@]}"; do
    [[ -d $lab/lab/solution ]] ||
      usage_error "IMPL=solution: this tree has no $lab/lab/solution (a student handout?)"
  done
fi

# --- where the run keeps its records ---------------------------------------

run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-grade.XXXXXX") || exit 2
planned=$run_tmp/planned.tsv results=$run_tmp/results.tsv report=$run_tmp/report.txt
: >"$planned"
: >"$results"
: >"$report"
current_test_pid=""
started_at=$SECONDS

cleanup() {
  rm -rf "$run_tmp"
}
trap cleanup EXIT

# say TEXT: a line of the report, on stdout and in the copy for results.json.
say() {
  printf '%s\n' "$1" | tee -a "$report"
}

total_score=0 total_max=0 passed=0 failed=0 skipped=0

write_json() {
  [[ -n $json ]] || return 0
  local tmp=$json.tmp.$$
  if ! LC_ALL=C awk -v score="$total_score" -v seconds=$((SECONDS - started_at)) \
    -v report="$report" -f "$framework/results.awk" "$planned" "$results" >"$tmp" ||
    ! mv -f "$tmp" "$json"; then
    rm -f "$tmp"
    printf 'grade: cannot write %s\n' "$json" >&2
  fi
}

# Ctrl-C, or the autograder's own deadline: stop the test, keep the record.
interrupted() {
  [[ -n $current_test_pid ]] && kill -TERM "$current_test_pid" 2>/dev/null && wait "$current_test_pid"
  say "grade: stopped before the end; the tests not run count as failed"
  write_json
  exit 130
}
trap interrupted INT TERM

# --- building --------------------------------------------------------------

# lab_files LAB: the files a student hands in for LAB (its lab.mk's LAB_FILES).
lab_files() {
  "$make_cmd" -s --no-print-directory "${make_vars[@]}" lab-files LAB_NAME="$1" LAB_OUT=/nonexistent
}

# prepare LAB: set src_dir, out and build_ok, build_note for LAB's implementation.
prepare() {
  local lab=$1 tag file
  build_ok=1 build_note=""
  case $impl in
  starter) src_dir=$root/$lab/lab tag=starter ;;
  solution) src_dir=$root/$lab/lab/solution tag=solution ;;
  *)
    src_dir=$impl_dir
    [[ -d $impl_dir/$lab/lab ]] && src_dir=$impl_dir/$lab/lab # a copy of the repository
    tag=impl-$(printf '%s' "$src_dir" | cksum | cut -d' ' -f1)
    ;;
  esac
  out=$build_root/lab/$lab/$tag
  mkdir -p "$out/src" || exit 2
  for file in $(lab_files "$lab"); do
    if [[ ! -f $src_dir/$file ]]; then
      build_ok=0 build_note="there is no $file in ${src_dir#"$root"/}"
      return
    fi
    cmp -s "$src_dir/$file" "$out/src/$file" || cp "$src_dir/$file" "$out/src/$file" || exit 2
  done
  if ! "$make_cmd" -s --no-print-directory "${make_vars[@]}" lab-build LAB_NAME="$lab" LAB_OUT="$out" \
    >"$out/build.log" 2>&1; then
    build_ok=0
    build_note="it does not compile: $(grep -m1 -E 'error|Error' "$out/build.log" | sed "s|$out/src/||")"
  fi
}

# The first warning the student's files compiled with, or nothing.
first_warning() {
  cat "$out"/obj/*.warnings 2>/dev/null | grep -m1 'warning:' | sed "s|$out/src/||"
}

# --- running a test --------------------------------------------------------

# record LAB ID RESULT POINTS MAX VISIBILITY MS REASON OUTPUT_FILE
record() {
  local lab=$1 id=$2 result=$3 points=$4 max=$5 vis=$6 ms=$7 reason=$8 output=$9
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lab" "$id" "$result" "$points" "$max" "$vis" "$ms" \
    "$output" >>"$results"
  say "$result $id $points/$max"
  [[ -n $reason ]] && say "  $reason"
  case $result in
  PASS) passed=$((passed + 1)) ;;
  FAIL) failed=$((failed + 1)) ;;
  SKIP) skipped=$((skipped + 1)) ;;
  esac
  total_score=$((total_score + points))
  [[ $result == SKIP ]] || total_max=$((total_max + max))
  lab_score=$((lab_score + points))
  [[ $result == SKIP ]] || lab_max=$((lab_max + max))
  write_json
}

# signal_name STATUS: "SIGSEGV" for 139.
signal_name() {
  printf 'SIG%s' "$(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
}

# run_test LAB ID MAX VISIBILITY TIMEOUT DRIVER [ARGS...]
run_test() {
  local lab=$1 id=$2 max=$3 vis=$4 limit=$5 driver=$6
  shift 6
  local replay="[replay: make grade LAB=${lab:0:2} TEST=$id SEED=$seed${impl_hint}]"
  local output_file=$run_tmp/output.$lab.$id
  : >"$output_file"
  if [[ $driver == @build ]]; then
    local warning
    warning=$(first_warning)
    if ((!build_ok)); then
      printf '%s\n' "$build_note" >"$output_file"
      record "$lab" "$id" FAIL 0 "$max" "$vis" 0 "$build_note" "$output_file"
    elif [[ -n $warning ]]; then
      cat "$out"/obj/*.warnings >"$output_file" 2>/dev/null
      record "$lab" "$id" FAIL 0 "$max" "$vis" 0 "compiles with warnings, expected none: $warning" \
        "$output_file"
    else
      record "$lab" "$id" PASS "$max" "$max" "$vis" 0 "" "$output_file"
    fi
    return
  fi
  if ((!build_ok)); then
    printf 'not run: %s\n' "$build_note" >"$output_file"
    record "$lab" "$id" FAIL 0 "$max" "$vis" 0 "not run: $build_note" "$output_file"
    return
  fi
  local exe=$out/$driver
  [[ -x $exe ]] || exe=$root/$lab/lab/tests/$driver
  if [[ ! -x $exe ]]; then
    printf 'grade: the rubric of %s names driver %s, which is neither built nor in tests/\n' \
      "$lab" "$driver" >&2
    exit 2
  fi
  [[ -n $timeout_override ]] && limit=$timeout_override
  local scratch verdict=$run_tmp/verdict log=$run_tmp/log status
  scratch=$(mktemp -d "$run_tmp/test.XXXXXX") || exit 2
  : >"$verdict"
  local began=${EPOCHREALTIME/./}
  (
    cd "$scratch" &&
      LAB_SEED=$seed LAB_DIR=$root/$lab/lab LAB_OUT=$out LAB_TMP=$scratch LAB_TIMEOUT_S=$limit \
        LAB_SANITIZER=$sanitizer LAB_FRAMEWORK=$framework LAB_VERDICT_FD=3 \
        exec timeout -k 5 "$limit" "$exe" "$id" "$@"
  ) 3>"$verdict" >"$log" 2>&1 </dev/null &
  current_test_pid=$!
  wait "$current_test_pid" 2>/dev/null # no "Killed" from bash: the report says it
  status=$?
  current_test_pid=""
  local ms=$(((${EPOCHREALTIME/./} - began) / 1000))
  rm -rf "$scratch"

  local kind="" message="" where="" line
  while IFS= read -r line; do
    case $line in
    where\ *) where=${line#where } ;;
    pass | pass\ * | partial\ * | fail\ * | skip\ *)
      if [[ -z $kind ]]; then
        kind=${line%% *}
        message=${line#"$kind"}
        message=${message# }
      fi
      ;;
    esac
  done <"$verdict"

  local result=FAIL points=0 reason
  if ((status == 124 || (status == 137 && ms >= limit * 1000))); then
    reason="deadlock or infinite loop: no result after ${limit}s${where:+, during $where}"
  elif [[ $kind == pass && $status == 0 ]]; then
    result=PASS points=$max reason=$message
  elif [[ $kind == partial && $status == 0 ]]; then
    local pct=${message%% *}
    result=PASS points=$((max * pct / 100)) reason=${message#* }
  elif [[ $kind == skip && $status == 77 ]]; then
    result=SKIP reason=$message
  elif [[ $kind == fail ]]; then
    reason=$message
  elif ((status > 128)); then
    reason="crashed ($(signal_name "$status"))${where:+ during $where}"
  else
    reason="ended with exit status $status and no verdict${where:+, during $where}: $(tail -n 1 "$log")"
  fi
  [[ $result == FAIL ]] && reason="$reason $replay"
  {
    printf '%s\n' "$reason"
    if [[ -s $log ]]; then
      printf -- '--- the last lines the test printed ---\n'
      tail -n 30 "$log"
    fi
  } >"$output_file"
  record "$lab" "$id" "$result" "$points" "$max" "$vis" "$ms" "$reason" "$output_file"
}

# --- the run -----------------------------------------------------------------

# Build the grader's own helper first: the header needs the machine's facts.
if ! "$make_cmd" -s --no-print-directory "${make_vars[@]}" lab-machine >"$run_tmp/machine.log" 2>&1; then
  cat "$run_tmp/machine.log" >&2
  printf 'grade: cannot build the grader (see above)\n' >&2
  say "grade: cannot build the grader: $(grep -m1 -E 'error|Error' "$run_tmp/machine.log")"
  write_json
  exit 2
fi
machine=$("$build_root/lab/lab_machine") || exit 2
impl_hint=""
[[ $impl == starter ]] || impl_hint=" IMPL=$impl"

# Every lab's tests are planned (and in results.json as "not run") first.
declare -A rubric_rows
for lab in "${labs[@]}"; do
  rubric=${rubric_override:-$lab/lab/rubric}
  rows=$(awk -f "$framework/rubric.awk" "$rubric") || exit 2
  if [[ -n $tests ]]; then
    IFS=, read -ra wanted <<<"$tests"
    for id in "${wanted[@]}"; do
      grep -q "^$id"$'\t' <<<"$rows" || usage_error "TEST: $lab has no test '$id'"
    done
    rows=$(awk -F'\t' -v wanted=",$tests," 'index(wanted, "," $1 ",")' <<<"$rows")
  fi
  rubric_rows[$lab]=$rows
  awk -F'\t' -v lab="$lab" '{ printf "%s\t%s\t%s\t%s\n", lab, $1, $2, $3 }' <<<"$rows" >>"$planned"
done
write_json

for lab in "${labs[@]}"; do
  ((${#labs[@]} > 1)) && say ""
  say "lab=$lab impl=$impl seed=$seed $machine${sanitizer:+ sanitizer=$sanitizer}"
  prepare "$lab"
  ((build_ok)) || say "  $lab's build: $build_note (the log: ${out#"$root"/}/build.log)"
  lab_score=0 lab_max=0
  while IFS=$'\t' read -r id points vis limit driver args; do
    [[ -n $id ]] || continue
    # shellcheck disable=SC2086 # the arguments are words of the rubric
    run_test "$lab" "$id" "$points" "$vis" "$limit" "$driver" $args
  done <<<"${rubric_rows[$lab]}"
  say "Score $lab_score/$lab_max"
done
((${#labs[@]} > 1)) && say "Total $total_score/$total_max"
closing="$passed passed, $failed failed"
((skipped)) && closing+=", $skipped skipped"
say "$closing"
write_json
((failed == 0))
