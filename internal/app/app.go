// Package app wires Sluice's components from a config and runs them until the
// context ends.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	pion "github.com/pion/webrtc/v4"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/certs"
	"github.com/sluicemedia/sluice/internal/cluster"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/cors"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
	"github.com/sluicemedia/sluice/internal/obs"
	"github.com/sluicemedia/sluice/internal/record"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	flvserver "github.com/sluicemedia/sluice/internal/server/flv"
	rtmpserver "github.com/sluicemedia/sluice/internal/server/rtmp"
	srtserver "github.com/sluicemedia/sluice/internal/server/srt"
	"github.com/sluicemedia/sluice/internal/thumbnail"
	"github.com/sluicemedia/sluice/internal/transcode"
	webrtcserver "github.com/sluicemedia/sluice/internal/webrtc"
)

// shutdownTimeout bounds the graceful stop (docs/contract.md "Behaviour":
// exit within 5 s).
const shutdownTimeout = 4 * time.Second

// drainRecent is how recently an HLS playlist or DASH MPD must have been
// requested for the stop to drain (http.shutdown_drain): players poll at
// least once per target duration (≤ 30 s here).
const drainRecent = 30 * time.Second

// App is a running Sluice: its listeners are bound by New, so their
// addresses are known before Run.
type App struct {
	cfg *config.Config
	log *slog.Logger
	hub *hub.Hub
	// auth is the one access decision point of every protocol.
	auth *auth.Authorizer

	transcoder *transcode.Manager
	// recorder writes recorded paths to record.dir and indexes them.
	recorder *record.Manager
	// relay pulls sources and forwards streams (relay.go).
	relay *relay.Manager
	// audio gives streams the AAC or Opus track a protocol needs.
	audio     *transcode.AudioBridges
	rtmp      *rtmpserver.Server
	rtmpLn    net.Listener
	rtmpsLn   net.Listener
	httpSrv   *http.Server
	httpLn    net.Listener
	httpsLn   net.Listener
	pprofSrv  *http.Server
	pprofLn   net.Listener
	listeners []net.Listener
	keyPairs  []*certs.KeyPair
	webrtc    *webrtcserver.Server
	srt       *srtserver.Server // nil when srt.listen is ""
	// thumbs makes GET /APP/NAME.jpg (thumbnail.go).
	thumbs *thumbnail.Maker
	// cluster is the node's Redis membership; nil on a single node.
	cluster *cluster.Cluster
	// uploads mirrors HLS to object storage; nil without storage.s3.
	uploads *hlsUploads

	// httpLimits caps and times out the HTTP and HTTPS connections.
	httpLimits *netutil.ConnLimiter
	// lastPlaylist is when (Unix ns) an HLS playlist or DASH MPD was last
	// requested; 0: never.
	lastPlaylist atomic.Int64
}

