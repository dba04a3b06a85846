package market

import (
	"context"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// commerceSwarm is a swarm of n peers of the seller, which publishes the
// torrent with the given price and goal (zero: none); every side knows
// the terms.
func commerceSwarm(t *testing.T, n int, price, goal uint64) (*swarm, *Terms) {
	t.Helper()
	s := newSwarm(t, n, 1)
	sw := s.seller.Wallet()
	tm := &Terms{Payee: sw.Address(), ChainID: sw.ChainID(), Token: sw.Token(), Price: amt(price)}
	if goal > 0 {
		tm.Goal, tm.Deadline = amt(goal), time.Unix(t0.Add(time.Hour).Unix(), 0)
	}
	s.st.SetTerms(tm, t0)
	for _, l := range s.links {
		l.b.t.SetTerms(tm, t0)
	}
	return s, tm
}

// balances returns the ledger balances of the seller and the buyers.
func (s *swarm) balances(t *testing.T) []wallet.Amount {
	t.Helper()
	ctx := context.Background()
	var out []wallet.Amount
	for _, m := range append([]*Market{s.seller}, s.buyers...) {
		b, err := m.Wallet().(*wallet.Wallet).Balance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Token)
	}
	return out
}

func (s *swarm) settleSeller(t *testing.T) {
	t.Helper()
	if _, err := s.seller.Wallet().(*wallet.Wallet).Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTipToPeer(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 0, 0)
	l := s.links[0]
	before := s.balances(t)
	var got error = errPending
	if err := l.b.Pay(wallet.ForTip, amt(5000), "thanks for seeding \u202e", func(err error) { got = err }); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	if got != nil {
		t.Fatalf("tip not acknowledged: %v", got)
	}
	in := s.st.Payments()
	if len(in) != 1 || !in[0].In || in[0].For != wallet.ForTip || in[0].Amount.Cmp(amt(5000)) != 0 ||
		in[0].Memo != "thanks for seeding \u202e" || in[0].Peer != s.buyers[0].Wallet().Address() {
		t.Fatalf("receiver's payments %+v", in)
	}
	if out := l.b.t.Payments(); len(out) != 1 || out[0].In || out[0].Amount.Cmp(amt(5000)) != 0 {
		t.Fatalf("payer's payments %+v", out)
	}
	// A tip is not bandwidth: the seller's debt view is unchanged, and
	// the buyer owes nothing more.
	acc := s.seller.Accounts()[0]
	if acc.Accepted.Cmp(amt(5000)) != 0 || acc.Owed.Cmp(amt(5000)) != 0 {
		t.Fatalf("seller account %+v", acc)
	}
	// The same TIP again (a retransmission) is answered with RECEIPT and
	// records nothing.
	tip, _ := lastOf[*bttbid.Tip](l.ba)
	l.a.Receive(t0, mustEncode(t, tip))
	l.flush(t, t0)
	if n := len(s.st.Payments()); n != 1 {
		t.Fatalf("%d payments after a replayed tip", n)
	}
	// Settled like any cheque: the ledger moves exactly the tip.
	s.settleSeller(t)
	after := s.balances(t)
	if d := after[0].SubFloor(before[0]); d.Cmp(amt(5000)) != 0 {
		t.Fatalf("seller's balance rose by %s, want 5000", d)
	}
	if d := before[1].SubFloor(after[1]); d.Cmp(amt(5000)) != 0 {
		t.Fatalf("payer's balance fell by %s, want 5000", d)
	}
}

