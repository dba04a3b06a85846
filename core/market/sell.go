package market

import (
	"fmt"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/strategy"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// sellSide is the seller half of a session: we sell to the peer.
type sellSide struct {
	ask         *bttbid.Ask // the ASK we want in force; nil = not selling
	askSent     *bttbid.Ask
	bidSeq      uint64
	bid         wallet.Amount // its bid in force
	awarded     bool
	price       wallet.Amount // award price in force, or the last round's clearing price
	awardSeq    uint64
	suspended   bool
	suspendedAt uint64 // round it was suspended in
	cut         bool
	sent        byteReading // the payload bytes written
	epoch       epoch
	sold        int64
	earned      wallet.Amount // accepted on this connection
	weight      float64
}

// SetAsk sets the ASK we want in force with the peer (nil: we do not
// sell to it). A changed ASK is sent at once when the connection is
// ready.
func (s *Session) SetAsk(ask *bttbid.Ask) {
	s.sell.ask = ask
	s.syncAsk()
}

func (s *Session) syncAsk() {
	if s.state != Ready || s.sell.ask == nil {
		return
	}
	if s.sell.askSent != nil && *s.sell.askSent == *s.sell.ask {
		return
	}
	a := *s.sell.ask
	s.sell.askSent = &a
	s.send(&a)
}

// Selling reports whether we sent the peer an ASK.
func (s *Session) Selling() bool { return s.state == Ready && s.sell.askSent != nil }

func (s *Session) onBid(b *bttbid.Bid) {
	if s.sell.askSent == nil {
		s.fail(bttbid.CodeNotSelling, "no ASK was sent", false)
		return
	}
	if b.Seq <= s.sell.bidSeq {
		s.fail(bttbid.CodeInvalidField, fmt.Sprintf("bid seq %d not above %d", b.Seq, s.sell.bidSeq), true)
		return
	}
	s.sell.bidSeq, s.sell.bid = b.Seq, b.Price
	if !b.Price.IsZero() && b.Price.Cmp(s.sell.askSent.Price) >= 0 && !s.sell.awarded {
		s.t.early = true // bids act at once (§6.1)
	}
}

// closeSellEpoch ends the seller's epoch: later bytes are free until the
// next AWARD.
func (s *Session) closeSellEpoch() { s.sell.epoch = epoch{} }

// ObserveSent samples the payload bytes written to the peer so far (a
// running total). Bytes written while an award is in force are paid
// bytes: they raise the account's owed and may suspend or cut the buyer.
func (s *Session) ObserveSent(total int64, round uint64) {
	d := s.sell.sent.advance(total)
	if d <= 0 || !s.sell.awarded || s.state != Ready {
		return
	}
	s.sell.sold += d
	s.t.Sold += d
	inc := s.sell.epoch.add(s.sell.price, d)
	a, err := s.m.seller(s.addr)
	if err != nil {
		s.lastErr = err.Error()
		return
	}
	a.owed = a.owed.AddSaturating(inc)
	s.checkCredit(a, round, false)
}

// creditAmount is the account's credit in base units at price.
func (s *Session) creditAmount(a *account, price wallet.Amount) wallet.Amount {
	return charge(price, int64(min(a.creditBytes, bttbid.MaxCreditBytes)))
}

// checkCredit suspends paid service at the credit limit and cuts the
// buyer past the tolerance (§8.3). Byte counters are sampled (each engine
// tick), so a fast transfer can overshoot the credit between two samples
// through no fault of the buyer: the tolerance is therefore judged at a
// round boundary after the suspension (boundary), once the buyer has had
// the time to answer ERROR 404 with a cheque; the grace bounds how long
// it may stay suspended.
func (s *Session) checkCredit(a *account, round uint64, boundary bool) {
	if s.sell.price.IsZero() && !s.sell.suspended {
		return
	}
	debt := a.owed.SubFloor(a.accepted)
	credit := s.creditAmount(a, s.sell.price)
	if s.sell.awarded && debt.Cmp(credit) >= 0 {
		s.closeSellEpoch()
		s.sell.awarded, s.sell.suspended, s.sell.suspendedAt = false, true, round
		s.send(&bttbid.ErrorMsg{Code: bttbid.CodeCreditExceeded, Text: "debt reached the credit: pay to continue"})
	} else if s.sell.awarded && s.m.allowance(a, s.sell.price).IsZero() {
		// Exposure reached what the payer can be shown to pay (§8.6):
		// paid service ends; a later round awards it again once its
		// cover allows. Paying its debt does not lower its exposure, so
		// this is no suspension and never cuts it.
		s.closeSellEpoch()
		s.sell.awarded = false
		s.send(&bttbid.ErrorMsg{Code: bttbid.CodeCreditExceeded, Text: "exposure reached what the payer can be shown to pay"})
	}
	if !s.sell.suspended {
		return
	}
	limit, err := credit.MulDiv(uint64((1+s.m.cfg.Tolerance)*1000), 1000)
	if err != nil {
		limit = credit
	}
	if boundary && round > s.sell.suspendedAt && debt.Cmp(limit) > 0 || round > s.sell.suspendedAt+uint64(s.m.cfg.Grace) {
		s.sell.cut, a.cut = true, true
		s.lastErr = "cut: debt past the credit tolerance"
	}
}

// Cut reports whether the buyer went past its credit tolerance: the
// engine chokes or disconnects it.
func (s *Session) Cut() bool { return s.sell.cut }

// onCheque takes a cheque paying for bandwidth (§8.4).
func (s *Session) onCheque(m *bttbid.Cheque) {
	c, a, ok := s.checkCheque(*m, inCheque)
	if !ok {
		return
	}
	price := s.sell.price
	if price.IsZero() {
		price = s.sell.bid
	}
	if lim := a.owed.AddSaturating(s.creditAmount(a, price)); m.Payout.Cmp(lim) > 0 {
		if !s.forged(&c, inCheque) {
			s.stopPaid()
			s.fail(bttbid.CodeExcessiveCheque, fmt.Sprintf("payout %s above owed plus credit %s", m.Payout, lim), false)
		}
		return
	}
	// Verified, then durable before it counts and before the RECEIPT
	// (write.go).
	s.m.store(a, &pendingWrite{s: s, c: c, price: price})
}

// growCredit grows the account's credit by the bytes inc pays for at
// price (§8.3): credit follows value received, never the number of
// cheques, so a flood of one-unit cheques buys nothing.
func (s *Session) growCredit(a *account, inc, price wallet.Amount) {
	n := bytesFor(inc, price)
	if n <= 0 {
		return
	}
	a.creditBytes = min(a.creditBytes+min(uint64(n), s.m.cfg.Cap), s.m.cfg.Cap)
}

// eligible reports whether the account may be awarded paid service at
// price: not cut, not short, its debt under its credit (whatever
// connection ran it up, §8.3) and its exposure under its cover (§8.6).
func (s *Session) eligible(price wallet.Amount) bool {
	a, err := s.m.seller(s.addr)
	if err != nil || a.cut || a.cover.short {
		return false
	}
	return !s.m.allowance(a, price).IsZero()
}

// resume restores paid service to a buyer whose cheque brought its debt
// back under the credit, within the round that awarded it (§8.3): a new
// AWARD at the same round, seq and price starts a new epoch. Waiting for
// the next round would leave a fast buyer unpaid-for most of the time.
func (s *Session) resume(a *account) {
	if s.sell.awardSeq == 0 || s.sell.awardSeq != s.sell.bidSeq || s.sell.bid.Cmp(s.sell.price) < 0 || s.sell.suspendedAt != s.t.round {
		return // its bid changed, or the round it was awarded in is over
	}
	if !s.eligible(s.sell.price) {
		return
	}
	s.closeSellEpoch()
	s.sell.awarded = true
	s.send(&bttbid.Award{Round: s.t.round, Seq: s.sell.awardSeq, Price: s.sell.price, Credit: s.m.awardCredit(a, s.sell.price)})
}

// sendReceipt acknowledges the account's accepted payout, with its credit
// at the price in force while we award the peer, so the buyer paces its
// cheques to the grown credit without waiting for the next AWARD (§8.3).
func (s *Session) sendReceipt(a *account) {
	r := &bttbid.Receipt{Payout: a.accepted, Owed: a.owed}
	if s.sell.awarded {
		r.Credit = s.m.awardCredit(a, s.sell.price)
	}
	s.send(r)
}

// addEarned counts inc, accepted from the peer for bandwidth, on the
// connection and the torrent.
func (s *Session) addEarned(inc wallet.Amount) {
	s.sell.earned = s.sell.earned.AddSaturating(inc)
	s.t.Earned = s.t.Earned.AddSaturating(inc)
	if s.t.EarnedFrom == nil {
		s.t.EarnedFrom = make(map[wallet.Address]wallet.Amount)
	}
	s.t.EarnedFrom[s.addr] = s.t.EarnedFrom[s.addr].AddSaturating(inc)
}

// stopPaid ends paid service after an invalid cheque, until a valid one.
func (s *Session) stopPaid() {
	if s.sell.awarded {
		s.closeSellEpoch()
		s.sell.awarded = false
		s.sell.suspended, s.sell.suspendedAt = true, s.t.round
	}
}

// SellHeadroom returns how many more bytes the peer can be served under
// its award before its debt reaches its credit (0 when it already has),
// or -1 when no paid service is metered (no award in force, price zero).
// The engine uses it to look again exactly when the credit limit is
// near, instead of on its next tick.
func (s *Session) SellHeadroom() int64 {
	if !s.sell.awarded || s.state != Ready || s.sell.price.IsZero() {
		return -1
	}
	a, err := s.m.seller(s.addr)
	if err != nil {
		return -1
	}
	return bytesFor(s.m.allowance(a, s.sell.price), s.sell.price)
}

// answerRound sends the round's AWARD or OUTBID to a bidder (§6.1): every
// buyer with a bid in force that is not suspended or cut gets exactly one;
// a buyer whose award ends (withdrawn, not interested) gets OUTBID.
func (s *Session) answerRound(round uint64, d strategy.Decision, interested bool) {
	if s.sell.suspended || s.sell.cut {
		if s.sell.suspended {
			if a, err := s.m.seller(s.addr); err == nil {
				s.checkCredit(a, round, true)
			}
		}
		return
	}
	price := wallet.AmountFromU256(d.Price)
	if s.sell.bid.IsZero() || !interested {
		if s.sell.awarded {
			s.closeSellEpoch()
			s.sell.awarded = false
			s.send(&bttbid.Outbid{Round: round, Seq: max(s.sell.bidSeq, 1), Price: price})
		}
		return
	}
	if !d.Awarded {
		s.closeSellEpoch()
		s.sell.awarded = false
		s.sell.price = price
		s.send(&bttbid.Outbid{Round: round, Seq: s.sell.bidSeq, Price: price})
		return
	}
	a, err := s.m.seller(s.addr)
	if err != nil || !s.eligible(price) {
		s.closeSellEpoch()
		s.sell.awarded = false
		s.send(&bttbid.Outbid{Round: round, Seq: s.sell.bidSeq, Price: price})
		return
	}
	s.closeSellEpoch() // a new AWARD starts a new price epoch
	s.sell.awarded, s.sell.price, s.sell.awardSeq = true, price, s.sell.bidSeq
	s.send(&bttbid.Award{Round: round, Seq: s.sell.bidSeq, Price: price, Credit: s.m.awardCredit(a, price)})
}
