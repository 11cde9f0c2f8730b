#!/usr/bin/env bats
# The components' boundaries: what may include and call what.

load helper

# Every C source and header the project tracks.
c_sources() {
  git -C "$REPO_ROOT" ls-files --cached --others --exclude-standard -- '*.[ch]'
}

@test "no #include names another folder with ../ (a component exports its include directory)" {
  cd "$REPO_ROOT"
  local files
  mapfile -t files < <(c_sources)
  run_cmd grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.\./' "${files[@]}"
  ((status == 1)) || fail "these #include lines reach into another folder"
}

@test "a library's files include only their own headers and common's" {
  cd "$REPO_ROOT"
  local bad=() file header
  while read -r file; do
    while read -r header; do
      [[ -f $(dirname "$file")/$header || -f common/$header ]] || bad+=("$file: $header")
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$file")
  done < <(c_sources | grep '/lib/')
  ((${#bad[@]} == 0)) || fail "lib/ files include other headers: ${bad[*]}"
}

@test "each library's files call only the files below them (no cycles)" {
  cd "$REPO_ROOT"
  run_cmd make -s --no-print-directory library-layers
  assert_success
  [[ -n $output ]] || fail "no library declares its layers"
  while read -r library sources; do
    [[ -n $sources ]] || fail "$library lists no sources"
    local objects=()
    for source in $sources; do
      objects+=("$BIN_DIR/obj/${source%.c}.o")
    done
    run_cmd "$REPO_ROOT/test/check_layers" "${objects[@]}"
    assert_success
  done <<<"$output"
}
