#!/usr/bin/env bats
# Lesson 07: an allocator in shared memory that survives fork, races and SIGKILL.

load helper

P=07_shared_mmap_allocator
T=shalloc_test # the library's misuse driver
K=shalloc_kill # SIGKILL at every instruction of an operation
F=shalloc_fuzz # randomly damaged regions
SHM=/dev/shm

# The driver's misuse ends in abort(): SIGABRT is status 134.
ABORTED=134

# Names the tests create by hand; the program's own share regions are
# asym07-share-PID and are never removed here, so the last test sees any
# that the program left behind.
name() {
  printf 'asym07-test-%s-%s' "$$" "$1"
}

teardown() {
  rm -f "$SHM"/asym07-test-"$$"-*
}

aslr_on() {
  [[ $(cat /proc/sys/kernel/randomize_va_space 2>/dev/null) != 0 ]]
}

# The library stopped a misuse: one line on stderr, "shalloc: ..." matching
# the regular expression $1, then abort().
assert_report() {
  ((status == ABORTED)) || fail "the library aborts (exit status $ABORTED)"
  local lines
  # shellcheck disable=SC2154 # $stderr is set by run_prog (bats's run --separate-stderr)
  lines=$(printf '%s' "$stderr" | grep -c '')
  ((lines == 1)) || fail "exactly one line on stderr (it has $lines)"
  [[ $stderr =~ ^shalloc:\ $1 ]] || fail "stderr is 'shalloc: ' and matches /$1/"
}

# shalloc_assert runs only in builds with ASYM_ASSERT=1 (the driver says).
skip_without_asserts() {
  run_prog $T asserts
  assert_success
  [[ $(fact asserts) == 1 ]] || skip "shalloc_assert is compiled out of this build"
}

# layout KEY: where something is in a region (shalloc_test layout).
layout() {
  "$(prog $T)" layout | awk -v key="$1" -v filters="" -f "$REPO_ROOT/common/fact.awk"
}

# poke64 NAME OFFSET VALUE: write VALUE, 8 bytes little-endian, into
# /dev/shm/NAME at OFFSET.
poke64() {
  local bytes="" byte k
  for ((k = 0; k < 8; k++)); do
    printf -v byte '\\x%02x' $((($3 >> (8 * k)) & 0xff))
    bytes+=$byte
  done
  printf '%b' "$bytes" | dd of="$SHM/$1" bs=1 seek="$2" conv=notrunc status=none
}

# smear NAME OFFSET COUNT: COUNT bytes of 0xff into /dev/shm/NAME at OFFSET.
smear() {
  head -c "$3" /dev/zero | tr '\0' '\377' | dd of="$SHM/$1" bs=1 seek="$2" conv=notrunc status=none
}

# random_bytes COUNT: COUNT bytes from bash's RANDOM (seeded by the caller).
random_bytes() {
  local bytes="" byte k
  for ((k = 0; k < $1; k++)); do
    printf -v byte '\\x%02x' $((RANDOM % 256))
    bytes+=$byte
  done
  printf '%b' "$bytes"
}

# stderr ends with TEXT.
assert_stderr_ends() {
  [[ $stderr == *"$1" ]] || fail "stderr ends with '$1'"
}

# A fact line as the issue spells it: KEY=VALUE pairs in that order.
assert_line_matches() {
  printf '%s\n' "$output" | grep -Eq "$1" || fail "a line matches /$1/"
}

@test "the default demo: parent and child see each other's blocks and one bump offset" {
  run_prog $P
  assert_success
  assert_fact child_saw_parent -eq 1 command=demo
  assert_fact parent_saw_child -eq 1 command=demo
  before=$(fact bump_before_bytes command=demo)
  assert_fact bump_after_bytes -gt "$before" command=demo
  assert_fact child_offset -ne "$(fact parent_offset command=demo)" command=demo
  assert_fact check == ok command=demo
}

@test "the default demo shows the myth: the racy bump, SIGKILLs checked, a foreign pointer" {
  run_prog $P
  assert_success
  assert_fact preempted_overlaps -gt 0 command=race
  assert_fact atomic_overlaps -eq 0 command=race
  assert_fact shalloc_overlaps -eq 0 command=race
  assert_fact kills -ge 1 command=crash
  assert_fact holder_repairs -eq 1 command=crash
  assert_fact lost_spans -eq 0 command=crash
  assert_fact check == ok command=crash
  assert_fact raw_pointer_valid_here -eq 0 command=share
  assert_fact offsets_agree -eq 1 command=share
}

