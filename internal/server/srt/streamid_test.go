package srtserver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStreamID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		mode Mode
		path string
		key  string
	}{
		{"publish:live/cam1", ModePublish, "live/cam1", ""},
		{"publish:live/cam1?key=s3cret", ModePublish, "live/cam1", "s3cret"},
		{"read:live/cam1", ModeRead, "live/cam1", ""},
		{"read:live/cam1?key=v", ModeRead, "live/cam1", "v"},
		{"play:live/cam1", ModeRead, "live/cam1", ""},
		{"live/cam1", ModeRead, "live/cam1", ""},
		{"#!::r=live/cam1,m=publish", ModePublish, "live/cam1", ""},
		{"#!::r=live/cam1,m=publish,key=k1", ModePublish, "live/cam1", "k1"},
		{"#!::m=publish,r=live/cam1?key=k2", ModePublish, "live/cam1", "k2"},
		{"#!::r=live/cam1,m=request", ModeRead, "live/cam1", ""},
		{"#!::r=live/cam1", ModeRead, "live/cam1", ""},
		{"#!::u=bob,r=live/cam1,h=example.com,m=request,key=k3", ModeRead, "live/cam1", "k3"},
	} {
		sid, err := ParseStreamID(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.mode, sid.Mode, tc.in)
		require.Equal(t, tc.path, sid.Path, tc.in)
		require.Equal(t, tc.key, sid.Query.Get("key"), tc.in)
	}
	for _, bad := range []string{
		"", "publish:", "publish:cam1", "publish:live/cam1/x", "publish:api/x", "read:../x",
		"#!::", "#!::m=publish", "#!::r=live/cam1,m=delete", "#!::r=live/cam1,novalue",
		"publish:live/cam1?%zz", "publish:live/" + string(make([]byte, 600)),
	} {
		_, err := ParseStreamID(bad)
		require.ErrorIs(t, err, errStreamID, "%q", bad)
	}
}

// FuzzParseStreamID: any streamid parses to a valid path or errors, never
// panics.
func FuzzParseStreamID(f *testing.F) {
	for _, s := range []string{"publish:live/cam1?key=k", "read:live/x", "#!::r=live/cam1,m=publish,key=k",
		"#!::m=request,r=a/b?token=t", "", "#!::", "play:a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sid, err := ParseStreamID(s)
		if err != nil {
			require.ErrorIs(t, err, errStreamID)
			return
		}
		require.Contains(t, []Mode{ModePublish, ModeRead}, sid.Mode)
		require.NotEmpty(t, sid.Path)
	})
}
