#!/usr/bin/env bats
# bench/: the benchmark programs give correct answers (their speed is never
# asserted: timings are measured in `make bench`, not tested).

load helper

@test "alloc_bench runs the workload on every allocator with no failed allocation" {
  for allocator in glibc zone shared shared_nocache shared_apart; do
    for workers in 1 2; do
      run_prog alloc_bench --allocator $allocator --workers $workers --ops 200000
      assert_success
      assert_fact ops -eq $((200000 * workers)) allocator=$allocator
      assert_fact ops_per_sec -gt 0 allocator=$allocator
    done
  done
}

@test "alloc_bench reports space overhead where the allocator can say" {
  for allocator in zone shared; do
    run_prog alloc_bench --allocator $allocator --ops 200000
    assert_success
    requested=$(fact peak_requested_bytes)
    assert_fact peak_mapped_bytes -ge "$requested" allocator=$allocator
  done
}

@test "alloc_trace gen is deterministic for a seed and differs across seeds" {
  a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b c=$BATS_TEST_TMPDIR/c
  for kind in small realloc mixed; do
    "$(prog alloc_trace)" gen --kind $kind --ops 20000 --seed 7 >"$a"
    "$(prog alloc_trace)" gen --kind $kind --ops 20000 --seed 7 >"$b"
    "$(prog alloc_trace)" gen --kind $kind --ops 20000 --seed 8 >"$c"
    cmp -s "$a" "$b" || fail "two $kind traces with seed 7 are identical"
    ! cmp -s "$a" "$c" || fail "$kind traces with seeds 7 and 8 differ"
  done
}

@test "alloc_trace gen --ids sets the working set: at most that many blocks live, and the header says so" {
  trace=$BATS_TEST_TMPDIR/trace
  for ids in 64 4096; do
    "$(prog alloc_trace)" gen --kind small --ops 20000 --ids $ids >"$trace"
    [[ $(head -1 "$trace") == *" ids=$ids" ]] || fail "the header names $ids ids"
    awk -v ids=$ids '$1 != "#" && $2 >= ids { bad = 1 } END { exit bad }' "$trace" ||
      fail "every id is below $ids"
    run_prog alloc_trace replay --allocator zone "$trace"
    assert_success
  done
  for ids in 63 16777217 0 -1 lots; do
    run_prog alloc_trace gen --kind small --ids "$ids"
    assert_usage_error "--ids"
  done
}

@test "a trace frees every block it allocates" {
  trace=$BATS_TEST_TMPDIR/trace
  "$(prog alloc_trace)" gen --kind mixed --ops 20000 >"$trace"
  allocs=$(grep -c '^a ' "$trace")
  frees=$(grep -c '^f ' "$trace")
  ((allocs == frees)) || fail "allocations ($allocs) equal frees ($frees)"
}

@test "replaying a trace sees the same live bytes whatever the allocator" {
  trace=$BATS_TEST_TMPDIR/trace
  for kind in small realloc mixed; do
    "$(prog alloc_trace)" gen --kind $kind --ops 20000 >"$trace"
    run_prog alloc_trace replay --allocator glibc --measure space "$trace"
    assert_success
    live=$(fact peak_live_bytes)
    run_prog alloc_trace replay --allocator zone --measure space "$trace"
    assert_success
    assert_fact peak_live_bytes -eq "$live"
    assert_fact utilisation_pct -le 100
    assert_fact utilisation_pct -gt 0
  done
}

@test "alloc_trace rejects a file that is not a trace, and bad commands" {
  printf 'hello\n' >"$BATS_TEST_TMPDIR/junk"
  run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/junk"
  assert_runtime_error "not an alloc-trace"
  printf '# alloc-trace v1 kind=small seed=1 ops=1 ids=4\nf 9\n' >"$BATS_TEST_TMPDIR/bad"
  run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/bad"
  assert_runtime_error ":2: not a trace call"
  run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/missing"
  assert_runtime_error ENOENT
  run_prog alloc_trace
  assert_usage_error "gen or replay"
  run_prog alloc_trace gen
  assert_usage_error "--kind"
  run_prog alloc_trace replay "$BATS_TEST_TMPDIR/junk"
  assert_usage_error "--allocator"
}

