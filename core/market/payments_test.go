package market

import (
	"context"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

const price = 1000 // base units per MiB

// serve moves n bytes from the seller to buyer i in steps, as the engine's
// sampling would, flushing after each.
func (s *swarm) serve(t *testing.T, i int, n, step int64) {
	l := s.links[i]
	for done := int64(0); done < n; {
		k := min(step, n-done)
		done += k
		l.a.ObserveSent(l.a.sell.sent.total+k, s.st.round)
		l.b.ObserveReceived(l.b.buy.recv.total + k)
		l.flush(t, t0)
	}
}

func paidSwarm(t *testing.T) *swarm {
	s := newSwarm(t, 1, price) // a lone bidder pays the reserve
	s.bid(t, t0, 0, 2*price)
	s.round(t, t0.Add(time.Second), 1)
	l := s.links[0]
	l.a.ObserveSent(0, 1)
	l.b.ObserveReceived(0)
	if !l.a.View().Awarded {
		t.Fatal("not awarded")
	}
	return s
}

func TestChequesPayServedBytes(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	const n = 20 << 20
	s.serve(t, 0, n, 256<<10)
	l.b.PayAll()
	l.flush(t, t0)
	want := amt(n / (1 << 20) * price)
	acc := s.seller.Accounts()[0]
	if acc.Accepted.Cmp(want) != 0 || acc.Owed.Cmp(want) != 0 {
		t.Fatalf("seller accepted %s owed %s, want %s", acc.Accepted, acc.Owed, want)
	}
	if v := l.b.View(); v.Spent.Cmp(want) != 0 || v.Bought != n {
		t.Fatalf("buyer spent %s bought %d", v.Spent, v.Bought)
	}
	if s.st.Earned.Cmp(want) != 0 {
		t.Fatalf("torrent earned %s", s.st.Earned)
	}
	r, ok := lastOf[*bttbid.Receipt](l.ab)
	if !ok || r.Payout.Cmp(want) != 0 {
		t.Fatalf("last receipt %+v", r)
	}
	// Credit grew by the bytes the cheques paid for (§8.3): 2 + 20 MiB.
	if acc.Credit != 22<<20 {
		t.Fatalf("credit %d bytes after many cheques", acc.Credit)
	}
	// The cheque book holds it: settlement moves exactly the sum.
	sw := s.seller.Wallet().(*wallet.Wallet)
	ctx := context.Background()
	before, _ := sw.Balance(ctx)
	if _, err := sw.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := sw.Balance(ctx)
	if d := after.Token.SubFloor(before.Token); d.Cmp(want) != 0 {
		t.Fatalf("ledger moved %s, want %s", d, want)
	}
}

func TestNeverPaysIsCut(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	// The buyer never pays: only the seller side counts.
	for k := int64(1); k <= 8; k++ {
		l.a.ObserveSent(k<<19, 1)
		l.flush(t, t0)
	}
	v := l.a.View()
	if v.Awarded || v.Sold > 2<<20+1<<19 {
		t.Fatalf("awarded %v, sold %d: paid service past the credit", v.Awarded, v.Sold)
	}
	if em, ok := lastOf[*bttbid.ErrorMsg](l.ab); !ok || em.Code != bttbid.CodeCreditExceeded || em.Disable {
		t.Fatalf("no ERROR 404: %+v", em)
	}
	// Suspended: no award in the next rounds, then cut after the grace.
	for r := 2; r <= 5; r++ {
		s.round(t, t0.Add(time.Duration(r)*time.Second), 0)
		if l.a.View().Awarded {
			t.Fatal("suspended buyer awarded again")
		}
	}
	if !l.a.Cut() {
		t.Fatal("non-payer not cut after the grace")
	}
}

func TestCheaters(t *testing.T) {
	cases := []struct {
		name string
		// cheat builds the cheque to send from a valid one of payout 1000.
		cheat func(s *swarm, c *bttbid.Cheque)
		code  bttbid.Code
	}{
		{"forged signature", func(s *swarm, c *bttbid.Cheque) { c.Sig[10] ^= 1 }, bttbid.CodeBadCheque},
		{"wrong beneficiary", func(s *swarm, c *bttbid.Cheque) { c.Beneficiary[3] ^= 1 }, bttbid.CodeMisaddressed},
		{"wrong chain", func(s *swarm, c *bttbid.Cheque) { c.ChainID = bttbid.ChainNile }, bttbid.CodeMisaddressed},
		{"excessive", func(s *swarm, c *bttbid.Cheque) {
			w := s.buyers[0].Wallet()
			wc, _ := w.SignCheque(w.Token(), s.seller.Wallet().Address(), amt(1e15), w.ChainID())
			c.Payout, c.Sig = wc.Cumulative, bttbid.Signature(wc.Signature)
		}, bttbid.CodeExcessiveCheque},
		// A path that stores nothing checks the signature itself.
		{"forged excessive", func(s *swarm, c *bttbid.Cheque) {
			w := s.buyers[0].Wallet()
			wc, _ := w.SignCheque(w.Token(), s.seller.Wallet().Address(), amt(1e15), w.ChainID())
			c.Payout, c.Sig = wc.Cumulative, bttbid.Signature(wc.Signature)
			c.Sig[10] ^= 1
		}, bttbid.CodeBadCheque},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := paidSwarm(t)
			l := s.links[0]
			l.a.ObserveSent(1<<20, 1) // 1 MiB served: owed 1000
			w := s.buyers[0].Wallet()
			wc, err := w.SignCheque(w.Token(), s.seller.Wallet().Address(), amt(price), w.ChainID())
			if err != nil {
				t.Fatal(err)
			}
			m := chequeMsg(wc)
			c := &m
			tc.cheat(s, c)
			b, _ := bttbid.Encode(c)
			l.a.TakeOutbox()
			l.a.Receive(t0, b)
			out := l.a.TakeOutbox()
			if len(out) == 0 {
				t.Fatal("no answer")
			}
			em, ok := decode(t, out[len(out)-1]).(*bttbid.ErrorMsg)
			if !ok || em.Code != tc.code {
				t.Fatalf("answer %+v, want ERROR %d", em, tc.code)
			}
			acc := s.seller.Accounts()[0]
			if !acc.Accepted.IsZero() || acc.Credit != 2<<20 {
				t.Fatalf("accepted %s credit %d after a bad cheque", acc.Accepted, acc.Credit)
			}
			if l.a.View().Awarded {
				t.Fatal("paid service continues after a bad cheque")
			}
		})
	}
	t.Run("replay and decrease", func(t *testing.T) {
		s := paidSwarm(t)
		l := s.links[0]
		w := s.buyers[0].Wallet()
		sign := func(n uint64) []byte {
			wc, err := w.SignCheque(w.Token(), s.seller.Wallet().Address(), amt(n), w.ChainID())
			if err != nil {
				t.Fatal(err)
			}
			m := chequeMsg(wc)
			b, _ := bttbid.Encode(&m)
			return b
		}
		l.a.ObserveSent(2<<20, 1)
		low, high := sign(500), sign(1500)
		l.a.Receive(t0, high)
		l.a.TakeOutbox()
		credit := s.seller.Accounts()[0].Credit
		l.a.Receive(t0, high) // replay: a RECEIPT, no credit
		if r, ok := decode(t, l.a.TakeOutbox()[0]).(*bttbid.Receipt); !ok || r.Payout.String() != "1500" {
			t.Fatalf("replay answered %v", r)
		}
		l.a.Receive(t0, low) // decrease
		if em, ok := decode(t, l.a.TakeOutbox()[0]).(*bttbid.ErrorMsg); !ok || em.Code != bttbid.CodeStaleCheque {
			t.Fatalf("decrease answered %+v", em)
		}
		acc := s.seller.Accounts()[0]
		if acc.Accepted.String() != "1500" || acc.Credit != credit {
			t.Fatalf("accepted %s credit %d (was %d)", acc.Accepted, acc.Credit, credit)
		}
	})
}

