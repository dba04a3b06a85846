package market

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Pledge promises amount (our total) to the torrent's campaign, sent to
// the peer, which must be its publisher. The pledge is stored before it
// is sent; done is called when the publisher answers CAMPAIGN or refuses.
func (s *Session) Pledge(now time.Time, amount wallet.Amount, done func(error)) error {
	if !s.v2() {
		return ErrNotV2
	}
	tm := s.t.c.terms
	switch {
	case tm == nil || tm.Goal.IsZero():
		return errors.New("the torrent has no crowdfunding campaign")
	case tm.Payee != s.addr:
		return fmt.Errorf("the peer (%s) is not the torrent's publisher", s.addr)
	case now.Unix() > tm.Deadline.Unix():
		return fmt.Errorf("the campaign ended at %s", tm.Deadline.UTC().Format(time.RFC3339))
	case amount.IsZero() || amount.Cmp(tm.Goal) > 0:
		return fmt.Errorf("pledge %s: want 1…the goal %s", amount, tm.Goal)
	case s.deal.pledgeDone != nil:
		return errors.New("a pledge to this peer awaits its answer")
	}
	at := uint64(now.Unix())
	if o := s.t.c.ours; o != nil && o.Time >= at {
		at = o.Time + 1 // a later pledge replaces the earlier one
	}
	pl, err := s.m.w.SignPledge(tm.Payee, s.infoHash, amount, tm.Goal, uint64(tm.Deadline.Unix()), at)
	if err != nil {
		return fmt.Errorf("cannot sign the pledge: %w", err)
	}
	if err := s.m.w.SavePledge(pl); err != nil {
		return fmt.Errorf("cannot store the pledge: %w", err)
	}
	s.t.c.ours = &pl
	s.t.c.campaign.Ours = pl.Amount
	s.deal.pledgeDone = done
	s.send(pledgeMsg(pl))
	return nil
}

func pledgeMsg(pl wallet.Pledge) *bttbid.Pledge {
	return &bttbid.Pledge{ChainID: pl.ChainID, Token: bttbid.Address(pl.Token), Payer: bttbid.Address(pl.Payer),
		Payee: bttbid.Address(pl.Payee), InfoHash: pl.InfoHash, Amount: pl.Amount, Goal: pl.Goal,
		Deadline: int64(pl.Deadline), Time: int64(pl.Time), Sig: bttbid.Signature(pl.Signature)}
}

func pledgeOf(m *bttbid.Pledge) wallet.Pledge {
	return wallet.Pledge{ChainID: m.ChainID, Token: wallet.Address(m.Token), Payer: wallet.Address(m.Payer),
		Payee: wallet.Address(m.Payee), InfoHash: m.InfoHash, Amount: m.Amount, Goal: m.Goal,
		Deadline: uint64(m.Deadline), Time: uint64(m.Time), Signature: wallet.Signature(m.Sig)}
}

// onPledge takes a pledge as the publisher (§16.5). A retransmission
// (the pledge held, byte for byte) is answered before any signature
// check or read of the wallet; a new pledge is verified once, stored and
// counted into the tally held in memory.
func (s *Session) onPledge(now time.Time, m *bttbid.Pledge) {
	w, tm := s.m.w, s.t.c.terms
	pl := pledgeOf(m)
	switch {
	case m.ChainID != w.ChainID() || pl.Token != w.Token() || pl.Payer != s.addr || m.InfoHash != s.infoHash:
		s.fail(bttbid.CodeMisaddressed, "pledge chain, token, payer or torrent is not this connection's", true)
		return
	case tm == nil || tm.Goal.IsZero() || pl.Payee != tm.Payee || !s.t.publisher():
		s.fail(bttbid.CodeNotPayee, "we run no campaign for this torrent", false)
		return
	case pl.Goal.Cmp(tm.Goal) != 0 || m.Deadline != tm.Deadline.Unix():
		s.fail(bttbid.CodeMisaddressed, "pledge goal or deadline is not the torrent's", true)
		return
	}
	held, ok := s.t.heldPledge(pl.Payer)
	if ok && held == pl {
		s.sendCampaign(now) // a retransmission: verified when it was taken
		return
	}
	switch {
	case verifyPledge(pl) != nil:
		s.fail(bttbid.CodeBadCheque, "pledge signature does not recover the payer", true)
		return
	case pl.Amount.IsZero() || pl.Amount.Cmp(tm.Goal) > 0:
		s.fail(bttbid.CodeInvalidField, fmt.Sprintf("pledge amount %s: want 1…the goal %s", pl.Amount, tm.Goal), false)
		return
	case !bttbid.SkewOK(m.Time, now) || now.Unix() > tm.Deadline.Unix() || ok && pl.Time <= held.Time:
		s.fail(bttbid.CodeStaleCheque, "pledge out of time, after the deadline, or not later than the one held", false)
		return
	case !ok && s.t.pledgesFull():
		s.fail(bttbid.CodeStaleCheque, fmt.Sprintf("campaign full: the publisher holds %d pledges, its limit", s.m.cfg.maxPledges()), false)
		return
	}
	if err := w.SavePledge(pl); err != nil {
		s.fail(bttbid.CodeStaleCheque, "cannot store the pledge", false)
		s.lastErr = err.Error()
		return
	}
	s.m.account(pl.Payer).cover.want = true // it counts up to its cover
	s.t.hold(pl, wallet.Amount{})           // a new payer has paid nothing (a payment needs a held pledge)
	s.sendCampaign(now)
	s.maybeFunded()
}

