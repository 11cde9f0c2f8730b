#!/usr/bin/env bats
# Lesson 03: a counter shared by processes - lost updates, then atomics and a
# process-shared mutex.
#
# The racy method is run under every build, TSan included: ThreadSanitizer
# watches the threads of one process, and each child here is a process of
# its own with one thread, so it has nothing to report (checked: no report,
# exit 0).  How many updates racy loses is up to the scheduler, so its tests
# only bound the count.

load helper

P=03_mmap_shared_counter

# assert_exact METHOD: on METHOD's line, the parent read every update in
# every round.
assert_exact() {
  local expected
  expected=$(fact expected "method=$1")
  assert_fact final -eq "$expected" "method=$1"
  assert_fact lost -eq 0 "method=$1"
  assert_fact exact_rounds -eq "$(fact rounds "method=$1")" "method=$1"
}

@test "atomic_fetch_add is exact for several process counts and sizes" {
  for pn in 1x1000 2x200000 4x250000 7x30000 64x2000; do
    run_prog $P --method atomic --procs "${pn%x*}" --increments "${pn#*x}" --rounds 2
    assert_success
    assert_fact expected -eq $((${pn%x*} * ${pn#*x})) method=atomic
    assert_exact atomic
  done
}

@test "a process-shared mutex in the page is exact for several process counts and sizes" {
  for pn in 1x1000 2x100000 4x100000 7x20000 64x1000; do
    run_prog $P --method mutex --procs "${pn%x*}" --increments "${pn#*x}" --rounds 2
    assert_success
    assert_exact mutex
  done
}

@test "the mutex run also times atomic and prints its cost as a ratio to it" {
  run_prog $P --method mutex --procs 2 --increments 100000
  assert_success
  assert_exact atomic
  assert_fact time_vs_atomic_pct -eq 100 method=atomic
  assert_fact time_vs_atomic_pct -gt 0 method=mutex
  assert_output_contains "the time of atomic's"
}

@test "racy never reads more than was added, and never nothing: 0 < final <= expected" {
  for pn in 2x100000 4x1000000 9x50000; do
    run_prog $P --method racy --procs "${pn%x*}" --increments "${pn#*x}"
    assert_success
    assert_fact final -gt 0 method=racy
    assert_fact final -le $((${pn%x*} * ${pn#*x})) method=racy
    assert_fact lost -ge 0 method=racy
  done
}

@test "racy with a single child loses nothing, and says why" {
  run_prog $P --method racy --procs 1 --increments 100000
  assert_success
  assert_fact lost -eq 0 method=racy
  assert_fact overlap_ns -eq 0 method=racy
  assert_output_contains "nobody to race with"
}

@test "children stay on the CPUs the parent may use: one CPU is reported as one" {
  command -v taskset >/dev/null || skip "taskset is not installed"
  run_cmd taskset -c 0 "$(prog $P)" --method racy --procs 3 --increments 100000
  assert_success
  assert_fact cpus_usable -eq 1
  assert_fact final -gt 0 method=racy
  assert_fact final -le 300000 method=racy
}

@test "a MAP_PRIVATE page leaves the parent at 0 while each child counted in its own copy" {
  run_prog $P --method private --procs 3 --increments 50000
  assert_success
  assert_fact final -eq 0 method=private
  assert_fact lost -eq 150000 method=private
  assert_fact child_final_min -eq 50000 method=private
  assert_fact child_final_max -eq 50000 method=private
}

@test "the default run shows the four methods, each timed against atomic, and the table" {
  run_prog $P
  assert_success
  assert_fact rounds -eq 3
  assert_fact expected -eq 4000000
  assert_exact atomic
  assert_exact mutex
  assert_fact final -gt 0 method=racy
  assert_fact final -le 4000000 method=racy
  assert_fact final -eq 0 method=private
  assert_fact time_vs_atomic_pct -eq 100 method=atomic
  for m in racy mutex private; do
    assert_fact time_vs_atomic_pct -gt 0 "method=$m"
    assert_fact elapsed_ns -gt 0 "method=$m"
  done
  assert_output_contains "vs atomic"
}

@test "a child killed by a signal is reported by name and fails the run" {
  cd "$BATS_TEST_TMPDIR" # should a core file be written anyway, it lands here
  # A one-second CPU limit (soft: SIGXCPU) ends children that would count
  # for far longer; the parent, which only waits, stays under it.
  # shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
  run_cmd bash -c 'ulimit -c 0 && ulimit -S -t 1 && exec "$0" "$@"' "$(prog $P)" \
    --method atomic --procs 2 --increments 2000000000 --rounds 1
  assert_status 1
  assert_stderr_contains "$P: atomic: 2 of 2 children failed; the first: child "
  assert_stderr_contains "killed by SIGXCPU"
  [[ $output != *method=atomic* ]] || fail "no result is printed for a failed run"
}

@test "children do not count on after their parent is killed" {
  command -v pgrep >/dev/null || skip "pgrep (procps) is not installed"
  # They have process groups of their own, so only the kernel's parent-death
  # signal can stop them; a dead child may stay a zombie of whoever adopts it.
  "$(prog $P)" --method atomic --procs 2 --increments 2000000000 --rounds 1 >/dev/null 3>&- &
  parent=$!
  kids=()
  for _ in {1..250}; do
    mapfile -t kids < <(pgrep -P "$parent")
    ((${#kids[@]} == 2)) && break
    sleep 0.02
  done
  ((${#kids[@]} == 2)) || fail "the parent started two children"
  kill -TERM "$parent"
  wait "$parent" || true
  for kid in "${kids[@]}"; do
    for _ in {1..250}; do
      state=$(ps -o stat= -p "$kid" || true)
      [[ -z $state || $state == Z* ]] && break
      sleep 0.02
    done
    [[ -z $state || $state == Z* ]] || fail "child $kid ended with its parent (state: $state)"
  done
}

@test "--procs must be 1 to 64" {
  for procs in 0 65 1000000 -1 two ''; do
    run_prog $P --procs "$procs"
    assert_usage_error "--procs"
  done
}

@test "--procs x --increments beyond the 32-bit counter is a usage error" {
  for pn in 2x2147483648 4x1073741824 64x67108864; do
    run_prog $P --procs "${pn%x*}" --increments "${pn#*x}"
    assert_usage_error "32-bit counter"
  done
  run_prog $P --increments 4294967296
  assert_usage_error "--increments"
}

@test "bad increments, rounds and methods are usage errors that name the option" {
  for n in 0 -5 1e6 1M ''; do
    run_prog $P --increments "$n"
    assert_usage_error "--increments"
  done
  for r in 0 26 x; do
    run_prog $P --rounds "$r"
    assert_usage_error "--rounds"
  done
  run_prog $P --method sideways
  assert_usage_error "racy|atomic|mutex|private|all"
  run_prog $P --method racy extra
  assert_usage_error "extra"
}

@test "the help names every option and method and the process cap" {
  run_prog $P --help
  assert_success
  for word in --procs --increments --method --rounds racy atomic mutex private all 64; do
    assert_output_contains "$word"
  done
}

# --- the words at the end follow the numbers ---

# words_for PCT LOW HIGH BELOW AROUND ABOVE: the phrase the program must
# have chosen for a percentage.
words_for() {
  if (($1 < $2)); then echo "$4"; elif (($1 <= $3)); then echo "$5"; else echo "$6"; fi
}

@test "the default run's closing sentences are chosen from its percentages" {
  run_prog $P
  assert_success
  racy=$(fact time_vs_atomic_pct method=racy)
  assert_output_contains "$(words_for "$racy" 80 125 "racy's unprotected ++ took $racy% of the atomic add's time:" \
    "racy's unprotected ++ took about the atomic add's time ($racy%)" \
    "racy's unprotected ++ took longer than the atomic add here ($racy%)")"
  private=$(fact time_vs_atomic_pct method=private)
  if ((private < 80)); then
    assert_output_contains "took $private% of
atomic's time: the rest of atomic's time went on passing the shared cache line"
  else
    assert_output_contains "took $private% of atomic's
time: sharing cost little in this run"
  fi
  mutex=$(fact time_vs_atomic_pct method=mutex)
  if ((mutex <= 125)); then
    assert_output_contains "cost about what the atomic add cost ($mutex%)"
  else
    assert_output_contains "the process-shared mutex cost $(awk -v p="$mutex" 'BEGIN { printf "%.1f", p / 100 }') times the atomic add"
  fi
}

@test "racy is said to lose updates to the other CPU only when it lost some" {
  run_prog $P --method all --procs 1 --increments 100000
  assert_success
  [[ $output != *"overwrite its work"* ]] || fail "one child loses nothing, and nothing is said to overwrite it"
}

@test "on one CPU the closing sentences say so" {
  command -v taskset >/dev/null || skip "taskset is not installed"
  run_cmd taskset -c 0 "$(prog $P)" --increments 100000
  assert_success
  [[ $output != *"other CPU"* ]] || fail "no other CPU is mentioned on one CPU"
  racy=$(fact time_vs_atomic_pct method=racy)
  ((racy >= 80)) || assert_output_contains "on one CPU an unlocked add is simply cheaper"
}

# --- the exercises that need only the program's options ---

@test "exercise 1: the mutex with 1, 2, 4 and 16 processes, 4000000 additions each time" {
  for pn in 1x4000000 2x2000000 4x1000000 16x250000; do
    run_prog $P --method mutex --procs "${pn%x*}" --increments "${pn#*x}"
    assert_success
    assert_exact mutex
    assert_fact expected -eq 4000000 method=mutex
    assert_fact time_vs_atomic_pct -gt 0 method=mutex
  done
}

@test "exercise 2: on one CPU, two long racy loops run and never read more than was added" {
  command -v taskset >/dev/null || skip "taskset is not installed"
  run_cmd taskset -c 0 "$(prog $P)" --method racy
  assert_success
  run_cmd taskset -c 0 "$(prog $P)" --method racy --procs 2 --increments 20000000 --rounds 1
  assert_success
  assert_fact cpus_usable -eq 1
  assert_fact final -le 40000000 method=racy
  assert_fact final -gt 0 method=racy
}

@test "under ulimit -u, when a fork fails, every child already started is reaped" {
  ((EUID == 0)) || skip "needs root to run as nobody, whose process count the limit counts"
  local nobody limit
  nobody=$(grep -l '^Uid:[[:space:]]*65534[[:space:]]' /proc/[0-9]*/status 2>/dev/null | wc -l)
  limit=$((nobody + 4)) # the reaper, the program and two children: the third fork fails
  run_cmd setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c \
    "ulimit -u $limit && exec '$(prog orphan_reap)' '$(prog $P)' --procs 8 --increments 1000 --method atomic"
  assert_status 1
  assert_stderr_contains "fork: Resource temporarily unavailable (EAGAIN)"
  assert_fact orphans -eq 0
}
