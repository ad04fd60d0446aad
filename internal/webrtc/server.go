// Package webrtc serves WebRTC ingest into the hub over WHIP
// (draft-ietf-wish-whip, "WebRTC-HTTP Ingestion Protocol", see whip.go) and
// WebRTC playback of hub streams over WHEP
// (draft-ietf-wish-whep-03, "WebRTC-HTTP Egress Protocol"): a viewer POSTs an
// SDP offer, gets an SDP answer with every ICE candidate in it, and receives
// H.264 video and Opus audio over one shared UDP port and one shared TCP port
// (ICE mux), whatever the number of sessions.
//
// Video is packetized once per hub packet (RFC 6184) and the RTP payloads are
// shared by every viewer of the stream; each viewer has its own hub reader, so
// it starts at the newest keyframe and is skipped ahead or dropped by the
// hub's lag policy when it cannot keep up (nothing is queued here). AAC audio,
// which browsers cannot decode, reaches viewers as the stream's derived Opus
// track (Server.Bridges, one ffmpeg per stream in internal/transcode) while
// the stream has WHEP viewers.
package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Defaults for zero Server options.
const (
	DefaultMaxSessions      = 1000
	DefaultMaxSessionsPerIP = 100
	DefaultSessionTimeout   = 15 * time.Second
)

// Server is the WebRTC media server: its options are set before
// Initialize, which binds the sockets; ServeWHEP and ServeSession handle the
// signalling requests; Close ends every session and closes the sockets.
type Server struct {
	// Hub is where streams are read from. Required.
	Hub *hub.Hub
	// Listen is the host:port of the shared UDP and TCP sockets. Port 0
	// picks a free port (the same number for both). Default ":8189".
	Listen string
	// IPs are public addresses announced in ICE host candidates instead of
	// the local ones (1:1 NAT). Default none.
	IPs []string
	// ICEServers are STUN/TURN servers to gather server-reflexive and
	// relayed candidates from. Default none: host candidates only.
	ICEServers []pion.ICEServer
	// MaxSessions caps concurrent sessions; more get 503. Default 1000.
	MaxSessions int
	// MaxSessionsPerIP caps concurrent sessions from one client IP
	// address; more get 429. Default 100.
	MaxSessionsPerIP int
	// SessionTimeout closes a session whose peer has not connected within
	// this time of its offer. Default 15 s.
	SessionTimeout time.Duration
	// Bridges gives a stream whose audio is AAC a derived Opus track while
	// WHEP viewers hold it. Default nil: such viewers get video only.
	Bridges AudioBridges
	// Logger receives session logs. Default slog.Default().
	Logger *slog.Logger

	udp      *net.UDPConn
	tcp      net.Listener
	udpMux   ice.UDPMux
	tcpMux   ice.TCPMux
	settings pion.SettingEngine

	active atomic.Int64   // sessions reserved or running (Sessions)
	perIP  map[string]int // sessions reserved or running by client IP; guarded by mu
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session
	whips    map[string]*whipSession // by session ID
	whipPath map[string]*whipSession // by stream path
	caches   map[*hub.Stream]*payloadCache
}

// AudioBridges makes a stream carry a derived audio track in another codec
// for as long as it is held (internal/transcode.AudioBridges).
type AudioBridges interface {
	Acquire(st *hub.Stream, to av.Codec) (release func())
}

// Initialize applies defaults and binds the UDP and TCP sockets.
func (s *Server) Initialize() error {
	if s.Hub == nil {
		return errors.New("webrtc: Server.Hub is required")
	}
	if s.Listen == "" {
		s.Listen = ":8189"
	}
	if s.MaxSessions <= 0 {
		s.MaxSessions = DefaultMaxSessions
	}
	if s.MaxSessionsPerIP <= 0 {
		s.MaxSessionsPerIP = DefaultMaxSessionsPerIP
	}
	s.perIP = make(map[string]int)
	if s.SessionTimeout <= 0 {
		s.SessionTimeout = DefaultSessionTimeout
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.sessions = make(map[string]*session)
	s.whips = make(map[string]*whipSession)
	s.whipPath = make(map[string]*whipSession)
	s.caches = make(map[*hub.Stream]*payloadCache)

	if err := s.bind(); err != nil {
		return err
	}
	logs := pionLogs{log: s.Logger}
	s.udpMux = pion.NewICEUDPMux(logs.NewLogger("ice-udp-mux"), s.udp)
	s.tcpMux = pion.NewICETCPMux(logs.NewLogger("ice-tcp-mux"), s.tcp, 8192)

	se := pion.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(s.udpMux)
	se.SetICETCPMux(s.tcpMux)
	se.SetNetworkTypes([]pion.NetworkType{
		pion.NetworkTypeUDP4, pion.NetworkTypeUDP6, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6,
	})
	// No mDNS: it would open a multicast socket per session.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if ip := s.udp.LocalAddr().(*net.UDPAddr).IP; ip.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true)
	}
	if len(s.IPs) > 0 {
		if err := se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External: s.IPs, AsCandidateType: pion.ICECandidateTypeHost,
		}); err != nil {
			s.closeSockets()
			return fmt.Errorf("webrtc: ips %v: %w", s.IPs, err)
		}
	}
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	s.settings = se
	return nil
}

