# Shared by the bench scripts: source it after `cd` to the repo root.

# Binaries the scripts run; set them to private paths when several
# benchmarks share the checkout, so one's build does not replace the other's
# binary while it starts.
BENCH_SLUICE_BIN="${BENCH_SLUICE_BIN:-bin/sluice}"
BENCH_TOOL_BIN="${BENCH_TOOL_BIN:-bin/sluice-bench}"

# bench_clip BITRATE OUTDIR: builds the server ($BENCH_SLUICE_BIN) and sluice-bench
# ($BENCH_TOOL_BIN), then makes (once) a 10 s 1280x720 30 fps H.264 + AAC
# clip at BITRATE with a 2 s GOP and no B-frames, and prints its path.
# BENCH_SLUICE_SRC=DIR builds the server from another source tree, e.g. a commit
# exported with `git archive COMMIT | tar -x -C DIR`; sluice-bench always
# comes from this checkout.
bench_clip() {
  local bitrate="$1" out="$2" bin
  bin="$(realpath -m "$BENCH_SLUICE_BIN")"
  mkdir -p "$(dirname "$bin")" "$(dirname "$BENCH_TOOL_BIN")"
  (cd "${BENCH_SLUICE_SRC:-.}" && go build -o "$bin" ./cmd/sluice)
  go build -o "$BENCH_TOOL_BIN" ./cmd/sluice-bench
  local clip="$out/clip-${bitrate}.flv"
  if [ ! -s "$clip" ]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
      -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 \
      -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 0 -b:v "$bitrate" -maxrate "$bitrate" \
      -bufsize "$bitrate" -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k "$clip" >&2
  fi
  echo "$clip"
}
