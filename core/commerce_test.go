package core

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestCommerceBetweenEngines runs PROTOCOL.md §16 between real engines on
// one local ledger: a publisher seeds a paid torrent with a campaign; a
// buyer gets nothing until it buys, then downloads it (verified), tips
// the publisher with a memo and pledges; a second peer pledges and the
// campaign is funded, so both pledges are paid; the buyer fetches the
// torrent again in a new session from another seeder of the publisher's
// without paying twice. Money: every payment lands once, the ledger
// moves by exactly the sums, and the total is conserved.
func TestCommerceBetweenEngines(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := testLedger(t, dir)
	const bttUnit = 1_000_000_000_000_000_000
	pub := testWallet(t, l, dir, 71, 0)
	buyerW := testWallet(t, l, dir, 72, 5*bttUnit)
	backerW := testWallet(t, l, dir, 73, 5*bttUnit)
	price, tip := wallet.NewAmount(bttUnit/2), wallet.NewAmount(bttUnit/100)
	pledge1, pledge2 := wallet.NewAmount(bttUnit*6/10), wallet.NewAmount(bttUnit/2)
	terms := Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: price,
		Goal: wallet.NewAmount(bttUnit), Deadline: time.Now().Add(time.Hour).Truncate(time.Second)}
	root, tp, tf := paidTorrent(t, dir, terms)
	ih := tf.InfoHash
	want := hashTree(t, root)

	publisher := startEngine(t, "publisher", marketTestConfig("127.0.0.170", 0), filepath.Join(dir, "publisher"), WithWallet(pub))
	if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)

	buyer := startEngine(t, "buyer", marketTestConfig("127.0.0.171", 0), filepath.Join(dir, "buyer"), WithWallet(buyerW))
	backer := startEngine(t, "backer", marketTestConfig("127.0.0.172", 0), filepath.Join(dir, "backer"), WithWallet(backerW))
	for _, e := range []*runningEngine{buyer, backer} {
		if _, err := e.Add(ctx, AddSpec{Source: tf.Magnet(), DataDir: e.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
			t.Fatal(err)
		}
	}
	// Connected, the market on, the terms known: still nothing flows.
	for _, e := range []*runningEngine{buyer, backer} {
		waitFor(t, e.Engine, ih, 30*time.Second, "the publisher's HELLO", func(tr Torrent) bool {
			return tr.Terms != nil && len(tr.Peers) > 0 && tr.Peers[0].Market.Enabled
		})
	}
	time.Sleep(time.Second)
	if s := findT(buyer.Snapshot(), ih); s.Done != 0 || s.Licensed {
		t.Fatalf("before buying: %d bytes verified, licensed %v", s.Done, s.Licensed)
	}
	// Above the buyer's maximum: refused locally, nothing paid.
	if err := buyer.Buy(ctx, ih, wallet.NewAmount(bttUnit/4)); err == nil || !strings.Contains(err.Error(), "above the maximum") {
		t.Fatalf("buy above the maximum: %v", err)
	}
	if err := buyer.Buy(ctx, ih, wallet.NewAmount(bttUnit)); err != nil {
		t.Fatalf("buy: %v", err)
	}
	got := waitFor(t, buyer.Engine, ih, 60*time.Second, "download after buying", isComplete)
	if !got.Licensed {
		t.Fatal("complete but not licensed")
	}
	sameTree(t, want, hashTree(t, filepath.Join(buyer.DataDir()+"-out", filepath.Base(root))))
	if s := findT(backer.Snapshot(), ih); s.Done != 0 {
		t.Fatalf("the backer, who did not buy, got %d bytes", s.Done)
	}
	// Buying again does nothing.
	if err := buyer.Buy(ctx, ih, wallet.Amount{}); err != nil {
		t.Fatal(err)
	}

	// A tip with a memo, seen live by the publisher.
	if err := buyer.Tip(ctx, ih, ToPublisher, tip, "worth every token"); err != nil {
		t.Fatalf("tip: %v", err)
	}
	waitFor(t, publisher.Engine, ih, 10*time.Second, "the tip in the publisher's snapshot", func(tr Torrent) bool {
		for _, p := range tr.Market.Payments {
			if p.In && p.For == wallet.ForTip && p.Memo == "worth every token" && p.Amount.Cmp(tip) == 0 && p.Peer == buyerW.Address().String() {
				return true
			}
		}
		return false
	})

	// Crowdfunding: below the goal nothing is paid; the second pledge
	// funds it and both are paid.
	if err := buyer.Pledge(ctx, ih, pledge1); err != nil {
		t.Fatalf("pledge: %v", err)
	}
	c := waitFor(t, buyer.Engine, ih, 10*time.Second, "campaign progress", func(tr Torrent) bool {
		return tr.Campaign != nil && tr.Campaign.Count == 1
	}).Campaign
	if c.Funded || c.Paid || c.Pledged.Cmp(pledge1) != 0 || c.Ours.Cmp(pledge1) != 0 {
		t.Fatalf("campaign after one pledge %+v", c)
	}
	if err := backer.Pledge(ctx, ih, pledge2); err != nil {
		t.Fatalf("second pledge: %v", err)
	}
	for _, e := range []*runningEngine{buyer, backer} {
		waitFor(t, e.Engine, ih, 20*time.Second, "pledge paid", func(tr Torrent) bool {
			return tr.Campaign != nil && tr.Campaign.Funded && tr.Campaign.Paid
		})
	}
	pc := waitFor(t, publisher.Engine, ih, 10*time.Second, "publisher's campaign", func(tr Torrent) bool {
		n := 0
		for _, p := range tr.Market.Payments {
			if p.In && p.For == wallet.ForPledge {
				n++
			}
		}
		return n == 2
	}).Campaign
	if !pc.Funded || pc.Count != 2 {
		t.Fatalf("publisher's campaign %+v", pc)
	}

	// Settle, then the ledger: the publisher got exactly price + tip +
	// both pledges; each payer paid exactly its part (no bandwidth was
	// bought: no bids).
	before := map[string]wallet.Amount{}
	for name, w := range map[string]*wallet.Wallet{"pub": pub, "buyer": buyerW, "backer": backerW} {
		b, err := w.Balance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = b.Token
	}
	for _, e := range []*runningEngine{buyer, backer, publisher} {
		if err := e.stop(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	sum := func(as ...wallet.Amount) wallet.Amount {
		var s wallet.Amount
		for _, a := range as {
			s = addAmount(s, a)
		}
		return s
	}
	pb, _ := pub.Balance(ctx)
	bb, _ := buyerW.Balance(ctx)
	kb, _ := backerW.Balance(ctx)
	// Settled on shutdown already or now: compare with the funding.
	if got, want := pb.Token, sum(price, tip, pledge1, pledge2); got.Cmp(want) != 0 {
		t.Fatalf("publisher's balance %s, want %s", got, want)
	}
	if got, want := bb.Token, wallet.NewAmount(5*bttUnit).SubFloor(sum(price, tip, pledge1)); got.Cmp(want) != 0 {
		t.Fatalf("buyer's balance %s, want %s", got, want)
	}
	if got, want := kb.Token, wallet.NewAmount(5*bttUnit).SubFloor(pledge2); got.Cmp(want) != 0 {
		t.Fatalf("backer's balance %s, want %s", got, want)
	}
	checkConservation(t, l, []*wallet.Wallet{pub, buyerW, backerW})

	// Fetch again, in a new session, from another seeder of the
	// publisher's (same payee key, its own book): the stored licence is
	// presented and nothing is paid.
	pub2 := testWallet(t, l, filepath.Join(dir, "pub2"), 71, 0)
	seeder2 := startEngine(t, "seeder2", marketTestConfig("127.0.0.173", 0), filepath.Join(dir, "seeder2"), WithWallet(pub2))
	if _, err := seeder2.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder2.Engine, ih, 30*time.Second, "seeder2 verified", isComplete)
	again := startEngine(t, "buyer-again", marketTestConfig("127.0.0.174", 0), filepath.Join(dir, "buyer-again"), WithWallet(buyerW))
	if _, err := again.Add(ctx, AddSpec{Source: tp, DataDir: again.DataDir() + "-out", Peers: []string{seeder2.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, again.Engine, ih, 60*time.Second, "download again with the stored licence", isComplete)
	sameTree(t, want, hashTree(t, filepath.Join(again.DataDir()+"-out", filepath.Base(root))))
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	if b, _ := buyerW.Balance(ctx); b.Token.Cmp(bb.Token) != 0 {
		t.Fatalf("buyer's balance moved from %s to %s fetching again", bb.Token, b.Token)
	}
	_ = before
}
