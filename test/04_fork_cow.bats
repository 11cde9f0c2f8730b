#!/usr/bin/env bats
# Lesson 04: copy-on-write after fork.

load helper

P=04_fork_cow
COST_MIB=64 # the cost tests use a 64 MiB heap: a clear signal, quick under sanitizers
COST_PAGES=$((COST_MIB * 256))

# frames_shown: skip unless this run could read real frame numbers (root
# with CAP_SYS_ADMIN); call after run_prog.
frames_shown() {
  ((EUID == 0)) || skip "frame numbers need root (CAP_SYS_ADMIN)"
  [[ $(fact frames_visible) == 1 ]] || skip "root here lacks CAP_SYS_ADMIN: frames are hidden"
}

# no_frame_numbers: no fact whose key starts with pfn appears anywhere.
no_frame_numbers() {
  if printf '%s\n' "$output" | grep -Eq '(^| )pfn[a-z_]*='; then
    fail "no pfn... fact is printed when frame numbers are hidden"
  fi
}

@test "heap, global and stack variables have the same addresses in parent and child" {
  run_prog $P --mode contents
  assert_success
  for key in heap_addr global_addr stack_addr; do
    want=$(fact $key step=before_fork)
    [[ $want == 0x* ]] || fail "$key is printed before fork"
    for step in child_wrote parent_after_child parent_wrote; do
      assert_fact $key == "$want" step=$step
    done
  done
}

@test "the child's writes change only the child's copy" {
  run_prog $P --mode contents
  assert_success
  assert_fact heap_text == cccccccc step=child_wrote
  assert_fact global_value -eq 4 step=child_wrote
  assert_fact stack_value -eq 9 step=child_wrote
  assert_fact heap_text == iiiiiiii step=parent_after_child
  assert_fact global_value -eq 5 step=parent_after_child
  assert_fact stack_value -eq 8 step=parent_after_child
  assert_fact heap_text == pppppppp step=parent_wrote
  assert_fact global_value -eq 6 step=parent_wrote
  assert_fact stack_value -eq 7 step=parent_wrote
}

@test "the child's lines come before the parent's later ones (waitpid orders them)" {
  run_prog $P --mode contents
  assert_success
  order=$(printf '%s\n' "$output" | grep -o 'step=[a-z_]*' | tr '\n' ' ')
  [[ $order == "step=before_fork step=child_wrote step=parent_after_child step=parent_wrote " ]] ||
    fail "steps come in order (they came as: $order)"
}

@test "a line buffered before fork comes out twice, and once with fflush" {
  run_prog $P --mode stdio
  assert_success
  assert_fact lines_read -eq 2 stdio=unflushed
  assert_fact lines_read -eq 1 stdio=flushed
}

@test "as root, parent and child share one frame until the child writes" {
  run_prog $P --mode frames
  assert_success
  frames_shown
  parent=$(fact pfn_parent)
  assert_fact pfn_child_before_write == "$parent"
  assert_fact pfn_child_after_write != "$parent"
  assert_fact same_frame_as_parent -eq 1 step=child_before_write
  assert_fact same_frame_as_parent -eq 0 step=child_after_write
}

@test "as root, the parent keeps the original frame after the child's write" {
  run_prog $P --mode frames
  assert_success
  frames_shown
  assert_fact pfn_parent_after_child_write == "$(fact pfn_parent)"
  assert_fact first_byte == i step=parent_after_child_write
}

@test "no frame number printed as root is 0" {
  run_prog $P --mode frames
  assert_success
  frames_shown
  if printf '%s\n' "$output" | grep -Eq '(^| )pfn[a-z_]*=0x0( |$)'; then
    fail "no pfn fact is 0x0"
  fi
}

@test "the child's first write to the shared page costs one minor fault" {
  run_prog $P --mode frames
  assert_success
  assert_fact write_minor_faults -ge 1 step=child_after_write
  assert_fact write_minor_faults -le 2 step=child_after_write
}

