package auth

import (
	"crypto/subtle"
)

// ClusterTokenParam is the query parameter carrying the cluster secret on
// an internal pull (an edge node playing a stream from its owner node):
// rtmp://OWNER/APP/NAME?cluster_token=SECRET.
const ClusterTokenParam = "cluster_token"

// internalPull decides a play request that presents a cluster token:
// handled reports whether it did (the request carries the parameter).
// The right secret allows it without keys or hooks — the viewers were
// authorized on the edge by the same policy; a wrong one, or any token
// while internal pulls are off (cluster.secret empty), is refused, so a
// stranger cannot pull through the internal link.
func (a *Authorizer) internalPull(req Request) (handled bool, err error) {
	if req.Query == nil || !req.Query.Has(ClusterTokenParam) {
		return false, nil
	}
	if req.Action != Play {
		return true, deny(ErrForbidden, "a cluster token only allows internal pulls (play)")
	}
	if a.clusterSecret == "" {
		return true, deny(ErrUnauthorized, "internal pulls are off on this node (cluster.secret is empty)")
	}
	got := req.Query.Get(ClusterTokenParam)
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.clusterSecret)) != 1 {
		return true, deny(ErrUnauthorized, "wrong cluster secret")
	}
	return true, nil
}
