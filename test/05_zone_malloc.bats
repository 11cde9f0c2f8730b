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

@test "a freed block is the next one handed out, TINY and SMALL alike" {
  run_prog $P --part reuse
  assert_success
  assert_fact same_block -eq 1
  assert_fact small_same_block -eq 1
}

@test "a thread's first block of each of the 36 cached classes costs a few pages each" {
  SKIP_REASON="a sanitizer's shadow memory grows the resident set too (SANITIZER=$SANITIZER)" \
    skip_under_sanitizer asan ubsan tsan
  run_prog $P --part zones
  assert_success
  assert_fact classes -eq 36
  assert_fact first_blocks_rss_kib -gt 0
  assert_fact first_blocks_rss_kib -le $((36 * 8)) # at most two pages per class
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
  assert_fact in_place -eq 1 realloc=small from_bytes=20000 to_bytes=40000
  assert_fact in_place -eq 0 realloc=small from_bytes=20000 to_bytes=60000
  assert_fact in_place -eq 1 realloc=small from_bytes=60000 to_bytes=20000
  for kept in $(printf '%s\n' "$output" | grep -o 'contents_kept=[0-9]*'); do
    [[ $kept == contents_kept=1 ]] || fail "every realloc keeps the contents"
  done
}

@test "a LARGE block above the large cache's limit is a mapping of its own, gone from /proc/self/maps after free" {
  run_prog $P --part large
  assert_success
  assert_fact in_maps -eq 1
  assert_fact in_maps_after_free -eq 0
  size=$(fact size_bytes)
  assert_fact cache_block_limit_bytes -lt "$size"
  assert_fact mapping_bytes -ge "$size"
  before=$(fact zones_before)
  assert_fact zones_during -eq $((before + 1))
  assert_fact zones_after -eq "$before"
}

@test "the demo's LARGE block under the limit is kept, and the next one reuses its mapping without a fault" {
  run_prog $P --part large
  assert_success
  assert_fact kept_after_free -eq 1
  assert_fact large_cached -eq 1
  assert_fact same_mapping -eq 1
  assert_fact fresh_faults -ge 200 # 1 MiB is 256 pages, each faulted in once
  assert_fact reuse_faults -le 2
  assert_fact cache_limit_bytes -eq $((64 << 20))
  assert_fact cache_slots -eq 8
  assert_fact trim_released -eq 1
  assert_fact large_cached_after_trim -eq 0
}

@test "freed TINY zones wait in the pool, still mapped, until decay gives them back" {
  run_prog $P --part release
  assert_success
  before=$(fact zones_before)
  used=$(fact zones_while_used)
  ((used >= before + 3)) || fail "4096 blocks of 64 bytes fill several zones"
  assert_fact zones_after_free -eq "$used"
  assert_fact zones_unmapped -eq 0 blocks=4096
  assert_fact zones_pooled -eq $((used - before))
  assert_fact decay_ms -eq 1000
  assert_fact zones_decayed -eq $((used - before - 1)) # all but the zone taken again
  assert_fact zones_pooled_after_decay -eq 0
}

@test "SMALL blocks of a cached size take no lock; larger ones take one per call" {
  run_prog $P --part cache
  assert_success
  assert_fact cached_locks -eq 0
  pairs=$(fact uncached_pairs)
  assert_fact uncached_locks -eq $((2 * pairs))
}

@test "blocks freed by another thread go home on its remote lists, without a lock" {
  run_prog $P --part remote
  assert_success
  blocks=$(fact blocks)
  assert_fact freeing_locks -eq 0
  sent=$(fact sent_home)
  flushed=$(fact sent_home_by_flush)
  ((sent + flushed == blocks)) || fail "every block went home ($sent + $flushed of $blocks)"
  assert_fact zones_mapped_again -eq 0
  assert_fact check_problems -eq 0
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
  for part in zones reuse coalesce realloc large release cache remote speed fork "what it cost"; do
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
  printf '%s\n' "$output" | grep -qE '^0x[0-9a-f]+ - 0x[0-9a-f]+ : cached, 3072 bytes$' ||
    fail "the freed 3000-byte block is listed as cached (in the thread cache, its class 3072 bytes)"
  printf '%s\n' "$output" | grep -qE '^0x[0-9a-f]+ - 0x[0-9a-f]+ : free, [0-9]+ bytes$' ||
    fail "the rest of the SMALL zone is listed as free"
  assert_output_contains "Total : 205042 bytes"
}

