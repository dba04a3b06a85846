package core

// The anacrolix side of the bandwidth market (btt_bid, core/market): the
// BEP 10 hooks and the useful-bytes tripwire. The market runs only when a
// wallet is open (WithWallet); without one nothing here is installed and
// every peer sees plain BitTorrent.
//
// Threading: anacrolix callbacks only copy what they are given into
// mkt.evC with a non-blocking send, or for lifecycle events into the
// overflow list when evC is full, and return (they run under the client
// lock); the loop handles the events (marketEvent, market_loop.go).

import (
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
)

// marketEvents bounds the queue between anacrolix callbacks and the loop.
// When it is full, messages are dropped (a lost CHEQUE is made good by the
// next, cumulative one); lifecycle events (a connection added, its
// handshake, its close) never are: they wait in the overflow list (lifeQ),
// bounded by the connections anacrolix keeps (three events each), so no
// peer's state leaks and no callback blocks under the client lock.
const marketEvents = 4096

// lifeQ holds the lifecycle events that found evC full, in order. While it
// is not empty every new event goes after it (messages are dropped), so
// the loop sees each connection's events in the order they happened.
type lifeQ struct {
	mu   sync.Mutex
	q    []mevent
	wake chan struct{} // capacity 1: the loop has overflow to take
}

func newLifeQ() *lifeQ { return &lifeQ{wake: make(chan struct{}, 1)} }

// enqueue queues ev for the loop without blocking: a message or meter
// event is dropped when the queue is full, a lifecycle event never.
func (mk *marketState) enqueue(ev mevent) {
	life := ev.kind == mevAdded || ev.kind == mevHandshake || ev.kind == mevClosed
	o := mk.over
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 {
		select {
		case mk.evC <- ev:
			return
		default:
		}
	}
	if !life {
		mk.dropped.Add(1)
		return
	}
	o.q = append(o.q, ev)
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// drain hands every queued event to handle, in order: those in evC, then
// the overflow (nothing enters evC while the overflow is not empty).
// At most cap(evC) events are taken from evC at a time, so a flood cannot
// hold the loop; the overflow then waits for the next call.
func (mk *marketState) drain(handle func(mevent)) {
	o := mk.over
	for range cap(mk.evC) + 1 {
		select {
		case ev := <-mk.evC:
			handle(ev)
			continue
		default:
		}
		o.mu.Lock()
		q := o.q
		o.q = nil
		o.mu.Unlock()
		for _, ev := range q {
			handle(ev)
		}
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) > 0 {
		select {
		case o.wake <- struct{}{}: // not taken yet: look again soon
		default:
		}
	}
}

// messageCopy copies an extension payload for the loop, checking its size
// first: above bttbid.MaxMessageSize only MaxMessageSize+1 bytes are kept,
// enough for the session to refuse it as too large (PROTOCOL.md), so a
// peer's 64 KiB messages cost the queue no more than 4 KiB each.
func messageCopy(p []byte) []byte {
	if len(p) > bttbid.MaxMessageSize {
		p = p[:bttbid.MaxMessageSize+1]
	}
	return slices.Clone(p)
}

type mevKind int

const (
	mevAdded mevKind = iota
	mevHandshake
	mevMessage
	mevClosed
	mevMeter // a tripwire fired: an account is near a limit
)

type mevent struct {
	kind    mevKind
	pc      *torrent.PeerConn
	t       *torrent.Torrent
	has     bool   // handshake: the peer advertises btt_bid
	payload []byte // message: a copy
	at      time.Time
	pos     int64 // message, meter: useful bytes received from the peer before it (-1: none)
}

// The useful-bytes tripwire counts a peer's useful payload bytes as
// anacrolix's reader receives them, in stream order with its extension
// messages: the buyer's exact epoch boundaries (PROTOCOL.md §8.1).
// Callbacks add to it; the loop reads and arms it.

// installMarket adds the BEP 10 hooks to cb (after peerTable.install) and
// attaches a shaper flow to every new connection.
func (e *Engine) installMarket(cb *torrent.Callbacks) {
	mk := e.mkt
	if mk == nil {
		return
	}
	send := mk.enqueue
	cb.PeerConnAdded = append(cb.PeerConnAdded, func(pc *torrent.PeerConn) {
		// Our own copy of the protocol map: the client-wide default one
		// must never change.
		lm := *pc.LocalLtepProtocolMap
		lm.Index = slices.Clone(lm.Index)
		lm.AddUserProtocol(pp.ExtensionName(bttbid.ExtensionName))
		pc.LocalLtepProtocolMap = &lm
		send(mevent{kind: mevAdded, pc: pc, t: pc.Torrent()})
	})
	prevHS := cb.ReadExtendedHandshake
	cb.ReadExtendedHandshake = func(pc *torrent.PeerConn, m *pp.ExtendedHandshakeMessage) {
		if prevHS != nil {
			prevHS(pc, m)
		}
		send(mevent{kind: mevHandshake, pc: pc, has: m.M[pp.ExtensionName(bttbid.ExtensionName)] != 0})
	}
	cb.ReceivedUsefulData = append(cb.ReceivedUsefulData, func(ev torrent.ReceivedUsefulDataEvent) {
		mk.usefulWire(ev.Peer).add(int64(len(ev.Message.Piece)))
	})
	cb.PeerConnReadExtensionMessage = append(cb.PeerConnReadExtensionMessage, func(ev torrent.PeerConnReadExtensionMessageEvent) {
		name, builtin, err := ev.PeerConn.LocalLtepProtocolMap.LookupId(ev.ExtensionNumber)
		if err != nil || builtin || name != pp.ExtensionName(bttbid.ExtensionName) {
			return
		}
		send(mevent{kind: mevMessage, pc: ev.PeerConn, payload: messageCopy(ev.Payload), at: time.Now(),
			pos: mk.usefulOf(&ev.PeerConn.Peer)})
	})
	prevClosed := cb.PeerConnClosed
	cb.PeerConnClosed = func(pc *torrent.PeerConn) {
		if prevClosed != nil {
			prevClosed(pc)
		}
		e.auths.Delete(pc)
		send(mevent{kind: mevClosed, pc: pc})
	}
	e.gates.setVerifier(e.licenceVerifier)
	e.conns.OnConn(func(c *Conn) {
		f := mk.sh.NewFlow()
		f.SetWeight(mk.m.Config().FreeShare)
		c.SetShaper(f)
	})
}

// usefulOf returns the useful bytes received from p so far.
func (mk *marketState) usefulOf(p *torrent.Peer) int64 {
	if v, ok := mk.useful.Load(p); ok {
		return v.(*tripwire).load()
	}
	return 0
}

// usefulWire returns p's tripwire of useful bytes received.
func (mk *marketState) usefulWire(p *torrent.Peer) *tripwire {
	if v, ok := mk.useful.Load(p); ok {
		return v.(*tripwire)
	}
	v, _ := mk.useful.LoadOrStore(p, newTripwire())
	return v.(*tripwire)
}
