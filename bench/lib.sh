# Shared by the bench scripts: source it after `cd` to the repo root.

# bench_clip BITRATE OUTDIR: builds the server and sluice-bench, then makes
# (once) a 10 s 1280x720 30 fps H.264 + AAC clip at BITRATE with a 2 s GOP
# and no B-frames, and prints its path.
bench_clip() {
  local bitrate="$1" out="$2"
  go build -o bin/sluice ./cmd/sluice
  go build -o bin/sluice-bench ./cmd/sluice-bench
  local clip="$out/clip-${bitrate}.flv"
  if [ ! -s "$clip" ]; then
    ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
      -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 \
      -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 0 -b:v "$bitrate" -maxrate "$bitrate" \
      -bufsize "$bitrate" -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k "$clip" >&2
  fi
  echo "$clip"
}
