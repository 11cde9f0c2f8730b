#!/usr/bin/env bash
# bench/run.sh - the numbers behind the lessons (what `make bench` runs).
#
# Usage: bench/run.sh [--reps N] [--quick] [SECTION...]
#   SECTION: alloc malloc traces shm file faults fork (default: all of them)
#   --reps N   repetitions of every measurement (default 5; the median is
#              reported with the spread, min..max)
#   --quick    smaller sizes, for a smoke test (not for the README)
#   BENCH_PRELOAD='NAME=PATH ...' (environment): more allocators for the
#              malloc section, each a shared library preloaded as the peers
#              are (e.g. an older build of lesson 05's, to compare)
#
# Every comparison is a ratio against a reference measured in the same run,
# with the contenders alternating inside each repetition, in reverse order
# on every other one; each ratio is the median of the ratios within each
# repetition (bench/lib.bash: paired_ratio).  Results go to stdout as tables and to
# $BIN_DIR/bench-results.jsonl (or $BENCH_RESULTS), one JSON object per row.
# BIN_DIR defaults to build/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BIN_DIR:-$root/build}
[[ $bin = /* ]] || bin=$root/$bin
reps=5
quick=0
sections=()

usage() {
  sed -n '3,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
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
  alloc | malloc | traces | shm | file | faults | fork) sections+=("$1") ;;
  *)
    echo "bench/run.sh: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
  esac
  shift
done
((${#sections[@]})) || sections=(alloc malloc traces shm file faults fork)

# BENCH_PRELOAD, checked before anything runs.
extra_names=()
declare -A extra_preload=()
for word in ${BENCH_PRELOAD:-}; do
  name=${word%%=*}
  if [[ $word != *=* || ! $name =~ ^[a-z][a-z0-9_-]{0,11}$ || ! -f ${word#*=} ||
    -n ${extra_preload[$name]+set} || $name =~ ^(glibc|zone|mimalloc|jemalloc|tcmalloc)$ ]]; then
    echo "bench/run.sh: BENCH_PRELOAD: '$word' is not NAME=PATH with a new name and a file" >&2
    exit 2
  fi
  extra_names+=("$name")
  extra_preload[$name]=${word#*=}
done

# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

results=${BENCH_RESULTS:-$bin/bench-results.jsonl}
: >"$results"

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
alloc_once() { # VARIANT=allocator/workers REP
  local out
  out=$("$bin/alloc_bench" --allocator "${1%/*}" --workers "${1#*/}" --ops "$alloc_ops" \
    --seed $(($2 + 1)))
  add_sample "$1 rate" "$(fact ops_per_sec <<<"$out")"
  add_sample "$1 rss" "$(fact rss_growth_kib <<<"$out")"
  add_sample "$1 overhead" "$(fact mapped_per_requested_pct <<<"$out")"
}

bench_alloc() {
  need alloc_bench
  local allocators=(glibc zone shared) variants=() a w r lo hi kib overhead vs_glibc
  alloc_ops=10000000
  ((quick)) && alloc_ops=1000000
  for w in 1 2; do
    for a in "${allocators[@]}"; do variants+=("$a/$w"); done
  done
  title "allocation throughput: $alloc_ops ops per worker, 16..527-byte blocks, 4096 slots per worker"
  alternate "$reps" alloc_once "${variants[@]}"
  printf '%-8s %7s %12s %22s %9s %15s %14s\n' allocator workers "M ops/s" "spread" "vs glibc" \
    "RSS growth KiB" "mapped/req %"
  for v in "${variants[@]}"; do
    a=${v%/*} w=${v#*/}
    read -r r lo hi < <(summary "$v rate")
    vs_glibc=$(paired_ratio "$v rate" "glibc/$w rate")
    kib=- overhead=-
    has_samples "$v rss" && read -r kib _ _ < <(summary "$v rss")
    has_samples "$v overhead" && read -r overhead _ _ < <(summary "$v overhead")
    emit_row '%-8s %7s %12s %22s %8sx %15s %14s' "$a" "$w" "$(millions "$r")" \
      "$(millions "$lo")..$(millions "$hi")" "$vs_glibc" "$kib" "$overhead" -- \
      bench=alloc allocator="$a" workers="$w" ops_per_worker="$alloc_ops" median_ops_per_sec="$r" \
      min_ops_per_sec="$lo" max_ops_per_sec="$hi" vs_glibc="$vs_glibc" \
      rss_growth_kib="${kib/-/null}" mapped_per_requested_pct="${overhead/-/null}"
  done
}

