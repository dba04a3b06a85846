package strategy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/holiman/uint256"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func u(n uint64) uint256.Int { return *uint256.NewInt(n) }

func bidder(id string, bid uint64, ago time.Duration) SellerPeer {
	return SellerPeer{ID: id, Market: true, Bid: u(bid), Since: t0.Add(-ago)}
}

func legacy(id string) SellerPeer { return SellerPeer{ID: id, Since: t0.Add(-time.Hour)} }

// want is one peer's expected decision; price is checked for bidders only.
type want struct {
	awarded bool
	price   uint64
	weight  float64
}

func checkAllocation(t *testing.T, r SellerRound, a Allocation, ws []want, price uint64) {
	t.Helper()
	if err := a.Check(r); err != nil {
		t.Fatalf("allocation fails its own check: %v", err)
	}
	if len(a.Decisions) != len(ws) {
		t.Fatalf("%d decisions, want %d", len(a.Decisions), len(ws))
	}
	for i, w := range ws {
		d := a.Decisions[i]
		id := r.Peers[i].ID
		if d.Awarded != w.awarded {
			t.Errorf("%s: awarded %v, want %v", id, d.Awarded, w.awarded)
		}
		if !r.Peers[i].Bid.IsZero() && !d.Price.Eq(uint256.NewInt(w.price)) {
			t.Errorf("%s: price %s, want %d", id, d.Price.Dec(), w.price)
		}
		if math.Abs(d.Weight-w.weight) > 1e-9 {
			t.Errorf("%s: weight %v, want %v", id, d.Weight, w.weight)
		}
	}
	if !a.Price.Eq(uint256.NewInt(price)) {
		t.Errorf("round price %s, want %d", a.Price.Dec(), price)
	}
}

func TestUniform(t *testing.T) {
	incumbent := bidder("b", 5, time.Minute)
	incumbent.Awarded = true
	tests := []struct {
		name    string
		peers   []SellerPeer
		reserve uint64
		slots   int
		free    float64
		want    []want
		price   uint64
	}{
		{
			name:    "3 bidders 2 slots: top two pay the third's bid",
			peers:   []SellerPeer{bidder("a", 50, time.Minute), bidder("b", 40, time.Minute), bidder("c", 30, time.Minute), legacy("l")},
			reserve: 10, slots: 2, free: 0.2,
			want:  []want{{true, 30, 0.4}, {true, 30, 0.4}, {false, 30, 0.1}, {false, 0, 0.1}},
			price: 30,
		},
		{
			name:    "reserve above the highest losing bid sets the price",
			peers:   []SellerPeer{bidder("a", 50, time.Minute), bidder("b", 40, time.Minute), bidder("c", 30, time.Minute)},
			reserve: 35, slots: 2, free: 0.2,
			want:  []want{{true, 35, 0.4}, {true, 35, 0.4}, {false, 35, 0.2}},
			price: 35,
		},
		{
			name:    "fewer bidders than slots pay the reserve",
			peers:   []SellerPeer{legacy("l1"), bidder("a", 7, time.Minute), legacy("l2")},
			reserve: 3, slots: 4, free: 0.3,
			want:  []want{{false, 0, 0.15}, {true, 3, 0.7}, {false, 0, 0.15}},
			price: 3,
		},
		{
			name:    "ties go to the incumbent, then the longest connected",
			peers:   []SellerPeer{bidder("a", 5, time.Minute), incumbent, bidder("c", 5, time.Hour), bidder("d", 5, 2*time.Hour)},
			reserve: 1, slots: 2, free: 0.5,
			want:  []want{{false, 5, 0.25}, {true, 5, 0.25}, {false, 5, 0.25}, {true, 5, 0.25}},
			price: 5,
		},
		{
			name:    "equal bids and ages: lower ID wins",
			peers:   []SellerPeer{bidder("z", 9, time.Minute), bidder("y", 9, time.Minute)},
			reserve: 0, slots: 1, free: 0.2,
			want:  []want{{false, 9, 0.2}, {true, 9, 0.8}},
			price: 9,
		},
		{
			name:    "bid below the reserve is not eligible",
			peers:   []SellerPeer{bidder("a", 4, time.Minute), bidder("b", 6, time.Minute)},
			reserve: 5, slots: 2, free: 0.2,
			want:  []want{{false, 5, 0.2}, {true, 5, 0.8}},
			price: 5,
		},
		{
			name:    "no bidders: plain equal shares",
			peers:   []SellerPeer{legacy("l1"), legacy("l2"), {ID: "m", Market: true}},
			reserve: 5, slots: 2, free: 0.2,
			want:  []want{{false, 0, 1.0 / 3}, {false, 0, 1.0 / 3}, {false, 0, 1.0 / 3}},
			price: 5,
		},
		{
			name:    "a bid without btt_bid standing is ignored",
			peers:   []SellerPeer{{ID: "x", Bid: u(100)}, bidder("a", 6, time.Minute)},
			reserve: 5, slots: 1, free: 0.25,
			want:  []want{{false, 5, 0.25}, {true, 5, 0.75}},
			price: 5,
		},
		{
			name:    "everyone awarded takes all upload",
			peers:   []SellerPeer{bidder("a", 8, time.Minute), bidder("b", 6, time.Minute)},
			reserve: 5, slots: 2, free: 0.2,
			want:  []want{{true, 5, 0.5}, {true, 5, 0.5}},
			price: 5,
		},
		{
			name:    "zero slots: no awards, told the top bid",
			peers:   []SellerPeer{bidder("a", 8, time.Minute), legacy("l")},
			reserve: 5, slots: 0, free: 0.2,
			want:  []want{{false, 8, 0.5}, {false, 0, 0.5}},
			price: 8,
		},
		{
			name:  "no peers",
			peers: nil, reserve: 5, slots: 2, free: 0.2,
			want: nil, price: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := SellerRound{Now: t0, Peers: tt.peers, Capacity: 1 << 20, Reserve: u(tt.reserve), Slots: tt.slots, FreeShare: tt.free}
			checkAllocation(t, r, Uniform{}.Allocate(r), tt.want, tt.price)
		})
	}
}

