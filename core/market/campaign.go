package market

import "github.com/bidtorrent/bidtorrent/wallet"

// The publisher's pledge book (§16.5, §16.11): the valid pledges held
// for a torrent, verified once (as they are loaded or received), kept in
// memory with what each payer paid, and tallied incrementally. A resent
// PLEDGE, a cover reading or a pledge payment costs no signature check
// and no read of the wallet's book.

// verifyPledge checks a pledge's signature (a variable: tests count the
// checks).
var verifyPledge = wallet.Pledge.Verify

// heldPledge is one payer's latest valid pledge.
type heldPledge struct {
	wallet.Pledge
	paid    wallet.Amount // paid by the payer for the torrent (book + session)
	counted wallet.Amount // what it adds to the tally
}

// termsPledge reports whether p is a valid pledge for the torrent's
// campaign (§16.11 step 5), its signature included.
func (t *Auction) termsPledge(p wallet.Pledge) bool {
	return t.termsFields(p) && verifyPledge(p) == nil
}

// termsFields is termsPledge without the signature check.
func (t *Auction) termsFields(p wallet.Pledge) bool {
	tm := t.c.terms
	return tm != nil && !p.Amount.IsZero() && p.Amount.Cmp(tm.Goal) <= 0 && p.ChainID == tm.ChainID && p.Token == tm.Token &&
		p.Payee == tm.Payee && p.InfoHash == t.infoHash && p.Goal.Cmp(tm.Goal) == 0 && int64(p.Deadline) == tm.Deadline.Unix() &&
		p.Time <= p.Deadline
}

// loadPledges reads the pledges the wallet holds for the torrent, once,
// when the terms are set (publisher): each is verified and its payments
// read here, never again. At most MaxPledges are kept.
func (t *Auction) loadPledges() {
	t.c.pledges, t.c.index, t.c.unpaid, t.c.sum = nil, make(map[wallet.Address]int), make(map[wallet.Address]bool), wallet.Amount{}
	ps, err := t.m.w.Pledges(t.infoHash)
	if err != nil {
		return
	}
	for _, p := range ps {
		if len(t.c.pledges) >= t.m.cfg.maxPledges() {
			break
		}
		if _, dup := t.c.index[p.Payer]; dup || !t.termsPledge(p) {
			continue
		}
		paid, err := t.m.w.PledgePaid(t.infoHash, p.Payer, p.Payee)
		if err != nil {
			paid = wallet.Amount{}
		}
		t.hold(p, paid)
	}
	t.c.tallied++
}

// heldPledge returns the publisher's held pledge of payer.
func (t *Auction) heldPledge(payer wallet.Address) (wallet.Pledge, bool) {
	if i, ok := t.c.index[payer]; ok {
		return t.c.pledges[i].Pledge, true
	}
	return wallet.Pledge{}, false
}

// pledgesFull reports whether a pledge of a payer not held yet would
// pass MaxPledges.
func (t *Auction) pledgesFull() bool { return len(t.c.pledges) >= t.m.cfg.maxPledges() }

// hold adds or replaces the payer's pledge, verified by the caller; paid
// is its payments when new (a replacement keeps what was paid).
func (t *Auction) hold(p wallet.Pledge, paid wallet.Amount) {
	if t.c.index == nil {
		t.c.index, t.c.unpaid = make(map[wallet.Address]int), make(map[wallet.Address]bool)
	}
	if i, ok := t.c.index[p.Payer]; ok {
		t.c.pledges[i].Pledge = p
	} else {
		t.c.index[p.Payer] = len(t.c.pledges)
		t.c.pledges = append(t.c.pledges, heldPledge{Pledge: p, paid: paid})
	}
	t.recount(p.Payer)
}

// pledgePaid records a pledge payment accepted from payer.
func (t *Auction) pledgePaid(payer wallet.Address, amount wallet.Amount) {
	if i, ok := t.c.index[payer]; ok {
		t.c.pledges[i].paid = t.c.pledges[i].paid.AddSaturating(amount)
		t.recount(payer)
	}
}

// recount counts payer's pledge again (its pledge, payments or cover
// changed): a pledge counts up to what its pledger can be shown to pay
// (§16.11); a paid one in full. The sum saturates at 2^256 − 1; once
// saturated it is summed again from the counts.
func (t *Auction) recount(payer wallet.Address) {
	i, ok := t.c.index[payer]
	if !ok || t.c.terms == nil {
		return
	}
	h := &t.c.pledges[i]
	counted := h.Amount
	if h.paid.Cmp(h.Amount) < 0 {
		t.c.unpaid[payer] = true
		counted = counted.Min(t.m.pledgeCover(payer))
	} else {
		delete(t.c.unpaid, payer)
	}
	old := h.counted
	h.counted = counted
	if t.c.sum.Cmp(wallet.MaxAmount()) == 0 {
		var sum wallet.Amount
		for _, h := range t.c.pledges {
			sum = sum.AddSaturating(h.counted)
		}
		t.c.sum = sum
	} else {
		t.c.sum = t.c.sum.SubFloor(old).AddSaturating(counted)
	}
	c := &t.c.campaign
	if c.Pledged.Cmp(t.c.sum) != 0 || c.Count != len(t.c.pledges) {
		t.c.tallied++ // peers get CAMPAIGN again
	}
	c.Pledged, c.Count = t.c.sum, len(t.c.pledges)
	c.Funded = t.c.sum.Cmp(t.c.terms.Goal) >= 0
}

// recountAll counts payer's pledge again on every torrent we publish.
func (m *Market) recountAll(payer wallet.Address) {
	for _, t := range m.auctions {
		if t.publisher() && !t.c.terms.Goal.IsZero() {
			t.recount(payer)
		}
	}
}