# ---------------------------------------------------------------- malloc
# Every allocation workload (bench/alloc_patterns.c's six patterns, the
# project's workload with 1 and 2 threads, the generated traces) as a
# process calling malloc, run on each allocator in turn by LD_PRELOAD:
# glibc's own (nothing preloaded), lesson 05's zone allocator, and the
# peers where their Debian packages are installed.  Time (the workload's
# own elapsed_ns) and peak RSS (getrusage's, the whole process) as ratios
# to glibc's, then their geometric means.

# The installed peers: "name=path" for each one found.
malloc_peers() {
  local name soname path
  for name in mimalloc:libmimalloc.so.2 jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
    soname=${name#*:}
    path=$(/sbin/ldconfig -p 2>/dev/null | awk -v so="$soname" '$1 == so && !found { print $NF; found = 1 }' || true)
    if [[ -n $path && -f $path ]]; then
      echo "${name%%:*}=$path"
    else
      echo "${name%%:*}=" # missing
    fi
  done
}

# The command of a workload, by name.
malloc_command() { # WORKLOAD
  local scale=1 kind=${1#trace-} workers=${1#workload-}
  ((quick)) && scale=10
  case $1 in
  workload-*)
    echo "$bin/alloc_bench --allocator glibc --workers ${workers%t} --ops $((10000000 / scale))"
    ;;
  trace-*)
    echo "$bin/alloc_trace replay --allocator glibc --repeat $((trace_repeat[$kind] / scale + 1))" \
      "$trace_dir/$kind.trace"
    ;;
  *) echo "$bin/alloc_patterns ${quick_ops[$1]:+--ops ${quick_ops[$1]}} $1" ;;
  esac
}

malloc_once() { # VARIANT=workload/allocator REP
  local workload=${1%/*} allocator=${1#*/} out
  # shellcheck disable=SC2046 # the command is words by design
  if ! out=$(env LD_PRELOAD="${preload[$allocator]}" $(malloc_command "$workload") 2>&1); then
    add_sample "$1 failed" 1
    printf 'bench/run.sh: %s on %s failed: %s\n' "$workload" "$allocator" "$(tail -1 <<<"$out")" >&2
    return
  fi
  add_sample "$1 ns" "$(fact elapsed_ns <<<"$out")"
  add_sample "$1 rss" "$(fact peak_rss_kib <<<"$out")"
}

# geomean RATIO...: the geometric mean of the ratios, two decimals.
geomean() {
  printf '%s\n' "$@" | awk '$1 > 0 { s += log($1); n++ } END { printf "%.2f", n ? exp(s / n) : 0 }'
}

