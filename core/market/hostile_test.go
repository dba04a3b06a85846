package market

import (
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// countingWallet counts the wallet's book reads and writes of §16.
type countingWallet struct {
	Wallet
	pledges, pledgePaid, savePledge, payments, acceptTip int
}

func (c *countingWallet) Pledges(ih [20]byte) ([]wallet.Pledge, error) {
	c.pledges++
	return c.Wallet.Pledges(ih)
}

func (c *countingWallet) PledgePaid(ih [20]byte, payer, payee wallet.Address) (wallet.Amount, error) {
	c.pledgePaid++
	return c.Wallet.PledgePaid(ih, payer, payee)
}

func (c *countingWallet) SavePledge(p wallet.Pledge) error {
	c.savePledge++
	return c.Wallet.SavePledge(p)
}

func (c *countingWallet) Payments() ([]wallet.Payment, error) {
	c.payments++
	return c.Wallet.Payments()
}

func (c *countingWallet) AcceptTip(ch wallet.Cheque, n wallet.TipNote) (wallet.Amount, error) {
	c.acceptTip++
	return c.Wallet.AcceptTip(ch, n)
}

func (c *countingWallet) reset() { *c = countingWallet{Wallet: c.Wallet} }

// countVerify counts pledge signature checks for the rest of the test.
func countVerify(t *testing.T) *int {
	n := new(int)
	old := verifyPledge
	verifyPledge = func(p wallet.Pledge) error { *n++; return old(p) }
	t.Cleanup(func() { verifyPledge = old })
	return n
}

func testKey(t *testing.T, seed int) *wallet.Key {
	t.Helper()
	b := make([]byte, 32)
	b[0], b[29], b[30], b[31] = 7, byte(seed>>16), byte(seed>>8), byte(seed)
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// foreignPledge is a valid pledge of a throw-away key for tm's campaign.
func foreignPledge(t *testing.T, seed int, tm *Terms, amount uint64, at time.Time) wallet.Pledge {
	t.Helper()
	p, err := wallet.SignPledge(testKey(t, seed), tm.ChainID, tm.Token, tm.Payee, ih, amt(amount), tm.Goal,
		uint64(tm.Deadline.Unix()), uint64(at.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// campaignSwarm is commerceSwarm with the publisher's wallet counted and
// held pledges of throw-away keys in its book before the terms are set.
func campaignSwarm(t *testing.T, n int, goal uint64, held int) (*swarm, *Terms, *countingWallet) {
	t.Helper()
	s := newSwarm(t, n, 1)
	cw := &countingWallet{Wallet: s.seller.w}
	s.seller.w = cw
	tm := &Terms{Payee: cw.Address(), ChainID: cw.ChainID(), Token: cw.Token(), Goal: amt(goal),
		Deadline: time.Unix(t0.Add(time.Hour).Unix(), 0)}
	for i := range held {
		if err := cw.Wallet.SavePledge(foreignPledge(t, 1000+i, tm, 100, t0)); err != nil {
			t.Fatal(err)
		}
	}
	s.st.SetTerms(tm, t0)
	for _, l := range s.links {
		l.b.t.SetTerms(tm, t0)
	}
	return s, tm, cw
}

// TestResentPledgeCostsNothing (issue 18 item 2): a resent PLEDGE is
// answered with CAMPAIGN without a signature check or a read of the
// wallet; a new one costs one check and one write. Before, each resent
// pledge read the book twice and verified every held pledge twice.
func TestResentPledgeCostsNothing(t *testing.T) {
	const held = 50
	s, _, cw := campaignSwarm(t, 1, 1e6, held)
	if c, _ := s.st.Campaign(t0); c.Count != held {
		t.Fatalf("loaded %d pledges, want %d", c.Count, held)
	}
	l := s.links[0]
	if err := l.b.Pledge(t0, amt(1000), nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	pm, ok := lastOf[*bttbid.Pledge](l.ba)
	if !ok {
		t.Fatal("no PLEDGE sent")
	}
	raw := mustEncode(t, pm)
	verified := countVerify(t)
	cw.reset()
	for i := range 40 {
		l.a.Receive(t0.Add(time.Duration(i)*time.Second), raw)
		if _, ok := lastOf[*bttbid.Campaign](decodeAll(t, l.a.TakeOutbox())); !ok {
			t.Fatalf("resent pledge %d not answered with CAMPAIGN", i)
		}
	}
	if *verified != 0 || cw.pledges != 0 || cw.pledgePaid != 0 || cw.savePledge != 0 {
		t.Fatalf("40 resent pledges: %d signature checks, %d Pledges, %d PledgePaid reads, %d writes; want none",
			*verified, cw.pledges, cw.pledgePaid, cw.savePledge)
	}
	// A raised pledge: one check, one write, no read.
	if err := l.b.Pledge(t0.Add(time.Minute), amt(2000), nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0.Add(time.Minute))
	if *verified != 1 || cw.savePledge != 1 || cw.pledges != 0 || cw.pledgePaid != 0 {
		t.Fatalf("a raised pledge: %d checks, %d writes, %d Pledges, %d PledgePaid; want 1, 1, 0, 0",
			*verified, cw.savePledge, cw.pledges, cw.pledgePaid)
	}
	if p, ok := s.st.heldPledge(s.buyers[0].Wallet().Address()); !ok || p.Amount.Cmp(amt(2000)) != 0 {
		t.Fatalf("held pledge %+v", p)
	}
	if c, _ := s.st.Campaign(t0); c.Count != held+1 {
		t.Fatalf("campaign count %d, want %d", c.Count, held+1)
	}
}

// TestPledgeCap (issue 18 item 2): the publisher holds at most
// MaxPledges pledges per torrent; a new payer past it is refused with
// ERROR 402 naming the limit and nothing is stored, while a held payer
// may still replace its pledge.
func TestPledgeCap(t *testing.T) {
	s := newSwarm(t, 2, 1)
	cfg := s.seller.Config()
	cfg.MaxPledges = 3
	if err := s.seller.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	cw := &countingWallet{Wallet: s.seller.w}
	s.seller.w = cw
	tm := &Terms{Payee: cw.Address(), ChainID: cw.ChainID(), Token: cw.Token(), Goal: amt(1e6),
		Deadline: time.Unix(t0.Add(time.Hour).Unix(), 0)}
	for i := range 2 {
		if err := cw.Wallet.SavePledge(foreignPledge(t, 2000+i, tm, 100, t0)); err != nil {
			t.Fatal(err)
		}
	}
	s.st.SetTerms(tm, t0)
	for _, l := range s.links {
		l.b.t.SetTerms(tm, t0)
	}
	pledge := func(i int, amount uint64, now time.Time) error {
		t.Helper()
		var res error = errPending
		if err := s.links[i].b.Pledge(now, amt(amount), func(err error) { res = err }); err != nil {
			t.Fatal(err)
		}
		s.links[i].flush(t, now)
		return res
	}
	if err := pledge(0, 500, t0); err != nil {
		t.Fatalf("third pledge: %v", err)
	}
	err := pledge(1, 500, t0)
	if err == nil || !strings.Contains(err.Error(), "campaign full") || !strings.Contains(err.Error(), "3 pledges") {
		t.Fatalf("fourth pledge: %v, want refused as campaign full", err)
	}
	em, _ := lastOf[*bttbid.ErrorMsg](s.links[1].ab)
	if em == nil || em.Code != bttbid.CodeStaleCheque || em.Disable {
		t.Fatalf("refusal %+v, want 402 stale_cheque, disable 0", em)
	}
	ps, _ := cw.Wallet.Pledges(ih)
	if c, _ := s.st.Campaign(t0); c.Count != 3 || len(ps) != 3 {
		t.Fatalf("held %d, stored %d; want 3, 3", c.Count, len(ps))
	}
	if err := pledge(0, 900, t0.Add(time.Second)); err != nil {
		t.Fatalf("a held payer's raised pledge when full: %v", err)
	}
	if p, _ := s.st.heldPledge(s.buyers[0].Wallet().Address()); p.Amount.Cmp(amt(900)) != 0 {
		t.Fatalf("held %+v", p)
	}
}

// TestFundedOnlyFromPayee (issue 18 item 3): a FUNDED from a peer that
// is not the campaign's payee is ignored, and nothing of it is stored.
// Before, any peer's proof was checked and kept.
func TestFundedOnlyFromPayee(t *testing.T) {
	s, tm := commerceSwarm(t, 2, 0, 10000)
	if err := s.links[0].b.Pledge(t0, amt(3000), nil); err != nil {
		t.Fatal(err)
	}
	s.links[0].flush(t, t0)
	pa, pb := s.links[0].b.t, s.links[1].b.t
	l := newLink(pa, pb, 2, 3)
	l.start(t, t0)
	proof := foreignPledge(t, 3000, tm, 10000, t0)
	l.a.Receive(t0, mustEncode(t, &bttbid.Funded{InfoHash: ih, Pledges: []bttbid.Pledge{*pledgeMsg(proof)}}))
	if n := len(pa.c.proof); n != 0 {
		t.Fatalf("a non-payee's proof stored: %d pledges", n)
	}
	if c, _ := pa.Campaign(t0); c.Funded || c.Paid {
		t.Fatalf("campaign after a non-payee's FUNDED %+v", c)
	}
	if _, ok := lastOf[*bttbid.Tip](decodeAll(t, l.a.TakeOutbox())); ok {
		t.Fatal("paid on a non-payee's proof")
	}
}

// TestFundedProofBounded (issue 18 item 3): 40 FUNDED of 11 pledges each
// keep at most MaxPledges proof pledges. Before, all 440 were kept.
func TestFundedProofBounded(t *testing.T) {
	s, tm := commerceSwarm(t, 1, 0, 1e9)
	b := s.buyers[0]
	cfg := b.Config()
	cfg.MaxPledges = 100
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	l := s.links[0]
	if err := l.b.Pledge(t0, amt(1000), nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	for i := range 40 {
		var ps []bttbid.Pledge
		for j := range bttbid.MaxFundedPledges {
			ps = append(ps, *pledgeMsg(foreignPledge(t, 4000+i*bttbid.MaxFundedPledges+j, tm, 1, t0)))
		}
		l.b.Receive(t0.Add(time.Duration(i)*time.Second), mustEncode(t, &bttbid.Funded{InfoHash: ih, Pledges: ps}))
	}
	if n := len(l.b.t.c.proof); n > 100 {
		t.Fatalf("%d proof pledges held after 40 FUNDED, want at most 100", n)
	}
	if _, ok := lastOf[*bttbid.Tip](decodeAll(t, l.b.TakeOutbox())); ok {
		t.Fatal("paid on a proof below the goal")
	}
}

// TestTipSpamRefused (issue 18 item 4): a tip below the minimum is
// refused without a write; past the per-payer rate tips are refused with
// 104 until the bucket refills; accepted tips are recorded and the
// ledger moves exactly what was accepted. Before, every 1-unit tip was
// a durable write and a permanent record.
func TestTipSpamRefused(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 0, 0)
	before := s.balances(t)
	cw := &countingWallet{Wallet: s.seller.w}
	s.seller.w = cw
	l := s.links[0]
	tip := func(amount uint64, now time.Time) error {
		t.Helper()
		var res error = errPending
		if err := l.b.Pay(wallet.ForTip, amt(amount), "", func(err error) { res = err }); err != nil {
			t.Fatal(err)
		}
		l.flush(t, now)
		return res
	}
	for i := range 5 {
		if err := tip(1, t0.Add(time.Duration(i)*time.Second)); err == nil || !strings.Contains(err.Error(), "below the minimum") {
			t.Fatalf("1-unit tip: %v, want refused below the minimum", err)
		}
	}
	if cw.acceptTip != 0 || len(s.st.Payments()) != 0 {
		t.Fatalf("tips below the minimum: %d stored, %d recorded", cw.acceptTip, len(s.st.Payments()))
	}
	at := t0.Add(10 * time.Second)
	n := DefaultTipsPerMinute
	for i := range n + 3 {
		err := tip(5000, at)
		switch {
		case i < n && err != nil:
			t.Fatalf("tip %d: %v", i, err)
		case i >= n && (err == nil || !strings.Contains(err.Error(), "rate_limited")):
			t.Fatalf("tip %d past the rate: %v, want rate_limited", i, err)
		}
	}
	if cw.acceptTip != n || len(s.st.Payments()) != n {
		t.Fatalf("%d tips stored, %d recorded; want %d", cw.acceptTip, len(s.st.Payments()), n)
	}
	// A minute later the payer may tip again; that cheque also carries
	// the refused amounts, as bandwidth paid ahead (§16.3).
	if err := tip(5000, at.Add(time.Minute)); err != nil {
		t.Fatalf("tip after a minute: %v", err)
	}
	var recorded wallet.Amount
	for _, p := range s.st.Payments() {
		recorded = recorded.AddSaturating(p.Amount)
	}
	if want := amt(uint64(n+1) * 5000); recorded.Cmp(want) != 0 {
		t.Fatalf("recorded %s, want %s", recorded, want)
	}
	s.seller.w = cw.Wallet // the ledger's view
	s.settleSeller(t)
	after := s.balances(t)
	earned, spent := after[0].SubFloor(before[0]), before[1].SubFloor(after[1])
	// The refused 3 × 5000 and 5 × 1 ride on the last cheque.
	if want := amt(uint64(n+4)*5000 + 5); earned.Cmp(want) != 0 || spent.Cmp(want) != 0 {
		t.Fatalf("publisher earned %s, payer spent %s; want %s (%d tips, the refused paid ahead)", earned, spent, want, n+1)
	}
}

// TestHelloReadsPaymentsOnce (issue 18 item 4): the publisher of a paid
// torrent reads its payment records once, not at every version 2 HELLO,
// and still finds a buyer's purchase when it reconnects.
func TestHelloReadsPaymentsOnce(t *testing.T) {
	s, _ := commerceSwarm(t, 2, 7000, 0)
	l := s.links[0]
	if err := l.b.Pay(wallet.ForPurchase, amt(7000), "", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	cw := &countingWallet{Wallet: s.seller.w}
	s.seller.w = cw
	for i := range 6 {
		nl := newLink(s.st, s.links[i%2].b.t, 1, byte(2+i%2))
		nl.start(t, t0)
		if got := nl.a.deal.grantFor != nil; got != (i%2 == 0) {
			t.Fatalf("HELLO %d: awaiting a grant %v, want %v (buyer %d)", i, got, i%2 == 0, i%2)
		}
	}
	if cw.payments > 1 {
		t.Fatalf("6 HELLOs read the payment records %d times, want at most once", cw.payments)
	}
}
