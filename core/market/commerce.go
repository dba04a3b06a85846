package market

// Payments beyond bandwidth (PROTOCOL.md §16): tips, purchases and
// crowdfunding pledges. Every payment is a rise of the cumulative cheque
// of the payer→beneficiary account, the account bandwidth is paid on;
// the TIP note says what the rise is for. Licences and pledges are
// signed objects kept in the wallet's book.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Commerce is what the market needs of a wallet for §16; *wallet.Wallet
// has it. Every method that stores does so durably before returning.
type Commerce interface {
	IssuePayment(beneficiary wallet.Address, cumulative wallet.Amount, p wallet.Payment) (wallet.Cheque, wallet.TipNote, error)
	SignTipNote(beneficiary wallet.Address, cumulative, amount wallet.Amount, infoHash [20]byte, purpose, memo string) (wallet.TipNote, error)
	AcceptTip(c wallet.Cheque, n wallet.TipNote) (wallet.Amount, error)
	Payments() ([]wallet.Payment, error)
	SignLicense(buyer wallet.Address, infoHash [20]byte, price wallet.Amount) (wallet.License, error)
	SaveLicense(l wallet.License) error
	LicenseFor(infoHash [20]byte, payee wallet.Address) (wallet.License, bool, error)
	SignPledge(payee wallet.Address, infoHash [20]byte, amount, goal wallet.Amount, deadline, at uint64) (wallet.Pledge, error)
	SavePledge(p wallet.Pledge) error
	Pledges(infoHash [20]byte) ([]wallet.Pledge, error)
	PledgePaid(infoHash [20]byte, payer, payee wallet.Address) (wallet.Amount, error)
}

// Terms are a torrent's publisher terms (the `btt` dict of its info
// dict, §16.2).
type Terms struct {
	Payee       wallet.Address
	ChainID     uint64
	Token       wallet.Address
	Price, Goal wallet.Amount
	Deadline    int64 // Unix seconds; set with Goal
}

// Payment is one payment made or received for a torrent.
type Payment struct {
	Time   time.Time
	In     bool
	For    string
	Peer   wallet.Address
	Amount wallet.Amount
	Memo   string
}

// Campaign is a torrent's crowdfunding progress.
type Campaign struct {
	Goal, Pledged wallet.Amount
	Count         int
	Deadline      time.Time
	Funded        bool
	Expired       bool
	Ours          wallet.Amount // our pledge
	Paid          bool          // our pledge is paid
}

// maxPayments bounds Auction.Payments.
const maxPayments = 100

// commerce is a torrent's §16 state.
type commerce struct {
	terms    *Terms
	license  *wallet.License // ours, as a buyer
	payments []Payment
	loaded   bool

	// Campaign: as the publisher holds it (our tally) or as its last
	// CAMPAIGN said.
	campaign Campaign
	tallied  uint64 // bumped on each tally: peers resend CAMPAIGN
	proof    map[wallet.Address]wallet.Pledge
	ours     *wallet.Pledge
	pledges  []wallet.Pledge         // publisher: the valid pledges held
	unpaid   map[wallet.Address]bool // publisher: held pledges not paid yet
}

// SetTerms sets the torrent's publisher terms (nil: none) and loads what
// the wallet holds for them: our licence, our pledge, the pledges we
// hold as the publisher.
func (t *Auction) SetTerms(tm *Terms, now time.Time) {
	if tm == nil && t.c.terms == nil || tm != nil && t.c.terms != nil && *tm == *t.c.terms {
		return
	}
	t.c.terms = tm
	t.c.license, t.c.ours = nil, nil
	t.c.campaign = Campaign{}
	if tm == nil {
		return
	}
	w := t.m.w
	if !tm.Price.IsZero() {
		if l, ok, err := w.LicenseFor(t.infoHash, tm.Payee); err == nil && ok {
			t.c.license = &l
		}
	}
	if !tm.Goal.IsZero() {
		t.c.campaign = Campaign{Goal: tm.Goal, Deadline: time.Unix(tm.Deadline, 0)}
		if ps, err := w.Pledges(t.infoHash); err == nil {
			for _, p := range ps {
				if p.Payer == w.Address() && p.Payee == tm.Payee {
					t.c.ours = &p
					t.c.campaign.Ours = p.Amount
				}
			}
		}
		if t.c.ours != nil {
			paid, err := w.PledgePaid(t.infoHash, w.Address(), tm.Payee)
			t.c.campaign.Paid = err == nil && paid.Cmp(t.c.ours.Amount) >= 0
		}
		if t.publisher() {
			t.tally(now)
		}
	}
}

