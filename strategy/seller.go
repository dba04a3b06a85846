package strategy

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/holiman/uint256"
)

// Seller decides a torrent's paid service.
//
// The engine calls Allocate once per round (10 s by default) for each
// torrent it uploads, from its event loop, and again at once when the
// user switches strategy. Allocate must return quickly (well under a
// millisecond for a hundred peers): the engine's loop waits for it. It
// must not block, do I/O, read the clock (use r.Now), start goroutines,
// keep or modify r.Peers after returning, or panic. The engine checks the
// result with Allocation.Check and falls back to Free when it fails, so a
// faulty strategy costs its user revenue, never a legacy peer its share.
type Seller interface {
	Allocate(r SellerRound) Allocation
}

// SellerFunc adapts a function to Seller.
type SellerFunc func(r SellerRound) Allocation

// Allocate calls f(r).
func (f SellerFunc) Allocate(r SellerRound) Allocation { return f(r) }

// SellerRound is what a Seller sees at the start of a round.
type SellerRound struct {
	Now   time.Time
	Round uint64 // the seller's round number, increasing
	// Peers are the peers interested in our pieces, legacy ones included.
	Peers []SellerPeer
	// Capacity is the upload capacity in bytes per second; 0 = unlimited.
	Capacity int64
	// Reserve is the ask: the lowest price per MiB at which we sell.
	Reserve uint256.Int
	// Slots is how many peers may hold an award at once.
	Slots int
	// FreeShare is the fraction of upload, in [0, 1], kept for peers
	// without an award (legacy peers, losing bidders, optimistic unchokes)
	// whenever there are any.
	FreeShare float64
}

// SellerPeer is one interested peer.
type SellerPeer struct {
	ID string // the engine's key for the peer (its address)
	// Market is true when the peer speaks btt_bid (verified HELLO) and is
	// in good standing: its debt is within its credit. Only such peers
	// may be awarded.
	Market bool
	// Bid is its standing bid, base units per MiB; zero = no bid.
	Bid uint256.Int
	// Awarded is true when it held an award in the previous round.
	Awarded bool
	// RecentPaid is the bytes we served it while awarded over the last
	// few rounds (the engine's window); zero for new peers.
	RecentPaid int64
	UpRate     int64     // bytes/s we have recently sent it
	DownRate   int64     // bytes/s it has recently sent us
	Since      time.Time // when it connected
}

// Allocation is a Seller's decision for one round.
type Allocation struct {
	// Decisions has one entry per SellerRound.Peers, in the same order.
	Decisions []Decision
	// Price is the round's clearing price per MiB (shown to the user).
	Price uint256.Int
}

// Decision is the round's outcome for one peer.
type Decision struct {
	// Awarded grants paid service this round: the engine sends AWARD.
	Awarded bool
	// Price is, when Awarded, the price per MiB the peer pays (never above
	// its bid); otherwise, for a bidder, the price it would have to beat,
	// sent in OUTBID. Ignored for peers without a bid.
	Price uint256.Int
	// Weight is the peer's share of upload, in [0, 1]. Weights sum to 1
	// (or 0 when there are no peers); the shaper lends unused share to
	// the others.
	Weight float64
}

// weightTolerance absorbs float rounding when checking weight sums.
const weightTolerance = 1e-9

// Check reports whether a is a valid answer to r: one decision per peer,
// awards only to market peers with a bid no lower than both the price and
// the reserve, at most r.Slots awards, weights in [0, 1] summing to 1,
// and, when some peers hold no award, at least r.FreeShare of the upload
// for them together (never starve legacy peers).
func (a Allocation) Check(r SellerRound) error {
	if len(a.Decisions) != len(r.Peers) {
		return fmt.Errorf("%d decisions for %d peers", len(a.Decisions), len(r.Peers))
	}
	var sum, free float64
	awards, unawarded := 0, 0
	for i, d := range a.Decisions {
		p := r.Peers[i]
		if math.IsNaN(d.Weight) || d.Weight < 0 || d.Weight > 1 {
			return fmt.Errorf("peer %s: weight %v outside [0, 1]", p.ID, d.Weight)
		}
		sum += d.Weight
		if !d.Awarded {
			unawarded++
			free += d.Weight
			continue
		}
		awards++
		switch {
		case !p.Market:
			return fmt.Errorf("peer %s: awarded without btt_bid", p.ID)
		case p.Bid.IsZero():
			return fmt.Errorf("peer %s: awarded without a bid", p.ID)
		case d.Price.Gt(&p.Bid):
			return fmt.Errorf("peer %s: price %s above its bid %s", p.ID, d.Price.Dec(), p.Bid.Dec())
		case d.Price.Lt(&r.Reserve):
			return fmt.Errorf("peer %s: price %s below the reserve %s", p.ID, d.Price.Dec(), r.Reserve.Dec())
		}
	}
	if awards > max(r.Slots, 0) {
		return fmt.Errorf("%d awards for %d slots", awards, r.Slots)
	}
	if len(r.Peers) > 0 && math.Abs(sum-1) > weightTolerance {
		return fmt.Errorf("weights sum to %v, want 1", sum)
	}
	if unawarded > 0 && awards > 0 && free < min(r.FreeShare, 1)-weightTolerance {
		return fmt.Errorf("peers without an award share %v of upload, below the free share %v", free, r.FreeShare)
	}
	return nil
}

