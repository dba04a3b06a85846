package core

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/core/market"
)

// The purchase gate (docs/PROTOCOL.md, "Purchase"): our node uploads a
// torrent with a price only to peers that presented a valid licence on
// that connection. anacrolix offers no per-connection choke, so the gate
// works on what anacrolix reads: Callbacks.ReadMessage hands us every
// incoming message before anacrolix acts on it, and on a gated connection
// the gate rewrites
//
//   - Interested into a keepalive (remembering that the peer wants in),
//   - Request into a keepalive (so no piece is ever sent),
//   - a btt_bid message that the licence verifier accepts into Interested
//     (or a keepalive if the peer had not declared interest), opening the
//     connection for good.
//
// Other btt_bid messages pass unchanged (HELLO, payments: a buyer pays on
// the very connection it is not yet served on). Legacy peers, which cannot
// present a licence, are never served a paid torrent by us; they can
// still share it among themselves.
//
// anacrolix unchokes every peer of a torrent it seeds and, with the fast
// extension, keeps a request open until it is served or rejected; it
// offers no way to reject one. So the gate remembers the requests it
// swallowed and, once the connection is open, hands them back: the first
// in place of the licence message, the rest (and a declared interest) in
// place of messages a seeder can do without (keepalives, Haves). anacrolix
// starts a connection with one request in flight and doubles from there,
// so a gated peer has one or two swallowed requests when it presents its
// licence; after that it is served like any other peer.
//
// Cost: the filter runs on every message read from every peer, under the
// client lock. With no paid torrent it is one atomic load; otherwise a
// binary search of the (few) paid infohashes, no hashing and no
// allocation, before a free torrent's message goes on unchanged.
//
// Concurrency: ReadMessage runs on each connection's reader goroutine
// under the client lock. A connection's gate state is touched by its own
// reader only (tests read its atomics), so it needs no lock.
// The list of gates is replaced, never changed, under gateTable.mu; a
// gate's connections are a sync.Map.

// LicenceVerifier decides whether a btt_bid payload received on pc is a
// valid licence presentation for pc's torrent. It runs on anacrolix's
// reader goroutine under the client lock: it must be quick, must not call
// into the client, and may hand what it learnt to the loop only with a
// non-blocking send.
type LicenceVerifier func(pc *torrent.PeerConn, payload []byte) bool

// gateTable holds the gates of the paid torrents. An infohash covers its
// terms, so a gate never goes stale: a torrent removed and added again
// gets the same one.
type gateTable struct {
	mu     sync.Mutex               // serialises add
	gates  atomic.Pointer[gateList] // nil until a paid torrent is added
	verify atomic.Pointer[LicenceVerifier]
}

// gateList is the gates sorted by infohash. A stored list is never
// changed: add stores a new one.
type gateList []*gate

// gate is one paid torrent's gate.
type gate struct {
	ih     InfoHash
	terms  market.Terms
	conns  sync.Map     // *torrent.PeerConn → *gateConn
	opened atomic.Int64 // connections opened by a licence so far
}

// find returns the gate of ih, nil when it is not gated.
func (l gateList) find(ih InfoHash) *gate {
	if i, ok := l.search(ih); ok {
		return l[i]
	}
	return nil
}