// Terms returns the torrent's publisher terms (nil: none).
func (t *Auction) Terms() *Terms { return t.c.terms }

// Licensed reports whether we hold a licence for the torrent.
func (t *Auction) Licensed() bool { return t.c.license != nil }

// Campaign returns the crowdfunding progress, if the torrent has a goal.
func (t *Auction) Campaign(now time.Time) (Campaign, bool) {
	if t.c.terms == nil || t.c.terms.Goal.IsZero() {
		return Campaign{}, false
	}
	c := t.c.campaign
	c.Expired = !c.Funded && now.After(c.Deadline)
	return c, true
}

// Payments returns the torrent's payments, oldest first: those of
// earlier sessions (from the wallet) and this one's.
func (t *Auction) Payments() []Payment {
	if !t.c.loaded {
		t.c.loaded = true
		ps, err := t.m.w.Payments()
		if err == nil {
			var old []Payment
			for _, p := range ps {
				if p.InfoHash == t.infoHash {
					old = append(old, Payment{Time: p.Time, In: p.Direction == wallet.Received, For: p.For,
						Peer: p.Counterparty, Amount: p.Amount, Memo: p.Memo})
				}
			}
			t.c.payments = append(old, t.c.payments...)
			t.trimPayments()
		}
	}
	return t.c.payments
}

func (t *Auction) logPayment(p Payment) {
	if !t.c.loaded {
		t.Payments() // loads this one too: it is stored already
		return
	}
	t.c.payments = append(t.c.payments, p)
	t.trimPayments()
}

func (t *Auction) trimPayments() {
	if n := len(t.c.payments); n > maxPayments {
		t.c.payments = slices.Clone(t.c.payments[n-maxPayments:])
	}
}

// publisher reports whether we are the torrent's payee, on our chain.
func (t *Auction) publisher() bool {
	tm, w := t.c.terms, t.m.w
	return tm != nil && tm.Payee == w.Address() && tm.ChainID == w.ChainID() && tm.Token == w.Token()
}

// termsPledge reports whether p is a valid pledge for the torrent's
// campaign (§16.11 step 5).
func (t *Auction) termsPledge(p wallet.Pledge) bool {
	tm := t.c.terms
	return tm != nil && p.ChainID == tm.ChainID && p.Token == tm.Token && p.Payee == tm.Payee &&
		p.InfoHash == t.infoHash && p.Goal.Cmp(tm.Goal) == 0 && int64(p.Deadline) == tm.Deadline &&
		p.Time <= p.Deadline && p.Verify() == nil
}

// tally recomputes the publisher's campaign from the pledges it holds.
func (t *Auction) tally(now time.Time) {
	ps, err := t.m.w.Pledges(t.infoHash)
	if err != nil {
		return
	}
	var sum wallet.Amount
	t.c.pledges = t.c.pledges[:0]
	t.c.unpaid = make(map[wallet.Address]bool)
	for _, p := range ps {
		if t.termsPledge(p) {
			t.c.pledges = append(t.c.pledges, p)
			sum = add(sum, p.Amount)
			if paid, err := t.m.w.PledgePaid(t.infoHash, p.Payer, p.Payee); err == nil && paid.Cmp(p.Amount) < 0 {
				t.c.unpaid[p.Payer] = true
			}
		}
	}
	t.c.campaign.Pledged, t.c.campaign.Count = sum, len(t.c.pledges)
	t.c.campaign.Funded = sum.Cmp(t.c.terms.Goal) >= 0
	t.c.tallied++
}

// heldPledge returns the publisher's stored pledge of payer.
func (t *Auction) heldPledge(payer wallet.Address) (wallet.Pledge, bool) {
	for _, p := range t.c.pledges {
		if p.Payer == payer {
			return p, true
		}
	}
	return wallet.Pledge{}, false
}