// eligible reports whether p may win: a market peer bidding at least the
// reserve.
func eligible(p *SellerPeer, reserve *uint256.Int) bool {
	return p.Market && !p.Bid.IsZero() && !p.Bid.Lt(reserve)
}

// split sets the weights: awarded peers share paid (each by its entry in
// paidWeights, which need not be normalised), the others share the rest
// equally. With nobody on one side, the other side gets everything.
func split(r SellerRound, ds []Decision, paidWeights []float64) {
	awards, total := 0, 0.0
	for i, d := range ds {
		if d.Awarded {
			awards++
			total += paidWeights[i]
		}
	}
	others := len(ds) - awards
	paid := 1 - min(max(r.FreeShare, 0), 1)
	switch {
	case awards == 0:
		paid = 0
	case others == 0:
		paid = 1
	}
	for i := range ds {
		if ds[i].Awarded {
			if total > 0 {
				ds[i].Weight = paid * paidWeights[i] / total
			} else {
				ds[i].Weight = paid / float64(awards)
			}
		} else {
			ds[i].Weight = (1 - paid) / float64(others)
		}
	}
}

// Uniform is a uniform-price auction for r.Slots paid slots: the highest
// eligible bids (market peers bidding at least the reserve) win, and every
// winner pays the same clearing price, the highest losing eligible bid or
// the reserve when there is none, so bidding one's true value is safe.
// Ties go to the incumbent (awarded last round), then to the peer
// connected longest, then to the lower ID. Winners share 1 − FreeShare of
// upload equally; everyone else shares the rest equally. Losing bidders
// are told the clearing price.
type Uniform struct{}

// Allocate implements Seller.
func (Uniform) Allocate(r SellerRound) Allocation {
	ds := make([]Decision, len(r.Peers))
	var order []int
	for i := range r.Peers {
		if eligible(&r.Peers[i], &r.Reserve) {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		p, q := &r.Peers[order[a]], &r.Peers[order[b]]
		if c := p.Bid.Cmp(&q.Bid); c != 0 {
			return c > 0
		}
		if p.Awarded != q.Awarded {
			return p.Awarded
		}
		if !p.Since.Equal(q.Since) {
			return p.Since.Before(q.Since)
		}
		return p.ID < q.ID
	})
	k := min(max(r.Slots, 0), len(order))
	price := r.Reserve
	if k < len(order) {
		price = r.Peers[order[k]].Bid
	}
	for n, i := range order {
		ds[i].Awarded = n < k
	}
	for i := range ds {
		ds[i].Price = price
	}
	split(r, ds, make([]float64, len(ds)))
	return Allocation{Decisions: ds, Price: price}
}

// DefaultPropShareFloor is PropShare's default Floor: 1 MiB.
const DefaultPropShareFloor = MiB

// PropShare shares upload in proportion to bid × recent paid bytes, so a
// peer that pays more, and has paid for more, gets more. Eligible peers
// (market peers bidding at least the reserve; the r.Slots highest by
// weight when there are more) are awarded and each pays its own bid.
// Floor stands in for the recent paid bytes of a peer that has fewer, so
// newcomers start with a share. Peers without an award share FreeShare
// equally. The round's price is the lowest price a winner pays (the
// reserve when nobody wins); losing bidders are told the reserve, or that
// price when the slots are full.
type PropShare struct {
	Floor int64 // bytes; DefaultPropShareFloor when zero or negative
}

// Allocate implements Seller.
func (s PropShare) Allocate(r SellerRound) Allocation {
	floor := s.Floor
	if floor <= 0 {
		floor = DefaultPropShareFloor
	}
	ds := make([]Decision, len(r.Peers))
	w := make([]float64, len(r.Peers))
	var order []int
	for i := range r.Peers {
		ds[i].Price = r.Reserve
		if p := &r.Peers[i]; eligible(p, &r.Reserve) {
			w[i] = p.Bid.Float64() * float64(max(p.RecentPaid, floor))
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		if w[order[a]] != w[order[b]] {
			return w[order[a]] > w[order[b]]
		}
		return r.Peers[order[a]].ID < r.Peers[order[b]].ID
	})
	full := len(order) > max(r.Slots, 0)
	if full {
		order = order[:max(r.Slots, 0)]
	}
	price := r.Reserve
	for n, i := range order {
		ds[i].Awarded = true
		ds[i].Price = r.Peers[i].Bid
		if n == 0 || r.Peers[i].Bid.Lt(&price) {
			price = r.Peers[i].Bid
		}
	}
	if full {
		for i := range ds {
			if !ds[i].Awarded {
				ds[i].Price = price
			}
		}
	}
	split(r, ds, w)
	return Allocation{Decisions: ds, Price: price}
}

// Free ignores bids: plain BitTorrent. Nobody is awarded and every
// interested peer gets an equal share.
type Free struct{}

// Allocate implements Seller.
func (Free) Allocate(r SellerRound) Allocation {
	ds := make([]Decision, len(r.Peers))
	split(r, ds, nil)
	return Allocation{Decisions: ds}
}
