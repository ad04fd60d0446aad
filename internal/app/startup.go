package app

import (
	"net"
	"strings"
)

// exampleStream is the stream path the startup log uses in its URLs; any
// APP/NAME works the same.
const exampleStream = "live/cam1"

// urlHost is the host:port a local user types to reach a listener at addr:
// an unspecified address (":1935", "[::]:1935") listens on every interface,
// and 127.0.0.1 reaches it from the same machine; a specific address is
// used as is (IPv6 in brackets).
func urlHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// logStartup logs one line per listener, saying what each is for (the
// URLs to publish to and watch at) and, for a TLS listener that is off,
// why: a newcomer reads where to point OBS and a browser from the first
// screen of output. The "… listening" lines keep proto and addr, which
// scripts and tests read.
func (a *App) logStartup() {
	rtmp := urlHost(a.rtmpLn.Addr())
	http := urlHost(a.httpLn.Addr())
	a.log.Info("rtmp listening", "proto", "rtmp", "addr", a.rtmpLn.Addr().String(),
		"publish", "rtmp://"+rtmp+"/"+exampleStream,
		"obs", "server rtmp://"+rtmp+"/"+appOf(exampleStream)+" key "+nameOf(exampleStream))
	if a.rtmpsLn != nil {
		a.log.Info("rtmp listening", "proto", "rtmps", "addr", a.rtmpsLn.Addr().String(),
			"publish", "rtmps://"+urlHost(a.rtmpsLn.Addr())+"/"+exampleStream)
	} else {
		a.log.Info("rtmps off", "proto", "rtmps", "reason", "rtmps.cert and rtmps.key are not set (sluice -gen-cert DIR writes a self-signed pair)")
	}
	a.log.Info("http listening", "proto", "http", "addr", a.httpLn.Addr().String(),
		"dashboard", "http://"+http+"/",
		"player", "http://"+http+"/"+exampleStream,
		"whip", "http://"+http+"/"+exampleStream+"/whip")
	if a.httpsLn != nil {
		https := urlHost(a.httpsLn.Addr())
		a.log.Info("http listening", "proto", "https", "addr", a.httpsLn.Addr().String(),
			"dashboard", "https://"+https+"/", "player", "https://"+https+"/"+exampleStream)
	} else {
		a.log.Info("https off", "proto", "https", "reason", "https.cert and https.key are not set (sluice -gen-cert DIR writes a self-signed pair)")
	}
	if a.pprofSrv != nil {
		a.log.Info("pprof listening", "proto", "pprof", "addr", a.pprofLn.Addr().String())
	}
	a.log.Info("webrtc listening", "proto", "webrtc", "addr", a.webrtc.Addr(), "transport", "udp+tcp")
	a.logSRT()
	a.log.Info("sluice started", "rtmp", a.rtmpLn.Addr().String(), "http", a.httpLn.Addr().String(),
		"publish", "rtmp://"+rtmp+"/"+exampleStream, "watch", "http://"+http+"/"+exampleStream)
}

// appOf and nameOf split a stream path APP/NAME.
func appOf(path string) string  { app, _, _ := strings.Cut(path, "/"); return app }
func nameOf(path string) string { _, name, _ := strings.Cut(path, "/"); return name }
