package core

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// liarWallet tells its own engine it holds plenty, so its buyer bids
// whatever its ledger balance (an attacker's client would).
type liarWallet struct{ *wallet.Wallet }

func (liarWallet) Balance(context.Context) (wallet.Balance, error) {
	return wallet.Balance{Token: wallet.NewAmount(1e18)}, nil
}

// TestEngineExposureBound (issue 15 case 1, PROTOCOL.md §8.6): real
// engines on one local ledger; the buyer's wallet holds nothing, or 2 MiB
// worth at the ask. The seller serves paid bytes only up to what the
// buyer can pay; the buyer still gets the whole torrent (free share).
// Money is conserved and what the seller earned is what the ledger moved.
// Before the bound the unfunded buyer was served every byte as paid and
// the settlement paid nothing.
func TestEngineExposureBound(t *testing.T) {
	const sizeMiB = 6
	dir := t.TempDir()
	root, tp, tf := dataTorrent(t, dir, 17, sizeMiB<<20)
	want := hashTree(t, root)
	for i, tc := range []struct {
		name string
		fund uint64 // base units; askPrice per MiB
	}{{"unfunded", 0}, {"2 MiB worth", 2 * askPrice}} {
		t.Run(tc.name, func(t *testing.T) {
			cdir := filepath.Join(dir, tc.name)
			l := testLedger(t, cdir)
			sw := testWallet(t, l, cdir, 1, 0)
			bw := &liarWallet{testWallet(t, l, cdir, 2, tc.fund)}
			ctx := context.Background()
			sum := func() wallet.Amount {
				a, err := sw.Balance(ctx)
				if err != nil {
					t.Fatal(err)
				}
				b, err := bw.Wallet.Balance(ctx)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := a.Token.Add(b.Token)
				return s
			}
			before := sum()
			scfg := marketTestConfig(ipN(60+2*i), 2<<20)
			scfg.Market.CreditMiB = 1
			seller, buyer := startPair(t, tp, filepath.Dir(root), cdir, scfg, ipN(61+2*i), sw, bw)
			waitFor(t, buyer.Engine, tf.InfoHash, 120*time.Second, "download complete", isComplete)
			sameTree(t, want, hashTree(t, filepath.Join(cdir, "out", "payload")))
			time.Sleep(500 * time.Millisecond)
			st := seller.Snapshot().Torrents[0].Market
			sBefore, err := sw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := buyer.stop(); err != nil {
				t.Fatal(err)
			}
			if err := seller.stop(); err != nil {
				t.Fatal(err)
			}
			sAfter, err := sw.Balance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			received := sAfter.Token.SubFloor(sBefore.Token)
			var accepted wallet.Amount
			rs, err := sw.Cheques()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				accepted = r.Cheque.Cumulative
			}
			owed := wallet.NewAmount(uint64(st.Sold) * askPrice >> 20)
			lost := owed.SubFloor(received)
			t.Logf("%s: paid bytes served %d (%.2f MiB), owed %s, cheques accepted %s, settled %s, lost %s",
				tc.name, st.Sold, float64(st.Sold)/(1<<20), owed, accepted, received, lost)
			if limit := int64(tc.fund) << 20 / askPrice; st.Sold > limit {
				t.Errorf("served %d paid bytes to a buyer holding %d bytes' worth", st.Sold, limit)
			}
			if accepted.Cmp(received) != 0 {
				t.Errorf("accepted %s, settled %s: a cheque came up short", accepted, received)
			}
			if tc.fund > 0 && st.Sold == 0 {
				t.Error("the funded buyer was never served paid bytes: the case tests nothing")
			}
			if after := sum(); after.Cmp(before) != 0 {
				t.Errorf("money not conserved: %s before, %s after", before, after)
			}
		})
	}
}

