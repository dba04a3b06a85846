package market

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

var t0 = time.Unix(1764000000, 0)

type env struct {
	t      testing.TB
	ledger *local.Ledger
	dir    string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	l, err := local.Open(filepath.Join(dir, "ledger.json"), wallet.MustParseAddress(wallet.DefaultBTTContract), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ledger: l, dir: dir}
}

// wallet opens (or reopens) the wallet named name with a fixed key.
func (e *env) wallet(name string, seed byte) *wallet.Wallet {
	e.t.Helper()
	b := make([]byte, 32)
	b[31] = seed
	b[0] = 1
	k, err := wallet.KeyFromBytes(b)
	if err != nil {
		e.t.Fatal(err)
	}
	book, err := wallet.OpenChequeBook(filepath.Join(e.dir, name+".db"), time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	return wallet.New(k, book, e.ledger)
}

func testConfig() Config {
	c := DefaultConfig()
	c.Round = time.Second
	c.Slots = 1
	return c
}

func newMarket(t testing.TB, w Wallet) *Market {
	t.Helper()
	m, err := New(testConfig(), w)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var ih = [20]byte{1, 2, 3}

func pid(b byte) [20]byte { return [20]byte{'-', 'B', 'D', b} }

// link connects peer a (on one side) with peer b (its mirror on the other).
type link struct {
	a, b   *Session
	ab, ba []bttbid.Message // everything that crossed, decoded
}

func newLink(ta, tb *Auction, ida, idb byte) *link {
	a := ta.NewSession(fmt.Sprintf("b%d", idb), pid(ida), pid(idb), t0)
	b := tb.NewSession(fmt.Sprintf("a%d", ida), pid(idb), pid(ida), t0)
	return &link{a: a, b: b}
}

func decode(t *testing.T, raw []byte) bttbid.Message {
	m, err := bttbid.Decode(raw)
	if err != nil {
		t.Fatalf("peer sent an undecodable message: %v", err)
	}
	return m
}

// flush delivers queued messages both ways until both boxes are empty.
func (l *link) flush(t *testing.T, now time.Time) {
	t.Helper()
	for range 20 {
		ab, ba := l.a.TakeOutbox(), l.b.TakeOutbox()
		if len(ab) == 0 && len(ba) == 0 {
			return
		}
		for _, raw := range ab {
			l.ab = append(l.ab, decode(t, raw))
			l.b.Receive(now, raw)
		}
		for _, raw := range ba {
			l.ba = append(l.ba, decode(t, raw))
			l.a.Receive(now, raw)
		}
	}
	t.Fatal("messages never stopped")
}

func (l *link) start(t *testing.T, now time.Time) {
	l.a.Start(now)
	l.b.Start(now)
	l.flush(t, now)
}

func lastOf[T bttbid.Message](ms []bttbid.Message) (T, bool) {
	var zero T
	for i := len(ms) - 1; i >= 0; i-- {
		if m, ok := ms[i].(T); ok {
			return m, true
		}
	}
	return zero, false
}

func amt(n uint64) wallet.Amount { return wallet.NewAmount(n) }

func askOf(price uint64) *bttbid.Ask {
	return &bttbid.Ask{Price: amt(price), RoundLength: time.Second, Credit: 2 << 20, Cap: 64 << 20}
}

func TestHandshakeAndAsk(t *testing.T) {
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	ts, tb := ms.NewAuction(ih), mb.NewAuction(ih)
	l := newLink(ts, tb, 1, 2)
	l.a.SetAsk(askOf(10)) // before READY: held back
	if len(l.a.TakeOutbox()) != 0 {
		t.Fatal("ASK sent before HELLO")
	}
	l.start(t, t0)
	if l.a.State() != Ready || l.b.State() != Ready {
		t.Fatalf("states %s %s, want ready", l.a.State(), l.b.State())
	}
	if addr, ok := l.b.Address(); !ok || addr != ms.Wallet().Address() {
		t.Fatalf("buyer sees seller address %s", addr)
	}
	ask, ok := lastOf[*bttbid.Ask](l.ab)
	if !ok || ask.Price.String() != "10" {
		t.Fatalf("no ASK 10 reached the buyer: %v", l.ab)
	}
	if v := l.b.View(); v.TheirAsk.String() != "10" {
		t.Fatalf("buyer view ask %s", v.TheirAsk)
	}
	// Same ASK again: nothing sent; changed: sent.
	l.a.SetAsk(askOf(10))
	if n := len(l.a.TakeOutbox()); n != 0 {
		t.Fatalf("unchanged ASK resent (%d)", n)
	}
	l.a.SetAsk(askOf(12))
	l.flush(t, t0)
	if v := l.b.View(); v.TheirAsk.String() != "12" {
		t.Fatalf("buyer view ask %s after change", v.TheirAsk)
	}
}

func TestBadHello(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(h *bttbid.Hello)
		code   bttbid.Code
	}{
		{"wrong chain", func(h *bttbid.Hello) { h.ChainID = bttbid.ChainNile }, bttbid.CodeWrongChain},
		{"wrong token", func(h *bttbid.Hello) { h.Token[5] ^= 1 }, bttbid.CodeWrongToken},
		{"stale", func(h *bttbid.Hello) { h.Time -= 3600 }, bttbid.CodeStaleHello},
		{"forged", func(h *bttbid.Hello) { h.Address[7] ^= 1 }, bttbid.CodeBadSignature},
		{"reflected", func(h *bttbid.Hello) {}, bttbid.CodeBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
			l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
			l.a.Start(t0)
			l.b.Start(t0)
			raw := l.b.TakeOutbox()
			h := decode(t, raw[0]).(*bttbid.Hello)
			if tc.name == "reflected" {
				// The seller's own HELLO sent back to it.
				h = decode(t, l.a.outbox[0]).(*bttbid.Hello)
			}
			tc.mutate(h)
			b, err := bttbid.Encode(h)
			if err != nil {
				t.Fatal(err)
			}
			l.a.Receive(t0, b)
			out := l.a.TakeOutbox()
			em, ok := decode(t, out[len(out)-1]).(*bttbid.ErrorMsg)
			if !ok || em.Code != tc.code || !em.Disable {
				t.Fatalf("answer %+v, want ERROR %d disable", em, tc.code)
			}
			if l.a.State() != Disabled {
				t.Fatalf("state %s, want disabled", l.a.State())
			}
			// Later messages are ignored and nothing more is sent.
			l.a.Receive(t0, b)
			l.a.SetAsk(askOf(1))
			if n := len(l.a.TakeOutbox()); n != 0 {
				t.Fatalf("%d messages sent after disable", n)
			}
		})
	}
}