// payment is a payment of ours awaiting its acknowledgement.
type payment struct {
	purpose string
	amount  wallet.Amount
	payout  wallet.Amount
	memo    string
	done    func(error)
}

func (p *payment) finish(err error) {
	if p != nil && p.done != nil {
		p.done(err)
		p.done = nil
	}
}

// ErrNotV2 is returned for a §16 action on a connection that cannot carry
// it: not READY, or the peer speaks only version 1.
var ErrNotV2 = errors.New("the peer does not speak btt_bid version 2")

// v2 reports whether §16 messages may be exchanged.
func (p *Session) v2() bool { return p.state == Ready && p.version >= 2 }

// Pay pays amount to the peer for purpose (wallet.ForTip, ForPurchase,
// ForPledge) regarding the connection's torrent, with memo on a tip. The
// cheque and its note are stored before the TIP is queued (§16.12). done
// is called with nil once the peer acknowledged it (RECEIPT; for a
// purchase, the licence grant), or with the refusal.
func (p *Session) Pay(purpose string, amount wallet.Amount, memo string, done func(error)) error {
	if !p.v2() {
		return ErrNotV2
	}
	if p.pay2 != nil {
		return errors.New("a payment to this peer awaits its receipt")
	}
	if purpose != wallet.ForTip {
		if tm := p.t.c.terms; tm == nil || tm.Payee != p.addr {
			return fmt.Errorf("the peer (%s) is not the torrent's payee", p.addr)
		}
	}
	a, err := p.m.buyer(p.addr)
	if err != nil {
		return err
	}
	base := a.bought
	if base.Cmp(a.issued) < 0 {
		base = a.issued // paid ahead after a refusal (§16.3)
	}
	cum, err := base.Add(amount)
	if err != nil {
		return fmt.Errorf("amount %s: %w", amount, err)
	}
	c, n, err := p.m.w.IssuePayment(p.addr, cum, wallet.Payment{For: purpose, InfoHash: p.infoHash, Amount: amount, Memo: memo})
	if err != nil {
		return fmt.Errorf("cannot pay %s: %w", p.addr, err)
	}
	a.bought, a.issued, a.last = c.Cumulative, c.Cumulative, &c
	a.lastPay = &wallet.Payment{Direction: wallet.Issued, For: n.Purpose, Counterparty: p.addr, InfoHash: n.InfoHash,
		Amount: n.Amount, Memo: n.Memo, Cumulative: c.Cumulative}
	// The TIP says what the wallet signed and stored.
	err = p.send(&bttbid.Tip{
		Cheque: chequeMsg(c),
		For:    bttbid.Purpose(n.Purpose), Amount: n.Amount, InfoHash: n.InfoHash, Memo: n.Memo, NoteSig: bttbid.Signature(n.Signature),
	})
	if err != nil {
		// Stored but never sent: the cumulative is ahead of what we owe,
		// as after a refusal (§16.3).
		a.bought = a.bought.SubFloor(amount)
		return fmt.Errorf("cannot send the payment: %w", err)
	}
	p.pay2 = &payment{purpose: purpose, amount: n.Amount, payout: c.Cumulative, memo: n.Memo, done: done}
	return nil
}

// resend sends our last cheque to the account again (the seller's
// RECEIPT shows it never got it): as the TIP it was, with its note signed
// again (deterministic), when it carried a payment, and only on a
// connection of that payment's torrent (a TIP names its torrent);
// otherwise as a CHEQUE.
func (p *Session) resend(a *account) {
	pay := a.lastPay
	if pay == nil {
		p.sendCheque(a.last)
		return
	}
	if pay.InfoHash != p.infoHash {
		return
	}
	n, err := p.m.w.SignTipNote(p.addr, a.last.Cumulative, pay.Amount, pay.InfoHash, pay.For, pay.Memo)
	if err != nil {
		p.lastErr = fmt.Sprintf("cannot resend the payment: %v", err)
		return
	}
	p.send(&bttbid.Tip{Cheque: chequeMsg(*a.last), For: bttbid.Purpose(n.Purpose), Amount: n.Amount,
		InfoHash: n.InfoHash, Memo: n.Memo, NoteSig: bttbid.Signature(n.Signature)})
}

