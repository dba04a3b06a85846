package core

// The engine's step of the bandwidth market (btt_bid, core/market): its
// state, the events the hooks (market_hooks.go) queue, the tripwires
// that bring a connection's account back to the loop, and the per-tick
// step of each torrent (marketTick): counters, timeouts, asks, bids, the
// round when due, shaper weights, cut buyers and the writes of queued
// messages with PeerConn.WriteExtendedMessage. mkt is owned by the loop
// except evC and the immutable fields set in New.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/core/shaper"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// marketState is the engine's market. Owned by the loop.
type marketState struct {
	w       Wallet
	m       *market.Market
	sh      *shaper.Shaper
	evC     chan mevent
	over    *lifeQ       // lifecycle events that found evC full (market_hooks.go)
	dropped atomic.Int64 // events lost to a full queue
	peers   map[*torrent.PeerConn]*mpeer
	useful  sync.Map // *torrent.Peer → *tripwire of useful bytes received
	tors    map[InfoHash]*market.Auction
	// publishers are the addresses we dialed publisher peers at, by
	// torrent: a tip between two seeds dials them again (market_commerce.go).
	publishers map[InfoHash][]string
	balance    wallet.Amount
	unsett     wallet.Amount
	unsBy      map[wallet.Address]wallet.Amount // unsettled received, by payer
	balErr     string
	balAt      time.Time
	balBusy    bool
	settling   bool // a settlement a licence waits for runs (market_cover.go)
	paying     bool // a settlement by transfer runs (market_transfer.go)
	settled    time.Time
	own        ownVault     // re-reading our own cheque vault (market_vault.go)
	writer     *moneyWriter // stores received cheques off the loop (market_store.go)
}

type mpeer struct {
	p        *market.Session
	ih       InfoHash
	key      string
	has      bool // the peer advertised btt_bid
	conn     *Conn
	bad      int64 // pieces it dirtied that failed the hash check
	complete bool
	mutual   time.Time // when both sides were first seen complete
	since    time.Time // when the connection was added
	// pokeSent and pokeRecv queue a mevMeter event for the connection:
	// from the writer's tripwire, and from the reader's with the stream
	// position it fired at.
	pokeSent, pokeRecv func()
}

// newMarketState builds the market for w under cfg (nil when w is nil).
func newMarketState(cfg MarketConfig, w Wallet, upload int64) (*marketState, error) {
	if w == nil {
		return nil, nil
	}
	m, err := market.New(cfg.market(), w)
	if err != nil {
		return nil, err
	}
	mk := &marketState{
		w:     w,
		m:     m,
		sh:    shaper.New(upload),
		evC:   make(chan mevent, marketEvents),
		over:  newLifeQ(),
		peers: make(map[*torrent.PeerConn]*mpeer),
		tors:  make(map[InfoHash]*market.Auction),

		publishers: make(map[InfoHash][]string),
		writer:     newMoneyWriter(),
	}
	m.QueueWrites()
	if err := mk.loadTransfers(); err != nil {
		return nil, err
	}
	return mk, nil
}

// marketEventC is the loop's channel of market events (nil without a
// market, which blocks forever in a select).
func (e *Engine) marketEventC() chan mevent {
	if e.mkt == nil {
		return nil
	}
	return e.mkt.evC
}

// marketWakeC fires when lifecycle events wait in the overflow list (nil
// without a market).
func (e *Engine) marketWakeC() chan struct{} {
	if e.mkt == nil {
		return nil
	}
	return e.mkt.over.wake
}

