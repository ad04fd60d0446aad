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
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 10x "$dir" >/tmp/sluice-fuzz.log 2>&1; then
    cat /tmp/sluice-fuzz.log
    status=1
  fi
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' internal cmd 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
exit $status
