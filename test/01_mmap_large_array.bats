#!/usr/bin/env bats
# Lesson 01: a large anonymous mapping is lazy.

load helper

P=01_mmap_large_array
SIZE_KIB=$((64 * 1024)) # the tests map 64 MiB: big enough to see, quick to touch
PAGES=$((SIZE_KIB / 4))

thp_available() {
  [[ -r /sys/kernel/mm/transparent_hugepage/enabled ]] &&
    ! grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled
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