// TestEngineLicenceNeedsFunds (issue 15 case 2, PROTOCOL.md §16.10): a
// buyer whose wallet holds nothing buys a paid torrent from its
// publisher. Before, the licence was granted at once and the publisher's
// settlement then paid nothing. Now the publisher redeems the purchase
// first and refuses it (ERROR 407); a funded buyer gets its licence once
// the redemption paid the publisher.
func TestEngineLicenceNeedsFunds(t *testing.T) {
	for i, tc := range []struct {
		name string
		fund uint64
	}{{"unfunded", 0}, {"funded", 7000}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l := testLedger(t, dir)
			pub := testWallet(t, l, dir, 91, 0)
			bw := &liarWallet{testWallet(t, l, dir, 92, tc.fund)}
			terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: wallet.NewAmount(7000)}
			root, tp, tf := paidTorrent(t, dir, terms)
			ih := tf.InfoHash
			publisher := startEngine(t, "publisher", marketTestConfig(ipN(190+2*i), 0), filepath.Join(dir, "publisher"), WithWallet(pub))
			if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)
			buyer := startEngine(t, "buyer", marketTestConfig(ipN(191+2*i), 0), filepath.Join(dir, "buyer"), WithWallet(bw))
			if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: buyer.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			bctx, bcancel := context.WithTimeout(ctx, 20*time.Second)
			err := buyer.Buy(bctx, ih, wallet.Amount{})
			bcancel()
			time.Sleep(500 * time.Millisecond)
			licensed := findT(buyer.Snapshot(), ih).Licensed
			pb, perr := pub.Balance(ctx)
			if perr != nil {
				t.Fatal(perr)
			}
			t.Logf("%s: buy %v, licensed %v, publisher's ledger balance %s", tc.name, err, licensed, pb.Token)
			if tc.fund == 0 {
				if err == nil || licensed {
					t.Fatalf("an unfunded buyer bought a licence (buy %v, licensed %v)", err, licensed)
				}
				if !strings.Contains(err.Error(), "refused") {
					t.Fatalf("buy: %v, want the publisher's refusal", err)
				}
			} else {
				if err != nil || !licensed {
					t.Fatalf("a funded buyer: buy %v, licensed %v", err, licensed)
				}
				if pb.Token.Cmp(wallet.NewAmount(7000)) != 0 {
					t.Fatalf("publisher holds %s after granting, want the price 7000", pb.Token)
				}
			}
			for _, e := range []*runningEngine{buyer, publisher} {
				if err := e.stop(); err != nil {
					t.Fatal(err)
				}
			}
			b2, _ := bw.Wallet.Balance(context.Background())
			p2, _ := pub.Balance(context.Background())
			if s, _ := b2.Token.Add(p2.Token); s.Cmp(wallet.NewAmount(tc.fund)) != 0 {
				t.Fatalf("money not conserved: buyer %s + publisher %s, want %d", b2.Token, p2.Token, tc.fund)
			}
		})
	}
}

// TestUnsecuredLimitConfig: [engine.market] unsecured_limit reaches the
// market, and a bad value is refused naming its key.
func TestUnsecuredLimitConfig(t *testing.T) {
	c := DefaultMarketConfig()
	if !c.market().Unsecured.IsZero() {
		t.Fatal("default unsecured limit is not one credit step (zero)")
	}
	c.UnsecuredLimit = "5000"
	if err := c.Validate(); err != nil || c.market().Unsecured.Cmp(wallet.NewAmount(5000)) != 0 {
		t.Fatalf("unsecured_limit 5000: %v, %s", err, c.market().Unsecured)
	}
	c.UnsecuredLimit = "five"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "unsecured_limit") {
		t.Fatalf("bad unsecured_limit: %v", err)
	}
}

