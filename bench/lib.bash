# bench/lib.bash - what the benchmark scripts share (sourced, not run).
#
# Expects $root (the repository) and, for record, $results (the JSON lines
# file) to be set by the script that sources it.
# shellcheck disable=SC2154 # $root and $results come from that script

# fact KEY [KEY=VALUE...] < output: one fact from a program's output (the
# same reader the tests use).
fact() {
  local key=$1
  shift
  awk -v key="$key" -v filters="$*" -f "$root/common/fact.awk"
}

# order_stats FORMAT < numbers, one a line: "median min max", each printed
# with FORMAT ("0 0 0" for no numbers; the median of an even count is the
# mean of the two middle values).
order_stats() {
  sort -g | awk -v f="$1" '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "0 0 0"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf f " " f " " f "\n", m, v[1], v[NR]
    }'
}

# stats NUMBERS...: print "median min max", as integers.
stats() {
  printf '%s\n' "$@" | grep . | order_stats '%.0f'
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

# --- the skeleton every benchmark follows -------------------------------
# 1. alternate REPS MEASURE VARIANT...: for each repetition, MEASURE VARIANT
#    REP for every variant in turn (backwards on odd repetitions), so that
#    the machine's noise hits all of them alike.  MEASURE runs one program and keeps what it printed with
#    add_sample.
# 2. summary KEY: "median min max" of the samples kept under KEY; or
#    paired_ratio KEY REF_KEY: the median of their ratios, repetition by
#    repetition.
# 3. emit_row FORMAT VALUE... -- KEY=VALUE...: the table row for people
#    (printf FORMAT with the VALUEs) and the same row as one JSON object in
#    the results file (the KEY=VALUEs; see record).

declare -A SAMPLES=()

# add_sample KEY VALUE: keep one measured value under KEY ("zone/2 rate").
add_sample() {
  SAMPLES[$1]+="$2 "
}

# summary KEY: "median min max" of KEY's samples ("0 0 0" when none).
summary() {
  local -a values
  read -ra values <<<"${SAMPLES[$1]:-}"
  stats "${values[@]}"
}

# paired_ratio KEY REF_KEY: the median over the repetitions of KEY's sample
# divided by REF_KEY's sample of the same repetition, two decimals.
# alternate runs the two close together in every repetition, so each pair
# sees the machine in one state: a neighbour's load that comes and goes
# cancels out of every ratio, where it would stay in a ratio of medians
# taken at different moments.  Without one sample of each per repetition
# (a run failed), it is the ratio of the medians.
paired_ratio() {
  local -a values refs
  read -ra values <<<"${SAMPLES[$1]:-}"
  read -ra refs <<<"${SAMPLES[$2]:-}"
  if ((${#values[@]} == 0 || ${#values[@]} != ${#refs[@]})); then
    ratio "$(summary "$1" | cut -d' ' -f1)" "$(summary "$2" | cut -d' ' -f1)"
    return
  fi
  paste -d' ' <(printf '%s\n' "${values[@]}") <(printf '%s\n' "${refs[@]}") |
    awk '{ print ($2 > 0 ? $1 / $2 : 0) }' | order_stats '%.2f' | cut -d' ' -f1
}

# has_samples KEY: true if anything was kept under KEY.
has_samples() {
  local kept=${SAMPLES[$1]:-}
  [[ -n ${kept// /} ]]
}

# alternate REPS MEASURE VARIANT...: MEASURE VARIANT REP for every variant,
# REPS times, the variants in their order on even repetitions and in reverse
# on odd ones, so that no contender always runs right after the same other
# one, nor always first (a machine warming up or slowing down would favour
# it), and the medians see both orders.
alternate() {
  local reps=$1 measure=$2 rep i
  shift 2
  local -a variants=("$@")
  for ((rep = 0; rep < reps; rep++)); do
    for ((i = 0; i < ${#variants[@]}; i++)); do
      if ((rep % 2 == 0)); then
        "$measure" "${variants[i]}" "$rep"
      else
        "$measure" "${variants[${#variants[@]} - 1 - i]}" "$rep"
      fi
    done
  done
}

emit_row() {
  local format=$1 values=()
  shift
  while (($#)) && [[ $1 != -- ]]; do
    values+=("$1")
    shift
  done
  shift
  # shellcheck disable=SC2059 # the format is the caller's table layout
  printf "$format\n" "${values[@]}"
  record "$@"
}

# record KEY=VALUE...: one JSON object in $results (numbers and null bare,
# everything else as a string).
record() {
  local first=1 pair key value
  {
    printf '{'
    for pair in "$@"; do
      key=${pair%%=*}
      value=${pair#*=}
      ((first)) || printf ','
      first=0
      if [[ $value == null || $value =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        printf '"%s":%s' "$key" "$value"
      else
        printf '"%s":"%s"' "$key" "$value"
      fi
    done
    printf '}\n'
  } >>"$results"
}

# millions N: N / 1e6 with one decimal.
millions() {
  awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'
}
