#!/usr/bin/env bats
# Lesson 02: a file mapped into memory.

load helper

P=02_mmap_file

# The default demo runs once for the whole file, in a TMPDIR of its own;
# the tests below read its output.
setup_file() {
  export DEMO_TMPDIR=$BATS_FILE_TMPDIR/demo-tmp
  mkdir -p "$DEMO_TMPDIR"
  TMPDIR=$DEMO_TMPDIR timeout -k 5 60 "$BIN_DIR/$P" >"$BATS_FILE_TMPDIR/demo.out" \
    2>"$BATS_FILE_TMPDIR/demo.err"
  echo $? >"$BATS_FILE_TMPDIR/demo.status"
}

# load_run BASE STATUS COMMAND: set $output, $stderr, $status (and what
# fail() shows) from a run whose stdout and stderr went to BASE.out, .err.
load_run() {
  output=$(<"$1.out")
  stderr=$(<"$1.err")
  status=$2
  # shellcheck disable=SC2034 # read by fail() in helper.bash
  LAST_COMMAND=$3
}

demo_output() {
  load_run "$BATS_FILE_TMPDIR/demo" "$(<"$BATS_FILE_TMPDIR/demo.status")" \
    "TMPDIR=$DEMO_TMPDIR $P (run once in setup_file)"
  assert_success
}

# A file system whose pages cannot be dropped or written back (tmpfs).
tmpdir_is_tmpfs() {
  [[ $(stat -f -c %T "$DEMO_TMPDIR") == tmpfs ]]
}

# count_matches_wc FILE [OPTIONS...]: both methods agree with wc -l and wc -c.
count_matches_wc() {
  local file=$1
  shift
  run_prog $P count "$file" --method both --rounds 1 "$@"
  assert_success
  assert_fact counts_agree -eq 1
  local lines bytes
  lines=$(wc -l <"$file")
  bytes=$(wc -c <"$file")
  for method in read mmap; do
    assert_fact lines -eq "$lines" method=$method
    assert_fact bytes -eq "$bytes" method=$method
  done
}

@test "the default demo runs every step and prints its facts" {
  demo_output
  for step in read_only shared private residency sigbus; do
    [[ -n $(fact step step=$step) ]] || fail "the demo prints the facts of step $step"
  done
  assert_fact size_bytes -eq $((16 << 20))
  assert_fact lines_written -eq $((16 << 20 >> 6))
}

@test "the demo leaves nothing in TMPDIR" {
  demo_output
  [[ -z $(ls -A "$DEMO_TMPDIR") ]] || fail "TMPDIR is empty after the demo: $(ls -A "$DEMO_TMPDIR")"
}

@test "a read-only mapping read like an array finds the lines read() finds" {
  demo_output
  written=$(fact lines_written step=read_only)
  assert_fact lines -eq "$written" step=read_only
  assert_fact lines_by_read -eq "$written" step=read_only
  assert_output_contains 'data[0..62]: "line 000000000: '
}

@test "the scratch file is unlinked at once: /proc/self/maps says deleted" {
  demo_output
  assert_fact maps_says_deleted -eq 1 step=read_only
}

@test "a store into a MAP_SHARED mapping is in the file before msync" {
  demo_output
  assert_fact in_file_before_msync -eq 1 step=shared
  assert_fact in_file_after_msync -eq 1 step=shared
}

@test "msync(MS_SYNC) writes the dirty page back: the mapping is clean after it" {
  tmpdir_is_tmpfs && skip "tmpfs has no disk to write back to"
  demo_output
  assert_fact dirty_before_msync_kib -gt 0 step=shared
  assert_fact dirty_after_msync_kib -eq 0 step=shared
}

@test "a store into a MAP_PRIVATE mapping is seen there only, in a copied page" {
  demo_output
  assert_fact seen_in_mapping -eq 1 step=private
  assert_fact seen_by_shared_mapping -eq 0 step=private
  assert_fact in_file -eq 0 step=private
  before=$(fact anonymous_before_kib step=private)
  assert_fact anonymous_after_kib -gt "$before" step=private
}

@test "a scan brings every page of the file into the page cache" {
  demo_output
  pages=$(fact pages step=residency)
  assert_fact resident_after_pages -eq "$pages" step=residency
}

