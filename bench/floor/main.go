// Command floor measures the kernel's share of live fan-out: the CPU a
// process needs just to push one stream's bytes to N loopback TCP
// connections with the same write pattern as Sluice's RTMP play path, and
// nothing else (bench/floor.sh runs it).
//
// The writer (this process) starts a sink (this binary with -sink, a
// separate process that accepts the connections and reads and discards
// with one goroutine per connection, as bin/sluice-bench's viewers do),
// opens N raw blocking TCP sockets to it (TCP_NODELAY, as Go sets on every
// TCP connection), and then, from one loop with no goroutine per
// connection, writes per video frame of a FPS stream one writev per
// connection: the audio frames due (AUDIO bytes each, AUDIORATE per
// second, each its own buffer) and the video frame chunked as RTMP does at
// CHUNK bytes, all from buffers shared by every connection. The writer's
// user+system CPU over the window, from /proc/PID/stat as
// bin/sluice-bench measures servers, is the lower bound for any server
// using this write pattern on this machine: it pays the syscalls and the
// kernel's send path and (on loopback) the receive path, and nothing of a
// server's own work.
//
// It prints one JSON object on stdout and a one-line summary on stderr.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

type result struct {
	Connections   int     `json:"connections"`
	Seconds       float64 `json:"seconds"`
	Frames        int     `json:"frames"`
	BytesPerConn  int64   `json:"bytes_per_connection"`
	MbpsPerConn   float64 `json:"mbps_per_connection"`
	Writes        int64   `json:"writev_calls"`
	CPUPercent    float64 `json:"writer_cpu_percent"`
	UserPercent   float64 `json:"writer_user_percent"`
	SysPercent    float64 `json:"writer_sys_percent"`
	SinkCPU       float64 `json:"sink_cpu_percent"`
	USPerWrite    float64 `json:"writer_cpu_us_per_writev"`
	RoundP50MS    float64 `json:"round_p50_ms"`
	RoundP99MS    float64 `json:"round_p99_ms"`
	RoundMaxMS    float64 `json:"round_max_ms"`
	LateFrames    int     `json:"late_frames"`
	VideoBytes    int     `json:"video_frame_bytes"`
	AudioBytes    int     `json:"audio_frame_bytes"`
	AudioPerFrame float64 `json:"audio_frames_per_video_frame"`
}

func main() {
	sink := flag.Bool("sink", false, "run as the sink (internal)")
	n := flag.Int("n", 500, "connections")
	dur := flag.Duration("duration", 15*time.Second, "measurement window")
	warm := flag.Duration("warmup", 3*time.Second, "writing before the window")
	fps := flag.Float64("fps", 30, "video frames per second")
	videoBitrate := flag.Int("video-bitrate", 2_500_000, "video bits per second (frame size = bitrate/8/fps)")
	audioBytes := flag.Int("audio", 371, "AAC frame payload bytes (128 kb/s at 44.1 kHz)")
	audioRate := flag.Float64("audio-rate", 44100.0/1024, "audio frames per second")
	chunk := flag.Int("chunk", 4096, "RTMP chunk size the video frame is split with")
	flag.Parse()
	if *sink {
		runSink()
		return
	}
	res, err := run(*n, *dur, *warm, *fps, *videoBitrate, *audioBytes, *audioRate, *chunk)
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	fmt.Fprintf(os.Stderr, "floor n=%d cpu=%.1f%% (user %.1f, sys %.1f) %.2f us/writev, %.2f Mb/s per conn, "+
		"round p50/p99/max %.1f/%.1f/%.1f ms, late frames %d, sink cpu %.1f%%\n",
		res.Connections, res.CPUPercent, res.UserPercent, res.SysPercent, res.USPerWrite, res.MbpsPerConn,
		res.RoundP50MS, res.RoundP99MS, res.RoundMaxMS, res.LateFrames, res.SinkCPU)
}

// runSink accepts connections and discards what they carry. It prints its
// listen address on stdout and exits when stdin closes.
func runSink() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			buf := make([]byte, 32<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					c.Close()
					return
				}
			}
		}()
	}
}

// rtmpChunked returns a body of size bytes framed as RTMP chunks: a 12-byte
// type-0 header, then a 1-byte type-3 header before every further chunk.
func rtmpChunked(size, chunk int) []byte {
	b := make([]byte, 0, size+12+size/chunk)
	b = append(b, make([]byte, 12)...)
	for off := 0; off < size; off += chunk {
		if off > 0 {
			b = append(b, 0xc6)
		}
		for i := off; i < min(off+chunk, size); i++ {
			b = append(b, byte(i*7))
		}
	}
	return b
}

