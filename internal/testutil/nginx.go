package testutil

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NginxRTMPModule is where Debian's libnginx-mod-rtmp installs the module.
const NginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// NginxRTMP is a running nginx with the RTMP module: the foreign RTMP
// server of the relay tests. Its application "live" has "live on": a
// stream published to rtmp://Addr/live/NAME plays at the same URL.
type NginxRTMP struct {
	// Addr is the RTMP listener, 127.0.0.1:PORT.
	Addr string
	// StatURL is its rtmp_stat page (XML).
	StatURL string
	dir     string
	port    int
	proc    *Process
}

// StartNginxRTMP starts nginx-rtmp on ephemeral loopback ports, in the
// foreground (daemon off, master_process off) with its config, pid, logs
// and temp files in a temp dir; it is killed when the test ends.
func StartNginxRTMP(t testing.TB) *NginxRTMP {
	t.Helper()
	RequireTool(t, "nginx")
	if _, err := os.Stat(NginxRTMPModule); err != nil {
		t.Fatalf("nginx RTMP module missing (%v): install libnginx-mod-rtmp (scripts/deps.sh)", err)
	}
	n := &NginxRTMP{dir: t.TempDir()}
	var last error
	for range 3 { // a freed ephemeral port may be taken again before nginx binds it
		n.port, last = freePort()
		if last != nil {
			continue
		}
		httpPort, err := freePort()
		if err != nil {
			last = err
			continue
		}
		n.Addr = "127.0.0.1:" + strconv.Itoa(n.port)
		n.StatURL = fmt.Sprintf("http://127.0.0.1:%d/stat", httpPort)
		if err := n.writeConfig(httpPort); err != nil {
			t.Fatal(err)
		}
		if last = n.start(t); last == nil {
			return n
		}
	}
	t.Fatalf("nginx-rtmp did not start: %v", last)
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (n *NginxRTMP) writeConfig(httpPort int) error {
	d := n.dir
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:%d;
    chunk_size 4096;
    application live { live on; record off; }
  }
}
http {
  access_log off;
  client_body_temp_path %s/tmp-body;
  proxy_temp_path %s/tmp-proxy;
  fastcgi_temp_path %s/tmp-fastcgi;
  uwsgi_temp_path %s/tmp-uwsgi;
  scgi_temp_path %s/tmp-scgi;
  server {
    listen 127.0.0.1:%d;
    location /stat { rtmp_stat all; }
  }
}
`, NginxRTMPModule, d, d, n.port, d, d, d, d, d, httpPort)
	return os.WriteFile(filepath.Join(d, "nginx.conf"), []byte(conf), 0o600)
}

// start runs nginx and waits until both listeners accept.
func (n *NginxRTMP) start(t testing.TB) error {
	t.Helper()
	n.proc = Start(t, "nginx", "-p", n.dir, "-e", filepath.Join(n.dir, "error.log"), "-c", filepath.Join(n.dir, "nginx.conf"))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.proc.Done():
			log, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
			return fmt.Errorf("nginx exited: %s\n%s", n.proc.Stderr(), log)
		default:
		}
		c, err := net.DialTimeout("tcp", n.Addr, time.Second)
		if err == nil {
			c.Close()
			if resp, err := http.Get(n.StatURL); err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.proc.Kill()
	return fmt.Errorf("nginx not listening on %s within 10s", n.Addr)
}

// Stop kills nginx and waits until it exited (its port is free).
func (n *NginxRTMP) Stop() {
	n.proc.Kill()
	<-n.proc.Done()
}

// Restart stops nginx and starts it again on the same ports.
func (n *NginxRTMP) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	var err error
	for range 20 { // the port may linger for a moment
		if err = n.start(t); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nginx-rtmp restart: %v", err)
}

// Connections counts the established TCP connections to nginx's RTMP port
// (publishers and players), as `ss` reports them.
func (n *NginxRTMP) Connections(t testing.TB) int {
	t.Helper()
	RequireTool(t, "ss")
	out, err := exec.Command("ss", "-Htn", "state", "established", "( sport = :"+strconv.Itoa(n.port)+" )").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	count := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.TrimSpace(line) != "" {
			count++
		}
	}
	return count
}

// ErrorLog returns nginx's error log, for failure messages.
func (n *NginxRTMP) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}
