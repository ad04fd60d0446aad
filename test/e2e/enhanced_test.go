package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// legacyHEVCTag builds a non-standard but widespread legacy FLV HEVC tag
// (CodecID 12, AVC-style layout), as Chinese CDNs and OBS forks send.
func legacyHEVCTag(key bool, packetType byte, cts int32, data []byte) []byte {
	frameType := byte(2)
	if key {
		frameType = 1
	}
	b := []byte{frameType<<4 | 12, packetType, byte(cts >> 16), byte(cts >> 8), byte(cts)}
	return append(b, data...)
}

// TestEnhancedRTMPRoundTrip publishes HEVC (Enhanced RTMP hvc1 and legacy
// codec id 12) and AV1 (av01) made by ffmpeg's encoders, tag by tag with our
// RTMP client (Debian's ffmpeg 5.1 cannot push Enhanced RTMP), and checks an
// HTTP-FLV viewer gets the configuration record and every frame byte for byte.
func TestEnhancedRTMPRoundTrip(t *testing.T) {
	hevc := testutil.EncodeVector(t, "hvcC", "-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=25:bframes=2")
	av1 := testutil.EncodeVector(t, "av1C", "-c:v", "libaom-av1", "-cpu-used", "8", "-g", "25", "-b:v", "300k")
	cases := []struct {
		name   string
		codec  av.Codec
		vec    testutil.VideoVector
		legacy bool
		fourCC string
	}{
		{"hevc-enhanced", av.CodecH265, hevc, false, "hvc1"},
		{"hevc-legacy12", av.CodecH265, hevc, true, "hvc1"},
		{"av1-enhanced", av.CodecAV1, av1, false, "av01"},
	}
	s := testutil.StartSluice(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Greater(t, len(tc.vec.Frames), 25)
			path := "live/" + tc.name
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/"+path, nil)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Publish(ctx))

			var codecID any = 12.0
			if !tc.legacy {
				f := tc.fourCC
				codecID = float64(uint32(f[0])<<24 | uint32(f[1])<<16 | uint32(f[2])<<8 | uint32(f[3]))
			}
			md, err := rtmp.DataMessage(0, 0, "@setDataFrame", "onMetaData", amf0.ECMAArray{
				{Key: "videocodecid", Value: codecID}, {Key: "width", Value: 320.0}, {Key: "height", Value: 240.0}})
			require.NoError(t, err)
			require.NoError(t, c.WriteMessage(md))
			var seq []byte
			if tc.legacy {
				seq = legacyHEVCTag(true, 0, 0, tc.vec.Config)
			} else {
				seq = flv.AppendVideo(nil, flv.VideoTag{Codec: tc.codec, Key: true, PacketType: flv.SequenceHeader, Data: tc.vec.Config})
			}
			require.NoError(t, c.WriteMessage(&rtmp.Message{Type: rtmp.MsgVideo, Timestamp: 1000, Payload: seq}))
			waitForStream(t, s, path)

			st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/"+path+".flv")
			require.NoError(t, err)

			base := tc.vec.Frames[0].DTSms
			for _, f := range tc.vec.Frames {
				ts := uint32(1000 + f.DTSms - base)
				var body []byte
				if tc.legacy {
					body = legacyHEVCTag(f.Key, 1, f.CTSms, f.Data)
				} else {
					body = flv.AppendVideo(nil, flv.VideoTag{Codec: tc.codec, Key: f.Key, PacketType: flv.Coded, CTS: f.CTSms, Data: f.Data})
				}
				require.NoError(t, c.WriteMessage(&rtmp.Message{Type: rtmp.MsgVideo, Timestamp: ts, Payload: body}))
			}

			// The viewer sees the sequence header, then every frame, unchanged
			// but for the timeline's start.
			gotConfig := false
			for i := 0; i < len(tc.vec.Frames); {
				tag, err := st.r.ReadTag()
				require.NoError(t, err, "after %d frames", i)
				if tag.Type != flv.TagVideo {
					continue
				}
				require.NotZero(t, tag.Body[0]&0x80, "%s must be delivered as Enhanced RTMP", tc.codec)
				require.Equal(t, tc.fourCC, string(tag.Body[1:5]), "FourCC")
				v, err := flv.ParseVideo(tag.Body)
				require.NoError(t, err)
				require.Equal(t, tc.codec, v.Codec)
				if v.PacketType == flv.SequenceHeader {
					require.True(t, bytes.Equal(tc.vec.Config, v.Data), "configuration record changed in transit")
					gotConfig = true
					continue
				}
				require.True(t, gotConfig, "sequence header must precede the first frame")
				want := tc.vec.Frames[i]
				// The stream's timeline starts at 0: the publisher's first
				// timestamp (1000 ms) is the stream's 0.
				require.Equal(t, uint32(want.DTSms-base), tag.Timestamp, "frame %d timestamp", i)
				require.Equal(t, want.CTSms, v.CTS, "frame %d composition time", i)
				require.Equal(t, want.Key, v.Key, "frame %d key flag", i)
				require.True(t, bytes.Equal(want.Data, v.Data), "frame %d payload differs (%d vs %d bytes)", i, len(want.Data), len(v.Data))
				i++
			}
		})
	}
}
