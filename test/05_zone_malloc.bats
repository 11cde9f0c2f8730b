#!/usr/bin/env bats
# Lesson 05: a malloc on mmap'd zones that real programs run on.

load helper

P=05_zone_malloc
T=zone_malloc_test

# The driver's misuse tests end in abort(): SIGABRT is status 134.
ABORTED=134

setup_file() {
  export ZM_DATA=$BATS_FILE_TMPDIR
  # 100,000 lines in a fixed scrambled order (no random source needed)
  seq 100000 | awk '{ printf "%07d %s\n", ($1 * 7919) % 100003, $1 }' >"$ZM_DATA/lines.txt"
}

# preload_check NAME COMMAND...: COMMAND prints the same bytes and exits the
# same way with and without the zone allocator preloaded, and with
# ZONE_MALLOC_STATS the allocator says it served the calls.
preload_check() {
  local name=$1 so
  shift
  SKIP_REASON="preloading a sanitizer build is meaningless (SANITIZER=$SANITIZER)" \
    skip_under_sanitizer asan ubsan tsan
  command -v "$name" >/dev/null || skip "$name is not installed"
  so=$BIN_DIR/libzone_malloc.so
  [[ -f $so ]] || fail "$so is not built"
  run_cmd "$@"
  local want_status=$status want_output=$output
  run_cmd env LD_PRELOAD="$so" "$@"
  ((status == want_status)) || fail "$name exits $want_status with the zone allocator too"
  [[ $output == "$want_output" ]] || fail "$name prints the same bytes with the zone allocator"
  run_cmd env LD_PRELOAD="$so" ZONE_MALLOC_STATS=1 "$@"
  ((status == want_status)) || fail "$name exits $want_status under ZONE_MALLOC_STATS"
  [[ $output == "$want_output" ]] || fail "$name prints the same bytes under ZONE_MALLOC_STATS"
  local mallocs
  mallocs=$(printf '%s\n' "$stderr" | sed -n 's/^zone_malloc: mallocs=\([0-9]*\) .*/\1/p' | sort -n | tail -1)
  if [[ -z $mallocs ]] || ((mallocs == 0)); then
    fail "$name's allocations were served by the zone allocator"
  fi
}

