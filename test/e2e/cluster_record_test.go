package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestClusterEdgeCopiesAreNotRecorded: with the same paths.*.record on
// every node, the owner records a stream and an edge that pulls it for its
// viewers does not (record.edge_copies is false by default): one
// recording per stream in the cluster, not one per node watched from.
func TestClusterEdgeCopiesAreNotRecorded(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	cfgA := recordConfig(t, dirA, "  segment_duration: 2s")
	cfgB := recordConfig(t, dirB, "  segment_duration: 2s")
	addr := testutil.FreePort(t)
	a := testutil.StartSluice(t, []string{"SLUICE_CLUSTER_REDIS=" + r.URL(), "SLUICE_CLUSTER_NODE_ID=a",
		"SLUICE_CLUSTER_TTL=" + clusterTTL.String(), "SLUICE_RTMP_LISTEN=" + addr,
		"SLUICE_CLUSTER_ADVERTISE=" + addr, "SLUICE_CLUSTER_SECRET=" + clusterSecret}, "-config", cfgA)
	b := testutil.StartSluice(t, []string{"SLUICE_CLUSTER_REDIS=" + r.URL(), "SLUICE_CLUSTER_NODE_ID=b",
		"SLUICE_CLUSTER_TTL=" + clusterTTL.String(), "SLUICE_CLUSTER_SECRET=" + clusterSecret,
		"SLUICE_CLUSTER_ROLE=edge"}, "-config", cfgB)
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/rec", testutil.PublishOptions{})
	waitForStream(t, a, "live/rec")

	// A viewer on b for 5 s: b pulls the stream from a.
	res, err := testutil.Decode(t, "http://"+b.HTTPAddr+"/live/rec.flv", 5*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 50, "the edge plays the stream (errors %v)", res.Errors)
	waitRecorded(t, a, "live/rec", 3, 20*time.Second)
	ents, err := os.ReadDir(filepath.Join(dirB, "live", "rec"))
	if err == nil {
		require.Empty(t, ents, "the edge recorded its copy")
	} else {
		require.True(t, os.IsNotExist(err), "edge record dir: %v", err)
	}
	require.Empty(t, listRecordings(t, b, "live/rec"), "the edge lists no recording of its copy")
}
