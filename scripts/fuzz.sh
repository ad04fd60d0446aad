#!/usr/bin/env bash
# Runs every go test -fuzz target in the module for FUZZTIME each (default
# 3s; e.g. FUZZTIME=10m scripts/fuzz.sh for a long run). The checked-in
# seed corpora also run as plain tests in `go test ./...`.
#
# FUZZJOBS targets run at once (default 2), each with nproc/FUZZJOBS
# fuzzing workers (at least 1), so the machine's cores are shared out
# rather than oversubscribed: on CI's 2 cores two targets of one worker
# each take half the wall time of one target after the other with two
# workers, for the same inputs per target. FUZZJOBS=1 runs them one by one.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-3s}"
FUZZJOBS="${FUZZJOBS:-2}"
cores="$(nproc 2>/dev/null || echo 2)"
workers=$((cores / FUZZJOBS))
[ "$workers" -ge 1 ] || workers=1

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# fuzz_one DIR NAME LOG: fuzzes one target, its output in LOG; on failure
# prints LOG and returns 1.
fuzz_one() {
  local dir="$1" name="$2" log="$3" attempt
  for attempt in 1 2; do
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 10x \
      -parallel "$workers" "$dir" >"$log" 2>&1; then
      return 0
    fi
    # Go's fuzzing engine sometimes ends a clean run with "context deadline
    # exceeded" and no failing input (its workers stopping late on a busy
    # machine): run that target once more. A real failure writes its input
    # under testdata/fuzz and fails both times.
    if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" "$log" &&
      ! grep -q "Failing input written" "$log"; then
      echo "fuzz: $name: engine timeout without a failing input, running it again"
      continue
    fi
    echo "fuzz: $dir $name FAILED:"
    cat "$log"
    return 1
  done
}

# The target list is read first: `wait -n` below must wait for fuzzing
# jobs only.
mapfile -t targets < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' internal cmd 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
wait # the process substitution
status=0
running=0
n=0
for line in "${targets[@]}"; do
  file="${line%%:*}"
  name="$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")"
  dir="./$(dirname "$file")"
  if [ "$running" -ge "$FUZZJOBS" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  n=$((n + 1))
  echo "fuzz: $dir $name ($FUZZTIME, $workers worker(s))"
  fuzz_one "$dir" "$name" "$logs/$n.log" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
