package core

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/core/market"
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
	terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: price,
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
			if p.In && p.For == wallet.ForTip && p.Memo == "worth every token" && p.Amount.Cmp(tip) == 0 && p.Peer == buyerW.Address() {
				return true
			}
		}
		return false
	})

	// A tip to a peer named by its address (here the publisher's, as
	// the buyer dialed it).
	if err := buyer.Tip(ctx, ih, publisher.ListenAddr().String(), tip, ""); err != nil {
		t.Fatalf("tip to a peer: %v", err)
	}
	if err := buyer.Tip(ctx, ih, "127.0.0.250:1", tip, ""); err == nil || !strings.Contains(err.Error(), "no connected peer") {
		t.Fatalf("tip to an unknown peer: %v", err)
	}

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

	// Stop (each settles on shutdown), settle, then the ledger: the
	// publisher got exactly the price, two tips and both pledges; each
	// payer paid exactly its part (no bandwidth was bought: no bids).
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
			s = s.AddSaturating(a)
		}
		return s
	}
	pb, _ := pub.Balance(ctx)
	bb, _ := buyerW.Balance(ctx)
	kb, _ := backerW.Balance(ctx)
	// Settled on shutdown already or now: compare with the funding.
	if got, want := pb.Token, sum(price, tip, tip, pledge1, pledge2); got.Cmp(want) != 0 {
		t.Fatalf("publisher's balance %s, want %s", got, want)
	}
	if got, want := bb.Token, wallet.NewAmount(5*bttUnit).SubFloor(sum(price, tip, tip, pledge1)); got.Cmp(want) != 0 {
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
	if b, _ := buyerW.Balance(ctx); b.Token.Cmp(bb.Token) != 0 {
		t.Fatalf("buyer's balance moved from %s to %s fetching again", bb.Token, b.Token)
	}
	// Two seeds drop each other; a tip to the publisher dials it again.
	waitFor(t, again.Engine, ih, 30*time.Second, "the seeds to part", func(tr Torrent) bool { return len(tr.Peers) == 0 })
	if err := again.Tip(ctx, ih, ToPublisher, tip, "again"); err != nil {
		t.Fatalf("tip between seeds: %v", err)
	}
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	if err := seeder2.stop(); err != nil {
		t.Fatal(err)
	}
	if b, _ := buyerW.Balance(ctx); b.Token.Cmp(bb.Token.SubFloor(tip)) != 0 {
		t.Fatalf("buyer's balance %s after the last tip, want %s", b.Token, bb.Token.SubFloor(tip))
	}
}

// payCheat is a buyer's wallet whose payments are tampered with on their
// way out (the engine issues them through it).
type payCheat struct {
	*wallet.Wallet
	key  *wallet.Key
	kind string
	sent []wallet.Cheque
}

func (c *payCheat) IssuePayment(ben wallet.Address, cum wallet.Amount, p wallet.Payment) (wallet.Cheque, wallet.TipNote, error) {
	switch c.kind {
	case "underpaid":
		// The note and the cheque say one base unit less than the price.
		p.Amount = p.Amount.SubFloor(wallet.NewAmount(1))
		cum = cum.SubFloor(wallet.NewAmount(1))
	case "forged-note":
		ch, n, err := c.Wallet.IssuePayment(ben, cum, p)
		n.Signature[9] ^= 0x33
		return ch, n, err
	case "replay":
		if len(c.sent) > 0 {
			// The first payment's cheque again, with a note for it.
			ch := c.sent[0]
			n, err := wallet.SignTipNote(c.key, ch.ChainID, ch.Token, ch.Beneficiary, ch.Cumulative, p.Amount, p.InfoHash, p.For, p.Memo)
			return ch, n, err
		}
	}
	ch, n, err := c.Wallet.IssuePayment(ben, cum, p)
	if err == nil {
		c.sent = append(c.sent, ch)
	}
	return ch, n, err
}