// Run builds the app from cfg, runs it until ctx ends and stops gracefully.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	a, err := New(cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New builds every component and binds every listener. On error nothing is
// left open.
func New(cfg *config.Config, log *slog.Logger) (a *App, err error) {
	a = &App{cfg: cfg, log: log}
	built := a // the error returns below set a to nil
	defer func() {
		if err != nil {
			a := built
			for _, ln := range a.listeners {
				ln.Close()
			}
			if a.webrtc != nil {
				_ = a.webrtc.Close()
			}
			a.closeSRT()
			if a.auth != nil {
				_ = a.auth.Close()
			}
			if a.recorder != nil {
				a.recorder.Close(0)
			}
			a.closeCluster()
		}
	}()
	if err = a.newCluster(cfg); err != nil {
		return nil, err
	}
	a.hub = hub.New(hub.Options{
		Claimer:        a.claimer(),
		MaxLag:         cfg.Hub.MaxLag.Duration,
		MaxGOPDuration: cfg.Hub.MaxGOPDuration.Duration,
		// WHIP publishers are asked for a keyframe on the segment grid.
		KeyframeInterval: cfg.HLS.SegmentDuration.Duration,
		RepublishGrace:   cfg.Hub.RepublishGrace.Duration,
		MaxBufferBytes:   cfg.Hub.MaxBufferBytes,
		MaxSkips:         cfg.Hub.MaxSkips,
		WaitTimeout:      cfg.Hub.WaitTimeout.Duration,
		Logger:           log.With("component", "hub"),
		OnStreamStart: func(path string) {
			if a.transcoder != nil {
				a.transcoder.StreamStarted(path)
			}
			a.audio.StreamStarted(path)
			if a.recorder != nil {
				a.recorder.StreamStarted(path)
			}
			a.relay.StreamStarted(path)
			a.uploads.StreamStarted(path)
		},
		Demand: a.demand,
	})
	if a.relay, err = newRelay(cfg, a.hub, a.edge(), log.With("component", "relay")); err != nil {
		return nil, err
	}
	a.audio = &transcode.AudioBridges{Hub: a.hub, Logger: log.With("component", "audio-bridge")}
	if a.transcoder, err = newTranscoder(cfg, a.hub, log.With("component", "transcode")); err != nil {
		return nil, err
	}
	if a.auth, err = auth.New(auth.Options{Config: cfg, Logger: log.With("component", "auth"), ClusterSecret: cfg.Cluster.Secret,
		SourceOf:  func(path string) (string, bool) { return renditionSource(cfg, path) },
		OnForward: a.relay.AddForwards}); err != nil {
		return nil, err
	}
	if a.recorder, err = newRecorder(cfg, a.hub, a.auth, a.relay.Located, log.With("component", "record")); err != nil {
		return nil, err
	}
	a.rtmp = &rtmpserver.Server{
		Hub:              a.hub,
		ChunkSize:        uint32(cfg.RTMP.ChunkSize),
		HandshakeTimeout: cfg.RTMP.HandshakeTimeout.Duration,
		IdleTimeout:      cfg.RTMP.IdleTimeout.Duration,
		WriteTimeout:     cfg.Hub.MaxLag.Duration,
		Limits: rtmp.Limits{
			MaxMessageSize:     uint32(cfg.RTMP.MaxMessageSize),
			MaxChunkSize:       uint32(cfg.RTMP.MaxChunkSize),
			MaxChunkStreams:    cfg.RTMP.MaxChunkStreams,
			MaxUnfinishedBytes: uint32(cfg.RTMP.MaxUnfinishedBytes),
			MessageTimeout:     cfg.RTMP.MessageTimeout.Duration,
		},
		UnfinishedBudget: int64(cfg.RTMP.UnfinishedBudget),
		MaxConnections:   cfg.RTMP.MaxConnections,
		Logger:           log.With("component", "rtmp"),
		Auth:             a.auth,
	}
	if a.rtmpLn, err = a.listen("rtmp.listen", cfg.RTMP.Listen, nil, nil); err != nil {
		return nil, err
	}
	if err = a.newSRT(); err != nil {
		return nil, err
	}
	if cfg.RTMPS.Cert != "" {
		tlsCfg, err := a.loadTLS(cfg.RTMPS.Cert, cfg.RTMPS.Key)
		if err != nil {
			return nil, fmt.Errorf("rtmps: %w", err)
		}
		if a.rtmpsLn, err = a.listen("rtmps.listen", cfg.RTMPS.Listen, tlsCfg, nil); err != nil {
			return nil, err
		}
	}

	a.webrtc = &webrtcserver.Server{
		Hub:              a.hub,
		Listen:           cfg.WebRTC.Listen,
		IPs:              cfg.WebRTC.IPs,
		ICEServers:       iceServers(cfg.WebRTC.ICEServers),
		MaxSessions:      cfg.WebRTC.MaxSessions,
		MaxSessionsPerIP: cfg.WebRTC.MaxSessionsPerIP,
		SessionTimeout:   cfg.WebRTC.SessionTimeout.Duration,
		Logger:           log.With("component", "webrtc"),
		Bridges:          a.audio,
	}
	if err = a.webrtc.Initialize(); err != nil {
		a.webrtc = nil
		return nil, fmt.Errorf("webrtc.listen %q: %w", cfg.WebRTC.Listen, err)
	}

	a.httpLimits = &netutil.ConnLimiter{
		Proto:         "http",
		MaxConns:      cfg.HTTP.MaxConnections,
		MaxConnsPerIP: cfg.HTTP.MaxConnectionsPerIP,
		WriteTimeout:  cfg.HTTP.WriteTimeout.Duration,
		Logger:        log.With("component", "http"),
	}
	origins, err := cors.New(cfg.HTTP.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("http.allowed_origins%w", err)
	}
	routes := &httpRoutes{hub: a.hub, webrtc: a.webrtc, flv: &flvserver.Server{
		Hub: a.hub, WriteTimeout: cfg.Hub.MaxLag.Duration, Logger: log.With("component", "flv"),
	}, auth: a.auth, cors: origins, log: log.With("component", "http"), rec: a.recorder}
	a.thumbs = newThumbnails(cfg, a.hub, log)
	routes.thumbs, routes.thumbCache = a.thumbs, cfg.Thumbnail.Cache.Duration
	routes.api, routes.metrics = a.newAPI(), a.newMetrics()
	routes.hls = newHLS(cfg, a.hub, a.transcoder, log)
	routes.dash = newDASH(cfg, routes.hls, log)
	if a.uploads, err = newUploads(cfg, routes.hls.Packagers, log); err != nil {
		return nil, err
	}
	a.httpSrv = &http.Server{
		Handler:           a.trackPlaylists(routes.handler()),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.Duration,
		IdleTimeout:       cfg.HTTP.IdleTimeout.Duration,
		// No WriteTimeout: it would bound whole responses, and live ones
		// (HTTP-FLV, WS-FLV, blocking reloads) last; httpLimits bounds
		// each write instead.
		ConnState:   a.httpLimits.ConnState,
		ConnContext: a.httpLimits.ConnContext,
		ErrorLog:    slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelDebug),
	}
	if a.httpLn, err = a.listen("http.listen", cfg.HTTP.Listen, nil, a.httpLimits); err != nil {
		return nil, err
	}
	if cfg.HTTPS.Cert != "" {
		tlsCfg, err := a.loadTLS(cfg.HTTPS.Cert, cfg.HTTPS.Key)
		if err != nil {
			return nil, fmt.Errorf("https: %w", err)
		}
		tlsCfg.NextProtos = []string{"h2", "http/1.1"}
		if a.httpsLn, err = a.listen("https.listen", cfg.HTTPS.Listen, tlsCfg, a.httpLimits); err != nil {
			return nil, err
		}
	}
	if cfg.Debug.PprofListen != "" {
		if a.pprofLn, err = a.listen("debug.pprof_listen", cfg.Debug.PprofListen, nil, nil); err != nil {
			return nil, err
		}
		a.pprofSrv = newPprofServer()
	}
	return a, nil
}

