package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/certs"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func certSerial(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestHTTPSAndRTMPSWithCertificateReload: RTMPS publish and HTTPS (HTTP/2)
// FLV play work with a generated certificate; SIGHUP swaps in a new
// certificate for new connections without dropping the RTMPS publisher or
// the HTTPS viewer.
func TestHTTPSAndRTMPSWithCertificateReload(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	dir := t.TempDir()
	certFile, keyFile, err := certs.GenerateSelfSigned(dir)
	require.NoError(t, err)
	s := testutil.StartSluice(t, []string{
		"SLUICE_RTMPS_CERT=" + certFile, "SLUICE_RTMPS_KEY=" + keyFile,
		"SLUICE_HTTPS_CERT=" + certFile, "SLUICE_HTTPS_KEY=" + keyFile,
	})
	require.NotEmpty(t, s.HTTPSAddr)
	pub := testutil.PublishTestPattern(t, "rtmps://"+s.RTMPSAddr+"/live/tls", testutil.PublishOptions{})
	waitForStream(t, s, "live/tls")

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+s.HTTPSAddr+"/live/tls.flv", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor, "HTTPS negotiates HTTP/2")
	fr := flv.NewReader(resp.Body, 16<<20)
	_, _, err = fr.ReadHeader()
	require.NoError(t, err)
	st := &flvTagStream{r: fr, body: resp.Body}
	n, _ := readTagsFor(t, st, time.Second)
	require.Greater(t, n, 10, "HTTP-FLV over HTTP/2 delivers media")

	before := certSerial(t, s.HTTPSAddr)
	require.Equal(t, before, certSerial(t, s.RTMPSAddr))
	_, _, err = certs.GenerateSelfSigned(dir) // replaces both files
	require.NoError(t, err)
	require.NoError(t, s.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return certSerial(t, s.HTTPSAddr) != before }, 10*time.Second, 100*time.Millisecond,
		"HTTPS must serve the new certificate after SIGHUP")
	require.NotEqual(t, before, certSerial(t, s.RTMPSAddr), "RTMPS serves the new certificate too")
	waitLog(t, s, "tls certificate reloaded")

	// Nothing established was dropped.
	select {
	case <-pub.Done():
		t.Fatalf("RTMPS publisher dropped by the reload: %s", pub.Stderr())
	default:
	}
	_, ts1 := readTagsFor(t, st, time.Second)
	n, ts2 := readTagsFor(t, st, 2*time.Second)
	require.Greater(t, n, 40, "HTTPS viewer still receives media after the reload")
	require.Greater(t, ts2, ts1+1500, "live timestamps keep advancing")
}