@test "alloc_trace rejects every malformed call: junk after it, a size past 32 bits, no size" {
  local header='# alloc-trace v1 kind=small seed=1 ops=1 ids=4' line
  for line in 'a 1 10 junk' 'f 1 zz' 'a 1 99999999999' 'a 1 4294967296' 'a 1' 'a 1 0' \
    'x 1 10' 'a  1 10' 'a 1 10 ' 'f -1' 'r 4 10' 'aa 1 10' ''; do
    printf '%s\n%s\n' "$header" "$line" >"$BATS_TEST_TMPDIR/bad"
    run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/bad"
    assert_runtime_error ":2: not a trace call"
  done
  printf '%s\na 1 100000\nr 1 200000\nf 1\n' "$header" >"$BATS_TEST_TMPDIR/good"
  run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/good"
  assert_success
}

@test "a realloc that shrinks a block lowers the live bytes (no 32-bit wrap)" {
  printf '# alloc-trace v1 kind=small seed=1 ops=4 ids=2\na 0 1000\nr 0 10\na 1 100\nf 0\nf 1\n' \
    >"$BATS_TEST_TMPDIR/shrink"
  for allocator in glibc zone; do
    run_prog alloc_trace replay --allocator $allocator --measure space "$BATS_TEST_TMPDIR/shrink"
    assert_success
    assert_fact peak_live_bytes -eq 1000
  done
}

@test "alloc_trace replay refuses a directory and a FIFO at once, without blocking" {
  run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR"
  assert_runtime_error EISDIR
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  TEST_TIMEOUT=10 run_prog alloc_trace replay --allocator zone "$BATS_TEST_TMPDIR/fifo"
  assert_runtime_error "not a regular file"
}

@test "bench/run.sh answers --help and rejects unknown sections with exit 2" {
  run_cmd "$REPO_ROOT/bench/run.sh" --help
  assert_success
  assert_output_contains "Usage:"
  run_cmd "$REPO_ROOT/bench/run.sh" sideways
  assert_usage_error "sideways"
  run_cmd "$REPO_ROOT/bench/run.sh" --reps 0
  assert_usage_error "--reps"
}

@test "bench/run.sh --quick prints a table and one JSON line per row" {
  SKIP_REASON="the benchmarks measure the plain build" skip_under_sanitizer asan ubsan tsan
  results=$BATS_TEST_TMPDIR/results.jsonl
  run_cmd env BIN_DIR="$BIN_DIR" BENCH_RESULTS="$results" "$REPO_ROOT/bench/run.sh" --quick --reps 1 traces
  assert_success
  assert_output_contains "machine:"
  assert_output_contains "utilisation"
  rows=$(grep -c '"bench":"traces"' "$results")
  ((rows == 6)) || fail "the results file has 6 trace rows (it has $rows)"
}

# The quick size of each alloc_patterns workload: enough to exercise it.
pattern_ops() {
  case $1 in
  large) echo 6 ;;
  churn) echo 3 ;;
  *) echo 20000 ;;
  esac
}

@test "alloc_patterns: every workload finds every block intact (checksum as expected)" {
  for workload in large prodcons randsizes server churn tiny; do
    run_prog alloc_patterns --ops "$(pattern_ops $workload)" $workload
    assert_success
    assert_fact bad_blocks -eq 0 workload=$workload
    assert_fact failed_allocs -eq 0 workload=$workload
    assert_fact checksum == "$(fact expected_checksum)" workload=$workload
    assert_fact ops_per_sec -gt 0 workload=$workload
    assert_fact peak_rss_kib -gt 0 workload=$workload
  done
}

@test "alloc_patterns: the zone allocator preloaded gives the same checksums as glibc" {
  SKIP_REASON="preloading a sanitizer build is meaningless (SANITIZER=$SANITIZER)" \
    skip_under_sanitizer asan ubsan tsan
  for workload in large prodcons randsizes server churn tiny; do
    run_prog alloc_patterns --ops "$(pattern_ops $workload)" --seed 9 $workload
    assert_success
    want=$(fact checksum)
    run_cmd env LD_PRELOAD="$BIN_DIR/libzone_malloc.so" "$(prog alloc_patterns)" \
      --ops "$(pattern_ops $workload)" --seed 9 $workload
    assert_success
    assert_fact checksum == "$want" workload=$workload
    assert_fact bad_blocks -eq 0 workload=$workload
  done
}

