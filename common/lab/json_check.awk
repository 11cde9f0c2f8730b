# json_check.awk - is the input one valid JSON document shaped like
# Gradescope's results.json?  (No jq, no Python: POSIX awk alone.)
#
#   LC_ALL=C awk -f common/lab/json_check.awk results.json
#
# Parses the whole grammar of RFC 8259 (objects, arrays, strings with their
# escapes, numbers, true, false, null) and then checks the fields Gradescope
# reads: a number "score" and an array "tests" whose every element has a
# string "name", numbers "score" and "max_score", "status" passed or failed,
# a string "output" and a "visibility" Gradescope knows.  Prints
# "ok tests=N score=S", or the first problem and exits 1.

function fail(why) {
    printf "json_check: %s at byte %d\n", why, pos > "/dev/stderr"
    failed = 1
    exit 1
}

function peek() {
    return substr(text, pos, 1)
}

function skip_space() {
    while (pos <= len && index(" \t\n\r", peek()) > 0)
        pos++
}

function expect(c) {
    skip_space()
    if (peek() != c)
        fail("expected '" c "'")
    pos++
}

function parse_string(    out, c, hex) {
    if (peek() != "\"")
        fail("expected a string")
    pos++
    out = ""
    for (;;) {
        if (pos > len)
            fail("unterminated string")
        c = peek()
        if (c == "\"") {
            pos++
            return out
        }
        if (index(controls, c) > 0)
            fail("raw control character in a string")
        if (c == "\\") {
            pos++
            c = peek()
            if (c == "u") {
                hex = substr(text, pos + 1, 4)
                if (hex !~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/)
                    fail("bad \\u escape")
                pos += 5
                out = out "?"
                continue
            }
            if (index("\"\\/bfnrt", c) == 0)
                fail("bad escape \\" c)
            c = c == "n" ? "\n" : c == "t" ? "\t" : c
        }
        out = out c
        pos++
    }
}

function parse_number(    rest, m) {
    rest = substr(text, pos)
    if (!match(rest, /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/))
        fail("expected a value")
    m = substr(rest, 1, RLENGTH)
    pos += RLENGTH
    return m
}

# Parse the value at pos; record its type (and scalar value) under path.
function parse_value(path,    c, n, key) {
    skip_space()
    c = peek()
    if (c == "{") {
        type[path] = "object"
        pos++
        skip_space()
        if (peek() == "}") {
            pos++
            return
        }
        for (;;) {
            skip_space()
            key = parse_string()
            if ((path "." key) in type)
                fail("duplicate key \"" key "\"")
            expect(":")
            parse_value(path "." key)
            skip_space()
            if (peek() == ",") {
                pos++
                continue
            }
            expect("}")
            return
        }
    }
    if (c == "[") {
        type[path] = "array"
        pos++
        n = 0
        skip_space()
        if (peek() == "]") {
            pos++
            size[path] = 0
            return
        }
        for (;;) {
            parse_value(path "[" n "]")
            n++
            skip_space()
            if (peek() == ",") {
                pos++
                continue
            }
            expect("]")
            size[path] = n
            return
        }
    }
    if (c == "\"") {
        type[path] = "string"
        value[path] = parse_string()
        return
    }
    if (substr(text, pos, 4) == "true" || substr(text, pos, 4) == "null") {
        type[path] = substr(text, pos, 4) == "true" ? "boolean" : "null"
        pos += 4
        return
    }
    if (substr(text, pos, 5) == "false") {
        type[path] = "boolean"
        pos += 5
        return
    }
    type[path] = "number"
    value[path] = parse_number()
}

function need(path, want) {
    if (!(path in type))
        fail(path " is missing")
    if (type[path] != want)
        fail(path " is a " type[path] ", not a " want)
}

{ text = text $0 "\n" }

END {
    if (failed)
        exit 1
    for (i = 1; i < 32; i++)
        controls = controls sprintf("%c", i)
    len = length(text)
    pos = 1
    parse_value("")
    skip_space()
    if (pos <= len)
        fail("text after the document")
    need("", "object")
    need(".score", "number")
    need(".tests", "array")
    for (i = 0; i < size[".tests"]; i++) {
        t = ".tests[" i "]"
        need(t, "object")
        need(t ".name", "string")
        need(t ".score", "number")
        need(t ".max_score", "number")
        need(t ".status", "string")
        if (value[t ".status"] !~ /^(passed|failed)$/)
            fail(t ".status is \"" value[t ".status"] "\", not passed or failed")
        need(t ".output", "string")
        need(t ".visibility", "string")
        if (value[t ".visibility"] !~ /^(visible|hidden|after_due_date|after_published)$/)
            fail(t ".visibility is \"" value[t ".visibility"] "\"")
    }
    printf "ok tests=%d score=%s\n", size[".tests"], value[".score"]
}
