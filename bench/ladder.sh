#!/usr/bin/env bash
# ABR ladder cost: publish N copies of a 720p30 source, each transcoded by
# Sluice to 720p/480p/360p (x264 veryfast), and report each ladder's speed
# (×real time, from /api/v1/transcoders) and the CPU its ffmpeg uses.
#
#   bench/ladder.sh            # N = 1, 2, 3
#   MAX_SOURCES=4 SECONDS_EACH=30 bench/ladder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_SOURCES="${MAX_SOURCES:-3}"
SECONDS_EACH="${SECONDS_EACH:-20}"
HTTP_PORT="${HTTP_PORT:-18090}"
RTMP_PORT="${RTMP_PORT:-19390}"
OUT=bench/results
mkdir -p "$OUT" bin
scripts/deps.sh
go build -o bin/sluice ./cmd/sluice
SRC="$OUT/ladder-src-720p.flv"
if [ ! -s "$SRC" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 -c:v libx264 -preset veryfast \
    -b:v 3M -g 60 -bf 0 -c:a aac -b:a 128k "$SRC"
fi
TMP="$(mktemp -d)"
cat >"$TMP/sluice.yaml" <<CONF
paths:
  "live/*":
    hls: { always_on: true }
    transcode:
      passthrough: true
      ladder:
        - { name: 720p, width: 1280, height: 720, video_bitrate: 2500k, audio_bitrate: 128k, preset: veryfast }
        - { name: 480p, width: 854, height: 480, video_bitrate: 1200k, audio_bitrate: 96k, preset: veryfast }
        - { name: 360p, width: 640, height: 360, video_bitrate: 700k, audio_bitrate: 64k, preset: veryfast }
CONF
cpu_of_children() { # sum of utime+stime ticks of the server's child processes
  local total=0
  for p in $(pgrep -P "$1" || true); do
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
echo "| sources | ladders running | speed min (×real time) | speed max | ffmpeg CPU (cores) | CPU per ladder (cores) |"
echo "|---|---|---|---|---|---|"
for n in $(seq 1 "$MAX_SOURCES"); do
  SLUICE_RTMP_LISTEN=127.0.0.1:$RTMP_PORT SLUICE_HTTP_LISTEN=127.0.0.1:$HTTP_PORT \
  SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_LOG_LEVEL=warn \
    bin/sluice -config "$TMP/sluice.yaml" >"$TMP/sluice.log" 2>&1 &
  SP=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$RTMP_PORT") 2>/dev/null && break; sleep 0.1; done
  PUBS=()
  for i in $(seq 1 "$n"); do
    ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$SRC" -c copy -f flv \
      "rtmp://127.0.0.1:$RTMP_PORT/live/src$i" </dev/null &
    PUBS+=($!)
  done
  sleep 8 # ladders start and settle
  c0=$(cpu_of_children "$SP"); t0=$(date +%s.%N)
  sleep "$SECONDS_EACH"
  c1=$(cpu_of_children "$SP"); t1=$(date +%s.%N)
  json=$(exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"; printf 'GET /api/v1/transcoders HTTP/1.0\r\nHost: x\r\n\r\n' >&3; cat <&3)
  speeds=$(grep -o '"speed": *[0-9.]*' <<<"$json" | cut -d: -f2 | tr -d ' ' | sort -n)
  running=$(grep -o '"state": *"running"' <<<"$json" | wc -l)
  cores=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.2f", (c1-c0)/100/(t1-t0)}')
  per=$(awk -v c="$cores" -v n="$n" 'BEGIN{printf "%.2f", c/n}')
  echo "| $n | $running | $(head -1 <<<"$speeds") | $(tail -1 <<<"$speeds") | $cores | $per |"
  kill "${PUBS[@]}" 2>/dev/null || true
  kill "$SP"; wait "$SP" 2>/dev/null || true
  wait 2>/dev/null || true
done
rm -rf "$TMP"
