#!/usr/bin/env bash
# Runs the end-to-end tests (test/e2e) and, beside them at idle CPU
# priority, work that only needs CPU: $E2E_BESIDE (a shell command, e.g.
# `make vet` under `make test`) and test/arch's cross builds. Used by
# `make unit`.
#
# The e2e tests use a fraction of the cores on average (they mostly wait
# on real-time media: 299 s of CPU in 822 s, measured), but their serial
# tests (browsers, QoE) must not compete for the CPU. Under SCHED_IDLE
# (chrt --idle) the work beside them runs only on cores they leave idle;
# it has no timing to keep. Without chrt it runs after the e2e tests.
#   E2E_PARALLEL  tests that call t.Parallel() run this many at a time (8)
#   E2E_BESIDE    command to run beside them (default none)
#   GO            the go command (go)
set -uo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
E2E_PARALLEL="${E2E_PARALLEL:-8}"
E2E_BESIDE="${E2E_BESIDE:-}"
flags=(-race -count=1 -timeout 15m)

beside() {
  local status=0
  if [ -n "$E2E_BESIDE" ]; then
    bash -c "$E2E_BESIDE" || status=1
  fi
  "$GO" test "${flags[@]}" ./test/arch/ || status=1
  return $status
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
pid=""
if command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null; then
  export -f beside
  export GO E2E_BESIDE
  flagstr="${flags[*]}"
  chrt --idle 0 bash -c "flags=($flagstr); beside" >"$log" 2>&1 &
  pid=$!
fi

status=0
"$GO" test "${flags[@]}" -parallel "$E2E_PARALLEL" ./test/e2e/ || status=1

if [ -n "$pid" ]; then
  wait "$pid" || status=1
  cat "$log"
else
  beside || status=1
fi
exit $status