// listen binds addr; limits (if set) caps its connections, under TLS so
// that a refused connection costs no handshake.
func (a *App) listen(key, addr string, tlsCfg *tls.Config, limits *netutil.ConnLimiter) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", key, addr, err)
	}
	a.listeners = append(a.listeners, ln)
	if limits != nil {
		ln = limits.Listen(ln)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// httpConnSnapshot reads the HTTP connection counts for /metrics.
func (a *App) httpConnSnapshot() obs.HTTPConnSnapshot {
	s := a.httpLimits.Stats()
	return obs.HTTPConnSnapshot{Open: s.Open, RefusedMax: s.RefusedMax, RefusedPerIP: s.RefusedPerIP,
		WriteTimeouts: s.WriteTimeouts, IdleTimeouts: s.IdleTimeouts, HeaderTimeouts: s.HeaderTimeouts}
}

// trackPlaylists notes when HLS playlists and DASH MPDs are requested: the
// stop drains only while players poll (see drainFor).
func (a *App) trackPlaylists(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasSuffix(p, ".m3u8") || strings.HasSuffix(p, ".mpd") {
			a.lastPlaylist.Store(time.Now().UnixNano())
		}
		next.ServeHTTP(w, r)
	})
}

// drainFor is how long the stop keeps the HTTP listeners answering after
// the streams ended: http.shutdown_drain if a playlist or MPD was requested
// within drainRecent, else 0.
func (a *App) drainFor() time.Duration {
	last := a.lastPlaylist.Load()
	if last == 0 || time.Since(time.Unix(0, last)) > drainRecent {
		return 0
	}
	return a.cfg.HTTP.ShutdownDrain.Duration
}