@test "the racy bump's overlaps are counted; fetch-add and shalloc hand out none" {
  run_prog $P race
  assert_success
  for racy in racy racy_preempted; do
    assert_fact overlaps -ge 0 bump=$racy
    assert_fact overwritten -eq "$(fact overlaps bump=$racy)" bump=$racy
    assert_fact lost_updates -ge 0 bump=$racy
  done
  assert_fact yields -eq 0 bump=racy
  assert_fact yields -eq 200 bump=racy_preempted
  assert_fact allocs_total -eq 200000 command=race
  assert_fact preempted_attempts -ge 1 command=race
  assert_fact preempted_attempts -le 5 command=race
  assert_fact overlaps -eq 0 bump=atomic
  assert_fact lost_updates -eq 0 bump=atomic
  assert_fact overlaps -eq 0 bump=shalloc
  assert_fact overwritten -eq 0 bump=shalloc
  assert_fact atomic_overlaps -eq 0 command=race
  assert_fact check == ok command=race
  echo "# racy overlaps: $(fact racy_overlaps command=race)," \
    "preempted: $(fact preempted_overlaps command=race)" >&3
}

# The race's counts, for every arena kind: a block handed out twice is
# overwritten once, and every update lost is either a block handed out twice
# or one below the highest block handed out that the offset's last, stale
# store gave back.
# start_share_holding SUFFIX: `share --hold` in the background, its stdin a
# FIFO this shell keeps open (so it waits), until it says it is holding.
# Sets pid (the share), writer (the FIFO's fd: write a line to let it go on,
# close it after) and out (its output file).
start_share_holding() {
  local fifo=$BATS_TEST_TMPDIR/in$1
  out=$BATS_TEST_TMPDIR/out$1
  mkfifo "$fifo"
  "$(prog $P)" share --hold <"$fifo" >"$out" 2>&1 &
  pid=$!
  exec {writer}>"$fifo" # fd 3 is bats's
  for _ in $(seq 200); do
    grep -q holding "$out" && break
    sleep 0.05
  done
  grep -q holding "$out" || fail "share reached its hold${1:+ ($1)}"
}

assert_race_accounts() {
  local kind overlaps
  for kind in racy racy_preempted atomic; do
    overlaps=$(fact overlaps bump=$kind)
    assert_fact overwritten -eq "$overlaps" bump=$kind
    assert_fact lost_updates -eq $((overlaps + $(fact end_rollback_blocks bump=$kind))) bump=$kind
    assert_fact interleaved_pct -le 100 bump=$kind
  done
}

@test "race's prose says what the measured facts say" {
  run_prog $P race
  assert_success
  assert_race_accounts
  if (($(fact interleaved_pct bump=racy) < 10)); then
    assert_output_contains "the processes ran one"
  else
    assert_output_contains "the processes ran at"
  fi
  if (($(fact others_allocs_per_yield bump=racy_preempted) == 0)); then
    assert_output_contains "the processes ran one after the other."
  elif ((2 * $(fact others_allocs_per_yield bump=racy_preempted) >= 1000)); then
    assert_output_contains "the processes took turns"
  else
    assert_output_contains "they ran side by side"
  fi
  assert_output_contains "fetch-add, interrupted the same way, handed out none twice"
  echo "# preempted: $(fact overlaps bump=racy_preempted) overlaps," \
    "$(fact others_allocs_per_yield bump=racy_preempted) blocks per yield" >&3
}

@test "exercise 1: race --procs 4 and --ops 1000000; the counts add up" {
  run_prog $P race --procs 4
  assert_success
  assert_fact allocs_total -eq 400000 command=race
  assert_race_accounts
  run_prog $P race --ops 1000000
  assert_success
  assert_fact allocs -eq 1000000 bump=racy
  assert_race_accounts
}

@test "exercise 2: map runs its workers and passes the checker" {
  run_prog $P map --procs 3 --ops 2000 --seed 5
  assert_success
  assert_fact check == ok command=map
}

@test "exercise 4: freelist's fragmentation step says whether alloc(2500) took a new span" {
  run_prog $P freelist
  assert_success
  assert_fact new_span_for_2500 -ge 0 step=fragmentation
}

@test "exercise 5: crash --kills 80 --seed N runs and passes the checker" {
  run_prog $P crash --kills 80 --seed 7 --ops 2000
  assert_success
  assert_fact kills -ge 1 command=crash
  assert_fact check == ok command=crash
}

@test "exercise 7: bench/run.sh has the shm section" {
  run_cmd "$REPO_ROOT/bench/run.sh" --help
  assert_success
  assert_output_contains "shm"
}

@test "race with three processes: still no overlap without the race" {
  run_prog $P race --procs 3 --ops 20000
  assert_success
  assert_fact allocs -eq 20000 bump=racy procs=3
  assert_fact overlaps -eq 0 bump=atomic procs=3
  assert_fact overlaps -eq 0 bump=shalloc procs=3
}

@test "a freed block comes back to the next allocation of its size, last freed first" {
  run_prog $P freelist
  assert_success
  assert_fact same_block -eq 1 step=reuse
  assert_fact last_freed_first -eq 1 step=reuse
  assert_fact check == ok command=freelist
}