func run(n int, dur, warm time.Duration, fps float64, videoBitrate, audioBytes int, audioRate float64, chunk int) (*result, error) {
	cmd := exec.Command(os.Args[0], "-sink")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	ap, err := netip(strings.TrimSpace(line))
	if err != nil {
		return nil, err
	}

	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		fds = append(fds, fd)
		if err := syscall.Connect(fd, ap); err != nil {
			return nil, err
		}
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			return nil, err
		}
	}

	// Shared buffers: the video frame as RTMP chunks (type-0 header + body
	// with its 5-byte FLV video tag header), audio frames as single-chunk
	// messages (12-byte header + 2-byte FLV audio tag header + payload).
	videoSize := videoBitrate/8/int(fps) + 5
	video := rtmpChunked(videoSize, chunk)
	audio := rtmpChunked(audioBytes+2, chunk)
	period := time.Duration(float64(time.Second) / fps)
	audioPerFrame := audioRate / fps
	iov := make([][]byte, 0, 8)

	var (
		frames, late int
		writes       int64
		sent         int64
		rounds       []time.Duration
		audioDue     float64
		cpu0, cpu1   [2]float64
		sink0, sink1 [2]float64
		t0, t1       time.Time
	)
	start := time.Now()
	measureAt := start.Add(warm)
	endAt := measureAt.Add(dur)
	measuring := false
	for k := 0; ; k++ {
		tick := start.Add(time.Duration(k) * period)
		if d := time.Until(tick); d > 0 {
			time.Sleep(d)
		} else if d < -period {
			late++
		}
		now := time.Now()
		if !measuring && !now.Before(measureAt) {
			measuring = true
			t0, cpu0, sink0 = now, readCPU(os.Getpid()), readCPU(cmd.Process.Pid)
			frames, late, writes, sent, rounds = 0, 0, 0, 0, rounds[:0]
		}
		if measuring && !now.Before(endAt) {
			t1, cpu1, sink1 = now, readCPU(os.Getpid()), readCPU(cmd.Process.Pid)
			break
		}
		// Audio rides along with video: the frames due since the last
		// video frame, then the video frame.
		iov = iov[:0]
		audioDue += audioPerFrame
		for ; audioDue >= 1; audioDue-- {
			iov = append(iov, audio)
		}
		iov = append(iov, video)
		size := 0
		for _, b := range iov {
			size += len(b)
		}
		for _, fd := range fds {
			if err := writeAll(fd, iov, size); err != nil {
				return nil, err
			}
		}
		writes += int64(len(fds))
		sent += int64(size)
		frames++
		rounds = append(rounds, time.Since(tick))
	}
	secs := t1.Sub(t0).Seconds()
	slices.Sort(rounds)
	pct := func(q float64) float64 {
		if len(rounds) == 0 {
			return 0
		}
		return float64(rounds[min(len(rounds)-1, int(q*float64(len(rounds))))]) / 1e6
	}
	user := (cpu1[0] - cpu0[0]) / secs * 100
	sys := (cpu1[1] - cpu0[1]) / secs * 100
	res := &result{
		Connections: n, Seconds: secs, Frames: frames, BytesPerConn: sent,
		MbpsPerConn: float64(sent) * 8 / secs / 1e6, Writes: writes,
		CPUPercent: user + sys, UserPercent: user, SysPercent: sys,
		SinkCPU:    (sink1[0] + sink1[1] - sink0[0] - sink0[1]) / secs * 100,
		USPerWrite: (user + sys) / 100 * secs * 1e6 / float64(writes),
		RoundP50MS: pct(0.5), RoundP99MS: pct(0.99), RoundMaxMS: pct(1), LateFrames: late,
		VideoBytes: len(video), AudioBytes: len(audio), AudioPerFrame: audioPerFrame,
	}
	return res, nil
}

// writeAll writes iov (size bytes in all) to the blocking socket fd with
// one writev, continuing after a short write.
func writeAll(fd int, iov [][]byte, size int) error {
	var vecs [8]syscall.Iovec
	for size > 0 {
		v := vecs[:0]
		for _, b := range iov {
			e := syscall.Iovec{Base: &b[0]}
			e.SetLen(len(b))
			v = append(v, e)
		}
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("writev: %w", e)
		}
		n := int(r)
		size -= n
		for n > 0 {
			if n >= len(iov[0]) {
				n -= len(iov[0])
				iov = iov[1:]
				continue
			}
			iov = append([][]byte{iov[0][n:]}, iov[1:]...)
			n = 0
		}
	}
	return nil
}

func netip(addr string) (*syscall.SockaddrInet4, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host).To4()
	if ip == nil {
		return nil, fmt.Errorf("not IPv4: %s", host)
	}
	sa := &syscall.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	return sa, nil
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// readCPU returns the user and system CPU seconds of pid from
// /proc/PID/stat (zeros when unreadable).
func readCPU(pid int) [2]float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return [2]float64{}
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return [2]float64{}
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return [2]float64{}
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return [2]float64{utime / clockTicks, stime / clockTicks}
}
