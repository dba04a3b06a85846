package market

// Issue 15's attacks on the market, each as it was reproduced against
// the code before the exposure bound (PROTOCOL.md §8.6): every test here
// failed there. Each logs the bytes served unpaid and the money lost.

import (
	"context"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// sink is an address outside the swarm a buyer empties its account to.
var sink = wallet.MustParseAddress("TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC")

// drain moves all of buyer i's ledger balance to sink (money stays in
// the ledger: sums are still conserved).
func (s *swarm) drain(t *testing.T, i int) {
	t.Helper()
	w := s.buyers[i].Wallet().(*wallet.Wallet)
	ctx := context.Background()
	b, err := w.Balance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Token.IsZero() {
		return
	}
	if _, err := w.Send(ctx, sink, b.Token); err != nil {
		t.Fatal(err)
	}
}

// fund leaves buyer i exactly n base units.
func (s *swarm) fund(t *testing.T, i int, n uint64) {
	t.Helper()
	s.drain(t, i)
	if n > 0 {
		if err := s.buyers[i].Wallet().(*wallet.Wallet).Faucet(context.Background(), amt(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// ledgerSum is every balance the swarm's money can be in.
func (s *swarm) ledgerSum(t *testing.T) wallet.Amount {
	t.Helper()
	var sum wallet.Amount
	for _, b := range s.balances(t) {
		sum = sum.AddSaturating(b)
	}
	b, err := s.e.ledger.Balance(context.Background(), sink)
	if err != nil {
		t.Fatal(err)
	}
	return sum.AddSaturating(b.Token)
}

// serveAsEngine serves up to n bytes to buyer i as the engine does: in
// steps of at most step, and never past the seller's headroom (its byte
// tripwire), both sides counting. payer false: the buyer never pays.
func (s *swarm) serveAsEngine(t *testing.T, l *link, n, step int64, payer bool, now time.Time) {
	t.Helper()
	for done := int64(0); done < n; {
		k := min(step, n-done)
		if h := l.a.SellHeadroom(); h >= 0 && h < k {
			k = h
		}
		if k <= 0 {
			k = min(step, n-done) // no paid service: free bytes, not counted
		}
		done += k
		l.a.ObserveSent(l.a.sell.sent.total+k, s.st.round)
		if payer {
			l.b.ObserveReceived(l.b.buy.recv.total + k)
		}
		l.flush(t, now)
	}
}

// settleSellerAll settles the seller's wallet and tells its market, as
// the engine does; it returns what the settlement moved and left short.
func (s *swarm) settleSellerAll(t *testing.T) (paid, short wallet.Amount) {
	t.Helper()
	ss, err := s.seller.Wallet().(*wallet.Wallet).Settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ss {
		if st.Record.Direction == wallet.Received && st.Err == nil {
			paid, short = paid.AddSaturating(st.Paid), short.AddSaturating(st.Shortfall)
			s.seller.Settled(st.Record.Counterparty, st.Record.Settled, st.Shortfall)
		}
	}
	return paid, short
}

// Case 1: a buyer whose wallet holds 1 MiB worth asks for 256 MiB of
// paid service and pays every cheque it owes; settlement then pays only
// what it holds. Before: every cheque accepted, credit to the cap, 256
// MiB served, 255 MiB worth lost. After: paid service stops at its cover.
func TestAttackUnfundedBuyer(t *testing.T) {
	s := newSwarm(t, 1, price)
	s.fund(t, 0, price) // 1 MiB at the price
	before := s.ledgerSum(t)
	l := s.links[0]
	s.bid(t, t0, 0, 2*price)
	for r := 1; r <= 64; r++ {
		now := t0.Add(time.Duration(r) * time.Second)
		s.round(t, now, 0)
		s.serveAsEngine(t, l, 4<<20, 256<<10, true, now)
	}
	l.b.PayAll()
	l.flush(t, t0.Add(time.Minute))
	sold := s.st.Sold
	owed := s.seller.Accounts()[0].Owed
	paid, short := s.settleSellerAll(t)
	lost := owed.SubFloor(paid)
	t.Logf("case 1: paid bytes served %d (%d MiB), owed %s, settled %s, lost %s", sold, sold>>20, owed, paid, lost)
	if sold > 1<<20 {
		t.Errorf("served %d paid bytes to a buyer holding 1 MiB worth", sold)
	}
	if !lost.IsZero() || !short.IsZero() {
		t.Errorf("lost %s (shortfall %s)", lost, short)
	}
	if after := s.ledgerSum(t); after.Cmp(before) != 0 {
		t.Fatalf("money not conserved: %s before, %s after", before, after)
	}
}

// Case 1, the shortfall: a buyer empties its account after the seller
// read its cover; the settlement comes up short. Before: it kept its
// award and was awarded on another torrent. After: it is cut on every
// connection and torrent of the seller.
func TestAttackShortSettlementCutsEverywhere(t *testing.T) {
	s := newSwarm(t, 1, price)
	s.fund(t, 0, 4*price)
	l := s.links[0]
	s.bid(t, t0, 0, 2*price)
	s.round(t, t0.Add(time.Second), 0)
	if !l.a.View().Awarded {
		t.Fatal("not awarded")
	}
	s.drain(t, 0) // within the cover's few seconds of cache
	s.serveAsEngine(t, l, 2<<20, 256<<10, true, t0.Add(time.Second))
	l.b.PayAll()
	l.flush(t, t0.Add(time.Second))
	paid, short := s.settleSellerAll(t)
	if short.IsZero() {
		t.Fatalf("settlement paid %s, no shortfall: the case tests nothing", paid)
	}
	// Another torrent of the same seller, the same buyer.
	ih2 := [20]byte{9}
	st2, bt2 := s.seller.NewAuction(ih2), s.buyers[0].NewAuction(ih2)
	l2 := newLink(st2, bt2, 1, 2)
	l2.a.SetAsk(askOf(price))
	l2.start(t, t0.Add(2*time.Second))
	if !l2.b.SetBid(t0.Add(2*time.Second), amt(2*price)) {
		t.Fatal("bid not sent")
	}
	l2.flush(t, t0.Add(2*time.Second))
	readCovers(t, s.seller, t0.Add(10*time.Second))
	st2.RunRound(t0.Add(10*time.Second), strategy.Uniform{}, amt(price), 1<<20,
		[]Candidate{{Key: l2.a.Key(), Session: l2.a, Interested: true, Since: t0}})
	l2.flush(t, t0.Add(10*time.Second))
	s.round(t, t0.Add(10*time.Second), 0)
	t.Logf("case 1 shortfall: settled %s, short %s; awarded after: torrent 1 %v, torrent 2 %v",
		paid, short, l.a.View().Awarded, l2.a.View().Awarded)
	if l2.a.View().Awarded || l.a.View().Awarded {
		t.Fatal("a payer whose settlement came up short was awarded again")
	}
}

// Case 3: five cheques of one base unit each. Before: credit doubled per
// cheque, 2 → 64 MiB. After: it grows by the bytes they paid for.
func TestAttackTinyChequesGrowCredit(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	l.a.ObserveSent(1<<20, 1) // owed 1000
	l.flush(t, t0)
	w := s.buyers[0].Wallet()
	for i := uint64(1); i <= 5; i++ {
		c, err := w.SignCheque(w.Token(), s.seller.Wallet().Address(), amt(i), w.ChainID())
		if err != nil {
			t.Fatal(err)
		}
		m := chequeMsg(c)
		l.a.Receive(t0.Add(time.Duration(i)*time.Second), mustEncode(t, &m))
	}
	credit := s.seller.Accounts()[0].Credit
	t.Logf("case 3: credit after five 1-unit cheques %d bytes (%d MiB)", credit, credit>>20)
	if credit > 2<<20+5*uint64(bytesFor(amt(1), amt(price))) {
		t.Fatalf("credit %d bytes after 5 base units paid", credit)
	}
}

// Case 4: an AWARD for a withdrawn bid, or for an earlier bid above the
// one in force, is not counted; the buyer pays nothing for it.
func TestAttackAwardForStaleBid(t *testing.T) {
	for _, tc := range []struct {
		name string
		next uint64 // the bid in force after the one awarded (0: withdrawn)
	}{{"withdrawn", 0}, {"lowered", price}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSwarm(t, 1, price)
			l := s.links[0]
			s.bid(t, t0, 0, 2*price) // seq 1
			s.bid(t, t0.Add(2*time.Second), 0, tc.next)
			l.b.Receive(t0.Add(3*time.Second), mustEncode(t, &bttbid.Award{Round: 1, Seq: 1, Price: amt(2 * price), Credit: amt(64 * price)}))
			l.b.ObserveReceived(0)
			l.b.ObserveReceived(20 << 20)
			l.b.PayAll()
			v := l.b.View()
			t.Logf("case 4 %s: awarded %v, paid %s for 20 MiB", tc.name, v.AwardedU, v.Spent)
			if v.AwardedU || !v.Spent.IsZero() {
				t.Fatalf("stale AWARD counted: awarded %v, paid %s", v.AwardedU, v.Spent)
			}
		})
	}
}

// Case 4: pay never passes the budget, nor our bid × the bytes received
// while awarded plus one credit step, whatever the seller serves.
func TestAttackBuyerOverspends(t *testing.T) {
	s := newSwarm(t, 1, price)
	l := s.links[0]
	bt := l.b.t
	bidAt := func(p uint64) strategy.Buyer {
		return strategy.BuyerFunc(func(r strategy.BuyerRound) []strategy.Bid {
			return []strategy.Bid{{ID: l.b.Key(), Price: amt(p).U256()}}
		})
	}
	in := BuyerInput{Now: t0, MaxPrice: amt(1e9), Balance: amt(1e18), Budget: amt(5 * price), Remaining: 1 << 40}
	bt.Bid(bidAt(2*price), in, []*Session{l.b})
	l.flush(t, t0)
	s.round(t, t0.Add(time.Second), 0)
	if !l.b.View().AwardedU {
		t.Fatal("not awarded")
	}
	s.serve(t, 0, 20<<20, 256<<10)
	l.b.PayAll()
	l.flush(t, t0)
	t.Logf("case 4 budget: paid %s for 20 MiB at %d/MiB with a budget of %d", bt.Spent, price, 5*price)
	if bt.Spent.Cmp(amt(5*price)) > 0 {
		t.Fatalf("spent %s past the budget %d", bt.Spent, 5*price)
	}

	// A seller awarding at our bid, which we then lower: pay follows the
	// bid in force.
	s2 := newSwarm(t, 1, 2*price)
	l2 := s2.links[0]
	s2.bid(t, t0, 0, 2*price)
	s2.round(t, t0.Add(time.Second), 0)
	s2.bid(t, t0.Add(2*time.Second), 0, price/10)
	s2.serve(t, 0, 20<<20, 256<<10)
	l2.b.PayAll()
	l2.flush(t, t0)
	limit := 20*price/10 + 2*2*price // bid × 20 MiB + one 2 MiB credit step at the award price
	t.Logf("case 4 lowered bid: paid %s for 20 MiB, limit %d", l2.b.View().Spent, limit)
	if l2.b.View().Spent.Cmp(amt(uint64(limit))) > 0 {
		t.Fatalf("paid %s, more than our bid × bytes + one credit step (%d)", l2.b.View().Spent, limit)
	}
}

// Case 5: a buyer that never pays reconnects after each suspension.
// Before: every new connection was awarded another credit. After: its
// debt follows the account.
func TestAttackDebtorReconnects(t *testing.T) {
	s := newSwarm(t, 1, price)
	l := s.links[0]
	bt := l.b.t
	now := t0
	for i := range 5 {
		if i > 0 {
			l.a.Disable("connection closed")
			l.b.Disable("connection closed")
			l = newLink(s.st, bt, 1, 2)
			l.a.SetAsk(askOf(price))
			l.start(t, now)
			s.links[0] = l
		}
		now = now.Add(time.Second)
		if !l.b.SetBid(now, amt(2*price)) {
			t.Fatal("bid not sent")
		}
		l.flush(t, now)
		now = now.Add(time.Second)
		s.round(t, now, 0)
		s.serveAsEngine(t, l, 4<<20, 256<<10, false, now)
	}
	a := s.seller.Accounts()[0]
	t.Logf("case 5: paid bytes served to a non-payer over 5 connections %d (%d MiB), debt %s", s.st.Sold, s.st.Sold>>20, a.Owed)
	if s.st.Sold > 2<<20 {
		t.Fatalf("served %d paid bytes to a debtor that reconnects, credit 2 MiB", s.st.Sold)
	}
}

// Case 2: a buyer with no funds buys a licence. Before: granted at once,
// the publisher's settlement then paid 0. After: refused.
func TestAttackLicenceWithoutFunds(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 7000, 0)
	s.drain(t, 0)
	before := s.ledgerSum(t)
	l := s.links[0]
	var res error = errPending
	if err := l.b.Pay(wallet.ForPurchase, amt(7000), "", func(err error) { res = err }); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t1)
	s.engineStep(t, t1)
	t.Logf("case 2: licensed %v, purchase %v", l.b.t.Licensed(), res)
	if l.b.t.Licensed() || res == nil || res == errPending {
		t.Fatalf("an unfunded purchase: licensed %v, result %v", l.b.t.Licensed(), res)
	}
	if em, _ := lastOf[*bttbid.ErrorMsg](l.ab); em == nil || em.Code != bttbid.CodeUnderpaid {
		t.Fatalf("answer %+v, want 407 underpaid", em)
	}
	if after := s.ledgerSum(t); after.Cmp(before) != 0 {
		t.Fatalf("money not conserved: %s before, %s after", before, after)
	}
	// A funded buyer gets it, and the publisher holds the money.
	s.fund(t, 0, 7000)
	res = errPending
	s.engineStep(t, t1) // (the shortfall stays until a settlement pays it)
	if l.b.t.Licensed() {
		t.Fatal("licensed with the shortfall unpaid")
	}
}

// Case 6: a throw-away key pledges the whole goal. Before: the campaign
// counted it, was funded, and the honest pledger paid. After: a pledge
// counts up to its pledger's cover. A pledge of 2^256 − 1 is refused.
func TestAttackUnfundedPledge(t *testing.T) {
	s, tm := commerceSwarm(t, 2, 0, 10000)
	s.drain(t, 1) // the throw-away key
	before := s.ledgerSum(t)
	pledge := func(i int, amount uint64, now time.Time) {
		t.Helper()
		l := s.links[i]
		if err := l.b.Pledge(now, amt(amount), nil); err != nil {
			t.Fatal(err)
		}
		l.flush(t, now)
		s.engineStep(t, now)
	}
	pledge(0, 3000, t0)
	pledge(1, 10000, t0)
	for range 3 {
		s.engineStep(t, t1)
	}
	c, _ := s.st.Campaign(t1)
	bal := s.balances(t)
	t.Logf("case 6: pledged (counted) %s of %s, funded %v; honest pledger's balance %s", c.Pledged, c.Goal, c.Funded, bal[1])
	if c.Funded || c.Pledged.Cmp(amt(3000)) != 0 {
		t.Fatalf("campaign %+v counts an unfunded pledge", c)
	}
	if bal[1].Cmp(amt(1e18)) != 0 {
		t.Fatalf("the honest pledger paid: balance %s", bal[1])
	}
	if after := s.ledgerSum(t); after.Cmp(before) != 0 {
		t.Fatalf("money not conserved: %s before, %s after", before, after)
	}
	// 2^256 − 1: an error, not silently dropped.
	w := s.buyers[0].Wallet()
	pl, err := w.SignPledge(tm.Payee, ih, wallet.MaxAmount(), tm.Goal, uint64(tm.Deadline.Unix()), uint64(t1.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	s.links[0].a.Receive(t1, mustEncode(t, pledgeMsg(pl)))
	em, _ := lastOf[*bttbid.ErrorMsg](decodeAll(t, s.links[0].a.TakeOutbox()))
	if em == nil || em.Code != bttbid.CodeInvalidField {
		t.Fatalf("pledge of 2^256-1 answered %+v, want 102 invalid_field", em)
	}
}

// Case 11: a bid at or above the ask runs a round at once (when none ran
// in the last second), not at the next 10 s boundary.
func TestBidActsAtOnce(t *testing.T) {
	s := newSwarm(t, 2, price)
	cfg := s.seller.Config()
	cfg.Round = 10 * time.Second
	if err := s.seller.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.round(t, t0, 0) // no bids yet
	s.bid(t, t0.Add(2*time.Second), 0, price/2)
	if s.st.Due(t0.Add(2 * time.Second)) {
		t.Fatal("a bid below the ask ran a round")
	}
	s.bid(t, t0.Add(2*time.Second), 1, 2*price)
	due := s.st.Due(t0.Add(2 * time.Second))
	t.Logf("case 11: round due 2 s after the last on a bid at the ask: %v", due)
	if !due {
		t.Fatal("a bid at the ask waits for the next round")
	}
	s.round(t, t0.Add(2*time.Second), 0)
	if !s.links[1].b.View().AwardedU {
		t.Fatal("not awarded by the early round")
	}
	if s.st.Due(t0.Add(2500 * time.Millisecond)) {
		t.Fatal("round due again within a second")
	}
}

// A payer whose cover is unknown (TRON without a vault) may owe at most
// the unsecured limit: by default one initial credit step at the price,
// or the configured amount.
func TestUnsecuredLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		unsecured uint64
		limit     int64 // paid bytes
	}{{"default", 0, 2 << 20}, {"configured", 1500, 1536 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSwarm(t, 1, price)
			cfg := s.seller.Config()
			cfg.Unsecured = amt(tc.unsecured)
			if err := s.seller.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			l := s.links[0]
			s.bid(t, t0, 0, 2*price)
			for r := 1; r <= 8; r++ {
				now := t0.Add(time.Duration(r) * time.Second)
				for _, addr := range s.seller.CoverDue(now) {
					s.seller.SetCover(addr, Cover{Known: false}, now) // what wallet.Cover says on TRON
				}
				s.round(t, now, 0)
				s.serveAsEngine(t, l, 4<<20, 256<<10, true, now)
			}
			t.Logf("unsecured %s: paid bytes served %d", tc.name, s.st.Sold)
			if s.st.Sold > tc.limit || s.st.Sold == 0 {
				t.Fatalf("served %d paid bytes under an unsecured limit of %d bytes", s.st.Sold, tc.limit)
			}
		})
	}
}

