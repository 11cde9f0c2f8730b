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
# stdout as tables and to $BIN_DIR/bench-results.jsonl (or $BENCH_RESULTS),
# one JSON object per row.  BIN_DIR defaults to build/.
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

# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

results=${BENCH_RESULTS:-$bin/bench-results.jsonl}
: >"$results"

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
      if [[ $value == null || $value =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        printf '"%s":%s' "$key" "$value"
      else
        printf '"%s":"%s"' "$key" "$value"
      fi
    done
    printf '}\n'
  } >>"$results"
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

# ---------------------------------------------------------------- alloc
# The allocation workload (common/workload.h) against each allocator, with
# 1 and 2 workers (threads; processes sharing one region for shared);
# glibc's malloc is the reference.
bench_alloc() {
  need alloc_bench
  local allocators=(glibc zone shared) workers_list=(1 2) ops=10000000 a w rep out key
  ((quick)) && ops=1000000
  title "allocation throughput: $ops ops per worker, 16..527-byte blocks, 4096 slots per worker"
  declare -A rate rss overhead
  for ((rep = 0; rep < reps; rep++)); do
    for w in "${workers_list[@]}"; do
      for a in "${allocators[@]}"; do
        out=$("$bin/alloc_bench" --allocator "$a" --workers "$w" --ops "$ops" --seed $((rep + 1)))
        key=$a/$w
        rate[$key]+="$(fact ops_per_sec <<<"$out") "
        rss[$key]+="$(fact rss_growth_kib <<<"$out") "
        overhead[$key]=$(fact mapped_per_requested_pct <<<"$out")
      done
    done
  done
  printf '%-8s %7s %12s %22s %9s %15s %14s\n' allocator workers "M ops/s" "spread" "vs glibc" \
    "RSS growth KiB" "mapped/req %"
  local glibc_rate r lo hi kib
  for w in "${workers_list[@]}"; do
    # shellcheck disable=SC2086 # the lists of numbers are meant to be split
    read -r glibc_rate _ _ < <(stats ${rate[glibc/$w]})
    for a in "${allocators[@]}"; do
      key=$a/$w
      # shellcheck disable=SC2086
      read -r r lo hi < <(stats ${rate[$key]})
      # shellcheck disable=SC2086
      read -r kib _ _ < <(stats ${rss[$key]})
      [[ -n ${rss[$key]// /} ]] || kib=-
      printf '%-8s %7s %12s %22s %8sx %15s %14s\n' "$a" "$w" "$(millions "$r")" \
        "$(millions "$lo")..$(millions "$hi")" "$(ratio "$r" "$glibc_rate")" "$kib" "${overhead[$key]:--}"
      record bench=alloc allocator="$a" workers="$w" ops_per_worker="$ops" median_ops_per_sec="$r" \
        min_ops_per_sec="$lo" max_ops_per_sec="$hi" vs_glibc="$(ratio "$r" "$glibc_rate")" \
        rss_growth_kib="${kib/-/null}" mapped_per_requested_pct="${overhead[$key]:-null}"
    done
  done
}

# millions N: N / 1e6 with one decimal.
millions() {
  awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'
}

# ---------------------------------------------------------------- traces
# Replays of generated traces shaped like programs, glibc against zone:
# throughput, and utilisation (peak live bytes over peak mapped bytes).
bench_traces() {
  need alloc_trace
  local kinds=(small realloc mixed) allocators=(glibc zone) ops=500000 dir k a rep out
  ((quick)) && ops=50000
  dir=$bin/bench-traces
  mkdir -p "$dir"
  title "allocation traces: $ops calls each, generated with fixed seeds (bench/alloc_trace.c)"
  declare -A rate live mapped util
  for k in "${kinds[@]}"; do
    "$bin/alloc_trace" gen --kind "$k" --ops "$ops" --seed 1 >"$dir/$k.trace"
  done
  for ((rep = 0; rep < reps; rep++)); do
    for k in "${kinds[@]}"; do
      for a in "${allocators[@]}"; do
        out=$("$bin/alloc_trace" replay --allocator "$a" "$dir/$k.trace")
        rate[$k/$a]+="$(fact ops_per_sec <<<"$out") "
      done
    done
  done
  for k in "${kinds[@]}"; do
    for a in "${allocators[@]}"; do
      out=$("$bin/alloc_trace" replay --allocator "$a" --measure space "$dir/$k.trace")
      live[$k/$a]=$(fact peak_live_bytes <<<"$out")
      mapped[$k/$a]=$(fact peak_mapped_bytes <<<"$out")
      util[$k/$a]=$(fact utilisation_pct <<<"$out")
    done
  done
  printf '%-8s %-9s %9s %18s %9s %12s %12s %12s\n' trace allocator "M ops/s" spread "vs glibc" \
    "peak live" "peak mapped" "utilisation"
  local glibc_rate r lo hi
  for k in "${kinds[@]}"; do
    # shellcheck disable=SC2086
    read -r glibc_rate _ _ < <(stats ${rate[$k/glibc]})
    for a in "${allocators[@]}"; do
      # shellcheck disable=SC2086
      read -r r lo hi < <(stats ${rate[$k/$a]})
      printf '%-8s %-9s %9s %18s %8sx %12s %12s %11s%%\n' "$k" "$a" "$(millions "$r")" \
        "$(millions "$lo")..$(millions "$hi")" "$(ratio "$r" "$glibc_rate")" "${live[$k/$a]}" \
        "${mapped[$k/$a]}" "${util[$k/$a]}"
      record bench=traces trace="$k" allocator="$a" calls="$ops" median_ops_per_sec="$r" \
        min_ops_per_sec="$lo" max_ops_per_sec="$hi" vs_glibc="$(ratio "$r" "$glibc_rate")" \
        peak_live_bytes="${live[$k/$a]}" peak_mapped_bytes="${mapped[$k/$a]}" \
        utilisation_pct="${util[$k/$a]}"
    done
  done
  rm -rf "$dir"
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
  local touch_ns f t lo hi per
  # shellcheck disable=SC2086 # the lists of numbers are meant to be split
  read -r touch_ns _ _ < <(stats ${times[touch]})
  printf '%-9s %10s %10s %18s %9s %9s\n' mode faults "median ms" "spread ms" "ns/fault" "vs touch"
  for mode in "${modes[@]}"; do
    if [[ -z ${times[$mode]:-} ]]; then
      printf '%-9s %10s\n' "$mode" skipped
      record bench=faults size="$size" mode="$mode" skipped=1
      continue
    fi
    # shellcheck disable=SC2086
    read -r f _ _ < <(stats ${faults[$mode]})
    # shellcheck disable=SC2086
    read -r t lo hi < <(stats ${times[$mode]})
    per=$((f ? t / f : 0))
    printf '%-9s %10s %10s %18s %9s %8sx\n' "$mode" "$f" "$(ms "$t")" "$(ms "$lo")..$(ms "$hi")" \
      "$per" "$(ratio "$t" "$touch_ns")"
    record bench=faults size="$size" mode="$mode" faults="$f" median_ns="$t" min_ns="$lo" max_ns="$hi" \
      ns_per_fault="$per" vs_touch="$(ratio "$t" "$touch_ns")"
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
  local base t lo hi
  # shellcheck disable=SC2086
  read -r base _ _ < <(stats ${forks[${sizes[0]}]})
  printf '%-8s %14s %10s %18s %9s\n' touched "page tables" "fork ms" "spread ms" "vs ${sizes[0]}"
  for size in "${sizes[@]}"; do
    # shellcheck disable=SC2086
    read -r t lo hi < <(stats ${forks[$size]})
    printf '%-8s %11s kB %10s %18s %8sx\n' "$size" "${ptes[$size]}" "$(ms "$t" 3)" \
      "$(ms "$lo" 3)..$(ms "$hi" 3)" "$(ratio "$t" "$base")"
    record bench=fork touched="$size" vm_pte_kib="${ptes[$size]}" median_ns="$t" min_ns="$lo" \
      max_ns="$hi" vs_smallest="$(ratio "$t" "$base")"
  done
}

# ---------------------------------------------------------------- file
# Lesson 02's count, read() and mmap, against GNU wc -l on a cached file.
bench_file() {
  need 02_mmap_file
  local size=1G out name
  ((quick)) && size=64M
  title "reading a file: lesson 02's count against wc -l ($size in the page cache)"
  out=$(BIN_DIR=$bin "$root/bench/count_vs_wc.sh" --size "$size" --repeat "$reps")
  grep -v '^[a-z_]*=' <<<"$out" | tail -n +2
  for name in wc read mmap; do
    record bench=file size="$size" method="$name" median_ns="$(fact "${name}_ns" <<<"$out")" \
      min_ns="$(fact "${name}_min_ns" <<<"$out")" max_ns="$(fact "${name}_max_ns" <<<"$out")" \
      vs_wc="$(ratio "$(fact "${name}_ns" <<<"$out")" "$(fact wc_ns <<<"$out")")" \
      mmap_minor_faults="$(fact mmap_minor_faults <<<"$out")"
  done
}

echo "asymmetric_c benchmarks"
machine
for section in "${sections[@]}"; do
  case $section in
  alloc) bench_alloc ;;
  traces) bench_traces ;;
  faults) bench_faults ;;
  fork) bench_fork ;;
  file) bench_file ;;
  esac
done
echo
echo "results: $results"
