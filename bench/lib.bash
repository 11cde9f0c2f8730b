# bench/lib.bash - what the benchmark scripts share (sourced, not run).
#
# Expects $root (the repository) to be set by the script that sources it.
# shellcheck disable=SC2154 # $root comes from that script

# fact KEY [KEY=VALUE...] < output: one fact from a program's output (the
# same reader the tests use).
fact() {
  local key=$1
  shift
  awk -v key="$key" -v filters="$*" -f "$root/common/fact.awk"
}

# stats NUMBERS...: print "median min max" (the median of an even count is
# the mean of the two middle values).
stats() {
  printf '%s\n' "$@" | grep . | sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "0 0 0"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.0f %.0f %.0f\n", m, v[1], v[NR]
    }'
}

# ratio A B: A/B with two decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'
}

# ms NANOSECONDS: milliseconds with the given decimals (default 1).
ms() {
  awk -v ns="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, ns / 1e6 }'
}

# elapsed_ns COMMAND...: run it (output discarded), print its wall time.
elapsed_ns() {
  local start=$EPOCHREALTIME end
  "$@" >/dev/null
  end=$EPOCHREALTIME
  echo $(((${end/./} - ${start/./}) * 1000))
}
