package core

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// waitGlobal waits for a snapshot published after since whose global
// market settings satisfy cond, and returns them.
func waitGlobal(t testing.TB, e *Engine, since time.Time, what string, cond func(MarketPolicy) bool) MarketPolicy {
	t.Helper()
	snaps, unsub := e.Subscribe()
	defer unsub()
	deadline := time.After(10 * time.Second)
	var last MarketPolicy
	for {
		select {
		case s, ok := <-snaps:
			if !ok {
				t.Fatalf("engine stopped while waiting for %s", what)
			}
			if s.Time.Before(since) {
				continue
			}
			last = s.Market
			if cond(s.Market) {
				return s.Market
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; last global market: %+v", what, last)
		}
	}
}

// SetMarket with the zero InfoHash shows up in the next snapshot's global
// market settings, merges field by field (nil fields stay), is the default
// a newly added torrent starts with, and survives a restart on the same
// data dir; a per-torrent SetMarket leaves the global settings alone.
func TestGlobalMarketSnapshotAndRestart(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "state")
	ctx := context.Background()
	e := startEngine(t, "first", testConfig("127.0.0.32"), dataDir)

	if g := waitGlobal(t, e.Engine, time.Time{}, "first snapshot", func(MarketPolicy) bool { return true }); g != (MarketPolicy{}) {
		t.Fatalf("fresh engine global market = %+v, want zero", g)
	}

	bid, ask, budget := wallet.NewAmount(1500), wallet.NewAmount(700), wallet.NewAmount(2_000_000)
	buyer, seller := "adaptive", "uniform"
	before := time.Now()
	if err := e.SetMarket(ctx, InfoHash{}, MarketSettings{Bid: &bid, Ask: &ask, Budget: &budget, BuyerStrategy: &buyer, SellerStrategy: &seller}); err != nil {
		t.Fatal(err)
	}
	want := MarketPolicy{BuyerStrategy: buyer, SellerStrategy: seller, Bid: bid, Ask: ask, Budget: budget}
	g := waitGlobal(t, e.Engine, before, "global settings in snapshot", func(g MarketPolicy) bool { return g.Bid.Cmp(bid) == 0 })
	if !sameGlobal(g, want) {
		t.Fatalf("global market = %+v, want %+v", g, want)
	}

	// A partial change keeps the other fields.
	bid2 := wallet.NewAmount(1600)
	before = time.Now()
	if err := e.SetMarket(ctx, InfoHash{}, MarketSettings{Bid: &bid2}); err != nil {
		t.Fatal(err)
	}
	want.Bid = bid2
	g = waitGlobal(t, e.Engine, before, "bid change", func(g MarketPolicy) bool { return g.Bid.Cmp(bid2) == 0 })
	if !sameGlobal(g, want) {
		t.Fatalf("after bid-only change global market = %+v, want %+v", g, want)
	}

	// A new torrent starts with the global settings; changing its own
	// settings does not touch the global ones.
	_, torrentPath, _ := seedTorrent(t, dir, 32<<10)
	ih, err := e.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Join(dir, "out"), Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := waitFor(t, e.Engine, ih, 10*time.Second, "added", func(Torrent) bool { return true })
	if tr.Market.Bid.Cmp(bid2) != 0 || tr.Market.Ask.Cmp(ask) != 0 || tr.Market.BuyerStrategy != buyer {
		t.Errorf("new torrent market = %+v, want the global defaults %+v", tr.Market, want)
	}
	own := wallet.NewAmount(9)
	before = time.Now()
	if err := e.SetMarket(ctx, ih, MarketSettings{Bid: &own}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.Engine, ih, 10*time.Second, "own bid", func(tr Torrent) bool { return tr.Market.Bid.Cmp(own) == 0 })
	if g := e.Snapshot().Market; !sameGlobal(g, want) {
		t.Errorf("per-torrent SetMarket changed the global market to %+v, want %+v", g, want)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}

	e2 := startEngine(t, "second", testConfig("127.0.0.32"), dataDir)
	g = waitGlobal(t, e2.Engine, time.Time{}, "restored snapshot", func(MarketPolicy) bool { return true })
	if !sameGlobal(g, want) {
		t.Errorf("after restart global market = %+v, want %+v", g, want)
	}
}

func sameGlobal(a, b MarketPolicy) bool {
	return a.BuyerStrategy == b.BuyerStrategy && a.SellerStrategy == b.SellerStrategy &&
		a.Bid.Cmp(b.Bid) == 0 && a.Ask.Cmp(b.Ask) == 0 && a.Budget.Cmp(b.Budget) == 0
}