func TestBadPieceStopsPayment(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	s.serve(t, 0, 3<<18, 1<<18) // below half the credit: no cheque yet
	l.b.BadPiece()
	l.flush(t, t0)
	if em, ok := lastOf[*bttbid.ErrorMsg](l.ba); !ok || em.Code != bttbid.CodeBadPiece || !em.Disable {
		t.Fatalf("no ERROR 405: %+v", em)
	}
	l.b.PayAll()
	if _, ok := lastOf[*bttbid.Cheque](l.ba); ok {
		t.Fatal("a cheque went to the garbage seller")
	}
	if l.a.State() != Disabled || l.b.State() != Disabled {
		t.Fatalf("states %s %s", l.a.State(), l.b.State())
	}
}

// TestBadPieceDuringAwardStopsPayment: a hash failure from a seller that
// awards us, whatever we already paid it, stops every further cheque: the
// cumulative total stays where it was and bytes received afterwards are
// neither counted nor paid.
func TestBadPieceDuringAwardStopsPayment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  int64 // bytes served (and paid as due) before the bad piece
		cheques bool  // a cheque went out before the bad piece
	}{
		{"before any cheque", 3 << 18, false},
		{"after the first cheque", 2 << 20, true},
		{"after several cheques", 12 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := paidSwarm(t)
			l := s.links[0]
			s.serve(t, 0, tc.before, 1<<18)
			v := l.b.View()
			if !v.AwardedU {
				t.Fatal("the seller does not award the buyer")
			}
			if got := !v.Spent.IsZero(); got != tc.cheques {
				t.Fatalf("spent %s before the bad piece, want cheques=%v", v.Spent, tc.cheques)
			}
			spent, bought := v.Spent, v.Bought
			accepted := s.seller.Accounts()[0].Accepted
			if accepted.Cmp(spent) != 0 {
				t.Fatalf("seller accepted %s, buyer spent %s", accepted, spent)
			}
			nCheques := countOf[*bttbid.Cheque](l.ba)
			l.b.BadPiece()
			l.flush(t, t0)
			s.serve(t, 0, 4<<20, 1<<18) // more bytes arrive after the failure
			l.b.PayAll()
			l.flush(t, t0)
			if n := countOf[*bttbid.Cheque](l.ba); n != nCheques {
				t.Fatalf("%d cheques after the bad piece", n-nCheques)
			}
			v = l.b.View()
			if v.Spent.Cmp(spent) != 0 || v.Bought != bought || v.AwardedU {
				t.Fatalf("after the bad piece: spent %s (was %s) bought %d (was %d) awardedU %v", v.Spent, spent, v.Bought, bought, v.AwardedU)
			}
			if got := s.seller.Accounts()[0].Accepted; got.Cmp(accepted) != 0 {
				t.Fatalf("seller accepted %s after the bad piece, had %s", got, accepted)
			}
		})
	}
}

