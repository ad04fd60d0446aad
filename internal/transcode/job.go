package transcode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
)

const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
	// stableAfter resets the backoff: a process that ran this long was
	// healthy.
	stableAfter = 30 * time.Second
)

// job is the transcoder of one source stream.
type job struct {
	m      *Manager
	source string
	// stream is the source stream the job transcodes; a later stream at
	// the same path gets a job of its own.
	stream *hub.Stream
	// successor, guarded by m.mu, is set when a new stream replaced
	// stream before the job ended (see Manager.startLocked).
	successor *successor
	ladder    []Rung
	log       *slog.Logger
	// onDemand makes the job stop after the idle timeout without touch.
	onDemand bool
	// lastUse is the time of the last touch (Unix nanoseconds).
	lastUse atomic.Int64

	mu       sync.Mutex
	running  bool
	restarts int
	since    time.Time
	started  time.Time     // current process start
	firstDTS time.Duration // first rendition packet of the current process
	lastDTS  time.Duration
	haveDTS  bool
	firstOut time.Time // when that first packet came out
}

// rungState survives ffmpeg restarts: a restarted ffmpeg re-reads the
// source from its newest keyframe, so its first output overlaps what the
// previous process already published; overlap is dropped to keep each
// rendition's timeline monotonic.
type rungState struct {
	lastVideo, lastAudio time.Duration
	seenVideo, seenAudio bool
	needKey              bool
}

func (j *job) stats() JobStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := JobStats{Source: j.source, Running: j.running, Restarts: j.restarts, Since: j.since, OnDemand: j.onDemand}
	for _, r := range j.ladder {
		st.Renditions = append(st.Renditions, RenditionPath(j.source, r))
	}
	if j.running && j.haveDTS {
		if wall := time.Since(j.firstOut); wall > time.Second {
			st.Speed = float64(j.lastDTS-j.firstDTS) / float64(wall)
		}
	}
	return st
}

// touch records a use of the ladder.
func (j *job) touch() { j.lastUse.Store(time.Now().UnixNano()) }

// stopWhenIdle cancels the job once it went idle without a touch, or
// returns when ctx ends.
func (j *job) stopWhenIdle(ctx context.Context, cancel context.CancelFunc, idle time.Duration) {
	tick := time.NewTicker(max(idle/8, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if since := time.Since(time.Unix(0, j.lastUse.Load())); since >= idle {
				j.log.Info("transcode: idle, stopping", "idle", since.Round(time.Second))
				cancel()
				return
			}
		}
	}
}