@test "pages dropped from the page cache are not resident before the scan" {
  tmpdir_is_tmpfs && skip "tmpfs cannot drop a file's pages"
  demo_output
  pages=$(fact pages step=residency)
  assert_fact resident_before_pages -le $((pages / 10)) step=residency
}

@test "the scanned file pages count in RSS while mapped and leave it at munmap" {
  demo_output
  size_kib=$(($(fact size_bytes) / 1024))
  before=$(fact rss_before_kib step=residency)
  assert_fact rss_after_kib -ge $((before + size_kib * 9 / 10)) step=residency
  assert_fact mapping_rss_kib -eq "$size_kib" step=residency
  assert_fact rss_after_munmap_kib -le $((before + size_kib / 20)) step=residency
}

@test "the scanned file pages are clean: the kernel may drop them" {
  tmpdir_is_tmpfs && skip "tmpfs pages are never clean: there is no disk copy"
  demo_output
  assert_fact mapping_dirty_kib -eq 0 step=residency
}

@test "the page cache keeps the pages after munmap" {
  demo_output
  pages=$(fact pages step=residency)
  assert_fact resident_after_munmap_pages -eq "$pages" step=residency
}

@test "the scan maps many pages per fault" {
  demo_output
  pages=$(fact pages step=residency)
  assert_fact minor_faults -lt $((pages / 2)) step=residency
}

@test "past the end of a truncated file: zeros in the last page, SIGBUS beyond it" {
  demo_output
  assert_fact tail_byte -eq 0 step=sigbus
  assert_fact child_end == SIGBUS step=sigbus
  assert_fact sigbus_caught -eq 1 step=sigbus
  assert_fact si_code == BUS_ADRERR step=sigbus
  touched=$(fact touched_offset_bytes step=sigbus)
  assert_fact fault_offset_bytes -eq "$touched" step=sigbus
  cut=$(fact truncated_to_bytes step=sigbus)
  ((touched > cut && touched % 4096 == 0)) || fail "the touched page lies wholly past the end"
}

@test "--size sets the demo file's size" {
  run_prog $P --size 1M
  assert_success
  assert_fact size_bytes -eq $((1 << 20))
  assert_fact lines_written -eq $((1 << 20 >> 6))
  assert_fact lines -eq $((1 << 20 >> 6)) step=read_only
}

# wait_for_exec PID NAME: until process PID runs program NAME.  A signal
# that came earlier would hit the test's own forked shell instead.
wait_for_exec() {
  local i
  for ((i = 0; i < 500; i++)); do
    [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] && return 0
    [[ -e /proc/$1 ]] || return 0 # already finished
    sleep 0.01
  done
  fail "process $1 runs $2 within 5 s"
}

@test "the demo leaves nothing behind when SIGINT or SIGTERM cuts it short" {
  dir=$BATS_TEST_TMPDIR/interrupted
  mkdir "$dir"
  for delay in 0 0.01 0.03 0.06 0.1 0.2; do
    for sig in INT TERM; do
      # env resets the dispositions a background job inherits as "ignore"
      TMPDIR=$dir env --default-signal=INT,TERM "$(prog $P)" --size 64M >/dev/null 2>&1 3>&- &
      pid=$!
      wait_for_exec "$pid" $P
      sleep "$delay"
      kill -s "$sig" "$pid" 2>/dev/null || true
      wait "$pid" || true
      left=$(ls -lA --time-style=+%T.%N "$dir" | tail -n +2)
      [[ -z $left ]] || fail "nothing is left in TMPDIR after SIG$sig at ${delay}s (left: $left)"
    done
  done
}

@test "an unusable TMPDIR is a run-time error naming the reason" {
  TMPDIR=$BATS_TEST_TMPDIR/no/such/dir run_prog $P
  assert_runtime_error ENOENT
  assert_stderr_contains mkstemp
}

@test "count prints lines= and bytes= equal to wc -l and wc -c" {
  f=$BATS_TEST_TMPDIR/text
  printf 'one\ntwo\nthree\n' >"$f"
  run_prog $P count "$f"
  assert_success
  assert_fact lines -eq 3 method=mmap
  assert_fact bytes -eq 14 method=mmap
  run_prog $P count "$f" --method read
  assert_success
  assert_fact lines -eq 3 method=read
  assert_fact bytes -eq 14 method=read
}

@test "count agrees with wc on an empty file" {
  f=$BATS_TEST_TMPDIR/empty
  : >"$f"
  count_matches_wc "$f"
  assert_fact lines -eq 0 method=mmap
}

