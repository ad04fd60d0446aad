#!/usr/bin/env bash
# Side-by-side fan-out benchmark: the same loads against Sluice and against
# nginx with the RTMP module (Debian nginx + libnginx-mod-rtmp, run from a
# temporary prefix on loopback ports, not as a system service), alternating
# the order per load so machine noise hits both alike.
#
# Loads (an empty list skips that kind):
#   VIEWERS_LIST       RTMP play (both servers) and HTTP-FLV (Sluice) viewers
#   HLS_VIEWERS_LIST   HLS fetchers: Sluice's LL-HLS (default variant) and
#                      nginx-rtmp's HLS (MPEG-TS, 2 s fragments, served by
#                      the same nginx over HTTP); with HLS_TS=1 (default)
#                      also a second Sluice with hls.variant=mpegts, the
#                      like-for-like classic HLS
#   WHEP_VIEWERS_LIST  WebRTC WHEP viewers, Sluice only (nginx-rtmp has no
#                      WebRTC)
#
#   bench/compare.sh                                   # everything, 20 s each
#   VIEWERS_LIST="100 500" HLS_VIEWERS_LIST="" WHEP_VIEWERS_LIST="" SECONDS_EACH=30 bench/compare.sh
#   VIEWERS_LIST="" HLS_VIEWERS_LIST="100 500" WHEP_VIEWERS_LIST="20 50" SECONDS_EACH=15 bench/compare.sh
#
# KEEP_LOGS=1 prints the servers' logs at exit. BENCH_SLUICE_SRC,
# BENCH_SLUICE_BIN, BENCH_TOOL_BIN: see bench/lib.sh.
#
# Writes $BENCH_OUT/compare-*.json and $BENCH_OUT/compare.md (default
# BENCH_OUT=bench/results; earlier compare-*.json there are removed first).
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS_LIST="${VIEWERS_LIST-1 100 500 1000}"
HLS_VIEWERS_LIST="${HLS_VIEWERS_LIST-100 500}"
WHEP_VIEWERS_LIST="${WHEP_VIEWERS_LIST-20 50}"
HLS_TS="${HLS_TS:-1}"
SECONDS_EACH="${SECONDS_EACH:-20}"
BITRATE="${BITRATE:-2500k}"
SLUICE_RTMP="${SLUICE_RTMP:-19350}"
SLUICE_HTTP="${SLUICE_HTTP:-18080}"
SLUICE_WEBRTC="${SLUICE_WEBRTC:-18189}"
SLUICE_TS_RTMP="${SLUICE_TS_RTMP:-19352}"
SLUICE_TS_HTTP="${SLUICE_TS_HTTP:-18082}"
NGINX_RTMP="${NGINX_RTMP:-19360}"
NGINX_HTTP="${NGINX_HTTP:-18090}"
OUT="${BENCH_OUT:-bench/results}"
mkdir -p "$OUT" bin
rm -f "$OUT"/compare-*.json
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

scripts/deps.sh
if [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # policy-rc.d keeps the package from starting a system nginx.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq nginx libnginx-mod-rtmp >/dev/null
fi

. bench/lib.sh
CLIP="$(bench_clip "$BITRATE" "$OUT")"

TMP="$(mktemp -d)"
mkdir -p "$TMP/hls"
# nginx-rtmp writes HLS fragments to $TMP/hls; the http block serves them
# (sendfile, no access log, every temp path inside the prefix).
cat >"$TMP/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/error.log warn;
pid $TMP/nginx.pid;
events { worker_connections 16384; }
rtmp {
  server {
    listen 127.0.0.1:$NGINX_RTMP;
    chunk_size 4096;
    # RTMP rows use "live" (no HLS work); HLS rows publish to "hls".
    application live { live on; record off; }
    application hls {
      live on; record off;
      hls on; hls_path $TMP/hls; hls_fragment 2s; hls_playlist_length 8s;
    }
  }
}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_HTTP;
    location /hls/ {
      root $TMP;
      location ~ \.m3u8\$ { add_header Cache-Control no-cache; }
    }
  }
}
CONF

# The server rejects SLUICE_* variables that name no config key: keep this
# script's own knobs out of its environment.
UNSET=(-u SLUICE_RTMP -u SLUICE_HTTP -u SLUICE_WEBRTC -u SLUICE_TS_RTMP -u SLUICE_TS_HTTP)
SLUICE_RTMP_LISTEN=127.0.0.1:$SLUICE_RTMP SLUICE_HTTP_LISTEN=127.0.0.1:$SLUICE_HTTP \
SLUICE_WEBRTC_LISTEN=127.0.0.1:$SLUICE_WEBRTC \
SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_LOG_LEVEL=warn \
  env "${UNSET[@]}" "$BENCH_SLUICE_BIN" >"$TMP/sluice.log" 2>&1 &