bench_malloc() {
  need alloc_patterns alloc_bench alloc_trace
  [[ -f $bin/libzone_malloc.so ]] || {
    echo "bench/run.sh: $bin/libzone_malloc.so is not built (run make)" >&2
    exit 1
  }
  local workloads=(large prodcons randsizes server churn tiny workload-1t workload-2t
    trace-small trace-realloc trace-mixed)
  local allocators=(glibc zone) variants=() missing=() w a line name path g_ns g_rss ns rss
  local time_ratio rss_ratio
  declare -gA preload=([glibc]="" [zone]="$bin/libzone_malloc.so")
  declare -gA quick_ops=() # alloc_patterns' defaults, unless --quick
  ((quick)) && quick_ops=([large]=8 [prodcons]=100000 [randsizes]=30000 [server]=40000
    [churn]=4 [tiny]=300000)
  declare -gA trace_repeat=([small]=20 [realloc]=1 [mixed]=20)
  while read -r line; do
    name=${line%%=*} path=${line#*=}
    if [[ -n $path ]]; then
      allocators+=("$name")
      preload[$name]=$path
    else
      missing+=("$name")
    fi
  done < <(malloc_peers)
  for name in "${extra_names[@]}"; do
    allocators+=("$name")
    preload[$name]=${extra_preload[$name]}
  done
  trace_dir=$bin/bench-traces
  mkdir -p "$trace_dir"
  for name in small realloc mixed; do
    "$bin/alloc_trace" gen --kind "$name" --ops 500000 --seed 1 >"$trace_dir/$name.trace"
  done
  for w in "${workloads[@]}"; do
    for a in "${allocators[@]}"; do variants+=("$w/$a"); done
  done
  title "malloc: ${#workloads[@]} workloads under LD_PRELOAD, time and peak RSS as ratios to glibc"
  for a in "${allocators[@]}"; do
    path=${preload[$a]:-(nothing preloaded: the C library malloc)}
    printf '  %-9s %s\n' "$a" "${path#"$root"/}"
  done
  ((${#missing[@]} == 0)) ||
    echo "  not installed, skipped: ${missing[*]} (Debian: libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4)"
  alternate "$reps" malloc_once "${variants[@]}"
  declare -A times=() rsses=()
  printf '%-14s %10s %11s' "" glibc glibc
  for a in "${allocators[@]:1}"; do printf ' %13s' "$a"; done
  printf '\n%-14s %10s %11s' workload ms "RSS KiB"
  for a in "${allocators[@]:1}"; do printf ' %13s' "time   RSS"; done
  printf '\n'
  for w in "${workloads[@]}"; do
    read -r g_ns _ _ < <(summary "$w/glibc ns")
    read -r g_rss _ _ < <(summary "$w/glibc rss")
    line=$(printf '%-14s %10s %11s' "$w" "$(ms "$g_ns")" "$g_rss")
    record bench=malloc workload="$w" allocator=glibc median_ns="$g_ns" peak_rss_kib="$g_rss" \
      time_vs_glibc=1.00 rss_vs_glibc=1.00
    for a in "${allocators[@]:1}"; do
      if has_samples "$w/$a failed" || ! has_samples "$w/$a ns"; then
        line+=$(printf ' %13s' failed)
        record bench=malloc workload="$w" allocator="$a" failed=1
        continue
      fi
      read -r ns _ _ < <(summary "$w/$a ns")
      read -r rss _ _ < <(summary "$w/$a rss")
      time_ratio=$(paired_ratio "$w/$a ns" "$w/glibc ns")
      rss_ratio=$(paired_ratio "$w/$a rss" "$w/glibc rss")
      times[$a]+="$time_ratio " rsses[$a]+="$rss_ratio "
      line+=$(printf ' %7s %5s' "$time_ratio" "$rss_ratio")
      record bench=malloc workload="$w" allocator="$a" median_ns="$ns" peak_rss_kib="$rss" \
        time_vs_glibc="$time_ratio" rss_vs_glibc="$rss_ratio"
    done
    echo "$line"
  done
  line=$(printf '%-14s %10s %11s' "geometric mean" "" "")
  for a in "${allocators[@]:1}"; do
    # shellcheck disable=SC2086 # one ratio per word
    line+=$(printf ' %7s %5s' "$(geomean ${times[$a]:-})" "$(geomean ${rsses[$a]:-})")
    # shellcheck disable=SC2086
    record bench=malloc workload=geomean allocator="$a" time_vs_glibc="$(geomean ${times[$a]:-})" \
      rss_vs_glibc="$(geomean ${rsses[$a]:-})"
  done
  echo "$line"
  rm -rf "$trace_dir"
}

# ---------------------------------------------------------------- traces
# Replays of generated traces shaped like programs, glibc against zone:
# throughput, and utilisation (peak live bytes over peak mapped bytes).
trace_once() { # VARIANT=kind/allocator REP
  local out
  out=$("$bin/alloc_trace" replay --allocator "${1#*/}" "$trace_dir/${1%/*}.trace")
  add_sample "$1 rate" "$(fact ops_per_sec <<<"$out")"
}

bench_traces() {
  need alloc_trace
  local kinds=(small realloc mixed) variants=() calls=500000 k a v out r lo hi vs_glibc
  ((quick)) && calls=50000
  trace_dir=$bin/bench-traces
  mkdir -p "$trace_dir"
  title "allocation traces: $calls calls each, generated with fixed seeds (bench/alloc_trace.c)"
  for k in "${kinds[@]}"; do
    "$bin/alloc_trace" gen --kind "$k" --ops "$calls" --seed 1 >"$trace_dir/$k.trace"
    variants+=("$k/glibc" "$k/zone")
  done
  alternate "$reps" trace_once "${variants[@]}"
  printf '%-8s %-9s %9s %18s %9s %12s %12s %12s\n' trace allocator "M ops/s" spread "vs glibc" \
    "peak live" "peak mapped" "utilisation"
  for v in "${variants[@]}"; do
    k=${v%/*} a=${v#*/}
    out=$("$bin/alloc_trace" replay --allocator "$a" --measure space "$trace_dir/$k.trace")
    read -r r lo hi < <(summary "$v rate")
    vs_glibc=$(paired_ratio "$v rate" "$k/glibc rate")
    emit_row '%-8s %-9s %9s %18s %8sx %12s %12s %11s%%' "$k" "$a" "$(millions "$r")" \
      "$(millions "$lo")..$(millions "$hi")" "$vs_glibc" \
      "$(fact peak_live_bytes <<<"$out")" "$(fact peak_mapped_bytes <<<"$out")" \
      "$(fact utilisation_pct <<<"$out")" -- \
      bench=traces trace="$k" allocator="$a" calls="$calls" median_ops_per_sec="$r" \
      min_ops_per_sec="$lo" max_ops_per_sec="$hi" vs_glibc="$vs_glibc" \
      peak_live_bytes="$(fact peak_live_bytes <<<"$out")" \
      peak_mapped_bytes="$(fact peak_mapped_bytes <<<"$out")" \
      utilisation_pct="$(fact utilisation_pct <<<"$out")"
  done
  rm -rf "$trace_dir"
}

# ---------------------------------------------------------------- shm
# Lesson 07's shared allocator against Boost.Interprocess's
# managed_shared_memory (bench/boost_bench.cpp): worker processes on one
# region, small blocks (16..527 bytes) and mixed sizes (16 bytes to 64 KiB),
# 1 and 2 processes; glibc's private malloc (alloc_bench, threads) as the
# reference that shares nothing.  Boost is skipped, with a note, where
# boost_bench was not built (no C++ compiler or no libboost-dev).
shm_once() { # VARIANT=allocator/sizes/workers REP
  local a=${1%%/*} rest=${1#*/} out ops
  local sizes=${rest%/*} w=${rest#*/}
  ops=$shm_small_ops
  [[ $sizes == mixed ]] && ops=$shm_mixed_ops
  [[ $a == boost ]] && ops=$((ops / shm_boost_divisor))
  case $a in
  boost) out=$("$bin/boost_bench" --sizes "$sizes" --workers "$w" --ops "$ops" --seed $(($2 + 1))) ;;
  shalloc) out=$("$bin/alloc_bench" --allocator shared --sizes "$sizes" --workers "$w" --ops "$ops" \
    --seed $(($2 + 1))) ;;
  glibc) out=$("$bin/alloc_bench" --allocator glibc --sizes "$sizes" --workers "$w" --ops "$ops" \
    --seed $(($2 + 1))) ;;
  apart) out=$("$bin/alloc_bench" --allocator shared_apart --sizes "$sizes" --workers "$w" \
    --ops "$ops" --seed $(($2 + 1))) ;;
  esac
  add_sample "$1 rate" "$(fact ops_per_sec <<<"$out")"
}

