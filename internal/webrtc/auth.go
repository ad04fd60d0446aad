package webrtc

import "github.com/sluicemedia/sluice/internal/auth"

// Access is decided before a request reaches this server: the HTTP stream
// router (internal/app) asks the one Authorizer about every WHEP play and
// WHIP publish (bearer token per draft-ietf-wish-whip §4.4 and
// draft-ietf-wish-whep "Authentication and authorization", or ?token= /
// ?key=) and hands the server the resulting auth.Grant; the session
// resources are reached through their unguessable 128-bit IDs, learned
// only from an authorized POST's Location.

// ended tells the Authorizer, through the grant, that its client left.
func ended(g *auth.Grant) {
	if g != nil {
		g.Ended()
	}
}