func TestPropShare(t *testing.T) {
	paid := func(p SellerPeer, n int64) SellerPeer { p.RecentPaid = n; return p }
	tests := []struct {
		name    string
		peers   []SellerPeer
		reserve uint64
		slots   int
		free    float64
		want    []want
		price   uint64
	}{
		{
			name:    "share follows bid × paid bytes, each pays its bid",
			peers:   []SellerPeer{paid(bidder("a", 2, time.Minute), 4*MiB), paid(bidder("b", 1, time.Minute), 4*MiB), legacy("l")},
			reserve: 1, slots: 4, free: 0.2,
			want:  []want{{true, 2, 0.8 * 2 / 3}, {true, 1, 0.8 / 3}, {false, 0, 0.2}},
			price: 1,
		},
		{
			name:    "a newcomer counts as the floor",
			peers:   []SellerPeer{bidder("new", 3, 0), paid(bidder("old", 3, time.Hour), 3*MiB)},
			reserve: 1, slots: 4, free: 0.2,
			want:  []want{{true, 3, 0.25}, {true, 3, 0.75}},
			price: 3,
		},
		{
			name:    "below the reserve: no award, told the reserve",
			peers:   []SellerPeer{bidder("a", 4, time.Minute), paid(bidder("b", 9, time.Minute), 2*MiB)},
			reserve: 5, slots: 4, free: 0.1,
			want:  []want{{false, 5, 0.1}, {true, 9, 0.9}},
			price: 9,
		},
		{
			name:    "slots full: the smallest weight loses and is told the lowest winning price",
			peers:   []SellerPeer{paid(bidder("a", 6, time.Minute), 2*MiB), paid(bidder("b", 5, time.Minute), MiB), paid(bidder("c", 4, time.Minute), 4*MiB)},
			reserve: 1, slots: 2, free: 0.2,
			want:  []want{{true, 6, 0.8 * 12 / 28}, {false, 4, 0.2}, {true, 4, 0.8 * 16 / 28}},
			price: 4,
		},
		{
			name:    "no bidders",
			peers:   []SellerPeer{legacy("l1"), legacy("l2")},
			reserve: 1, slots: 4, free: 0.2,
			want:  []want{{false, 0, 0.5}, {false, 0, 0.5}},
			price: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := SellerRound{Now: t0, Peers: tt.peers, Reserve: u(tt.reserve), Slots: tt.slots, FreeShare: tt.free}
			checkAllocation(t, r, PropShare{Floor: MiB}.Allocate(r), tt.want, tt.price)
		})
	}
}

