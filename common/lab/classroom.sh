#!/usr/bin/env bash
# classroom.sh - print a GitHub Classroom autograding workflow for one lab.
#
# Usage: common/lab/classroom.sh NN > .github/workflows/classroom.yml
#
# GitHub Classroom's command grader scores a step all or nothing, by its exit
# status.  So the workflow has one step per test of the lab's rubric, each
# running `make grade LAB=NN TEST=id` for that test's points, and a reporter
# step that adds them up: the points follow the rubric.  Put the file in the
# assignment's template repository (made from `make handout`).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '3,5s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
[[ ${1:-} =~ ^[0-9][0-9]$ ]] || {
  echo "classroom: a lab number is needed, e.g. 05 (see --help)" >&2
  exit 2
}
rubrics=("$root/$1"_*/lab/rubric)
[[ -f ${rubrics[0]} ]] || {
  echo "classroom: no lab $1 (see --help)" >&2
  exit 2
}
awk -f "$root/common/lab/rubric.awk" "${rubrics[0]}" | awk -F'\t' -v lab="$1" '
  BEGIN {
    print "# The autograding workflow of lab " lab ", made by common/lab/classroom.sh from its rubric."
    print "name: Autograding Tests"
    print "on: [push, repository_dispatch, workflow_dispatch]"
    print "permissions:"
    print "  checks: write"
    print "  actions: read"
    print "  contents: read"
    print "jobs:"
    print "  run-autograding-tests:"
    print "    runs-on: ubuntu-latest"
    print "    if: github.actor != '\''github-classroom[bot]'\''"
    print "    steps:"
    print "      - name: Checkout code"
    print "        uses: actions/checkout@v4"
  }
  {
    id = "test-" $1
    gsub(/_/, "-", id)
    minutes = ($4 == "-" ? 10 : int(($4 + 59) / 60) + 5)
    printf "      - name: %s\n        id: %s\n", $1, id
    print "        uses: classroom-resources/autograding-command-grader@v1"
    printf "        with:\n          test-name: %s\n", $1
    printf "          command: make grade LAB=%s TEST=%s\n", lab, $1
    printf "          timeout: %d\n          max-score: %d\n", minutes, $2
    ids[++n] = id
  }
  END {
    print "      - name: Autograding Reporter"
    print "        uses: classroom-resources/autograding-grading-reporter@v1"
    print "        env:"
    for (i = 1; i <= n; i++)
      printf "          %s_RESULTS: \"${{steps.%s.outputs.result}}\"\n", toupper(ids[i]), ids[i]
    printf "        with:\n          runners: "
    for (i = 1; i <= n; i++)
      printf "%s%s", (i > 1 ? "," : ""), ids[i]
    print ""
  }'
