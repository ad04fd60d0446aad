#!/usr/bin/env bash
# LL-HLS / DASH measurements of one Sluice (bench/hlslatency does (a), (b)):
#  (a) keyframe entering the server → its part listed in the LL-HLS playlist
#      (blocking _HLS_msn/_HLS_part reloads; median, p99);
#  (b) first request → first playlist (and MPD) for an on-demand stream;
#  (c) requests/s of playlist + part GETs with wrk, the server pinned to
#      one core (taskset -c 0), wrk and the publisher on the other.
#
#   bench/hls.sh                       # 30 s latency run, 10 s wrk runs
#   DURATION=60s WRK_SECONDS=20 bench/hls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-30s}"
WRK_SECONDS="${WRK_SECONDS:-10}"
WRK_CONNS="${WRK_CONNS:-64}"
HTTP_PORT="${HTTP_PORT:-18095}"
RTMP_PORT="${RTMP_PORT:-19395}"
OUT=bench/results
mkdir -p "$OUT" bin
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v ffmpeg >/dev/null || scripts/deps.sh
go build -o bin/sluice ./cmd/sluice
go build -o bin/hlslatency ./bench/hlslatency
CLIP="$OUT/hls-clip-720p.flv"
if [ ! -s "$CLIP" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 -c:v libx264 -preset veryfast \
    -b:v 2M -g 60 -keyint_min 60 -sc_threshold 0 -bf 0 -c:a aac -b:a 128k "$CLIP"
fi
TMP="$(mktemp -d)"
SLUICE_PID=""
cleanup() { [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
SLUICE_HTTP_LISTEN=127.0.0.1:$HTTP_PORT SLUICE_RTMP_LISTEN=127.0.0.1:$RTMP_PORT \
  SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_WEBRTC_LISTEN=127.0.0.1:0 \
  SLUICE_LOG_LEVEL=warn GOMAXPROCS=1 taskset -c 0 bin/sluice 2>"$OUT/hls-sluice.log" &
SLUICE_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done

# (a) and (b)
taskset -c 1 bin/hlslatency -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$RTMP_PORT/live" \
  -http "http://127.0.0.1:$HTTP_PORT/live" -duration "$DURATION" > "$OUT/hls-latency.json"

# (c): a publisher on core 1, then wrk on core 1 against the playlist and a
# part of the newest complete segment.
taskset -c 1 ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$CLIP" -c copy -f flv \
  "rtmp://127.0.0.1:$RTMP_PORT/live/load" &
PUB=$!
BASE="http://127.0.0.1:$HTTP_PORT/live"
for _ in $(seq 100); do curl -sf "$BASE/load.m3u8" -o "$TMP/pl.m3u8" && grep -q EXTINF "$TMP/pl.m3u8" && break; sleep 0.2; done
sleep 3
# A part of the newest complete segment: valid for the retained window
# (~18 s), so it is picked again before every run.
pick_part() {
  curl -sf "$BASE/load.m3u8" -o "$TMP/pl.m3u8"
  SEG=$(grep -v '^#' "$TMP/pl.m3u8" | grep m4s | tail -1)          # load/hls/SID_segN.m4s
  PART=$(echo "$SEG" | sed -E 's/_seg([0-9]+)\.m4s/_part\1.0.m4s/')
  cat >"$TMP/mix.lua" <<LUA
local paths = {"/live/load.m3u8", "/live/$PART"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % 2) + 1])
end
LUA
}
# wrk_rps prints requests/s; any non-2xx answer fails the run.
wrk_rps() {
  taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${WRK_SECONDS}s" "$@" >"$TMP/wrk.txt"
  if grep -q "Non-2xx" "$TMP/wrk.txt"; then cat "$TMP/wrk.txt" >&2; echo "non-2xx answers" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt"
}
RPS_PL=$(wrk_rps "$BASE/load.m3u8")
pick_part; RPS_PART=$(wrk_rps "$BASE/$PART")
pick_part; RPS_MIX=$(wrk_rps -s "$TMP/mix.lua" "$BASE/load.m3u8")
RPS_MPD=$(wrk_rps "$BASE/load.mpd")
PART_BYTES=$(curl -sf "$BASE/$PART" | wc -c)
kill $PUB 2>/dev/null || true

python3 - "$OUT/hls-latency.json" "$RPS_PL" "$RPS_PART" "$RPS_MIX" "$RPS_MPD" "$WRK_CONNS" "$PART_BYTES" <<'PY' | tee "$OUT/hls.md"
import json, sys, statistics
r = json.load(open(sys.argv[1]))
def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")
k = r["key_to_part_ms"]; h = r["on_demand_m3u8_ms"]; d = r["on_demand_mpd_ms"]
print("| measurement | n | median | p99 |")
print("| --- | --- | --- | --- |")
print(f"| keyframe in → part listed in LL-HLS playlist (ms) | {len(k)} | {q(k,.5):.1f} | {q(k,.99):.1f} |")
print(f"| first request → first playlist, on-demand m3u8 (ms) | {len(h)} | {q(h,.5):.1f} | {q(h,.99):.1f} |")
print(f"| first request → first MPD, on-demand mpd (ms) | {len(d)} | {q(d,.5):.1f} | {q(d,.99):.1f} |")
print()
print(f"| wrk, server on one core (GOMAXPROCS=1, taskset -c 0), {sys.argv[6]} connections | requests/s |")
print("| --- | --- |")
print(f"| playlist GET | {sys.argv[2]} |")
print(f"| part GET ({sys.argv[7]} bytes) | {sys.argv[3]} |")
print(f"| playlist + part, alternating | {sys.argv[4]} |")
print(f"| DASH MPD GET | {sys.argv[5]} |")
PY
