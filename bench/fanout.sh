#!/usr/bin/env bash
# Fan-out benchmark of one Sluice: 1 RTMP publisher (a looped ffmpeg-made
# H.264/AAC clip) and N viewers per protocol, measured by sluice-bench:
# delivery, stalls, publish→viewer latency, server CPU and RSS.
#
#   bench/fanout.sh                 # 100 viewers, HTTP-FLV and RTMP, 20 s each
#   VIEWERS=500 SECONDS_EACH=30 bench/fanout.sh
#
# Results: bench/results/fanout-*.json and a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS="${VIEWERS:-100}"
SECONDS_EACH="${SECONDS_EACH:-20}"
BITRATE="${BITRATE:-2500k}"
PROTOS="${PROTOS:-http-flv rtmp}"
RTMP_PORT="${RTMP_PORT:-19350}"
HTTP_PORT="${HTTP_PORT:-18080}"
OUT=bench/results
mkdir -p "$OUT" bin
scripts/deps.sh

. bench/lib.sh
CLIP="$(bench_clip "$BITRATE" "$OUT")"

SLUICE_RTMP_LISTEN=127.0.0.1:$RTMP_PORT SLUICE_HTTP_LISTEN=127.0.0.1:$HTTP_PORT \
SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_LOG_LEVEL=warn \
  bin/sluice >"$OUT/sluice.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break
  sleep 0.1
done

for proto in $PROTOS; do
  case "$proto" in
    http-flv) PLAY="http://127.0.0.1:$HTTP_PORT/live/bench-$proto.flv" ;;
    rtmp) PLAY="rtmp://127.0.0.1:$RTMP_PORT/live/bench-$proto" ;;
    *) echo "unknown protocol $proto" >&2; exit 2 ;;
  esac
  echo "## $proto, $VIEWERS viewers, $SECONDS_EACH s, clip $BITRATE"
  bin/sluice-bench -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$RTMP_PORT/live/bench-$proto" \
    -play "$PLAY" -viewers "$VIEWERS" -duration "${SECONDS_EACH}s" -pid "$PID" \
    -json "$OUT/fanout-$proto-$VIEWERS.json"
  echo
done