// bind opens the UDP socket and a TCP listener on the same port. With port
// 0 the kernel picks the UDP port, and a few attempts find one that is also
// free for TCP.
func (s *Server) bind() error {
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return fmt.Errorf("webrtc: listen %q: %w", s.Listen, err)
	}
	for attempt := 0; ; attempt++ {
		udpAddr, err := net.ResolveUDPAddr("udp", s.Listen)
		if err != nil {
			return fmt.Errorf("webrtc: listen %q: %w", s.Listen, err)
		}
		udp, err := net.ListenUDP("udp", udpAddr)
		if err != nil {
			return fmt.Errorf("webrtc: listen udp %q: %w", s.Listen, err)
		}
		bound := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err != nil {
			udp.Close()
			if port == "0" && attempt < 10 {
				continue
			}
			return fmt.Errorf("webrtc: listen tcp %q: %w", net.JoinHostPort(host, bound), err)
		}
		s.udp, s.tcp = udp, tcp
		return nil
	}
}

func (s *Server) closeSockets() {
	if s.udpMux != nil {
		_ = s.udpMux.Close()
	}
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
	_ = s.udp.Close()
	_ = s.tcp.Close()
}

// Addr returns the bound address (the UDP one; TCP uses the same port).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Sessions returns the number of sessions, counting those still connecting.
func (s *Server) Sessions() int { return int(s.active.Load()) }

// SessionCounts is the number of sessions of each kind, counting those
// still connecting.
type SessionCounts struct {
	// WHEP counts playback sessions (viewers).
	WHEP int
	// WHIP counts ingest sessions (publishers).
	WHIP int
}

// Counts returns the number of WHEP and WHIP sessions.
func (s *Server) Counts() SessionCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SessionCounts{WHEP: len(s.sessions), WHIP: len(s.whips)}
}

// Close ends every session, waits for their goroutines and ffmpeg bridges,
// and closes the sockets.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	whips := make([]*whipSession, 0, len(s.whips))
	for _, ws := range s.whips {
		whips = append(whips, ws)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.close("server shutdown")
	}
	for _, ws := range whips {
		ws.close("server shutdown")
	}
	s.wg.Wait()
	s.closeSockets()
	return nil
}

// reserve claims a session slot for a client at remote (host:port). It
// returns the client's IP for release, or the HTTP status and reason of a
// refusal: 503 when MaxSessions are running, 429 when the IP already has
// MaxSessionsPerIP.
func (s *Server) reserve(remote string) (ip string, status int, err error) {
	ip = remote
	if host, _, splitErr := net.SplitHostPort(remote); splitErr == nil {
		ip = host
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active.Load() >= int64(s.MaxSessions) {
		return "", http.StatusServiceUnavailable, fmt.Errorf("too many WebRTC sessions (webrtc.max_sessions is %d)", s.MaxSessions)
	}
	if s.perIP[ip] >= s.MaxSessionsPerIP {
		return "", http.StatusTooManyRequests, fmt.Errorf("too many WebRTC sessions from %s (webrtc.max_sessions_per_ip is %d)", ip, s.MaxSessionsPerIP)
	}
	s.perIP[ip]++
	s.active.Add(1)
	return ip, 0, nil
}

// release frees a slot reserve gave to ip; it returns the number of
// sessions left.
func (s *Server) release(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	return int(s.active.Add(-1))
}

// register adds a session unless the server is closed, counting its run
// goroutine and extra more in wg (under mu, so Close never waits on a
// count that can still grow from zero).
func (s *Server) register(ss *session, extra int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1 + extra)
	return true
}

// unregister removes a session and releases its slot; it returns the number
// of sessions left.
func (s *Server) unregister(ss *session) int {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
	return s.release(ss.ip)
}

func (s *Server) session(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// acquireCache returns the stream's shared payload cache, creating it for
// the first viewer.
func (s *Server) acquireCache(st *hub.Stream) *payloadCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.caches[st]
	if c == nil {
		c = newPayloadCache()
		s.caches[st] = c
	}
	c.refs++
	return c
}

// releaseCache drops a viewer's reference; the last one frees the cache.
func (s *Server) releaseCache(st *hub.Stream, c *payloadCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.refs--; c.refs == 0 && s.caches[st] == c {
		delete(s.caches, st)
	}
}