// receiptFor completes our pending payment on a RECEIPT that covers it.
func (p *Session) receiptFor(r *bttbid.Receipt) {
	pp := p.pay2
	if pp == nil || r.Payout.Cmp(pp.payout) < 0 {
		return
	}
	p.t.logPayment(Payment{Time: time.Now(), For: pp.purpose, Peer: p.addr, Amount: pp.amount, Memo: pp.memo})
	if pp.purpose == wallet.ForPledge {
		p.t.c.campaign.Paid = true
	}
	if pp.purpose == wallet.ForPurchase {
		return // done when the licence arrives
	}
	p.pay2 = nil
	pp.finish(nil)
}

// refused ends our pending payment after an ERROR; a refused payment
// leaves the account's cumulative ahead of what we owe (§16.3).
func (p *Session) refused(e *bttbid.ErrorMsg) {
	pp := p.pay2
	if pp == nil {
		return
	}
	p.pay2 = nil
	if e.Code == bttbid.CodeUnderpaid || e.Code == bttbid.CodeNotPayee {
		if a, err := p.m.buyer(p.addr); err == nil {
			a.bought = a.bought.SubFloor(pp.amount)
		}
	}
	pp.finish(fmt.Errorf("refused by the peer: %s: %s", e.Code, e.Text))
}