// A cover is read again once it is CoverTTL old while grants are judged
// on it, and at once (after coverRetry) when it is what binds.
func TestCoverRefresh(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	addr, _ := l.a.Address()
	if due := s.seller.CoverDue(t0.Add(time.Second)); len(due) != 0 {
		t.Fatalf("cover read again too soon: %v", due)
	}
	l.a.SellHeadroom() // a grant judged on it
	if due := s.seller.CoverDue(t0.Add(CoverTTL + time.Second)); len(due) != 1 || due[0] != addr {
		t.Fatalf("stale cover in use not read again: %v", due)
	}
	s.seller.SetCover(addr, Cover{Amount: amt(price), Known: true}, t0.Add(5*time.Second))
	l.a.SellHeadroom() // cover binds: 1 MiB
	if due := s.seller.CoverDue(t0.Add(6 * time.Second)); len(due) != 1 {
		t.Fatalf("binding cover not read again after a second: %v", due)
	}
	// A vault payer's cover is read again every VaultCoverMaxAge while it
	// owes us, though no grant is judged on it; once it owes nothing, not.
	at := t0.Add(10 * time.Second)
	s.seller.SetCover(addr, Cover{Amount: amt(10 * price), Known: true, Vault: true}, at)
	a := s.seller.accounts[addr]
	a.owed = amt(price)
	if due := s.seller.CoverDue(at.Add(VaultCoverMaxAge - time.Second)); len(due) != 0 {
		t.Fatalf("idle vault cover read again too soon: %v", due)
	}
	if due := s.seller.CoverDue(at.Add(VaultCoverMaxAge)); len(due) != 1 || due[0] != addr {
		t.Fatalf("idle vault cover of a payer owing us not read again: %v", due)
	}
	s.seller.SetCover(addr, Cover{Amount: amt(10 * price), Known: true, Vault: true, Settled: amt(price)}, at)
	if due := s.seller.CoverDue(at.Add(2 * VaultCoverMaxAge)); len(due) != 0 {
		t.Fatalf("idle vault cover of a payer owing nothing read again: %v", due)
	}
}

// Case 11, the first bid: a round that awarded nobody (here the one the
// connection started with) does not hold a bid at the ask back for a
// second (PROTOCOL.md §6.1, revision 2.3); once a round has awarded a
// buyer, a new bid waits out the second.
func TestFirstBidNotHeldBack(t *testing.T) {
	s := newSwarm(t, 2, price)
	cfg := s.seller.Config()
	cfg.Round = 10 * time.Second
	if err := s.seller.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.round(t, t0, 0) // no bids yet: awards nobody
	at := t0.Add(200 * time.Millisecond)
	s.bid(t, at, 0, 2*price)
	if !s.st.Due(at) {
		t.Fatal("the first bid at the ask waits a second after a round that awarded nobody")
	}
	s.round(t, at, 0)
	if !s.links[0].b.View().AwardedU {
		t.Fatal("not awarded by the early round")
	}
	next := at.Add(300 * time.Millisecond)
	s.bid(t, next, 1, 3*price)
	if s.st.Due(next) {
		t.Fatal("a second bid ran a round within a second of one that awarded a buyer")
	}
	if !s.st.Due(at.Add(EarlyGap)) {
		t.Fatal("the second bid's early round is not due after the gap")
	}
}
