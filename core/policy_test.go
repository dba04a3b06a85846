package core

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestResolvePolicy: a torrent's own settings win over the engine's
// defaults; without strategy names an ask means uniform and a bid fixed;
// a stored name this version does not know is an error (logged once at
// ERROR, however many ticks resolve it) and that side is off.
func TestResolvePolicy(t *testing.T) {
	cases := []struct {
		name        string
		own, global marketRec
		sell, buy   string // strategy names wanted
		ask, bid    uint64
		errHas      string
	}{
		{"nothing set", marketRec{}, marketRec{}, strategy.SellerFree, strategy.BuyerNone, 0, 0, ""},
		{"an ask sells uniform", marketRec{Ask: "7"}, marketRec{}, strategy.SellerUniform, strategy.BuyerNone, 7, 0, ""},
		{"a global bid buys fixed", marketRec{}, marketRec{Bid: "9"}, strategy.SellerFree, strategy.BuyerFixed, 0, 9, ""},
		{"own over global", marketRec{SellerStrategy: strategy.SellerPropShare, Ask: "3"},
			marketRec{SellerStrategy: strategy.SellerUniform, Ask: "5", BuyerStrategy: strategy.BuyerBudget},
			strategy.SellerPropShare, strategy.BuyerBudget, 3, 0, ""},
		{"unknown seller", marketRec{SellerStrategy: "vickrey", Ask: "3"}, marketRec{},
			strategy.SellerFree, strategy.BuyerNone, 3, 0, `unknown seller strategy "vickrey"`},
		{"unknown global buyer", marketRec{}, marketRec{BuyerStrategy: "sniper", Bid: "4"},
			strategy.SellerFree, strategy.BuyerNone, 0, 4, `unknown buyer strategy "sniper"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := &Engine{log: slog.New(slog.NewTextHandler(&logs, nil)), market: tc.global}
			ts := &tstate{rec: &record{InfoHash: strings.Repeat("ab", 20), Market: tc.own}}
			p, err := e.resolvePolicy(ts)
			if got := strategyName(p.sell, p.buy); got != tc.sell+"/"+tc.buy {
				t.Errorf("strategies %s, want %s/%s", got, tc.sell, tc.buy)
			}
			if p.ask.Cmp(wallet.NewAmount(tc.ask)) != 0 || p.bid.Cmp(wallet.NewAmount(tc.bid)) != 0 {
				t.Errorf("ask %s bid %s, want %d %d", p.ask, p.bid, tc.ask, tc.bid)
			}
			if tc.errHas == "" && err != nil || tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)) {
				t.Fatalf("error %v, want one with %q", err, tc.errHas)
			}
			for range 3 { // three ticks
				_, err := e.resolvePolicy(ts)
				e.notePolicyErr(ts, err)
			}
			n := strings.Count(logs.String(), "level=ERROR")
			if tc.errHas == "" && n != 0 || tc.errHas != "" && (n != 1 || !strings.Contains(logs.String(), ts.rec.InfoHash)) {
				t.Fatalf("%d ERROR records over three ticks:\n%s", n, logs.String())
			}
		})
	}
}

// strategyName names the built-in strategies resolvePolicy returns.
func strategyName(s strategy.Seller, b strategy.Buyer) string {
	names := map[any]string{strategy.Free{}: strategy.SellerFree, strategy.Uniform{}: strategy.SellerUniform,
		strategy.None{}: strategy.BuyerNone, strategy.Fixed{}: strategy.BuyerFixed, strategy.Budget{}: strategy.BuyerBudget}
	sn, ok := names[s]
	if _, prop := s.(strategy.PropShare); prop {
		sn, ok = strategy.SellerPropShare, true
	}
	if !ok {
		sn = "?"
	}
	bn, ok := names[b]
	if !ok {
		bn = "?"
	}
	return sn + "/" + bn
}
