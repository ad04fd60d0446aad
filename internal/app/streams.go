package app

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sluicemedia/sluice/internal/auth"
	flvserver "github.com/sluicemedia/sluice/internal/server/flv"
	"github.com/sluicemedia/sluice/internal/streampath"
	webrtcserver "github.com/sluicemedia/sluice/internal/webrtc"
)

// The stream router: every HTTP URL that names a stream, /APP/NAME[.EXT]
// and /APP/NAME/DIR[/FILE], is parsed here into its stream path and entry
// kind, and each kind is declared once in entryFor with how access to it
// is decided. serveStream applies the decision (one auth.Authorizer for
// every protocol, like RTMP's), the origin policy and the CORS headers
// before any protocol server sees the request, so servers get
// already-authorized requests and a new entry kind cannot be served
// without declaring its access.
//
// Media files (HLS init sections, segments and parts under
// /APP/NAME/hls/, DASH's under /APP/NAME/dash/) and WebRTC session
// resources carry no credential: players resolve them relative to an
// authorized playlist or MPD without its query, and WHEP/WHIP clients
// DELETE the Location they were given. Their names hold an unguessable
// 128-bit ID (the packager session, the WebRTC session) handed out only
// in an authorized answer; they never start a packager or a transcoder,
// and an ID is valid only while its session lives. Everything that can
// start one (playlists, including a rendition's media playlists; MPDs) or
// hand out an ID is authorized.
//
// A new HTTP entry point (thumbnails, recordings, ...) is one more case of
// entryFor with its access; a protocol with a listener of its own (RTMP,
// SRT, an edge's pull) asks the same auth.Authorizer (Allow) before it
// serves, as internal/server/rtmp does.

// access is how requests for an entry kind are allowed.
type access uint8

const (
	// accessPlay: the Authorizer decides a play of the stream.
	accessPlay access = iota + 1
	// accessPublish: the Authorizer decides a publish to the stream.
	accessPublish
	// accessCapability: the URL holds an unguessable ID handed out only
	// with an authorized answer; the server checks it.
	accessCapability
	// accessPublic: the answer holds nothing of the stream (the player
	// page, whose scripts then ask the authorized URLs).
	accessPublic
)

// entry is one kind of stream URL.
type entry struct {
	// kind names it in logs, e.g. "hls playlist".
	kind string
	// access decides who may use it.
	access access
	// proto is the auth.Request protocol of accessPlay/accessPublish.
	proto string
	// methods it takes (OPTIONS, the CORS preflight, comes on top).
	methods []string
	// expose lists response headers browser pages may read.
	expose []string
	// acceptPost is the media type of POST bodies (RFC 9725 §4.2's
	// Accept-Post on OPTIONS), "" if none.
	acceptPost string
	// serve answers an allowed request.
	serve func(w http.ResponseWriter, r *http.Request, u streamURL, g auth.Grant)
}

// streamURL is a parsed stream URL.
type streamURL struct {
	path string // APP/NAME, validated
	ext  string // ".flv", ".m3u8", ".mpd", ".jpg", or "" (see dir)
	dir  string // "hls", "dash", "whep", "whip", or "" for /APP/NAME[.EXT]
	file string // below dir, "" if none
}

// maxLoggedPath bounds the raw path of a malformed request in its log
// line (a hostile client's URL may be long).
const maxLoggedPath = 256

// errNoStreamURL: the URL has the wrong shape to name a stream (404).
var errNoStreamURL = errors.New("no such resource")

// parseStreamURL parses a decoded URL path (r.URL.Path): /APP/NAME[.EXT],
// /APP/NAME/DIR or /APP/NAME/DIR/FILE. It returns errNoStreamURL for
// other shapes and a streampath error for an invalid APP/NAME.
func parseStreamURL(p string) (streamURL, error) {
	var u streamURL
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return u, errNoStreamURL
	}
	parts := strings.SplitN(rest, "/", 5)
	switch len(parts) {
	case 2:
		name := parts[1]
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			switch e := name[i:]; e {
			case ".flv", ".m3u8", ".mpd", ".jpg":
				name, u.ext = name[:i], e
			}
		}
		u.path = parts[0] + "/" + name
	case 3, 4:
		u.path, u.dir = parts[0]+"/"+parts[1], parts[2]
		if len(parts) == 4 {
			if u.file = parts[3]; u.file == "" {
				return u, errNoStreamURL
			}
		}
		switch u.dir {
		case "hls", "dash", recordFilesDir:
			if u.file == "" {
				return u, errNoStreamURL
			}
		case "whep", "whip":
		case recordClipDir, recordVODDir:
			if u.file != "" {
				return u, errNoStreamURL
			}
		default:
			return u, errNoStreamURL
		}
	default:
		return u, errNoStreamURL
	}
	if err := streampath.Validate(u.path); err != nil {
		return u, err
	}
	return u, nil
}