// sendCampaign tells the peer the campaign's progress (publisher).
func (s *Session) sendCampaign(now time.Time) {
	c := s.t.c.campaign
	s.send(&bttbid.Campaign{InfoHash: s.infoHash, Goal: c.Goal, Deadline: s.t.c.terms.Deadline.Unix(),
		Pledged: c.Pledged, Count: uint64(c.Count)})
	s.deal.campaignSeen, s.deal.campaignAt = s.t.c.tallied, now
}

// maybeFunded sends the proof that the campaign is funded to a peer
// whose pledge is not paid yet (publisher, §16.11 step 4), once per
// connection.
func (s *Session) maybeFunded() {
	if s.deal.fundedSent || !s.t.c.campaign.Funded {
		return
	}
	if !s.t.c.unpaid[s.addr] {
		return // no pledge from the peer, or paid (tally reads the book)
	}
	ps := slices.Clone(s.t.c.pledges)
	slices.SortFunc(ps, func(a, b heldPledge) int { return b.Amount.Cmp(a.Amount) })
	var sum wallet.Amount
	var proof []bttbid.Pledge
	for _, pl := range ps {
		proof = append(proof, *pledgeMsg(pl.Pledge))
		sum = sum.AddSaturating(pl.Amount)
		if sum.Cmp(s.t.c.terms.Goal) >= 0 {
			break
		}
	}
	for len(proof) > 0 {
		n := min(len(proof), bttbid.MaxFundedPledges)
		s.send(&bttbid.Funded{InfoHash: s.infoHash, Pledges: proof[:n]})
		proof = proof[n:]
	}
	s.deal.fundedSent = true
}

// onCampaign takes the publisher's progress report (pledger side).
func (s *Session) onCampaign(m *bttbid.Campaign) {
	tm := s.t.c.terms
	if tm == nil || tm.Payee != s.addr || m.InfoHash != s.infoHash || m.Goal.Cmp(tm.Goal) != 0 || m.Deadline != tm.Deadline.Unix() {
		return
	}
	if !s.t.publisher() {
		s.t.c.campaign.Pledged, s.t.c.campaign.Count = m.Pledged, int(m.Count)
	}
	if done := s.deal.pledgeDone; done != nil {
		s.deal.pledgeDone = nil
		done(nil)
	}
}

// onFunded takes a proof that the campaign is funded and pays our
// pledge once the proof holds (pledger side, §16.11 step 5). Only the
// campaign's payee may send it; a pledge already held costs no check,
// and at most MaxPledges are kept per torrent.
func (s *Session) onFunded(m *bttbid.Funded) {
	tm := s.t.c.terms
	if tm == nil || tm.Goal.IsZero() || m.InfoHash != s.infoHash || s.addr != tm.Payee || s.t.publisher() ||
		s.t.c.campaign.Paid {
		return // not the payee's, or nothing to prove to us
	}
	if s.t.c.proof == nil {
		s.t.c.proof = make(map[wallet.Address]wallet.Pledge)
	}
	for i := range m.Pledges {
		pl := pledgeOf(&m.Pledges[i])
		old, ok := s.t.c.proof[pl.Payer]
		switch {
		case ok && pl == old, ok && pl.Time <= old.Time:
			continue // held, or not later
		case !ok && len(s.t.c.proof) >= s.m.cfg.maxPledges():
			continue // the bound: a proof needs no more
		}
		if s.t.termsPledge(pl) {
			s.t.c.proof[pl.Payer] = pl
		}
	}
	var sum wallet.Amount
	for _, pl := range s.t.c.proof {
		sum = sum.AddSaturating(pl.Amount)
	}
	if sum.Cmp(tm.Goal) < 0 {
		return // not proven (yet): nothing is payable
	}
	if !s.t.publisher() {
		s.t.c.campaign.Funded = true
		if sum.Cmp(s.t.c.campaign.Pledged) > 0 {
			s.t.c.campaign.Pledged = sum
		}
	}
	ours := s.t.c.ours
	if ours == nil || s.t.c.campaign.Paid || s.deal.pending != nil {
		return
	}
	if err := s.Pay(wallet.ForPledge, ours.Amount, "", nil); err != nil {
		s.lastErr = fmt.Sprintf("cannot pay the pledge: %v", err)
	}
}