func TestPropShareHugeBidsDoNotOverflow(t *testing.T) {
	var huge uint256.Int
	huge.SetAllOne()
	r := SellerRound{Now: t0, Slots: 2, FreeShare: 0.2, Peers: []SellerPeer{
		{ID: "a", Market: true, Bid: huge, RecentPaid: 1 << 40},
		{ID: "b", Market: true, Bid: huge, RecentPaid: 1 << 40},
	}}
	a := PropShare{}.Allocate(r)
	if err := a.Check(r); err != nil {
		t.Fatal(err)
	}
	if a.Decisions[0].Weight != 0.5 {
		t.Fatalf("weight %v, want 0.5", a.Decisions[0].Weight)
	}
}

func TestFree(t *testing.T) {
	r := SellerRound{Now: t0, Reserve: u(1), Slots: 3, FreeShare: 0.2,
		Peers: []SellerPeer{bidder("a", 100, time.Minute), legacy("l"), bidder("b", 1, time.Minute), legacy("m")}}
	checkAllocation(t, r, Free{}.Allocate(r), []want{{false, 0, 0.25}, {false, 0, 0.25}, {false, 0, 0.25}, {false, 0, 0.25}}, 0)
}

func TestCheckRejects(t *testing.T) {
	r := SellerRound{Now: t0, Reserve: u(5), Slots: 1, FreeShare: 0.2,
		Peers: []SellerPeer{bidder("a", 10, time.Minute), legacy("l")}}
	good := func() Allocation {
		return Allocation{Decisions: []Decision{{Awarded: true, Price: u(5), Weight: 0.8}, {Weight: 0.2}}}
	}
	if err := good().Check(r); err != nil {
		t.Fatalf("good allocation rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Allocation)
		want   string
	}{
		{"missing decision", func(a *Allocation) { a.Decisions = a.Decisions[:1] }, "decisions for"},
		{"legacy awarded", func(a *Allocation) { a.Decisions[1].Awarded = true; a.Decisions[1].Price = u(5) }, "without btt_bid"},
		{"price above bid", func(a *Allocation) { a.Decisions[0].Price = u(11) }, "above its bid"},
		{"price below reserve", func(a *Allocation) { a.Decisions[0].Price = u(4) }, "below the reserve"},
		{"weights do not sum to 1", func(a *Allocation) { a.Decisions[1].Weight = 0.1 }, "sum to"},
		{"negative weight", func(a *Allocation) { a.Decisions[1].Weight = -0.2; a.Decisions[0].Weight = 1.2 }, "outside"},
		{"NaN weight", func(a *Allocation) { a.Decisions[1].Weight = math.NaN() }, "outside"},
		{"legacy starved", func(a *Allocation) { a.Decisions[0].Weight = 0.9; a.Decisions[1].Weight = 0.1 }, "free share"},
	}
	for _, tt := range tests {
		a := good()
		tt.mutate(&a)
		if err := a.Check(r); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	r.Peers = append(r.Peers, bidder("b", 10, time.Minute))
	a := Allocation{Decisions: []Decision{{Awarded: true, Price: u(5), Weight: 0.4}, {Weight: 0.2}, {Awarded: true, Price: u(5), Weight: 0.4}}}
	if err := a.Check(r); err == nil || !strings.Contains(err.Error(), "slots") {
		t.Errorf("two awards for one slot: Check = %v", err)
	}
}

func TestNewSeller(t *testing.T) {
	for _, name := range SellerNames() {
		s, err := NewSeller(name)
		if err != nil || s == nil {
			t.Fatalf("NewSeller(%q) = %v, %v", name, s, err)
		}
		r := SellerRound{Now: t0, Reserve: u(1), Slots: 1, FreeShare: 0.2, Peers: []SellerPeer{bidder("a", 2, time.Minute), legacy("l")}}
		if err := s.Allocate(r).Check(r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewSeller("vickrey"); err == nil || !strings.Contains(err.Error(), "vickrey") {
		t.Fatalf("unknown name: %v", err)
	}
}
