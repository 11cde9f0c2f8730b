#!/usr/bin/env bash
# run_all.sh - run every lesson's default demo in order, then a summary.
#
# Usage: ./run_all.sh [NN...]     e.g. ./run_all.sh 01 03
#
# Works from any directory.  Exits non-zero if any lesson failed, and with
# a clear message if a program is not built (run `make` first).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${BIN_DIR:-$root/build}
per_lesson_limit=120 # seconds; a demo that takes longer is stopped and fails

usage() {
  echo "Usage: ./run_all.sh [NN...]"
  echo "Run each lesson's default demo (all of them, or lessons NN...) and summarise."
}

bold=""
reset=""
if [[ -t 1 && -z ${NO_COLOR+set} ]]; then
  bold=$'\033[1m'
  reset=$'\033[0m'
fi

all_lessons=()
for dir in "$root"/[0-9][0-9]_*/; do
  [[ -d $dir ]] && all_lessons+=("$(basename "$dir")")
done

# Select the lessons named on the command line, by number.
selected=()
for arg in "$@"; do
  case $arg in
  -h | --help)
    usage
    exit 0
    ;;
  [0-9][0-9]) ;;
  *)
    echo "run_all.sh: '$arg' is not a lesson number (expected NN, e.g. 01)" >&2
    exit 2
    ;;
  esac
  found=""
  for lesson in "${all_lessons[@]}"; do
    [[ $lesson == "$arg"_* ]] && found=$lesson
  done
  [[ -n $found ]] || {
    echo "run_all.sh: there is no lesson $arg" >&2
    exit 2
  }
  selected+=("$found")
done
(($# > 0)) || selected=("${all_lessons[@]}")

for lesson in "${selected[@]}"; do
  if [[ ! -x $bin/$lesson ]]; then
    echo "run_all.sh: $bin/$lesson is not built; run 'make' first" >&2
    exit 1
  fi
done

results=()
failed=0
for lesson in "${selected[@]}"; do
  printf '\n%s########## %s ##########%s\n' "$bold" "$lesson" "$reset"
  start=$EPOCHREALTIME
  timeout -k 5 "$per_lesson_limit" "$bin/$lesson"
  code=$?
  elapsed_ms=$(((${EPOCHREALTIME/./} - ${start/./}) / 1000))
  if ((code == 0)); then
    state=ok
  elif ((code == 124)); then
    state="timed out after ${per_lesson_limit}s"
  elif ((code > 128)); then
    state="killed by signal $((code - 128))"
  else
    state="failed (exit $code)"
  fi
  ((code == 0)) || failed=$((failed + 1))
  results+=("$(printf '%-30s %-28s %8d ms' "$lesson" "$state" "$elapsed_ms")")
done

printf '\n%s########## summary ##########%s\n' "$bold" "$reset"
printf '%-30s %-28s %11s\n' lesson status "wall time"
printf '%s\n' "${results[@]}"
if ((failed > 0)); then
  echo "$failed of ${#selected[@]} lessons failed"
  exit 1
fi
echo "all ${#selected[@]} lessons ok"