func countOf[T bttbid.Message](ms []bttbid.Message) int {
	n := 0
	for _, m := range ms {
		if _, ok := m.(T); ok {
			n++
		}
	}
	return n
}

func TestRestartResumes(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	s.serve(t, 0, 4<<20, 256<<10)
	l.b.PayAll()
	l.flush(t, t0)
	paid := s.seller.Accounts()[0].Accepted
	if paid.IsZero() {
		t.Fatal("nothing paid")
	}
	// Restart the seller: a new market on the same cheque book.
	m2 := newMarket(t, s.e.wallet("s", 1))
	t2 := m2.NewAuction(ih)
	bt := s.buyers[0].NewAuction(ih)
	l2 := newLink(t2, bt, 1, 2)
	l2.a.SetAsk(askOf(price))
	l2.start(t, t0)
	if r, ok := lastOf[*bttbid.Receipt](l2.ab); !ok || r.Payout.Cmp(paid) != 0 {
		t.Fatalf("restarted seller's RECEIPT %+v, want payout %s", r, paid)
	}
	if !l2.b.SetBid(t0.Add(5*time.Second), amt(2*price)) {
		t.Fatal("bid not sent")
	}
	l2.flush(t, t0)
	s2 := &swarm{e: s.e, seller: m2, st: t2, links: []*link{l2}, buyers: s.buyers, reserve: price}
	s2.round(t, t0.Add(7*time.Second), 0)
	l2.a.ObserveSent(0, t2.round)
	l2.b.ObserveReceived(0)
	s2.serve(t, 0, 2<<20, 256<<10)
	l2.b.PayAll()
	l2.flush(t, t0)
	c, ok := lastOf[*bttbid.Cheque](l2.ba)
	want := paid.AddSaturating(amt(2 * price))
	if !ok || c.Payout.Cmp(want) != 0 {
		t.Fatalf("cheque after restart %+v, want cumulative %s", c, want)
	}
	if acc := m2.Accounts()[0]; acc.Accepted.Cmp(want) != 0 {
		t.Fatalf("restarted seller accepted %s", acc.Accepted)
	}
}

