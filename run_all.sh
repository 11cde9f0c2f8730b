#!/usr/bin/env bash
# run_all.sh - run every lesson's default demo in order, then a summary.
#
# Usage: ./run_all.sh [NN...]     e.g. ./run_all.sh 01 03
#
# Works from any directory.  Exits non-zero if any lesson failed, and with
# a clear message if a program is not built (run `make` first).
#
# The summary gives each lesson one line of what it showed, built from the
# facts it printed (key=value lines, read with common/fact.awk).  A lesson's
# line is the function summary_NN below; a lesson without one gets "ok".
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

# --- What each lesson showed, from the facts in its output ---------------
#
# summary_NN prints lesson NN's line.  Inside it, `f KEY [KEY2=VALUE2...]`
# is the value of fact KEY in the lesson's output (from the last fact line
# that has it and the filters); a fact that is missing reads as ?KEY?, and
# the line then says which facts it lacked.  To add lesson NN's line, define
# summary_NN here.

capture="" # the output of the lesson being summarised

f() {
  local value
  value=$(awk -v key="$1" -v filters="${*:2}" -f "$root/common/fact.awk" "$capture")
  printf '%s' "${value:-?$1?}"
}

# thousands N: 65536 -> 65,536
thousands() {
  local n=$1 out=""
  [[ $n =~ ^[0-9]+$ ]] || {
    printf '%s' "$n"
    return
  }
  while ((${#n} > 3)); do
    out=",${n: -3}$out"
    n=${n:0:${#n}-3}
  done
  printf '%s%s' "$n" "$out"
}

# times PCT: 78 -> 0.78x
times() {
  [[ $1 =~ ^[0-9]+$ ]] || {
    printf '%s' "$1"
    return
  }
  printf '%d.%02dx' $(($1 / 100)) $(($1 % 100))
}

# ms NS: 4507114 -> 4.51 ms
ms() {
  [[ $1 =~ ^[0-9]+$ ]] || {
    printf '%s' "$1"
    return
  }
  printf '%d.%02d ms' $(($1 / 1000000)) $(($1 / 10000 % 100))
}

# ratio_of A B: A/B as 1.57x, or ?...? when either is missing
ratio_of() {
  if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]]; then
    times $(($1 * 100 / $2))
  else
    printf '%s' "$([[ $1 =~ ^[0-9]+$ ]] && printf '%s' "$2" || printf '%s' "$1")"
  fi
}

# mib BYTES: 268435456 -> 256 MiB
mib() {
  [[ $1 =~ ^[0-9]+$ ]] || {
    printf '%s' "$1"
    return
  }
  printf '%d MiB' $(($1 >> 20))
}

# signed N: 0 -> +0, 5 -> +5, -3 -> -3
signed() {
  [[ $1 == -* ]] && printf '%s' "$1" || printf '+%s' "$1"
}

# diff A B: A - B, or ?...? when either is missing
diff_of() {
  if [[ $1 =~ ^-?[0-9]+$ && $2 =~ ^-?[0-9]+$ ]]; then
    printf '%d' $(($1 - $2))
  else
    printf '%s' "$([[ $1 =~ ^-?[0-9]+$ ]] && printf '%s' "$2" || printf '%s' "$1")"
  fi
}

summary_01() {
  local pages faults huge
  pages=$(f pages)
  faults=$(f minor_faults mode=touch)
  huge=$(f minor_faults mode=hugepage)
  [[ $(f skipped mode=hugepage) == 1 ]] && huge="skipped"
  printf '%s mapped: %s KiB until touched; %s faults, %s per page; huge pages: %s faults' \
    "$(mib "$(f size_bytes)")" \
    "$(signed "$(diff_of "$(f rss_after_mmap_kib mode=touch)" "$(f rss_before_kib mode=touch)")")" \
    "$(thousands "$faults")" \
    "$([[ $faults =~ ^[0-9]+$ && $pages =~ ^[1-9][0-9]*$ ]] && echo $((faults / pages)) || echo "?")" \
    "$(thousands "$huge")"
}

summary_02() {
  printf '%s file: scan %s KiB RSS (%s dirty); mmap %s read()'"'"'s time, peak %s vs %s KiB; %s' \
    "$(mib "$(f size_bytes)")" \
    "$(signed "$(thousands "$(diff_of "$(f rss_after_kib step=residency)" "$(f rss_before_kib step=residency)")")")" \
    "$(f mapping_dirty_kib step=residency)" \
    "$(times "$(f mmap_vs_read_pct)")" \
    "+$(thousands "$(f peak_growth_kib method=mmap)")" \
    "+$(thousands "$(f peak_growth_kib method=read)")" \
    "$([[ $(f sigbus_caught step=sigbus) == 1 ]] && echo "SIGBUS past the end caught ($(f si_code step=sigbus))" || echo "no SIGBUS caught")"
}

summary_03() {
  local expected lost
  expected=$(f expected method=racy)
  lost=$(f lost method=racy)
  printf 'racy lost %s of %s%s; atomic %s, mutex %s; mutex %s atomic'"'"'s time, private %s' \
    "$(thousands "$lost")" "$(thousands "$expected")" \
    "$([[ $lost =~ ^[0-9]+$ && $expected =~ ^[1-9][0-9]*$ ]] && echo " ($((lost * 100 / expected))%)")" \
    "$([[ $(f lost method=atomic) == 0 ]] && echo exact || echo "lost $(f lost method=atomic)")" \
    "$([[ $(f lost method=mutex) == 0 ]] && echo exact || echo "lost $(f lost method=mutex)")" \
    "$(times "$(f time_vs_atomic_pct method=mutex)")" \
    "$(times "$(f time_vs_atomic_pct method=private)")"
}

summary_04() {
  local frames
  frames="$(f frames_drawn stage=before_child_write) frame -> $(f frames_drawn stage=after_child_write)"
  if [[ $(f frames_visible) == 1 ]]; then
    frames+=" ($(f pfn_parent) -> $(f pfn_child_after_write))"
  else
    frames+=" (exclusive bits)"
  fi
  printf "child's write: %s fault, %s; fork: %s at %s touched, %s at %s" \
    "$(f write_minor_faults step=child_after_write)" "$frames" \
    "$(ms "$(f fork_ns heap=small)")" "$(mib "$(f touched_bytes heap=small)")" \
    "$(ms "$(f fork_ns heap=large)")" "$(mib "$(f touched_bytes heap=large)")"
}

summary_05() {
  printf 'freed block back at once: %s; LARGE reused with %s faults (fresh: %s); %s empty zones pooled, %s decayed; %s locks for %s cached pairs; %s glibc'"'"'s speed; fork %s/%s ok, unprepared: %s' \
    "$([[ $(f same_block) == 1 ]] && echo yes || echo no)" "$(f reuse_faults)" \
    "$(f fresh_faults)" "$(f zones_pooled)" "$(f zones_decayed)" "$(f cached_locks)" \
    "$(thousands "$(f cached_pairs)")" "$(ratio_of "$(f zone_ops_per_sec)" "$(f glibc_ops_per_sec)")" \
    "$(f children_ok)" "$(f forks)" "$(f child fork_handlers=0)"
}

summary_06() {
  printf 'glibc %s/%s children ok; own lock %s/%s deadlock; atfork %s/%s ok; fork in a signal handler %s/%s deadlock; %s modes not as predicted' \
    "$(f ok mode=glibc)" "$(f trials mode=glibc)" "$(f deadlock mode=userlock)" \
    "$(f trials mode=userlock)" "$(f ok mode=atfork)" "$(f trials mode=atfork)" \
    "$(f deadlock mode=signal)" "$(f trials mode=signal)" "$(f modes_not_as_predicted)"
}

summary_07() {
  printf 'parent and child share blocks: %s; racy bump: %s of %s blocks twice when preempted, %s left alone; fetch-add %s; %s SIGKILLs: check %s, %s spans lost; another process'"'"'s pointer: %s, its offset: %s' \
    "$([[ $(f child_saw_parent command=demo)$(f parent_saw_child command=demo) == 11 ]] && echo yes || echo no)" \
    "$(thousands "$(f preempted_overlaps command=race)")" "$(thousands "$(f allocs_total command=race)")" \
    "$(thousands "$(f racy_overlaps command=race)")" "$(f atomic_overlaps command=race)" \
    "$(f kills command=crash)" "$(f check command=crash)" "$(f lost_spans command=crash)" \
    "$([[ $(f raw_pointer_valid_here command=share) == 0 ]] && echo garbage || echo valid)" \
    "$([[ $(f offsets_agree command=share) == 1 ]] && echo ok || echo wrong)"
}

# what_it_showed NN: the lesson's summary line, or "ok" when it has none.
what_it_showed() {
  local line missing
  declare -F "summary_$1" >/dev/null || {
    echo ok
    return
  }
  line=$("summary_$1")
  missing=$(grep -oE '\?[a-z][a-z0-9_]*\?' <<<"$line" | tr -d '?' | sort -u | tr '\n' ' ')
  if [[ -n $missing ]]; then
    echo "ok (no summary: the output lacks ${missing% })"
  else
    printf '%s\n' "$line"
  fi
}

# --- Running the lessons --------------------------------------------------

# run_lesson LESSON CAPTURE: run its default demo under the time limit, its
# output going to the terminal as it comes and into CAPTURE.  stdbuf keeps
# the program's stdout line-buffered although it is a pipe (tee's); ASan
# must then be told not to insist on being the first library loaded.
run_lesson() {
  local -a line_buffered=()
  command -v stdbuf >/dev/null && line_buffered=(stdbuf -oL)
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    timeout -k 5 "$per_lesson_limit" "${line_buffered[@]}" "$bin/$1" | tee "$2"
  return "${PIPESTATUS[0]}"
}

results=()
failed=0
capture_dir=$(mktemp -d)
trap 'rm -rf "$capture_dir"' EXIT
for lesson in "${selected[@]}"; do
  printf '\n%s########## %s ##########%s\n' "$bold" "$lesson" "$reset"
  capture=$capture_dir/${lesson%%_*}.out
  start=$EPOCHREALTIME
  run_lesson "$lesson" "$capture"
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
  shown=$state
  ((code == 0)) && shown=$(what_it_showed "${lesson%%_*}")
  results+=("$(printf '%-28s %8d ms  %s' "$lesson" "$elapsed_ms" "$shown")")
done

printf '\n%s########## summary ##########%s\n' "$bold" "$reset"
printf '%-28s %11s  %s\n' lesson "wall time" "what it showed"
printf '%s\n' "${results[@]}"
if ((failed > 0)); then
  echo "$failed of ${#selected[@]} lessons failed"
  exit 1
fi
echo "all ${#selected[@]} lessons ok"