@test "count agrees with wc on a last line without a newline" {
  f=$BATS_TEST_TMPDIR/no-newline
  printf 'first\nsecond, unterminated' >"$f"
  count_matches_wc "$f"
  assert_fact lines -eq 1 method=mmap
}

@test "count agrees with wc on NUL bytes and binary data" {
  f=$BATS_TEST_TMPDIR/nul
  printf '\0\n\0\0x\n\0\r\n\n\0' >"$f"
  count_matches_wc "$f"
  assert_fact lines -eq 4 method=mmap
  head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/random"
  count_matches_wc "$BATS_TEST_TMPDIR/random"
}

@test "count agrees with wc on lengths around the loop's 64-byte steps and pages" {
  for len in 1 63 64 65 4095 4096 4097 16319 16320 16321 16384; do
    f=$BATS_TEST_TMPDIR/len$len
    head -c "$len" /dev/zero | tr '\0' '\n' >"$f"
    count_matches_wc "$f"
    assert_fact lines -eq "$len" method=mmap
  done
}

@test "count agrees with wc with the memchr loop too" {
  f=$BATS_TEST_TMPDIR/mixed
  { seq 1 5000; printf '\0\0tail'; } >"$f"
  count_matches_wc "$f" --loop memchr
  assert_fact loop == memchr method=mmap
}

@test "count agrees with wc past 4 GiB, with one 256 MiB window in RSS at a time" {
  f=$BATS_TEST_TMPDIR/big
  truncate -s $((4 << 30)) "$f" # sparse: reads as zeros, takes no disk
  # newlines on both sides of 2^32, which is also a mapping window boundary
  printf 'x\n\ny\nlast line, no newline' |
    dd of="$f" bs=1 seek=$(((4 << 30) - 2)) conv=notrunc status=none
  method=both
  # ThreadSanitizer's read() interceptor makes a 4 GiB read pass take
  # many seconds; the mapped pass is the one this edge is about.
  [[ $SANITIZER == tsan ]] && method=mmap
  run_prog $P count "$f" --method $method --rounds 1
  wc_lines=$(wc -l <"$f")
  wc_bytes=$(wc -c <"$f")
  rm -f "$f" # give the 4 GiB of page cache back at once
  assert_success
  ((wc_lines == 3 && wc_bytes == (4 << 30) + 24)) || fail "wc counts 3 lines and 2^32+24 bytes"
  assert_fact lines -eq "$wc_lines" method=mmap
  assert_fact bytes -eq "$wc_bytes" method=mmap
  [[ $method == mmap ]] || assert_fact counts_agree -eq 1
  assert_fact window_bytes -eq $((256 << 20)) method=mmap
  assert_fact max_rss_kib -lt $((400 << 10)) method=mmap
}

