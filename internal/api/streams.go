package api

import (
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// Stream is one live stream in GET /api/v1/streams[/{app}/{name}].
type Stream struct {
	// Path is the stream path, "APP/NAME".
	Path string `json:"path"`
	// Owner is the cluster node owning the path, omitted on a single node.
	Owner string `json:"owner,omitempty"`
	// Publisher is the connected publisher; null while the stream waits
	// for a publisher to reconnect (republish grace period).
	Publisher *Publisher `json:"publisher"`
	// Tracks are the current media tracks.
	Tracks Tracks `json:"tracks"`
	// BitrateInKbps is the input bitrate in kbit/s (1000 bit/s) of media
	// payload, averaged over the last BitrateWindow (see rateTracker).
	BitrateInKbps float64 `json:"bitrate_in_kbps"`
	// BytesIn is the media payload bytes published so far.
	BytesIn uint64 `json:"bytes_in"`
	// PacketsIn is the media packets (frames) published so far.
	PacketsIn uint64 `json:"packets_in"`
	// Viewers counts connected viewers.
	Viewers Viewers `json:"viewers"`
	// Created is when the stream started (continuous across republishes).
	Created time.Time `json:"created"`
	// UptimeSeconds is the time since Created.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Skips counts viewer jumps to the newest keyframe (lagging viewers).
	Skips uint64 `json:"skips"`
	// Drops counts viewers disconnected as too slow.
	Drops uint64 `json:"drops"`
	// Republishes counts publisher reconnects within the grace period.
	Republishes uint64 `json:"republishes"`
	// Source is the pulled source of the stream (relay.go), omitted for
	// published streams.
	Source *RelaySource `json:"source,omitempty"`
	// Forwards are the stream's forward targets, omitted when none.
	Forwards []RelayForward `json:"forwards,omitempty"`
}

// Publisher is a stream's publisher.
type Publisher struct {
	// Protocol is "rtmp", "rtmps", "whip", ...
	Protocol string `json:"protocol"`
	// Remote is the publisher's address.
	Remote string `json:"remote"`
	// Since is when this publisher connected.
	Since time.Time `json:"since"`
}

// Tracks holds a stream's video and audio track; either may be absent.
type Tracks struct {
	// Video is the video track, omitted when there is none (yet).
	Video *VideoTrack `json:"video,omitempty"`
	// Audio is the audio track, omitted when there is none (yet).
	Audio *AudioTrack `json:"audio,omitempty"`
	// DerivedAudio is the same audio transcoded by the server for
	// protocols that cannot carry Audio (AAC from an Opus publisher for
	// FLV/RTMP/MPEG-TS, Opus from an AAC publisher while WebRTC viewers
	// watch); omitted when none.
	DerivedAudio *AudioTrack `json:"derived_audio,omitempty"`
}

// VideoTrack describes a video track.
type VideoTrack struct {
	// Codec is "h264", "h265" or "av1".
	Codec string `json:"codec"`
	// CodecString is the RFC 6381 codecs parameter, e.g. "avc1.64001f".
	CodecString string `json:"codec_string,omitempty"`
	// Width and Height are in pixels (0 when unknown).
	Width int `json:"width"`
	// Height is in pixels (0 when unknown).
	Height int `json:"height"`
}

// AudioTrack describes an audio track.
type AudioTrack struct {
	// Codec is "aac" or "opus".
	Codec string `json:"codec"`
	// CodecString is the RFC 6381 codecs parameter, e.g. "mp4a.40.2".
	CodecString string `json:"codec_string,omitempty"`
	// SampleRate is in Hz.
	SampleRate int `json:"sample_rate"`
	// Channels is the channel count.
	Channels int `json:"channels"`
}

// Viewers counts viewers in total and by protocol.
type Viewers struct {
	// Total is the sum over protocols.
	Total int `json:"total"`
	// ByProtocol maps "rtmp", "http-flv", "ws-flv", ... to counts; never
	// null.
	ByProtocol map[string]int `json:"by_protocol"`
}

// StreamList is GET /api/v1/streams.
type StreamList struct {
	// Streams are sorted by path; never null.
	Streams []Stream `json:"streams"`
}

// Client is one viewer in GET /api/v1/streams/{app}/{name}/clients.
type Client struct {
	// ID identifies the viewer for DELETE /api/v1/clients/{id}.
	ID uint64 `json:"id"`
	// Protocol is "rtmp", "http-flv", "ws-flv", ...
	Protocol string `json:"protocol"`
	// Remote is the viewer's address.
	Remote string `json:"remote"`
	// Since is when the viewer attached.
	Since time.Time `json:"since"`
	// ConnectedSeconds is the time since Since.
	ConnectedSeconds float64 `json:"connected_seconds"`
	// Skips counts this viewer's jumps to the newest keyframe.
	Skips uint64 `json:"skips"`
	// Kicked is true while a kicked viewer is being disconnected.
	Kicked bool `json:"kicked"`
}

// ClientList is GET /api/v1/streams/{app}/{name}/clients.
type ClientList struct {
	// Path is the stream path.
	Path string `json:"path"`
	// Clients are the viewers, oldest first; never null.
	Clients []Client `json:"clients"`
}

// ServerInfo is GET /api/v1/server.
type ServerInfo struct {
	// Version is the Sluice version.
	Version string `json:"version"`
	// GoVersion is the Go release the binary was built with.
	GoVersion string `json:"go_version"`
	// Started is when the server started.
	Started time.Time `json:"started"`
	// UptimeSeconds is the time since Started.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Listeners are the bound listeners; never null.
	Listeners []Listener `json:"listeners"`
	// Streams is the number of live streams.
	Streams int `json:"streams"`
	// Publishers is the number of connected publishers.
	Publishers int `json:"publishers"`
	// Viewers counts viewers of all streams.
	Viewers Viewers `json:"viewers"`
	// WebRTC counts WHIP and WHEP sessions; absent without Options.WebRTC.
	WebRTC *WebRTCInfo `json:"webrtc,omitempty"`
}

// WebRTCInfo is the WebRTC server's session counts, reported by
// GET /api/v1/server; sessions still connecting are counted.
type WebRTCInfo struct {
	// WHEPSessions counts WHEP playback sessions (viewers).
	WHEPSessions int `json:"whep_sessions"`
	// WHIPSessions counts WHIP ingest sessions (publishers).
	WHIPSessions int `json:"whip_sessions"`
}

// pathOf validates {app}/{name}; on error it has answered 400.
func pathOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	p := r.PathValue("app") + "/" + r.PathValue("name")
	if err := streampath.Validate(p); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return p, true
}