// loadTLS loads a key pair that SIGHUP reloads (see reloadTLS).
func (a *App) loadTLS(certFile, keyFile string) (*tls.Config, error) {
	kp, err := certs.Load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	a.keyPairs = append(a.keyPairs, kp)
	return kp.TLSConfig(), nil
}

// reloadTLS re-reads every certificate and key file: new TLS handshakes
// (RTMPS, HTTPS) use the new pair, established connections keep going. A
// pair that fails to load is logged and the old one stays.
func (a *App) reloadTLS() {
	for _, kp := range a.keyPairs {
		if err := kp.Reload(); err != nil {
			a.log.Error("tls reload failed, keeping the previous certificate", "cert", kp.CertFile, "err", err.Error())
			continue
		}
		a.log.Info("tls certificate reloaded", "cert", kp.CertFile)
	}
}

// Hub returns the app's stream hub.
func (a *App) Hub() *hub.Hub { return a.hub }

// Run serves until ctx ends, then stops: listeners close, streams end
// (viewers are told), connections drain, within shutdownTimeout.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	serve := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errc <- err
			}
		}()
	}
	serve(func() error { return a.rtmp.Serve(a.rtmpLn, "rtmp") })
	if a.rtmpsLn != nil {
		serve(func() error { return a.rtmp.Serve(a.rtmpsLn, "rtmps") })
	}
	a.serveSRT(serve)
	serve(func() error { return a.httpSrv.Serve(a.httpLn) })
	if a.httpsLn != nil {
		serve(func() error { return a.httpSrv.Serve(a.httpsLn) })
	}
	if a.pprofSrv != nil {
		serve(func() error { return a.pprofSrv.Serve(a.pprofLn) })
	}
	a.startCluster()
	a.logStartup()
	if err := a.relay.Start(); err != nil {
		a.log.Error("relay start failed", "err", err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
wait:
	for {
		select {
		case <-hup:
			// SIGHUP: reload certificates without dropping connections.
			a.reloadTLS()
		case <-ctx.Done():
			break wait
		case runErr = <-errc:
			a.log.Error("listener failed", "err", runErr)
			break wait
		}
	}
	a.log.Info("sluice stopping")
	stopStart := time.Now()
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Stop accepting and end streams first, so viewers are told the stream
	// ended and handlers return; then drain HTTP.
	a.relay.Close()
	a.hub.Close()
	if a.transcoder != nil {
		a.transcoder.Close()
	}
	_ = a.rtmp.Close()
	a.closeSRT()
	_ = a.webrtc.Close()
	a.audio.Close()
	// The streams have ended: recorders write their last fragment.
	a.recorder.Close(recordStopWait)
	a.uploads.Close(time.Second)
	a.closeCluster()
	if d := a.drainFor(); d > 0 {
		// Players that poll (rather than block on a reload) would find the
		// listener closed at their next request and never see the end:
		// keep answering, with #EXT-X-ENDLIST now, for one poll interval.
		a.log.Info("http draining: serving final playlists", "drain", d.String())
		t := time.NewTimer(time.Until(stopStart.Add(d)))
		select {
		case <-t.C:
		case <-stopCtx.Done():
		}
		t.Stop()
	}
	if err := a.httpSrv.Shutdown(stopCtx); err != nil {
		a.log.Warn("http shutdown incomplete", "err", err)
		_ = a.httpSrv.Close()
	}
	if a.pprofSrv != nil {
		_ = a.pprofSrv.Close()
	}
	// After the servers: their last on_unpublish / on_stop notifications
	// are sent (within a second) before the exit.
	_ = a.auth.Close()
	wg.Wait()
	a.log.Info("sluice stopped")
	return runErr
}

// iceServers converts the configured STUN/TURN servers for pion.
func iceServers(in []config.ICEServer) []pion.ICEServer {
	out := make([]pion.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, pion.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
