package market

import (
	"time"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// historyLen bounds Auction.History.
const historyLen = 120

// Auction is one torrent's market: its rounds, clearing price and totals.
type Auction struct {
	m        *Market
	infoHash [20]byte
	round    uint64
	next     time.Time
	last     time.Time // when the latest round ran
	// lastAwarded is how many connections the latest round awarded.
	lastAwarded int
	// early: a bid at or above the ask arrived; a round runs as soon as
	// none that awarded anyone ran in the last EarlyGap (§6.1).
	early bool
	// budget is the most the torrent may spend (zero: no limit), from
	// the latest Bid.
	budget wallet.Amount
	// Price is the clearing price of the latest round.
	Price wallet.Amount
	// Spent and Earned are the cheque value issued and accepted for this
	// torrent this session.
	Spent, Earned wallet.Amount
	// EarnedFrom splits Earned by payer address (the cheque book keeps
	// one cumulative total per payer, across torrents).
	EarnedFrom map[wallet.Address]wallet.Amount
	// Sold and Bought are the bytes served and received while awarded.
	Sold, Bought int64
	// History holds the clearing price after each round, oldest first.
	History []Point
	// Fallbacks counts rounds where the strategy's answer failed
	// Allocation.Check and Free was used instead.
	Fallbacks int
	c         commerce // §16 state (commerce.go)
}

// Point is one round's outcome.
type Point struct {
	Time   time.Time
	Round  uint64
	Price  wallet.Amount
	Spent  wallet.Amount
	Earned wallet.Amount
}

// NewAuction returns the market state of a torrent.
func (m *Market) NewAuction(infoHash [20]byte) *Auction {
	t := &Auction{m: m, infoHash: infoHash}
	m.auctions = append(m.auctions, t)
	return t
}

// NewSession returns the state of a new connection of t. local and remote
// are the BitTorrent peer IDs of the two sides; since is when it
// connected. It starts Legacy: call Start when both sides advertise
// btt_bid.
func (t *Auction) NewSession(key string, local, remote [20]byte, since time.Time) *Session {
	return &Session{m: t.m, t: t, key: key, infoHash: t.infoHash, local: local, remote: remote, since: since, sell: sellSide{weight: -1},
		nonce: newNonce()}
}

// Round returns the number of the latest round.
func (t *Auction) Round() uint64 { return t.round }

// Due reports whether a round should run at now: the round period has
// passed, or a new bid asks for an early round and the latest round
// either awarded nobody (nothing to disturb: the first bid, or a bid
// whose payer's cover was still being read, is served at the next tick)
// or ran at least EarlyGap ago.
func (t *Auction) Due(now time.Time) bool {
	return !now.Before(t.next) || t.early && (t.lastAwarded == 0 || now.Sub(t.last) >= EarlyGap)
}

// EarlyGap is the least time between a round that awarded someone and
// one a new bid runs early (§6.1).
const EarlyGap = time.Second

// Candidate is one connection as the seller's round sees it.
type Candidate struct {
	Key        string
	Session    *Session // nil for a connection without market state
	Interested bool     // the peer is interested in our pieces
	UpRate     int64
	DownRate   int64
	Since      time.Time
}

// RoundResult is what a round decided.
type RoundResult struct {
	// Weights are the upload shares of the interested candidates, by key.
	Weights map[string]float64
	Price   wallet.Amount
	Awarded int
}

// RunRound runs one seller round at now with seller s, the reserve price,
// the upload capacity (bytes/s, 0 = unlimited) and the connections. It
// queues AWARD and OUTBID on the market peers (PROTOCOL.md §6.1) and
// returns every interested candidate's share. A strategy whose answer
// fails Allocation.Check is replaced by Free for the round, so legacy
// peers never lose their share.
func (t *Auction) RunRound(now time.Time, s strategy.Seller, reserve wallet.Amount, capacity int64, cands []Candidate) RoundResult {
	t.round++
	t.next, t.last, t.early = now.Add(t.m.cfg.Round), now, false
	r := strategy.SellerRound{
		Now:       now,
		Round:     t.round,
		Capacity:  capacity,
		Reserve:   reserve.U256(),
		Slots:     t.m.cfg.Slots,
		FreeShare: t.m.cfg.FreeShare,
	}
	var idx []int // index in cands of each r.Peers entry
	for i, c := range cands {
		if !c.Interested {
			continue
		}
		sp := strategy.SellerPeer{ID: c.Key, UpRate: c.UpRate, DownRate: c.DownRate, Since: c.Since}
		if p := c.Session; p != nil && p.Selling() {
			if !p.sell.suspended && !p.sell.cut && !p.buy.badPiece && p.eligible(p.sell.bid) {
				sp.Market = true
				sp.Bid = p.sell.bid.U256()
			} else if a, err := t.m.seller(p.addr); err == nil && a.cover.at.IsZero() && !p.sell.bid.IsZero() {
				t.early = true // its cover is being read: look again in a second
			}
			sp.Awarded = p.sell.awarded
			sp.RecentPaid = p.sell.sold
		}
		r.Peers = append(r.Peers, sp)
		idx = append(idx, i)
	}
	var alloc strategy.Allocation
	if s != nil {
		alloc = safeAllocate(s, r)
	}
	if s == nil || alloc.Check(r) != nil {
		if s != nil {
			t.Fallbacks++
		}
		alloc = strategy.Free{}.Allocate(r)
	}
	res := RoundResult{Weights: make(map[string]float64, len(idx)), Price: wallet.AmountFromU256(alloc.Price)}
	decided := make(map[int]strategy.Decision, len(idx))
	for n, i := range idx {
		decided[i] = alloc.Decisions[n]
		res.Weights[cands[i].Key] = alloc.Decisions[n].Weight
	}
	for i, c := range cands {
		p := c.Session
		if p == nil || !p.Selling() {
			continue
		}
		d, ok := decided[i]
		if ok {
			p.sell.weight = d.Weight
		}
		p.answerRound(t.round, d, ok)
		if p.sell.awarded {
			res.Awarded++
		}
	}
	t.Price, t.lastAwarded = res.Price, res.Awarded
	t.History = append(t.History, Point{Time: now, Round: t.round, Price: t.Price, Spent: t.Spent, Earned: t.Earned})
	if len(t.History) > historyLen {
		t.History = append([]Point(nil), t.History[len(t.History)-historyLen:]...)
	}
	return res
}

// safeAllocate calls the strategy and turns a panic into an empty
// (failing) allocation.
func safeAllocate(s strategy.Seller, r strategy.SellerRound) (a strategy.Allocation) {
	defer func() {
		if recover() != nil {
			a = strategy.Allocation{}
		}
	}()
	return s.Allocate(r)
}

// BuyerInput is what the torrent's buyer step needs besides the peers.
type BuyerInput struct {
	Now       time.Time
	MaxPrice  wallet.Amount
	Balance   wallet.Amount
	Budget    wallet.Amount
	Remaining int64
	// DownRates are the recent download rates by peer key.
	DownRates map[string]int64
}

// Bid runs the buyer strategy b over the selling peers and sends changed
// bids (at most one BID per peer per BidInterval). With b nil or
// nothing left to download every bid is withdrawn.
func (t *Auction) Bid(b strategy.Buyer, in BuyerInput, peers []*Session) {
	t.budget = in.Budget
	r := strategy.BuyerRound{
		Now:       in.Now,
		MaxPrice:  in.MaxPrice.U256(),
		Balance:   in.Balance.U256(),
		Budget:    in.Budget.U256(),
		Spent:     t.Spent.U256(),
		Remaining: in.Remaining,
	}
	byKey := make(map[string]*Session, len(peers))
	for _, p := range peers {
		if p.state != Ready || p.buy.theirAsk == nil || p.buy.badPiece {
			continue
		}
		byKey[p.key] = p
		r.Sellers = append(r.Sellers, strategy.SellerView{
			ID: p.key, Ask: p.buy.theirAsk.Price.U256(), Awarded: p.buy.awardedUs, Outbid: p.buy.outbidUs,
			Price: p.buy.ourPrice.U256(), LastBid: p.buy.ourBid.U256(), DownRate: in.DownRates[p.key],
		})
	}
	var bids []strategy.Bid
	if b != nil && in.Remaining > 0 {
		bids = r.Sanitize(safeBids(b, r))
	}
	want := make(map[string]wallet.Amount, len(bids))
	for _, bd := range bids {
		want[bd.ID] = wallet.AmountFromU256(bd.Price)
	}
	for key, p := range byKey {
		p.SetBid(in.Now, want[key])
	}
}

func safeBids(b strategy.Buyer, r strategy.BuyerRound) (out []strategy.Bid) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	return b.Bids(r)
}
