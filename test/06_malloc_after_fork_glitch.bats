#!/usr/bin/env bats
# Lesson 06: fork() in a multithreaded process.
#
# The default run (every mode, 2.5 to 5 s; 15-25 s under a sanitizer) runs
# once, in setup_file; most tests read its output.

load helper

P=06_malloc_after_fork_glitch

# Processes whose executable is the lesson's program.
count_ours() {
  local exe=$1 n=0 p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$exe" ]] && n=$((n + 1))
  done
  printf '%s\n' "$n"
}

setup_file() {
  local exe start limit
  exe=$(readlink -f "$(prog $P)")
  [[ -x $exe ]] || return 0 # the tests say it is not built
  count_ours "$exe" >"$BATS_FILE_TMPDIR/ours_before"
  start=$EPOCHREALTIME
  # a hang detector: a sanitizer build forks several times slower (25-60 s)
  limit=$TEST_TIMEOUT
  [[ -z ${SANITIZER:-} ]] || limit=$((TEST_TIMEOUT * 4))
  timeout -k 5 "$limit" "$exe" >"$BATS_FILE_TMPDIR/stdout" 2>"$BATS_FILE_TMPDIR/stderr"
  echo $? >"$BATS_FILE_TMPDIR/status"
  echo $(((${EPOCHREALTIME/./} - ${start/./}) / 1000)) >"$BATS_FILE_TMPDIR/elapsed_ms"
  count_ours "$exe" >"$BATS_FILE_TMPDIR/ours_after"
}

# The default run, as if run_prog had just run it.
default_run() {
  [[ -f $BATS_FILE_TMPDIR/status ]] || fail "$(prog $P) is not built (run make)"
  # shellcheck disable=SC2034 # read by fail() in helper.bash
  LAST_COMMAND="$(prog $P) (the default run, from setup_file)"
  output=$(<"$BATS_FILE_TMPDIR/stdout")
  stderr=$(<"$BATS_FILE_TMPDIR/stderr")
  status=$(<"$BATS_FILE_TMPDIR/status")
  assert_success
}

# The sanitizers bring their own malloc: what it does at fork is theirs.
SANITIZER_MALLOC="malloc is the sanitizer's own allocator, not glibc's"

@test "the default run shows every mode, then a summary, and exits 0" {
  default_run
  for mode in glibc userlock atfork signal threadpool logger safe; do
    assert_output_contains "== $mode:"
    [[ -n $(fact trials mode=$mode) ]] || fail "a mode=$mode ... fact line"
  done
  assert_output_contains "== summary =="
  [[ -z $stderr ]] || fail "nothing on stderr"
}

@test "each mode's fact line has exactly the keys the issue names" {
  default_run
  for mode in glibc userlock atfork signal threadpool logger safe; do
    printf '%s\n' "$output" |
      grep -Eq "^mode=$mode trials=[0-9]+ ok=[0-9]+ deadlock=[0-9]+ crashed=[0-9]+$" ||
      fail "a line 'mode=$mode trials=N ok=N deadlock=N crashed=N'"
  done
}

@test "the default run finishes within 30 s" {
  SKIP_REASON="a sanitizer build runs it 5-7 times slower (15-21 s measured)" \
    skip_under_sanitizer asan tsan
  elapsed_ms=$(<"$BATS_FILE_TMPDIR/elapsed_ms")
  ((elapsed_ms < 30000)) || fail "the default run took ${elapsed_ms} ms"
}

@test "no process of ours is left alive, and no child unreaped" {
  default_run
  assert_fact children_left -eq 0
  before=$(<"$BATS_FILE_TMPDIR/ours_before")
  after=$(<"$BATS_FILE_TMPDIR/ours_after")
  ((after == before)) || fail "processes running $P: $before before, $after after"
}

@test "glibc: the C library and its version are printed" {
  default_run
  assert_fact libc == glibc
  assert_fact libc_version == "$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)"
}

