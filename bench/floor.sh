#!/usr/bin/env bash
# The kernel's floor for RTMP fan-out on this machine: bench/floor writes
# one 2.5 Mb/s 30 fps stream (video frame + the audio frames due, one
# writev per connection per video frame, shared buffers, no goroutine per
# connection) to N loopback connections of a separate sink process and
# reports its own CPU from /proc/PID/stat. Compare with the CPU % column of
# bench/compare.sh at the same N, run back to back.
#
#   bench/floor.sh                          # 500 connections, 15 s
#   VIEWERS_LIST="100 500 1000" SECONDS_EACH=15 RUNS=3 bench/floor.sh
#
# Writes bench/results/floor-N-RUN.json and prints one summary line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS_LIST="${VIEWERS_LIST:-500}"
SECONDS_EACH="${SECONDS_EACH:-15}"
RUNS="${RUNS:-1}"
OUT=bench/results
mkdir -p "$OUT" bin
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
go build -o bin/floor ./bench/floor
for v in $VIEWERS_LIST; do
  for r in $(seq "$RUNS"); do
    bin/floor -n "$v" -duration "${SECONDS_EACH}s" >"$OUT/floor-$v-$r.json"
  done
done