// TestEngineUnfundedPledge (issue 15 case 6, PROTOCOL.md §16.11): a
// throw-away key with an empty wallet pledges the whole goal beside an
// honest backer's 60 %. Before, the publisher counted it, the campaign
// was funded and the honest backer paid. Now a pledge counts up to what
// its pledger can be shown to pay: not funded, nobody pays.
func TestEngineUnfundedPledge(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := testLedger(t, dir)
	const unit = 1_000_000
	pub := testWallet(t, l, dir, 95, 0)
	backerW := testWallet(t, l, dir, 96, 5*unit)
	throwW := &liarWallet{testWallet(t, l, dir, 97, 0)}
	terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(),
		Goal: wallet.NewAmount(unit), Deadline: time.Now().Add(time.Hour).Truncate(time.Second)}
	root, tp, tf := paidTorrent(t, dir, terms)
	ih := tf.InfoHash
	publisher := startEngine(t, "publisher", marketTestConfig(ipN(200), 0), filepath.Join(dir, "publisher"), WithWallet(pub))
	if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)
	backer := startEngine(t, "backer", marketTestConfig(ipN(201), 0), filepath.Join(dir, "backer"), WithWallet(backerW))
	thrower := startEngine(t, "thrower", marketTestConfig(ipN(202), 0), filepath.Join(dir, "thrower"), WithWallet(throwW))
	for _, e := range []*runningEngine{backer, thrower} {
		if _, err := e.Add(ctx, AddSpec{Source: tp, DataDir: e.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e.Engine, ih, 30*time.Second, "the publisher's HELLO", func(tr Torrent) bool {
			return tr.Terms != nil && len(tr.Peers) > 0 && tr.Peers[0].Market.Enabled
		})
	}
	if err := backer.Pledge(ctx, ih, wallet.NewAmount(unit*6/10)); err != nil {
		t.Fatalf("honest pledge: %v", err)
	}
	if err := thrower.Pledge(ctx, ih, wallet.NewAmount(unit)); err != nil {
		t.Fatalf("throw-away pledge: %v", err)
	}
	time.Sleep(3 * time.Second) // covers read, tallies redone, any FUNDED sent and paid
	pc := findT(publisher.Snapshot(), ih).Campaign
	bc := findT(backer.Snapshot(), ih).Campaign
	t.Logf("publisher's campaign: pledged (counted) %s of %s from %d pledges, funded %v; backer paid %v",
		pc.Pledged, pc.Goal, pc.Count, pc.Funded, bc.Paid)
	if pc.Funded || bc.Paid || pc.Pledged.Cmp(wallet.NewAmount(unit*6/10)) != 0 {
		t.Fatalf("an unfunded pledge counted: publisher %+v, backer %+v", pc, bc)
	}
	for _, e := range []*runningEngine{backer, thrower, publisher} {
		if err := e.stop(); err != nil {
			t.Fatal(err)
		}
	}
	pb, _ := pub.Balance(ctx)
	bb, _ := backerW.Balance(ctx)
	if !pb.Token.IsZero() || bb.Token.Cmp(wallet.NewAmount(5*unit)) != 0 {
		t.Fatalf("money moved: publisher %s, backer %s", pb.Token, bb.Token)
	}
}

// TestTipAndPledgeBoundsConfig (issue 18 items 2 and 4): [engine.market]
// min_tip, tips_per_minute and max_pledges reach the market; defaults
// are the market's; a bad min_tip is refused naming its key.
func TestTipAndPledgeBoundsConfig(t *testing.T) {
	c := DefaultMarketConfig()
	if m := c.market(); m.MinTip.Cmp(market.DefaultMinTip) != 0 || m.TipsPerMinute != market.DefaultTipsPerMinute ||
		m.MaxPledges != market.DefaultMaxPledges {
		t.Fatalf("defaults %s %d %d", m.MinTip, m.TipsPerMinute, m.MaxPledges)
	}
	c.MinTip, c.TipsPerMinute, c.MaxPledges = "5000", 3, 7
	if m := c.market(); c.Validate() != nil || m.MinTip.Cmp(wallet.NewAmount(5000)) != 0 || m.TipsPerMinute != 3 || m.MaxPledges != 7 {
		t.Fatalf("configured %s %d %d", m.MinTip, m.TipsPerMinute, m.MaxPledges)
	}
	c.MinTip = "a lot"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "min_tip") {
		t.Fatalf("bad min_tip: %v", err)
	}
	c.MinTip, c.MaxPledges = "", -1
	if err := c.Validate(); err == nil {
		t.Fatal("negative max_pledges accepted")
	}
}