@test "alloc_patterns: the checksum depends on the seed, not on the threads' timing" {
  run_prog alloc_patterns --ops 20000 --threads 3 --seed 4 randsizes
  assert_success
  first=$(fact checksum)
  run_prog alloc_patterns --ops 20000 --threads 3 --seed 4 randsizes
  assert_fact checksum == "$first"
  run_prog alloc_patterns --ops 20000 --threads 3 --seed 5 randsizes
  [[ $(fact checksum) != "$first" ]] || fail "another seed gives another checksum"
}

@test "alloc_patterns rejects unknown workloads and bad counts" {
  run_prog alloc_patterns
  assert_usage_error "--list"
  run_prog alloc_patterns sideways
  assert_usage_error "sideways"
  run_prog alloc_patterns --threads 0 server
  assert_usage_error "--threads"
  run_prog alloc_patterns --ops 0 tiny
  assert_usage_error "--ops"
  run_prog alloc_patterns --list
  assert_success
  assert_output_contains "prodcons"
}

@test "bench/run.sh --quick malloc prints time and RSS ratios with their geometric means" {
  SKIP_REASON="the benchmarks measure the plain build" skip_under_sanitizer asan ubsan tsan
  results=$BATS_TEST_TMPDIR/results.jsonl
  run_cmd env BIN_DIR="$BIN_DIR" BENCH_RESULTS="$results" "$REPO_ROOT/bench/run.sh" --quick --reps 1 malloc
  assert_success
  assert_output_contains "geometric mean"
  for workload in large prodcons randsizes server churn tiny workload-1t trace-mixed; do
    grep -q "\"workload\":\"$workload\",\"allocator\":\"zone\"" "$results" ||
      fail "a JSON row for $workload on the zone allocator"
  done
  ! grep -q '"failed":1' "$results" || fail "no allocator failed a workload"
}

@test "bench/run.sh BENCH_PRELOAD adds an allocator to the malloc section, and rejects a bad one" {
  SKIP_REASON="the benchmarks measure the plain build" skip_under_sanitizer asan ubsan tsan
  results=$BATS_TEST_TMPDIR/results.jsonl
  run_cmd env BIN_DIR="$BIN_DIR" BENCH_RESULTS="$results" \
    BENCH_PRELOAD="again=$BIN_DIR/libzone_malloc.so" "$REPO_ROOT/bench/run.sh" --quick --reps 1 malloc
  assert_success
  assert_output_contains "again"
  rows=$(grep -c '"allocator":"again"' "$results")
  ((rows == 12)) || fail "a JSON row for each of the 11 workloads and the mean on 'again' (there are $rows)"
  ! grep -q '"failed":1' "$results" || fail "no allocator failed a workload"
  for word in nopath zone="$BIN_DIR/libzone_malloc.so" x=/nonexistent/lib.so "Bad=$BIN_DIR/libzone_malloc.so"; do
    run_cmd env BENCH_PRELOAD="$word" "$REPO_ROOT/bench/run.sh" --quick malloc
    assert_usage_error "BENCH_PRELOAD"
  done
}

@test "bench/lib.bash paired_ratio: the median of each repetition's ratio, else the ratio of medians" {
  # shellcheck disable=SC2034 # read by lib.bash
  root=$REPO_ROOT
  # shellcheck disable=SC1091 # bench/lib.bash is linted as a script of its own
  . "$REPO_ROOT/bench/lib.bash"
  for value in 10 40 12; do add_sample "zone ns" "$value"; done
  for value in 20 80 12; do add_sample "glibc ns" "$value"; done
  # Ratios 0.5, 0.5 and 1: their median is 0.50; the medians' ratio, 12/20, would say 0.60.
  [[ $(paired_ratio "zone ns" "glibc ns") == 0.50 ]] || fail "paired: $(paired_ratio "zone ns" "glibc ns")"
  add_sample "short ns" 10
  add_sample "short ns" 40
  # Two samples against three: no pairs, so the medians' ratio, 25/20.
  [[ $(paired_ratio "short ns" "glibc ns") == 1.25 ]] || fail "unpaired: $(paired_ratio "short ns" "glibc ns")"
}
