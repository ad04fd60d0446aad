#!/usr/bin/env python3
"""Non-reading HLS clients against Sluice's HTTP limits (issue 11).

Starts the server binary (SLUICE_BIN, default ./bin/sluice) on loopback
ports, publishes a 2 Mb/s test pattern with ffmpeg, then opens CLIENTS
(150) connections with a 4 KiB receive buffer that each pipeline 10 requests
for one HLS segment and never read. Every 2 s for DURATION (16) seconds it prints the
open HTTP connections, the write timeouts counted in /metrics, the server's
goroutines and the kernel's TCP memory (/proc/net/sockstat). With the default
http.write_timeout (10s) every client is dropped 10-12 s in and the socket
memory is returned; before it they stayed for as long as they liked.

    go build -o bin/sluice ./cmd/sluice && python3 bench/nonreading.py
"""
import os
import re
import socket
import subprocess
import time
import urllib.request

BIN = os.environ.get("SLUICE_BIN", "./bin/sluice")
CLIENTS = int(os.environ.get("CLIENTS", "150"))
DURATION = float(os.environ.get("DURATION", "16"))
RTMP, HTTP = os.environ.get("RTMP_PORT", "19461"), os.environ.get("HTTP_PORT", "18461")
BASE = "http://127.0.0.1:" + HTTP


def metrics():
    m = urllib.request.urlopen(BASE + "/metrics", timeout=5).read().decode()
    def g(s):
        return float(re.search("^" + re.escape(s) + r" (\S+)$", m, re.M).group(1))
    return g("sluice_http_connections"), g('sluice_http_timeouts_total{kind="write"}'), g("go_goroutines")


def tcp_mem_mib():
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            return int(line.split()[-1]) * 4096 / 2**20
    return -1


def main():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(SLUICE_RTMP_LISTEN="127.0.0.1:" + RTMP, SLUICE_HTTP_LISTEN="127.0.0.1:" + HTTP,
               SLUICE_RTMPS_LISTEN="127.0.0.1:0", SLUICE_HTTPS_LISTEN="127.0.0.1:0",
               SLUICE_WEBRTC_LISTEN="127.0.0.1:0", SLUICE_HLS_VARIANT="fmp4", SLUICE_LOG_LEVEL="warn")
    srv = subprocess.Popen([BIN], env=env)
    ff = None
    socks = []
    try:
        ff = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                               "-i", "testsrc2=size=320x240:rate=25", "-c:v", "libx264", "-preset", "ultrafast",
                               "-tune", "zerolatency", "-b:v", "2M", "-minrate", "2M", "-maxrate", "2M",
                               "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-g", "50",
                               "-f", "flv", "rtmp://127.0.0.1:%s/live/x" % RTMP])
        pl = ""
        for _ in range(100):
            try:
                pl = urllib.request.urlopen(BASE + "/live/x.m3u8", timeout=15).read().decode()
                if "#EXTINF" in pl:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        seg = "/live/" + [l for l in pl.splitlines() if l.endswith(".m4s")][0]
        size = len(urllib.request.urlopen(BASE + seg).read())
        print("segment %d bytes; before: conns/timeouts/goroutines %s, tcp %.1f MiB" % (size, metrics(), tcp_mem_mib()))
        req = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % seg).encode() * 10
        t0 = time.time()
        for _ in range(CLIENTS):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", int(HTTP)))
            s.sendall(req)
            socks.append(s)
        while time.time() - t0 < DURATION:
            time.sleep(2)
            c, w, g = metrics()
            print("t=%4.1fs open_http_conns=%d write_timeouts=%d goroutines=%d tcp_mem=%.1f MiB"
                  % (time.time() - t0, c, w, g, tcp_mem_mib()))
    finally:
        for s in socks:
            s.close()
        if ff:
            ff.kill()
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