@test "requests are rounded up to size classes at a small cost" {
  run_prog $P freelist
  assert_success
  asked=$(fact requested_bytes step=classes)
  assert_fact block_bytes -ge "$asked" step=classes
  assert_fact internal_waste_pct -lt 10 step=classes
}

@test "a freed block waits in its process's cache until that process flushes it" {
  run_prog $P freelist
  assert_success
  assert_fact child_got_freed_block -eq 0 step=caches
  assert_fact child_got_it_after_flush -eq 1 step=caches
}

@test "free bytes of one class cannot serve a request of another" {
  run_prog $P freelist
  assert_success
  assert_fact free_bytes -gt 2500 step=fragmentation
  assert_fact new_span_for_2500 -eq 1 step=fragmentation
}

@test "a block above 4 KiB is a run of spans: freed it is reused, merged, and given back" {
  run_prog $P freelist
  assert_success
  assert_fact run_bytes -eq 49152 step=runs
  assert_fact same_run -eq 1 step=runs
  assert_fact merged_run_reused -eq 1 step=runs
  assert_fact back_to_wilderness -eq 1 step=runs
}

@test "a request longer than the longest free run is ENOMEM and changes nothing; the longest is served" {
  run_prog $T enomem
  assert_success
  assert_fact largest_free_bytes -gt 0
  for key in too_big_null too_big_enomem region_unchanged largest_served; do
    assert_fact $key -eq 1
  done
  assert_fact check == ok
}

@test "a freed run waits in its process's run cache and comes back while another thread holds the lock" {
  run_prog $T run-cache
  assert_success
  assert_fact cached_after_free -eq 1
  assert_fact taken_while_locked -eq 1
  assert_fact same_run -eq 1
  assert_fact cached_after_flush -eq 0
  assert_fact runs_used_after_flush -eq 0
  assert_fact check == ok
}

@test "demo --size 1G: one block of half a 1 GiB region, and only what is touched is resident" {
  run_prog $P demo --size 1G
  assert_success
  assert_fact region_bytes -eq 1073741824 step=large_block
  assert_fact block_bytes -ge 536870912 step=large_block
  assert_fact region_rss_kib -lt 32768 step=large_block
  assert_fact check == ok command=demo
}

@test "region sizes take K, M, G and T up to 1T; beyond, or below one span, is a usage error" {
  run_prog $P demo --size 3M
  assert_success
  assert_fact region_bytes -eq 3145728 step=large_block
  for size in 1K 2T 0 1.5M x; do
    run_prog $P demo --size "$size"
    assert_usage_error "--size"
  done
  run_prog $P --help
  assert_output_contains "1T"
}

@test "map draws every worker's blocks mid-run, and everything free after they leave" {
  run_prog $P map
  assert_success
  for frame in 1 2; do
    assert_fact used_blocks -gt 0 frame=$frame
    assert_fact cached_blocks -gt 0 frame=$frame
  done
  assert_fact used_blocks -eq 0 frame=3
  assert_fact cached_blocks -eq 0 frame=3
  assert_fact used_runs -eq 0 frame=3
  assert_fact free_blocks -gt 0 frame=3
  for who in A/a B/b C/c; do
    assert_output_contains "$who = pid"
  done
  assert_fact check == ok command=map
}

@test "create makes a 0600 object in /dev/shm, attach extends its list, unlink removes it" {
  n=$(name life)
  run_prog $P create "$n" 1M
  assert_success
  assert_fact mode -eq 600 command=create
  [[ -e $SHM/$n ]] || fail "$SHM/$n exists after create"
  [[ $(stat -c %a "$SHM/$n") == 600 ]] || fail "$SHM/$n has mode 600"
  run_prog $P attach "$n"
  assert_success
  assert_fact notes_before -eq 0 command=attach
  run_prog $P attach "/$n"
  assert_success
  assert_fact notes_before -eq 1 command=attach
  run_prog $P unlink "$n"
  assert_success
  [[ ! -e $SHM/$n ]] || fail "$SHM/$n is gone after unlink"
}

@test "create refuses a name that exists (O_EXCL) and leaves the object alone" {
  n=$(name twice)
  run_prog $P create "$n" 1M
  assert_success
  run_prog $P create "$n" 2M
  assert_runtime_error EEXIST
  assert_stderr_contains "create $n: shm_open: File exists"
  [[ $(stat -c %s "$SHM/$n") == 1048576 ]] || fail "the first object is untouched"
}

