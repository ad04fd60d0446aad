package testutil

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// Redis is a redis-server process started by a test on a loopback port.
type Redis struct {
	// Addr is its host:port.
	Addr string
	dir  string
	proc *Process
	t    testing.TB
}

// URL returns the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// StartRedis runs Debian's redis-server on a free loopback port, without
// persistence (a restart loses every key, as a crashed cache would), in its
// own temp dir, and waits until it answers PING. It is killed when the test
// ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	RequireTool(t, "redis-server")
	r := &Redis{dir: t.TempDir(), t: t}
	for attempt := 0; ; attempt++ {
		r.Addr = freeLoopbackPort(t)
		if err := r.start(); err == nil {
			return r
		} else if attempt == 4 {
			t.Fatalf("redis-server: %v", err)
		}
	}
}

func (r *Redis) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	r.proc = Start(r.t, "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--protected-mode", "no")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.proc.Done():
			return fmt.Errorf("exited: %s", r.proc.Stderr())
		default:
		}
		if redisPing(r.Addr) == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.proc.Kill()
	return fmt.Errorf("no PONG within 10s: %s", r.proc.Stderr())
}

// Stop kills the server (SIGKILL: every key is lost).
func (r *Redis) Stop() { r.proc.Kill() }

// Restart starts the server again on the same port after Stop.
func (r *Redis) Restart() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("redis-server restart: %v", err)
	}
}

// redisPing sends an inline PING and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf[:n])
	}
	return nil
}

// freeLoopbackPort returns a loopback host:port that was free a moment ago,
// for servers that cannot bind port 0 and report it.
func freeLoopbackPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// FreePort returns a loopback host:port that was free a moment ago, for a
// server address a test must know before the server starts (e.g. a
// cluster node's advertised RTMP address).
func FreePort(t testing.TB) string { return freeLoopbackPort(t) }