func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	ms, mb := newMarket(t, e.wallet("s", 1)), newMarket(t, e.wallet("b", 2))
	cases := []struct {
		name    string
		payload []byte
		code    bttbid.Code // 0: ignored silently
		disable bool
	}{
		{"garbage", []byte("li1ee"), bttbid.CodeMalformed, true},
		{"truncated", []byte("d1:t3:bi"), bttbid.CodeMalformed, true},
		{"oversized", append([]byte("d1:t3:bid"), make([]byte, 5000)...), bttbid.CodeTooLarge, true},
		{"unknown type", []byte("d1:t4:zzzze"), 0, false},
		{"bad field", []byte("d5:price1:\x003:seqi1e1:t3:bide"), bttbid.CodeInvalidField, true},
		{"bid without ask", []byte("d5:price1:\x013:seqi1e1:t3:bide"), bttbid.CodeNotSelling, false},
		{"award never bid", []byte("d6:credit0:5:price1:\x011:ri1e3:seqi9e1:t5:awarde"), bttbid.CodeBadAward, true},
		{"second hello", nil, bttbid.CodeUnexpected, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
			l.a.Start(t0)
			l.b.Start(t0)
			hello := l.b.outbox[0]
			l.flush(t, t0)
			p := tc.payload
			if p == nil {
				p = hello
			}
			l.a.Receive(t0, p)
			out := l.a.TakeOutbox()
			if tc.code == 0 {
				if len(out) != 0 || l.a.State() != Ready {
					t.Fatalf("not ignored: %d messages, state %s", len(out), l.a.State())
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d answers, want one ERROR", len(out))
			}
			em := decode(t, out[0]).(*bttbid.ErrorMsg)
			if em.Code != tc.code || em.Disable != tc.disable {
				t.Fatalf("ERROR %d disable=%v, want %d %v", em.Code, em.Disable, tc.code, tc.disable)
			}
			if want := map[bool]State{true: Disabled, false: Ready}[tc.disable]; l.a.State() != want {
				t.Fatalf("state %s, want %s", l.a.State(), want)
			}
		})
	}
	t.Run("before hello", func(t *testing.T) {
		l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
		l.a.Start(t0)
		l.a.TakeOutbox()
		l.a.Receive(t0, []byte("d5:price1:\x013:seqi1e1:t3:bide"))
		em := decode(t, l.a.TakeOutbox()[0]).(*bttbid.ErrorMsg)
		if em.Code != bttbid.CodeUnexpected || l.a.State() != Disabled {
			t.Fatalf("got %+v, state %s", em, l.a.State())
		}
	})
	t.Run("hello timeout", func(t *testing.T) {
		l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
		l.a.Start(t0)
		l.a.Tick(t0.Add(10 * time.Second))
		if l.a.State() != HelloSent {
			t.Fatal("timed out early")
		}
		l.a.Tick(t0.Add(31 * time.Second))
		if l.a.State() != Disabled {
			t.Fatalf("state %s after 31 s without HELLO", l.a.State())
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
		l.start(t, t0)
		unknown := []byte("d1:t4:zzzze")
		for range rateBurst - 2 { // its HELLO and AUTH (version 3) took two
			l.a.Receive(t0, unknown)
		}
		if n := len(l.a.TakeOutbox()); n != 0 {
			t.Fatalf("burst of %d answered with %d messages", rateBurst, n)
		}
		for range 50 {
			l.a.Receive(t0, unknown)
		}
		out := l.a.TakeOutbox()
		if len(out) != 1 {
			t.Fatalf("%d answers to the excess, want one ERROR 104", len(out))
		}
		if em := decode(t, out[0]).(*bttbid.ErrorMsg); em.Code != bttbid.CodeRateLimited || em.Disable {
			t.Fatalf("got %+v", em)
		}
		for range rateDisable + 1 {
			l.a.Receive(t0, unknown)
		}
		if l.a.State() != Disabled {
			t.Fatalf("state %s at ten times the rate", l.a.State())
		}
	})
}