// TestHeadroom checks the byte distances the engine arms its tripwires
// with: the seller's to the credit limit, the buyer's to half the credit.
func TestHeadroom(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	// Awarded at the reserve (price 1000/MiB) with the initial 2 MiB credit.
	if h := l.a.SellHeadroom(); h != 2<<20 {
		t.Fatalf("seller headroom %d, want %d", h, 2<<20)
	}
	if h := l.b.BuyHeadroom(); h != 1<<20 {
		t.Fatalf("buyer headroom %d, want %d", h, 1<<20)
	}
	s.serve(t, 0, 512<<10, 512<<10)
	if h := l.a.SellHeadroom(); h != 3<<19 {
		t.Fatalf("seller headroom after 512 KiB %d, want %d", h, 3<<19)
	}
	if h := l.b.BuyHeadroom(); h != 1<<19 {
		t.Fatalf("buyer headroom after 512 KiB %d, want %d", h, 1<<19)
	}
	// At half the credit the buyer pays; the credit grows by the 1 MiB
	// the cheque paid for (§8.3).
	s.serve(t, 0, 512<<10, 512<<10)
	if h := l.b.BuyHeadroom(); h != 3<<19 {
		t.Fatalf("buyer headroom after its cheque %d, want %d (half of 3 MiB)", h, 3<<19)
	}
	if h := l.a.SellHeadroom(); h != 3<<20 {
		t.Fatalf("seller headroom after the cheque %d, want %d", h, 3<<20)
	}
	// Nothing is metered without an award.
	fresh := newSwarm(t, 1, price)
	if h := fresh.links[0].a.SellHeadroom(); h != -1 {
		t.Fatalf("headroom %d without an award", h)
	}
	if h := fresh.links[0].b.BuyHeadroom(); h != -1 {
		t.Fatalf("buyer headroom %d without an award", h)
	}
}

// TestSuspendedBuyerResumes: a fast transfer overruns the credit before
// the buyer's cheque arrives (bytes in flight); the seller suspends paid
// service, and the cheque the buyer sends on ERROR 404 restores it at
// once, in the same round, as a new epoch at the same price.
func TestSuspendedBuyerResumes(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	// 3 MiB leave the seller before the buyer has seen any of them.
	l.a.ObserveSent(3<<20, s.st.round)
	if l.a.View().Awarded {
		t.Fatal("still awarded past the credit")
	}
	awards := countOf[*bttbid.Award](l.ab)
	// Only now do the bytes reach the buyer, then the ERROR 404 behind
	// them: it pays everything, the seller accepts and re-awards.
	l.b.ObserveReceived(3 << 20)
	l.flush(t, t0)
	v := l.a.View()
	if !v.Awarded {
		t.Fatalf("not awarded again after paying: %+v", v)
	}
	if got := countOf[*bttbid.Award](l.ab); got != awards+1 {
		t.Fatalf("%d AWARDs after the cheque, want %d", got, awards+1)
	}
	a, _ := lastOf[*bttbid.Award](l.ab)
	if a.Round != s.st.round || a.Price.Cmp(amt(price)) != 0 {
		t.Fatalf("re-award %+v, want round %d price %d", a, s.st.round, price)
	}
	if !l.b.View().AwardedU {
		t.Fatal("buyer does not see the award")
	}
	// Paid: 2 MiB (to the suspension) at the price; the third MiB was
	// written after the epoch ended on the seller's side but before the
	// ERROR 404 reached the buyer, and the buyer paid it: the seller
	// accepted it as within owed + credit.
	acc := s.seller.Accounts()[0]
	if acc.Accepted.Cmp(amt(3*price)) != 0 {
		t.Fatalf("accepted %s, want %d", acc.Accepted, 3*price)
	}
	// The new epoch is metered: 1 MiB more is owed at the price.
	s.serve(t, 0, 1<<20, 256<<10)
	l.b.PayAll()
	l.flush(t, t0)
	if acc := s.seller.Accounts()[0]; acc.Accepted.Cmp(amt(4*price)) != 0 {
		t.Fatalf("accepted %s after the new epoch, want %d", acc.Accepted, 4*price)
	}
}

// TestOlderReadingIgnored: a message's stream position can be older than
// a sample the engine took meanwhile; the bytes between are not counted
// twice (the buyer once paid 271 MiB for a 256 MiB download that way).
func TestOlderReadingIgnored(t *testing.T) {
	s := paidSwarm(t)
	l := s.links[0]
	l.b.ObserveReceived(1 << 19)
	l.b.ObserveReceived(1 << 20)
	l.b.ReceiveAt(t0, mustEncode(t, &bttbid.Ask{Price: amt(price), RoundLength: 10 * time.Second, Credit: 2 << 20, Cap: 64 << 20, Slots: 1}), 1<<19)
	l.b.ObserveReceived(3 << 19)
	if v := l.b.View(); v.Bought != 3<<19 {
		t.Fatalf("bought %d after readings 512K, 1M, 512K (old), 1.5M; want %d", v.Bought, 3<<19)
	}
	l.a.ObserveSent(1<<20, s.st.round)
	l.a.ObserveSent(1<<19, s.st.round)
	l.a.ObserveSent(3<<19, s.st.round)
	if v := l.a.View(); v.Sold != 3<<19 {
		t.Fatalf("sold %d, want %d", v.Sold, 3<<19)
	}
}

func mustEncode(t *testing.T, m bttbid.Message) []byte {
	t.Helper()
	b, err := bttbid.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