SLUICE_PID=$!
SLUICE_TS_PID=""
if [ -n "$HLS_VIEWERS_LIST" ] && [ "$HLS_TS" = 1 ]; then
  SLUICE_HLS_VARIANT=mpegts SLUICE_RTMP_LISTEN=127.0.0.1:$SLUICE_TS_RTMP SLUICE_HTTP_LISTEN=127.0.0.1:$SLUICE_TS_HTTP \
  SLUICE_WEBRTC_LISTEN=127.0.0.1:0 SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_LOG_LEVEL=warn \
    env "${UNSET[@]}" "$BENCH_SLUICE_BIN" >"$TMP/sluice-ts.log" 2>&1 &
  SLUICE_TS_PID=$!
fi
nginx -e "$TMP/error.log" -p "$TMP" -c "$TMP/nginx.conf" &
NGINX_PID=$!
cleanup() {
  [ -z "${KEEP_LOGS:-}" ] || cat "$TMP"/*.log >&2
  kill "$SLUICE_PID" "$NGINX_PID" $SLUICE_TS_PID 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }
wait_port "$SLUICE_RTMP"; wait_port "$SLUICE_HTTP"; wait_port "$NGINX_RTMP"; wait_port "$NGINX_HTTP"
[ -z "$SLUICE_TS_PID" ] || { wait_port "$SLUICE_TS_RTMP"; wait_port "$SLUICE_TS_HTTP"; }

bench() { # label pid proto publish-url play-url viewers
  echo "== $1 $3 $6 viewers" >&2
  "$BENCH_TOOL_BIN" -label "$1" -pid "$2" -proto "$3" -clip "$CLIP" -rtmp "$4" -play "$5" \
    -viewers "$6" -duration "${SECONDS_EACH}s" -json "$OUT/compare-$1-$3-$6.json" >/dev/null
}
run=0
for v in $VIEWERS_LIST; do
  run=$((run + 1))
  s_url="rtmp://127.0.0.1:$SLUICE_RTMP/live/rtmp-$v"
  n_url="rtmp://127.0.0.1:$NGINX_RTMP/live/rtmp-$v"
  if ((run % 2)); then
    bench sluice "$SLUICE_PID" rtmp "$s_url" "$s_url" "$v"
    bench nginx-rtmp "$NGINX_PID" rtmp "$n_url" "$n_url" "$v"
  else
    bench nginx-rtmp "$NGINX_PID" rtmp "$n_url" "$n_url" "$v"
    bench sluice "$SLUICE_PID" rtmp "$s_url" "$s_url" "$v"
  fi
  # nginx-rtmp has no HTTP-FLV; Sluice's is measured alone.
  bench sluice "$SLUICE_PID" http-flv "rtmp://127.0.0.1:$SLUICE_RTMP/live/flv-$v" \
    "http://127.0.0.1:$SLUICE_HTTP/live/flv-$v.flv" "$v"
done

# HLS fetchers: Sluice's LL-HLS against nginx-rtmp's HLS (and Sluice's own
# MPEG-TS variant), order alternating per load as above.
run=0
for v in $HLS_VIEWERS_LIST; do
  run=$((run + 1))
  s_bench() {
    bench sluice "$SLUICE_PID" hls "rtmp://127.0.0.1:$SLUICE_RTMP/live/hls-$v" \
      "http://127.0.0.1:$SLUICE_HTTP/live/hls-$v.m3u8" "$v"
  }
  n_bench() {
    bench nginx-rtmp "$NGINX_PID" hls "rtmp://127.0.0.1:$NGINX_RTMP/hls/hls-$v" \
      "http://127.0.0.1:$NGINX_HTTP/hls/hls-$v.m3u8" "$v"
  }
  if ((run % 2)); then s_bench; n_bench; else n_bench; s_bench; fi
  if [ -n "$SLUICE_TS_PID" ]; then
    bench sluice-mpegts "$SLUICE_TS_PID" hls "rtmp://127.0.0.1:$SLUICE_TS_RTMP/live/hls-$v" \
      "http://127.0.0.1:$SLUICE_TS_HTTP/live/hls-$v.m3u8" "$v"
  fi
done

# WHEP: Sluice only.
for v in $WHEP_VIEWERS_LIST; do
  echo "== sluice whep $v viewers" >&2
  "$BENCH_TOOL_BIN" whep -pid "$SLUICE_PID" -clip "$CLIP" -rtmp "rtmp://127.0.0.1:$SLUICE_RTMP/live/whep-$v" \
    -whep "http://127.0.0.1:$SLUICE_HTTP/live/whep-$v/whep" -viewers "$v" -duration "${SECONDS_EACH}s" \
    -json "$OUT/compare-sluice-whep-$v.json" >/dev/null
done

shopt -s nullglob
results=("$OUT"/compare-*.json)
[ ${#results[@]} -gt 0 ] || { echo "no runs (every *_LIST empty)" >&2; exit 1; }
"$BENCH_TOOL_BIN" table "${results[@]}" | tee "$OUT/compare.md"
