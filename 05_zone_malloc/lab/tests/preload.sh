#!/usr/bin/env bash
# preload.sh - the malloc lab's last stage: real programs running on the
# student's allocator (mm.c behind the C library's names, preloaded with
# LD_PRELOAD) must print the same bytes and exit the same way as on glibc's.
#
# Usage: preload.sh preload_ls|preload_sort|preload_python
#
# Run by make grade (see common/lab/driver.bash for what it is given), in a
# scratch directory: each test makes its input there, runs the program on
# glibc, then preloaded, and compares.  A program that is not installed is
# a skip, not a failure.
set -uo pipefail

# shellcheck source=common/lab/driver.bash
source "${LAB_FRAMEWORK:?run by make grade, which sets LAB_FRAMEWORK}/driver.bash"

so=${LAB_OUT:?}/libmm_preload.so

# "0", or "139 (killed by SIGSEGV)"
describe_status() {
  if (($1 > 128)); then
    printf '%s (killed by SIG%s)' "$1" "$(kill -l $(($1 - 128)))"
  else
    printf '%s' "$1"
  fi
}

# run_both NAME COMMAND...: COMMAND on glibc's malloc, then on the student's;
# the same output and status, and the student's allocator really used.
run_both() {
  local name=$1 want got calls
  shift
  lab_where "running $name on glibc's malloc"
  "$@" >glibc.out 2>glibc.err
  want=$?
  lab_where "running $name on your allocator (LD_PRELOAD=$so)"
  env LD_PRELOAD="$so" PRELOAD_REPORT="$PWD/report" "$@" >mm.out 2>mm.err
  got=$?
  if ((got != want)); then
    lab_fail "$name exited $(describe_status "$got") on your allocator, $(describe_status "$want")" \
      "on glibc's; expected the same (its stderr began: '$(head -c 160 mm.err | head -1)')"
  fi
  if ! cmp -s glibc.out mm.out; then
    local line
    line=$(cmp glibc.out mm.out | awk '{ print $NF }')
    lab_fail "$name printed something else on your allocator: line $line is" \
      "'$(sed -n "${line}p" mm.out | head -c 100)', expected '$(sed -n "${line}p" glibc.out | head -c 100)'"
  fi
  calls=$(awk -F= '$1 == "calls" { sum += $2 } END { print sum + 0 }' report 2>/dev/null)
  ((calls > 0)) || lab_fail "$name ran, but your allocator served none of its calls (did LD_PRELOAD take?)"
  lab_pass "$name: the same $(wc -c <mm.out) bytes and exit status $want; $calls calls to your allocator"
}

[[ -z ${LAB_SANITIZER:-} ]] || lab_skip "a sanitizer build ($LAB_SANITIZER) cannot be preloaded into other programs"
[[ -f $so ]] || lab_fail "$so was not built"
export LC_ALL=C

case ${1:-} in
preload_ls)
  command -v ls >/dev/null || lab_skip "ls is not installed"
  lab_where "making a directory of 3,000 files"
  if ! (mkdir big && cd big && seq -f 'file%05g' 3000 | xargs touch &&
    seq -f 'dir%03g' 100 | xargs mkdir && ln -s file00001 link && head -c 4096 /dev/zero >sized); then
    lab_fail "cannot make the test directory"
  fi
  run_both "ls -la" ls -la big
  ;;
preload_sort)
  command -v sort >/dev/null || lab_skip "sort is not installed"
  lab_where "writing 100,000 lines"
  seq 100000 | awk '{ printf "%07d %s\n", ($1 * 7919) % 100003, $1 }' >lines
  run_both "sort of 100,000 lines" sort lines
  ;;
preload_python)
  if [[ -x /usr/bin/python3 ]]; then
    python=/usr/bin/python3
  else
    python=$(command -v python3) || lab_skip "python3 is not installed"
  fi
  run_both "python3 (dicts, strings, JSON)" "$python" -c '
import collections, hashlib, json
words = [str(i * 7919 % 100003) for i in range(200000)]
endings = collections.Counter(w[-2:] for w in words)
tree = {w: {"n": i, "pair": [i, i * i], "s": w * (i % 5)} for i, w in enumerate(words[:60000])}
text = json.dumps(tree, sort_keys=True)
print(len(text), len(json.loads(text)), endings.most_common(2), hashlib.sha256(text.encode()).hexdigest())
'
  ;;
*)
  printf 'Usage: %s preload_ls|preload_sort|preload_python\n' "${0##*/}" >&2
  exit 2
  ;;
esac
