#!/usr/bin/env bash
# bench/count_vs_wc.sh - count the lines of one cached file three ways, side
# by side: GNU `wc -l`, `02_mmap_file count --method read` and
# `02_mmap_file count --method mmap`.
#
# Usage: bench/count_vs_wc.sh [--size SIZE] [--repeat N] [--write-size SIZE]
#
# Makes a file of SIZE bytes of text lines under $TMPDIR (written with
# write() calls of --write-size bytes), reads it once so it is in the page
# cache, checks that the three agree on the count, then runs them N times
# each, alternating (the order rotates every round), and prints the median
# wall time of each and the ratios (the median of each round's ratio), as
# prose and as key=value facts.  The file is removed on every exit path
# (errors, Ctrl-C, SIGTERM included).
#
# The write size matters on kernels that cache files in large folios: a
# file written 1 MiB at a time is held in big folios, which mmap maps many
# pages per fault; one written 4 KiB at a time is held page by page.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BIN_DIR:-$root/build}
[[ $bin == /* ]] || bin=$root/$bin
prog=$bin/02_mmap_file
me=count_vs_wc.sh
# shellcheck source=bench/lib.bash
. "$root/bench/lib.bash"

usage() {
  cat <<EOF
Usage: bench/$me [--size SIZE] [--repeat N] [--write-size SIZE]

Time wc -l, 02_mmap_file count --method read and --method mmap on one file
in the page cache, alternately, and print the medians and ratios.

  --size SIZE        the file's size; K, M, G suffixes (default 1G)
  --repeat N         rounds; each runs all three once (default 7, 1 to 1000)
  --write-size SIZE  bytes per write() when making the file (default 1M)
  -h, --help         show this help

Environment: BIN_DIR (default build/) holds 02_mmap_file; the file is made
in \$TMPDIR (default /tmp) and removed on exit.
EOF
}

usage_error() {
  echo "$me: $1 (see --help)" >&2
  exit 2
}

die() {
  echo "$me: $1" >&2
  exit 1
}

# to_bytes OPTION TEXT: decimal digits with an optional K, M or G suffix.
to_bytes() {
  local option=$1 text=$2 digits shift=0
  [[ $text =~ ^([0-9]{1,15})([KkMmGg]?)$ ]] ||
    usage_error "$option: invalid size '$text' (digits and an optional K, M or G)"
  digits=$((10#${BASH_REMATCH[1]}))
  case ${BASH_REMATCH[2]} in
  [Kk]) shift=10 ;;
  [Mm]) shift=20 ;;
  [Gg]) shift=30 ;;
  esac
  ((digits > 0)) || usage_error "$option: must be greater than zero"
  ((digits < 1 << (50 - shift))) || usage_error "$option: '$text' is too large"
  echo $((digits << shift))
}

size=$((1 << 30))
repeat=7
write_size=$((1 << 20))
while (($#)); do
  case $1 in
  -h | --help)
    usage
    exit 0
    ;;
  --size | --repeat | --write-size)
    (($# >= 2)) || usage_error "option '$1' needs a value"
    case $1 in
    --size) size=$(to_bytes --size "$2") ;;
    --write-size) write_size=$(to_bytes --write-size "$2") ;;
    --repeat)
      if ! [[ $2 =~ ^[0-9]{1,4}$ ]] || ((10#$2 < 1 || 10#$2 > 1000)); then
        usage_error "--repeat: invalid value '$2' (expected 1 to 1000)"
      fi
      repeat=$((10#$2))
      ;;
    esac
    shift 2
    ;;
  *) usage_error "unknown argument '$1'" ;;
  esac
done

[[ -x $prog ]] || die "$prog is not built; run 'make' first"
[[ $(wc --version 2>/dev/null) == *GNU* ]] || die "this compares against GNU wc, which is not on the PATH"

# The file must fit on the disk and, to be timed from the page cache, in RAM.
dir=${TMPDIR:-/tmp}
free_kib=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
((size / 1024 < free_kib / 2)) || die "--size $size: $dir has only $free_kib KiB free"
((size / 1024 < avail_kib / 2)) || die "--size $size: only $avail_kib KiB of memory available"

file=""
cleanup() {
  [[ -z $file ]] || rm -f -- "$file"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
file=$(mktemp "$dir/count_vs_wc.XXXXXX")

# Text lines of a typical log.  `yes` dies of SIGPIPE when head has enough,
# so the size of the result is the check, not the pipeline's status.
line="2024-05-01 12:00:00 INFO request served in 12 ms path=/api/v1/items id=42"
(
  set +o pipefail
  yes "$line" | head -c "$size" | dd of="$file" bs="$write_size" iflag=fullblock status=none
)
(($(stat -c %s "$file") == size)) || die "could not write $size bytes to $file"
cat -- "$file" >/dev/null # into the page cache, if anything was evicted
cached_pct=-1
if command -v fincore >/dev/null; then
  resident=$(fincore --bytes --noheadings --output RES -- "$file" | tr -d ' ')
  [[ $resident =~ ^[0-9]+$ ]] && cached_pct=$((resident * 100 / size))
fi

# One unmeasured run of each: the three must agree before we time them.
wc_lines=$(wc -l <"$file")
read_facts=$("$prog" count "$file" --method read)
mmap_facts=$("$prog" count "$file" --method mmap)
for facts in "$read_facts" "$mmap_facts"; do
  [[ $(fact lines <<<"$facts") == "$wc_lines" ]] ||
    die "the counts disagree: wc -l says $wc_lines; 02_mmap_file says: $facts"
done
mmap_faults=$(fact minor_faults <<<"$mmap_facts")

names=(wc read mmap)
run_one() {
  case $1 in
  wc) wc -l -- "$file" ;;
  read) "$prog" count "$file" --method read ;;
  mmap) "$prog" count "$file" --method mmap ;;
  esac
}
for ((round = 0; round < repeat; round++)); do
  for ((k = 0; k < 3; k++)); do
    name=${names[(round + k) % 3]}
    add_sample "$name" "$(elapsed_ns run_one "$name")"
  done
done

read -r wc_ns wc_min_ns wc_max_ns < <(summary wc)
read -r read_ns read_min_ns read_max_ns < <(summary read)
read -r mmap_ns mmap_min_ns mmap_max_ns < <(summary mmap)
# pct NAME REF: NAME's time as a percentage of REF's, the median of the
# rounds' ratios (each round ran the two close together).
pct() { awk -v r="$(paired_ratio "$1" "$2")" 'BEGIN { printf "%d", r * 100 + 0.5 }'; }
row() { # row LABEL NAME: its median, spread and ratio to wc -l
  local median min max
  read -r median min max < <(summary "$2")
  printf '%-36s %10s %18s %9s\n' "$1" "$(ms "$median")" "$(ms "$min")..$(ms "$max")" \
    "$(paired_ratio "$2" wc)"
}

echo "== wc -l vs 02_mmap_file count: $size bytes, $wc_lines lines, in the page cache =="
printf 'file written %d bytes per write(); %s%% of it cached; %d rounds, order rotating\n' \
  "$write_size" "$cached_pct" "$repeat"
printf '%-36s %10s %18s %9s\n' command "median ms" "spread ms" "vs wc -l"
row "wc -l" wc
row "02_mmap_file count --method read" read
row "02_mmap_file count --method mmap" mmap
printf 'mmap took %d minor faults for %d pages\n' "$mmap_faults" $((size / $(getconf PAGESIZE)))
echo "size_bytes=$size write_bytes=$write_size repeat=$repeat lines=$wc_lines cached_pct=$cached_pct mmap_minor_faults=$mmap_faults"
echo "wc_ns=$wc_ns read_ns=$read_ns mmap_ns=$mmap_ns"
echo "wc_min_ns=$wc_min_ns wc_max_ns=$wc_max_ns read_min_ns=$read_min_ns read_max_ns=$read_max_ns mmap_min_ns=$mmap_min_ns mmap_max_ns=$mmap_max_ns"
echo "read_vs_wc_pct=$(pct read wc) mmap_vs_wc_pct=$(pct mmap wc) mmap_vs_read_pct=$(pct mmap read) mmap_at_least_as_fast_as_wc=$(($(pct mmap wc) <= 100))"
