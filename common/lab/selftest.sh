#!/usr/bin/env bash
# selftest.sh - prove each lab's grader right: what `make lab-selftest` runs.
#
# Usage: common/lab/selftest.sh [--lab NN|all] [--repeats N]
#
# For every lab that has a solution/ (a student handout has none):
#   1. the solution scores full marks in N runs of the grader (default 5),
#      with the same PASS/SKIP lines every time, and a valid results.json;
#   2. the untouched starter passes its smoke tests (ids starting "smoke")
#      and no other test;
#   3. every mutant (mutants/NAME.mut: one plausible student bug, applied to
#      the solution by common/lab/mutate.awk) compiles without warnings and
#      fails the test it names.
# Prints a PASS or FAIL line per claim, with the reason for a FAIL, then the
# time taken and "N passed, M failed".  Exit status 0 when every claim held.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
framework=$root/common/lab
grade=$framework/grade.sh
build_root=${LAB_BUILD_ROOT:-${LAB_O:-build}${LAB_SANITIZER:+/$LAB_SANITIZER}}
[[ $build_root == /* ]] || build_root=$root/$build_root

usage_error() {
  printf 'lab-selftest: %s (see --help)\n' "$1" >&2
  exit 2
}

lab_arg=all repeats=5
while (($#)); do
  case $1 in
  -h | --help)
    sed -n '3,5s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  --lab | --repeats)
    (($# >= 2)) || usage_error "$1 needs a value"
    [[ $1 == --lab ]] && lab_arg=$2 || repeats=$2
    shift 2
    ;;
  *) usage_error "unexpected argument '$1'" ;;
  esac
done
[[ $repeats =~ ^[1-9][0-9]?$ ]] || usage_error "LAB_REPEATS must be from 1 to 99, not '$repeats'"

cd "$root" || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-selftest.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 started=$SECONDS

claim() { # claim PASS|FAIL TEXT [REASON]
  printf '%s %s\n' "$1" "$2"
  [[ -n ${3:-} ]] && printf '  %s\n' "$3"
  if [[ $1 == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# The PASS/FAIL/SKIP lines of a report: "PASS align 5/5".
verdict_lines() {
  grep -E '^(PASS|FAIL|SKIP) ' "$1"
}

# The reason printed under test ID in a report.
reason_of() {
  awk -v id="$2" '$2 == id { getline; sub(/^  /, ""); print; exit }' "$1"
}

check_solution() {
  local lab=$1 run report first="" problems="" runs="1 run"
  ((repeats == 1)) || runs="$repeats runs, the same results each time"
  for ((run = 1; run <= repeats; run++)); do
    report=$tmp/solution.$run
    "$grade" --lab "$lab" --impl solution --json "$tmp/solution.$run.json" >"$report" 2>&1
    local status=$?
    local bad
    bad=$(verdict_lines "$report" | awk '$1 == "FAIL" || ($1 == "PASS" && split($3, p, "/") && p[1] != p[2])')
    if ((status != 0)) || [[ -n $bad ]]; then
      problems="run $run: exit status $status; ${bad:-$(tail -n 3 "$report" | tr '\n' ' ')}"
      break
    fi
    if ! LC_ALL=C awk -f "$framework/json_check.awk" "$tmp/solution.$run.json" >/dev/null 2>"$tmp/json.err"; then
      problems="run $run: results.json is not valid: $(cat "$tmp/json.err")"
      break
    fi
    verdict_lines "$report" >"$tmp/lines.$run"
    [[ -n $first ]] || first=$tmp/lines.$run
    if ! cmp -s "$first" "$tmp/lines.$run"; then
      problems="run $run differs from run 1: $(diff "$first" "$tmp/lines.$run" | grep '^[<>]' | head -2 | tr '\n' ' ')"
      break
    fi
  done
  if [[ -n $problems ]]; then
    claim FAIL "$lab: the solution scores full marks in $runs" "$problems"
  else
    claim PASS "$lab: the solution scores $(grep -m1 '^Score' "$report" | cut -d' ' -f2) in $runs"
  fi
}

check_starter() {
  local lab=$1 report=$tmp/starter status
  "$grade" --lab "$lab" --impl starter >"$report" 2>&1
  status=$?
  local wrong smoke others
  wrong=$(verdict_lines "$report" | awk '($2 ~ /^smoke/) != ($1 == "PASS") { printf "%s %s; ", $1, $2 }')
  smoke=$(verdict_lines "$report" | awk '$2 ~ /^smoke/ { printf "%s ", $2 }')
  others=$(verdict_lines "$report" | awk '$2 !~ /^smoke/' | grep -c '')
  if ((status != 1)) || [[ -n $wrong ]]; then
    claim FAIL "$lab: the starter passes only its smoke tests" "exit status $status (expected 1); ${wrong:-}"
  else
    claim PASS "$lab: the starter passes only its smoke tests (${smoke% }) and fails the other $others"
  fi
}

check_mutant() {
  local lab=$1 mutant=$2 name test file dir report
  name=$(basename "$mutant" .mut)
  test=$(awk '$1 == "test" { print $2; exit }' "$mutant")
  file=$(awk '$1 == "file" { print $2; exit }' "$mutant")
  dir=$build_root/lab/$lab/mutants/$name
  report=$tmp/mutant.$name
  if [[ -z $test || -z $file ]]; then
    claim FAIL "$lab: mutant $name" "$mutant needs a 'test ID' and a 'file NAME' line"
    return
  fi
  mkdir -p "$dir" && cp "$lab"/lab/solution/* "$dir"/ 2>/dev/null
  if ! awk -f "$framework/mutate.awk" "$mutant" "$lab/lab/solution/$file" >"$dir/$file" 2>"$tmp/mutate.err"; then
    claim FAIL "$lab: mutant $name fails $test" "it no longer applies: $(cat "$tmp/mutate.err")"
    return
  fi
  "$grade" --lab "$lab" --impl "$dir" --test "smoke_build,$test" >"$report" 2>&1
  if ! grep -q '^PASS smoke_build ' "$report"; then
    claim FAIL "$lab: mutant $name fails $test" "it does not build cleanly: $(reason_of "$report" smoke_build)"
  elif grep -q "^FAIL $test " "$report"; then
    claim PASS "$lab: mutant $name fails $test" "$(reason_of "$report" "$test")"
  else
    claim FAIL "$lab: mutant $name fails $test" "$(grep -E "^(PASS|SKIP) $test " "$report" || echo "no line for $test")"
  fi
}

labs=()
for rubric in [0-9][0-9]_*/lab/rubric; do
  [[ -f $rubric ]] || continue
  lab=${rubric%/lab/rubric}
  [[ $lab_arg == all || $lab_arg == "${lab:0:2}" || $lab_arg == "$lab" ]] && labs+=("$lab")
done
((${#labs[@]})) || usage_error "no lab '$lab_arg'"

for lab in "${labs[@]}"; do
  if [[ ! -d $lab/lab/solution ]]; then
    printf 'SKIP %s: no solution in this tree (a student handout)\n' "$lab"
    continue
  fi
  check_solution "$lab"
  check_starter "$lab"
  mutants=("$lab"/lab/mutants/*.mut)
  if [[ ! -f ${mutants[0]} ]] || ((${#mutants[@]} < 3)); then
    claim FAIL "$lab: at least three mutants" "found ${#mutants[@]} in $lab/lab/mutants/"
  fi
  for mutant in "${mutants[@]}"; do
    [[ -f $mutant ]] && check_mutant "$lab" "$mutant"
  done
done
printf 'lab-selftest took %d s (%d repeats of each solution)\n' $((SECONDS - started)) "$repeats"
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
