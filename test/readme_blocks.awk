# readme_blocks.awk - what test/readme.bats checks in one lesson README.
#
#   awk -f test/readme_blocks.awk NN_lesson/README.md
#
# Prints one record per line, fields separated by a tab:
#   cmd   LINE  FLAGS  STATUS  COMMAND     a command from a shell code block
#   fact  LINE  FLAGS  SOURCE  FACTLINE    a fact line quoted in another block
#   path  LINE  PATH                       a build/... path named anywhere
# FLAGS is "-", "root" or "skip:REASON"; SOURCE is the command whose output
# the fact line must match ("-": the lesson's program with no arguments).
# The markers are described at the top of test/readme.bats.

function reset_marks() {
    flags = "-"; status = 0; source = "-"
}

# A fact line: only key=value tokens (the same test as common/fact.awk).
function is_fact_line(text,    n, i, tok) {
    n = split(text, tok, " ")
    if (n == 0)
        return 0
    for (i = 1; i <= n; i++)
        if (tok[i] !~ /^[a-z][a-z0-9_]*=[^=]/)
            return 0
    return 1
}

function trim(text) {
    sub(/^[ \t]+/, "", text)
    sub(/[ \t]+$/, "", text)
    return text
}

function emit_paths(text,    rest, p) {
    rest = text
    while (match(rest, /build\/[A-Za-z0-9_.\/-]+/)) {
        p = substr(rest, RSTART, RLENGTH)
        sub(/[.\/]+$/, "", p)
        if (p != "build")
            printf "path\t%d\t%s\n", NR, p
        rest = substr(rest, RSTART + RLENGTH)
    }
}

# One command line of a shell block, with backslash continuations joined.
function emit_command(text,    cmd) {
    cmd = trim(text)
    if (cmd == "" || cmd ~ /^#/)
        return
    if (cmd == "make")
        return                      # the suite runs after make
    sub(/^make[ \t]*&&[ \t]*/, "", cmd)
    printf "cmd\t%d\t%s\t%d\t%s\n", cmd_line, flags, status, cmd
}

BEGIN { reset_marks(); in_fence = 0; pending = ""; prev_blank = 1 }

{
    line = $0
    emit_paths(line)
}

# A marker: <!-- check: WORDS -->, for the next code block.
!in_fence && match(line, /<!-- check: .* -->/) {
    mark = substr(line, RSTART + 12, RLENGTH - 16)
    mark = trim(mark)
    if (mark ~ /^skip:/)
        flags = "skip:" trim(substr(mark, 6))
    else if (mark == "root")
        flags = "root"
    else if (mark ~ /^status [0-9]+$/)
        status = substr(mark, 8) + 0
    else if (mark ~ /^output-of:/)
        source = trim(substr(mark, 11))
    else
        printf "error\t%d\tunknown marker: %s\n", NR, mark
    next
}

# Fenced blocks.
line ~ /^[ \t]*```/ {
    if (!in_fence) {
        in_fence = 1
        lang = line
        sub(/^[ \t]*```/, "", lang)
        lang = trim(lang)
        sub(/[ \t].*/, "", lang)
        shell = lang == "sh" || lang == "shell" || lang == "bash"
    } else {
        if (pending != "")
            emit_command(pending)
        pending = ""
        in_fence = 0
        reset_marks()
    }
    prev_blank = 0
    next
}

in_fence && shell {
    if (pending == "")
        cmd_line = NR
    if (line ~ /\\$/) {
        sub(/\\$/, "", line)
        pending = pending line " "
        next
    }
    emit_command(pending line)
    pending = ""
    next
}

in_fence {
    if (is_fact_line(trim(line)))
        printf "fact\t%d\t%s\t%s\t%s\n", NR, flags, source, trim(line)
    next
}

# Indented blocks (four spaces after a blank line, or after another
# indented line): only their fact lines matter.
line ~ /^(    |\t)/ && (prev_blank || in_indent) {
    in_indent = 1
    if (is_fact_line(trim(line)))
        printf "fact\t%d\t%s\t%s\t%s\n", NR, flags, source, trim(line)
    next
}

{
    if (in_indent && trim(line) != "") {
        in_indent = 0
        reset_marks()
    }
    prev_blank = trim(line) == ""
}
