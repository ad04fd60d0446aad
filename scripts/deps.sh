#!/usr/bin/env bash
# Installs what the tests drive: ffmpeg/ffprobe, Chromium, VLC and GStreamer (Debian
# packages; the browser tests drive /usr/bin/chromium with playwright-core
# from web/node_modules), and Node.js/npm for `make web` when missing.
# Idempotent; uses sudo when not root.
#   scripts/deps.sh        everything the tests need
#   scripts/deps.sh web    only Node.js/npm (what `make run` needs)
set -euo pipefail
need=()
if [ "${1:-}" != web ]; then
  command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
  command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # Third-party players the HLS tests drive (VLC, GStreamer's hlsdemux).
  command -v cvlc >/dev/null 2>&1 || need+=(vlc-bin vlc-plugin-base)
  command -v gst-launch-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
fi
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if ((${#need[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