@test "the page is mapped twice before the child's write and once after" {
  run_prog $P --mode frames
  assert_success
  assert_fact exclusive -eq 1 step=parent_before_fork
  assert_fact exclusive -eq 0 step=child_before_write
  assert_fact exclusive -eq 1 step=child_after_write
}

@test "the child's write moves 4 kB from Shared_Dirty to Private_Dirty in smaps" {
  run_prog $P --mode frames
  assert_success
  private=$(fact mapping_private_dirty_kib step=child_before_write)
  shared=$(fact mapping_shared_dirty_kib step=child_before_write)
  assert_fact mapping_private_dirty_kib -ge $((private + 4)) step=child_after_write
  assert_fact mapping_shared_dirty_kib -le $((shared - 4)) step=child_after_write
}

@test "the parent's first write after fork faults too" {
  run_prog $P --mode frames
  assert_success
  assert_fact write_minor_faults -ge 1 step=parent_write
}

@test "as an unprivileged user every part runs and prints no frame number" {
  run_unprivileged $P --size 16M
  assert_success
  assert_fact frames_visible -eq 0
  assert_output_contains "Frame numbers are hidden"
  no_frame_numbers
}

@test "as an unprivileged user the fallback evidence shows the copy" {
  run_unprivileged $P --mode frames
  assert_success
  no_frame_numbers
  assert_fact exclusive -eq 0 step=child_before_write
  assert_fact exclusive -eq 1 step=child_after_write
  assert_fact write_minor_faults -ge 1 step=child_after_write
  private=$(fact mapping_private_dirty_kib step=child_before_write)
  assert_fact mapping_private_dirty_kib -ge $((private + 4)) step=child_after_write
}

@test "only the MAP_SHARED page shows the child's write to the parent" {
  run_prog $P --mode shared
  assert_success
  assert_fact first_byte == c mapping=shared who=parent
  assert_fact first_byte == p mapping=private who=parent
  assert_fact shared_parent_sees_child_write -eq 1
  assert_fact private_parent_sees_child_write -eq 0
}

@test "after the child's write the shared page is mapped twice, the private copy once" {
  run_prog $P --mode shared
  assert_success
  assert_fact exclusive -eq 0 mapping=shared who=child
  assert_fact exclusive -eq 1 mapping=private who=child
}

@test "as root, the shared page is one frame in both processes and the private page two" {
  run_prog $P --mode shared
  assert_success
  frames_shown
  assert_fact pfn_child == "$(fact pfn_parent mapping=shared)" mapping=shared
  assert_fact pfn_child != "$(fact pfn_parent mapping=private)" mapping=private
}

@test "MADV_DONTFORK: the child has no mapping and its read faults with SEGV_MAPERR" {
  run_prog $P --mode dontfork
  assert_success
  assert_fact has_mapping -eq 0 knob=dontfork who=child
  assert_fact faulted -eq 1 knob=dontfork who=child
  assert_fact fault_code == SEGV_MAPERR knob=dontfork who=child
  assert_fact fault_at_range -eq 1 knob=dontfork who=child
}

@test "MADV_DONTFORK: the parent keeps its mapping and its data" {
  run_prog $P --mode dontfork
  assert_success
  assert_fact has_mapping -eq 1 knob=dontfork who=parent
  assert_fact first_byte == d knob=dontfork who=parent
}

@test "MADV_WIPEONFORK: the child reads zeros, the parent keeps its data" {
  run_prog $P --mode wipeonfork
  assert_success
  assert_fact has_mapping -eq 1 knob=wipeonfork who=child
  assert_fact present_before_read -eq 0 knob=wipeonfork who=child
  assert_fact nonzero_bytes -eq 0 knob=wipeonfork who=child
  assert_fact nonzero_bytes -eq 4096 knob=wipeonfork who=parent
}

@test "fork takes longer, and page tables are larger, with more of the heap touched" {
  run_prog $P --mode cost --size ${COST_MIB}M
  assert_success
  assert_fact touched_bytes -eq $((COST_MIB << 20)) heap=large
  assert_fact touched_bytes -eq $((COST_MIB << 16)) heap=small
  assert_fact fork_ns -gt "$(fact fork_ns heap=small)" heap=large
  # 4 KiB of page-table entries map 2 MiB: 15/16 of the heap adds 30 kB here.
  assert_fact vm_pte_kib -ge $(($(fact vm_pte_kib heap=small) + COST_MIB * 15 / 16 / 2)) heap=large
}

