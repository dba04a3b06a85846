package core

import (
	"net"
	"time"

	"github.com/anacrolix/torrent"
)

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
	next time.Time     // when to dial; zero: not scheduled (connected, or new)
	wait time.Duration // the step before next; zero: start at redialMin
	up   time.Time     // since when it is connected; zero: not connected
}

// due reports whether to dial the peer at now, given whether it is
// connected. The first dial after the peer is seen unconnected comes one
// step later; each step doubles up to redialMax. A connection that
// drops keeps the step it reached (a peer that accepts and drops is not
// dialled every second), unless it lasted redialMax.
func (r *redial) due(connected bool, now time.Time) bool {
	switch {
	case connected:
		if r.up.IsZero() {
			r.up = now
		}
		if now.Sub(r.up) >= redialMax {
			r.wait = 0
		}
		r.next = time.Time{}
		return false
	case r.next.IsZero():
		r.up = time.Time{}
		r.wait = max(r.wait, redialMin)
		r.next = now.Add(r.wait)
		return false
	case now.Before(r.next):
		return false
	}
	r.wait = min(2*r.wait, redialMax)
	r.next = now.Add(r.wait)
	return true
}

// redialPeers adds the torrent's explicit peers that are not connected
// back to anacrolix, each when its backoff is due (loop goroutine).
func (e *Engine) redialPeers(ts *tstate, st State, now time.Time) {
	if ts.t == nil || len(ts.rec.Peers) == 0 || st != StateDownloading && st != StateMetadata {
		ts.redials = nil
		return
	}
	// Connected: a connection we dialled to the address, or one the
	// peer's host opened to us (its listen port is not known here), so a
	// peer that dialled us is not dialled again.
	conns := ts.t.PeerConns()
	connected := make(map[string]bool, len(conns))
	for _, pc := range conns {
		a := pc.RemoteAddr.String()
		if pc.Discovery == torrent.PeerSourceIncoming {
			a, _, _ = net.SplitHostPort(a)
		}
		connected[a] = true
	}
	if ts.redials == nil {
		ts.redials = make(map[string]*redial)
	}
	for _, p := range ts.rec.Peers {
		r := ts.redials[p]
		if r == nil {
			r = &redial{}
			ts.redials[p] = r
		}
		host, _, _ := net.SplitHostPort(p)
		if r.due(connected[p] || connected[host], now) {
			e.addPeers(ts, []string{p})
		}
	}
}
