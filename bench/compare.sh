#!/usr/bin/env bash
# Side-by-side fan-out benchmark: the same loads against Sluice and against
# nginx with the RTMP module (Debian nginx + libnginx-mod-rtmp, run from a
# temporary prefix on loopback ports, not as a system service), alternating
# the order per load so machine noise hits both alike.
#
#   bench/compare.sh                                   # 1/100/500/1000 viewers, 20 s each
#   VIEWERS_LIST="100 500" SECONDS_EACH=30 bench/compare.sh
#
# Writes bench/results/compare-*.json and bench/results/compare.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS_LIST="${VIEWERS_LIST:-1 100 500 1000}"
SECONDS_EACH="${SECONDS_EACH:-20}"
BITRATE="${BITRATE:-2500k}"
SLUICE_RTMP="${SLUICE_RTMP:-19350}"
SLUICE_HTTP="${SLUICE_HTTP:-18080}"
NGINX_RTMP="${NGINX_RTMP:-19360}"
OUT=bench/results
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
    application live { live on; record off; }
  }
}
CONF

SLUICE_RTMP_LISTEN=127.0.0.1:$SLUICE_RTMP SLUICE_HTTP_LISTEN=127.0.0.1:$SLUICE_HTTP \
SLUICE_RTMPS_LISTEN=127.0.0.1:0 SLUICE_HTTPS_LISTEN=127.0.0.1:0 SLUICE_LOG_LEVEL=warn \
  bin/sluice >"$TMP/sluice.log" 2>&1 &
SLUICE_PID=$!
nginx -e "$TMP/error.log" -p "$TMP" -c "$TMP/nginx.conf" &
NGINX_PID=$!
cleanup() { kill "$SLUICE_PID" "$NGINX_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }
wait_port "$SLUICE_RTMP"; wait_port "$NGINX_RTMP"

bench() { # label pid proto publish-url play-url viewers
  echo "== $1 $3 $6 viewers" >&2
  bin/sluice-bench -label "$1" -pid "$2" -proto "$3" -clip "$CLIP" -rtmp "$4" -play "$5" \
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
bin/sluice-bench table "$OUT"/compare-*.json | tee "$OUT/compare.md"