@test "a full /dev/shm: create says so, naming /dev/shm and the region, and leaves nothing" {
  ((EUID == 0)) || skip "needs root to mount a small /dev/shm of its own (unshare --mount)"
  unshare --mount true 2>/dev/null || skip "unshare --mount is not allowed here"
  run_cmd unshare --mount bash -c \
    "mount -t tmpfs -o size=1M tmpfs /dev/shm && '$(prog $P)' create full 2M; echo status=\$?; ls /dev/shm"
  [[ $stderr == *"create full: posix_fallocate: /dev/shm has no room for a region of 2 MiB: No space left on device (ENOSPC)"* ]] ||
    fail "the error names the verb, the region, /dev/shm and the size"
  assert_output_contains "status=1"
  [[ $output != *full$'\n'* && $output != *full ]] || fail "nothing is left in that /dev/shm"
}

@test "bad names are usage errors" {
  long=$(printf 'n%.0s' {1..201})
  for bad in "a/b" ".." "." "/" "" "x y" "%s%n" "$long" "/a/b"; do
    run_prog $P create "$bad" 1M
    assert_usage_error "NAME"
    run_prog $P attach "$bad"
    assert_usage_error "NAME"
  done
}

@test "sizes too small for the header or too large are usage errors" {
  for size in 1K 64K 0 abc 2T 1MB; do
    run_prog $P create "$(name size)" "$size"
    assert_usage_error "SIZE"
  done
  [[ ! -e $SHM/$(name size) ]] || fail "nothing was created"
}

@test "a size over half the available memory is refused before anything is created" {
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  run_prog $P create "$(name huge)" $((avail_kib))K
  assert_runtime_error "available"
  [[ ! -e $SHM/$(name huge) ]] || fail "nothing was created"
}

@test "attach and unlink of a missing object fail with ENOENT" {
  run_prog $P attach "$(name missing)"
  assert_runtime_error ENOENT
  run_prog $P unlink "$(name missing)"
  assert_runtime_error ENOENT
}

@test "attach and unlink refuse an object that is not a region" {
  n=$(name foreign)
  head -c 200000 /dev/urandom >"$SHM/$n"
  run_prog $P attach "$n"
  assert_runtime_error "not a shalloc region"
  run_prog $P unlink "$n"
  assert_runtime_error "not a shalloc region"
  [[ -e $SHM/$n ]] || fail "the foreign object is left alone"
  head -c 100 /dev/zero >"$SHM/$n"
  run_prog $P attach "$n"
  assert_runtime_error "not a shalloc region"
}

@test "share: an exec'd process maps the region elsewhere and extends the list by offsets" {
  run_prog $P share
  assert_success
  assert_fact notes -eq 2 command=share
  assert_fact offsets_agree -eq 1 command=share
  assert_fact raw_pointer_valid_here -eq 0 command=share
  assert_fact second_view_base != "$(fact parent_base command=share)" command=share
  if aslr_on; then
    assert_fact different_address -eq 1 command=share
  fi
  assert_fact check == ok command=share
  assert_fact notes_before -eq 1 command=attach
  if compgen -G "$SHM/asym07-share-*" >/dev/null; then fail "share removed its region"; fi
}

@test "share --hold keeps the region until its input ends, then removes it" {
  run_prog $P share --hold </dev/null
  assert_success
  assert_output_contains "holding"
  if compgen -G "$SHM/asym07-share-*" >/dev/null; then fail "share removed its region"; fi
}

@test "share --hold with an attach by hand: notes= counts the list as it is listed at the end" {
  start_share_holding ""
  run_prog $P attach "asym07-share-$pid"
  assert_success
  assert_fact notes_before -eq 2 command=attach
  echo >&"$writer"
  exec {writer}>&-
  code=0
  wait "$pid" || code=$?
  ((code == 0)) || fail "share --hold ends well after Enter (status $code)"
  output=$(<"$out")
  assert_fact notes -eq 3 command=share
  assert_fact notes_added_while_held -eq 1 command=share
  assert_output_contains '  note 2 at offset'
  [[ ! -e $SHM/asym07-share-$pid ]] || fail "share removed its region"
}

@test "an interrupted share removes its region, for SIGINT and SIGTERM" {
  for sig in INT TERM; do
    start_share_holding "$sig"
    [[ -e $SHM/asym07-share-$pid ]] || fail "the region exists while share holds it"
    kill -s "$sig" "$pid"
    code=0
    wait "$pid" || code=$?
    exec {writer}>&-
    ((code > 128)) || fail "share died by SIG$sig (status $code)"
    [[ ! -e $SHM/asym07-share-$pid ]] || fail "SIG$sig: the region is gone"
  done
}

@test "a share killed by SIGKILL leaves its name; the next share removes it" {
  start_share_holding ""
  kill -s KILL "$pid"
  wait "$pid" || true
  exec {writer}>&-
  [[ -e $SHM/asym07-share-$pid ]] || fail "SIGKILL cannot be caught: the name is left"
  run_prog $P share
  assert_success
  assert_fact stale_removed -ge 1 command=share
  assert_output_contains "removed /dev/shm/asym07-share-$pid, left by a share that was killed"
  [[ ! -e $SHM/asym07-share-$pid ]] || fail "the next share removed it"
}

