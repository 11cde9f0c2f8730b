#!/usr/bin/env bats
# Lesson 07: an allocator in shared memory that survives fork, races and SIGKILL.

load helper

P=07_shared_mmap_allocator
T=shalloc_test # the library's misuse driver
K=shalloc_kill # SIGKILL at every instruction of an operation
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

@test "the racy bump's overlaps are counted; fetch-add and shalloc hand out none" {
  run_prog $P race
  assert_success
  for racy in racy racy_preempted; do
    assert_fact overlaps -ge 0 bump=$racy
    assert_fact overwritten -eq "$(fact overlaps bump=$racy)" bump=$racy
    assert_fact lost_updates -ge 0 bump=$racy
  done
  assert_fact overlaps -eq 0 bump=atomic
  assert_fact lost_updates -eq 0 bump=atomic
  assert_fact overlaps -eq 0 bump=shalloc
  assert_fact overwritten -eq 0 bump=shalloc
  assert_fact atomic_overlaps -eq 0 command=race
  assert_fact check == ok command=race
  echo "# racy overlaps: $(fact racy_overlaps command=race)," \
    "preempted: $(fact preempted_overlaps command=race)" >&3
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
  [[ $(stat -c %s "$SHM/$n") == 1048576 ]] || fail "the first object is untouched"
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

@test "an interrupted share removes its region, for SIGINT and SIGTERM" {
  for sig in INT TERM; do
    fifo=$BATS_TEST_TMPDIR/in.$sig
    out=$BATS_TEST_TMPDIR/out.$sig
    mkfifo "$fifo"
    "$(prog $P)" share --hold <"$fifo" >"$out" 2>&1 &
    pid=$!
    exec {writer}>"$fifo" # the writer that keeps share waiting (fd 3 is bats's)
    for _ in $(seq 200); do
      grep -q holding "$out" && break
      sleep 0.05
    done
    grep -q holding "$out" || fail "share reached its hold ($sig)"
    [[ -e $SHM/asym07-share-$pid ]] || fail "the region exists while share holds it"
    kill -s "$sig" "$pid"
    code=0
    wait "$pid" || code=$?
    exec {writer}>&-
    ((code > 128)) || fail "share died by SIG$sig (status $code)"
    [[ ! -e $SHM/asym07-share-$pid ]] || fail "SIG$sig: the region is gone"
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

@test "SIGKILL at instructions spread over run alloc, split, merge, carve and refill: repaired, nothing lost" {
  # Every access of a sanitizer build is instrumented, so an operation is 3
  # (ASan) to 30 (TSan) times as many instructions to step through; the
  # kills land in the same code.  (shalloc_kill --every: every instruction.)
  [[ $SANITIZER == tsan ]] && skip "ThreadSanitizer makes single-stepping 30 times as long"
  points=25
  [[ -n $SANITIZER ]] && points=10
  run_prog $K --points $points all
  assert_success
  for op in run-alloc run-split run-merge run-to-wilderness carve carve-from-run refill; do
    assert_fact failures -eq 0 op=$op
    assert_fact kill_points -ge $points op=$op
  done
  assert_fact lock_repairs -gt 0 op=run-merge
  assert_fact spans_recovered -gt 0 op=carve
  assert_fact failures -eq 0 ops=7
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
  ((rows == 4 * allocators)) || fail "the results file has $((4 * allocators)) shm rows (it has $rows)"
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

@test "nothing of ours is left in /dev/shm" {
  leftovers=$(compgen -G "$SHM/asym07-*" || true)
  [[ -z $leftovers ]] || fail "no asym07- objects remain: $leftovers"
}
