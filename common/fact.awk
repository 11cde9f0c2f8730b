# fact.awk - print the value of one fact from a program's output.
#
#   awk -v key=minor_faults -v filters="mode=touch" -f common/fact.awk < output
#
# A fact line is made only of key=value tokens (see common/out.h).  Prints
# the value of `key` from the last fact line that has it and every
# space-separated key=value in `filters`; prints nothing if there is none.
# Used by the tests (test/helper.bash) and the benchmarks (bench/run.sh).
BEGIN { nfilters = split(filters, wanted, " ") }
{
    for (i = 1; i <= NF; i++)
        if ($i !~ /^[a-z][a-z0-9_]*=[^=]/)
            next
    found = ""
    for (i = 1; i <= NF; i++)
        if (index($i, key "=") == 1)
            found = substr($i, length(key) + 2)
    if (found == "")
        next
    for (j = 1; j <= nfilters; j++) {
        matched = 0
        for (i = 1; i <= NF; i++)
            if ($i == wanted[j])
                matched = 1
        if (!matched)
            next
    }
    value = found
}
END { if (value != "") print value }
