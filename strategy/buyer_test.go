package strategy

import (
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

func seller(id string, ask uint64) SellerView { return SellerView{ID: id, Ask: u(ask)} }

func outbid(id string, ask, price, last uint64) SellerView {
	return SellerView{ID: id, Ask: u(ask), Outbid: true, Price: u(price), LastBid: u(last)}
}

func awarded(id string, ask, price, last uint64) SellerView {
	return SellerView{ID: id, Ask: u(ask), Awarded: true, Price: u(price), LastBid: u(last)}
}

// bids renders bids as "id=price id=price" for compact comparison.
func bids(bs []Bid) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.ID+"="+b.Price.Dec())
	}
	return strings.Join(s, " ")
}

type buyerCase struct {
	name string
	r    BuyerRound
	want string
}

func round(max, balance uint64, remaining int64, sellers ...SellerView) BuyerRound {
	return BuyerRound{Now: t0, MaxPrice: u(max), Balance: u(balance), Remaining: remaining, Sellers: sellers}
}

func runBuyer(t *testing.T, b Buyer, tests []buyerCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bids(b.Bids(tt.r)); got != tt.want {
				t.Fatalf("bids %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFixed(t *testing.T) {
	runBuyer(t, Fixed{}, []buyerCase{
		{"bids the user's price where the ask allows", round(10, 1000, MiB, seller("a", 5), seller("b", 10), seller("c", 11)), "a=10 b=10"},
		{"complete: no bids", round(10, 1000, 0, seller("a", 5)), ""},
		{"no money: no bids", round(10, 0, MiB, seller("a", 5)), ""},
		{"no price set: no bids", round(0, 1000, MiB, seller("a", 0)), ""},
		{"no sellers", round(10, 1000, MiB), ""},
	})
}

func TestBudget(t *testing.T) {
	withBudget := func(r BuyerRound, budget, spent uint64) BuyerRound {
		r.Budget, r.Spent = u(budget), u(spent)
		return r
	}
	var all uint256.Int
	all.SetAllOne()
	rich := round(70, 0, 1, seller("a", 5))
	rich.Balance = all
	runBuyer(t, Budget{}, []buyerCase{
		{"budget left over remaining MiB", withBudget(round(100, 1000, 10*MiB, seller("a", 5), seller("b", 60)), 600, 100), "a=50"},
		{"capped by the max price", withBudget(round(40, 1000, 10*MiB, seller("a", 5)), 600, 100), "a=40"},
		{"balance below the budget limits", withBudget(round(100, 200, 10*MiB, seller("a", 5)), 600, 100), "a=20"},
		{"no budget: the balance", round(1000, 1000, 4*MiB, seller("a", 5)), "a=250"},
		{"partial MiB rounds the price down", round(1000, 1000, 3*MiB, seller("a", 5)), "a=333"},
		{"budget spent: no bids", withBudget(round(100, 1000, MiB, seller("a", 0)), 100, 100), ""},
		{"overspent: no bids", withBudget(round(100, 1000, MiB, seller("a", 0)), 100, 150), ""},
		{"price rounds to zero: no bids", round(100, 1, 2*MiB, seller("a", 0)), ""},
		{"huge balance does not overflow", rich, "a=70"},
		{"complete: no bids", round(100, 1000, 0, seller("a", 0)), ""},
	})
}

func TestAdaptive(t *testing.T) {
	runBuyer(t, Adaptive{StepPercent: 10}, []buyerCase{
		{"no answer yet: bid the ask", round(500, 1000, MiB, seller("a", 100)), "a=100"},
		{"zero ask: bid one unit", round(500, 1000, MiB, seller("a", 0)), "a=1"},
		{"outbid: just above the clearing price", round(500, 1000, MiB, outbid("a", 100, 200, 150)), "a=220"},
		{"outbid: at most the max", round(210, 1000, MiB, outbid("a", 100, 200, 150)), "a=210"},
		{"outbid at a small price: step of one", round(500, 1000, MiB, outbid("a", 0, 5, 4)), "a=6"},
		{"awarded: back off", round(500, 1000, MiB, awarded("a", 100, 100, 300)), "a=270"},
		{"awarded: not below a step above the price", round(500, 1000, MiB, awarded("a", 100, 260, 300)), "a=286"},
		{"awarded: never raise", round(500, 1000, MiB, awarded("a", 100, 290, 300)), "a=300"},
		{"awarded: not below the ask", round(500, 1000, MiB, awarded("a", 280, 100, 300)), "a=280"},
		{"ask above the max: skip", round(500, 1000, MiB, seller("a", 501), outbid("b", 10, 20, 15)), "b=22"},
		{"complete: no bids", round(500, 1000, 0, seller("a", 1)), ""},
	})
	var all uint256.Int
	all.SetAllOne()
	r := round(0, 1000, MiB, SellerView{ID: "a", Outbid: true, Price: all})
	r.MaxPrice = all
	if got := (Adaptive{}).Bids(r); len(got) != 1 || !got[0].Price.Eq(&all) {
		t.Fatalf("saturating step: %s", bids(got))
	}
}

func TestNone(t *testing.T) {
	runBuyer(t, None{}, []buyerCase{{"never bids", round(10, 1000, MiB, seller("a", 1)), ""}})
}

func TestNewBuyer(t *testing.T) {
	for _, name := range BuyerNames() {
		if b, err := NewBuyer(name); err != nil || b == nil {
			t.Fatalf("NewBuyer(%q) = %v, %v", name, b, err)
		}
	}
	b, _ := NewBuyer(BuyerAdaptive)
	if a, ok := b.(Adaptive); !ok || a.StepPercent != DefaultAdaptiveStep {
		t.Fatal("adaptive without its default step")
	}
	if _, err := NewBuyer("sniper"); err == nil || !strings.Contains(err.Error(), "sniper") {
		t.Fatalf("unknown name: %v", err)
	}
	if BuyerNames()[0] != BuyerNone {
		t.Fatal("the default buyer must spend nothing")
	}
}

func TestSanitize(t *testing.T) {
	r := round(100, 1000, MiB, seller("a", 1), seller("b", 1), seller("c", 1))
	got := r.Sanitize([]Bid{
		{ID: "c", Price: u(500)}, // capped
		{ID: "x", Price: u(50)},  // not a seller
		{ID: "a", Price: u(10)},
		{ID: "a", Price: u(20)}, // the last one counts
		{ID: "b", Price: u(0)},  // no bid
	})
	if s := bids(got); s != "a=20 c=100" {
		t.Fatalf("Sanitize = %q", s)
	}
	if got := r.Sanitize(nil); got != nil {
		t.Fatalf("Sanitize(nil) = %v", got)
	}
}
