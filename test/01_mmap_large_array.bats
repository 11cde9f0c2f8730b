#!/usr/bin/env bats
# Lesson 01: a large anonymous mapping is lazy.

load helper

P=01_mmap_large_array
SIZE_KIB=$((64 * 1024)) # the tests map 64 MiB: big enough to see, quick to touch
PAGE_KIB=4
PAGES=$((SIZE_KIB / PAGE_KIB))

thp_available() {
  [[ -r /sys/kernel/mm/transparent_hugepage/enabled ]] &&
    ! grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled
}

# residency_rows: the picture's rows, in order, from a one-mode run.
residency_rows() {
  printf '%s\n' "$output" |
    grep -E '^  (after mmap|1/4 touched|2/4 touched|3/4 touched|all touched|after release) '
}

# row_of LABEL: the characters between the bars of that row.
row_of() {
  residency_rows | grep -E "^  $1 " | sed -E 's/^[^|]*\|([^|]*)\|.*/\1/'
}

# count_char CHAR TEXT
count_char() {
  local only=${2//[^$1]/}
  printf '%d' ${#only}
}

@test "the mapping appears in /proc/self/maps after mmap and is gone after munmap" {
  run_prog $P --size 64M --mode touch
  assert_success
  start=$(fact map_start mode=touch)
  assert_output_contains "${start#0x}-"
  assert_fact in_maps_after_munmap -eq 0 mode=touch
}

@test "mmap alone barely changes RSS" {
  run_prog $P --size 64M --mode touch
  assert_success
  before=$(fact rss_before_kib mode=touch)
  assert_fact rss_after_mmap_kib -le $((before + SIZE_KIB / 100)) mode=touch
}

@test "touching every page grows RSS by about the size, and munmap gives it back" {
  run_prog $P --size 64M --mode touch
  assert_success
  mapped=$(fact rss_after_mmap_kib mode=touch)
  assert_fact rss_after_touch_kib -ge $((mapped + SIZE_KIB * 9 / 10)) mode=touch
  assert_fact rss_after_munmap_kib -le $((mapped + SIZE_KIB / 100)) mode=touch
}

@test "touching 64 MiB takes about one minor fault per 4 KiB page" {
  run_prog $P --size 64M --mode touch
  assert_success
  assert_fact minor_faults -ge $((PAGES * 9 / 10)) mode=touch
  assert_fact ns_per_fault -gt 0 mode=touch
}

@test "MAP_POPULATE moves the faults into the mmap call" {
  run_prog $P --size 64M --mode populate
  assert_success
  assert_fact mmap_minor_faults -ge $((PAGES * 9 / 10)) mode=populate
  assert_fact minor_faults -le $((PAGES / 100)) mode=populate
  before=$(fact rss_before_kib mode=populate)
  assert_fact rss_after_mmap_kib -ge $((before + SIZE_KIB * 9 / 10)) mode=populate
}

@test "MADV_HUGEPAGE takes at most 1% of the faults of 4 KiB pages" {
  thp_available || skip "transparent huge pages are unavailable here"
  run_prog $P --size 64M --mode hugepage
  assert_success
  assert_fact minor_faults -le $((PAGES / 100)) mode=hugepage
  assert_fact anon_huge_kib -gt 0 mode=hugepage
}

@test "hugepage mode is skipped, not failed, where THP is unavailable" {
  thp_available && skip "transparent huge pages are available here"
  run_prog $P --size 64M --mode hugepage
  assert_success
  assert_fact skipped -eq 1 mode=hugepage
}

@test "malloc of the same size succeeds and is a fresh anonymous mapping" {
  run_prog $P --size 64M --mode malloc
  assert_success
  assert_fact malloc_own_mapping -eq 1 mode=malloc
  assert_fact mapping_bytes -ge $((SIZE_KIB * 1024)) mode=malloc
  assert_fact minor_faults -ge $((PAGES * 9 / 10)) mode=malloc
}

@test "free gives the malloc'd mapping back to the kernel" {
  SKIP_REASON="AddressSanitizer keeps freed blocks in quarantine" skip_under_sanitizer asan
  run_prog $P --size 64M --mode malloc
  assert_success
  assert_fact in_maps_after_munmap -eq 0 mode=malloc
}

@test "the default run shows every mode and the comparison table" {
  run_prog $P
  assert_success
  for mode in touch populate malloc; do
    assert_fact time_vs_touch_pct -gt 0 compare_mode=$mode
  done
  assert_fact time_vs_touch_pct -eq 100 compare_mode=touch
  assert_output_contains "faults/ms"
}

@test "an impossible size fails cleanly with ENOMEM" {
  run_prog $P --size 1P
  assert_runtime_error ENOMEM
}

@test "a size larger than the memory available is refused before touching it" {
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  run_prog $P --size $((avail_kib * 2))K --mode touch
  assert_status 1
}

@test "sizes accept K, M and G suffixes and plain bytes" {
  for size in 4096 64K 1M 1G; do
    run_prog $P --size $size --mode populate
    assert_success
  done
  assert_fact size_bytes -eq $((1 << 30))
}

@test "bad sizes are usage errors that name the option" {
  for size in 0 -1 abc 12Q 1MB ' 5' 99999999999999999999 16E ''; do
    run_prog $P --size "$size"
    assert_usage_error "--size"
  done
}

@test "a bad mode is a usage error listing the modes" {
  run_prog $P --mode sideways
  assert_usage_error "touch|populate|hugepage|malloc|all"
}

@test "a missing option value is a usage error" {
  run_prog $P --size
  assert_usage_error "--size"
}

@test "the help names every option and mode" {
  run_prog $P --help
  assert_success
  for word in --size --mode touch populate hugepage malloc all; do
    assert_output_contains "$word"
  done
}

# --- exact RSS: the measuring code is primed, so only the mapping moves RSS ---

# assert_rss_fact KEY EXPECTED_KIB: the reading is exact, except that under
# AddressSanitizer it may be one page above.  ASan poisons each stack frame's
# redzones in its shadow memory (a byte for every 8), so a call that reaches a
# part of the stack never reached before writes a shadow page for the first
# time (in about one run in thirty: smaps_kib's 5 KiB frame, by where the stack
# happened to start; none in 800 runs with ASan's stack instrumentation off).
assert_rss_fact() {
  local key=$1 expected=$2 shadow_slack_kib=0
  [[ $SANITIZER == asan ]] && shadow_slack_kib=$PAGE_KIB
  assert_fact "$key" -ge "$expected" mode=touch
  assert_fact "$key" -le $((expected + shadow_slack_kib)) mode=touch
}

@test "mmap adds nothing to RSS, touching adds exactly the size, munmap takes it all back" {
  SKIP_REASON="ThreadSanitizer maps shadow memory as the program runs" skip_under_sanitizer tsan
  for size_kib in 4 $SIZE_KIB; do
    run_prog $P --size "${size_kib}K" --mode touch
    assert_success
    before=$(fact rss_before_kib mode=touch)
    assert_rss_fact rss_after_mmap_kib "$before"
    assert_rss_fact rss_after_touch_kib $((before + size_kib))
    assert_rss_fact rss_after_munmap_kib "$before"
    assert_fact mmap_minor_faults -eq 0 mode=touch
  done
}

# --- the residency picture ---

@test "the residency picture has six rows, in order, of 64 characters from '.+#'" {
  run_prog $P --size 64M --mode touch
  assert_success
  labels=$(residency_rows | cut -c3-15 | sed 's/ *$//' | tr '\n' ',')
  [[ $labels == "after mmap,1/4 touched,2/4 touched,3/4 touched,all touched,after release," ]] ||
    fail "the rows are after mmap, the four quarters and after release (they are: $labels)"
  for label in "after mmap" "1/4 touched" "2/4 touched" "3/4 touched" "all touched"; do
    row=$(row_of "$label")
    ((${#row} == 64)) || fail "the '$label' row is 64 characters wide (it is ${#row})"
    [[ $row =~ ^[.+#]+$ ]] || fail "the '$label' row is made of . + # only ($row)"
  done
  assert_output_contains "after release (no mapping there any more: mincore fails with ENOMEM)"
}

@test "the residency rows fill a quarter at a time and agree with the facts" {
  run_prog $P --size 64M --mode touch
  assert_success
  assert_fact chunk_pages -eq $((PAGES / 64)) mode=touch
  assert_fact resident_after_mmap_pages -eq 0 mode=touch
  assert_fact resident_after_touch_pages -eq $PAGES mode=touch
  quarter=0
  for label in "after mmap" "1/4 touched" "2/4 touched" "3/4 touched" "all touched"; do
    row=$(row_of "$label")
    hashes=$(count_char '#' "$row")
    ((hashes == quarter * 16 && $(count_char '.' "$row") == 64 - quarter * 16)) ||
      fail "the '$label' row has $((quarter * 16)) '#' then '.' ($row)"
    residency_rows | grep -q "^  $label .* $((quarter * PAGES / 4)) of $PAGES pages$" ||
      fail "the '$label' row says $((quarter * PAGES / 4)) of $PAGES pages"
    quarter=$((quarter + 1))
  done
}

@test "with MAP_POPULATE the range is resident right after mmap" {
  run_prog $P --size 64M --mode populate
  assert_success
  row=$(row_of "after mmap")
  [[ $row =~ ^#{64}$ ]] || fail "the 'after mmap' row is all '#' ($row)"
  assert_fact resident_after_mmap_pages -eq $PAGES mode=populate
}

@test "a one-page mapping is one character, and one byte is still one whole page" {
  run_prog $P --size 1 --mode touch
  assert_success
  assert_fact pages -eq 1
  assert_fact resident_after_touch_pages -eq 1 mode=touch
  # ThreadSanitizer's shadow memory takes faults of its own
  [[ $SANITIZER == tsan ]] || assert_fact minor_faults -eq 1 mode=touch
  [[ $(row_of "after mmap") == . && $(row_of "all touched") == "#" ]] ||
    fail "the rows of a one-page range are '.' then '#'"
}

# --- the layers picture: VMA -> page table -> frames ---

@test "the layers picture shows the VMA, the page-table entries and the frames of the facts" {
  run_prog $P --size 64M --mode touch
  assert_success
  start=$(fact map_start mode=touch)
  printf '%s\n' "$output" | grep -q "^  \[VMA\]        ${start#0x}-[0-9a-f]* rw-p: 64 MiB of addresses" ||
    fail "the [VMA] layer is the mapping's maps line"
  assert_fact small_page_entries -eq $PAGES mode=touch
  assert_fact huge_page_entries -eq 0 mode=touch
  assert_output_contains "  [page table] $PAGES entries for 4 KiB pages"
  assert_output_contains "  [frames]     $PAGES x 4 KiB = 64 MiB of RAM"
}

@test "page tables grow by 8 bytes per touched 4 KiB page" {
  SKIP_REASON="ThreadSanitizer's shadow memory adds page tables of its own" skip_under_sanitizer tsan
  run_prog $P --size 64M --mode touch
  assert_success
  before=$(fact vm_pte_before_kib mode=touch)
  # 16384 entries of 8 bytes: 128 kB, plus at most one table for a range
  # that does not start on a 2 MiB boundary
  assert_fact vm_pte_after_kib -ge $((before + PAGES * 8 / 1024)) mode=touch
  assert_fact vm_pte_after_kib -le $((before + PAGES * 8 / 1024 + 8)) mode=touch
  assert_output_contains "8 bytes per 4 KiB page"
}

@test "huge pages: one entry per 2 MiB, and a reserved 4 KiB table for each" {
  SKIP_REASON="ThreadSanitizer's shadow memory adds page tables of its own" skip_under_sanitizer tsan
  thp_available || skip "transparent huge pages are unavailable here"
  run_prog $P --size 64M --mode hugepage
  assert_success
  assert_fact huge_page_entries -eq 32 mode=hugepage
  assert_fact small_page_entries -eq 0 mode=hugepage
  assert_output_contains "  [page table] 32 entries for 2 MiB pages"
  before=$(fact vm_pte_before_kib mode=hugepage)
  assert_fact vm_pte_after_kib -ge $((before + 32 * 4)) mode=hugepage
  assert_fact vm_pte_after_kib -le $((before + 32 * 4 + 8)) mode=hugepage
}

@test "as root, a huge page's first frames are consecutive" {
  thp_available || skip "transparent huge pages are unavailable here"
  run_prog $P --size 64M --mode hugepage
  assert_success
  ((EUID == 0)) && [[ $(fact frames_visible mode=hugepage) == 1 ]] ||
    skip "frame numbers need CAP_SYS_ADMIN"
  assert_output_contains "(consecutive)"
}

@test "as an unprivileged user the pictures are drawn and the frames said to be hidden" {
  run_unprivileged $P --size 16M --mode touch
  assert_success
  assert_fact frames_visible -eq 0 mode=touch
  assert_output_contains "frame numbers hidden: pagemap shows them only to CAP_SYS_ADMIN"
  if printf '%s\n' "$output" | grep -q 'first pages are frames'; then
    fail "no frame number is printed without CAP_SYS_ADMIN"
  fi
  [[ $(row_of "all touched") =~ ^#{64}$ ]] || fail "the residency rows are drawn"
}

# --- malloc: its own mapping, and the maps line it may be merged into ---

@test "malloc's own mapping is the size plus one page, and a merge is said and measured" {
  SKIP_REASON="AddressSanitizer's malloc has a layout of its own" skip_under_sanitizer asan tsan
  run_prog $P --size 64M --mode malloc
  assert_success
  assert_fact own_mapping_bytes -eq $((SIZE_KIB * 1024 + 4096)) mode=malloc
  mapping=$(fact mapping_bytes mode=malloc)
  assert_fact merged_bytes -eq $((mapping - SIZE_KIB * 1024 - 4096)) mode=malloc
  assert_fact malloc_offset_bytes -eq 16 mode=malloc
  if (($(fact merged_bytes mode=malloc) > 0)); then
    assert_output_contains "the kernel merged it with"
  else
    [[ $output != *"merged it"* ]] || fail "a merge is mentioned only when there was one"
  fi
}

@test "malloc's header is the one page resident before the touch" {
  SKIP_REASON="the sanitizers' malloc has a layout of its own" skip_under_sanitizer asan tsan
  run_prog $P --size 64M --mode malloc
  assert_success
  assert_fact resident_after_mmap_pages -eq 1 mode=malloc
  before=$(fact rss_before_kib mode=malloc)
  assert_fact rss_after_mmap_kib -eq $((before + 4)) mode=malloc
}

@test "a small malloc comes from the heap, and is not called shared" {
  SKIP_REASON="the sanitizers' malloc has no [heap]" skip_under_sanitizer asan tsan
  run_prog $P --size 100K --mode malloc
  assert_success
  assert_fact malloc_own_mapping -eq 0 mode=malloc
  assert_output_contains "bytes into [heap]"
  [[ $output != *shared* ]] || fail "the heap is not called shared"
}

# --- the comparison in words ---

@test "the comparison's words follow its numbers" {
  run_prog $P --size 16M
  assert_success
  for mode in populate hugepage malloc; do
    pct=$(fact time_vs_touch_pct compare_mode=$mode)
    [[ -n $pct ]] || continue # hugepage skipped here
    if ((pct < 80)); then words="faster here"; elif ((pct > 125)); then words="slower here"; else words="about the same"; fi
    printf '%s\n' "$output" | grep -A1 "^$mode: " | grep -q "$words" ||
      fail "$mode at $pct% of touch's time is called '$words'"
  done
  huge=$(fact faults compare_mode=hugepage)
  if [[ -n $huge ]]; then
    assert_output_contains "($(($(fact faults compare_mode=touch) / huge)) times fewer)"
  fi
}

# --- the exercises that need only the program's options ---

@test "exercise 1: --mode touch with --size 1G, 4K and 1 takes one fault per page" {
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  ((avail_kib > 2 * 1024 * 1024)) || skip "needs 2 GiB of available memory"
  for size_pages in 1G:262144 4K:1 1:1; do
    run_prog $P --size "${size_pages%:*}" --mode touch
    assert_success
    assert_fact resident_after_touch_pages -eq "${size_pages#*:}" mode=touch
    # ThreadSanitizer's shadow memory takes faults of its own
    [[ $SANITIZER == tsan ]] || assert_fact minor_faults -eq "${size_pages#*:}" mode=touch
  done
}

@test "exercise 3: 100K comes from the heap, 200K gets a mapping, and a lower threshold keeps 100K in the heap" {
  SKIP_REASON="the sanitizers' malloc is not glibc's" skip_under_sanitizer asan tsan
  run_prog $P --mode malloc --size 100K
  assert_success
  assert_fact malloc_own_mapping -eq 0 mode=malloc
  run_prog $P --mode malloc --size 200K
  assert_success
  assert_fact malloc_own_mapping -eq 1 mode=malloc
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536 run_prog $P --mode malloc --size 100K
  assert_success
  assert_fact malloc_own_mapping -eq 0 mode=malloc
}