var (
	getHead = []string{http.MethodGet, http.MethodHead}
	get     = []string{http.MethodGet}
	post    = []string{http.MethodPost}
	del     = []string{http.MethodDelete}
)

// entryFor returns the entry kind of u, nil if there is none. It is the
// table of every stream entry point; each declares its access.
func (h *httpRoutes) entryFor(u streamURL, r *http.Request) *entry {
	hlsFile := func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
		h.hls.ServeStream(w, r, u.path, u.file)
	}
	switch u.dir {
	case "":
		switch u.ext {
		case "": // the player page
			return &entry{kind: "player page", access: accessPublic, methods: getHead,
				serve: func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) { h.web.Player(w, r, u.path) }}
		case ".flv":
			e := &entry{kind: "http-flv", access: accessPlay, proto: "http-flv", methods: get,
				serve: func(w http.ResponseWriter, r *http.Request, u streamURL, g auth.Grant) {
					h.flv.ServeStream(w, r, u.path, g)
				}}
			if flvserver.IsWebSocket(r) {
				e.kind, e.proto = "ws-flv", "ws-flv"
			}
			return e
		case ".m3u8": // multivariant or media playlist
			return &entry{kind: "hls playlist", access: accessPlay, proto: "hls", methods: getHead, serve: hlsFile}
		case ".mpd":
			return &entry{kind: "dash mpd", access: accessPlay, proto: "dash", methods: getHead,
				serve: func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) { h.dash.ServeMPD(w, r, u.path) }}
		case ".jpg": // the newest keyframe: as much of the stream as a play shows
			return &entry{kind: "thumbnail", access: accessPlay, proto: "thumbnail", methods: getHead,
				serve: func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
					h.serveThumbnail(w, r, u.path)
				}}
		}
	case "hls":
		if u.file == hlsMediaPlaylist {
			return &entry{kind: "hls media playlist", access: accessPlay, proto: "hls", methods: getHead, serve: hlsFile}
		}
		return &entry{kind: "hls media", access: accessCapability, methods: getHead, serve: hlsFile}
	case "dash":
		e := &entry{kind: "dash media", access: accessCapability, methods: getHead,
			serve: func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
				h.dash.ServeFile(w, r, u.path, u.file)
			}}
		if u.file == dashTimeFile {
			// The UTCTiming clock names the stream; the MPD hands it out
			// with the credential.
			e.kind, e.access, e.proto = "dash utctiming", accessPlay, "dash"
		}
		return e
	case "whep", "whip":
		return h.webrtcEntry(u)
	case recordClipDir, recordVODDir, recordFilesDir:
		return h.recordEntry(u)
	}
	return nil
}

// hlsMediaPlaylist and dashTimeFile are the fixed file names under
// /APP/NAME/hls/ and /APP/NAME/dash/ (internal/server/hls, dash).
const (
	hlsMediaPlaylist = "media.m3u8"
	dashTimeFile     = "time"
)

// webrtcEntry is the entry of /APP/NAME/whep|whip (POST an offer) and of
// their session resources /APP/NAME/whep|whip/ID (DELETE).
func (h *httpRoutes) webrtcEntry(u streamURL) *entry {
	whip := u.dir == "whip"
	if u.file == "" {
		if whip {
			return &entry{kind: "whip", access: accessPublish, proto: "whip", methods: post,
				expose: []string{"Location", "ETag"}, acceptPost: "application/sdp",
				serve: func(w http.ResponseWriter, r *http.Request, u streamURL, g auth.Grant) {
					h.webrtc.ServeWHIP(w, r, u.path, g)
				}}
		}
		return &entry{kind: "whep", access: accessPlay, proto: "whep", methods: post,
			expose: []string{"Location", "ETag"}, acceptPost: "application/sdp",
			serve: func(w http.ResponseWriter, r *http.Request, u streamURL, g auth.Grant) {
				h.webrtc.ServeWHEP(w, r, u.path, g)
			}}
	}
	if !webrtcserver.IsSessionID(u.file) {
		return nil
	}
	e := &entry{kind: u.dir + " session", access: accessCapability, methods: del}
	if whip {
		e.serve = func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
			h.webrtc.ServeWHIPSession(w, r, u.path, u.file)
		}
	} else {
		e.serve = func(w http.ResponseWriter, r *http.Request, u streamURL, _ auth.Grant) {
			h.webrtc.ServeSession(w, r, u.path, u.file)
		}
	}
	return e
}

