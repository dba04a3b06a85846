package market

import (
	"bytes"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// FuzzSessionSequence drives one connection's state machine with a
// sequence of operations read from the input. The victim is a seller that
// publishes the torrent (a price and a campaign goal: every §16 path is
// live); the attacker is a real buyer session, so valid signed messages
// (HELLO, BID, CHEQUE, TIP, PLEDGE) are at hand to replay, mutate and
// interleave with raw bytes, oversized payloads, forged FUNDED proofs and
// foreign pledges, clock jumps, served bytes and rounds.
//
// After every operation: nothing panicked; every message the victim
// queued decodes, at most a few per operation; its per-connection and
// per-torrent state stays within fixed bounds; and its money holds:
// the amount it accepted from the attacker is exactly the highest cheque
// in its book, whose signature recovers the attacker, nothing is earned
// or logged as received beyond it, and the unpaid debt never exceeds
// the credit (at the highest price awarded) plus one sample of bytes.
func FuzzSessionSequence(f *testing.F) {
	for _, s := range [][]byte{
		// bid, round, serve, pay, replay, tip, pledge, replay the tip
		{4, 1, 6, 0, 5, 200, 4, 3, 1, 1, 4, 2, 4, 4, 1, 3, 1, 4, 5, 100, 4, 5, 1, 6, 1, 7},
		// raw bytes: a bid dict, then garbage, then an oversized payload
		append(append([]byte{0, 40}, "d5:price3:\x10\x00\x003:seqi9e1:t3:bide"...), 7, 0, 0, 3, 'x', 'y', 'z'),
		// mutate every replayable message, jump the clock, tick
		{4, 1, 4, 2, 2, 0, 5, 1, 2, 1, 20, 255, 3, 255, 8, 0, 2, 2, 40, 1},
		// forged FUNDED and foreign pledges, at and above the rate limit
		{9, 0, 10, 0, 9, 2, 10, 0, 9, 3, 10, 0, 9, 4, 10, 0, 9, 5, 10, 0, 1, 1, 1, 1, 1, 1, 4, 4, 10, 0, 4, 1, 6, 0},
		// serve a lot unpaid, rounds, then a cheque above owed plus credit
		{4, 1, 6, 0, 5, 255, 5, 255, 5, 255, 3, 60, 6, 0, 5, 255, 9, 6, 4, 3},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 512 {
			return // bound the work of one input
		}
		newSessionFuzz(t).run(prog)
	})
}

type sessionFuzz struct {
	t          *testing.T
	s          *swarm
	tm         *Terms
	l          *link
	victim     *Session
	attacker   *Session
	now        time.Time
	sent       int64
	pool       [][]byte // every message the attacker sent, and crafted ones
	maxPrice   wallet.Amount
	maxStep    int64
	keys       map[wallet.Address]bool // payers whose signed pledges or cheques were offered
	reconnects int
	foreign    map[int]wallet.Pledge // throw-away pledges by seed, signed once
	key        *wallet.Key           // the attacker's, to sign cheques its book never sees
}

const (
	fuzzMaxOut  = 12 // messages the victim may queue for one operation
	fuzzMaxPool = 64
)

func newSessionFuzz(t *testing.T) *sessionFuzz {
	s, tm := commerceSwarm(t, 1, 1000, 1_000_000)
	l := s.links[0]
	z := &sessionFuzz{t: t, s: s, tm: tm, l: l, victim: l.a, attacker: l.b, now: t0,
		keys: map[wallet.Address]bool{l.b.m.w.Address(): true}, foreign: map[int]wallet.Pledge{}}
	kb := make([]byte, 32) // env.wallet's key for seed 2, the attacker
	kb[0], kb[31] = 1, 2
	k, err := wallet.KeyFromBytes(kb)
	if err != nil || k.Address() != l.b.m.w.Address() {
		t.Fatalf("attacker key: %v", err)
	}
	z.key = k
	z.sent = l.a.sell.sent.total
	for _, m := range append(l.ab, l.ba...) {
		z.pool = append(z.pool, mustEncode(t, m))
	}
	return z
}