@test "the child starts with copied page tables and shared pages" {
  run_prog $P --mode cost --size ${COST_MIB}M
  assert_success
  assert_fact vm_pte_kib -ge $((COST_MIB / 2)) step=child_rewrite
  assert_fact shared_dirty_before_kib -ge $((COST_MIB * 1024 * 9 / 10)) step=child_rewrite
  assert_fact private_dirty_before_kib -le $((COST_MIB * 1024 / 100)) step=child_rewrite
}

@test "a child rewriting the heap takes one fault per page and ends with its own copy" {
  run_prog $P --mode cost --size ${COST_MIB}M
  assert_success
  assert_fact pages -eq $COST_PAGES step=child_rewrite
  assert_fact rewrite_minor_faults -ge $((COST_PAGES * 9 / 10)) step=child_rewrite
  assert_fact rewrite_minor_faults -le $((COST_PAGES * 11 / 10)) step=child_rewrite
  assert_fact private_dirty_after_kib -ge $((COST_MIB * 1024 * 9 / 10)) step=child_rewrite
  assert_fact shared_dirty_after_kib -le $((COST_MIB * 1024 / 100)) step=child_rewrite
}

@test "the default run shows every part" {
  run_prog $P
  assert_success
  assert_fact lines_read -eq 2 stdio=unflushed
  assert_fact write_minor_faults -ge 1 step=child_after_write
  assert_fact shared_parent_sees_child_write -eq 1
  assert_fact faulted -eq 1 knob=dontfork who=child
  assert_fact nonzero_bytes -eq 0 knob=wipeonfork who=child
  assert_fact touched_bytes -eq $((256 << 20)) heap=large
  assert_fact rewrite_minor_faults -ge $((256 * 256 * 9 / 10)) step=child_rewrite
}

@test "a heap larger than the memory available is refused before touching it" {
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  run_prog $P --mode cost --size $((avail_kib * 2))K
  assert_runtime_error "available"
  run_prog $P --size 1P
  assert_runtime_error "available"
}

@test "the size is not checked against memory when the cost part does not run" {
  run_prog $P --mode wipeonfork --size 1P
  assert_success
}

@test "bad sizes are usage errors that name the option" {
  for size in 0 -1 abc 12Q 1MB ' 5' 99999999999999999999 16E '' 512K 1048575; do
    run_prog $P --size "$size"
    assert_usage_error "--size"
  done
}

@test "a bad mode is a usage error listing the modes" {
  run_prog $P --mode sideways
  assert_usage_error "contents|stdio|frames|shared|dontfork|wipeonfork|cost|all"
}

@test "a missing option value and a stray argument are usage errors" {
  run_prog $P --mode
  assert_usage_error "--mode"
  run_prog $P frames
  assert_usage_error "frames"
}

@test "the help names every option and mode" {
  run_prog $P --help
  assert_success
  for word in --size --mode contents stdio frames shared dontfork wipeonfork cost all; do
    assert_output_contains "$word"
  done
}

# --- the frames picture: one frame before the child's write, two after ---

@test "the frames picture shows one frame before the child's write and two after" {
  run_prog $P --mode frames
  assert_success
  assert_fact frames_drawn -eq 1 picture=frames stage=before_child_write
  assert_fact frames_drawn -eq 2 picture=frames stage=after_child_write
  assert_fact parent_exclusive -eq 0 stage=before_child_write
  assert_fact child_exclusive -eq 0 stage=before_child_write
  assert_fact parent_exclusive -eq 1 stage=after_child_write
  assert_fact child_exclusive -eq 1 stage=after_child_write
  assert_output_contains "before the child's write: one frame, in both page tables"
  assert_output_contains "after the child's write: two frames, one each"
}