// run keeps an ffmpeg process going for as long as the source stream lives.
func (j *job) run(ctx context.Context) {
	h := j.m.opts.Hub
	j.mu.Lock()
	j.since = time.Now()
	j.mu.Unlock()
	pubs := make([]*hub.Publisher, len(j.ladder))
	states := make([]*rungState, len(j.ladder))
	for i := range states {
		states[i] = &rungState{}
	}
	for i, r := range j.ladder {
		p, err := h.Publish(RenditionPath(j.source, r), hub.ClientInfo{Protocol: "transcode", Remote: "ffmpeg"})
		if err != nil {
			j.log.Warn("transcode: rendition path unavailable", "rendition", RenditionPath(j.source, r), "reason", err.Error())
			continue
		}
		p.KeepTimestamps() // -copyts: the source's timeline, shared by the ladder
		pubs[i] = p
	}
	defer func() {
		for _, p := range pubs {
			if p != nil {
				// The source is gone: renditions end with it, no grace.
				p.Kick("source stream ended")
			}
		}
	}()

	backoff := minBackoff
	for {
		reader, err := h.Subscribe(ctx, j.source, hub.ClientInfo{Protocol: "transcode", Remote: "ffmpeg"})
		if err != nil {
			if !errors.Is(err, hub.ErrNotFound) && !errors.Is(err, hub.ErrEnded) && ctx.Err() == nil {
				j.log.Warn("transcode: cannot read source", "reason", err.Error())
			}
			return
		}
		if reader.Stream() != j.stream {
			// A new stream at the path (restarted after a crash backoff):
			// its own job serves it (Manager.startLocked, successor).
			reader.Close()
			return
		}
		// Debian's ffmpeg reads FLV audio as AAC or MP3 (legacy FLV), not
		// Enhanced RTMP Opus: an Opus publisher's derived AAC
		// (AudioBridges) feeds it, an MP3 publisher's own MP3 (never the
		// Opus derived from it).
		reader.PreferAudio(av.CodecAAC, av.CodecMP3)
		start := time.Now()
		for _, st := range states {
			st.needKey = true
		}
		err = j.runOnce(ctx, reader, pubs, states)
		reader.Close()
		if ctx.Err() != nil || errors.Is(err, hub.ErrEnded) || reader.Stream().Ended() {
			return
		}
		if time.Since(start) > stableAfter {
			backoff = minBackoff
		}
		j.mu.Lock()
		j.restarts++
		j.mu.Unlock()
		j.log.Warn("transcode: ffmpeg exited, restarting", "reason", err.Error(), "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runOnce runs one ffmpeg process until it or the source ends.
func (j *job) runOnce(ctx context.Context, reader *hub.Reader, pubs []*hub.Publisher, states []*rungState) error {
	hasVideo, hasAudio := reader.Stream().Kinds()
	if !hasVideo {
		return fmt.Errorf("source has no video: nothing to transcode")
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ladder := j.ladder
	if _, audio := reader.Tracks(); audio != nil {
		ladder = ladderFor(ladder, audio.Codec)
	}
	cmd := exec.CommandContext(pctx, j.m.opts.FFmpeg, ffmpegArgs(ladder, j.m.opts.GOP, hasAudio)...)
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	readers := make([]*os.File, len(j.ladder))
	for i := range j.ladder {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		readers[i] = r
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	}
	closeWriters := func() {
		for _, w := range cmd.ExtraFiles {
			w.Close()
		}
	}
	if err := cmd.Start(); err != nil {
		closeWriters()
		for _, r := range readers {
			r.Close()
		}
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	closeWriters() // the child holds them now; EOF comes when it exits
	j.mu.Lock()
	j.running, j.started, j.haveDTS = true, time.Now(), false
	j.mu.Unlock()
	j.log.Info("transcode: ffmpeg started", "pid", cmd.Process.Pid, "renditions", len(j.ladder))

	var wg sync.WaitGroup
	feedErr := make(chan error, 1)
	go func() {
		feedErr <- feed(pctx, stdin, reader, hasVideo, hasAudio)
		stdin.Close() // ffmpeg flushes and exits at EOF
	}()
	for i := range j.ladder {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer readers[i].Close()
			j.pump(readers[i], pubs[i], states[i], hasAudio)
		}()
	}
	wg.Wait()
	cancel()
	waitErr := cmd.Wait()
	fe := <-feedErr
	j.mu.Lock()
	j.running = false
	j.mu.Unlock()
	if errors.Is(fe, hub.ErrEnded) {
		return hub.ErrEnded
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return fmt.Errorf("ffmpeg: %v: %s", waitErr, msg)
	}
	if waitErr != nil {
		return fmt.Errorf("ffmpeg: %w", waitErr)
	}
	return errors.New("ffmpeg exited")
}

// feed writes the source as an FLV stream: header, metadata, sequence
// headers, then packets (shared FLV tags, never copied per consumer).
func feed(ctx context.Context, w io.Writer, reader *hub.Reader, hasVideo, hasAudio bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	video, audio := reader.Tracks()
	head := flv.AppendHeader(nil, hasVideo, hasAudio)
	head = flv.AppendTag(head, flv.TagScript, 0, flv.MetadataBody(video, audio))
	if _, err := bw.Write(head); err != nil {
		return err
	}
	var lastVideo, lastAudio *av.Track
	batch := make([]*av.Packet, 0, 64)
	for {
		var err error
		batch, err = reader.Read(ctx, batch[:0])
		if err != nil {
			return err
		}
		for _, p := range batch {
			last, typ := &lastAudio, uint8(flv.TagAudio)
			if p.Kind() == av.KindVideo {
				last, typ = &lastVideo, flv.TagVideo
			}
			if p.Track != *last {
				*last = p.Track
				if _, err := bw.Write(flv.AppendTag(nil, typ, flv.TimestampMS(p.DTS), flv.AppendSequenceHeaderBody(nil, p.Track))); err != nil {
					return err
				}
			}
			if _, err := bw.Write(flv.SharedTag(p)); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

// pump publishes one rendition's FLV output into the hub.
func (j *job) pump(r io.Reader, pub *hub.Publisher, st *rungState, hasAudio bool) {
	fr := flv.NewReader(r, 16<<20)
	if _, _, err := fr.ReadHeader(); err != nil {
		return
	}
	var d flv.Demuxer
	announced, sawVideo, sawAudio := false, false, false
	for {
		tag, err := fr.ReadTag()
		if err != nil {
			return
		}
		var pkt *av.Packet
		switch tag.Type {
		case flv.TagVideo:
			pkt, err = d.Video(int64(tag.Timestamp), tag.Body)
		case flv.TagAudio:
			pkt, err = d.Audio(int64(tag.Timestamp), tag.Body)
		default:
			continue
		}
		if err != nil {
			j.log.Warn("transcode: bad rendition tag", "reason", err.Error())
			continue
		}
		if pub == nil || pkt == nil || st.overlaps(pkt) {
			continue
		}
		if err := pub.WritePacket(pkt); err != nil {
			return
		}
		// Announce once a packet of every kind is in: readers that wait
		// for the announcement (packagers) then find both tracks in
		// Stream.Tracks, and do not start video-only and add audio with a
		// discontinuity and a new init section a moment later.
		if pkt.Kind() == av.KindVideo {
			sawVideo = true
		} else {
			sawAudio = true
		}
		if !announced && sawVideo && (!hasAudio || sawAudio) {
			pub.Announce(true, hasAudio)
			announced = true
		}
		if pkt.Kind() == av.KindVideo {
			j.mu.Lock()
			if !j.haveDTS {
				j.firstDTS, j.haveDTS, j.firstOut = pkt.DTS, true, time.Now()
			}
			j.lastDTS = pkt.DTS
			j.mu.Unlock()
		}
	}
}

// overlaps reports a packet already covered by a previous process, and
// records the ones that pass.
func (st *rungState) overlaps(p *av.Packet) bool {
	if p.Kind() == av.KindVideo {
		if st.seenVideo && p.DTS <= st.lastVideo {
			return true
		}
		if st.needKey && !p.Key {
			return true
		}
		if st.needKey && st.seenVideo {
			// First frame of a restarted ffmpeg: a new encoder, and a gap
			// in the timeline (HLS #EXT-X-DISCONTINUITY, DASH new segment).
			p.Discontinuity = true
		}
		st.needKey = false
		st.lastVideo, st.seenVideo = p.DTS, true
		return false
	}
	if st.needKey || (st.seenAudio && p.DTS <= st.lastAudio) {
		return true
	}
	st.lastAudio, st.seenAudio = p.DTS, true
	return false
}

// tailBuffer keeps the last max bytes written (ffmpeg's error output).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