// swarm is one seller market and several buyer markets, linked.
type swarm struct {
	e       *env
	seller  *Market
	st      *Auction
	links   []*link
	buyers  []*Market
	reserve uint64
}

func newSwarm(t *testing.T, n int, ask uint64) *swarm {
	e := newEnv(t)
	s := &swarm{e: e, seller: newMarket(t, e.wallet("s", 1)), reserve: ask}
	s.st = s.seller.NewAuction(ih)
	for i := range n {
		w := e.wallet(fmt.Sprintf("b%d", i), byte(2+i))
		if err := w.Faucet(context.Background(), amt(1e18)); err != nil {
			t.Fatal(err)
		}
		m := newMarket(t, w)
		s.buyers = append(s.buyers, m)
		l := newLink(s.st, m.NewAuction(ih), 1, byte(2+i))
		l.a.SetAsk(askOf(ask))
		l.start(t, t0)
		s.links = append(s.links, l)
	}
	return s
}

func (s *swarm) bid(t *testing.T, now time.Time, i int, price uint64) {
	t.Helper()
	if !s.links[i].b.SetBid(now, amt(price)) {
		t.Fatalf("bid %d not sent", i)
	}
	s.links[i].flush(t, now)
}

func (s *swarm) round(t *testing.T, now time.Time, legacy int) RoundResult {
	var cands []Candidate
	for _, l := range s.links {
		cands = append(cands, Candidate{Key: l.a.Key(), Session: l.a, Interested: true, Since: t0})
	}
	for i := range legacy {
		cands = append(cands, Candidate{Key: fmt.Sprintf("legacy%d", i), Interested: true, Since: t0})
	}
	readCovers(t, s.seller, now)
	res := s.st.RunRound(now, strategy.Uniform{}, amt(s.reserve), 1<<20, cands)
	for _, l := range s.links {
		l.flush(t, now)
	}
	return res
}