var errPending = errorString("pending")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestTipRefusals(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(s *swarm, m *bttbid.Tip)
		code    bttbid.Code
		disable bool
	}{
		{"forged note", func(s *swarm, m *bttbid.Tip) { m.NoteSig[5] ^= 1 }, bttbid.CodeBadCheque, true},
		{"relabelled memo", func(s *swarm, m *bttbid.Tip) { m.Memo = "other" }, bttbid.CodeBadCheque, true},
		{"changed amount", func(s *swarm, m *bttbid.Tip) { m.Amount = amt(4999) }, bttbid.CodeBadCheque, true},
		{"other torrent", func(s *swarm, m *bttbid.Tip) { m.InfoHash[0] ^= 1 }, bttbid.CodeMisaddressed, true},
		{"forged cheque", func(s *swarm, m *bttbid.Tip) { m.Cheque.Sig[7] ^= 1 }, bttbid.CodeBadCheque, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := commerceSwarm(t, 1, 0, 0)
			l := s.links[0]
			if err := l.b.Pay(wallet.ForTip, amt(5000), "hi", nil); err != nil {
				t.Fatal(err)
			}
			raw := l.b.TakeOutbox()
			m := decode(t, raw[len(raw)-1]).(*bttbid.Tip)
			c.mutate(s, m)
			l.a.Receive(t0, mustEncode(t, m))
			em, ok := lastOf[*bttbid.ErrorMsg](decodeAll(t, l.a.TakeOutbox()))
			if !ok || em.Code != c.code || em.Disable != c.disable {
				t.Fatalf("answer %+v, want ERROR %s", em, c.code)
			}
			if n := len(s.st.Payments()); n != 0 {
				t.Fatalf("%d payments recorded", n)
			}
			if acc := s.seller.Accounts(); len(acc) > 0 && !acc[0].Accepted.IsZero() {
				t.Fatalf("cheque accepted: %+v", acc[0])
			}
		})
	}
}

func decodeAll(t *testing.T, raws [][]byte) []bttbid.Message {
	var out []bttbid.Message
	for _, r := range raws {
		out = append(out, decode(t, r))
	}
	return out
}

func TestPurchase(t *testing.T) {
	s, tm := commerceSwarm(t, 2, 7000, 0)
	l := s.links[0]
	before := s.balances(t)
	// Underpaid: refused, no licence, the payer's owed count drops it.
	var res error = errPending
	if err := l.b.Pay(wallet.ForPurchase, amt(6999), "", func(err error) { res = err }); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	if res == nil || res == errPending {
		t.Fatalf("underpaid purchase: %v", res)
	}
	if em, _ := lastOf[*bttbid.ErrorMsg](l.ab); em.Code != bttbid.CodeUnderpaid {
		t.Fatalf("answer %+v", em)
	}
	if l.b.t.Licensed() || len(s.st.Payments()) != 0 {
		t.Fatal("underpaid purchase licensed or recorded")
	}
	// The price: RECEIPT, then the grant; the buyer stores and presents.
	res = errPending
	if err := l.b.Pay(wallet.ForPurchase, amt(7000), "", func(err error) { res = err }); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t1)
	s.engineStep(t, t1) // the publisher redeems the purchase, then grants
	if res != nil {
		t.Fatalf("purchase: %v", res)
	}
	if !l.b.t.Licensed() {
		t.Fatal("no licence after paying the price")
	}
	lic, ok := lastOf[*bttbid.License](l.ba)
	if !ok || !lic.Presentation() {
		t.Fatalf("no presentation sent: %+v", lic)
	}
	// The seeder verifies it on its read path: our peer id is the seller,
	// and (version 3) the presentation signs our HELLO's nonce.
	n := l.a.Nonce()
	if err := VerifyPresentation(lic, tm, ih, pid(1), pid(2), t1, &n); err != nil {
		t.Fatalf("presentation: %v", err)
	}
	if VerifyPresentation(lic, tm, ih, pid(1), pid(2), t1, nil) == nil {
		t.Fatal("a version 3 presentation verified as a version 2 one")
	}
	// Bound to the connection: on another (other peer ids) it fails, as
	// it does late, or against other terms.
	if VerifyPresentation(lic, tm, ih, pid(1), pid(3), t1, &n) == nil {
		t.Fatal("presentation valid for another peer id")
	}
	if VerifyPresentation(lic, tm, ih, pid(1), pid(2), t1.Add(time.Hour), &n) == nil {
		t.Fatal("stale presentation accepted")
	}
	dear := *tm
	dear.Price = amt(8000)
	if VerifyPresentation(lic, &dear, ih, pid(1), pid(2), t1, &n) == nil {
		t.Fatal("presentation below the price accepted")
	}
	// The licence survives: another market on the same wallet finds it.
	other := newMarket(t, s.buyers[0].Wallet())
	ot := other.NewAuction(ih)
	ot.SetTerms(tm, t1)
	if !ot.Licensed() {
		t.Fatal("licence not stored")
	}
	// A tip is not a purchase: buyer 2 cannot get a licence by tipping.
	l2 := s.links[1]
	if err := l2.b.Pay(wallet.ForTip, amt(7000), "", nil); err != nil {
		t.Fatal(err)
	}
	l2.flush(t, t1)
	if l2.b.t.Licensed() {
		t.Fatal("a tip bought a licence")
	}
	// Money: the seller's ledger rises by what it accepted; the refused
	// 6999 was never accepted... until the buyer's next cheque, which
	// carries it as bandwidth paid ahead (§16.3): here the purchase.
	s.settleSeller(t)
	after := s.balances(t)
	spent1 := before[1].SubFloor(after[1])
	spent2 := before[2].SubFloor(after[2])
	earned := after[0].SubFloor(before[0])
	sum, _ := spent1.Add(spent2)
	if earned.Cmp(sum) != 0 {
		t.Fatalf("earned %s, spent %s + %s", earned, spent1, spent2)
	}
	if spent2.Cmp(amt(7000)) != 0 || spent1.Cmp(amt(7000+6999)) != 0 {
		t.Fatalf("spent %s and %s", spent1, spent2)
	}
}