@test "a file that shrinks while count has it mapped is an error, not a crash" {
  f=$BATS_TEST_TMPDIR/shrinking
  truncate -s 64M "$f"
  "$(prog $P)" count "$f" --method mmap --rounds 100 >"$BATS_TEST_TMPDIR/count.out" \
    2>"$BATS_TEST_TMPDIR/count.err" 3>&- &
  pid=$!
  # truncate only once count has the file open: from then on, every round
  # maps 64 MiB of a file that has none
  for _ in $(seq 500); do
    [[ $(readlink /proc/$pid/fd/* 2>/dev/null) == *"$f"* ]] && break
    sleep 0.01
  done
  truncate -s 0 "$f"
  code=0
  wait "$pid" || code=$?
  load_run "$BATS_TEST_TMPDIR/count" "$code" "$(prog $P) count $f --method mmap --rounds 100"
  assert_runtime_error "shrank from 67108864 to 0 bytes while mapped: SIGBUS (BUS_ADRERR)"
}

@test "--method both times each method, reports the ratio and that the counts agree" {
  f=$BATS_TEST_TMPDIR/lines
  seq 1 200000 >"$f"
  run_prog $P count "$f" --method both --rounds 3
  assert_success
  assert_fact counts_agree -eq 1
  assert_fact mmap_vs_read_pct -gt 0
  for method in read mmap; do
    assert_fact rounds -eq 3 method=$method
    assert_fact elapsed_ns -gt 0 method=$method
  done
  assert_output_contains "times the time of read"
}

@test "count refuses a directory with EISDIR" {
  run_prog $P count "$BATS_TEST_TMPDIR"
  assert_runtime_error EISDIR
}

@test "count refuses a FIFO at once, without waiting for a writer" {
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  run_prog $P count "$BATS_TEST_TMPDIR/fifo" --method read
  assert_runtime_error "a FIFO"
}

@test "count refuses a device" {
  run_prog $P count /dev/null
  assert_runtime_error "a character device"
}

@test "count by mmap refuses a /proc file (size 0 with data); read counts it" {
  run_prog $P count /proc/version
  assert_runtime_error "use --method read"
  run_prog $P count /proc/version --method read
  assert_success
  assert_fact lines -eq "$(wc -l </proc/version)" method=read
}

@test "count of a missing file fails with ENOENT" {
  run_prog $P count "$BATS_TEST_TMPDIR/no-such-file"
  assert_runtime_error ENOENT
}

@test "count of a file the user cannot read fails with EACCES" {
  ((EUID == 0)) || skip "needs root to run as another user"
  # a directory everyone may enter (bats's own are private to root), so
  # that what refuses the user is the file's mode
  dir=$(mktemp -d /tmp/02_mmap_file.test.XXXXXX)
  chmod 755 "$dir"
  printf 'secret\n' >"$dir/private"
  chmod 600 "$dir/private"
  run_unprivileged $P count "$dir/private"
  rm -rf "$dir"
  # not assert_runtime_error: LAST_COMMAND starts with setpriv here
  assert_status 1
  [[ $stderr == "$P: open $dir/private: Permission denied (EACCES)" ]] ||
    fail "stderr names the file and EACCES"
}

@test "a word other than count is a usage error" {
  for word in counts COUNT status "%s%n" -; do
    run_prog $P "$word"
    assert_usage_error "unexpected argument"
  done
}

@test "count needs exactly one FILE" {
  run_prog $P count
  assert_usage_error "needs a FILE"
  run_prog $P count a b
  assert_usage_error "unexpected argument 'b'"
}

@test "count's options are usage errors without count, --size is one with it" {
  for opt in "--method read" "--rounds 2" "--loop memchr"; do
    # shellcheck disable=SC2086 # the option and its value are two words
    run_prog $P $opt
    assert_usage_error "count FILE only"
  done
  run_prog $P count /dev/null --size 1M
  assert_usage_error "--size"
}

@test "bad option values are usage errors that name the option" {
  run_prog $P count /dev/null --method mmapp
  assert_usage_error "mmap|read|both"
  run_prog $P count /dev/null --loop simd
  assert_usage_error "vector|memchr"
  for rounds in 0 101 -1 x ''; do
    run_prog $P count /dev/null --rounds "$rounds"
    assert_usage_error "--rounds"
  done
  for size in 0 1K 63K abc 12Q ''; do
    run_prog $P --size "$size"
    assert_usage_error "--size"
  done
}

@test "the help names the command and every option" {
  run_prog $P --help
  assert_success
  for word in count FILE --size --method mmap read both --rounds --loop vector memchr; do
    assert_output_contains "$word"
  done
}

@test "the bench script compares wc -l, read and mmap and removes its file" {
  dir=$BATS_TEST_TMPDIR/bench
  mkdir "$dir"
  run_cmd env TMPDIR="$dir" BIN_DIR="$BIN_DIR" "$REPO_ROOT/bench/count_vs_wc.sh" \
    --size 4M --repeat 3
  assert_success
  for key in wc_ns read_ns mmap_ns read_vs_wc_pct mmap_vs_wc_pct mmap_vs_read_pct; do
    assert_fact "$key" -gt 0
  done
  assert_fact lines -gt 0
  [[ -z $(ls -A "$dir") ]] || fail "the bench leaves nothing in TMPDIR"
}

@test "the bench script removes its file when interrupted" {
  dir=$BATS_TEST_TMPDIR/bench
  mkdir "$dir"
  for sig in INT TERM; do
    TMPDIR=$dir BIN_DIR=$BIN_DIR env --default-signal=INT,TERM \
      "$REPO_ROOT/bench/count_vs_wc.sh" --size 64M --repeat 50 >/dev/null 2>&1 3>&- &
    pid=$!
    # wait until the file exists, then interrupt
    for _ in $(seq 100); do
      [[ -n $(ls -A "$dir") ]] && break
      sleep 0.02
    done
    kill -s "$sig" "$pid"
    wait "$pid" || true
    [[ -z $(ls -A "$dir") ]] || fail "nothing is left in TMPDIR after SIG$sig"
  done
}

@test "the bench script rejects bad options with exit 2" {
  for args in "--size 0" "--size 1X" "--repeat 0" "--repeat many" "--write-size" "--bogus"; do
    # shellcheck disable=SC2086 # the option and its value are two words
    run_cmd "$REPO_ROOT/bench/count_vs_wc.sh" $args
    assert_usage_error
  done
}

# --- each method's own peak RSS ---

# read_buffer_bound: the most RSS the read() count may add, its 1 MiB buffer
# (ThreadSanitizer adds 4 MiB of shadow memory for what read() writes).
read_buffer_bound() {
  if [[ $SANITIZER == tsan ]]; then echo 6144; else echo 2048; fi
}

@test "with --method both each method reports its own peak RSS, not the process's" {
  f=$BATS_TEST_TMPDIR/sixteen
  yes 'a line of text for the peak RSS test' | head -c 16M >"$f"
  run_prog $P count "$f" --method both --rounds 2
  assert_success
  size_kib=16384
  # read() holds a 1 MiB buffer; mmap holds the whole 16 MiB file mapped
  assert_fact peak_growth_kib -ge 512 method=read # VmHWM may lag by some pages
  assert_fact peak_growth_kib -le "$(read_buffer_bound)" method=read
  assert_fact peak_growth_kib -ge $((size_kib * 9 / 10)) method=mmap
  mmap_peak=$(fact max_rss_kib method=mmap)
  assert_fact max_rss_kib -le $((mmap_peak - size_kib / 2)) method=read
}

@test "a method's peak RSS is its own whichever ran first" {
  f=$BATS_TEST_TMPDIR/sixteen
  yes 'a line of text for the peak RSS test' | head -c 16M >"$f"
  # with one round read runs first; with two, the second round starts with mmap
  for rounds in 1 2; do
    run_prog $P count "$f" --method both --rounds $rounds
    assert_success
    assert_fact peak_growth_kib -le "$(read_buffer_bound)" method=read
  done
}

@test "the peak RSS is reset and read as an unprivileged user too" {
  f=$(mktemp /tmp/02_mmap_file.peak.XXXXXX)
  yes 'a line' | head -c 4M >"$f"
  chmod 644 "$f"
  run_unprivileged $P count "$f" --method both --rounds 1
  rm -f "$f"
  assert_success
  assert_fact peak_growth_kib -le "$(read_buffer_bound)" method=read
  [[ $output != *"would not reset the peak"* ]] || fail "the peak is reset"
}

@test "the comparison's words follow its ratio" {
  f=$BATS_TEST_TMPDIR/lines
  seq 1 300000 >"$f"
  run_prog $P count "$f" --method both --rounds 3
  assert_success
  pct=$(fact mmap_vs_read_pct)
  if ((pct < 90)); then words="mmap was faster here"
  elif ((pct > 110)); then words="read() was faster here"
  else words="within 10% of each other"; fi
  assert_output_contains "$words"
  faults=$(fact minor_faults method=mmap)
  assert_output_contains "mmap $faults for "
}

# --- step 5 of the demo: read() against mmap on the scratch file ---

@test "the demo counts its file both ways, and the counts agree with what it wrote" {
  demo_output
  written=$(fact lines_written)
  assert_fact lines -eq "$written" method=read
  assert_fact lines -eq "$written" method=mmap
  assert_fact counts_agree -eq 1
  assert_fact mmap_vs_read_pct -gt 0
  assert_fact rounds -eq 5 method=mmap
  steps=$(printf '%s\n' "$output" | grep -oE '^-- [0-9]\.' | tr -d '\n')
  [[ $steps == "-- 1.-- 2.-- 3.-- 4.-- 5.-- 6." ]] || fail "the demo has six numbered steps ($steps)"
}

@test "in the demo the mapped count holds the file in RSS and the read count does not" {
  demo_output
  size_kib=$(($(fact size_bytes) / 1024))
  assert_fact peak_growth_kib -ge $((size_kib * 9 / 10)) method=mmap
  assert_fact peak_growth_kib -le "$(read_buffer_bound)" method=read
}

# --- the exercises that need only the program's options and shell tools ---

@test "exercise 1: the demo runs with --size 256M, and on tmpfs, which cannot drop its pages" {
  run_prog $P --size 256M
  assert_success
  assert_fact resident_after_pages -eq 65536 step=residency
  [[ -d /dev/shm && -w /dev/shm ]] || skip "no writable /dev/shm"
  TMPDIR=/dev/shm run_prog $P
  assert_success
  assert_output_contains "(this file system keeps them: tmpfs?)"
  assert_fact resident_before_pages -eq 4096 step=residency
}

@test "exercise 3: the bench with two write sizes, and a file counted before and after leaving the cache" {
  dir=$BATS_TEST_TMPDIR/ex3
  mkdir "$dir"
  for ws in 4K 1M; do
    run_cmd env TMPDIR="$dir" BIN_DIR="$BIN_DIR" "$REPO_ROOT/bench/count_vs_wc.sh" \
      --size 4M --repeat 1 --write-size $ws
    assert_success
    assert_fact mmap_minor_faults -gt 0
  done
  cd "$dir"
  yes 'some line' | head -c 16M | dd of=big bs=4K iflag=fullblock status=none
  run_prog $P count big --method both
  assert_success
  assert_fact counts_agree -eq 1
  dd if=big iflag=nocache count=0 status=none
  cat big >/dev/null
  run_prog $P count big --method both
  assert_success
  assert_fact counts_agree -eq 1
  assert_fact lines -eq $((16 * 1024 * 1024 / 10)) method=mmap
}

# run_prog_cutting FILE SIZE NAME ARGS...: run_prog NAME ARGS..., and cut
# FILE to SIZE bytes once the program is reading it (its read() count in
# /proc/PID/io has moved, or FILE is in its /proc/PID/maps) - or not at all
# if it finishes first.
run_prog_cutting() {
  local file=$1 size=$2
  shift 2
  # shellcheck disable=SC2034 # read by fail() in helper.bash
  LAST_COMMAND="$* (FILE cut to $size bytes while it is read)"
  run --separate-stderr cut_while_reading "$file" "$size" "$(prog "$1")" "${@:2}"
}

cut_while_reading() {
  local file=$1 size=$2 pid rchar tries
  shift 2
  timeout -k 5 "$TEST_TIMEOUT" "$@" &
  pid=$!
  for ((tries = 0; tries < 20000; tries++)); do
    local child
    child=$(pgrep -P "$pid" | head -n 1) || true
    [[ -n $child ]] || continue
    rchar=$(awk '/^rchar:/ { print $2 }' "/proc/$child/io" 2>/dev/null) || true
    if ((${rchar:-0} > 1 << 24)) || grep -qF "$file" "/proc/$child/maps" 2>/dev/null; then
      truncate -s "$size" "$file"
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
  done
  wait "$pid"
}

@test "a file that shrinks while counted is an error, by read() as by mmap, never a partial count" {
  local file=$BATS_TEST_TMPDIR/shrinking method big=$((1 << 30)) small=$((1 << 20))
  for method in read mmap; do
    local caught=0
    for _ in 1 2 3; do
      truncate -s "$big" "$file"
      run_prog_cutting "$file" "$small" $P count --method "$method" --rounds 5 "$file"
      if ((status == 0)); then
        bytes=$(fact bytes)
        ((bytes == big || bytes == small)) ||
          fail "count --method $method exited 0 with a partial count ($bytes of $big bytes)"
      else
        assert_runtime_error "the file shrank from $big to $small bytes while"
        caught=$((caught + 1))
      fi
    done
    ((caught > 0)) || fail "the file was cut while $method read it at least once in three runs"
  done
}

@test "a file its file system cannot map: mmap says so and names --method read, which counts it" {
  local sysfs=/sys/kernel/mm/transparent_hugepage/enabled
  [[ -r $sysfs ]] || skip "$sysfs is not here"
  run_prog $P count --method mmap "$sysfs"
  assert_runtime_error "mmap $sysfs: No such device (ENODEV): its file system cannot map it; count it with --method read"
  run_prog $P count --method read "$sysfs"
  assert_success
  assert_fact lines -eq 1
}

@test "a demo size above half the free space says the rule and where" {
  run_prog $P --size 1P
  assert_status 1
  [[ $stderr == *"at most half of the free space"*"TMPDIR"* ]] || fail "the message states the rule and the fix"
}
