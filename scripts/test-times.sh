#!/usr/bin/env bash
# Where `npm test`'s time goes: every test file of the given workspace folders, run alone as its
# package's `npm test` runs it (node --test, one file at a time), with its wall time and CPU time
# (user + sys, its child processes included), slowest first, then the totals and the load average.
# Build first (npm run build). A shared machine inflates wall times: compare files of one run.
#
#   npm run test:times                      # every workspace
#   npm run test:times -- test packages/comm  # some
set -uo pipefail
cd "$(dirname "$0")/.."
folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(packages/* launcher deploy test)
rows=$(mktemp)
timing=$(mktemp)
trap 'rm -f "$rows" "$timing"' EXIT
TIMEFORMAT='%R %U %S'
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for folder in "${folders[@]}"; do
  for file in "$folder"/dist/test/*.test.js "$folder"/dist/cases/*.test.js; do
    [ -f "$file" ] || continue
    { time (cd "$folder" && node --test --test-concurrency=1 "${file#"$folder"/}" >/dev/null 2>&1); } 2>"$timing"
    status=$([ $? -eq 0 ] && echo pass || echo FAIL)
    read -r wall user sys <"$timing"
    awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$status" -v f="$file" \
      'BEGIN { printf "%9.1f %9.1f  %-4s  %s\n", w, u + s, r, f }' | tee -a "$rows" >&2
  done
done
echo
printf '%9s %9s  %-4s  %s\n' 'wall s' 'cpu s' '' 'file (slowest first)'
sort -rn "$rows"
awk '{ wall += $1; cpu += $2 } END { printf "%9.1f %9.1f        total of %d files\n", wall, cpu, NR }' "$rows"
echo "load average: $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