var t1 = t0.Add(time.Minute)

func TestPledgeCampaign(t *testing.T) {
	s, _ := commerceSwarm(t, 3, 0, 10000)
	before := s.balances(t)
	pledge := func(i int, amount uint64, now time.Time) {
		t.Helper()
		l := s.links[i]
		var res error = errPending
		if err := l.b.Pledge(now, amt(amount), func(err error) { res = err }); err != nil {
			t.Fatal(err)
		}
		l.flush(t, now)
		s.engineStep(t, now) // the publisher reads the pledger's cover
		if res != nil {
			t.Fatalf("pledge %d: %v", i, res)
		}
	}
	pledge(0, 3000, t0)
	pledge(1, 4000, t0)
	c, _ := s.st.Campaign(t0)
	if c.Pledged.Cmp(amt(7000)) != 0 || c.Count != 2 || c.Funded {
		t.Fatalf("campaign %+v", c)
	}
	if bc, _ := s.links[1].b.t.Campaign(t0); bc.Pledged.Cmp(amt(7000)) != 0 || bc.Ours.Cmp(amt(4000)) != 0 {
		t.Fatalf("pledger's view %+v", bc)
	}
	// Below the goal nothing is payable: a forged proof (the pledgers'
	// own, without enough) is ignored.
	s.links[0].b.Receive(t0, mustEncode(t, &bttbid.Funded{InfoHash: ih, Pledges: []bttbid.Pledge{
		*pledgeMsg(s.st.c.pledges[0].Pledge), *pledgeMsg(s.st.c.pledges[1].Pledge)}}))
	if n := len(s.links[0].b.TakeOutbox()); n != 0 {
		t.Fatalf("paid against a proof below the goal (%d messages)", n)
	}
	// A raised pledge replaces the earlier one; a replayed old one is
	// stale; a forged one is refused.
	pledge(0, 3500, t0.Add(time.Second))
	old := pledgeMsg(wallet.Pledge{})
	for _, m := range s.links[0].ba {
		if p, ok := m.(*bttbid.Pledge); ok {
			old = p
			break
		}
	}
	s.links[0].a.Receive(t1, mustEncode(t, old))
	if em, _ := lastOf[*bttbid.ErrorMsg](decodeAll(t, s.links[0].a.TakeOutbox())); em.Code != bttbid.CodeStaleCheque {
		t.Fatalf("replayed old pledge: %+v", em)
	}
	forged := *old
	forged.Amount = amt(1e9)
	forged.Time++
	s.links[0].a.Receive(t1, mustEncode(t, &forged))
	if em, _ := lastOf[*bttbid.ErrorMsg](decodeAll(t, s.links[0].a.TakeOutbox())); em.Code != bttbid.CodeBadCheque {
		t.Fatalf("forged pledge: %+v", em)
	}
	s.links[0].a.state = Ready // the forgery turned the extension off
	if c, _ := s.st.Campaign(t1); c.Pledged.Cmp(amt(7500)) != 0 {
		t.Fatalf("campaign after replay and forgery %+v", c)
	}
	// The third pledge funds it: the publisher proves it to each pledger,
	// each pays its own pledge, once.
	pledge(2, 2500, t1)
	for _, l := range s.links {
		l.a.CommerceTick(t1)
		l.flush(t, t1)
	}
	c, _ = s.st.Campaign(t1)
	if !c.Funded || c.Pledged.Cmp(amt(10000)) != 0 {
		t.Fatalf("campaign %+v", c)
	}
	for i, want := range []uint64{3500, 4000, 2500} {
		bc, _ := s.links[i].b.t.Campaign(t1)
		if !bc.Paid || !bc.Funded {
			t.Fatalf("pledger %d: %+v", i, bc)
		}
		ps := s.links[i].b.t.Payments()
		if len(ps) != 1 || ps[0].For != wallet.ForPledge || ps[0].Amount.Cmp(amt(want)) != 0 {
			t.Fatalf("pledger %d payments %+v", i, ps)
		}
	}
	// Again: nothing more is paid.
	for _, l := range s.links {
		l.a.deal.fundedSent = false
		l.a.CommerceTick(t1)
		l.flush(t, t1)
	}
	s.settleSeller(t)
	after := s.balances(t)
	if d := after[0].SubFloor(before[0]); d.Cmp(amt(10000)) != 0 {
		t.Fatalf("publisher's balance rose by %s, want 10000", d)
	}
	for i, want := range []uint64{3500, 4000, 2500} {
		if d := before[i+1].SubFloor(after[i+1]); d.Cmp(amt(want)) != 0 {
			t.Fatalf("pledger %d paid %s, want %d", i, d, want)
		}
	}
}

