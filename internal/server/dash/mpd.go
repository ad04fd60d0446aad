package dashserver

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// The MPD model: the subset of the ISO/IEC 23009-1 schema Sluice writes,
// in schema element order (encoding/xml writes fields in declaration
// order, and the schema's sequences are ordered).

// Namespaces and identifiers (ISO/IEC 23009-1 §5.3.1, §8; §5.8.5.7 for
// the UTC timing schemes).
const (
	mpdNamespace = "urn:mpeg:dash:schema:mpd:2011"
	// profileLive is the ISOBMFF live profile (ISO/IEC 23009-1 §8.4).
	profileLive = "urn:mpeg:dash:profile:isoff-live:2011"
	// schemeHTTPISO is the UTCTiming scheme whose value is a URL
	// answering an ISO 8601 date-time (ISO/IEC 23009-1 §5.8.5.7).
	schemeHTTPISO = "urn:mpeg:dash:utc:http-iso:2014"
	// schemeAudioChannels is the AudioChannelConfiguration scheme of
	// ISO/IEC 23003-3 (a channel count).
	schemeAudioChannels = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
)

// MPD is the Media Presentation Description root (ISO/IEC 23009-1 §5.3.1.2,
// Table 3).
type MPD struct {
	XMLName xml.Name `xml:"MPD"`
	// Xmlns is the MPD namespace.
	Xmlns string `xml:"xmlns,attr"`
	// ID identifies the presentation (the packager session).
	ID string `xml:"id,attr,omitempty"`
	// Profiles lists the DASH profiles the presentation conforms to.
	Profiles string `xml:"profiles,attr"`
	// Type is "dynamic" for live.
	Type string `xml:"type,attr"`
	// AvailabilityStartTime anchors media time 0 on the wall clock.
	AvailabilityStartTime string `xml:"availabilityStartTime,attr"`
	// PublishTime is when this MPD was generated.
	PublishTime string `xml:"publishTime,attr"`
	// MediaPresentationDuration is set once the stream ended.
	MediaPresentationDuration string `xml:"mediaPresentationDuration,attr,omitempty"`
	// MinimumUpdatePeriod is how often clients refetch the MPD; absent
	// once the stream ended (§5.4.1: no more updates).
	MinimumUpdatePeriod string `xml:"minimumUpdatePeriod,attr,omitempty"`
	// MinBufferTime is the buffer a client needs at the bandwidth given.
	MinBufferTime string `xml:"minBufferTime,attr"`
	// TimeShiftBufferDepth is how far behind the live edge segments stay
	// available.
	TimeShiftBufferDepth string `xml:"timeShiftBufferDepth,attr,omitempty"`
	// SuggestedPresentationDelay is how far behind the live edge clients
	// that ignore availabilityTimeOffset should play.
	SuggestedPresentationDelay string `xml:"suggestedPresentationDelay,attr,omitempty"`
	// MaxSegmentDuration bounds every segment's duration.
	MaxSegmentDuration string `xml:"maxSegmentDuration,attr,omitempty"`
	// ServiceDescription carries the latency target (§K.4).
	ServiceDescription *ServiceDescription `xml:"ServiceDescription,omitempty"`
	// Periods are the presentation's periods, in time order.
	Periods []Period `xml:"Period"`
	// UTCTiming tells clients how to synchronise their clock with ours
	// (§5.8.4.11).
	UTCTiming []Descriptor `xml:"UTCTiming"`
}

// ServiceDescription describes the service's operating parameters; Sluice
// writes the latency target only (ISO/IEC 23009-1 Annex K).
type ServiceDescription struct {
	// ID identifies the description.
	ID string `xml:"id,attr"`
	// Latency is the target latency.
	Latency *Latency `xml:"Latency,omitempty"`
}

// Latency holds latency targets in milliseconds (ISO/IEC 23009-1 §K.4.2.2).
type Latency struct {
	// Target is the latency a client should aim for, ms.
	Target int64 `xml:"target,attr"`
	// Min and Max bound it, ms.
	Min int64 `xml:"min,attr,omitempty"`
	Max int64 `xml:"max,attr,omitempty"`
}

// Period is one period of the presentation (ISO/IEC 23009-1 §5.3.2.2).
type Period struct {
	// ID is stable across MPD updates.
	ID string `xml:"id,attr"`
	// Start is the period's start, relative to AvailabilityStartTime.
	Start string `xml:"start,attr"`
	// AdaptationSets of the period.
	AdaptationSets []AdaptationSet `xml:"AdaptationSet"`
}

// AdaptationSet is a set of interchangeable Representations
// (ISO/IEC 23009-1 §5.3.3.2).
type AdaptationSet struct {
	// ID identifies the set within the period.
	ID int `xml:"id,attr"`
	// ContentType is "video" or "audio" for one-component sets; empty for
	// muxed ones (then ContentComponents tell).
	ContentType string `xml:"contentType,attr,omitempty"`
	// MimeType of the segments.
	MimeType string `xml:"mimeType,attr"`
	// SegmentAlignment: segments of every Representation start together.
	SegmentAlignment bool `xml:"segmentAlignment,attr"`
	// StartWithSAP: every segment starts with a stream access point of
	// this type (1: an IDR frame; §4.5.2).
	StartWithSAP int `xml:"startWithSAP,attr,omitempty"`
	// ContentComponents describe the components of a muxed set
	// (§5.3.4).
	ContentComponents []ContentComponent `xml:"ContentComponent"`
	// SegmentTemplate is shared by the Representations (nil when each
	// has its own).
	SegmentTemplate *SegmentTemplate `xml:"SegmentTemplate,omitempty"`
	// Representations of the set.
	Representations []Representation `xml:"Representation"`
}

