#!/usr/bin/env bash
# Runs every go test -fuzz target in the module for FUZZTIME each (default
# 3s; e.g. FUZZTIME=10m scripts/fuzz.sh for a long run). The checked-in
# seed corpora also run as plain tests in `go test ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-3s}"
status=0
while IFS= read -r line; do
  file="${line%%:*}"
  name="$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")"
  dir="./$(dirname "$file")"
  echo "fuzz: $dir $name ($FUZZTIME)"
  for attempt in 1 2; do
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 10x "$dir" >/tmp/sluice-fuzz.log 2>&1; then
      break
    fi
    # Go's fuzzing engine sometimes ends a clean run with "context deadline
    # exceeded" and no failing input (its workers stopping late on a busy
    # machine): run that target once more. A real failure writes its input
    # under testdata/fuzz and fails both times.
    if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" /tmp/sluice-fuzz.log &&
      ! grep -q "Failing input written" /tmp/sluice-fuzz.log; then
      echo "fuzz: $name: engine timeout without a failing input, running it again"
      continue
    fi
    cat /tmp/sluice-fuzz.log
    status=1
    break
  done
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' internal cmd 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
exit $status
