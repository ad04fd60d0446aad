#!/usr/bin/env bash
# Installs what the tests drive: ffmpeg/ffprobe, Chromium, VLC and GStreamer (Debian
# packages; the browser tests drive /usr/bin/chromium with playwright-core
# from web/node_modules), and Node.js/npm for `make web` when missing.
# Idempotent; uses sudo when not root.
#   scripts/deps.sh        everything the tests need
#   scripts/deps.sh web    only Node.js/npm (what `make run` needs)
#
# Node.js must be at least MIN_NODE: the npm packages pinned in
# web/package-lock.json declare it ("engines": mpegts.js 1.8.2 needs
# >= 20.9.0; playwright-core 1.65.1 and dashjs 5.2.1 >= 20). Debian 12's
# nodejs is 18.x, so on Debian 12 Debian's package is not installed: the
# script says where to get a recent Node.js and fails instead.
set -euo pipefail

MIN_NODE=20.9.0

# version_ge A B: version A >= version B (dotted numbers).
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# node_version: the installed Node.js version (20.19.2), empty if none.
node_version() {
  command -v node >/dev/null 2>&1 || return 0
  node -p 'process.versions.node' 2>/dev/null || true
}

# apt_node_version: the version apt would install as nodejs (upstream part
# of the candidate, 18.19.0 for "18.19.0+dfsg-6~deb12u2"), empty if none.
apt_node_version() {
  command -v apt-cache >/dev/null 2>&1 || return 0
  apt-cache policy nodejs 2>/dev/null |
    awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }' |
    sed -e 's/^[0-9]*://' -e 's/[-+~].*//'
}

too_old() {
  cat >&2 <<EOF
scripts/deps.sh: $1
  The web player's npm packages need Node.js >= $MIN_NODE (the "engines" of
  mpegts.js, dashjs and playwright-core in web/package-lock.json).
  Debian 12's nodejs package is 18.x, too old. Install Node.js 20 or newer
  with npm, then run the command again, for example:
    - NodeSource apt packages: https://github.com/nodesource/distributions
    - nvm: https://github.com/nvm-sh/nvm, then: nvm install 22
    - an official build: https://nodejs.org/en/download
  Only the web pages need it: \`go build ./cmd/sluice\` works without, and its
  pages then say that the player libraries are missing.
EOF
}

need=()
if [ "${1:-}" != web ]; then
  command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
  command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # Third-party players the HLS tests drive (VLC, GStreamer's hlsdemux).
  command -v cvlc >/dev/null 2>&1 || need+=(vlc-bin vlc-plugin-base)
  command -v gst-launch-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
  # nginx-rtmp: the foreign RTMP server of the relay tests (pull source,
  # forward target); ss counts its connections.
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
  command -v ss >/dev/null 2>&1 || need+=(iproute2)
  # GStreamer's RTSP server (gst-rtsp-server through PyGObject) as the camera
  # the RTSP pull tests (internal/relay/rtsp) read; Debian's /usr/bin/python3.
  /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 ||
    need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
  # Redis: the cluster tests' ownership store (internal/cluster).
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi

node_problem=""
have=$(node_version)
if [ -n "$have" ] && version_ge "$have" "$MIN_NODE" && command -v npm >/dev/null 2>&1; then
  : # a recent enough Node.js with npm
else
  if [ -z "$have" ]; then
    node_problem="Node.js is not installed"
  elif ! version_ge "$have" "$MIN_NODE"; then
    node_problem="Node.js $have is too old"
  else
    node_problem="npm is not installed (Node.js $have is)"
  fi
  candidate=$(apt_node_version)
  if [ -n "$candidate" ] && version_ge "$candidate" "$MIN_NODE"; then
    need+=(nodejs npm) # apt has a recent enough one (Debian 13 has 20.19)
    node_problem=""
  elif [ -n "$candidate" ]; then
    node_problem="$node_problem, and apt's nodejs is $candidate"
  else
    node_problem="$node_problem, and apt has no nodejs package"
  fi
fi

if ((${#need[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# versitygw: the real S3 server of the object storage tests, a Go program
# installed with go install into $(go env GOPATH)/bin, where
# internal/testutil/s3.go looks for it (or in PATH).
VERSITYGW=github.com/versity/versitygw/cmd/versitygw@v1.8.0
if [ "${1:-}" != web ] && command -v go >/dev/null 2>&1; then
  gobin="$(go env GOPATH)/bin/versitygw"
  # go version -m names the module version the binary was built from.
  if ! [ -x "$gobin" ] || ! go version -m "$gobin" 2>/dev/null | grep -Eq '^\s+mod\s+github.com/versity/versitygw\s+v1\.8\.0\s'; then
    go install "$VERSITYGW"
  fi
fi

if [ -n "$node_problem" ]; then
  too_old "$node_problem."
  exit 1
fi
have=$(node_version)
if [ -z "$have" ] || ! version_ge "$have" "$MIN_NODE"; then
  too_old "Node.js ${have:-(none)} is still not >= $MIN_NODE after installing apt's nodejs."
  exit 1
fi
