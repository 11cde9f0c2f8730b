#!/usr/bin/env bats
# Every program the project builds keeps the same command-line manners.

load helper

setup() {
  [[ -s $BIN_DIR/programs.txt ]] || fail "$BIN_DIR/programs.txt is missing (run make)"
  mapfile -t programs <"$BIN_DIR/programs.txt"
}

@test "at least one program is built" {
  ((${#programs[@]} > 0)) || fail "programs.txt lists no program"
  for p in "${programs[@]}"; do
    [[ -x $(prog "$p") ]] || fail "$(prog "$p") is listed but not executable"
  done
}

@test "every program answers --help and -h with usage on stdout and exit 0" {
  for p in "${programs[@]}"; do
    for flag in --help -h; do
      run_prog "$p" "$flag"
      assert_success
      [[ $output == *Usage:* ]] || fail "$p $flag prints a Usage: line"
      [[ -z $stderr ]] || fail "$p $flag prints nothing on stderr"
    done
  done
}

@test "every program rejects an unknown long option with exit 2 and one line on stderr" {
  for p in "${programs[@]}"; do
    run_prog "$p" --no-such-option
    assert_usage_error "no-such-option"
  done
}

@test "every program rejects an unknown short option with exit 2" {
  for p in "${programs[@]}"; do
    run_prog "$p" -Z
    assert_usage_error "-Z"
  done
}

@test "no program dies by a signal on hostile arguments" {
  long=$(printf 'x%.0s' {1..5000})
  for p in "${programs[@]}"; do
    for args in "--help=x" "%s%s%n%n" "$long" "--$long" $'\x01\xff' "-"; do
      run_prog "$p" "$args"
      assert_no_hang_or_signal
      ((status == 2)) || fail "$p '$args' is a usage error (exit 2)"
    done
  done
}

@test "every program fails with exit 1 and one line when its output cannot be written" {
  for p in "${programs[@]}"; do
    run_prog_stdout /dev/full "$p" --help
    assert_status 1
    [[ $stderr == "$p: write to standard output: No space left on device (ENOSPC)" ]] ||
      fail "$p says which write failed and why"
    run_prog_stdout closed "$p" --help
    assert_status 1
    [[ $stderr == "$p: write to standard output: Bad file descriptor (EBADF)" ]] ||
      fail "$p says standard output is closed"
  done
  run_prog_stdout /dev/full 01_mmap_large_array --size 4M --mode touch # a result, not the help
  assert_status 1
}

@test "a usage error stays one line, whatever the arguments hold (control characters escaped)" {
  for p in "${programs[@]}"; do
    for args in $'bad\narg' $'--no-such\noption' $'--help\n'; do
      run_prog "$p" "$args"
      assert_status 2
      count=$(printf '%s\n' "$stderr" | grep -c '')
      ((count == 1)) || fail "$p: one line on stderr for an argument with a newline (got $count)"
      [[ $stderr == *'\n'* ]] || fail "$p shows the newline as \\n"
    done
  done
}

@test "help text is ASCII only" {
  for p in "${programs[@]}"; do
    run_prog "$p" --help
    if printf '%s' "$output" | LC_ALL=C grep -q '[^[:print:][:space:]]'; then
      fail "$p --help prints only ASCII"
    fi
  done
}

@test "run_all.sh runs the named lesson and ends with a summary" {
  run_cmd env BIN_DIR="$BIN_DIR" "$REPO_ROOT/run_all.sh" 01
  assert_success
  assert_output_contains "01_mmap_large_array"
  assert_output_contains "summary"
  assert_output_contains "all 1 lessons ok"
}

@test "run_all.sh works from any working directory" {
  cd "$BATS_TEST_TMPDIR"
  run_cmd env BIN_DIR="$BIN_DIR" "$REPO_ROOT/run_all.sh" --help
  assert_success
}

@test "run_all.sh rejects an unknown lesson with exit 2" {
  run_cmd "$REPO_ROOT/run_all.sh" 99
  assert_usage_error "99"
  run_cmd "$REPO_ROOT/run_all.sh" first
  assert_usage_error "first"
}

@test "run_all.sh says so when the programs are not built" {
  run_cmd env BIN_DIR="$BATS_TEST_TMPDIR/empty" "$REPO_ROOT/run_all.sh" 01
  assert_status 1
  assert_stderr_contains "make"
}

@test "test/run says why it has no bats: npm missing, or npm ci failing" {
  local root=$BATS_TEST_TMPDIR/repo bin=$BATS_TEST_TMPDIR/bin tool
  mkdir -p "$root/test" "$bin"
  cp "$REPO_ROOT/test/run" "$root/test/run"
  for tool in bash dirname cat; do
    ln -s "$(command -v "$tool")" "$bin/$tool"
  done
  run_cmd env PATH="$bin" bash "$root/test/run"
  assert_status 1
  assert_stderr_contains "npm is not available"
  printf '#!%s\necho "npm ERR! network" >&2\nexit 1\n' "$(command -v bash)" >"$bin/npm"
  chmod +x "$bin/npm"
  run_cmd env PATH="$bin" bash "$root/test/run"
  assert_status 1
  assert_stderr_contains "npm ci failed"
  [[ $stderr != *"npm is not available"* ]] || fail "it does not say npm is missing when npm ci failed"
}

@test "make help lists the targets" {
  run_cmd make -s -C "$REPO_ROOT" help
  assert_success
  for target in all test run clean help lint check-sanitizers; do
    [[ $output == *"  $target "* ]] || fail "make help lists '$target'"
  done
}

@test "run_all.sh's summary says what lessons 01 to 04 showed, from their facts" {
  run_cmd env BIN_DIR="$BIN_DIR" "$REPO_ROOT/run_all.sh" 01 02 03 04
  assert_success
  summary=$(printf '%s\n' "$output" | sed -n '/########## summary ##########/,$p')
  for pattern in \
    '^01_mmap_large_array +[0-9]+ ms  256 MiB mapped: \+[0-9,]+ KiB until touched; [0-9,]+ faults, 1 per page; huge pages: ' \
    '^02_mmap_file +[0-9]+ ms  16 MiB file: scan \+[0-9,]+ KiB RSS \([0-9]+ dirty\); mmap [0-9]+\.[0-9]{2}x read\(\)'"'"'s time, peak \+[0-9,]+ vs \+[0-9,]+ KiB; SIGBUS past the end caught \(BUS_ADRERR\)$' \
    '^03_mmap_shared_counter +[0-9]+ ms  racy lost [0-9,]+ of 4,000,000 \([0-9]+%\); atomic exact, mutex exact; mutex [0-9]+\.[0-9]{2}x atomic'"'"'s time, private [0-9]+\.[0-9]{2}x$' \
    "^04_fork_cow +[0-9]+ ms  child's write: [0-9]+ fault, 1 frame -> 2 \(.*\); fork: [0-9]+\.[0-9]{2} ms at 16 MiB touched, [0-9]+\.[0-9]{2} ms at 256 MiB$"; do
    grep -Eq "$pattern" <<<"$summary" || fail "the summary has a line matching: $pattern"
  done
  [[ $summary != *"no summary"* ]] || fail "every summary line found its facts"
  if [[ -z $SANITIZER ]]; then
    grep -q '256 MiB mapped: +0 KiB until touched; 65,536 faults, 1 per page' <<<"$summary" ||
      fail "lesson 01's line says +0 KiB and 65,536 faults"
  fi
}

@test "run_all.sh's summary line for 04 names the frames as root and the exclusive bits otherwise" {
  run_cmd env BIN_DIR="$BIN_DIR" "$REPO_ROOT/run_all.sh" 04
  assert_success
  if ((EUID == 0)); then
    grep -Eq "1 frame -> 2 \(0x[0-9a-f]+ -> 0x[0-9a-f]+\)" <<<"$output" || fail "as root the frames are named"
  else
    assert_output_contains "1 frame -> 2 (exclusive bits)"
  fi
}

@test "run_all.sh's summary line for 07 is built from the facts of its default run" {
  run_cmd env BIN_DIR="$BIN_DIR" "$REPO_ROOT/run_all.sh" 07
  assert_success
  grep -Eq "parent and child share blocks: yes; racy bump: [0-9,]+ of 200,000 blocks twice when preempted, [0-9,]+ left alone; fetch-add 0; [0-9]+ SIGKILLs: check ok, 0 spans lost; another process's pointer: garbage, its offset: ok$" <<<"$output" ||
    fail "lesson 07's summary line"
}

@test "run_all.sh says ok for a lesson without a summary line, and which facts a line lacks" {
  fake=$BATS_TEST_TMPDIR/fake-bin
  mkdir "$fake"
  # a lesson 01 that prints one of the facts its summary line needs
  printf '#!/bin/sh\necho size_bytes=268435456\n' >"$fake/01_mmap_large_array"
  # every lesson has a summary line now: a copy of run_all.sh beside a lesson
  # 08 that has none
  printf '#!/bin/sh\necho command=demo\n' >"$fake/08_new_lesson"
  chmod +x "$fake"/*
  copy=$BATS_TEST_TMPDIR/repo
  mkdir -p "$copy/common" "$copy/01_mmap_large_array" "$copy/08_new_lesson"
  cp "$REPO_ROOT/run_all.sh" "$copy/"
  cp "$REPO_ROOT/common/fact.awk" "$copy/common/"
  run_cmd env BIN_DIR="$fake" "$copy/run_all.sh" 01 08
  assert_success
  grep -Eq '^01_mmap_large_array +[0-9]+ ms  ok \(no summary: the output lacks .*minor_faults.*\)$' <<<"$output" ||
    fail "lesson 01's line names the facts it lacked"
  grep -Eq '^08_new_lesson +[0-9]+ ms  ok$' <<<"$output" || fail "lesson 08's line is ok"
}

@test "run_all.sh passes each lesson's output through and keeps its exit status" {
  fake=$BATS_TEST_TMPDIR/fake-bin
  mkdir "$fake"
  printf '#!/bin/sh\necho first line\nexit 3\n' >"$fake/02_mmap_file"
  chmod +x "$fake/02_mmap_file"
  run_cmd env BIN_DIR="$fake" "$REPO_ROOT/run_all.sh" 02
  assert_status 1
  assert_output_contains "first line"
  grep -Eq '^02_mmap_file +[0-9]+ ms  failed \(exit 3\)$' <<<"$output" || fail "the failure is in the summary"
  assert_output_contains "1 of 1 lessons failed"
}