# times RATIO: "1.23x", or "-" for none.
times() {
  if [[ $1 == - ]]; then echo -; else echo "${1}x"; fi
}

# shm_goal WHAT VALUE GOAL [NOTE]: one line, "met" or "NOT met", then NOTE.
shm_goal() {
  local verdict=met
  awk -v v="$2" -v g="$3" 'BEGIN { exit !(v >= g) }' || verdict="NOT met"
  printf '  %-44s %6sx (goal %sx): %s%s\n' "$1" "$2" "$3" "$verdict" "${4:+; $4}"
}

bench_shm() {
  need alloc_bench
  local allocators=(shalloc glibc) variants=() a s w v r lo hi vs_boost vs_glibc scaling boost=0
  # Runs of a fifth of a second or more: shorter ones time the forks and the
  # region's first faults more than the allocator (2 million small ops took
  # 40 ms, and two processes then looked no faster than one).  Boost, ten
  # times slower, does a fifth of the ops in as long.
  shm_small_ops=10000000 shm_mixed_ops=2500000 shm_boost_divisor=5
  ((quick)) && shm_small_ops=200000 shm_mixed_ops=50000
  title "shared-memory allocators: processes on one region, against Boost.Interprocess ($shm_small_ops small or $shm_mixed_ops mixed ops per worker, Boost a fifth of them)"
  if [[ -x $bin/boost_bench ]]; then
    allocators=(shalloc boost glibc) boost=1
  else
    echo "note: $bin/boost_bench is not built (it needs a C++ compiler and the Boost headers:"
    echo "      apt-get install g++ libboost-dev, then make); the Boost rows are skipped"
  fi
  # apart: shalloc's code in two processes on a region each, sharing
  # nothing, so its "2 vs 1" is the most this machine lets two processes
  # gain over one; shalloc's own is read against it.
  for s in small mixed; do
    for w in 1 2; do
      for a in "${allocators[@]}"; do variants+=("$a/$s/$w"); done
    done
    variants+=("apart/$s/2")
  done
  alternate "$reps" shm_once "${variants[@]}"
  echo "apart: shalloc in two processes on a region each, sharing nothing (the ceiling of its 2 vs 1)"
  printf '%-6s %-8s %7s %10s %20s %9s %9s %9s\n' sizes allocator workers "M ops/s" spread \
    "vs Boost" "vs glibc" "2 vs 1"
  for v in "${variants[@]}"; do
    a=${v%%/*} s=${v#*/} s=${s%/*} w=${v##*/}
    read -r r lo hi < <(summary "$v rate")
    vs_boost=- scaling=-
    ((boost)) && vs_boost=$(paired_ratio "$v rate" "boost/$s/$w rate")
    vs_glibc=$(paired_ratio "$v rate" "glibc/$s/$w rate")
    ((w == 2)) && scaling=$(paired_ratio "$v rate" "${a/#apart/shalloc}/$s/1 rate") # apart/1 is shalloc/1
    emit_row '%-6s %-8s %7s %10s %20s %9s %9s %9s' "$s" "$a" "$w" "$(millions "$r")" \
      "$(millions "$lo")..$(millions "$hi")" "$(times "$vs_boost")" "$(times "$vs_glibc")" \
      "$(times "$scaling")" -- \
      bench=shm sizes="$s" allocator="$a" workers="$w" median_ops_per_sec="$r" min_ops_per_sec="$lo" \
      max_ops_per_sec="$hi" vs_boost="${vs_boost/-/null}" vs_glibc="$vs_glibc" \
      vs_one_worker="${scaling/-/null}"
  done
  ((boost)) || return 0
  echo "goals (ratios in this run):"
  shm_goal "small blocks, 1 process, shalloc vs Boost" \
    "$(paired_ratio "shalloc/small/1 rate" "boost/small/1 rate")" 8
  shm_goal "small blocks, shalloc, 2 processes vs 1" \
    "$(paired_ratio "shalloc/small/2 rate" "shalloc/small/1 rate")" 1.8 \
    "two on a region each, sharing nothing: $(paired_ratio "apart/small/2 rate" "shalloc/small/1 rate")x"
  for w in 1 2; do
    shm_goal "mixed sizes, $w process(es), shalloc vs Boost" \
      "$(paired_ratio "shalloc/mixed/$w rate" "boost/mixed/$w rate")" 3
  done
}