@test "the demo rejects a bad part and stray arguments" {
  run_prog $P --part sideways
  assert_usage_error "zones|reuse|coalesce|realloc|large|release|cache|remote|speed|fork|all"
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

@test "a LARGE block above the cache's limit has its own mapping and free unmaps it" {
  run_prog $T zones
  assert_success
  assert_fact large_own_mapping -eq 1
  assert_fact large_unmapped_on_free -eq 1
}

@test "empty zones wait in the pool, and zm_trim gives them all back" {
  run_prog $T zones
  assert_success
  used=$(fact zones_while_used)
  ((used >= 3)) || fail "the blocks needed several zones (zones_while_used=$used)"
  assert_fact zones_after_free -eq "$used"
  assert_fact zones_pooled -eq "$used"
  assert_fact zones_after_trim -eq 0
  assert_fact zones_unmapped -eq "$used"
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
  assert_fact zones_after -le "$arenas" # after zm_trim: the SMALL zone each arena keeps
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

# --- caches, remote frees, the pool, the large cache ---------------------------

@test "SMALL blocks up to 16 KiB come back from the thread cache without a lock" {
  run_prog $T small-cache
  assert_success
  assert_fact small_same_block -eq 1
  assert_fact arena_locks -eq 0
  assert_fact worst_rounding_bytes -lt 4096 # four classes per power of two, 16 KiB at most
  assert_fact check_problems -eq 0
}

@test "remote frees under thread churn: every block goes home, and nothing leaks" {
  run_prog $T --seed 11 remote-churn
  assert_success
  blocks=$(fact blocks)
  assert_fact remote_frees -eq "$blocks"
  arenas=$(fact arenas)
  assert_fact zones_after -le "$arenas" # after trim: the SMALL zone each arena keeps
  assert_fact check_problems -eq 0
}

@test "freed LARGE mappings are reused as they are, grown or split, and calloc zeroes them" {
  run_prog $T large-cache
  assert_success
  assert_fact cached_after_free -eq 1
  assert_fact reused -eq 1
  assert_fact calloc_reused_zeroed -eq 1
  assert_fact grown_reused -eq 1
  assert_fact split_mapping_bytes -lt $((2 << 20))
  # the rest of the 8 MiB mapping stays cached, its pages with it
  assert_fact split_rest_cached -eq 1
  assert_fact split_rest_bytes -gt $((6 << 20))
  assert_fact split_check_problems -eq 0
}

@test "the large cache keeps at most 8 mappings and 64 MiB, none above its limit, and trim empties it" {
  run_prog $T large-cache
  assert_success
  assert_fact huge_unmapped -eq 1
  assert_fact cached_of_many -le 8
  assert_fact cached_bytes_of_many -le $((64 << 20))
  assert_fact cached_after_trim -eq 0
  assert_fact check_problems -eq 0
}

@test "emptied zones wait in the pool, decay after the decay time, and go at once with none" {
  run_prog $T zone-decay
  assert_success
  pooled=$(fact zones_pooled)
  ((pooled >= 3)) || fail "several zones were emptied (zones_pooled=$pooled)"
  assert_fact unmapped_by_free -eq 0
  assert_fact decayed -eq $((pooled - 1)) # all but the zone taken again
  assert_fact pooled_after_decay -eq 0
  assert_fact pooled_without_decay_time -eq 0
  assert_fact unmapped_without_decay_time -ge 3
}

@test "the pool holds at most its bound (64 MiB) and zm_trim empties it" {
  run_prog $T zone-decay
  assert_success
  limit=$(fact pool_limit_bytes)
  assert_fact pooled_bytes_after_80_mib -le "$limit"
  assert_fact pooled_bytes_after_80_mib -gt $((limit / 2))
  assert_fact trim_released -eq 1
  assert_fact pooled_after_trim -eq 0
  assert_fact check_problems -eq 0
}

@test "ZONE_MALLOC_DECAY_MS sets the decay time; a value that is not a number is warned about" {
  run_cmd env ZONE_MALLOC_DECAY_MS=250 "$(prog $T)" zone-decay
  assert_success
  assert_fact decay_ms -eq 250
  run_cmd env ZONE_MALLOC_DECAY_MS=soon "$(prog $T)" zone-decay
  assert_success
  assert_fact decay_ms -eq 1000
  [[ $stderr == "zone_malloc: ZONE_MALLOC_DECAY_MS=soon: not a number of milliseconds"* ]] ||
    fail "one warning naming the variable and its value"
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

@test "ZONE_MALLOC_LOG naming a FIFO nobody reads does not hang: it says why it does not log" {
  fifo=$BATS_TEST_TMPDIR/fifo
  mkfifo "$fifo"
  TEST_TIMEOUT=10 run_cmd env ZONE_MALLOC_LOG="$fifo" "$(prog $T)" debug-calls
  assert_success
  [[ $stderr == "zone_malloc: ZONE_MALLOC_LOG=$fifo: cannot open it (ENXIO, errno 6): not logging" ]] ||
    fail "one line: the path, the reason (ENXIO: no reader) and that it does not log"
}

@test "ZONE_MALLOC_LOG takes only a regular file, a terminal or stderr" {
  fifo=$BATS_TEST_TMPDIR/fifo
  mkfifo "$fifo"
  exec {keep}<>"$fifo" # a reader (and a writer), so that opening it succeeds
  run_cmd env ZONE_MALLOC_LOG="$fifo" "$(prog $T)" debug-calls
  exec {keep}>&-
  assert_success
  [[ $stderr == "zone_malloc: ZONE_MALLOC_LOG=$fifo: not a regular file or a terminal: not logging" ]] ||
    fail "a FIFO is refused, with the reason"
  run_cmd env ZONE_MALLOC_LOG=/dev/null "$(prog $T)" debug-calls
  assert_success
  assert_stderr_contains "not a regular file or a terminal"
  run_cmd env ZONE_MALLOC_LOG="$BATS_TEST_TMPDIR" "$(prog $T)" debug-calls
  assert_success
  assert_stderr_contains "cannot open it (EISDIR"
}

@test "ZONE_MALLOC_LOG=no, off, false, 0, -1 or nothing means no log (and no file by that name)" {
  mkdir "$BATS_TEST_TMPDIR/cwd" && cd "$BATS_TEST_TMPDIR/cwd"
  for value in no off false 0 -1 NO Off ""; do
    run_cmd env ZONE_MALLOC_LOG="$value" "$(prog $T)" debug-calls
    assert_success
    [[ -z $stderr ]] || fail "nothing on stderr for ZONE_MALLOC_LOG='$value'"
  done
  [[ -z $(ls) ]] || fail "no file was created (found: $(ls))"
}

@test "switches take 1, yes, true, on in any case, and 0, no, false, off: nothing else turns one on" {
  for value in 1 yes true on YES True ON; do
    run_cmd env ZONE_MALLOC_STATS="$value" "$(prog $T)" debug-calls
    assert_success
    [[ $stderr == "zone_malloc: mallocs=3 "* ]] || fail "ZONE_MALLOC_STATS=$value turns the statistics on"
  done
  for value in 0 no false off NO Off ""; do
    run_cmd env ZONE_MALLOC_STATS="$value" ZONE_MALLOC_SCRIBBLE="$value" ZONE_MALLOC_CHECK="$value" \
      ZONE_MALLOC_NO_ATFORK="$value" "$(prog $T)" debug-calls
    assert_success
    [[ -z $stderr ]] || fail "'$value' leaves every switch off (stderr is empty)"
    assert_fact fresh_bytes_0xaa -eq 0
  done
  run_cmd env ZONE_MALLOC_NO_ATFORK=off "$(prog $T)" fork-holder
  assert_fact child == ok fork_handlers=1
}

@test "a switch set to anything else is left off, with one warning naming it" {
  run_cmd env ZONE_MALLOC_STATS=maybe "$(prog $T)" debug-calls
  assert_success
  [[ $stderr == "zone_malloc: ZONE_MALLOC_STATS=maybe: not understood (1, yes, true, on; 0, no, false, off): left off" ]] ||
    fail "exactly one warning line, and no statistics"
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

@test "a double free of a LARGE block whose mapping the large cache kept is diagnosed without CHECK" {
  run_prog $T double-free-cached-large
  assert_diagnosis "double free"
}

@test "a double free of a LARGE block above the cache's limit is caught by ZONE_MALLOC_CHECK=1" {
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-huge
  assert_diagnosis "freed LARGE"
}

@test "ZONE_MALLOC_CHECK=1 catches double frees of every kind, LARGE included" {
  for kind in tiny small; do
    run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-$kind
    assert_diagnosis "double free"
  done
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-large
  assert_diagnosis "freed LARGE"
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" double-free-cached-large
  assert_diagnosis "double free"
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

@test "an overrun of 1 to 8 bytes past a TINY block's usable size is caught at the next block's free" {
  for bytes in 1 4 8; do
    run_prog $T --bytes $bytes overrun-tiny
    assert_diagnosis "corrupted block header"
  done
}

@test "ZONE_MALLOC_CHECK=1 catches a TINY overrun at the very next call (T4)" {
  run_cmd env ZONE_MALLOC_CHECK=1 "$(prog $T)" --bytes 1 overrun-tiny
  assert_aborted
  [[ $stderr =~ ^zone_malloc:\ heap\ check\ failed\ before\ malloc:\ T4:\ .*\ at\ 0x[0-9a-f]+$ ]] ||
    fail "one line: the rule broken and the block's address"
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

@test "out of address space (ulimit -v), the demo's failure names the errno" {
  SKIP_REASON="the sanitizers reserve terabytes of shadow memory: ulimit -v stops them first" \
    skip_under_sanitizer asan ubsan tsan
  # shellcheck disable=SC2016 # $0 is the inner shell's: the program
  run_cmd bash -c 'ulimit -v 70000 && exec "$0" --part fork' "$(prog $P)"
  assert_status 1
  [[ $stderr =~ ^05_zone_malloc:\ [^$'\n']*\((ENOMEM|EAGAIN)\)$ ]] ||
    fail "one line, the program's name first and the errno's name last"
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

@test "a maps line wider than its mapping is said so, with the mapping's own extent" {
  for part in zones large; do
    run_prog $P --part $part
    assert_success
    merged=$(fact merged_bytes)
    [[ -n $merged ]] || fail "--part $part prints merged_bytes="
    if ((merged > 0)); then
      assert_output_contains "the kernel merged it with the mappings beside it"
      assert_output_contains "$((merged >> 10)) KiB wider"
    else
      assert_output_contains "(exactly its"
    fi
  done
}

@test "exercise 1: STATS and LOG in front of real programs, through an absolute path" {
  SKIP_REASON="preloading a sanitizer build is meaningless (SANITIZER=$SANITIZER)" \
    skip_under_sanitizer asan ubsan tsan
  local so=$BIN_DIR/libzone_malloc.so
  cd "$BATS_TEST_TMPDIR"
  for cmd in "ls -la /usr/bin" "$(python_bin) -c pass" "gcc --version"; do
    command -v "${cmd%% *}" >/dev/null || continue
    # shellcheck disable=SC2086 # the command's words
    run_cmd env ZONE_MALLOC_STATS=1 LD_PRELOAD="$so" $cmd
    assert_success
    [[ $stderr =~ zone_malloc:\ mallocs=[0-9]+\ .*peak_bytes=[0-9]+\ mapped_bytes=[0-9]+ ]] ||
      fail "'$cmd' ends with the statistics line"
  done
  run_cmd env ZONE_MALLOC_LOG=stderr LD_PRELOAD="$so" /bin/echo hi
  assert_success
  [[ $output == hi ]] || fail "/bin/echo still prints hi"
  [[ $stderr == *"zone_malloc: op="* ]] || fail "the log has one line per call"
}

@test "exercise 2: alloc_bench prints peak_zones for the zone allocator" {
  run_prog alloc_bench --allocator zone --ops 100000
  assert_success
  assert_fact peak_zones -gt 0
  assert_fact mapped_per_requested_pct -gt 0
}

@test "exercise 7: the churn pattern with the pool, without it, and with glibc" {
  SKIP_REASON="preloading a sanitizer build is meaningless (SANITIZER=$SANITIZER)" \
    skip_under_sanitizer asan ubsan tsan
  local so=$BIN_DIR/libzone_malloc.so
  run_cmd env LD_PRELOAD="$so" "$(prog alloc_patterns)" churn
  assert_success
  sum=$(fact checksum)
  run_cmd env LD_PRELOAD="$so" ZONE_MALLOC_DECAY_MS=0 "$(prog alloc_patterns)" churn
  assert_success
  assert_fact checksum == "$sum"
  run_prog alloc_patterns churn
  assert_success
  assert_fact checksum == "$sum"
}