@test "the picture's arrows join at one frame, then part, and hold what each process wrote" {
  run_prog $P --mode frames
  assert_success
  picture=$(printf '%s\n' "$output" | sed -n "/^  before the child's write/,/^picture=frames stage=after/p")
  printf '%s\n' "$picture" | grep -q -- '--\\$' || fail "the parent's arrow turns down (--\\)"
  printf '%s\n' "$picture" | grep -q ">-- frame .* holds 'i'  mapped twice" ||
    fail "the arrows meet at one frame that holds the parent's 'i'"
  printf '%s\n' "$picture" | grep -q -- '--/$' || fail "the child's arrow turns up (--/)"
  printf '%s\n' "$picture" | grep -q "^    parent  page .* ------ frame .* holds 'i'  mapped once" ||
    fail "after the write the parent's frame holds 'i'"
  printf '%s\n' "$picture" | grep -q "^    child   page .* ------ frame .* holds 'c'  mapped once" ||
    fail "after the write the child's frame holds 'c'"
  if LC_ALL=C grep -q '[^[:print:][:space:]]' <<<"$picture"; then
    fail "the picture is ASCII"
  fi
}

@test "as root, the picture's frame numbers are the ones the facts give" {
  run_prog $P --mode frames
  assert_success
  frames_shown
  parent=$(fact pfn_parent)
  child=$(fact pfn_child_after_write)
  assert_output_contains ">-- frame $parent "
  printf '%s\n' "$output" | grep -q "^    child   page .* ------ frame $child " ||
    fail "after the write the child's line shows frame $child"
}

@test "as an unprivileged user the picture is drawn from the exclusive bits alone" {
  run_unprivileged $P --mode frames
  assert_success
  no_frame_numbers
  assert_fact frames_drawn -eq 1 stage=before_child_write
  assert_fact frames_drawn -eq 2 stage=after_child_write
  assert_output_contains ">-- frame ?"
  assert_output_contains "(the numbers are hidden: one frame or two is read from the exclusive bits)"
}

# --- the exercises that can be done from this repository ---

@test "exercise 2: the README's program prints Init twice into a pipe, once on a terminal" {
  dir=$BATS_TEST_TMPDIR/ex2
  mkdir "$dir"
  awk '/^ *```c$/ { inside = 1; next } /^ *```$/ { inside = 0 } inside' \
    "$REPO_ROOT/04_fork_cow/README.md" >"$dir/init.c"
  grep -q 'fork()' "$dir/init.c" || fail "the README has the exercise's C program"
  run_cmd "${CC:-cc}" -o "$dir/init" "$dir/init.c"
  assert_success
  # shellcheck disable=SC2016 # $0 belongs to the inner bash
  run_cmd bash -c '"$0" | cat' "$dir/init"
  assert_success
  (($(grep -c '^Init$' <<<"$output") == 2)) || fail "piped, Init comes out twice"
  command -v script >/dev/null || skip "script (util-linux) is not installed"
  run_cmd script -qec "$dir/init" /dev/null
  assert_success
  (($(grep -c '^Init' <<<"$output") == 1)) || fail "on a terminal, Init comes out once"
}

@test "exercise 3: the cost part with 64M, 256M and 1G" {
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  for size_mib in 64 256 1024; do
    ((avail_kib > size_mib * 1024 * 3)) || skip "needs three times ${size_mib} MiB available"
    run_prog $P --mode cost --size ${size_mib}M
    assert_success
    assert_fact touched_bytes -eq $((size_mib << 20)) heap=large
    assert_fact rewrite_minor_faults -ge $((size_mib * 256)) step=child_rewrite
  done
}

@test "exercise 1: frames as root twice, then as nobody: only the frame numbers go" {
  for _ in 1 2; do
    run_prog $P --mode frames
    assert_success
    assert_fact exclusive -eq 1 step=child_after_write
  done
  run_unprivileged $P --mode frames
  assert_success
  no_frame_numbers
  for key in exclusive write_minor_faults mapping_private_dirty_kib; do
    assert_fact $key -ge 0 step=child_after_write
  done
  assert_fact frames_drawn -eq 2 stage=after_child_write
}