# ---------------------------------------------------------------- faults
# Lesson 01's modes on 1 GiB: faults, time, time per fault.
faults_once() { # VARIANT=mode REP
  local out
  out=$("$bin/01_mmap_large_array" --size "$faults_size" --mode "$1")
  [[ $(fact skipped mode="$1" <<<"$out") == 1 ]] && return
  add_sample "$1 faults" \
    "$(($(fact mmap_minor_faults mode="$1" <<<"$out") + $(fact minor_faults mode="$1" <<<"$out")))"
  add_sample "$1 ns" "$(($(fact mmap_ns mode="$1" <<<"$out") + $(fact touch_ns mode="$1" <<<"$out")))"
}

bench_faults() {
  need 01_mmap_large_array
  local modes=(touch populate hugepage malloc) mode f t lo hi per vs_touch
  faults_size=1G
  ((quick)) && faults_size=64M
  title "page faults: lesson 01's modes on $faults_size (faults counted by getrusage)"
  alternate "$reps" faults_once "${modes[@]}"
  printf '%-9s %10s %10s %18s %9s %9s\n' mode faults "median ms" "spread ms" "ns/fault" "vs touch"
  for mode in "${modes[@]}"; do
    if ! has_samples "$mode ns"; then
      emit_row '%-9s %10s' "$mode" skipped -- bench=faults size="$faults_size" mode="$mode" skipped=1
      continue
    fi
    read -r f _ _ < <(summary "$mode faults")
    read -r t lo hi < <(summary "$mode ns")
    per=$((f ? t / f : 0))
    vs_touch=$(paired_ratio "$mode ns" "touch ns")
    emit_row '%-9s %10s %10s %18s %9s %8sx' "$mode" "$f" "$(ms "$t")" "$(ms "$lo")..$(ms "$hi")" \
      "$per" "$vs_touch" -- \
      bench=faults size="$faults_size" mode="$mode" faults="$f" median_ns="$t" min_ns="$lo" \
      max_ns="$hi" ns_per_fault="$per" vs_touch="$vs_touch"
  done
}

