#!/usr/bin/env bash
# Cluster edge cost: what node A (the owner) pays for N viewers watching
# directly on A versus the same N viewers on an edge B that pulls the
# stream from A once. Real redis-server, two Sluice processes on loopback,
# sluice-bench as publisher and viewers, A's CPU and RSS sampled from /proc.
#
#   bench/cluster.sh                      # 500 HTTP-FLV viewers, 20 s each
#   VIEWERS=100 SECONDS_EACH=10 PROTO=rtmp bench/cluster.sh
#
# Results: bench/results/cluster-*.json and sluice-bench's tables on stdout
# (the "server" columns are always A's). The edge rows show no latency:
# FLV viewers are matched to the publisher by timestamp and the edge's
# stream has its own timeline; the edge hop's latency is measured by
# content instead in TestClusterEdgePullsOnceFromOwner.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS="${VIEWERS:-500}"
SECONDS_EACH="${SECONDS_EACH:-20}"
BITRATE="${BITRATE:-2500k}"
PROTO="${PROTO:-http-flv}"
REDIS_PORT="${REDIS_PORT:-16390}"
A_RTMP="${A_RTMP:-19370}" A_HTTP="${A_HTTP:-18070}"
B_RTMP="${B_RTMP:-19371}" B_HTTP="${B_HTTP:-18071}"
A_WEBRTC="${A_WEBRTC:-18170}" B_WEBRTC="${B_WEBRTC:-18171}"
OUT=bench/results
mkdir -p "$OUT" bin
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
scripts/deps.sh

. bench/lib.sh
CLIP="$(bench_clip "$BITRATE" "$OUT")"
TMP="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  exit 1
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
pids+=($!)
wait_port "$REDIS_PORT"

node() { # node ID RTMP HTTP ROLE WEBRTC
  SLUICE_CLUSTER_REDIS="redis://127.0.0.1:$REDIS_PORT/0" SLUICE_CLUSTER_NODE_ID="$1" \
  SLUICE_CLUSTER_ADVERTISE="127.0.0.1:$2" SLUICE_CLUSTER_SECRET=bench-cluster-secret-0123456789 \
  SLUICE_CLUSTER_ROLE="$4" SLUICE_RTMP_LISTEN="127.0.0.1:$2" SLUICE_HTTP_LISTEN="127.0.0.1:$3" \
  SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_SRT_LISTEN="" SLUICE_WEBRTC_LISTEN="127.0.0.1:$5" SLUICE_LOG_LEVEL=warn \
    "$BENCH_SLUICE_BIN" >"$OUT/cluster-$1.log" 2>&1 &
  pids+=($!)
  wait_port "$3"
}
node a "$A_RTMP" "$A_HTTP" origin "$A_WEBRTC"
A_PID="${pids[-1]}"
node b "$B_RTMP" "$B_HTTP" edge "$B_WEBRTC"

play_url() { # RTMP HTTP PATH
  case "$PROTO" in
    http-flv) echo "http://127.0.0.1:$2/$3.flv" ;;
    rtmp) echo "rtmp://127.0.0.1:$1/$3" ;;
    *) echo "PROTO must be http-flv or rtmp" >&2; exit 2 ;;
  esac
}

echo "## $VIEWERS $PROTO viewers on A itself ($SECONDS_EACH s, clip $BITRATE); server = A"
"$BENCH_TOOL_BIN" -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$A_RTMP/live/direct" \
  -play "$(play_url "$A_RTMP" "$A_HTTP" live/direct)" -viewers "$VIEWERS" -duration "${SECONDS_EACH}s" \
  -pid "$A_PID" -label "A, viewers on A" -proto "$PROTO" -json "$OUT/cluster-direct-$VIEWERS.json"
echo
echo "## $VIEWERS $PROTO viewers on edge B, which pulls from A once; server = A"
"$BENCH_TOOL_BIN" -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$A_RTMP/live/edged" \
  -play "$(play_url "$B_RTMP" "$B_HTTP" live/edged)" -viewers "$VIEWERS" -duration "${SECONDS_EACH}s" \
  -pid "$A_PID" -label "A, viewers on B" -proto "$PROTO" -json "$OUT/cluster-edge-$VIEWERS.json"