// ContentComponent is one media component of a muxed Representation
// (ISO/IEC 23009-1 §5.3.4.2).
type ContentComponent struct {
	// ID is the component's track ID in the segments.
	ID int `xml:"id,attr"`
	// ContentType is "video" or "audio".
	ContentType string `xml:"contentType,attr"`
}

// Representation is one encoding of the content (ISO/IEC 23009-1 §5.3.5.2).
type Representation struct {
	// ID is unique in the period; segment templates may use it.
	ID string `xml:"id,attr"`
	// Bandwidth is the bits per second a client needs (§5.3.5.2).
	Bandwidth int64 `xml:"bandwidth,attr"`
	// Codecs is the RFC 6381 codecs parameter, comma-separated.
	Codecs string `xml:"codecs,attr,omitempty"`
	// Width and Height of the video, pixels.
	Width  int `xml:"width,attr,omitempty"`
	Height int `xml:"height,attr,omitempty"`
	// FrameRate of the video: an integer or a fraction ("30000/1001").
	FrameRate string `xml:"frameRate,attr,omitempty"`
	// AudioSamplingRate of the audio, Hz.
	AudioSamplingRate int `xml:"audioSamplingRate,attr,omitempty"`
	// AudioChannelConfiguration gives the channel count.
	AudioChannelConfiguration *Descriptor `xml:"AudioChannelConfiguration,omitempty"`
	// SegmentTemplate, when the Representations of a set address
	// different media (an ABR ladder's renditions), is this one's.
	SegmentTemplate *SegmentTemplate `xml:"SegmentTemplate,omitempty"`
}

// Descriptor is a scheme/value pair (ISO/IEC 23009-1 §5.8.2, DescriptorType).
type Descriptor struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	Value       string `xml:"value,attr,omitempty"`
}

// SegmentTemplate describes segment URLs by template
// (ISO/IEC 23009-1 §5.3.9.4).
type SegmentTemplate struct {
	// Timescale of the timeline's t and d, ticks per second.
	Timescale uint32 `xml:"timescale,attr"`
	// PresentationTimeOffset is the media time of the period's start.
	PresentationTimeOffset uint64 `xml:"presentationTimeOffset,attr,omitempty"`
	// StartNumber is the number of the first segment of the timeline
	// ($Number$ templates only).
	StartNumber uint64 `xml:"startNumber,attr,omitempty"`
	// Initialization is the init segment URL template.
	Initialization string `xml:"initialization,attr"`
	// Media is the media segment URL template ($Time$ or $Number$,
	// §5.3.9.4.4).
	Media string `xml:"media,attr"`
	// AvailabilityTimeOffset makes a segment requestable this many seconds
	// before its end (§5.3.9.5.3; low-latency chunked delivery).
	AvailabilityTimeOffset string `xml:"availabilityTimeOffset,attr,omitempty"`
	// AvailabilityTimeComplete false: a segment is delivered while it is
	// being produced (chunked transfer).
	AvailabilityTimeComplete *bool `xml:"availabilityTimeComplete,attr,omitempty"`
	// SegmentTimeline lists the segments' times and durations.
	SegmentTimeline *SegmentTimeline `xml:"SegmentTimeline,omitempty"`
}

// SegmentTimeline lists segments (ISO/IEC 23009-1 §5.3.9.6).
type SegmentTimeline struct {
	S []S `xml:"S"`
}

// S is a run of segments of equal duration (ISO/IEC 23009-1 §5.3.9.6.2,
// Table 20): T is given where the timeline does not continue the previous
// run, R counts the repeats after the first (-1: repeated until the next
// MPD update, the live edge of a dynamic MPD).
type S struct {
	T *uint64 `xml:"t,attr,omitempty"`
	D uint64  `xml:"d,attr"`
	R int     `xml:"r,attr,omitempty"`
}

// Marshal serializes m with the XML declaration, indented.
func (m *MPD) Marshal() ([]byte, error) {
	out, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(xml.Header)+len(out)+1)
	b = append(b, xml.Header...)
	b = append(b, out...)
	return append(b, '\n'), nil
}

// xsDuration formats d as an xs:duration in seconds with millisecond
// precision ("PT2S", "PT1.8S").
func xsDuration(d time.Duration) string {
	ms := d.Round(time.Millisecond).Milliseconds()
	s := strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight("."+strconv.FormatInt(1000+frac, 10)[1:], "0")
	}
	return "PT" + s + "S"
}

// xsSeconds formats d as a decimal number of seconds, millisecond
// precision ("1.8").
func xsSeconds(d time.Duration) string {
	return strings.TrimPrefix(strings.TrimSuffix(xsDuration(d), "S"), "PT")
}

// xsDateTime formats t as an xs:dateTime in UTC with milliseconds.
func xsDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