@test "glibc: every child of a parent whose threads hammer malloc allocates" {
  SKIP_REASON="$SANITIZER_MALLOC; it takes no lock at fork: 1-8 of 200 children deadlocked under ASan, 0-2 of 200 under TSan" \
    skip_under_sanitizer asan tsan
  default_run
  assert_fact trials -eq 200 mode=glibc
  assert_fact ok -eq 200 mode=glibc
  assert_fact deadlock -eq 0 mode=glibc
  assert_fact crashed -eq 0 mode=glibc
  assert_fact one_arena -eq 1
}

@test "glibc: fork() waits for a held arena lock, and the child then allocates" {
  SKIP_REASON="ASan intercepts malloc_stats(), which then holds no glibc lock" \
    skip_under_sanitizer asan
  default_run
  assert_fact holder_blocked_in == write lock_holder=malloc_stats
  assert_fact fork_blocked_in == futex lock_holder=malloc_stats
  assert_fact fork_returned_after_release -eq 1 lock_holder=malloc_stats
  assert_fact child == ok lock_holder=malloc_stats
}

@test "userlock: a lock held at fork with no handler deadlocks the child, every trial" {
  default_run
  trials=$(fact trials mode=userlock)
  ((trials >= 1)) || fail "userlock ran at least one trial"
  assert_fact deadlock -eq "$trials" mode=userlock
  assert_fact ok -eq 0 mode=userlock
  for ((i = 1; i <= trials; i++)); do
    assert_fact result == deadlock trial=$i fork_handlers=0
  done
}

@test "atfork: with pthread_atfork handlers every child allocates" {
  default_run
  assert_fact ok -eq "$(fact trials mode=atfork)" mode=atfork
  assert_fact deadlock -eq 0 mode=atfork
  assert_fact hammered_ok -eq "$(fact hammered_forks)"
}

@test "pthread_atfork: prepare handlers run last-registered first, parent and child in order" {
  default_run
  assert_fact prepare_order == 321
  assert_fact parent_order == 123
  assert_fact child_order == 123
}

@test "fork runs the pthread_atfork handlers; _Fork and posix_spawn do not" {
  default_run
  assert_fact atfork_handlers_ran -eq 1 call=fork
  assert_fact atfork_handlers_ran -eq 0 call=_Fork
  assert_fact atfork_handlers_ran -eq 0 call=posix_spawn
}

@test "signal: fork() in a handler that interrupted malloc deadlocks the parent, inside fork()" {
  SKIP_REASON="$SANITIZER_MALLOC (and TSan delays signals): 3 of 3 trials ran 100 forks without a deadlock" \
    skip_under_sanitizer asan tsan
  default_run
  trials=$(fact trials mode=signal)
  assert_fact deadlock -eq "$trials" mode=signal
  for ((i = 1; i <= trials; i++)); do
    assert_fact stuck_in == fork trial=$i
    assert_fact blocked_in == futex trial=$i
  done
}

@test "signal: _Fork() in the same handler never deadlocks" {
  default_run
  assert_fact result == ok fork_call=_Fork
}

@test "signal: one thread left is not enough; glibc still takes malloc's locks" {
  SKIP_REASON="$SANITIZER_MALLOC (and TSan delays signals): no deadlock measured" \
    skip_under_sanitizer asan tsan
  default_run
  assert_fact single_threaded_flag -eq 0 fork_call=fork threads=1
  assert_fact result == deadlock fork_call=fork threads=1
  assert_fact stuck_in == fork fork_call=fork threads=1
}

@test "threadpool: the child has exactly one thread; jobs frozen mid-flight, their locks held" {
  default_run
  assert_fact ok -eq "$(fact trials mode=threadpool)" mode=threadpool
  assert_fact threads_in_child -eq 1
  assert_fact threads_in_parent -ge 4
  assert_fact jobs_running -eq 3
  assert_fact jobs_queued -eq 3
  assert_fact job_progress_pct -eq 50
  assert_fact job_locks_held -eq 3
  assert_fact pool_lock_held -eq 0
  assert_fact parent_jobs_finished -eq 6
}

