# mutate.awk - apply a mutant (one plausible student bug) to a solution file.
#
#   awk -f common/lab/mutate.awk MUTANT.mut solution/mm.c > mutant/mm.c
#
# A mutant file describes the bug, not a copy of the solution:
#     # what the bug is, for people
#     test align                 the test it must fail (read by selftest.sh)
#     file mm.c                  the solution file it changes (idem)
#     - a line of the solution, exactly, after "- "
#     + the line that replaces it, after "+ "
# A run of "-" lines followed by "+" lines (none: the lines go) is a hunk;
# a mutant may have several.  Each hunk's "-" lines must appear exactly once,
# consecutively, in the solution, so that a mutant that no longer fits the
# solution is an error (exit 1) instead of a silent non-mutant.

function die(why) {
    printf "%s: %s\n", mutant, why > "/dev/stderr"
    failed = 1
    exit 1
}

FNR == NR {
    mutant = FILENAME
    if ($0 ~ /^#/ || $0 ~ /^[ \t]*$/ || $1 == "test" || $1 == "file")
        next
    if ($0 == "-" || substr($0, 1, 2) == "- ") {
        if (state != "minus") {
            hunks++
            minus_count[hunks] = plus_count[hunks] = 0
        }
        state = "minus"
        minus[hunks, ++minus_count[hunks]] = substr($0, 3)
        next
    }
    if ($0 == "+" || substr($0, 1, 2) == "+ ") {
        if (state == "")
            die("line " FNR ": a + line before any - line")
        state = "plus"
        plus[hunks, ++plus_count[hunks]] = substr($0, 3)
        next
    }
    die("line " FNR ": expected a comment, test, file, - or + line")
}

{ source[++lines] = $0 }

# Does hunk h's "-" run start at source line at?
function matches_at(h, at,    j) {
    for (j = 1; j <= minus_count[h]; j++)
        if (at + j - 1 > lines || source[at + j - 1] != minus[h, j])
            return 0
    return 1
}

END {
    if (failed)
        exit 1
    if (hunks == 0)
        die("no - lines: this mutant changes nothing")
    for (h = 1; h <= hunks; h++) {
        found = 0
        for (at = 1; at <= lines; at++)
            if (matches_at(h, at)) {
                found++
                start[h] = at
            }
        if (found != 1)
            die("hunk " h " (\"" minus[h, 1] "\") matches " found " places in the solution, not 1")
        for (j = 0; j < minus_count[h]; j++) {
            if ((start[h] + j) in owner)
                die("hunks " owner[start[h] + j] " and " h " overlap")
            owner[start[h] + j] = h
        }
    }
    for (at = 1; at <= lines; at++) {
        if (!(at in owner)) {
            print source[at]
            continue
        }
        h = owner[at]
        if (at == start[h])
            for (j = 1; j <= plus_count[h]; j++)
                print plus[h, j]
    }
}