func TestPledgeExpires(t *testing.T) {
	s, tm := commerceSwarm(t, 1, 0, 10000)
	late := tm.Deadline.Add(time.Second)
	if err := s.links[0].b.Pledge(late, amt(20000), nil); err == nil {
		t.Fatal("pledge after the deadline accepted locally")
	}
	if c, _ := s.st.Campaign(late); !c.Expired || c.Funded {
		t.Fatalf("campaign after the deadline %+v", c)
	}
}

func TestV1PeerGetsNoCommerce(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 0, 0)
	l := s.links[0]
	l.b.version = 1
	if err := l.b.Pay(wallet.ForTip, amt(1), "", nil); err != ErrNotV2 {
		t.Fatalf("pay on a v1 connection: %v", err)
	}
	// A v2 message on a v1 connection is ignored.
	l.a.version = 1
	l.b.version = 2
	if err := l.b.Pay(wallet.ForTip, amt(1), "", nil); err != nil {
		t.Fatal(err)
	}
	raw := l.b.TakeOutbox()
	l.a.Receive(t0, raw[len(raw)-1])
	if out := l.a.TakeOutbox(); len(out) != 0 || len(s.st.Payments()) != 0 {
		t.Fatalf("v1 side answered %d messages", len(out))
	}
}

// TestLostTipResent: a TIP lost on the wire (the connection dropped, the
// payer restarted) is sent again as a TIP, memo and all, when the
// payee's RECEIPT after HELLO shows it never got it.
func TestLostTipResent(t *testing.T) {
	s, _ := commerceSwarm(t, 1, 0, 0)
	l := s.links[0]
	if err := l.b.Pay(wallet.ForTip, amt(100), "first", nil); err != nil {
		t.Fatal(err)
	}
	l.flush(t, t0)
	if err := l.b.Pay(wallet.ForTip, amt(250), "lost then found", nil); err != nil {
		t.Fatal(err)
	}
	l.b.TakeOutbox() // the connection drops with the TIP
	l.b.Disable("connection closed")
	// The payer restarts: a new market on the same wallet.
	again := newMarket(t, s.buyers[0].Wallet())
	l2 := newLink(s.st, again.NewAuction(ih), 1, 2)
	l2.a.SetAsk(askOf(1))
	l2.start(t, t1)
	ps := s.st.Payments()
	if len(ps) != 2 || ps[1].Memo != "lost then found" || ps[1].Amount.Cmp(amt(250)) != 0 {
		t.Fatalf("payee's payments after the resend %+v", ps)
	}
	if acc := s.seller.Accounts()[0]; acc.Accepted.Cmp(amt(350)) != 0 || acc.Owed.Cmp(amt(350)) != 0 {
		t.Fatalf("payee's account %+v", acc)
	}
}