func notFound(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, "stream "+path+" not found")
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	stats := s.opts.Hub.Streams()
	now := s.opts.Now()
	out := StreamList{Streams: make([]Stream, 0, len(stats))}
	for _, st := range stats {
		out.Streams = append(out.Streams, s.stream(st, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStream(w http.ResponseWriter, r *http.Request) {
	path, ok := pathOf(w, r)
	if !ok {
		return
	}
	st, ok := s.opts.Hub.Stream(path)
	if !ok {
		notFound(w, path)
		return
	}
	writeJSON(w, http.StatusOK, s.stream(st, s.opts.Now()))
}

func (s *Server) stream(st hub.Stats, now time.Time) Stream {
	out := Stream{
		Path:          st.Path,
		Owner:         s.owner(st.Path),
		BitrateInKbps: s.rate.kbps(st.Path, st.Created, st.BytesIn, now),
		BytesIn:       st.BytesIn,
		PacketsIn:     st.PacketsIn,
		Viewers:       viewers(st.Readers),
		Created:       st.Created,
		UptimeSeconds: seconds(now.Sub(st.Created)),
		Skips:         st.Skips,
		Drops:         st.Drops,
		Republishes:   st.Republishes,
	}
	if s.opts.Relay != nil {
		out.Source, out.Forwards = s.opts.Relay(st.Path)
	}
	if p := st.Publisher; p != nil {
		out.Publisher = &Publisher{Protocol: p.Protocol, Remote: p.Remote, Since: st.PublishedAt}
	}
	if v := st.Video; v != nil {
		out.Tracks.Video = &VideoTrack{Codec: v.Codec.String(), CodecString: v.CodecString, Width: v.Width, Height: v.Height}
	}
	if a := st.Audio; a != nil {
		out.Tracks.Audio = audioTrack(a)
	}
	if a := st.DerivedAudio; a != nil {
		out.Tracks.DerivedAudio = audioTrack(a)
	}
	return out
}

func audioTrack(a *av.Track) *AudioTrack {
	return &AudioTrack{Codec: a.Codec.String(), CodecString: a.CodecString, SampleRate: a.SampleRate, Channels: a.Channels}
}

func viewers(byProto map[string]int) Viewers {
	v := Viewers{ByProtocol: make(map[string]int, len(byProto))}
	for p, n := range byProto {
		v.ByProtocol[p] = n
		v.Total += n
	}
	return v
}

// seconds is d in seconds, rounded to milliseconds.
func seconds(d time.Duration) float64 {
	if d < 0 {
		d = 0
	}
	return float64(d.Milliseconds()) / 1000
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	path, ok := pathOf(w, r)
	if !ok {
		return
	}
	cs, ok := s.opts.Hub.Clients(path)
	if !ok {
		notFound(w, path)
		return
	}
	now := s.opts.Now()
	out := ClientList{Path: path, Clients: make([]Client, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, Client{
			ID: c.ID, Protocol: c.Protocol, Remote: c.Remote, Since: c.Since,
			ConnectedSeconds: seconds(now.Sub(c.Since)), Skips: c.Skips, Kicked: c.Kicked,
		})
	}
	sort.Slice(out.Clients, func(i, j int) bool { return out.Clients[i].ID < out.Clients[j].ID })
	writeJSON(w, http.StatusOK, out)
}

// kickPublisher is DELETE /api/v1/streams/{app}/{name}/publisher: the
// stream ends at once (no republish grace), its publisher is disconnected
// and its viewers are told the stream ended. 204 on success.
func (s *Server) kickPublisher(w http.ResponseWriter, r *http.Request) {
	path, ok := pathOf(w, r)
	if !ok {
		return
	}
	if !s.opts.Hub.KickPublisher(path, "kicked via API by "+r.RemoteAddr) {
		notFound(w, path)
		return
	}
	s.opts.Logger.Info("api: publisher kicked", "path", path, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// kickClient is DELETE /api/v1/clients/{id}: that viewer is disconnected.
// 204 on success.
func (s *Server) kickClient(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, "client id must be a positive integer, got "+strconv.Quote(r.PathValue("id")))
		return
	}
	if !s.opts.Hub.KickClient(id) {
		writeError(w, http.StatusNotFound, "client "+strconv.FormatUint(id, 10)+" not found")
		return
	}
	s.opts.Logger.Info("api: client kicked", "id", id, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	stats := s.opts.Hub.Streams()
	all := map[string]int{}
	out := ServerInfo{
		Version:       s.opts.Version,
		GoVersion:     runtime.Version(),
		Started:       s.opts.Started,
		UptimeSeconds: seconds(now.Sub(s.opts.Started)),
		Listeners:     []Listener{},
		Streams:       len(stats),
	}
	if s.opts.Listeners != nil {
		out.Listeners = append(out.Listeners, s.opts.Listeners()...)
	}
	for _, st := range stats {
		if st.Publisher != nil {
			out.Publishers++
		}
		for p, n := range st.Readers {
			all[p] += n
		}
	}
	out.Viewers = viewers(all)
	if s.opts.WebRTC != nil {
		info := s.opts.WebRTC()
		out.WebRTC = &info
	}
	writeJSON(w, http.StatusOK, out)
}