// marketEvent handles one callback event on the loop.
func (e *Engine) marketEvent(ev mevent) {
	mk := e.mkt
	switch ev.kind {
	case mevAdded:
		ts := e.tstateOf(ev.t)
		if ts == nil {
			return
		}
		ih := ts.ih
		mt := mk.torrent(ih)
		pc := ev.pc
		mp := &mpeer{ih: ih, key: pc.RemoteAddr.String(), conn: e.matchConn(pc), since: time.Now()}
		mp.p = mt.NewSession(mp.key, [20]byte(e.cl.PeerID()), [20]byte(pc.PeerID), mp.since)
		n := mp.p.Nonce()
		e.connAuthOf(pc).nonce.Store(&n) // before our HELLO carries it (§18.4)
		poke := func(pos int64) {
			select {
			case mk.evC <- mevent{kind: mevMeter, pc: pc, pos: pos}:
			default:
				mk.dropped.Add(1) // the next tick looks anyway
			}
		}
		mp.pokeSent = func() { poke(-1) }
		mp.pokeRecv = func() { poke(mk.usefulOf(&pc.Peer)) }
		mk.peers[pc] = mp
	case mevHandshake:
		mp := mk.peers[ev.pc]
		if mp == nil {
			return
		}
		mp.has = ev.has
		if ev.has {
			mp.p.Start(time.Now())
		} else if mp.p.State() != market.Legacy {
			mp.p.Disable("the peer removed btt_bid from its handshake")
		}
		e.flushPeer(ev.pc, mp)
	case mevMessage:
		mp := mk.peers[ev.pc]
		if mp == nil {
			return
		}
		mp.p.ReceiveAt(ev.at, ev.payload, ev.pos)
		e.submitWrites()
		if v := mp.p.Version(); v > 0 {
			// The gate may not have seen the HELLO (a torrent gated
			// once its metadata came): tell it the version.
			e.connAuthOf(ev.pc).peerV.CompareAndSwap(0, v)
		}
		e.flushPeer(ev.pc, mp)
		e.armMeters(ev.pc, mp)
	case mevMeter:
		if mp := mk.peers[ev.pc]; mp != nil {
			e.observe(ev.pc, mp, ev.pc.Stats(), ev.pos)
			e.flushPeer(ev.pc, mp)
			e.armMeters(ev.pc, mp)
		}
	case mevClosed:
		if mp := mk.peers[ev.pc]; mp != nil {
			mp.p.Disable("connection closed")
			if mp.conn != nil {
				mp.conn.written.disarm()
			}
			delete(mk.peers, ev.pc)
		}
		mk.useful.Delete(&ev.pc.Peer)
	}
}

func (mk *marketState) torrent(ih InfoHash) *market.Auction {
	mt := mk.tors[ih]
	if mt == nil {
		mt = mk.m.NewAuction(ih)
		mk.tors[ih] = mt
	}
	return mt
}

// tstateOf finds the loop's state of an anacrolix torrent.
func (e *Engine) tstateOf(t *torrent.Torrent) *tstate {
	if t == nil {
		return nil
	}
	for _, ts := range e.torrents {
		if ts.t == t {
			return ts
		}
	}
	return nil
}

// observe counts the bytes a connection carried since the last look: sent
// (paid if we award it) and received up to the stream position recv
// (owed if it awards us; -1: do not look at received bytes).
func (e *Engine) observe(pc *torrent.PeerConn, mp *mpeer, st torrent.PeerStats, recv int64) {
	mk := e.mkt
	mp.p.ObserveSent(st.BytesWrittenData.Int64(), mk.torrent(mp.ih).Round())
	// A hash failure is seen before these bytes are counted, so they
	// cannot trigger a cheque to a seller that just sent garbage.
	if bad := st.PiecesDirtiedBad.Int64(); bad > mp.bad {
		mp.bad = bad
		mp.p.BadPiece()
	}
	if recv >= 0 {
		mp.p.ObserveReceived(recv)
	}
}

// drainMarketEvents handles the queued callback events before a tick
// samples byte counters: a sample taken past a queued AWARD or OUTBID
// would count the bytes between under the old terms (the counters only
// move forward, so they would never be counted under the new ones).
func (e *Engine) drainMarketEvents() {
	if e.mkt == nil {
		return
	}
	e.mkt.drain(e.marketEvent)
}

// meterStep is the least distance between two looks at a connection's
// account: it bounds the events a fast connection causes (one per
// meterStep bytes at most).
const meterStep = 64 << 10

// armMeters sets the connection's tripwires so the loop looks at it
// again when the buyer's debt nears its credit (we sell) or a cheque is
// due (we buy): PROTOCOL.md §8.2 and §8.3 are kept at byte precision
// instead of tick precision. Wire bytes written are at least the payload
// bytes, so the seller's wire fires early, never late.
func (e *Engine) armMeters(pc *torrent.PeerConn, mp *mpeer) {
	if mp.pokeSent == nil {
		return
	}
	if h := mp.p.SellHeadroom(); h >= 0 && mp.conn != nil {
		mp.conn.ArmWritten(mp.conn.BytesWritten()+max(h, meterStep), &mp.pokeSent)
	} else if mp.conn != nil {
		mp.conn.written.disarm()
	}
	w := e.mkt.usefulWire(&pc.Peer)
	if h := mp.p.BuyHeadroom(); h >= 0 {
		w.arm(w.load()+max(h, meterStep), &mp.pokeRecv)
	} else {
		w.disarm()
	}
}

// flushPeer writes the peer's queued btt_bid messages, in order.
func (e *Engine) flushPeer(pc *torrent.PeerConn, mp *mpeer) {
	for _, b := range mp.p.TakeOutbox() {
		if err := pc.WriteExtendedMessage(pp.ExtensionName(bttbid.ExtensionName), b); err != nil {
			mp.p.Disable(fmt.Sprintf("cannot write to the peer: %v", err))
			return
		}
	}
}