// onTip takes a payment (§16.3), checking in the spec's order.
func (p *Session) onTip(now time.Time, m *bttbid.Tip) {
	w := p.m.w
	ch := m.Cheque
	if ch.ChainID != w.ChainID() || ch.Token != bttbid.Address(w.Token()) || ch.Payer != bttbid.Address(p.addr) ||
		ch.Beneficiary != bttbid.Address(w.Address()) || m.InfoHash != p.infoHash {
		p.fail(bttbid.CodeMisaddressed, "tip chain, token, payer, beneficiary or torrent is not this connection's", true)
		return
	}
	c := chequeOf(&ch)
	note := wallet.TipNote{ChainID: c.ChainID, Token: c.Token, Payer: c.Payer, Beneficiary: c.Beneficiary,
		Cumulative: c.Cumulative, Amount: m.Amount, InfoHash: m.InfoHash, Purpose: string(m.For), Memo: m.Memo,
		Signature: wallet.Signature(m.NoteSig)}
	// The signatures are checked once per tip (a pledge payment aside):
	// by the wallet as it stores the payment (AcceptTip), or by forged on
	// a path that stores nothing (the cheque, and the note once the
	// checks reach it).
	forged := func(withNote bool) bool {
		if c.Verify() != nil {
			p.fail(bttbid.CodeBadCheque, "tip cheque signature does not recover the payer", true)
			return true
		}
		if withNote && wallet.VerifyTipNote(c, note) != nil {
			p.fail(bttbid.CodeBadCheque, "tip note does not recover the payer", true)
			return true
		}
		return false
	}
	a, err := p.m.seller(p.addr)
	if err != nil {
		if !forged(false) {
			p.fail(bttbid.CodeInternal, "cannot read the cheque book", false)
		}
		return
	}
	switch ch.Payout.Cmp(a.accepted) {
	case 0:
		if !forged(false) {
			p.sendReceipt(a) // a retransmission
		}
		return
	case -1:
		if !forged(false) {
			p.fail(bttbid.CodeStaleCheque, fmt.Sprintf("payout %s below the accepted %s", ch.Payout, a.accepted), false)
		}
		return
	}
	refuse := func(code bttbid.Code, text string) {
		if !forged(true) {
			p.fail(code, text, false)
		}
	}
	if ch.Payout.SubFloor(a.accepted).Cmp(m.Amount) < 0 {
		refuse(bttbid.CodeUnderpaid, fmt.Sprintf("payout rises by %s, less than the amount %s", ch.Payout.SubFloor(a.accepted), m.Amount))
		return
	}
	tm := p.t.c.terms
	switch string(m.For) {
	case wallet.ForPurchase:
		if !p.t.publisher() || tm.Price.IsZero() {
			refuse(bttbid.CodeNotPayee, "this torrent is not for sale by us")
			return
		}
		if m.Amount.Cmp(tm.Price) < 0 {
			refuse(bttbid.CodeUnderpaid, fmt.Sprintf("amount %s below the price %s", m.Amount, tm.Price))
			return
		}
	case wallet.ForPledge:
		if !p.t.publisher() || tm.Goal.IsZero() {
			refuse(bttbid.CodeNotPayee, "we run no campaign for this torrent")
			return
		}
		if forged(true) {
			// Checked before the tally, which verifies every pledge we
			// hold and has peers resend CAMPAIGN: a forged tip must not
			// cause one. The wallet checks again as it stores (a pledge
			// payment is rare: twice here is cheap).
			return
		}
		p.t.tally(now)
		held, ok := p.t.heldPledge(p.addr)
		if !p.t.c.campaign.Funded || !ok || held.Amount.Cmp(m.Amount) != 0 {
			p.fail(bttbid.CodeUnderpaid, "not a pledge of a funded campaign we hold", false)
			return
		}
	}
	inc, err := w.AcceptTip(c, note) // verified, then durable before the RECEIPT
	switch {
	case errors.Is(err, wallet.ErrBadSignature) || errors.Is(err, wallet.ErrMisaddressed) || errors.Is(err, wallet.ErrBadAddress):
		// What Verify and VerifyTipNote refuse (the rest was checked above).
		p.fail(bttbid.CodeBadCheque, "tip cheque or note does not recover the payer", true)
		return
	case errors.Is(err, wallet.ErrStale):
		p.fail(bttbid.CodeStaleCheque, "cheque not above the recorded total", false)
		return
	case errors.Is(err, wallet.ErrUnderpaid):
		p.fail(bttbid.CodeUnderpaid, "cheque does not cover the amount", false)
		return
	case err != nil:
		p.fail(bttbid.CodeInternal, "cannot store the payment", false)
		p.lastErr = err.Error()
		return
	}
	// The amount is not a bandwidth debt paid; the rest of the rise is.
	a.owed = add(a.owed, m.Amount)
	a.accepted = ch.Payout
	if rest := inc.SubFloor(m.Amount); !rest.IsZero() {
		p.addEarned(rest)
	}
	p.t.logPayment(Payment{Time: now, In: true, For: string(m.For), Peer: p.addr, Amount: m.Amount, Memo: m.Memo})
	if string(m.For) == wallet.ForPledge {
		delete(p.t.c.unpaid, p.addr)
	}
	p.sendReceipt(a)
	if string(m.For) == wallet.ForPurchase {
		p.grant(m.Amount)
	}
}

// grant signs and sends a licence to the peer for price.
func (p *Session) grant(price wallet.Amount) {
	l, err := p.m.w.SignLicense(p.addr, p.infoHash, price)
	if err != nil {
		p.lastErr = fmt.Sprintf("cannot sign a licence: %v", err)
		return
	}
	p.send(licenseMsg(l))
}

func licenseMsg(l wallet.License) *bttbid.License {
	return &bttbid.License{InfoHash: l.InfoHash, Buyer: bttbid.Address(l.Buyer), Payee: bttbid.Address(l.Payee),
		ChainID: l.ChainID, Token: bttbid.Address(l.Token), Price: l.Price, Sig: bttbid.Signature(l.Signature)}
}

func licenseOf(m *bttbid.License) wallet.License {
	return wallet.License{ChainID: m.ChainID, Token: wallet.Address(m.Token), Payee: wallet.Address(m.Payee),
		Buyer: wallet.Address(m.Buyer), InfoHash: m.InfoHash, Price: m.Price, Signature: wallet.Signature(m.Sig)}
}

