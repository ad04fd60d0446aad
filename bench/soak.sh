#!/usr/bin/env bash
# Memory soak of one Sluice: one stream published for DURATION seconds, read
# all along by ffmpeg over HLS, DASH and HTTP-FLV, plus (CHURN > 0) a second
# stream republished on a new path every CHURN seconds with the same three
# viewers, so ended streams pile up if their memory is not returned. Every
# INTERVAL seconds it prints the server's RSS, its live heap after a forced
# GC (pprof heap profile, gc=1) and its goroutine count; the long stream's
# window bounds what it may hold, so the numbers must plateau.
#
#   bench/soak.sh                        # 10 minutes, a line per minute
#   DURATION=120 INTERVAL=15 bench/soak.sh
#   BITRATE=4600k CHURN=0 bench/soak.sh  # one long stream only
#
# Knobs: DURATION (s, default 600), INTERVAL (s, 60), CHURN (s, 60; 0 = no
# churn stream), BITRATE (video, 2500k), HTTP_PORT/RTMP_PORT/PPROF_PORT;
# BENCH_SLUICE_SRC=DIR builds the server from another tree (before/after:
# `git archive COMMIT | tar -x -C DIR`).
# Output: a table on stdout, also written to bench/results/soak.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-600}"
INTERVAL="${INTERVAL:-60}"
CHURN="${CHURN:-60}"
BITRATE="${BITRATE:-2500k}"
HTTP_PORT="${HTTP_PORT:-18097}"
RTMP_PORT="${RTMP_PORT:-19397}"
PPROF_PORT="${PPROF_PORT:-16097}"
OUT=bench/results
BIN="$(realpath -m "${BENCH_SLUICE_BIN:-bin/sluice-soak}")"
mkdir -p "$OUT" "$(dirname "$BIN")"
command -v ffmpeg >/dev/null || { echo "soak: ffmpeg is required" >&2; exit 1; }
(cd "${BENCH_SLUICE_SRC:-.}" && go build -o "$BIN" ./cmd/sluice)

# A 10 s clip, looped with -c copy: publishing costs no encoding.
CLIP="$OUT/soak-clip-${BITRATE}.flv"
if [ ! -s "$CLIP" ]; then
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 -c:v libx264 -preset veryfast -pix_fmt yuv420p \
    -bf 0 -b:v "$BITRATE" -maxrate "$BITRATE" -bufsize "$BITRATE" -g 60 -keyint_min 60 -sc_threshold 0 \
    -c:a aac -b:a 128k "$CLIP"
fi

TMP="$(mktemp -d)"
SLUICE_PID=""
# Every child's PID goes to $TMP/pids (viewers start in subshells).
cleanup() {
  [ -s "$TMP/pids" ] && xargs kill 2>/dev/null <"$TMP/pids" || true
  [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

SLUICE_HTTP_LISTEN=127.0.0.1:$HTTP_PORT SLUICE_RTMP_LISTEN=127.0.0.1:$RTMP_PORT \
  SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_WEBRTC_LISTEN=127.0.0.1:0 \
  SLUICE_DEBUG_PPROF_LISTEN=127.0.0.1:$PPROF_PORT SLUICE_LOG_LEVEL=warn \
  "$BIN" 2>"$OUT/soak-sluice.log" &
SLUICE_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done

# publish PATH [SECONDS]: loops the clip into PATH (for SECONDS, or until killed).
publish() {
  local t=()
  [ -n "${2:-}" ] && t=(-t "$2")
  ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$CLIP" "${t[@]}" -c copy -f flv \
    "rtmp://127.0.0.1:$RTMP_PORT/$1" &
  echo $! >>"$TMP/pids"
}

# view PATH [SECONDS]: one HLS, one DASH and one HTTP-FLV ffmpeg reader of
# PATH, once its playlist lists a segment; with SECONDS, those still running
# 15 s after that (ffmpeg's DASH demuxer polls an ended MPD) are stopped.
view() {
  local base="http://127.0.0.1:$HTTP_PORT/$1" mine=()
  for _ in $(seq 100); do curl -sf "$base.m3u8" | grep -q EXTINF && break; sleep 0.2; done
  for ext in m3u8 mpd flv; do
    ffmpeg -hide_banner -nostdin -loglevel quiet -i "$base.$ext" -c copy -f null - &
    mine+=($!)
    echo $! >>"$TMP/pids"
  done
  if [ -n "${2:-}" ]; then
    sleep $(($2 + 15))
    kill "${mine[@]}" 2>/dev/null || true
  fi
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$SLUICE_PID/status"; }
heap() { curl -sf "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?gc=1&debug=1" | awk '/^# HeapAlloc = / { print $4 }'; }
goroutines() { curl -sf "http://127.0.0.1:$PPROF_PORT/debug/pprof/goroutine?debug=1" | awk 'NR == 1 { print $4 }'; }

report() {
  printf '%8s  %9s  %9s  %10s  %6s\n' "$1" "$(mib "$(rss)")" "$(mib "$(heap)")" "$2" "$(goroutines)" | tee -a "$OUT/soak.txt"
}

: >"$OUT/soak.txt"
echo "soak: ${DURATION}s, ${BITRATE} clip, churn every ${CHURN}s, a line every ${INTERVAL}s" | tee -a "$OUT/soak.txt"
printf '%8s  %9s  %9s  %10s  %6s\n' elapsed "RSS MiB" "heap MiB" "ended" goroutines | tee -a "$OUT/soak.txt"
report 0s 0
publish live/soak
view live/soak
start=$(date +%s)
next_report=$((start + INTERVAL))
next_churn=$start
ended=0
n=0
while :; do
  now=$(date +%s)
  [ "$now" -ge $((start + DURATION)) ] && break
  if [ "$CHURN" -gt 0 ] && [ "$now" -ge "$next_churn" ]; then
    # A stream on a new path lives CHURN - 5 s, then ends.
    [ "$n" -gt 0 ] && ended=$((ended + 1))
    life=$((CHURN > 10 ? CHURN - 5 : CHURN))
    publish "live/churn$n" "$life"
    view "live/churn$n" "$life" &
    n=$((n + 1))
    next_churn=$((now + CHURN))
  fi
  if [ "$now" -ge "$next_report" ]; then
    report "$((now - start))s" "$ended"
    next_report=$((next_report + INTERVAL))
  fi
  sleep 1
done
report "$(( $(date +%s) - start ))s" "$ended"
echo "soak: table in $OUT/soak.txt, server log in $OUT/soak-sluice.log" >&2