// tradePolicy is what a torrent trades with: its strategies and prices.
type tradePolicy struct {
	sell        strategy.Seller
	ask         wallet.Amount
	buy         strategy.Buyer
	bid, budget wallet.Amount
}

// resolvePolicy resolves a torrent's trade policy from its own market
// settings, then the engine's defaults. Without a seller strategy a
// torrent sells (uniform) only when an ask is set; without a buyer
// strategy it buys (fixed) only when a bid is set. A stored strategy name
// this version does not know is an error; that side then neither sells
// (free) nor buys (none).
func (e *Engine) resolvePolicy(ts *tstate) (tradePolicy, error) {
	r := ts.rec.Market
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	var p tradePolicy
	askS, bidS := pick(r.Ask, e.market.Ask), pick(r.Bid, e.market.Bid)
	p.ask, p.bid = parseStoredAmount(askS), parseStoredAmount(bidS)
	p.budget = parseStoredAmount(pick(r.Budget, e.market.Budget))
	sname := pick(r.SellerStrategy, e.market.SellerStrategy)
	if sname == "" {
		sname = strategy.SellerFree
		if askS != "" {
			sname = strategy.SellerUniform
		}
	}
	bname := pick(r.BuyerStrategy, e.market.BuyerStrategy)
	if bname == "" {
		bname = strategy.BuyerNone
		if bidS != "" {
			bname = strategy.BuyerFixed
		}
	}
	var serr, berr error
	if p.sell, serr = strategy.NewSeller(sname); serr != nil {
		p.sell = strategy.Free{}
	}
	if p.buy, berr = strategy.NewBuyer(bname); berr != nil {
		p.buy = strategy.None{}
	}
	return p, errors.Join(serr, berr)
}

// notePolicyErr logs a torrent's policy error once, when it appears or
// changes (the policy is resolved on every tick).
func (e *Engine) notePolicyErr(ts *tstate, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == ts.policyErr {
		return
	}
	ts.policyErr = msg
	if err != nil {
		e.log.Error("unknown market strategy: that side is off (seller free, buyer none)",
			"infohash", ts.rec.InfoHash, "err", err)
	}
}

// marketTick runs the market step of one torrent: counters, timeouts,
// asks, bids, the round when due (runRound), cut buyers, and the writes.
// It fills the torrent's snapshot market fields.
func (e *Engine) marketTick(ts *tstate, out *Torrent, now time.Time) {
	mk := e.mkt
	if mk == nil || ts.t == nil {
		return
	}
	mt := e.auction(ts, now)
	pol, err := e.resolvePolicy(ts)
	e.notePolicyErr(ts, err)
	_, selling := pol.sell.(strategy.Free)
	selling = !selling
	cfg := mk.m.Config()
	var askMsg *bttbid.Ask
	if selling {
		askMsg = &bttbid.Ask{Price: pol.ask, RoundLength: cfg.Round, Credit: cfg.Credit, Cap: cfg.Cap, Slots: uint32(cfg.Slots)}
	}
	pcs := ts.t.PeerConns()
	lives := make([]liveConn, 0, len(pcs))
	var peers []*market.Session
	complete := out.Complete()
	nearlyDone := !complete && out.Size > 0 && out.Size-out.Done <= 4*out.PieceLength
	for _, pc := range pcs {
		mp := mk.peers[pc]
		if mp == nil {
			continue
		}
		if mp.conn == nil {
			mp.conn = e.matchConn(pc) // two connections to its address at first
		}
		st := pc.Stats()
		lives = append(lives, liveConn{pc, mp})
		mp.p.Tick(now)
		mp.p.SetAsk(askMsg)
		mp.p.CommerceTick(now)
		e.notePublisher(ts, mp)
		e.observe(pc, mp, st, mk.usefulOf(&pc.Peer))
		switch {
		case complete:
			// Pay on completion, and again for bytes counted after it
			// (sampled a tick late, or before a btt_bid message).
			mp.complete = true
			mp.p.PayAll()
		case nearlyDone:
			// anacrolix drops a connection between two seeds the moment
			// the last piece verifies: pay as we go through the last few
			// pieces so the final cheque is (nearly) nothing.
			mp.p.PayAll()
		}
		peers = append(peers, mp.p)
	}
	rates := make(map[string]int64, len(out.Peers))
	for _, p := range out.Peers {
		rates[string(p.Key)] = p.DownRate
	}
	mt.Bid(pol.buy, market.BuyerInput{Now: now, MaxPrice: pol.bid, Balance: mk.balance, Budget: pol.budget,
		Remaining: max(out.Size-out.Done, 0), DownRates: rates}, peers)
	if mt.Due(now) {
		e.runRound(mt, pol, lives, out, now)
	}
	byKey := make(map[string]*mpeer, len(lives))
	for _, l := range lives {
		e.flushPeer(l.pc, l.mp)
		e.armMeters(l.pc, l.mp)
		if l.mp.p.Cut() && l.mp.conn != nil {
			// Past the credit tolerance (PROTOCOL.md §8.3): disconnect.
			_ = l.mp.conn.Close()
		}
		e.dropMutuallyComplete(l.pc, l.mp, complete, out.NumPieces, now)
		byKey[l.mp.key] = l.mp
	}
	e.fillMarket(mt, out, byKey, selling)
	fillCommerce(mt, out, now)
}

