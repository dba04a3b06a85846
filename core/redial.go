package core

import "time"

// Explicit peers (AddSpec.Peers: get --peer, add --peer, a magnet's
// x.pe) are dialled again while the torrent wants peers: anacrolix
// forgets a peer whose dial was refused or whose connection dropped, so a
// seeder still starting or checking its data would never be tried again.
// Each is redialled with backoff, 1 s doubling to 60 s, from when it was
// last seen unconnected; a connection resets it.
const (
	redialMin = time.Second
	redialMax = time.Minute
)

// redial is the backoff of one explicit peer of a torrent.
type redial struct {
	next time.Time
	wait time.Duration
}

// redialPeers adds the torrent's explicit peers that are not connected
// back to anacrolix, each when its backoff is due (loop goroutine).
func (e *Engine) redialPeers(ts *tstate, st State, now time.Time) {
	if ts.t == nil || len(ts.rec.Peers) == 0 || st != StateDownloading && st != StateMetadata {
		ts.redials = nil
		return
	}
	conns := ts.t.PeerConns()
	connected := make(map[string]bool, len(conns))
	for _, pc := range conns {
		connected[pc.RemoteAddr.String()] = true
	}
	if ts.redials == nil {
		ts.redials = make(map[string]*redial)
	}
	for _, p := range ts.rec.Peers {
		r := ts.redials[p]
		switch {
		case connected[p]:
			delete(ts.redials, p)
		case r == nil:
			// Dialled when the torrent started (or just connected and
			// dropped): the first redial is one step from now.
			ts.redials[p] = &redial{next: now.Add(redialMin), wait: redialMin}
		case !now.Before(r.next):
			e.addPeers(ts, []string{p})
			r.wait = min(2*r.wait, redialMax)
			r.next = now.Add(r.wait)
		}
	}
}
