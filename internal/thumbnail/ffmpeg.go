package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// maxJPEGBytes bounds what one run may print: a JPEG of an 8K frame at
// the quality below is a few MiB.
const maxJPEGBytes = 16 << 20

// maxStderrBytes bounds the ffmpeg messages kept for the error.
const maxStderrBytes = 2 << 10

// jpegQuality is ffmpeg's -q:v for mjpeg (2 best .. 31 worst).
const jpegQuality = "5"

// decode runs ffmpeg on the keyframe's elementary stream and returns the
// first decoded frame as a JPEG.
func (m *Maker) decode(ctx context.Context, key *av.Packet) ([]byte, error) {
	format, in, err := elementaryStream(key)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, m.opts.FFmpeg, "-hide_banner", "-loglevel", "error",
		"-f", format, "-i", "pipe:0",
		"-frames:v", "1", "-an", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", jpegQuality, "pipe:1")
	cmd.Stdin = bytes.NewReader(in)
	out := &capped{max: maxJPEGBytes}
	stderr := &capped{max: maxStderrBytes, keep: true}
	cmd.Stdout, cmd.Stderr = out, stderr
	cmd.WaitDelay = time.Second // a stuck pipe after the kill
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("thumbnail: ffmpeg: %w", ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("thumbnail: ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	case out.over:
		return nil, fmt.Errorf("thumbnail: ffmpeg printed more than %d bytes", maxJPEGBytes)
	}
	jpeg := out.Bytes()
	// JPEG (ITU-T T.81 Annex B): SOI first, EOI last.
	if len(jpeg) < 4 || !bytes.HasPrefix(jpeg, []byte{0xff, 0xd8}) || !bytes.HasSuffix(jpeg, []byte{0xff, 0xd9}) {
		return nil, errors.New("thumbnail: ffmpeg decoded no frame: " + strings.TrimSpace(stderr.String()))
	}
	return jpeg, nil
}

// capped is a bytes.Buffer that keeps at most max bytes and notes when
// more came (keep: the rest is dropped silently; else over is set).
type capped struct {
	bytes.Buffer
	max  int
	keep bool
	over bool
}

func (c *capped) Write(b []byte) (int, error) {
	n := len(b)
	if room := c.max - c.Len(); len(b) > room {
		b = b[:max(room, 0)]
		c.over = !c.keep
	}
	c.Buffer.Write(b)
	return n, nil
}
