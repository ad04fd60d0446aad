#!/usr/bin/env bash
# WebRTC (WHEP) benchmark of one Sluice, measured by `sluice-bench whep`:
# an RTMP publisher (looped ffmpeg-made H.264/AAC clip, so audio goes
# through the AAC→Opus ffmpeg bridge) and pion WHEP viewers in the bench
# process, over loopback.
#
#   1. latency run: 1 viewer, server at debug level; the server logs the
#      time from a frame's hub arrival (right after its RTMP message is
#      parsed) to the RTP send of its last packet ("whep frame sent"),
#      median / p99 / max; plus time to first packet and frame.
#   2. load run: VIEWERS (20) viewers, server at warn level: server CPU
#      (and its ffmpeg child separately), time to first frame, delivery.
#
#   bench/webrtc.sh
#   VIEWERS=50 SECONDS_EACH=30 bench/webrtc.sh
#
# Results: bench/results/webrtc-*.json and markdown tables on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS="${VIEWERS:-20}"
SECONDS_EACH="${SECONDS_EACH:-20}"
BITRATE="${BITRATE:-2500k}"
RTMP_PORT="${RTMP_PORT:-19351}"
HTTP_PORT="${HTTP_PORT:-18081}"
WEBRTC_PORT="${WEBRTC_PORT:-18189}"
OUT=bench/results
mkdir -p "$OUT" bin

. bench/lib.sh
CLIP="$(bench_clip "$BITRATE" "$OUT")"

PID=
stop_server() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap stop_server EXIT

start_server() { # $1: log level, $2: log file
  SLUICE_RTMP_LISTEN=127.0.0.1:$RTMP_PORT SLUICE_HTTP_LISTEN=127.0.0.1:$HTTP_PORT \
  SLUICE_WEBRTC_LISTEN=127.0.0.1:$WEBRTC_PORT \
  SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 \
  SLUICE_LOG_LEVEL="$1" SLUICE_LOG_FORMAT=json bin/sluice >"$2" 2>&1 &
  PID=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && return
    sleep 0.1
  done
  echo "sluice did not start" >&2; exit 1
}

run() { # $1: name, $2: viewers, $3: log level
  local log="$OUT/webrtc-$1.log"
  start_server "$3" "$log"
  echo "### $1: $2 WHEP viewers, ${SECONDS_EACH}s, log level $3"
  bin/sluice-bench whep -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$RTMP_PORT/live/bench" \
    -whep "http://127.0.0.1:$HTTP_PORT/live/bench/whep" -viewers "$2" -duration "${SECONDS_EACH}s" \
    -pid "$PID" -log "$log" -json "$OUT/webrtc-$1.json"
  echo
  stop_server
}

run latency 1 debug
run load "$VIEWERS" warn