func (z *sessionFuzz) run(prog []byte) {
	for i := 0; i < len(prog); {
		op, arg := prog[i], byte(0)
		if i+1 < len(prog) {
			arg = prog[i+1]
		}
		i = min(i+2, len(prog))
		switch op % 11 {
		case 0: // arg raw bytes from the program
			n := min(int(arg), len(prog)-i)
			z.deliver(prog[i : i+n])
			i += n
		case 1: // replay a message
			if len(z.pool) > 0 {
				z.deliver(z.pool[int(arg)%len(z.pool)])
			}
		case 2: // a message with one byte changed
			if len(z.pool) > 0 && i+1 < len(prog) {
				m := bytes.Clone(z.pool[int(arg)%len(z.pool)])
				m[int(prog[i])%len(m)] ^= prog[i+1] | 1
				i += 2
				z.deliver(m)
			}
		case 3: // the clock moves
			z.now = z.now.Add(time.Duration(arg) * 20 * time.Millisecond)
		case 4: // the attacker acts as an honest buyer would
			z.honest(arg)
		case 5: // the victim serves paid or free bytes
			z.serve(int64(arg) * 4096)
		case 6: // a round, if due
			if z.s.st.Due(z.now) {
				z.round()
			}
		case 7: // a payload at or above the size limit
			b := bytes.Repeat([]byte{'d'}, bttbid.MaxMessageSize+int(arg)%2)
			z.deliver(b)
		case 8:
			z.victim.Tick(z.now)
			z.victim.CommerceTick(z.now)
			z.attacker.Tick(z.now)
			z.attacker.CommerceTick(z.now)
			z.answer()
		case 9:
			z.crafted(arg)
		case 10: // the attacker reconnects: a new connection, same wallets
			z.reconnect()
		}
	}
}

// deliver hands payload to the victim as the attacker's message, and the
// victim's answers to the attacker's session.
func (z *sessionFuzz) deliver(payload []byte) {
	z.victim.Receive(z.now, payload)
	z.answer()
}

// answer takes the victim's outbox (checking it) and feeds it to the
// attacker's session, whose own answers join the pool but are not sent.
func (z *sessionFuzz) answer() {
	out := z.victim.TakeOutbox()
	if len(out) > fuzzMaxOut {
		z.t.Fatalf("the victim queued %d messages for one operation", len(out))
	}
	for _, raw := range out {
		if len(raw) > bttbid.MaxMessageSize {
			z.t.Fatalf("the victim queued a %d-byte message", len(raw))
		}
		decode(z.t, raw)
		z.attacker.Receive(z.now, raw)
	}
	z.collect()
	z.check()
}

// collect moves the attacker's outbox into the pool.
func (z *sessionFuzz) collect() {
	for _, raw := range z.attacker.TakeOutbox() {
		if len(z.pool) < fuzzMaxPool {
			z.pool = append(z.pool, raw)
		}
	}
}

// send delivers the attacker's outbox to the victim (an honest peer's
// messages) after an honest step.
func (z *sessionFuzz) send() {
	for _, raw := range z.attacker.TakeOutbox() {
		if len(z.pool) < fuzzMaxPool {
			z.pool = append(z.pool, raw)
		}
		z.deliver(raw)
	}
}

func (z *sessionFuzz) honest(arg byte) {
	a := z.attacker
	switch arg % 6 {
	case 0:
		a.SetBid(z.now, amt(uint64(arg)*500))
	case 1:
		a.SetBid(z.now, amt(1000+uint64(arg)))
	case 2:
		a.PayAll()
	case 3:
		_ = a.Pay(wallet.ForTip, amt(uint64(arg)+1), "memo \x1b[2J", nil)
	case 4:
		_ = a.Pledge(z.now, amt(uint64(arg)*1000+1), nil)
	case 5:
		_ = a.Pay(wallet.ForPurchase, amt(1000), "", nil)
	}
	z.send()
}

func (z *sessionFuzz) serve(n int64) {
	v := z.victim
	if v.sell.awarded && v.sell.price.Cmp(z.maxPrice) > 0 {
		z.maxPrice = v.sell.price
	}
	z.maxStep = max(z.maxStep, n)
	z.sent += n
	v.ObserveSent(z.sent, z.s.st.round)
	z.attacker.ObserveReceived(z.sent)
	z.answer()
}

func (z *sessionFuzz) reconnect() {
	z.victim.Disable("closed")
	z.attacker.Disable("closed")
	z.reconnects++
	l := newLink(z.s.st, z.attacker.t, 1, byte(2+z.reconnects))
	l.a.SetAsk(askOf(z.s.reserve))
	l.a.Start(z.now)
	l.b.Start(z.now)
	z.victim, z.attacker, z.sent = l.a, l.b, 0
	z.deliver(z.attacker.TakeOutbox()[0]) // its HELLO
	z.send()
}

func (z *sessionFuzz) round() {
	readCovers(z.t, z.s.seller, z.now)
	z.s.st.RunRound(z.now, strategy.Uniform{}, amt(z.s.reserve), 1<<20, []Candidate{
		{Key: z.victim.Key(), Session: z.victim, Interested: true, Since: t0}})
	if z.victim.sell.awarded && z.victim.sell.price.Cmp(z.maxPrice) > 0 {
		z.maxPrice = z.victim.sell.price
	}
	z.answer()
}