// onLicense takes a licence grant as a buyer (§16.4). A presentation that
// reaches the market is one the upload gate let through: nothing to do.
func (p *Session) onLicense(now time.Time, m *bttbid.License) {
	if m.Presentation() {
		return
	}
	tm := p.t.c.terms
	l := licenseOf(m)
	switch {
	case tm == nil || tm.Price.IsZero():
		p.fail(bttbid.CodeBadLicense, "licence for a torrent without a price", false)
		return
	case m.InfoHash != p.infoHash || l.Buyer != p.m.w.Address() || l.Payee != tm.Payee ||
		l.ChainID != tm.ChainID || l.Token != tm.Token || l.Price.Cmp(tm.Price) < 0:
		p.fail(bttbid.CodeBadLicense, "licence is not for this torrent, buyer and terms", false)
		return
	case l.Verify() != nil:
		p.fail(bttbid.CodeBadLicense, "licence signature does not recover the payee", false)
		return
	}
	if err := p.m.w.SaveLicense(l); err != nil {
		p.lastErr = fmt.Sprintf("cannot store the licence: %v", err)
		return
	}
	p.t.c.license = &l
	p.present(now)
	if pp := p.pay2; pp != nil && pp.purpose == wallet.ForPurchase {
		p.pay2 = nil
		pp.finish(nil)
	}
}

// present sends our licence to the peer, bound to this connection
// (§16.4), once per connection.
func (p *Session) present(now time.Time) {
	l := p.t.c.license
	if l == nil || p.presented || !p.v2() {
		return
	}
	m := licenseMsg(*l)
	m.Time = now.Unix()
	sig, err := p.m.w.SignMessage(bttbid.LicensePresentationBytes(m, p.infoHash, p.remote, p.local, m.Time))
	if err != nil {
		p.lastErr = fmt.Sprintf("cannot sign the licence presentation: %v", err)
		return
	}
	m.PresentSig = bttbid.Signature(sig)
	p.presented = true
	p.send(m)
}

// VerifyPresentation checks a licence presentation received on a
// connection of the torrent infoHash with terms tm, in the order of
// §16.4: seller is our peer ID, buyer the sender's. It needs no market
// state, so the upload gate runs it on the connection's read path.
func VerifyPresentation(m *bttbid.License, tm *Terms, infoHash, seller, buyer [20]byte, now time.Time) error {
	switch {
	case !m.Presentation():
		return errors.New("a licence grant, not a presentation")
	case m.InfoHash != infoHash || tm == nil || tm.Price.IsZero():
		return errors.New("licence for another torrent, or a torrent without a price")
	case wallet.Address(m.Payee) != tm.Payee || m.ChainID != tm.ChainID || wallet.Address(m.Token) != tm.Token ||
		m.Price.Cmp(tm.Price) < 0:
		return errors.New("licence does not match the torrent's terms")
	case !bttbid.SkewOK(m.Time, now):
		return fmt.Errorf("presentation time %d too far from our clock", m.Time)
	}
	if err := licenseOf(m).Verify(); err != nil {
		return fmt.Errorf("licence signature: %w", err)
	}
	msg := bttbid.LicensePresentationBytes(m, infoHash, seller, buyer, m.Time)
	if err := wallet.VerifyMessage(wallet.Address(m.Buyer), msg, wallet.Signature(m.PresentSig)); err != nil {
		return fmt.Errorf("presentation signature: %w", err)
	}
	return nil
}

