package core

// This file wires the btt_bid bandwidth market (core/market) into the
// engine: the BEP 10 hooks, the upload shaper, the per-tick market step
// and the market fields of the Snapshot. The market runs only when a
// wallet is open (WithWallet); without one nothing here is installed and
// every peer sees plain BitTorrent.
//
// Threading: anacrolix callbacks only copy what they are given into
// mkt.evC with a non-blocking send and return (they run under the client
// lock); the loop handles the events (marketEvent) and, on each tick,
// samples counters, runs rounds and writes queued messages with
// PeerConn.WriteExtendedMessage. mkt is owned by the loop except evC and
// the immutable fields set in New.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
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

// Wallet is what the engine needs of a wallet to trade: sign and accept
// cheques (core/market) plus balance and settlement. *wallet.Wallet has
// it.
type Wallet interface {
	market.Wallet
	Balance(ctx context.Context) (wallet.Balance, error)
	Settle(ctx context.Context) ([]wallet.Settlement, error)
	Cheques() ([]wallet.Record, error)
	Chain() wallet.Chain
}

// MarketConfig is the [engine.market] section: the bandwidth market's
// terms (docs/PROTOCOL.md §6, §8). Prices and strategies are set per
// torrent and globally with Engine.SetMarket (and the CLI flags).
type MarketConfig struct {
	// Round is the seller's round length ("10s"; 1s…10m).
	Round time.Duration `toml:"round"`
	// FreeShare is the fraction of upload kept for peers without an award
	// (legacy peers, losing bidders), in (0, 1].
	FreeShare float64 `toml:"free_share"`
	// Slots is the number of paid slots per round.
	Slots int `toml:"slots"`
	// CreditMiB and CapMiB are the initial and maximum credit, in MiB of
	// paid service.
	CreditMiB int64 `toml:"credit_mib"`
	CapMiB    int64 `toml:"cap_mib"`
	// Tolerance is how far past its credit a buyer's debt may go before it
	// is disconnected, as a fraction (0.25 = 25 %).
	Tolerance float64 `toml:"tolerance"`
	// SettleThreshold settles received cheques once their unsettled total
	// reaches this many base units ("" or "0": only on shutdown and on
	// command).
	SettleThreshold string `toml:"settle_threshold"`
}

// DefaultMarketConfig returns the protocol's defaults.
func DefaultMarketConfig() MarketConfig {
	d := market.DefaultConfig()
	return MarketConfig{Round: d.Round, FreeShare: d.FreeShare, Slots: d.Slots,
		CreditMiB: int64(d.Credit >> 20), CapMiB: int64(d.Cap >> 20), Tolerance: d.Tolerance}
}

func (c MarketConfig) market() market.Config {
	d := market.DefaultConfig()
	d.Round, d.FreeShare, d.Slots, d.Tolerance = c.Round, c.FreeShare, c.Slots, c.Tolerance
	d.Credit, d.Cap = uint64(max(c.CreditMiB, 0))<<20, uint64(max(c.CapMiB, 0))<<20
	return d
}

// Validate reports the first invalid value, naming its key.
func (c MarketConfig) Validate() error {
	if err := c.market().Validate(); err != nil {
		return fmt.Errorf("market: %w", err)
	}
	if _, err := c.threshold(); err != nil {
		return fmt.Errorf("market: settle_threshold %q: want base units, e.g. \"1000000000000000000\"", c.SettleThreshold)
	}
	return nil
}

func (c MarketConfig) threshold() (wallet.Amount, error) {
	if c.SettleThreshold == "" {
		return wallet.Amount{}, nil
	}
	return wallet.ParseAmount(c.SettleThreshold, 0)
}

// WithWallet turns the bandwidth market on: the engine advertises btt_bid,
// pays and earns with w. Without it the engine is a plain BitTorrent
// client.
func WithWallet(w Wallet) Option { return func(o *options) { o.wallet = w } }

// marketEvents bounds the queue between anacrolix callbacks and the loop.
// When it is full, events are dropped (a lost HELLO turns the extension
// off for the connection after its timeout; a lost CHEQUE is made good by
// the next, cumulative one).
const marketEvents = 4096

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

// marketState is the engine's market. Owned by the loop.
type marketState struct {
	w       Wallet
	m       *market.Market
	sh      *shaper.Shaper
	evC     chan mevent
	dropped atomic.Int64 // events lost to a full queue
	peers   map[*torrent.PeerConn]*mpeer
	useful  sync.Map // *torrent.Peer → *tripwire of useful bytes received
	tors    map[InfoHash]*market.Auction
	// publishers are the addresses we dialed publisher peers at, by
	// torrent: a tip between two seeds dials them again (commerce.go).
	publishers map[InfoHash][]string
	balance    wallet.Amount
	unsett     wallet.Amount
	unsBy      map[wallet.Address]wallet.Amount // unsettled received, by payer
	balErr     string
	balAt      time.Time
	balBusy    bool
	settled    time.Time
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
	return &marketState{
		w:     w,
		m:     m,
		sh:    shaper.New(upload),
		evC:   make(chan mevent, marketEvents),
		peers: make(map[*torrent.PeerConn]*mpeer),
		tors:  make(map[InfoHash]*market.Auction),

		publishers: make(map[InfoHash][]string),
	}, nil
}