@test "logger: the child's logger notices the pid change and finds the lock held" {
  default_run
  trials=$(fact trials mode=logger)
  assert_fact ok -eq "$trials" mode=logger
  assert_fact forks_with_lock_held -eq "$trials"
  assert_fact forks_noticed -eq "$trials"
  assert_fact inherited_lock == held
  assert_fact inherited_pending_records -ge 1
  assert_fact inherited_records -ge 1
}

@test "logger --no-pid-check: every child waits for the inherited lock, and the text says so" {
  run_prog $P --mode logger --no-pid-check --trials 2
  assert_success
  assert_fact deadlock -eq 2 mode=logger
  assert_fact forks_noticed -eq 0
  [[ -z $(fact inherited_lock) ]] || fail "no inherited_* facts when no logger noticed the fork"
  [[ $output != *"saw getpid() change"* ]] || fail "the text does not claim the pid check ran"
  assert_output_contains "No logger checked getpid()"
}

@test "signal --block-sizes 16-1000: blocks the thread cache serves, no crash, an honest verdict" {
  run_prog $P --mode signal --block-sizes 16-1000
  assert_success
  assert_fact crashed -eq 0 mode=signal
  assert_output_contains "blocks of 16 to 1000 bytes (within the thread cache"
  trials=$(fact trials mode=signal)
  deadlocks=$(fact deadlock mode=signal)
  if ((deadlocks < trials)); then
    assert_output_contains "trials did not hang"
  fi
  if ((deadlocks > 0)); then
    assert_output_contains "trials hung inside fork()"
  fi
}

@test "exercise 1: a short or a long watchdog, the userlock verdict is the same" {
  run_prog $P --mode userlock --timeout-ms 50
  assert_success
  assert_fact deadlock -eq "$(fact trials mode=userlock)" mode=userlock
  run_prog $P --mode userlock --timeout-ms 5000 --trials 1
  assert_success
  assert_fact deadlock -eq 1 mode=userlock
}

@test "the summary says whether every mode ended as predicted" {
  default_run
  assert_fact modes_not_as_predicted -eq 0
  assert_output_contains "Every mode ended as the lesson predicts."
}

@test "safe: with the lock held, async-signal-safe child, fork+exec and posix_spawn all work" {
  default_run
  for pattern in async_signal_safe fork_exec posix_spawn; do
    assert_fact result == ok pattern=$pattern
  done
  assert_fact ok -eq "$(fact trials mode=safe)" mode=safe
}

@test "--trials and --timeout-ms are honoured, and a killed deadlock leaves nothing behind" {
  exe=$(readlink -f "$(prog $P)")
  before=$(count_ours "$exe")
  run_prog $P --mode userlock --trials 2 --timeout-ms 100
  assert_success
  assert_fact trials -eq 2 mode=userlock
  assert_fact deadlock -eq 2 mode=userlock
  assert_output_contains "timed out after 100 ms"
  assert_fact children_left -eq 0
  after=$(count_ours "$exe")
  ((after == before)) || fail "processes running $P: $before before, $after after"
}

@test "one mode alone runs only that mode" {
  run_prog $P --mode threadpool --trials 2
  assert_success
  assert_fact trials -eq 2 mode=threadpool
  mode_lines=$(printf '%s\n' "$output" | grep -c '^mode=')
  ((mode_lines == 1)) || fail "one mode=... line (there are $mode_lines)"
  [[ $output != *"== summary"* ]] || fail "no summary for a single mode"
}

@test "bad arguments are usage errors" {
  run_prog $P --mode nope
  assert_usage_error "--mode"
  run_prog $P --trials 0
  assert_usage_error "--trials"
  run_prog $P --trials 10001
  assert_usage_error "--trials"
  run_prog $P --trials 3x
  assert_usage_error "--trials"
  run_prog $P --timeout-ms 9
  assert_usage_error "--timeout-ms"
  run_prog $P --timeout-ms 60001
  assert_usage_error "--timeout-ms"
  run_prog $P --timeout-ms
  assert_usage_error "--timeout-ms"
  run_prog $P all
  assert_usage_error "all"
  for range in 16 1000-16 0-100 16-1x -16 16-2M; do
    run_prog $P --mode signal --block-sizes "$range"
    assert_usage_error "--block-sizes"
  done
}