func TestUniformRound(t *testing.T) {
	s := newSwarm(t, 3, 10)
	s.bid(t, t0, 0, 50)
	s.bid(t, t0, 1, 30)
	// buyer 2 bids below the reserve
	s.bid(t, t0, 2, 5)
	res := s.round(t, t0.Add(time.Second), 1)
	a0, ok := lastOf[*bttbid.Award](s.links[0].ab)
	if !ok || a0.Price.String() != "30" || a0.Seq != 1 {
		t.Fatalf("top bidder: %+v, want AWARD at 30 (the highest losing bid)", a0)
	}
	if a0.Credit.String() != fmt.Sprint(30*2) { // 2 MiB at 30 per MiB
		t.Fatalf("credit %s, want 60", a0.Credit)
	}
	o1, ok := lastOf[*bttbid.Outbid](s.links[1].ab)
	if !ok || o1.Price.String() != "30" {
		t.Fatalf("second bidder: %+v, want OUTBID at 30", o1)
	}
	if _, ok := lastOf[*bttbid.Outbid](s.links[2].ab); !ok {
		t.Fatal("bidder below the reserve got no OUTBID")
	}
	if !s.links[0].b.View().AwardedU || s.links[1].b.View().AwardedU {
		t.Fatal("buyer views disagree with the awards")
	}
	w := res.Weights
	if w["b2"] <= w["b3"] {
		t.Fatalf("weights %v: winner not above loser", w)
	}
	free := 0.2 / 3 // three peers without an award share the free 20 %
	if w["legacy0"] < free-1e-9 {
		t.Fatalf("legacy weight %v below its free share %v", w["legacy0"], free)
	}
	if s.st.Price.String() != "30" || len(s.st.History) != 1 {
		t.Fatalf("torrent price %s history %d", s.st.Price, len(s.st.History))
	}
	// The loser raises its bid above the winner: the next round flips.
	s.bid(t, t0.Add(2*time.Second), 1, 70)
	s.round(t, t0.Add(3*time.Second), 1)
	if a, ok := lastOf[*bttbid.Award](s.links[1].ab); !ok || a.Price.String() != "50" || a.Seq != 2 {
		t.Fatalf("new winner: %+v, want AWARD at 50 for seq 2", a)
	}
	if o, ok := lastOf[*bttbid.Outbid](s.links[0].ab); !ok || o.Price.String() != "50" {
		t.Fatalf("old winner: %+v, want OUTBID at 50", o)
	}
	// Withdrawing ends the award with an OUTBID.
	s.bid(t, t0.Add(4*time.Second), 1, 0)
	n := len(s.links[1].ab)
	s.round(t, t0.Add(5*time.Second), 1)
	if _, ok := lastOf[*bttbid.Outbid](s.links[1].ab[n:]); !ok || s.links[1].a.View().Awarded {
		t.Fatal("withdrawn winner kept its award")
	}
}

func TestBadStrategyFallsBackToFree(t *testing.T) {
	s := newSwarm(t, 1, 10)
	s.bid(t, t0, 0, 50)
	readCovers(t, s.seller, t0)
	greedy := strategy.SellerFunc(func(r strategy.SellerRound) strategy.Allocation {
		ds := make([]strategy.Decision, len(r.Peers))
		for i := range ds {
			ds[i] = strategy.Decision{Awarded: r.Peers[i].Market, Price: r.Peers[i].Bid}
		}
		ds[0].Weight = 1 // the legacy peer gets nothing: fails Check
		return strategy.Allocation{Decisions: ds}
	})
	panicky := strategy.SellerFunc(func(strategy.SellerRound) strategy.Allocation { panic("boom") })
	for _, s2 := range []strategy.Seller{greedy, panicky} {
		res := s.st.RunRound(t0.Add(time.Second), s2, amt(10), 0, []Candidate{
			{Key: "b2", Session: s.links[0].a, Interested: true}, {Key: "legacy", Interested: true}})
		if res.Weights["legacy"] != 0.5 || res.Awarded != 0 {
			t.Fatalf("fallback weights %v awarded %d", res.Weights, res.Awarded)
		}
	}
	if s.st.Fallbacks != 2 {
		t.Fatalf("fallbacks %d", s.st.Fallbacks)
	}
}

// readCovers does what the engine does off its loop: it reads the cover
// of every payer the market asks for and hands it back.
func readCovers(t testing.TB, m *Market, now time.Time) {
	t.Helper()
	w := m.Wallet().(*wallet.Wallet)
	for _, addr := range m.CoverDue(now) {
		r, _, err := w.Highest(wallet.Received, addr)
		if err != nil {
			t.Fatal(err)
		}
		amount, known, err := w.Cover(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		m.SetCover(addr, Cover{Amount: amount, Known: known, Settled: r.Settled}, now)
	}
}

// engineStep does what the engine's tick does for the seller's market
// besides rounds: settle when a grant waits for it, read covers, and run
// every connection's §16 step.
func (s *swarm) engineStep(t *testing.T, now time.Time) {
	t.Helper()
	settleFor(t, s.seller)
	readCovers(t, s.seller, now)
	for _, l := range s.links {
		l.a.CommerceTick(now)
		l.flush(t, now)
	}
}

// settleFor settles the market's wallet when the market asks, and
// reports each received settlement back, as the engine does.
func settleFor(t testing.TB, m *Market) {
	t.Helper()
	if !m.SettleDue() {
		return
	}
	ss, err := m.Wallet().(*wallet.Wallet).Settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ss {
		if st.Record.Direction == wallet.Received {
			m.Settled(st.Record.Counterparty, st.Record.Settled, st.Shortfall)
		}
	}
}
