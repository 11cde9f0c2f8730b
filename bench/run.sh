#!/usr/bin/env bash
# bench/run.sh - the numbers behind the lessons (what `make bench` runs).
#
# Usage: bench/run.sh [--reps N] [--quick] [SECTION...]
#   SECTION: alloc traces file faults fork (default: all of them)
#   --reps N   repetitions of every measurement (default 5; the median is
#              reported with the spread, min..max)
#   --quick    smaller sizes, for a smoke test (not for the README)
#
# Every comparison is a ratio against a reference measured in the same run,
# with the contenders alternating inside each repetition.  Results go to
# stdout as tables and to $BIN_DIR/bench-results.jsonl, one JSON object per
# row.  BIN_DIR defaults to build/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BIN_DIR:-$root/build}
[[ $bin = /* ]] || bin=$root/$bin
reps=5
quick=0
sections=()

usage() {
  sed -n '3,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while (($#)); do
  case $1 in
  -h | --help)
    usage
    exit 0
    ;;
  --reps)
    [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || {
      echo "bench/run.sh: --reps needs a number from 1 to 99" >&2
      exit 2
    }
    reps=$2
    shift
    ;;
  --quick) quick=1 ;;
  alloc | traces | file | faults | fork) sections+=("$1") ;;
  *)
    echo "bench/run.sh: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
  esac
  shift
done
((${#sections[@]})) || sections=(alloc traces file faults fork)

results=$bin/bench-results.jsonl
: >"$results"

# fact KEY [KEY=VALUE...] < output: one fact from a program's output.
fact() {
  local key=$1
  shift
  awk -v key="$key" -v filters="$*" -f "$root/common/fact.awk"
}

# stats: read numbers, one per line; print "median min max".
stats() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "0 0 0"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.6g %.6g %.6g\n", m, v[1], v[NR]
    }'
}

# record KEY=VALUE...: one JSON object in the results file.
record() {
  local first=1 pair key value
  {
    printf '{'
    for pair in "$@"; do
      key=${pair%%=*}
      value=${pair#*=}
      ((first)) || printf ','
      first=0
      if [[ $value =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        printf '"%s":%s' "$key" "$value"
      else
        printf '"%s":"%s"' "$key" "$value"
      fi
    done
    printf '}\n'
  } >>"$results"
}

# ratio A B: A/B with two decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'
}

need() {
  local program
  for program in "$@"; do
    [[ -x $bin/$program ]] || {
      echo "bench/run.sh: $bin/$program is not built (run make)" >&2
      exit 1
    }
  done
}

machine() {
  local cpu kernel libc
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  kernel=$(uname -sr)
  libc=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "unknown libc")
  echo "machine: ${cpu:-unknown CPU}, $(nproc) cores, $kernel, $libc"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); repetitions: $reps (median, spread min..max)"
  record bench=machine cpu="${cpu// /_}" cores="$(nproc)" kernel="${kernel// /_}" libc="${libc// /_}" reps="$reps"
}

title() {
  printf '\n== %s ==\n' "$1"
}

# ---------------------------------------------------------------- faults
# Lesson 01's modes on 1 GiB: faults, time, time per fault.
bench_faults() {
  need 01_mmap_large_array
  local size=1G modes=(touch populate hugepage malloc) mode out rep
  ((quick)) && size=64M
  title "page faults: lesson 01's modes on $size (faults counted by getrusage)"
  declare -A times faults
  for ((rep = 0; rep < reps; rep++)); do
    for mode in "${modes[@]}"; do
      out=$("$bin/01_mmap_large_array" --size "$size" --mode "$mode")
      [[ $(fact skipped mode="$mode" <<<"$out") == 1 ]] && continue
      faults[$mode]+="$(($(fact mmap_minor_faults mode="$mode" <<<"$out") + $(fact minor_faults mode="$mode" <<<"$out"))) "
      times[$mode]+="$(($(fact mmap_ns mode="$mode" <<<"$out") + $(fact touch_ns mode="$mode" <<<"$out"))) "
    done
  done
  local touch_ms
  read -r touch_ms _ _ < <(tr ' ' '\n' <<<"${times[touch]}" | grep . | stats)
  printf '%-9s %10s %22s %12s %9s\n' mode faults "time ms (min..max)" "ns/fault" "vs touch"
  for mode in "${modes[@]}"; do
    [[ -n ${times[$mode]:-} ]] || {
      printf '%-9s %10s\n' "$mode" skipped
      continue
    }
    local f t lo hi per
    read -r f _ _ < <(tr ' ' '\n' <<<"${faults[$mode]}" | grep . | stats)
    read -r t lo hi < <(tr ' ' '\n' <<<"${times[$mode]}" | grep . | stats)
    per=$(awk -v t="$t" -v f="$f" 'BEGIN { printf "%.0f", f ? t / f : 0 }')
    printf '%-9s %10.0f %8.1f (%5.1f..%5.1f) %12s %8sx\n' "$mode" "$f" \
      "$(awk -v t="$t" 'BEGIN { print t / 1e6 }')" "$(awk -v t="$lo" 'BEGIN { print t / 1e6 }')" \
      "$(awk -v t="$hi" 'BEGIN { print t / 1e6 }')" "$per" "$(ratio "$t" "$touch_ms")"
    record bench=faults size="$size" mode="$mode" faults="$f" median_ns="$t" min_ns="$lo" max_ns="$hi" \
      ns_per_fault="$per" vs_touch="$(ratio "$t" "$touch_ms")"
  done
}

# ---------------------------------------------------------------- fork
# Lesson 04: fork time against the parent's touched memory.
bench_fork() {
  need 04_fork_cow
  local sizes=(16M 256M 1G) size out rep
  ((quick)) && sizes=(16M 64M)
  title "fork cost: lesson 04, fork() time against the parent's touched memory"
  declare -A forks ptes
  for ((rep = 0; rep < reps; rep++)); do
    for size in "${sizes[@]}"; do
      out=$("$bin/04_fork_cow" --mode cost --size "$size")
      forks[$size]+="$(fact fork_ns heap=large <<<"$out") "
      ptes[$size]=$(fact vm_pte_kib heap=large <<<"$out")
    done
  done
  local base
  read -r base _ _ < <(tr ' ' '\n' <<<"${forks[${sizes[0]}]}" | grep . | stats)
  printf '%-8s %14s %24s %14s\n' touched "page tables" "fork ms (min..max)" "vs ${sizes[0]}"
  for size in "${sizes[@]}"; do
    local t lo hi
    read -r t lo hi < <(tr ' ' '\n' <<<"${forks[$size]}" | grep . | stats)
    printf '%-8s %11s kB %10.3f (%.3f..%.3f) %13sx\n' "$size" "${ptes[$size]}" \
      "$(awk -v t="$t" 'BEGIN { print t / 1e6 }')" "$(awk -v t="$lo" 'BEGIN { print t / 1e6 }')" \
      "$(awk -v t="$hi" 'BEGIN { print t / 1e6 }')" "$(ratio "$t" "$base")"
    record bench=fork touched="$size" vm_pte_kib="${ptes[$size]}" median_ns="$t" min_ns="$lo" \
      max_ns="$hi" vs_smallest="$(ratio "$t" "$base")"
  done
}

echo "asymmetric_c benchmarks"
machine
for section in "${sections[@]}"; do
  case $section in
  faults) bench_faults ;;
  fork) bench_fork ;;
  *) printf '\n== %s: not built yet ==\n' "$section" ;;
  esac
done
echo
echo "results: $results"