@test "shares killed at random instants leave nothing once the next share has run" {
  local run pids=() pid left=()
  RANDOM=11
  for ((run = 0; run < 30; run++)); do
    "$(prog $P)" share >/dev/null 2>&1 &
    pids+=($!)
    sleep "0.00$((RANDOM % 8))"
    kill -s KILL $! 2>/dev/null || true
    wait $! || true
  done
  run_prog $P share
  assert_success
  for pid in "${pids[@]}"; do
    [[ -e $SHM/asym07-share-$pid ]] && left+=("$pid")
  done
  ((${#left[@]} == 0)) || fail "no name of a killed share is left: ${left[*]}"
}

@test "stress and crash under ulimit -u: when a fork fails, no child is left behind" {
  ((EUID == 0)) || skip "needs root to run as nobody, whose process count the limit counts"
  local nobody limit command
  nobody=$(grep -l '^Uid:[[:space:]]*65534[[:space:]]' /proc/[0-9]*/status 2>/dev/null | wc -l)
  limit=$((nobody + 4)) # the reaper, the program and two children: the third fork fails
  for command in "stress --procs 8 --ops 2000" "crash --procs 4 --kills 3 --ops 2000"; do
    run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c \
      "ulimit -u $limit && exec '$(prog orphan_reap)' '$(prog $P)' $command"
    assert_status 1
    assert_stderr_contains "fork: Resource temporarily unavailable (EAGAIN)"
    assert_fact orphans -eq 0
  done
}

@test "generations: every fork appends to one list; private memory stays private" {
  run_prog $P generations 6
  assert_success
  assert_fact entries -eq 7 command=generations
  assert_fact lineage_ok -eq 1 command=generations
  assert_fact ancestor_private_counter -eq 1 command=generations
  assert_fact check == ok command=generations
}

@test "generations outside 1 to 32 are usage errors" {
  for n in 0 33 x 1.5 ""; do
    run_prog $P generations "$n"
    assert_usage_error "generations"
  done
}

@test "MADV_DONTFORK keeps the region out of the child; MADV_DOFORK brings it back" {
  run_prog $P dontfork
  assert_success
  assert_fact child_has_region -eq 1 advice=none
  assert_fact child_has_region -eq 0 advice=dontfork
  assert_fact child_touch == SIGSEGV advice=dontfork
  assert_fact child_has_region -eq 1 advice=dofork
}

@test "stress: every block verified, none overlapping, for several process counts and --seed values" {
  for procs in 1 2 4; do
    for seed in 1 7; do
      run_prog $P stress --procs $procs --ops 5000 --seed $seed
      assert_success
      assert_line_matches "stress procs=$procs ops=5000 verified=[0-9]+ overlaps=0 check=ok"
      assert_fact verified -gt 0 command=stress
      assert_fact failed_procs -eq 0
    done
  done
}

@test "map draws runs of spans: one row per span, the first naming its length" {
  run_prog $P map
  assert_success
  runs=$(($(fact used_runs frame=1) + $(fact used_runs frame=2)))
  ((runs > 0)) || fail "runs are in use in frame 1 or 2"
  assert_line_matches "^ +[0-9]+ +[0-9]+ +run [0-9]+ \\|[A-Z]+\\|$"
}

@test "stress and crash allocate runs of spans too, up to a sixteenth of the region" {
  run_prog $P stress --procs 2 --ops 20000
  assert_success
  assert_fact large_blocks -gt 0 command=stress
  assert_fact largest_block_bytes -gt 65536 command=stress
  assert_fact largest_block_bytes -le $(((16 + 8) * 1048576 / 16)) command=stress
  run_prog $P crash --kills 4 --ops 20000 --size 8M
  assert_success
  assert_fact large_blocks -gt 0 command=crash
  assert_fact largest_block_bytes -gt 4096 command=crash
  assert_fact check == ok command=crash
}

@test "SIGKILL at instructions spread over run alloc, split, merge, the run cache, carve and refill: repaired, nothing lost" {
  # Every access of a sanitizer build is instrumented, so an operation is 3
  # (ASan) to 30 (TSan) times as many instructions to step through; the
  # kills land in the same code.  (shalloc_kill --every: every instruction.)
  [[ $SANITIZER == tsan ]] && skip "ThreadSanitizer makes single-stepping 30 times as long"
  points=25
  [[ -n $SANITIZER ]] && points=10
  run_prog $K --points $points all
  assert_success
  for op in run-alloc run-split run-merge run-to-wilderness carve carve-from-run refill run-cache; do
    assert_fact failures -eq 0 op=$op
    assert_fact kill_points -ge $points op=$op
  done
  assert_fact lock_repairs -gt 0 op=run-merge
  assert_fact lock_repairs -gt 0 op=run-cache
  assert_fact spans_recovered -gt 0 op=carve
  assert_fact failures -eq 0 ops=8
}

@test "stress: blocks travel between processes and are freed by others" {
  run_prog $P stress --procs 3 --ops 4000
  assert_success
  assert_fact handoffs -gt 0
  assert_fact failed_allocs -eq 0
}

@test "crash: after SIGKILLs at random instants the region passes the checker (repeated)" {
  for seed in 1 2 3; do
    run_prog $P crash --kills 6 --ops 5000 --seed $seed
    assert_success
    assert_line_matches "kills=[1-9][0-9]* check=ok"
    assert_fact overlaps -eq 0 command=crash
    kills=$(fact kills command=crash)
    assert_fact slots_reclaimed -ge "$kills" command=crash
    assert_fact lost_spans -le "$kills" command=crash
    assert_fact leaked_blocks -le "$(fact leak_bound command=crash)" command=crash
  done
}

@test "a process killed holding the region lock is repaired through EOWNERDEAD" {
  run_prog $P crash --kills 1 --ops 2000
  assert_success
  assert_fact holder_repairs -eq 1 command=crash
  assert_fact lock_repairs -ge 1 command=crash
  assert_output_contains "EOWNERDEAD"
}

@test "crash with three processes at work and cache-less workers holding the lock" {
  run_prog $P crash --procs 3 --kills 8 --ops 3000 --seed 11
  assert_success
  assert_line_matches "kills=[1-9][0-9]* check=ok"
}

@test "bench: shalloc, shalloc without its cache and glibc in one run" {
  for procs in 1 2; do
    run_prog $P bench --procs $procs --ops 50000
    assert_success
    for allocator in shared shared_nocache glibc; do
      assert_fact ops_per_sec -gt 0 allocator=$allocator procs=$procs
      assert_fact failed_allocs -eq 0 allocator=$allocator procs=$procs
    done
    assert_fact shared_vs_glibc_pct -gt 0 command=bench
  done
}

@test "bench/: shalloc and Boost.Interprocess on the same workloads, small and mixed sizes" {
  for sizes in small mixed; do
    run_prog alloc_bench --allocator shared --sizes $sizes --workers 2 --ops 20000
    assert_success
    assert_fact ops_per_sec -gt 0 allocator=shared
  done
  [[ -x $BIN_DIR/boost_bench ]] || skip "boost_bench is built only with a C++ compiler and libboost-dev"
  for sizes in small mixed; do
    run_prog boost_bench --sizes $sizes --workers 2 --ops 20000
    assert_success
    assert_fact ops_per_sec -gt 0 allocator=boost sizes=$sizes workers=2
  done
  if compgen -G "$SHM/asym-boost-bench-*" >/dev/null; then fail "boost_bench left its segment"; fi
}

@test "bench/run.sh shm: a row per allocator, size mix and process count, ratios to Boost and glibc" {
  SKIP_REASON="the benchmarks measure the plain build" skip_under_sanitizer asan ubsan tsan
  results=$BATS_TEST_TMPDIR/results.jsonl
  run_cmd env BIN_DIR="$BIN_DIR" BENCH_RESULTS="$results" "$REPO_ROOT/bench/run.sh" --quick --reps 1 shm
  assert_success
  assert_output_contains "vs Boost"
  allocators=2
  if [[ -x $BIN_DIR/boost_bench ]]; then
    allocators=3
    assert_output_contains "goals"
  else
    assert_output_contains "boost_bench is not built"
  fi
  rows=$(grep -c '"bench":"shm"' "$results")
  # and per size mix one row of two processes on a region each
  ((rows == 4 * allocators + 2)) ||
    fail "the results file has $((4 * allocators + 2)) shm rows (it has $rows)"
  grep -q '"sizes":"small","allocator":"apart","workers":2,' "$results" ||
    fail "a row for two processes apart, small sizes"
}

@test "alloc_bench shared_apart: each process on a region of its own, nothing left behind" {
  for sizes in small mixed; do
    run_prog alloc_bench --allocator shared_apart --sizes $sizes --workers 2 --ops 20000
    assert_success
    assert_fact ops -eq 40000 allocator=shared_apart
    assert_fact ops_per_sec -gt 0 allocator=shared_apart
  done
}

@test "unknown commands, missing and extra words are usage errors" {
  for args in "frobnicate" "demo extra" "create onlyname" "attach" "unlink a b" "generations" \
    "share now"; do
    read -ra words <<<"$args"
    run_prog $P "${words[@]}"
    assert_usage_error
  done
}

@test "options a command does not take are usage errors" {
  for args in "demo --procs 2" "share --ops 5" "race --hold" "freelist --seed 3" "stress --kills 2" \
    "--hold map"; do
    read -ra words <<<"$args"
    run_prog $P "${words[@]}"
    assert_usage_error "does not take"
  done
}

@test "bad option values are usage errors that name the option" {
  for args in "--procs 0" "--procs 33" "--ops 0" "--ops x" "--seed -1" "--kills 0" "--kills 1001"; do
    read -ra words <<<"$args"
    run_prog $P stress "${words[@]}"
    assert_usage_error "${words[0]}"
  done
  run_prog $P race --ops 2000000
  assert_usage_error "--ops"
}

@test "the help names every command" {
  run_prog $P --help
  assert_success
  for word in demo race freelist map create attach unlink share generations dontfork crash \
    stress bench --procs --ops --seed --kills --hold; do
    assert_output_contains "$word"
  done
}

@test "a double free is stopped in one line, in every build" {
  run_prog $T double-free
  assert_report "free of a block that is not in use \(double free\?\) \(at 0x[0-9a-f]+\)$"
}

@test "an unlock by a thread that does not hold the region lock is stopped" {
  run_prog $T asserts
  if [[ $SANITIZER == tsan && $(fact asserts) == 0 ]]; then
    skip "ThreadSanitizer reports this unlock itself, before the library's own check"
  fi
  run_prog $T unlock-unheld
  assert_report ".*lock"
}

@test "with asserts, a *_locked call without the region lock names the check, file and line" {
  skip_without_asserts
  for test in locked-without-lock locked-by-another-thread; do
    run_prog $T $test
    assert_report "assertion failed: shalloc_region_lock_held\(h\) \([^ ]*shalloc_span\.c:[0-9]+\)$"
  done
}

@test "with asserts, freeing bytes that only look like a block's tag is stopped" {
  skip_without_asserts
  run_prog $T free-interior
  assert_report "assertion failed: shalloc_block_start\(.*\) \([^ ]*:[0-9]+\)$"
}

@test "a wild root, one at the region's end, a note linked to itself: attach exits 1 naming where" {
  n=$(name roots)
  run_prog $P create "$n" 1M
  assert_success
  run_prog $P attach "$n"
  assert_success
  note=$(fact note_offset command=attach)
  root=$(layout roots_offset)
  for value in $((0x4141414141414141)) 1048576 $((1048576 - 8)) $((note + 16)); do
    poke64 "$n" "$root" "$value"
    run_prog $P attach "$n"
    assert_runtime_error "attach $n: corrupt region: the list in root 0: a link is not an entry"
    assert_stderr_ends "at offset $root"
  done
  poke64 "$n" "$root" "$note"
  poke64 "$n" "$note" "$note" # the note's link: to itself
  run_prog $P attach "$n"
  assert_runtime_error "attach $n: corrupt region: the list in root 0: the list does not end (a cycle) at offset $note"
  [[ $(stat -c %s "$SHM/$n") == 1048576 ]] || fail "the object keeps its size"
}

@test "a wild free-list head: attach and check say it is out of range, and where" {
  n=$(name head)
  run_prog $P create "$n" 1M
  assert_success
  run_prog $P attach "$n" # its note's span: blocks of 80 bytes, on the free list after it leaves
  assert_success
  head=$(($(layout free_head_offset) + 8 * $(layout class_of_80)))
  for value in $((0x4141414141414141)) 1048576 16; do
    poke64 "$n" "$head" "$value"
    run_prog $P attach "$n"
    assert_runtime_error "attach $n: corrupt region: R4: a list's link is out of range (not in the spans) at offset $head"
    run_prog $P check "$n"
    assert_status 1
    assert_stderr_contains "check $n: corrupt region: R4: a list's link is out of range"
    assert_fact check == corrupt command=check
    assert_fact corrupt_offset -eq "$head" command=check
  done
}

@test "a garbage region lock, or garbage in every slot's lock: a corrupt region, not an abort or EAGAIN" {
  n=$(name locks)
  lock=$(layout lock_offset) bytes=$(layout lock_bytes)
  run_prog $P create "$n" 1M
  assert_success
  smear "$n" "$lock" "$bytes"
  run_prog $P attach "$n"
  assert_runtime_error "attach $n: corrupt region: R8: the region lock is not a lock, or names no live thread at offset $lock"
  poke64 "$n" "$lock" $((0x11223344)) # a lock word naming a thread that does not exist
  for field in 8 16 24 32; do poke64 "$n" $((lock + field)) 0; done
  run_prog $P attach "$n"
  assert_runtime_error "the region lock is not a lock, or names no live thread at offset $lock"
  rm -f "$SHM/$n"
  run_prog $P create "$n" 1M
  assert_success
  for ((s = 0; s < 64; s++)); do
    smear "$n" $(($(layout slots_offset) + s * $(layout slot_bytes))) "$bytes"
  done
  run_prog $P attach "$n"
  assert_runtime_error "attach $n: corrupt region: R8: a slot's lock is not a lock, or names no live thread at offset $(layout slots_offset)"
  [[ $stderr != *EAGAIN* ]] || fail "no process is blamed"
}

@test "check reads the region in a private copy: a healthy one is ok and its object unchanged" {
  n=$(name check)
  run_prog $P create "$n" 1M
  assert_success
  run_prog $P attach "$n"
  assert_success
  sum=$(md5sum <"$SHM/$n")
  run_prog $P check "$n"
  assert_success
  assert_fact check == ok command=check
  assert_fact blocks -gt 0 command=check
  [[ $(md5sum <"$SHM/$n") == "$sum" ]] || fail "check writes nothing to the object"
  run_prog $P check "$(name missing)"
  assert_runtime_error ENOENT
  run_prog $P check "a/b"
  assert_usage_error "NAME"
}

@test "check repairs a dead lock holder's region in its copy only; attach repairs it for real" {
  n=$(name dead)
  run_prog $P create "$n" 1M
  assert_success
  run_prog $T die-holding-lock "$n"
  ((status == 128 + 9)) || fail "the holder died by SIGKILL"
  sum=$(md5sum <"$SHM/$n")
  run_prog $P check "$n"
  assert_success
  assert_fact repairs_needed -eq 1 command=check
  assert_fact dead_slots -eq 1 command=check
  assert_fact check == ok command=check
  [[ $(md5sum <"$SHM/$n") == "$sum" ]] || fail "the object is not written"
  run_prog $P attach "$n"
  assert_success
  run_prog $P check "$n"
  assert_success
  assert_fact repairs_needed -eq 0 command=check
}

@test "unlink removes a damaged region, and says how to remove one past recognising" {
  n=$(name damaged)
  run_prog $P create "$n" 1M
  assert_success
  smear "$n" "$(layout lock_offset)" "$(layout lock_bytes)"
  run_prog $P unlink "$n"
  assert_success
  [[ ! -e $SHM/$n ]] || fail "the damaged region is gone"
  run_prog $P create "$n" 1M
  assert_success
  poke64 "$n" 0 0 # its magic number
  run_prog $P unlink "$n"
  assert_runtime_error "remove it with: rm /dev/shm/$n"
  [[ -e $SHM/$n ]] || fail "an object without our magic number is left alone"
}

@test "fuzz: a few hundred randomly damaged regions: no crash, no hang, nothing touched outside" {
  images=300
  [[ $SANITIZER == tsan ]] && images=60 # a fork costs 30 times as much there
  run_prog $F --images $images --seed 1
  assert_success
  assert_fact images -eq $images
  for key in crashes hangs outside_writes outside_reads; do
    assert_fact $key -eq 0
  done
  assert_fact rejected -gt 0
  assert_fact found -gt 0
  echo "# $(printf '%s\n' "$output" | tail -1)" >&3
}

# damage_and_use PROGRAM NAME BASE IMAGES: IMAGES times, BASE with 1 to 5
# random patches of 1 to 64 bytes becomes /dev/shm/NAME, and PROGRAM attach
# and check run on it.  Prints "image N: COMMAND: status S" for any end but
# exit 0 or 1.  Run in a bash of its own (bats traps every command).
damage_and_use() {
  local program=$1 name=$2 base=$3 images=$4 image patch patches at status command
  RANDOM=7
  for ((image = 0; image < images; image++)); do
    cp "$base" "/dev/shm/$name"
    patches=$((1 + RANDOM % 5))
    for ((patch = 0; patch < patches; patch++)); do
      at=$(((RANDOM * 32768 + RANDOM) % 1048576))
      random_bytes $((1 + RANDOM % 64)) | dd of="/dev/shm/$name" bs=1 seek=$at conv=notrunc status=none
    done
    for command in attach check; do
      status=0
      timeout -k 5 20 "$program" $command "$name" >/dev/null 2>&1 || status=$?
      ((status <= 1)) || echo "image $image: $command: status $status"
    done
  done
}

@test "attach and check on 100 randomly damaged named regions: exit 0 or 1, never a signal or a hang" {
  n=$(name random)
  base=$BATS_TEST_TMPDIR/base
  run_prog $P create "$n" 1M
  assert_success
  for _ in 1 2 3; do
    run_prog $P attach "$n"
    assert_success
  done
  cp "$SHM/$n" "$base"
  run_cmd bash -c "$(declare -f random_bytes damage_and_use); damage_and_use \"\$@\"" -- \
    "$(prog $P)" "$n" "$base" 100
  assert_success
  [[ -z $output ]] || fail "every run ended with exit 0 or 1"
  run_prog $P unlink "$n"
  assert_success
}

@test "nothing of ours is left in /dev/shm" {
  leftovers=$(compgen -G "$SHM/asym07-*" || true)
  [[ -z $leftovers ]] || fail "no asym07- objects remain: $leftovers"
}