// Pledge promises amount (our total) to the torrent's campaign, sent to
// the peer, which must be its publisher. The pledge is stored before it
// is sent; done is called when the publisher answers CAMPAIGN or refuses.
func (p *Session) Pledge(now time.Time, amount wallet.Amount, done func(error)) error {
	if !p.v2() {
		return ErrNotV2
	}
	tm := p.t.c.terms
	switch {
	case tm == nil || tm.Goal.IsZero():
		return errors.New("the torrent has no crowdfunding campaign")
	case tm.Payee != p.addr:
		return fmt.Errorf("the peer (%s) is not the torrent's publisher", p.addr)
	case now.Unix() > tm.Deadline:
		return fmt.Errorf("the campaign ended at %s", time.Unix(tm.Deadline, 0).UTC().Format(time.RFC3339))
	case p.pledgeDone != nil:
		return errors.New("a pledge to this peer awaits its answer")
	}
	at := uint64(now.Unix())
	if o := p.t.c.ours; o != nil && o.Time >= at {
		at = o.Time + 1 // a later pledge replaces the earlier one
	}
	pl, err := p.m.w.SignPledge(tm.Payee, p.infoHash, amount, tm.Goal, uint64(tm.Deadline), at)
	if err != nil {
		return fmt.Errorf("cannot sign the pledge: %w", err)
	}
	if err := p.m.w.SavePledge(pl); err != nil {
		return fmt.Errorf("cannot store the pledge: %w", err)
	}
	p.t.c.ours = &pl
	p.t.c.campaign.Ours = pl.Amount
	p.pledgeDone = done
	p.send(pledgeMsg(pl))
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

// onPledge takes a pledge as the publisher (§16.5).
func (p *Session) onPledge(now time.Time, m *bttbid.Pledge) {
	w, tm := p.m.w, p.t.c.terms
	pl := pledgeOf(m)
	switch {
	case m.ChainID != w.ChainID() || pl.Token != w.Token() || pl.Payer != p.addr || m.InfoHash != p.infoHash:
		p.fail(bttbid.CodeMisaddressed, "pledge chain, token, payer or torrent is not this connection's", true)
		return
	case tm == nil || tm.Goal.IsZero() || pl.Payee != tm.Payee || !p.t.publisher():
		p.fail(bttbid.CodeNotPayee, "we run no campaign for this torrent", false)
		return
	case pl.Goal.Cmp(tm.Goal) != 0 || m.Deadline != tm.Deadline:
		p.fail(bttbid.CodeMisaddressed, "pledge goal or deadline is not the torrent's", true)
		return
	case pl.Verify() != nil:
		p.fail(bttbid.CodeBadCheque, "pledge signature does not recover the payer", true)
		return
	}
	p.t.tally(now)
	held, ok := p.t.heldPledge(pl.Payer)
	if ok && held == pl {
		p.sendCampaign(now) // a retransmission
		return
	}
	if !bttbid.SkewOK(m.Time, now) || now.Unix() > tm.Deadline || ok && pl.Time <= held.Time {
		p.fail(bttbid.CodeStaleCheque, "pledge out of time, after the deadline, or not later than the one held", false)
		return
	}
	if err := w.SavePledge(pl); err != nil {
		p.fail(bttbid.CodeStaleCheque, "cannot store the pledge", false)
		p.lastErr = err.Error()
		return
	}
	p.t.tally(now)
	p.sendCampaign(now)
	p.maybeFunded()
}

// sendCampaign tells the peer the campaign's progress (publisher).
func (p *Session) sendCampaign(now time.Time) {
	c := p.t.c.campaign
	p.send(&bttbid.Campaign{InfoHash: p.infoHash, Goal: c.Goal, Deadline: p.t.c.terms.Deadline,
		Pledged: c.Pledged, Count: uint64(c.Count)})
	p.campaignSeen, p.campaignAt = p.t.c.tallied, now
}

// maybeFunded sends the proof that the campaign is funded to a peer
// whose pledge is not paid yet (publisher, §16.11 step 4), once per
// connection.
func (p *Session) maybeFunded() {
	if p.fundedSent || !p.t.c.campaign.Funded {
		return
	}
	if !p.t.c.unpaid[p.addr] {
		return // no pledge from the peer, or paid (tally reads the book)
	}
	ps := slices.Clone(p.t.c.pledges)
	slices.SortFunc(ps, func(a, b wallet.Pledge) int { return b.Amount.Cmp(a.Amount) })
	var sum wallet.Amount
	var proof []bttbid.Pledge
	for _, pl := range ps {
		proof = append(proof, *pledgeMsg(pl))
		sum = add(sum, pl.Amount)
		if sum.Cmp(p.t.c.terms.Goal) >= 0 {
			break
		}
	}
	for len(proof) > 0 {
		n := min(len(proof), bttbid.MaxFundedPledges)
		p.send(&bttbid.Funded{InfoHash: p.infoHash, Pledges: proof[:n]})
		proof = proof[n:]
	}
	p.fundedSent = true
}

// onCampaign takes the publisher's progress report (pledger side).
func (p *Session) onCampaign(m *bttbid.Campaign) {
	tm := p.t.c.terms
	if tm == nil || tm.Payee != p.addr || m.InfoHash != p.infoHash || m.Goal.Cmp(tm.Goal) != 0 || m.Deadline != tm.Deadline {
		return
	}
	if !p.t.publisher() {
		p.t.c.campaign.Pledged, p.t.c.campaign.Count = m.Pledged, int(m.Count)
	}
	if done := p.pledgeDone; done != nil {
		p.pledgeDone = nil
		done(nil)
	}
}

// onFunded takes a proof that the campaign is funded and pays our
// pledge once the proof holds (pledger side, §16.11 step 5).
func (p *Session) onFunded(m *bttbid.Funded) {
	tm := p.t.c.terms
	if tm == nil || tm.Goal.IsZero() || m.InfoHash != p.infoHash {
		return
	}
	if p.t.c.proof == nil {
		p.t.c.proof = make(map[wallet.Address]wallet.Pledge)
	}
	for i := range m.Pledges {
		pl := pledgeOf(&m.Pledges[i])
		if old, ok := p.t.c.proof[pl.Payer]; (!ok || pl.Time > old.Time) && p.t.termsPledge(pl) {
			p.t.c.proof[pl.Payer] = pl
		}
	}
	var sum wallet.Amount
	for _, pl := range p.t.c.proof {
		sum = add(sum, pl.Amount)
	}
	if sum.Cmp(tm.Goal) < 0 {
		return // not proven (yet): nothing is payable
	}
	if !p.t.publisher() {
		p.t.c.campaign.Funded = true
		if sum.Cmp(p.t.c.campaign.Pledged) > 0 {
			p.t.c.campaign.Pledged = sum
		}
	}
	ours := p.t.c.ours
	if ours == nil || p.t.c.campaign.Paid || p.pay2 != nil {
		return
	}
	if err := p.Pay(wallet.ForPledge, ours.Amount, "", nil); err != nil {
		p.lastErr = fmt.Sprintf("cannot pay the pledge: %v", err)
	}
}

// commerceHello runs when the connection turns READY: the publisher
// sends its campaign and, to a buyer it sold to, the licence again; a
// licensed buyer presents its licence.
func (p *Session) commerceHello(now time.Time) {
	if !p.v2() {
		return
	}
	p.CommerceTick(now)
	if p.t.publisher() && !p.t.c.terms.Price.IsZero() {
		if ps, err := p.m.w.Payments(); err == nil {
			for _, pay := range ps {
				if pay.Direction == wallet.Received && pay.For == wallet.ForPurchase && pay.InfoHash == p.infoHash &&
					pay.Counterparty == p.addr {
					p.grant(pay.Amount) // a buyer that lost its grant never pays twice
					break
				}
			}
		}
	}
}

// CommerceTick sends what §16 wants sent on the connection now: our
// licence presentation, the publisher's campaign progress (at most once
// a second, when it changed) and its funded proof to unpaid pledgers.
func (p *Session) CommerceTick(now time.Time) {
	if !p.v2() || p.t.c.terms == nil {
		return
	}
	p.present(now)
	if p.t.publisher() && !p.t.c.terms.Goal.IsZero() {
		if (p.campaignAt.IsZero() || p.campaignSeen != p.t.c.tallied) && now.Sub(p.campaignAt) >= time.Second {
			p.sendCampaign(now)
		}
		p.maybeFunded()
	}
}

// KeepOpen reports whether the connection is needed for §16 even when
// both sides have every piece: a payment or pledge of ours awaits its
// answer, or a pledge between the two is promised and not paid while the
// campaign runs (the pledger must be reachable when it is funded).
func (p *Session) KeepOpen(now time.Time) bool {
	if p.pay2 != nil || p.pledgeDone != nil {
		return true
	}
	tm := p.t.c.terms
	if tm == nil || tm.Goal.IsZero() || p.state != Ready {
		return false
	}
	if c, _ := p.t.Campaign(now); c.Expired {
		return false
	}
	if p.t.publisher() {
		return p.t.c.unpaid[p.addr]
	}
	return p.addr == tm.Payee && p.t.c.ours != nil && !p.t.c.campaign.Paid
}