// installMarket adds the BEP 10 hooks to cb (after peerTable.install) and
// attaches a shaper flow to every new connection.
func (e *Engine) installMarket(cb *torrent.Callbacks) {
	mk := e.mkt
	if mk == nil {
		return
	}
	send := func(ev mevent) {
		select {
		case mk.evC <- ev:
		default:
			mk.dropped.Add(1)
		}
	}
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
		send(mevent{kind: mevMessage, pc: ev.PeerConn, payload: slices.Clone(ev.Payload), at: time.Now(),
			pos: mk.usefulOf(&ev.PeerConn.Peer)})
	})
	prevClosed := cb.PeerConnClosed
	cb.PeerConnClosed = func(pc *torrent.PeerConn) {
		if prevClosed != nil {
			prevClosed(pc)
		}
		e.presentTries.Delete(pc)
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

// marketEventC is the loop's channel of market events (nil without a
// market, which blocks forever in a select).
func (e *Engine) marketEventC() chan mevent {
	if e.mkt == nil {
		return nil
	}
	return e.mkt.evC
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
		ih := mustHash(ts.rec.InfoHash)
		mt := mk.torrent(ih)
		pc := ev.pc
		mp := &mpeer{ih: ih, key: pc.RemoteAddr.String(), conn: e.connOf(pc), since: time.Now()}
		mp.p = mt.NewSession(mp.key, [20]byte(e.cl.PeerID()), [20]byte(pc.PeerID), mp.since)
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
	for range cap(e.mkt.evC) {
		select {
		case ev := <-e.mkt.evC:
			e.marketEvent(ev)
		default:
			return
		}
	}
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

// marketSettings resolves a torrent's effective market settings: its own,
// then the engine's defaults. Without a seller strategy a torrent sells
// (uniform) only when an ask is set; without a buyer strategy it buys
// (fixed) only when a bid is set.
func (e *Engine) marketSettings(ts *tstate) (sell strategy.Seller, ask wallet.Amount, buy strategy.Buyer, bid, budget wallet.Amount) {
	r := ts.rec.Market
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	askS, bidS := pick(r.Ask, e.market.Ask), pick(r.Bid, e.market.Bid)
	ask, bid = parseStoredAmount(askS), parseStoredAmount(bidS)
	budget = parseStoredAmount(pick(r.Budget, e.market.Budget))
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
	var err error
	if sell, err = strategy.NewSeller(sname); err != nil {
		sell = strategy.Free{}
	}
	if buy, err = strategy.NewBuyer(bname); err != nil {
		buy = strategy.None{}
	}
	return sell, ask, buy, bid, budget
}

// marketTick runs the market step of one torrent: counters, timeouts,
// asks, bids, the round when due, shaper weights, cut buyers, and the
// writes. It fills the torrent's snapshot market fields.
func (e *Engine) marketTick(ts *tstate, out *Torrent, now time.Time) {
	mk := e.mkt
	if mk == nil || ts.t == nil {
		return
	}
	ih := mustHash(ts.rec.InfoHash)
	mt := mk.torrent(ih)
	if mt.Terms() == nil && ts.terms != nil {
		mt.SetTerms(marketTerms(ts.terms), now) // terms are part of the infohash: set once
	}
	sell, ask, buy, bid, budget := e.marketSettings(ts)
	_, selling := sell.(strategy.Free)
	selling = !selling
	cfg := mk.m.Config()
	var askMsg *bttbid.Ask
	if selling {
		askMsg = &bttbid.Ask{Price: ask, RoundLength: cfg.Round, Credit: cfg.Credit, Cap: cfg.Cap, Slots: uint32(cfg.Slots)}
	}
	pcs := ts.t.PeerConns()
	type live struct {
		pc *torrent.PeerConn
		mp *mpeer
		st torrent.PeerStats
	}
	lives := make([]live, 0, len(pcs))
	var peers []*market.Session
	complete := out.Complete()
	nearlyDone := !complete && out.Size > 0 && out.Size-out.Done <= 4*out.PieceLength
	for _, pc := range pcs {
		mp := mk.peers[pc]
		if mp == nil {
			continue
		}
		st := pc.Stats()
		lives = append(lives, live{pc, mp, st})
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
	mt.Bid(buy, market.BuyerInput{Now: now, MaxPrice: bid, Balance: mk.balance, Budget: budget,
		Remaining: max(out.Size-out.Done, 0), DownRates: rates}, peers)

	if mt.Due(now) {
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
		capacity := mk.sh.Rate()
		res := mt.RunRound(now, sell, ask, capacity, cands)
		// The upload floor (PROTOCOL.md §10): a READY peer's share never
		// drops below uploadFloor, so btt_bid messages queued behind its
		// piece data wait a bounded time.
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
	for _, l := range lives {
		e.flushPeer(l.pc, l.mp)
		e.armMeters(l.pc, l.mp)
		if l.mp.p.Cut() && l.mp.conn != nil {
			// Past the credit tolerance (PROTOCOL.md §8.3): disconnect.
			_ = l.mp.conn.Close()
		}
		e.dropMutuallyComplete(l.pc, l.mp, complete, out.NumPieces, now)
	}
	e.fillMarket(mt, out, lives2peers(lives, func(l live) (string, *mpeer) { return l.mp.key, l.mp }), selling)
	fillCommerce(mt, out, now)
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

func lives2peers[T any](ls []T, f func(T) (string, *mpeer)) map[string]*mpeer {
	m := make(map[string]*mpeer, len(ls))
	for _, l := range ls {
		k, mp := f(l)
		m[k] = mp
	}
	return m
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

// fillMarket copies the market state into the torrent's snapshot.
func (e *Engine) fillMarket(mt *market.Auction, out *Torrent, peers map[string]*mpeer, selling bool) {
	out.Market.Price = mt.Price
	if !selling {
		// A torrent we only buy: the highest price a seller awarding us
		// charges now.
		out.Market.Price = wallet.Amount{}
		for _, mp := range peers {
			if v := mp.p.View(); v.AwardedU && v.Price.Cmp(out.Market.Price) > 0 {
				out.Market.Price = v.Price
			}
		}
	}
	out.Market.Unsettled = e.mkt.torrentUnsettled(out.InfoHash)
	out.Market.Spent, out.Market.Earned = mt.Spent, mt.Earned
	out.Market.Sold, out.Market.Bought = mt.Sold, mt.Bought
	for _, h := range mt.History {
		out.Market.History = append(out.Market.History, MarketPoint{Time: h.Time, Price: h.Price, Earned: h.Earned, Spent: h.Spent})
	}
	for i := range out.Peers {
		mp := peers[string(out.Peers[i].Key)]
		if mp == nil {
			continue
		}
		v := mp.p.View()
		pm := PeerMarket{
			Enabled: v.State == market.Ready, TheirBid: v.TheirBid, TheirAsk: v.TheirAsk, OurBid: v.OurBid,
			OurAsk: v.OurAsk, Price: v.Price, Awarded: v.Awarded, AwardedU: v.AwardedU, Share: max(v.Share, 0),
			Bought: v.Bought, Sold: v.Sold, Spent: v.Spent, Earned: v.Earned, Debt: v.Debt, Credit: v.Credit, Err: v.Err,
		}
		if v.State == market.Ready {
			pm.Address = v.Address.String()
		}
		out.Peers[i].Market = pm
	}
}

// marketTotals fills the snapshot's wallet status and money totals, and
// refreshes the balance (in the background) every few seconds.
func (e *Engine) marketTotals(s *Snapshot, now time.Time) {
	mk := e.mkt
	if mk == nil {
		return
	}
	if mk.sh.Rate() != e.limits.Up {
		mk.sh.SetRate(e.limits.Up) // the shaper divides the global upload limit
	}
	for _, t := range s.Torrents {
		s.Totals.Spent = addAmount(s.Totals.Spent, t.Market.Spent)
		s.Totals.Earned = addAmount(s.Totals.Earned, t.Market.Earned)
	}
	s.Totals.Unsettled = mk.unsett
	ch := mk.w.Chain()
	s.Wallet = WalletStatus{Address: mk.w.Address().String(), Chain: ch.Name(), Token: "BTT", Decimals: 18,
		Balance: mk.balance, Unsettled: mk.unsett, Err: mk.balErr}
	if mk.balBusy || now.Sub(mk.balAt) < balanceEvery {
		return
	}
	mk.balBusy = true
	threshold, _ := e.cfg.Market.threshold()
	w := mk.w
	e.g.Go(func() error {
		ctx, cancel := context.WithTimeout(e.gctx, 30*time.Second)
		defer cancel()
		// Settle when what received cheques promise reaches the
		// threshold (judged on the cheque book as it is now, not on the
		// last refresh).
		uns, by, uerr := unsettled(w)
		if uerr == nil && !threshold.IsZero() && uns.Cmp(threshold) >= 0 {
			if _, err := w.Settle(ctx); err != nil {
				e.log.Warn("settlement failed", "err", err)
			}
			uns, by, uerr = unsettled(w)
		}
		b, berr := w.Balance(ctx)
		e.post(func() {
			mk.balBusy, mk.balAt = false, time.Now()
			mk.balErr = ""
			if err := errors.Join(berr, uerr); err != nil {
				mk.balErr = err.Error()
			}
			if berr == nil {
				mk.balance = b.Token
			}
			if uerr == nil {
				mk.unsett, mk.unsBy = uns, by
			}
		})
		return nil
	})
}

// uploadFloor is the least upload rate, bytes/s, the shaper's weights
// give a connection to a READY btt_bid peer (when the capacity allows):
// with anacrolix's write buffer (at most ~48 KiB of piece messages ahead
// of an extension message) it bounds a control message's wait to about
// 0.75 s plus one shaper quantum per other connection.
const uploadFloor = 64 << 10

// balanceEvery is how often the wallet balance and unsettled total are
// refreshed.
const balanceEvery = 3 * time.Second

// unsettled sums what received cheques promise beyond what was settled,
// in total and by payer.
func unsettled(w Wallet) (wallet.Amount, map[wallet.Address]wallet.Amount, error) {
	rs, err := w.Cheques()
	if err != nil {
		return wallet.Amount{}, nil, err
	}
	var sum wallet.Amount
	by := make(map[wallet.Address]wallet.Amount)
	for _, r := range rs {
		if r.Direction == wallet.Received {
			sum = addAmount(sum, r.Unsettled())
			by[r.Counterparty] = addAmount(by[r.Counterparty], r.Unsettled())
		}
	}
	return sum, by, nil
}

// torrentUnsettled is the part of the unsettled received cheques that
// pays for torrent ih: a payer's unsettled amount is split between the
// torrents it paid this session in proportion to what each earned from
// it (cheques are cumulative per payer, not per torrent), and is never
// more than the torrent earned from it. What was left unsettled by an
// earlier session belongs to no torrent (it is in the totals only).
func (mk *marketState) torrentUnsettled(ih InfoHash) wallet.Amount {
	mt := mk.tors[ih]
	if mt == nil {
		return wallet.Amount{}
	}
	var sum wallet.Amount
	for addr, earned := range mt.EarnedFrom {
		u := mk.unsBy[addr]
		if u.IsZero() || earned.IsZero() {
			continue
		}
		var all wallet.Amount
		for _, t := range mk.tors {
			all = addAmount(all, t.EarnedFrom[addr])
		}
		part := new(big.Int).Mul(u.Big(), earned.Big())
		part.Quo(part, all.Big())
		a, err := wallet.AmountFromBig(part)
		if err != nil {
			continue
		}
		sum = addAmount(sum, a.Min(earned))
	}
	return sum
}

func addAmount(a, b wallet.Amount) wallet.Amount {
	s, err := a.Add(b)
	if err != nil {
		return a
	}
	return s
}

// marketShutdown pays what we owe and settles, before the client closes
// (Run's shutdown order: money first). It runs after the loop returned.
func (e *Engine) marketShutdown() {
	mk := e.mkt
	if mk == nil {
		return
	}
	for pc, mp := range mk.peers {
		mp.p.PayAll()
		e.flushPeer(pc, mp)
	}
	if err := mk.m.PayAll(); err != nil {
		e.log.Warn("final cheques", "err", err)
	}
	// Give the final cheques a moment to be acknowledged, so the sellers
	// hold them before the connections close (a lost one is resent at the
	// next contact, PROTOCOL.md §8.5).
	deadline := time.After(receiptWait)
	for waiting := true; waiting; {
		waiting = false
		for _, mp := range mk.peers {
			waiting = waiting || mp.p.AwaitingReceipt()
		}
		if !waiting {
			break
		}
		select {
		case ev := <-mk.evC:
			e.marketEvent(ev)
		case <-deadline:
			waiting = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := mk.w.Settle(ctx); err != nil {
		e.log.Warn("settlement on shutdown failed", "err", err)
	}
	_ = mk.sh.Close()
}

// receiptWait bounds how long shutdown waits for RECEIPTs of final cheques.
const receiptWait = 2 * time.Second

// settle redeems unsettled cheques now (Engine.Settle).
func (e *Engine) settle(ctx context.Context) error {
	if e.mkt == nil {
		return ErrNoWallet
	}
	ss, err := e.mkt.w.Settle(ctx)
	if err != nil {
		return fmt.Errorf("cannot settle: %w", err)
	}
	var errs []error
	for _, s := range ss {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("cannot settle with %s: %w", s.Record.Counterparty, s.Err))
		}
	}
	return errors.Join(errs...)
}