// search returns where ih's gate is or would be, and whether it is there.
// (A plain loop: slices.BinarySearchFunc's comparison closure made a miss
// three times slower.)
func (l gateList) search(ih InfoHash) (int, bool) {
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(l[m].ih[:], ih[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(l) && l[lo].ih == ih
}

// maxSwallowed bounds the requests remembered per connection (anacrolix
// accepts at most 1024 outstanding requests from a peer).
const maxSwallowed = 1024

// gateConn is one connection's state; only its reader goroutine touches
// it (open and refused are atomic so that tests may read them).
type gateConn struct {
	open      atomic.Bool
	refused   atomic.Int64 // requests swallowed while closed
	wantsIn   bool
	swallowed []pp.Message // requests not answered yet, oldest first
}

// setVerifier sets the licence verifier (nil: nobody is ever licensed).
// Safe at any time.
func (g *gateTable) setVerifier(v LicenceVerifier) {
	if v == nil {
		g.verify.Store(nil)
		return
	}
	g.verify.Store(&v)
}

// add gates torrent ih with terms t (a no-op for a free torrent or one
// already gated).
func (g *gateTable) add(ih InfoHash, t *market.Terms) {
	if !t.Paid() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var l gateList
	if p := g.gates.Load(); p != nil {
		l = *p
	}
	i, ok := l.search(ih)
	if ok {
		return
	}
	// A new list: readers may hold the old one.
	l = slices.Insert(slices.Clip(l), i, &gate{ih: ih, terms: *t})
	g.gates.Store(&l)
}

// byHash returns the gate of torrent ih, nil when it is not gated (or its
// metadata is not known yet). Safe from any goroutine.
func (g *gateTable) byHash(ih InfoHash) *gate {
	l := g.gates.Load()
	if l == nil {
		return nil
	}
	return l.find(ih)
}

// of returns the gate of pc's torrent, nil when it is not gated.
func (g *gateTable) of(pc *torrent.PeerConn) *gate {
	l := g.gates.Load()
	if l == nil {
		return nil // no paid torrent: nothing more to look at
	}
	t := pc.Torrent()
	if t == nil {
		return nil // an incoming connection not attached to a torrent yet
	}
	return l.find(InfoHash(t.InfoHash()))
}

// install chains the gate in front of cb.ReadMessage (so every other
// reader sees what anacrolix sees) and forgets closed connections.
func (g *gateTable) install(cb *torrent.Callbacks) {
	prev := cb.ReadMessage
	cb.ReadMessage = func(pc *torrent.PeerConn, m *pp.Message) {
		g.filter(pc, m)
		if prev != nil {
			prev(pc, m)
		}
	}
	prevClosed := cb.PeerConnClosed
	cb.PeerConnClosed = func(pc *torrent.PeerConn) {
		if gt := g.of(pc); gt != nil {
			gt.conns.Delete(pc)
		}
		if prevClosed != nil {
			prevClosed(pc)
		}
	}
}

var keepalive = pp.Message{Keepalive: true}

// filter rewrites m in place as the package comment describes.
func (g *gateTable) filter(pc *torrent.PeerConn, m *pp.Message) {
	gt := g.of(pc)
	if gt == nil {
		return
	}
	v, ok := gt.conns.Load(pc)
	if !ok {
		v, _ = gt.conns.LoadOrStore(pc, &gateConn{})
	}
	licence := func(m *pp.Message) bool {
		if !isBttBid(pc, m.ExtendedID) {
			return false
		}
		vp := g.verify.Load()
		return vp != nil && (*vp)(pc, m.ExtendedPayload)
	}
	if v.(*gateConn).step(m, licence) {
		gt.opened.Add(1)
	}
}

// step rewrites m, read on c's connection; licence reports whether an
// extended message is a valid licence. It returns true when m opened c.
func (c *gateConn) step(m *pp.Message, licence func(*pp.Message) bool) (opened bool) {
	if c.open.Load() {
		c.drain(m)
		return false
	}
	if m.Keepalive {
		return false
	}
	switch m.Type {
	case pp.Interested:
		c.wantsIn = true
		*m = keepalive
	case pp.NotInterested:
		c.wantsIn = false
	case pp.Request:
		c.refused.Add(1)
		c.swallow(*m)
		*m = keepalive
	case pp.Cancel:
		// A cancelled request is one fewer to hand back; anacrolix, which
		// never saw it, need not see the cancel.
		c.forget(*m)
		*m = keepalive
	case pp.Extended:
		if !licence(m) {
			return false // not a (valid) licence: the market handles it
		}
		c.open.Store(true)
		switch {
		case len(c.swallowed) > 0:
			// The peer waits for this block: it goes first. anacrolix
			// serves an unchoked peer whether or not it declared
			// interest; the interest follows in drain.
			*m = c.next()
		case c.wantsIn:
			c.wantsIn = false
			*m = pp.Message{Type: pp.Interested}
		default:
			*m = keepalive
		}
		return true
	}
	return false
}

// next pops the oldest swallowed request.
func (c *gateConn) next() pp.Message {
	m := c.swallowed[0]
	c.swallowed = c.swallowed[1:]
	return m
}

// drain, on an open connection, hands anacrolix what the gate still owes
// it (swallowed requests, then a declared interest) in the place of a
// message anacrolix can do without: a keepalive, or a Have (which only
// tells a seeder how far the peer got; a peer sends one per verified
// piece, so the debt is paid early in a download). A Cancel of a request
// still owed is answered by forgetting it.
func (c *gateConn) drain(m *pp.Message) {
	if len(c.swallowed) == 0 && !c.wantsIn {
		return
	}
	if !m.Keepalive {
		switch m.Type {
		case pp.Have:
		case pp.Cancel:
			if c.forget(*m) {
				*m = keepalive
			}
			return
		case pp.Interested, pp.NotInterested:
			c.wantsIn = false
			return
		default:
			return
		}
	}
	if len(c.swallowed) > 0 {
		*m = c.next()
		return
	}
	c.wantsIn = false
	*m = pp.Message{Type: pp.Interested}
}

// isBttBid reports whether id is our btt_bid extension number on pc.
func isBttBid(pc *torrent.PeerConn, id pp.ExtensionNumber) bool {
	if pc.LocalLtepProtocolMap == nil {
		return false
	}
	name, builtin, err := pc.LocalLtepProtocolMap.LookupId(id)
	return err == nil && !builtin && name == pp.ExtensionName(bttbid.ExtensionName)
}

func (c *gateConn) swallow(m pp.Message) {
	for _, s := range c.swallowed {
		if sameRequest(s, m) {
			return
		}
	}
	if len(c.swallowed) >= maxSwallowed {
		return // more than anacrolix would queue: dropped like anacrolix would
	}
	c.swallowed = append(c.swallowed, m)
}

// forget drops a swallowed request m cancels; it reports whether there
// was one.
func (c *gateConn) forget(m pp.Message) bool {
	for i, s := range c.swallowed {
		if sameRequest(s, m) {
			c.swallowed = append(c.swallowed[:i], c.swallowed[i+1:]...)
			return true
		}
	}
	return false
}

func sameRequest(a, b pp.Message) bool {
	return a.Index == b.Index && a.Begin == b.Begin && a.Length == b.Length
}

// learnTerms parses ts's publisher terms once its metainfo is known and
// gates the torrent if it has a price. Malformed terms are logged and
// treated as none: the torrent is then plain BitTorrent (our create never
// makes one).
func (e *Engine) learnTerms(ts *tstate) {
	if ts.termsParsed || ts.tf == nil {
		return
	}
	ts.termsParsed = true
	t, err := ts.tf.Terms()
	if err != nil {
		e.log.Warn("ignoring publisher terms", "infohash", ts.rec.InfoHash, "err", err)
		return
	}
	ts.terms = t
	e.gates.add(ts.ih, t)
}

// gateOnInfo gates magnet torrent t the moment its metadata arrives,
// rather than at the loop's next poll (learnTerms then records the same
// terms for the snapshot).
func (e *Engine) gateOnInfo(t *torrent.Torrent) {
	e.g.Go(func() error {
		select {
		case <-t.GotInfo():
		case <-t.Closed():
			return nil
		case <-e.gctx.Done():
			return nil
		}
		mi := t.Metainfo()
		if terms, err := ParseTerms(mi.InfoBytes); err == nil {
			e.gates.add(InfoHash(t.InfoHash()), terms)
		}
		return nil
	})
}