// crafted sends a message no honest session would: foreign pledges,
// FUNDED proofs, forged and excessive cheques, a second HELLO.
func (z *sessionFuzz) crafted(arg byte) {
	t, tm := z.t, z.tm
	switch arg % 7 {
	case 0, 1: // a valid pledge of a throw-away key
		p := z.pledge(int(arg), uint64(arg)+1)
		z.deliver(mustEncode(t, pledgeMsg(p)))
	case 2: // FUNDED listing foreign pledges, as if from the payee
		var ps []bttbid.Pledge
		for i := range int(arg)%bttbid.MaxFundedPledges + 1 {
			p := z.pledge(1000+i, 500_000)
			ps = append(ps, *pledgeMsg(p))
		}
		z.deliver(mustEncode(t, &bttbid.Funded{InfoHash: ih, Pledges: ps}))
	case 3, 4: // a cheque with a forged signature, or above owed plus credit
		c, err := wallet.SignCheque(z.key, tm.ChainID, tm.Token, z.victim.m.w.Address(), amt(uint64(arg)<<40))
		if err != nil {
			t.Fatal(err)
		}
		m := chequeMsg(c)
		if arg%7 == 3 {
			m.Sig[5] ^= 0x40
		}
		z.deliver(mustEncode(t, &m))
	case 5: // a second HELLO, replayed from the start
		z.deliver(z.pool[0])
	case 6: // a cheque at exactly owed plus credit
		a, _ := z.s.seller.seller(z.attacker.m.w.Address())
		lim := a.owed.AddSaturating(z.victim.creditAmount(a, z.victim.sell.price))
		c, err := wallet.SignCheque(z.key, tm.ChainID, tm.Token, z.victim.m.w.Address(), lim)
		if err == nil {
			m := chequeMsg(c)
			z.deliver(mustEncode(t, &m))
		}
	}
}

// pledge is the throw-away key seed's pledge for the campaign.
func (z *sessionFuzz) pledge(seed int, amount uint64) wallet.Pledge {
	p, ok := z.foreign[seed]
	if !ok {
		p = foreignPledge(z.t, seed, z.tm, amount, t0)
		z.foreign[seed] = p
		z.keys[p.Payer] = true
	}
	return p
}

// check asserts the bounds and the money invariants.
func (z *sessionFuzz) check() {
	t, v, m, au := z.t, z.victim, z.s.seller, z.s.st
	if len(v.outbox) != 0 {
		t.Fatalf("%d messages left in the outbox", len(v.outbox))
	}
	// Bounded state: accounts only for payers that signed something we
	// were shown; §16 lists within their caps.
	if len(m.accounts) > len(z.keys)+1 {
		t.Fatalf("%d accounts for %d signing payers", len(m.accounts), len(z.keys))
	}
	if n := len(au.c.pledges); n > m.cfg.maxPledges() || n > len(z.keys) {
		t.Fatalf("%d pledges held (cap %d, %d signing payers)", n, m.cfg.maxPledges(), len(z.keys))
	}
	if len(au.c.payments) > maxPayments || len(au.c.proof) > m.cfg.maxPledges() {
		t.Fatalf("%d payments, %d FUNDED proofs held", len(au.c.payments), len(au.c.proof))
	}
	// Money: what is accepted is the highest verified cheque in the book.
	payer := z.attacker.m.w.Address()
	a, err := m.seller(payer)
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := m.w.Highest(wallet.Received, payer)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !ok && !a.accepted.IsZero():
		t.Fatalf("accepted %s with no cheque in the book", a.accepted)
	case ok && r.Cheque.Cumulative.Cmp(a.accepted) != 0:
		t.Fatalf("accepted %s, the book's highest cheque is %s", a.accepted, r.Cheque.Cumulative)
	case ok && (r.Cheque.Verify() != nil || r.Cheque.Payer != payer || r.Cheque.Beneficiary != m.w.Address()):
		t.Fatalf("the book holds a cheque that does not verify: %+v", r.Cheque)
	}
	if au.Earned.Cmp(a.accepted) > 0 || au.EarnedFrom[payer].Cmp(a.accepted) > 0 || v.sell.earned.Cmp(a.accepted) > 0 {
		t.Fatalf("earned %s (from the payer %s, on the connection %s) above the accepted %s",
			au.Earned, au.EarnedFrom[payer], v.sell.earned, a.accepted)
	}
	var in wallet.Amount
	for _, p := range au.c.payments {
		if p.In {
			in = in.AddSaturating(p.Amount)
		}
	}
	if in.Cmp(a.accepted) > 0 {
		t.Fatalf("payments of %s logged as received, %s accepted", in, a.accepted)
	}
	// Exposure: unpaid debt within the credit plus one sample of bytes.
	debt := a.owed.SubFloor(a.accepted)
	bound := charge(z.maxPrice, int64(m.cfg.Cap)+z.maxStep).AddSaturating(amt(uint64(au.round) + 1))
	if debt.Cmp(bound) > 0 {
		t.Fatalf("debt %s above the credit bound %s (price %s)", debt, bound, z.maxPrice)
	}
}