// TestCommerceRefusals: an underpaid purchase, a forged note and a
// replayed payment are refused by a real publisher engine: no licence,
// no download, no payment recorded, and the ledger moves by nothing but
// genuine payments.
func TestCommerceRefusals(t *testing.T) {
	for i, kind := range []string{"underpaid", "forged-note", "replay"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l := testLedger(t, dir)
			pub := testWallet(t, l, dir, 81, 0)
			bw := testWallet(t, l, dir, 82, 1_000_000)
			terms := market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: wallet.NewAmount(7000)}
			root, tp, tf := paidTorrent(t, dir, terms)
			ih := tf.InfoHash
			base := 175 + 2*i
			publisher := startEngine(t, "publisher", marketTestConfig(ipN(base), 0), filepath.Join(dir, "publisher"), WithWallet(pub))
			if _, err := publisher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, publisher.Engine, ih, 30*time.Second, "publisher verified", isComplete)
			cheat := &payCheat{Wallet: bw, key: testKey(t, 82), kind: kind}
			buyer := startEngine(t, "buyer", marketTestConfig(ipN(base+1), 0), filepath.Join(dir, "buyer"), WithWallet(cheat))
			if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: buyer.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			var genuine wallet.Amount
			if kind == "replay" {
				// A genuine tip first, then the purchase that replays its
				// cheque: a duplicate, acknowledged with a RECEIPT that
				// does not cover the purchase, and no licence.
				if err := buyer.Tip(ctx, ih, ToPublisher, wallet.NewAmount(100), "first"); err != nil {
					t.Fatal(err)
				}
				genuine = wallet.NewAmount(100)
				bctx, bcancel := context.WithTimeout(ctx, 3*time.Second)
				err := buyer.Buy(bctx, ih, wallet.Amount{})
				bcancel()
				if err == nil {
					t.Fatal("a replayed cheque bought the torrent")
				}
			} else if err := buyer.Buy(ctx, ih, wallet.Amount{}); err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("buy with a %s payment: %v", kind, err)
			}
			time.Sleep(500 * time.Millisecond)
			if s := findT(buyer.Snapshot(), ih); s.Licensed || s.Done != 0 {
				t.Fatalf("licensed %v, %d bytes after a %s payment", s.Licensed, s.Done, kind)
			}
			var in []market.Payment
			for _, p := range findT(publisher.Snapshot(), ih).Market.Payments {
				if p.For == wallet.ForPurchase {
					in = append(in, p)
				}
			}
			if len(in) != 0 {
				t.Fatalf("publisher recorded %+v", in)
			}
			for _, e := range []*runningEngine{buyer, publisher} {
				if err := e.stop(); err != nil {
					t.Fatal(err)
				}
			}
			// The publisher accepted only the genuine payment.
			var accepted wallet.Amount
			if r, ok, err := pub.Highest(wallet.Received, bw.Address()); err != nil {
				t.Fatal(err)
			} else if ok {
				accepted = r.Cheque.Cumulative
			}
			if accepted.Cmp(genuine) != 0 {
				t.Fatalf("publisher accepted %s, want %s", accepted, genuine)
			}
			// A refused payment's cheque stays issued (§16.3): the payer's
			// own settlement pays it. The payee never gets more than the
			// payer's book says it issued, and the ledger is conserved.
			issued := wallet.Amount{}
			if r, ok, err := bw.Highest(wallet.Issued, pub.Address()); err != nil {
				t.Fatal(err)
			} else if ok {
				issued = r.Cheque.Cumulative
			}
			for _, w := range []*wallet.Wallet{pub, bw} {
				if _, err := w.Settle(ctx); err != nil {
					t.Fatal(err)
				}
			}
			pb, _ := pub.Balance(ctx)
			bb, _ := bw.Balance(ctx)
			if pb.Token.Cmp(issued) != 0 {
				t.Fatalf("publisher holds %s, the buyer issued %s", pb.Token, issued)
			}
			if total := pb.Token.AddSaturating(bb.Token); total.Cmp(wallet.NewAmount(1_000_000)) != 0 {
				t.Fatalf("ledger total %s, funded 1000000", total)
			}
		})
	}
}

