package strategy

import (
	"time"

	"github.com/holiman/uint256"
)

// Buyer decides what a torrent bids to each seller.
//
// The engine calls Bids once per round (10 s by default) for each torrent
// it downloads with the market on, from its event loop, and again at once
// after an AWARD or OUTBID changes what it knows or the user changes the
// price, budget or strategy. Bids must return quickly (well under a
// millisecond for a hundred sellers): the engine's loop waits for it. It
// must not block, do I/O, read the clock (use r.Now), start goroutines,
// keep or modify r.Sellers after returning, or panic. The engine passes
// the result through BuyerRound.Sanitize, so it never sends a bid above
// r.MaxPrice or to a seller not in r.Sellers, whatever Bids returns.
type Buyer interface {
	Bids(r BuyerRound) []Bid
}

// BuyerFunc adapts a function to Buyer.
type BuyerFunc func(r BuyerRound) []Bid

// Bids calls f(r).
func (f BuyerFunc) Bids(r BuyerRound) []Bid { return f(r) }

// BuyerRound is what a Buyer sees.
type BuyerRound struct {
	Now time.Time
	// MaxPrice is the user's price for this torrent, base units per MiB:
	// the most any bid may be. Zero means the user set none: built-ins
	// then bid nothing.
	MaxPrice uint256.Int
	// Balance is the wallet's spendable balance, base units.
	Balance uint256.Int
	// Budget is the most this torrent may spend in all, base units; zero
	// means no budget.
	Budget uint256.Int
	// Spent is what this torrent has spent so far (cheques issued).
	Spent uint256.Int
	// Remaining is the bytes still wanted; zero when complete.
	Remaining int64
	// Sellers are the connected peers that sell: verified HELLO and an ASK.
	Sellers []SellerView
}

// SellerView is what the buyer knows of one seller.
type SellerView struct {
	ID string // the engine's key for the peer (its address)
	// Ask is the reserve price per MiB from its latest ASK.
	Ask uint256.Int
	// Awarded is true while an AWARD is in force; Outbid after an OUTBID.
	// Both are false before the seller has answered a bid.
	Awarded, Outbid bool
	// Price is the clearing price per MiB of the latest AWARD or OUTBID.
	Price uint256.Int
	// LastBid is our bid in force with it; zero if none.
	LastBid  uint256.Int
	DownRate int64 // bytes/s we have recently received from it
}

// Bid is a buyer's decision for one seller. Sellers without a Bid, or with
// a zero Price, get no bid (a bid in force is withdrawn).
type Bid struct {
	ID    string
	Price uint256.Int // base units per MiB
}

// Sanitize returns the bids the engine may send: at most one per seller
// of r.Sellers (the last one given), in the order of r.Sellers, each
// capped at r.MaxPrice; zero prices and unknown sellers are dropped.
func (r BuyerRound) Sanitize(bids []Bid) []Bid {
	last := make(map[string]uint256.Int, len(bids))
	for _, b := range bids {
		last[b.ID] = b.Price
	}
	var out []Bid
	for _, s := range r.Sellers {
		p, ok := last[s.ID]
		if !ok {
			continue
		}
		delete(last, s.ID) // a seller listed twice is bid once
		if p = minU(p, r.MaxPrice); !p.IsZero() {
			out = append(out, Bid{ID: s.ID, Price: p})
		}
	}
	return out
}

// wants reports whether the built-ins bid at all: something to download,
// money to pay with, and a price set by the user.
func wants(r *BuyerRound) bool {
	return r.Remaining > 0 && !r.Balance.IsZero() && !r.MaxPrice.IsZero()
}

// Fixed bids the user's price, r.MaxPrice, to every seller whose ask it
// meets.
type Fixed struct{}

// Bids implements Buyer.
func (Fixed) Bids(r BuyerRound) []Bid {
	if !wants(&r) {
		return nil
	}
	var bids []Bid
	for _, s := range r.Sellers {
		if !s.Ask.Gt(&r.MaxPrice) {
			bids = append(bids, Bid{ID: s.ID, Price: r.MaxPrice})
		}
	}
	return bids
}

// Budget spreads what it may still spend, the lesser of the balance and
// the budget left (Budget − Spent; the balance alone without a budget),
// over the remaining bytes: it bids that price per MiB, capped by
// r.MaxPrice, to every seller whose ask it meets. Paying at most its bid
// for at most the remaining bytes, the torrent cannot overspend.
type Budget struct{}

// Bids implements Buyer.
func (Budget) Bids(r BuyerRound) []Bid {
	if !wants(&r) {
		return nil
	}
	spendable := r.Balance
	if !r.Budget.IsZero() {
		var left uint256.Int
		if _, under := left.SubOverflow(&r.Budget, &r.Spent); under {
			return nil
		}
		spendable = minU(spendable, left)
	}
	var price uint256.Int
	if _, over := price.MulDivOverflow(&spendable, uint256.NewInt(MiB), uint256.NewInt(uint64(r.Remaining))); over {
		price = r.MaxPrice
	}
	price = minU(price, r.MaxPrice)
	if price.IsZero() {
		return nil
	}
	var bids []Bid
	for _, s := range r.Sellers {
		if !s.Ask.Gt(&price) {
			bids = append(bids, Bid{ID: s.ID, Price: price})
		}
	}
	return bids
}

// DefaultAdaptiveStep is Adaptive's default StepPercent.
const DefaultAdaptiveStep = 10

// Adaptive discovers prices. To a seller that has not answered yet it bids
// the ask; when outbid it bids StepPercent above the clearing price; while
// awarded it backs off by StepPercent of its bid a round, but not below
// StepPercent above the clearing price (and never raises its bid). A step is at least one base unit;
// bids never exceed r.MaxPrice nor fall below the ask, and sellers asking
// more than r.MaxPrice get none.
type Adaptive struct {
	StepPercent uint64 // DefaultAdaptiveStep when zero
}

// Bids implements Buyer.
func (a Adaptive) Bids(r BuyerRound) []Bid {
	if !wants(&r) {
		return nil
	}
	pct := a.StepPercent
	if pct == 0 {
		pct = DefaultAdaptiveStep
	}
	step := func(x uint256.Int) uint256.Int {
		var s uint256.Int
		s.MulDivOverflow(&x, uint256.NewInt(pct), uint256.NewInt(100))
		if s.IsZero() {
			s.SetOne()
		}
		return s
	}
	above := func(x uint256.Int) uint256.Int { // x plus a step, saturating
		s := step(x)
		if _, over := s.AddOverflow(&x, &s); over {
			s.SetAllOne()
		}
		return s
	}
	var bids []Bid
	for _, s := range r.Sellers {
		if s.Ask.Gt(&r.MaxPrice) {
			continue
		}
		var p uint256.Int
		switch {
		case s.Outbid:
			p = above(s.Price)
		case s.Awarded && !s.LastBid.IsZero():
			down, d := s.LastBid, step(s.LastBid)
			if _, under := down.SubOverflow(&down, &d); under {
				down.Clear()
			}
			p = minU(maxU(down, above(s.Price)), s.LastBid)
		default:
			p = s.Ask
			if p.IsZero() {
				p.SetOne()
			}
		}
		p = maxU(minU(p, r.MaxPrice), s.Ask)
		if !p.IsZero() {
			bids = append(bids, Bid{ID: s.ID, Price: p})
		}
	}
	return bids
}

// None never bids: plain BitTorrent downloading.
type None struct{}

// Bids implements Buyer.
func (None) Bids(BuyerRound) []Bid { return nil }