# ---------------------------------------------------------------- fork
# Lesson 04: fork time against the parent's touched memory.
fork_once() { # VARIANT=size REP
  local out
  out=$("$bin/04_fork_cow" --mode cost --size "$1")
  add_sample "$1 ns" "$(fact fork_ns heap=large <<<"$out")"
  add_sample "$1 pte" "$(fact vm_pte_kib heap=large <<<"$out")"
}

bench_fork() {
  need 04_fork_cow
  local sizes=(16M 256M 1G) size t lo hi pte vs_smallest
  ((quick)) && sizes=(16M 64M)
  title "fork cost: lesson 04, fork() time against the parent's touched memory"
  alternate "$reps" fork_once "${sizes[@]}"
  printf '%-8s %14s %10s %18s %9s\n' touched "page tables" "fork ms" "spread ms" "vs ${sizes[0]}"
  for size in "${sizes[@]}"; do
    read -r t lo hi < <(summary "$size ns")
    read -r pte _ _ < <(summary "$size pte")
    vs_smallest=$(paired_ratio "$size ns" "${sizes[0]} ns")
    emit_row '%-8s %11s kB %10s %18s %8sx' "$size" "$pte" "$(ms "$t" 3)" \
      "$(ms "$lo" 3)..$(ms "$hi" 3)" "$vs_smallest" -- \
      bench=fork touched="$size" vm_pte_kib="$pte" median_ns="$t" min_ns="$lo" max_ns="$hi" \
      vs_smallest="$vs_smallest"
  done
}

# ---------------------------------------------------------------- file
# Lesson 02's count, read() and mmap, against GNU wc -l on a cached file
# (bench/count_vs_wc.sh alternates and takes the medians itself).
bench_file() {
  need 02_mmap_file
  local size=1G out name pct
  ((quick)) && size=64M
  title "reading a file: lesson 02's count against wc -l ($size in the page cache)"
  out=$(BIN_DIR=$bin "$root/bench/count_vs_wc.sh" --size "$size" --repeat "$reps")
  grep -v '^[a-z_]*=' <<<"$out" | tail -n +2
  for name in wc read mmap; do
    pct=100
    [[ $name == wc ]] || pct=$(fact "${name}_vs_wc_pct" <<<"$out")
    record bench=file size="$size" method="$name" median_ns="$(fact "${name}_ns" <<<"$out")" \
      min_ns="$(fact "${name}_min_ns" <<<"$out")" max_ns="$(fact "${name}_max_ns" <<<"$out")" \
      vs_wc="$(ratio "$pct" 100)" \
      mmap_minor_faults="$(fact mmap_minor_faults <<<"$out")"
  done
}

echo "asymmetric_c benchmarks"
machine
for section in "${sections[@]}"; do
  case $section in
  alloc) bench_alloc ;;
  malloc) bench_malloc ;;
  traces) bench_traces ;;
  shm) bench_shm ;;
  faults) bench_faults ;;
  fork) bench_fork ;;
  file) bench_file ;;
  esac
done
echo
echo "results: $results"
