# rubric.awk - read a lab's rubric and print its tests, one a line, fields
# separated by tabs:  id  points  visibility  timeout_s  driver  arguments
#
#   awk -f common/lab/rubric.awk NN_lesson/lab/rubric
#
# A rubric line is   id points visibility timeout_s driver [KEY=VALUE...]
# (blank lines and # comments are skipped).  id: lower case, digits and _;
# points: a whole number (0 keeps the test but scores nothing); visibility:
# Gradescope's visible, hidden, after_due_date or after_published; timeout_s:
# seconds before the test counts as hung ("-" for @build, which runs
# nothing); driver: @build, or a program the lab builds or ships in tests/.
# A bad line is named on stderr ("rubric:12: ...") and the exit status is 2.

function bad(why) {
    printf "%s:%d: %s\n", FILENAME, FNR, why > "/dev/stderr"
    failed = 1
    exit 2
}

/^[ \t]*(#|$)/ { next }

{
    if (NF < 5)
        bad("expected: id points visibility timeout_s driver [KEY=VALUE...]")
    if ($1 !~ /^[a-z][a-z0-9_]*$/)
        bad("test id '" $1 "' is not lower case letters, digits and _")
    if ($1 in seen)
        bad("test id '" $1 "' appears twice")
    seen[$1] = 1
    if ($2 !~ /^[0-9]+$/)
        bad("points '" $2 "' is not a whole number")
    if ($3 !~ /^(visible|hidden|after_due_date|after_published)$/)
        bad("visibility '" $3 "' is not visible, hidden, after_due_date or after_published")
    if ($5 == "@build") {
        if ($4 != "-" && $4 !~ /^[1-9][0-9]*$/)
            bad("timeout '" $4 "' is not - or a number of seconds")
    } else if ($4 !~ /^[1-9][0-9]*$/) {
        bad("timeout '" $4 "' is not a number of seconds")
    }
    if ($5 !~ /^(@build|[A-Za-z0-9_][A-Za-z0-9_.-]*)$/)
        bad("driver '" $5 "' is not @build or a file name")
    args = ""
    for (i = 6; i <= NF; i++) {
        if ($i !~ /^[a-z_][a-z0-9_]*=[^=]+$/)
            bad("argument '" $i "' is not KEY=VALUE")
        args = args (i > 6 ? " " : "") $i
    }
    printf "%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, $4, $5, args
    tests++
}

END {
    if (!failed && tests == 0) {
        printf "%s: no tests\n", FILENAME > "/dev/stderr"
        exit 2
    }
}
