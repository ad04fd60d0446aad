package config

import (
	"fmt"
	"net/url"
	"strings"
)

// PathRelayConfig is the relay part of a PathConfig (inline: its keys sit
// beside the other path keys): a source to pull the stream from, and
// servers to forward it to.
type PathRelayConfig struct {
	// Source is a URL the stream is pulled from: rtmp://, rtmps://,
	// http(s)://….flv (HTTP-FLV), http(s)://…m3u8 (HLS), srt://,
	// rtsp(s)://. On a glob pattern it may hold the
	// templates {app}, {name} and {path} and must be on demand. Default
	// "": streams are published to Sluice.
	Source string `yaml:"source,omitempty"`
	// SourceOnDemand starts the pull with the first viewer of any protocol
	// and stops it SourceOnDemandCloseAfter after the last; otherwise it
	// runs from startup. Default false.
	SourceOnDemand bool `yaml:"source_on_demand,omitempty"`
	// SourceOnDemandStartTimeout bounds how long the first viewer's
	// request waits for the source's first keyframe. Default 10s.
	SourceOnDemandStartTimeout Duration `yaml:"source_on_demand_start_timeout,omitempty"`
	// SourceOnDemandCloseAfter is how long an on-demand pull outlives its
	// last viewer. Default 10s.
	SourceOnDemandCloseAfter Duration `yaml:"source_on_demand_close_after,omitempty"`
	// Forward lists URLs every stream of these paths is pushed to
	// (rtmp://, rtmps://, srt://), with the templates {app}, {name} and
	// {path}. Default empty.
	Forward []string `yaml:"forward,omitempty"`
}

// SourceSchemes are the URL schemes a source may use.
var SourceSchemes = []string{"rtmp", "rtmps", "http", "https", "srt", "rtsp", "rtsps"}

// ForwardSchemes are the URL schemes a forward target may use.
var ForwardSchemes = []string{"rtmp", "rtmps", "srt"}

// relayURL checks one source or forward URL (templates allowed).
func (v *validator) relayURL(key, raw string, schemes []string) {
	u, err := url.Parse(strings.NewReplacer("{app}", "a", "{name}", "n", "{path}", "a/n").Replace(raw))
	switch {
	case err != nil:
		v.fail(key, "not a URL: %v", err)
	case !contains(schemes, strings.ToLower(u.Scheme)):
		v.fail(key, "scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
	case u.Host == "":
		v.fail(key, "missing host in %q", truncate(raw))
	}
}

func (v *validator) pathRelay(prefix, pattern string, r PathRelayConfig) {
	if r.Source != "" {
		v.relayURL(prefix+".source", r.Source, SourceSchemes)
		if strings.ContainsAny(pattern, `*?[\`) && !r.SourceOnDemand {
			v.fail(prefix+".source", "a source on a glob pattern must be on demand (source_on_demand: true): "+
				"the path is known only when a viewer asks for it")
		}
	} else if r.SourceOnDemand {
		v.fail(prefix+".source_on_demand", "needs a source")
	}
	for _, d := range []struct {
		key string
		val Duration
	}{{"source_on_demand_start_timeout", r.SourceOnDemandStartTimeout}, {"source_on_demand_close_after", r.SourceOnDemandCloseAfter}} {
		if d.val.Duration < 0 {
			v.fail(prefix+"."+d.key, "must not be negative")
		}
	}
	if len(r.Forward) > 64 {
		v.fail(prefix+".forward", "at most 64 targets, got %d", len(r.Forward))
	}
	for i, f := range r.Forward {
		v.relayURL(fmt.Sprintf("%s.forward[%d]", prefix, i), f, ForwardSchemes)
	}
}
