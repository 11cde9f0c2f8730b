#!/usr/bin/env bats
# The lesson READMEs tell the truth about their programs.
#
# For each lesson in README_LESSONS (below), NN_*/README.md is read by
# test/readme_blocks.awk and checked here:
#   - every command in a ```sh (or ```shell, ```bash) block runs, under a
#     timeout, from a scratch directory, and exits 0 (or as a marker says);
#   - every fact line quoted in any other code block (fenced, or indented by
#     four spaces) has exactly the keys, in order, of a fact line the program
#     prints in that run, with the same words (numbers may differ);
#   - every build/... path the README names exists after make;
#   - a README that quotes times measured here says on what machine.
#
# Conventions for README authors.  A marker is an HTML comment (invisible
# on the rendered page) on a line of its own; it applies to the next code
# block, and several may be stacked:
#   <!-- check: skip: REASON -->        not run, not compared (a command that
#                                       needs root to change the system, an
#                                       interactive one, a long benchmark);
#                                       the reason is required
#   <!-- check: status N -->            the block's commands exit with N
#   <!-- check: output-of: COMMAND -->  the block's fact lines come from
#                                       COMMAND; without it, from the lesson's
#                                       program run with no arguments
#   <!-- check: root -->                only checked when the tests run as root
# In commands: `make` alone, or a leading `make && `, counts as done (the
# suite runs after make); build/ is the build under test ($BIN_DIR) and the
# lesson folders and bench/ are the repository's; FILE names a small text
# file made in the scratch directory, which is also $TMPDIR and is removed
# afterwards; a command that starts with setpriv needs root and is skipped
# without it.

load helper

# The lessons whose READMEs are checked.  Add a lesson's number here once
# its README follows the conventions above.
README_LESSONS=(01 02 03 04 05 06 07)

README_TIMEOUT=${README_TIMEOUT:-120}

setup_file() {
  [[ -z ${SANITIZER:-} ]] || return 0
  export OUTPUTS_DIR=$BATS_FILE_TMPDIR/outputs
  mkdir -p "$OUTPUTS_DIR"
}

setup() {
  SKIP_REASON="the READMEs describe the plain build; the lesson tests run under every sanitizer" \
    skip_under_sanitizer asan ubsan tsan
}

teardown() {
  [[ -z ${scratch:-} ]] || rm -rf "$scratch"
}

# readme NN: the path of lesson NN's README.
readme() {
  local dir
  for dir in "$REPO_ROOT"/"$1"_*/; do
    printf '%s/README.md' "${dir%/}"
    return
  done
}

# records NN KIND: the records of one kind from lesson NN's README.
records() {
  awk -f "$REPO_ROOT/test/readme_blocks.awk" "$(readme "$1")" | awk -F'\t' -v kind="$2" '$1 == kind'
}

# make_scratch: a directory that looks like the repository from inside
# (build/ is the build under test) and in which a command may write.
# Readable by everyone, so that a command run as nobody can use it.
make_scratch() {
  local entry
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/readme-check.XXXXXX")
  chmod 755 "$scratch"
  ln -s "$BIN_DIR" "$scratch/build"
  for entry in "$REPO_ROOT"/[0-9][0-9]_* "$REPO_ROOT/bench" "$REPO_ROOT/common"; do
    ln -s "$entry" "$scratch/$(basename "$entry")"
  done
  mkdir -m 1777 "$scratch/tmp"
  seq 1 20000 | sed 's/$/ a line of text for the README check/' >"$scratch/FILE"
  chmod 644 "$scratch/FILE"
}

# run_in_scratch COMMAND: run it with bash in a fresh scratch directory;
# $output, $stderr, $status as run_cmd sets them.
run_in_scratch() {
  make_scratch
  LAST_COMMAND="(in a scratch directory) $1"
  run --separate-stderr env -C "$scratch" TMPDIR="$scratch/tmp" \
    timeout -k 5 "$README_TIMEOUT" bash -c "$1"
  rm -rf "$scratch"
  scratch=""
}

# needs_root_but_is_not FLAGS COMMAND: true when this check must be skipped.
needs_root_but_is_not() {
  ((EUID == 0)) && return 1
  [[ $1 == root || $2 == setpriv* ]]
}

# output_of NN SOURCE: the path of a file holding SOURCE's stdout (the
# lesson's program alone for "-"), run once per file and cached.
output_of() {
  local command=$2 key file
  [[ $command == - ]] && command="build/$(basename "$(dirname "$(readme "$1")")")"
  key=$(printf '%s' "$command" | cksum | cut -d' ' -f1)
  file=$OUTPUTS_DIR/$key.out
  if [[ ! -e $file ]]; then
    run_in_scratch "$command"
    ((status == 0)) || fail "the README's source command '$command' runs (exit $status)"
    printf '%s\n' "$output" >"$file"
  fi
  printf '%s' "$file"
}

