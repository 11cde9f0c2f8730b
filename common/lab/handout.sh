#!/usr/bin/env bash
# handout.sh - the student tree: what `make handout` writes.
#
# Usage: common/lab/handout.sh OUT          (make handout: OUT is build/handout)
#        common/lab/handout.sh --check TREE
#
# Copies the vault's files (those git tracks, or would: everything but what
# .gitignore excludes) into OUT/asymmetric_c/, without any lab's solution/
# and mutants/, and packs it as OUT/asymmetric_c.tar.gz (sorted, owned by
# 0:0, dated 1970: the same files give the same tarball).  In that tree the
# lessons build and run as here, `make grade` grades the student's files,
# and `make lab-selftest` says there is nothing to prove.
#
# Then it checks the tree (also alone, with --check): no solution or mutant
# file, and no line of a solution's own text as a line of any file in a
# lab's folder (pasted code, say; a signature quoted in prose is not).  A
# solution's own text is each line of 30 or more characters (spaces
# trimmed, #include lines left out) that neither the lab's starter files nor
# any file outside the lab's folder also has: lines such as a function's
# signature or an idiom the lesson's library shares are not the solution's.
# Exit status 0 when the tree is clean, 1 (naming the file and line) if not.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=asymmetric_c

usage_error() {
  printf 'handout: %s (see --help)\n' "$1" >&2
  exit 2
}

# The vault's files, relative to root, one a line.
vault_files() {
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files --cached --others --exclude-standard
  else
    (cd "$root" && find . -type f ! -path './.git/*' ! -path './build*' ! -path './node_modules/*' |
      sed 's|^\./||')
  fi
}

# leaks TREE: print "file:line: text" for every line of a solution's own
# text found in a lab folder of TREE (the solutions are read from root).
leaks() {
  local tree=$1 lab_dir own
  own=$(mktemp) || return 1
  for lab_dir in "$root"/[0-9][0-9]_*/lab; do
    [[ -d $lab_dir/solution && -d $tree/${lab_dir#"$root"/} ]] || continue
    local lab=${lab_dir#"$root"/} common=()
    mapfile -t common < <(cd "$tree" && find . -type f ! -path "./$lab/*" && find "$lab" -maxdepth 1 -name '*.[ch]')
    (cd "$tree" && LC_ALL=C awk '
      function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
      FILENAME ~ /\/lab\/solution\// {
        line = trim($0)
        if (length(line) >= 30 && line !~ /^#include/)
          solution[line] = 1
        next
      }
      { common[trim($0)] = 1 }
      END { for (line in solution) if (!(line in common)) print line }
    ' "$lab_dir"/solution/* "${common[@]}") >"$own"
    # shellcheck disable=SC2016 # the program is awk's, its $0 too
    (cd "$tree" && find "$lab" -type f -print0 | xargs -0 -r awk '
      function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
      FILENAME == own { solution[$0] = 1; next }
      trim($0) in solution { printf "%s:%d: %s\n", FILENAME, FNR, trim($0) }
    ' own="$own" "$own")
  done
  rm -f "$own"
}

check_tree() {
  local tree=$1 found
  found=$(cd "$tree" && find . -path '*/lab/solution*' -o -path '*/lab/mutants*')
  if [[ -n $found ]]; then
    printf 'handout: the tree has solution or mutant files:\n%s\n' "$found" >&2
    return 1
  fi
  found=$(leaks "$tree")
  if [[ -n $found ]]; then
    printf "handout: the tree has a solution's text:\n%s\n" "$found" >&2
    return 1
  fi
}

case ${1:-} in
-h | --help)
  sed -n '3,5s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
  ;;
--check)
  [[ -d ${2:-} ]] || usage_error "--check needs a tree"
  check_tree "$2"
  exit
  ;;
'' | -*) usage_error "an output folder is needed" ;;
esac

out=$1
[[ $out == /* ]] || out=$PWD/$out
tree=$out/$name
rm -rf "$tree" "$out/$name.tar.gz"
mkdir -p "$tree" || exit 1
vault_files | grep -Ev '^[0-9][0-9]_[^/]*/lab/(solution|mutants)/' |
  (cd "$root" && while IFS= read -r file; do
    [[ -f $file ]] && printf '%s\0' "$file"
  done) | (cd "$root" && xargs -0 cp --parents -p -t "$tree") || exit 1
if ! check_tree "$tree"; then
  rm -rf "$tree"
  exit 1
fi
tar -C "$out" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "$name" |
  gzip -n >"$out/$name.tar.gz" || exit 1
files=$(find "$tree" -type f | grep -c '')
printf 'handout: %s (%s files, no solutions) and %s\n' "${tree#"$root"/}" "$files" \
  "${out#"$root"/}/$name.tar.gz"
