# results.awk - write Gradescope's results.json from the grader's records.
#
#   awk -v score=S -v seconds=T -v report=FILE -f common/lab/results.awk \
#       planned.tsv results.tsv > results.json
#
# planned.tsv: one line per test the grader means to run, fields
#   lab  id  max_points  visibility
# results.tsv: one line per test it has run, fields
#   lab  id  PASS|FAIL|SKIP  points  max_points  visibility  ms  output_file
# A planned test with no result yet is written as failed, "not run", so
# that a grader stopped half-way (a hang the timeout did not end, a killed
# container) still leaves a valid file.  report is the text of the report
# so far, the top-level "output".  Every string is escaped; bytes outside
# printable ASCII become "?", so the file is always valid UTF-8.

BEGIN { FS = "\t" }

function json_string(s,    out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\")
            out = out "\\\\"
        else if (c == "\"")
            out = out "\\\""
        else if (c == "\n")
            out = out "\\n"
        else if (c == "\t")
            out = out "\\t"
        else if (c < " " || c > "~")
            out = out "?"
        else
            out = out c
    }
    return "\"" out "\""
}

function read_file(path,    text, line) {
    text = ""
    while ((getline line < path) > 0)
        text = text line "\n"
    close(path)
    return text
}

FNR == NR {
    planned[++count] = $1 SUBSEP $2
    max[$1, $2] = $3
    visibility[$1, $2] = $4
    next
}

{
    status[$1, $2] = $3
    points[$1, $2] = $4
    output_file[$1, $2] = $8
}

END {
    printf "{\n"
    printf "  \"score\": %d,\n", score
    printf "  \"execution_time\": %d,\n", seconds
    printf "  \"visibility\": \"visible\",\n"
    printf "  \"stdout_visibility\": \"visible\",\n"
    printf "  \"output\": %s,\n", json_string(report == "" ? "" : read_file(report))
    printf "  \"tests\": ["
    for (i = 1; i <= count; i++) {
        key = planned[i]
        split(key, part, SUBSEP)
        if (key in status) {
            st = status[key] == "FAIL" ? "failed" : "passed"
            got = points[key]
            most = status[key] == "SKIP" ? 0 : max[key]
            text = (status[key] == "SKIP" ? "SKIP: " : "") read_file(output_file[key])
        } else {
            st = "failed"
            got = 0
            most = max[key]
            text = "not run: the grader stopped before this test\n"
        }
        printf "%s\n    {\"name\": %s, \"score\": %d, \"max_score\": %d, \"status\": \"%s\", ",
               (i > 1 ? "," : ""), json_string(substr(part[1], 1, 2) " " part[2]), got, most, st
        printf "\"visibility\": %s, \"output\": %s}", json_string(visibility[key]),
               json_string(text)
    }
    printf "%s]\n}\n", (count ? "\n  " : "")
}