# has_matching_fact_line FILE QUOTED: FILE has a fact line with QUOTED's
# keys in the same order and the same non-numeric values.
has_matching_fact_line() {
  awk -v quoted="$2" '
    function numeric(v) { return v ~ /^-?[0-9]+$/ || v ~ /^0x[0-9a-f]+$/ }
    BEGIN { nq = split(quoted, q, " ") }
    {
      if (NF != nq) next
      for (i = 1; i <= NF; i++) {
        if ($i !~ /^[a-z][a-z0-9_]*=[^=]/) next
        split($i, a, "="); split(q[i], b, "=")
        if (a[1] != b[1]) next
        if (!(numeric(a[2]) && numeric(b[2])) && a[2] != b[2]) next
      }
      found = 1; exit
    }
    END { exit !found }' "$1"
}

@test "every shell command in the READMEs runs and exits as the README says" {
  local nn line flags want command checked=0
  for nn in "${README_LESSONS[@]}"; do
    while IFS=$'\t' read -r _ line flags want command; do
      [[ $flags == skip:* ]] && continue
      needs_root_but_is_not "$flags" "$command" && continue
      run_in_scratch "$command"
      assert_no_hang_or_signal
      ((status == want)) ||
        fail "$(readme "$nn"):$line: '$command' exits with $want (it exited $status)"
      checked=$((checked + 1))
    done < <(records "$nn" cmd)
  done
  ((checked > 0)) || fail "the READMEs have commands to check"
}

@test "every fact line quoted in a README is one the program prints in that run" {
  local nn line flags source quoted file checked=0
  for nn in "${README_LESSONS[@]}"; do
    while IFS=$'\t' read -r _ line flags source quoted; do
      [[ $flags == skip:* ]] && continue
      needs_root_but_is_not "$flags" "$source" && continue
      file=$(output_of "$nn" "$source") || return 1
      if ! has_matching_fact_line "$file" "$quoted"; then
        # shellcheck disable=SC2034 # read by fail() in helper.bash
        output=$(<"$file") stderr="" status=0 LAST_COMMAND=$source
        fail "$(readme "$nn"):$line: the quoted fact line has the keys (in order) and words of a line the program prints: $quoted"
      fi
      checked=$((checked + 1))
    done < <(records "$nn" fact)
  done
  ((checked > 0)) || fail "the READMEs quote fact lines to check"
}

@test "every build/ path a README names exists after make" {
  local nn line path built
  for nn in "${README_LESSONS[@]}"; do
    while IFS=$'\t' read -r _ line path; do
      # build/asan/X (make asan, make DEBUG=1, ...) is X of another build: the
      # name is checked against this one
      built=$(sed -E 's#^build/((asan|ubsan|tsan|debug)/)?##' <<<"$path")
      [[ -e $BIN_DIR/$built ]] || fail "$(readme "$nn"):$line: $path exists after make"
    done < <(records "$nn" path)
  done
}

@test "the READMEs use only the markers the checker knows" {
  local nn errors
  for nn in "${README_LESSONS[@]}"; do
    errors=$(records "$nn" error)
    [[ -z $errors ]] || fail "$(readme "$nn"): $errors"
    if grep -n '<!-- check: skip: *-->' "$(readme "$nn")"; then
      fail "$(readme "$nn"): every skip marker gives its reason"
    fi
  done
}

@test "a README that quotes times measured here says on what machine" {
  local nn file
  for nn in "${README_LESSONS[@]}"; do
    file=$(readme "$nn")
    # prose and tables, not code blocks: a figure with a unit of time
    if awk '/^ *```/ { fence = !fence; next }
            !fence && !/^    / && /[0-9] ?(ms|us|ns|µs)([^A-Za-z]|$)/ { found = 1 }
            END { exit !found }' "$file"; then
      grep -qi 'measured on' "$file" ||
        fail "$file quotes times; it says where they were measured ('measured on ...')"
    fi
  done
}

@test "the lesson READMEs end with what you now know and a link to the next lesson" {
  local nn file next points
  for nn in "${README_LESSONS[@]}"; do
    file=$(readme "$nn")
    [[ $(grep '^## ' "$file" | tail -1) == "## What you now know" ]] ||
      fail "$file ends with a 'What you now know' section"
    points=$(sed -n '/^## What you now know/,/^## /p' "$file" | grep -c '^[-*] ')
    ((points >= 1 && points <= 3)) || fail "$file: 'What you now know' has one to three points ($points)"
    next=$(printf '%02d' $((10#$nn + 1)))
    if compgen -G "$REPO_ROOT/${next}_*" >/dev/null; then
      grep -q "](\.\./${next}_[a-z_]*/\?)" "$file" || fail "$file links to lesson $next"
    fi
  done
}
