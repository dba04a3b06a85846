package strategy_test

import (
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/holiman/uint256"
)

// A user's own Seller: one paid slot, sold at the reserve to the bidder
// that uploads the most to us (reciprocity first, money second), while
// everyone else shares the free part equally. Allocation.Check is what
// the engine runs on every answer.
func ExampleSellerFunc() {
	reciprocal := strategy.SellerFunc(func(r strategy.SellerRound) strategy.Allocation {
		ds := make([]strategy.Decision, len(r.Peers))
		best := -1
		for i, p := range r.Peers {
			if p.Market && !p.Bid.IsZero() && !p.Bid.Lt(&r.Reserve) && r.Slots > 0 &&
				(best < 0 || p.DownRate > r.Peers[best].DownRate) {
				best = i
			}
		}
		for i := range ds {
			ds[i].Price = r.Reserve
			switch {
			case i == best:
				ds[i].Awarded, ds[i].Weight = true, 1-r.FreeShare
			case best >= 0:
				ds[i].Weight = r.FreeShare / float64(len(ds)-1)
			default:
				ds[i].Weight = 1 / float64(len(ds))
			}
		}
		return strategy.Allocation{Decisions: ds, Price: r.Reserve}
	})

	r := strategy.SellerRound{
		Now:       time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		Reserve:   *uint256.NewInt(1000),
		Slots:     1,
		FreeShare: 0.2,
		Peers: []strategy.SellerPeer{
			{ID: "10.0.0.1:6881", Market: true, Bid: *uint256.NewInt(5000), DownRate: 10 << 10},
			{ID: "10.0.0.2:6881", Market: true, Bid: *uint256.NewInt(2000), DownRate: 900 << 10},
			{ID: "10.0.0.3:6881"}, // a legacy peer
		},
	}
	a := reciprocal.Allocate(r)
	fmt.Println("check:", a.Check(r))
	for i, d := range a.Decisions {
		fmt.Printf("%s awarded=%v price=%s share=%.2f\n", r.Peers[i].ID, d.Awarded, d.Price.Dec(), d.Weight)
	}
	// Output:
	// check: <nil>
	// 10.0.0.1:6881 awarded=false price=1000 share=0.10
	// 10.0.0.2:6881 awarded=true price=1000 share=0.80
	// 10.0.0.3:6881 awarded=false price=1000 share=0.10
}

// A user's own Buyer: bid the user's price only to the seller we already
// download fastest from, and only in the last 64 MiB of the torrent.
func ExampleBuyerFunc() {
	finisher := strategy.BuyerFunc(func(r strategy.BuyerRound) []strategy.Bid {
		if r.Remaining > 64*strategy.MiB || r.Remaining == 0 || r.Balance.IsZero() {
			return nil
		}
		best := -1
		for i, s := range r.Sellers {
			if !s.Ask.Gt(&r.MaxPrice) && (best < 0 || s.DownRate > r.Sellers[best].DownRate) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		return []strategy.Bid{{ID: r.Sellers[best].ID, Price: r.MaxPrice}}
	})

	r := strategy.BuyerRound{
		Now:       time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		MaxPrice:  *uint256.NewInt(3000),
		Balance:   *uint256.NewInt(1_000_000),
		Remaining: 10 * strategy.MiB,
		Sellers: []strategy.SellerView{
			{ID: "10.0.0.1:6881", Ask: *uint256.NewInt(1000), DownRate: 200 << 10},
			{ID: "10.0.0.2:6881", Ask: *uint256.NewInt(5000), DownRate: 900 << 10}, // asks too much
			{ID: "10.0.0.3:6881", Ask: *uint256.NewInt(2000), DownRate: 400 << 10},
		},
	}
	for _, b := range finisher.Bids(r) {
		fmt.Printf("bid %s to %s\n", b.Price.Dec(), b.ID)
	}
	// Output:
	// bid 3000 to 10.0.0.3:6881
}

// Built-ins are chosen by name, as the config and the TUI do.
func ExampleNewSeller() {
	for _, name := range strategy.SellerNames() {
		s, err := strategy.NewSeller(name)
		fmt.Printf("%s: %T %v\n", name, s, err)
	}
	_, err := strategy.NewSeller("dutch")
	fmt.Println(err)
	// Output:
	// uniform: strategy.Uniform <nil>
	// propshare: strategy.PropShare <nil>
	// free: strategy.Free <nil>
	// unknown seller strategy "dutch" (want one of [uniform propshare free])
}