// auction returns the torrent's auction, with its publisher terms once
// they are known (they are part of the infohash: set once). The payment
// commands read it between ticks.
func (e *Engine) auction(ts *tstate, now time.Time) *market.Auction {
	mt := e.mkt.torrent(ts.ih)
	if mt.Terms() == nil && ts.terms != nil {
		tm := *ts.terms // the market's own copy
		mt.SetTerms(&tm, now)
	}
	return mt
}

// liveConn is a connection of the torrent a tick looks at, with its
// market session.
type liveConn struct {
	pc *torrent.PeerConn
	mp *mpeer
}

// runRound runs the seller's auction of a round that is due and gives
// the shaper its weights: the awarded buyers' shares, with the upload
// floor (PROTOCOL.md §10) under every READY peer, so btt_bid messages
// queued behind its piece data wait a bounded time.
func (e *Engine) runRound(mt *market.Auction, pol tradePolicy, lives []liveConn, out *Torrent, now time.Time) {
	cands := make([]market.Candidate, 0, len(lives))
	for _, l := range lives {
		f := e.facts.lookup(l.pc)
		var up int64
		for _, p := range out.Peers {
			if string(p.Key) == l.mp.key {
				up = p.UpRate
			}
		}
		cands = append(cands, market.Candidate{Key: l.mp.key, Session: l.mp.p, Interested: f.peerInterested,
			UpRate: up, Since: l.mp.since})
	}
	capacity := e.mkt.sh.Rate()
	res := mt.RunRound(now, pol.sell, pol.ask, capacity, cands)
	floor := shaper.MinWeight
	if capacity > 0 && len(res.Weights) > 0 {
		floor = max(floor, min(float64(uploadFloor)/float64(capacity), 1/float64(len(res.Weights))))
	}
	for _, l := range lives {
		if w, ok := res.Weights[l.mp.key]; ok {
			if l.mp.p.State() == market.Ready {
				w = max(w, floor)
			}
			if f := flowOf(l.mp.conn); f != nil {
				f.SetWeight(max(w, shaper.MinWeight))
			}
		}
	}
}

// mutualGrace bounds how long a connection between two seeds stays up
// for the money to square (the last cheque and its RECEIPT).
const mutualGrace = 5 * time.Second

// dropMutuallyComplete closes a connection once both sides have every
// piece, as anacrolix does when the market is off
// (DropMutuallyCompletePeers, turned off with a wallet): first the final
// cheque and its RECEIPT cross (we await no RECEIPT and the peer owes us
// nothing), or mutualGrace passes. Closing at the last HAVE, as anacrolix
// would, loses the cheque for the last blocks.
func (e *Engine) dropMutuallyComplete(pc *torrent.PeerConn, mp *mpeer, complete bool, pieces int, now time.Time) {
	if !complete || pieces == 0 || mp.conn == nil || pc.PeerPieces().GetCardinality() < uint64(pieces) {
		return
	}
	if mp.p.KeepOpen(now) || now.Sub(mp.since) < mutualGrace {
		// A payment in flight or a pledge to honour (PROTOCOL.md §16), or
		// a connection made for one (a tip between two seeds) that has
		// not reached READY yet.
		mp.mutual = time.Time{}
		return
	}
	if mp.mutual.IsZero() {
		mp.mutual = now
	}
	if !mp.p.AwaitingReceipt() && mp.p.View().Debt.IsZero() || now.Sub(mp.mutual) >= mutualGrace {
		_ = mp.conn.Close()
	}
}

// flowOf returns the shaper flow attached to c, if any.
func flowOf(c *Conn) *shaper.Flow {
	if c == nil {
		return nil
	}
	w := c.shaper.Load()
	if w == nil {
		return nil
	}
	f, _ := (*w).(*shaper.Flow)
	return f
}

// uploadFloor is the least upload rate, bytes/s, the shaper's weights
// give a connection to a READY btt_bid peer (when the capacity allows):
// with anacrolix's write buffer (at most ~48 KiB of piece messages ahead
// of an extension message) it bounds a control message's wait to about
// 0.75 s plus one shaper quantum per other connection.
const uploadFloor = 64 << 10