// serveStream serves a stream URL: parse, find the entry, CORS, method,
// origin and access checks, then the protocol server. Every refusal is
// one log line naming the path asked for.
func (h *httpRoutes) serveStream(w http.ResponseWriter, r *http.Request) {
	u, err := parseStreamURL(r.URL.Path)
	if err != nil {
		status := http.StatusNotFound
		if !errors.Is(err, errNoStreamURL) && (u.ext != "" || u.dir != "") {
			// A malformed stream name in a stream URL; a page URL that
			// names no stream is simply not found.
			status = http.StatusBadRequest
		}
		raw := r.URL.Path
		if len(raw) > maxLoggedPath {
			raw = raw[:maxLoggedPath] + "..."
		}
		h.refuse(w, r, slog.LevelDebug, "", raw, status, err.Error())
		return
	}
	e := h.entryFor(u, r)
	if e == nil {
		h.refuse(w, r, slog.LevelDebug, "", u.path, http.StatusNotFound, errNoStreamURL.Error())
		return
	}
	h.cors.SetHeaders(w.Header(), r, e.expose...)
	if r.Method == http.MethodOptions {
		if e.acceptPost != "" {
			w.Header().Set("Accept-Post", e.acceptPost)
		}
		h.cors.Preflight(w, strings.Join(append(e.methods[:len(e.methods):len(e.methods)], http.MethodOptions), ", "))
		return
	}
	if !methodIn(r.Method, e.methods) {
		allow := strings.Join(e.methods, ", ") + ", OPTIONS"
		w.Header().Set("Allow", allow)
		h.refuse(w, r, slog.LevelInfo, e.kind, u.path, http.StatusMethodNotAllowed,
			"method not allowed: "+e.kind+" takes "+allow)
		return
	}
	if flvserver.IsWebSocket(r) && !h.cors.Allowed(r) {
		// RFC 6455 §10.2: refuse a handshake from an origin not allowed.
		h.refuse(w, r, slog.LevelWarn, e.kind, u.path, http.StatusForbidden,
			"origin "+r.Header.Get("Origin")+" is not allowed (http.allowed_origins)")
		return
	}
	var g auth.Grant
	switch e.access {
	case accessPlay, accessPublish:
		action := auth.Play
		if e.access == accessPublish {
			action = auth.Publish
		}
		req := auth.Request{Action: action, Path: u.path, Protocol: e.proto, Remote: r.RemoteAddr,
			Token: auth.TokenFromHTTP(r), Query: r.URL.Query()}
		if g, err = h.auth.Allow(r.Context(), req); err != nil {
			status := auth.HTTPStatus(err)
			if status == http.StatusUnauthorized {
				// RFC 6750 §3.
				w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			}
			h.refuse(w, r, slog.LevelWarn, e.kind, u.path, status, err.Error())
			return
		}
	case accessCapability, accessPublic:
		// Checked by the server (the ID in the URL), or nothing to check.
	default:
		// An entry without a declared access is a programming error:
		// refuse rather than serve it open.
		h.refuse(w, r, slog.LevelError, e.kind, u.path, http.StatusInternalServerError, "entry without access rule")
		return
	}
	if e.access == accessPlay && isStreamPlay(e.kind) {
		// An on-demand source (or edge pull) starts with its first viewer
		// of any protocol; if it cannot, the server answers as before.
		_ = h.hub.Demand(r.Context(), u.path)
	}
	e.serve(w, r, u, g)
}

// refuse answers a refused stream request with status and reason, logged
// once at lvl with the path it named (raw if it is not a stream path).
func (h *httpRoutes) refuse(w http.ResponseWriter, r *http.Request, lvl slog.Level, kind, path string, status int, reason string) {
	log := h.logger()
	if log.Enabled(r.Context(), lvl) {
		log.Log(r.Context(), lvl, "http request refused", "proto", protoOf(kind), "kind", kind, "method", r.Method,
			"remote", r.RemoteAddr, "path", path, "status", status, "reason", reason)
	}
	http.Error(w, reason, status)
}

// protoOf is the proto log attribute of an entry kind: its first word.
func protoOf(kind string) string {
	if kind == "" {
		return "http"
	}
	p, _, _ := strings.Cut(kind, " ")
	return p
}

func (h *httpRoutes) logger() *slog.Logger {
	if h.log != nil {
		return h.log
	}
	return slog.Default()
}

func methodIn(m string, ms []string) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