python_bin() {
  if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

# Killed by SIGABRT from abort(), not by anything else.
assert_aborted() {
  ((status == ABORTED)) || fail "the allocator aborts (exit status $ABORTED)"
}

# One line on stderr naming the call and the pointer, then SIGABRT.
assert_diagnosis() {
  assert_aborted
  local count
  count=$(printf '%s' "$stderr" | grep -c '')
  ((count == 1)) || fail "exactly one line on stderr (got $count)"
  [[ $stderr =~ ^zone_malloc:\ [a-z_]+\(0x[0-9a-f]+\):\ .*$1 ]] || fail "stderr names the pointer and says '$1'"
}

# --- the lesson program ---------------------------------------------------

@test "the first TINY allocation maps one zone, aligned to its size, in /proc/self/maps" {
  run_prog $P --part zones
  assert_success
  assert_fact zones_before -eq 0
  assert_fact zones_after -eq 1
  assert_fact zone_aligned -eq 1
  assert_fact zone_in_maps -eq 1
}

@test "each request lands in its kind of zone: 42 TINY, 5000 SMALL, 200000 LARGE" {
  run_prog $P --part zones
  assert_success
  assert_fact kind == TINY request_bytes=42
  assert_fact kind == SMALL request_bytes=5000
  assert_fact kind == LARGE request_bytes=200000
  assert_fact zone_blocks -ge 100 kind=TINY
  assert_fact zone_blocks -ge 100 kind=SMALL
}

@test "a freed block is the next one handed out" {
  run_prog $P --part reuse
  assert_success
  assert_fact same_block -eq 1
}

@test "two free SMALL neighbours merge into one block" {
  run_prog $P --part coalesce
  assert_success
  assert_fact b_follows_a -eq 1
  assert_fact merged_is_first -eq 1
  assert_fact check_problems -eq 0
}

@test "realloc stays in place when the space is there, moves otherwise, keeps the bytes" {
  run_prog $P --part realloc
  assert_success
  assert_fact in_place -eq 1 realloc=tiny
  assert_fact in_place -eq 1 realloc=small from_bytes=3000 to_bytes=6000
  assert_fact in_place -eq 0 realloc=small from_bytes=3000 to_bytes=9000
  assert_fact in_place -eq 1 realloc=small from_bytes=9000 to_bytes=2000
  for kept in $(printf '%s\n' "$output" | grep -o 'contents_kept=[0-9]*'); do
    [[ $kept == contents_kept=1 ]] || fail "every realloc keeps the contents"
  done
}

@test "a LARGE block is a mapping of its own, gone from /proc/self/maps after free" {
  run_prog $P --part large
  assert_success
  assert_fact in_maps -eq 1
  assert_fact in_maps_after_free -eq 0
  assert_fact mapping_bytes -ge 1048576
  before=$(fact zones_before)
  assert_fact zones_during -eq $((before + 1))
  assert_fact zones_after -eq "$before"
}

@test "freeing thousands of TINY blocks unmaps their zones but for one spare" {
  run_prog $P --part release
  assert_success
  before=$(fact zones_before)
  used=$(fact zones_while_used)
  ((used >= before + 3)) || fail "4096 blocks of 64 bytes fill several zones"
  assert_fact zones_after_free -eq $((before + 1))
  assert_fact zones_unmapped -eq $((used - before - 1))
}

@test "the demo forks while threads allocate: every child allocates; without handlers one deadlocks" {
  run_prog $P --part fork
  assert_success
  forks=$(fact forks)
  assert_fact children_ok -eq "$forks" fork_handlers=1
  assert_fact child == deadlocked fork_handlers=0
}

@test "the default run shows every part and a consistent heap" {
  run_prog $P
  assert_success
  for part in zones reuse coalesce realloc large release speed fork "what it cost"; do
    assert_output_contains "== $part"
  done
  assert_fact zone_ops_per_sec -gt 0
  assert_fact glibc_ops_per_sec -gt 0
  assert_fact check_problems -eq 0
}

@test "show_alloc_mem prints zones in address order, each block, and the total" {
  run_prog $T show
  assert_success
  printf '%s\n' "$output" | grep -qE '^TINY : 0x[0-9a-f]+$' || fail "a TINY zone line"
  printf '%s\n' "$output" | grep -qE '^SMALL : 0x[0-9a-f]+$' || fail "a SMALL zone line"
  printf '%s\n' "$output" | grep -qE '^LARGE : 0x[0-9a-f]+$' || fail "a LARGE zone line"
  printf '%s\n' "$output" | grep -qE '^0x[0-9a-f]+ - 0x[0-9a-f]+ : 42 bytes$' || fail "the 42-byte block"
  assert_output_contains "Total : 205042 bytes"
  # zone addresses ascend, and each block line spans exactly its size
  local last=0 line
  while read -r line; do
    if [[ $line =~ ^(TINY|SMALL|LARGE)\ :\ 0x([0-9a-f]+)$ ]]; then
      ((16#${BASH_REMATCH[2]} > last)) || fail "zones are listed in address order"
      last=$((16#${BASH_REMATCH[2]}))
    elif [[ $line =~ ^0x([0-9a-f]+)\ -\ 0x([0-9a-f]+)\ :\ ([0-9]+)\ bytes$ ]]; then
      ((16#${BASH_REMATCH[2]} - 16#${BASH_REMATCH[1]} == BASH_REMATCH[3])) ||
        fail "the block line '$line' spans its size"
    fi
  done <<<"$output"
}

@test "show_alloc_mem_ex adds a hex dump of each block and the free blocks" {
  run_prog $T show-ex
  assert_success
  assert_output_contains "7a 6f 6e 65 20 6d 61 6c 6c 6f 63" # "zone malloc"
  printf '%s\n' "$output" | grep -qE '^0x[0-9a-f]+ - 0x[0-9a-f]+ : free, 3008 bytes$' ||
    fail "the freed 3000-byte block is listed as free"
  assert_output_contains "Total : 205042 bytes"
}

@test "the demo rejects a bad part and stray arguments" {
  run_prog $P --part sideways
  assert_usage_error "zones|reuse|coalesce|realloc|large|release|speed|fork|all"
  run_prog $P extra
  assert_usage_error "extra"
}

# --- the allocator, through the test driver --------------------------------

@test "every call of the API does its basic job" {
  run_prog $T api
  assert_success
  assert_fact api == ok
}

@test "calloc zeroes blocks that were used before" {
  run_prog $T calloc-reuse
  assert_success
}

@test "failures are the C library's: NULL with ENOMEM, EINVAL for bad alignments, errno kept" {
  run_prog $T errors
  assert_success
  assert_fact errors == ok
}

@test "every pointer is 16-byte aligned and the aligned calls honour powers of two to 64 MiB" {
  run_prog $T alignment
  assert_success
  assert_fact pointers_checked -gt 4000
}

@test "realloc keeps the contents across TINY, SMALL and LARGE, in place where it can" {
  run_prog $T realloc
  assert_success
  assert_fact tiny_same_class_in_place -eq 1
  assert_fact small_grow_in_place -eq 1
  assert_fact small_shrink_in_place -eq 1
  assert_fact small_blocked_moves -eq 1
  assert_fact large_shrink_in_place -eq 1
  assert_fact realloc_chain == ok
}

@test "TINY and SMALL zones hold at least 100 blocks of their largest size" {
  run_prog $T zones
  assert_success
  assert_fact tiny_zone_min_blocks -ge 100
  assert_fact small_zone_blocks_of_largest -ge 100
}

@test "a LARGE block has its own mapping and free unmaps it" {
  run_prog $T zones
  assert_success
  assert_fact large_own_mapping -eq 1
  assert_fact large_unmapped_on_free -eq 1
}

@test "empty zones go back to the kernel, but for one spare per class" {
  run_prog $T zones
  assert_success
  used=$(fact zones_while_used)
  ((used >= 3)) || fail "the blocks needed several zones (zones_while_used=$used)"
  assert_fact zones_after_free -eq 1
  assert_fact zones_unmapped -eq $((used - 1))
}

@test "a long random trace keeps every block intact and passes the heap check" {
  run_prog $T --ops 300000 --seed 42 trace
  assert_success
  assert_fact ops -eq 300000
  assert_fact check_problems -eq 0
}

@test "the same trace in 4 threads, with frees from other threads, passes the heap check" {
  run_prog $T --ops 300000 --threads 4 --seed 43 trace-threads
  assert_success
  assert_fact threads -eq 4
  assert_fact check_problems -eq 0
}

@test "exiting threads give their cached blocks back and free their arenas" {
  run_prog $T --threads 4 thread-exit
  assert_success
  assert_fact threads_started -eq 200
  assert_fact arenas -le 5
  arenas=$(fact arenas)
  assert_fact zones_after -le $((21 + arenas)) # spares, and one SMALL zone an arena keeps
  assert_fact check_problems -eq 0
}

@test "fork while other threads allocate: every child allocates and finds a sound heap" {
  run_prog $T --threads 3 --forks 100 fork
  assert_success
  assert_fact fork_handlers -eq 1
  assert_fact ok -eq 100
  assert_fact deadlocked -eq 0
  assert_fact crashed -eq 0
}

@test "fork while another thread holds every lock: the handlers keep the child safe" {
  run_prog $T fork-holder
  assert_success
  assert_fact child == ok fork_handlers=1
}

@test "zm_set_fork_handlers(0) turns them off: the child deadlocks and the watchdog says so" {
  run_prog $T --handlers-off fork-holder
  assert_success
  assert_fact child == deadlocked fork_handlers=0
}

@test "ZONE_MALLOC_NO_ATFORK=1 turns the handlers off from the environment" {
  run_cmd env ZONE_MALLOC_NO_ATFORK=1 "$(prog $T)" fork-holder
  assert_success
  assert_fact child == deadlocked fork_handlers=0
}

# --- debug options ----------------------------------------------------------

@test "ZONE_MALLOC_STATS=1 prints one line of counters at exit" {
  run_cmd env ZONE_MALLOC_STATS=1 "$(prog $T)" debug-calls
  assert_success
  [[ $stderr =~ ^zone_malloc:\ mallocs=3\ frees=3\ reallocs=1\ peak_bytes=[0-9]+\ mapped_bytes=[0-9]+\ zones=[0-9]+$ ]] ||
    fail "stderr is exactly the statistics line"
}

@test "ZONE_MALLOC_LOG=stderr logs one line per call with operation, size, pointer and thread" {
  run_cmd env ZONE_MALLOC_LOG=stderr "$(prog $T)" debug-calls
  assert_success
  count=$(printf '%s\n' "$stderr" | grep -cE '^zone_malloc: op=[a-z]+ (old=0x[0-9a-f]+ )?size=[0-9]+ ptr=0x[0-9a-f]+ tid=[0-9]+$')
  ((count == 7)) || fail "7 log lines for 3 allocations, 1 realloc and 3 frees (got $count)"
  assert_stderr_contains "op=malloc size=24 "
  assert_stderr_contains "op=calloc size=16 "
  assert_stderr_contains "op=realloc old=0x"
  assert_stderr_contains "op=free size=5000 "
}

@test "ZONE_MALLOC_LOG=PATH appends the log to that file" {
  log=$BATS_TEST_TMPDIR/zm.log
  echo "earlier line" >"$log"
  run_cmd env ZONE_MALLOC_LOG="$log" "$(prog $T)" debug-calls
  assert_success
  [[ -z $stderr ]] || fail "nothing on stderr"
  [[ $(head -1 "$log") == "earlier line" ]] || fail "the file is appended to"
  (($(grep -c '^zone_malloc: op=' "$log") == 7)) || fail "the file has the 7 log lines"
}

@test "ZONE_MALLOC_SCRIBBLE=1 fills fresh blocks with 0xAA and freed ones with 0x55" {
  run_cmd env ZONE_MALLOC_SCRIBBLE=1 "$(prog $T)" debug-calls
  assert_success
  assert_fact fresh_bytes_0xaa -eq 1
  assert_fact freed_bytes_0x55 -eq 1
  run_prog $T debug-calls
  assert_fact fresh_bytes_0xaa -eq 0
}

@test "a double free of a TINY or SMALL block is diagnosed in one line, then abort" {
  run_prog $T double-free-tiny
  assert_diagnosis "double free"
  run_prog $T double-free-small
  assert_diagnosis "double free"
}

@test "ZONE_MALLOC_CHECK=1 catches double frees of every kind, LARGE included" {
  for kind in tiny small; do
    run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-$kind
    assert_diagnosis "double free"
  done
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-large
  assert_diagnosis "freed LARGE"
}

@test "freeing a pointer the allocator never returned is diagnosed, then abort" {
  for test in free-foreign free-interior; do
    run_prog $T $test
    assert_diagnosis "not a pointer malloc returned"
    run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" $test
    assert_diagnosis "not a pointer malloc returned"
  done
}

@test "an overrun into the next block's header is caught at its free" {
  run_prog $T overrun
  assert_diagnosis "corrupted block header"
}

@test "ZONE_MALLOC_CHECK=1 catches the overrun at the very next call" {
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" overrun
  assert_aborted
  [[ $stderr =~ ^zone_malloc:\ heap\ check\ failed\ before\ malloc:\ S1:\ .*\ at\ 0x[0-9a-f]+$ ]] ||
    fail "one line: the rule broken and the block's address"
}

@test "with the internal checks compiled in, a zone header overwritten is caught when a block goes back to it" {
  [[ $ASSERTS == 1 ]] || skip "zm_assert is compiled in only with -DASYM_ASSERT=1 (make DEBUG=1, sanitizer builds)"
  run_prog $T zone-corrupt
  assert_aborted
  [[ $stderr =~ ^zone_malloc:\ internal\ check\ failed:\ .*magic.*\ \(.*tiny\.c:[0-9]+\)$ ]] ||
    fail "one line naming the check, its file and its line"
}

@test "the test driver rejects an unknown test and a missing one" {
  run_prog $T no-such-test
  assert_usage_error "no-such-test"
  run_prog $T
  assert_usage_error "--list"
}

# --- bench ------------------------------------------------------------------

@test "alloc_bench measures both allocators and the zone allocator's space" {
  for allocator in glibc zone; do
    run_prog alloc_bench --allocator $allocator --workers 2 --ops 200000
    assert_success
    assert_fact ops_per_sec -gt 0 allocator=$allocator
    assert_fact ops -eq 400000 allocator=$allocator
  done
  assert_fact mapped_per_requested_pct -ge 100
}

@test "alloc_bench rejects bad counts and unknown allocators" {
  run_prog alloc_bench --workers 0
  assert_usage_error "--workers"
  run_prog alloc_bench --ops 0
  assert_usage_error "--ops"
  run_prog alloc_bench --allocator tcmalloc
  assert_usage_error "glibc|zone"
}

# --- real programs under LD_PRELOAD -------------------------------------------

@test "ls -la of a large directory runs the same on the zone allocator" {
  preload_check ls ls -la /usr/bin
}

@test "sort of 100,000 lines runs the same on the zone allocator" {
  preload_check sort sort "$ZM_DATA/lines.txt"
}

@test "python3 with dicts, lists, strings and JSON runs the same on the zone allocator" {
  py=$(python_bin) || skip "python3 is not installed"
  preload_check "$py" "$py" -c '
import json, hashlib
d = {}
for i in range(200000):
    d["key%d" % i] = [i, str(i) * (i % 7), {"n": i}]
s = json.dumps(d, sort_keys=True)
back = json.loads(s)
words = " ".join(str(x) for x in range(100000)).split()
print(len(s), len(back), len(words), hashlib.sha256(s.encode()).hexdigest())
'
}

@test "perl with hashes and strings runs the same on the zone allocator" {
  # shellcheck disable=SC2016 # the $ are for the script's own language
  preload_check perl perl -e '
my %h; $h{"k$_"} = "v" x ($_ % 50) for 1 .. 200000;
my $n = 0; $n += length $h{$_} for sort keys %h;
my @a = map { join ",", $_, $_ * 2 } 1 .. 100000;
print scalar(keys %h), " $n ", scalar(@a), "\n";'
}

@test "awk counting fields of 100,000 lines runs the same on the zone allocator" {
  # shellcheck disable=SC2016 # the $ are for the script's own language
  preload_check awk awk '{ seen[$1]++; total += length($2) } END { print length(seen), total }' "$ZM_DATA/lines.txt"
}

@test "a bash script with arrays, strings and subshells runs the same on the zone allocator" {
  # shellcheck disable=SC2016 # the $ are for the script's own language
  preload_check bash bash -c '
declare -A map; list=()
for ((i = 0; i < 20000; i++)); do map[k$i]=$((i * i)); list+=("item$i"); done
s=""; for ((i = 0; i < 2000; i++)); do s+="${list[i]}:"; done
echo "${#map[@]} ${#list[@]} ${#s} $(echo "${list[@]:100:3}" | tr a-z A-Z)"'
}

@test "gcc compiles and links a small program the same on the zone allocator" {
  cat >"$BATS_TEST_TMPDIR/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void) { int *v = malloc(100 * sizeof *v); long s = 0;
  for (int i = 0; i < 100; i++) s += v[i] = i * i;
  printf("sum %ld\n", s); free(v); return 0; }
C
  cd "$BATS_TEST_TMPDIR"
  preload_check gcc sh -c 'gcc -O2 -o hello hello.c && ./hello && od -An -tx1 hello | cksum'
}

@test "tar creates and extracts an archive the same on the zone allocator" {
  mkdir -p "$BATS_TEST_TMPDIR/tree/sub"
  seq 50000 >"$BATS_TEST_TMPDIR/tree/numbers"
  cp "$ZM_DATA/lines.txt" "$BATS_TEST_TMPDIR/tree/sub/lines"
  cd "$BATS_TEST_TMPDIR"
  preload_check tar sh -c 'tar -cf a.tar --sort=name --mtime=@0 tree && cksum a.tar &&
    rm -rf out && mkdir out && tar -xf a.tar -C out && diff -r tree out/tree && echo same'
}