// presentation builds buyer's licence presentation for the connection
// from buyer to seller (peer IDs), the licence signed by the payee key.
func presentation(t *testing.T, payee, buyer *wallet.Key, terms market.Terms, ih InfoHash, seller, buyerID [20]byte, nonce bttbid.Nonce) []byte {
	t.Helper()
	l, err := wallet.SignLicense(payee, terms.ChainID, terms.Token, buyer.Address(), ih, terms.Price)
	if err != nil {
		t.Fatal(err)
	}
	m := &bttbid.License{InfoHash: ih, Buyer: bttbid.Address(l.Buyer), Payee: bttbid.Address(l.Payee), ChainID: l.ChainID,
		Token: bttbid.Address(l.Token), Price: l.Price, Sig: bttbid.Signature(l.Signature), Time: time.Now().Unix()}
	// Version 3 (PROTOCOL.md §18.4): signed over the seller's HELLO nonce
	// on the connection.
	sig, err := buyer.SignMessage(bttbid.LicensePresentationBytesV3(m, ih, seller, buyerID, m.Time, nonce))
	if err != nil {
		t.Fatal(err)
	}
	m.PresentSig = bttbid.Signature(sig)
	b, err := bttbid.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPresentationTries: a connection gets a few presentation checks
// (each costs signature recoveries under the client lock), not a stream:
// after four forged ones even a valid presentation is not checked, while
// a valid one on a fresh connection opens the gate and the download
// completes.
func TestPresentationTries(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := testLedger(t, dir)
	publisher, _, terms, root, tp, ih := startPaidPublisher(t, dir, l, 185)
	join := func(name string, seed byte, ip int) *runningEngine {
		e := startEngine(t, name, marketTestConfig(ipN(ip), 0), filepath.Join(dir, name), WithWallet(testWallet(t, l, dir, seed, 0)))
		if _, err := e.Add(ctx, AddSpec{Source: tp, DataDir: e.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e.Engine, ih, 30*time.Second, "the publisher's HELLO", func(tr Torrent) bool {
			return len(tr.Peers) > 0 && tr.Peers[0].Market.Enabled
		})
		return e
	}
	cheat := join("cheat", 92, 186)
	valid := presentation(t, testKey(t, 91), testKey(t, 92), terms, ih, publisher.cl.PeerID(), cheat.cl.PeerID(), connNonce(t, publisher.Engine, cheat.cl.PeerID()))
	forged := slices.Clone(valid)
	forged[len(forged)-10] ^= 1 // inside psig, the last key
	if _, err := bttbid.Decode(forged); err != nil {
		t.Fatalf("forged presentation does not decode: %v", err)
	}
	for range maxPresentations {
		sendBttBid(t, cheat.Engine, ih, forged)
	}
	sendBttBid(t, cheat.Engine, ih, valid)
	time.Sleep(2 * time.Second)
	if _, open := gateState(publisher.Engine, ih); open != 0 {
		t.Fatalf("%d connections opened after %d forged presentations", open, maxPresentations)
	}
	if s := findT(cheat.Snapshot(), ih); s.Done != 0 {
		t.Fatalf("cheat got %d bytes", s.Done)
	}
	honest := join("honest", 93, 187)
	sendBttBid(t, honest.Engine, ih, presentation(t, testKey(t, 91), testKey(t, 93), terms, ih, publisher.cl.PeerID(), honest.cl.PeerID(),
		connNonce(t, publisher.Engine, honest.cl.PeerID())))
	waitFor(t, honest.Engine, ih, 60*time.Second, "download after a valid presentation", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(honest.DataDir()+"-out", filepath.Base(root))))
}
