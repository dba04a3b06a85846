package market

import (
	"errors"
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

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

// Pay pays amount to the peer for purpose (wallet.ForTip, ForPurchase,
// ForPledge) regarding the connection's torrent, with memo on a tip. The
// cheque and its note are stored before the TIP is queued (§16.12). done
// is called with nil once the peer acknowledged it (RECEIPT; for a
// purchase, the licence grant), or with the refusal.
func (s *Session) Pay(purpose string, amount wallet.Amount, memo string, done func(error)) error {
	if !s.v2() {
		return ErrNotV2
	}
	if s.deal.pending != nil {
		return errors.New("a payment to this peer awaits its receipt")
	}
	if purpose != wallet.ForTip {
		if tm := s.t.c.terms; tm == nil || tm.Payee != s.addr {
			return fmt.Errorf("the peer (%s) is not the torrent's payee", s.addr)
		}
	}
	a, err := s.m.buyer(s.addr)
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
	vault, err := s.m.chequeVault(a)
	if err != nil {
		return fmt.Errorf("cannot pay %s: %w", s.addr, err)
	}
	p := wallet.Payment{For: purpose, InfoHash: s.infoHash, Amount: amount, Memo: memo}
	var (
		c wallet.Cheque
		n wallet.TipNote
	)
	if vault.IsZero() {
		c, n, err = s.m.w.IssuePayment(s.addr, cum, p)
	} else {
		c, n, err = s.m.w.IssueVaultPayment(vault, s.addr, cum, p)
	}
	if err != nil {
		return fmt.Errorf("cannot pay %s: %w", s.addr, err)
	}
	a.bought, a.issued, a.last = c.Cumulative, c.Cumulative, &c
	a.payCap = a.payCap.AddSaturating(amount)
	a.lastPay = &wallet.Payment{Direction: wallet.Issued, For: n.Purpose, Counterparty: s.addr, InfoHash: n.InfoHash,
		Amount: n.Amount, Memo: n.Memo, Cumulative: c.Cumulative}
	// The TIP says what the wallet signed and stored.
	err = s.send(&bttbid.Tip{
		Cheque: chequeMsg(c),
		For:    bttbid.Purpose(n.Purpose), Amount: n.Amount, InfoHash: n.InfoHash, Memo: n.Memo, NoteSig: bttbid.Signature(n.Signature),
	})
	if err != nil {
		// Stored but never sent: the cumulative is ahead of what we owe,
		// as after a refusal (§16.3).
		a.bought = a.bought.SubFloor(amount)
		return fmt.Errorf("cannot send the payment: %w", err)
	}
	s.deal.pending = &payment{purpose: purpose, amount: n.Amount, payout: c.Cumulative, memo: n.Memo, done: done}
	return nil
}

// resend sends our last cheque to the account again (the seller's
// RECEIPT shows it never got it): as the TIP it was, with its note signed
// again (deterministic), when it carried a payment, and only on a
// connection of that payment's torrent (a TIP names its torrent);
// otherwise as a CHEQUE.
func (s *Session) resend(a *account) {
	pay := a.lastPay
	if pay == nil {
		s.sendCheque(a.last)
		return
	}
	if pay.InfoHash != s.infoHash {
		return
	}
	n, err := s.m.w.SignTipNote(s.addr, a.last.Cumulative, pay.Amount, pay.InfoHash, pay.For, pay.Memo)
	if err != nil {
		s.lastErr = fmt.Sprintf("cannot resend the payment: %v", err)
		return
	}
	s.send(&bttbid.Tip{Cheque: chequeMsg(*a.last), For: bttbid.Purpose(n.Purpose), Amount: n.Amount,
		InfoHash: n.InfoHash, Memo: n.Memo, NoteSig: bttbid.Signature(n.Signature)})
}

// receiptFor completes our pending payment on a RECEIPT that covers it.
func (s *Session) receiptFor(r *bttbid.Receipt) {
	pp := s.deal.pending
	if pp == nil || r.Payout.Cmp(pp.payout) < 0 {
		return
	}
	s.t.logPayment(Payment{Time: time.Now(), For: pp.purpose, Peer: s.addr, Amount: pp.amount, Memo: pp.memo})
	if pp.purpose == wallet.ForPledge {
		s.t.c.campaign.Paid = true
	}
	if pp.purpose == wallet.ForPurchase {
		s.m.payWant = true // on TRON, the licence waits for our transfer (§11.2)
		return             // done when the licence arrives
	}
	s.deal.pending = nil
	pp.finish(nil)
}

// refused ends our pending payment after an ERROR; a refused payment
// leaves the account's cumulative ahead of what we owe (§16.3).
func (s *Session) refused(e *bttbid.ErrorMsg) {
	pp := s.deal.pending
	if pp == nil {
		return
	}
	s.deal.pending = nil
	if e.Code == bttbid.CodeUnderpaid || e.Code == bttbid.CodeNotPayee || e.Code == bttbid.CodeRateLimited {
		if a, err := s.m.buyer(s.addr); err == nil {
			a.bought = a.bought.SubFloor(pp.amount)
		}
	}
	pp.finish(fmt.Errorf("refused by the peer: %s: %s", e.Code, e.Text))
}

// onTip takes a payment (§16.3), checking in the spec's order.
func (s *Session) onTip(now time.Time, m *bttbid.Tip) {
	if m.InfoHash != s.infoHash {
		s.fail(bttbid.CodeMisaddressed, "tip names another torrent than this connection's", true)
		return
	}
	c, a, ok := s.checkCheque(m.Cheque, inTip)
	if !ok {
		return
	}
	note := wallet.TipNote{ChainID: c.ChainID, Token: c.Token, Payer: c.Payer, Beneficiary: c.Beneficiary,
		Cumulative: c.Cumulative, Amount: m.Amount, InfoHash: m.InfoHash, Purpose: string(m.For), Memo: m.Memo,
		Signature: wallet.Signature(m.NoteSig)}
	// Past checkCheque the note is checked with the cheque before a
	// refusal (forgedTip), and by the wallet as it stores the payment.
	forgedTip := func() bool {
		if s.forged(&c, inTip) {
			return true
		}
		if wallet.VerifyTipNote(c, note) != nil {
			s.fail(bttbid.CodeBadCheque, "tip note does not recover the payer", true)
			return true
		}
		return false
	}
	refuse := func(code bttbid.Code, text string) {
		if !forgedTip() {
			s.fail(code, text, false)
		}
	}
	if m.Cheque.Payout.SubFloor(a.accepted).Cmp(m.Amount) < 0 {
		refuse(bttbid.CodeUnderpaid, fmt.Sprintf("payout rises by %s, less than the amount %s", m.Cheque.Payout.SubFloor(a.accepted), m.Amount))
		return
	}
	tm := s.t.c.terms
	switch string(m.For) {
	case wallet.ForTip:
		// Each accepted tip is a durable write and a lasting record: a
		// least amount and a per-payer rate bound what a payer can make
		// us store (§16.3 step 6).
		if minTip := s.m.cfg.minTip(); m.Amount.Cmp(minTip) < 0 {
			refuse(bttbid.CodeUnderpaid, fmt.Sprintf("tip %s below the minimum %s", m.Amount, minTip))
			return
		}
		if n := s.m.cfg.tipsPerMinute(); !a.tipAllowed(now, n) {
			refuse(bttbid.CodeRateLimited, fmt.Sprintf("more than %d tips a minute from this payer", n))
			return
		}
	case wallet.ForPurchase:
		if !s.t.publisher() || tm.Price.IsZero() {
			refuse(bttbid.CodeNotPayee, "this torrent is not for sale by us")
			return
		}
		if m.Amount.Cmp(tm.Price) < 0 {
			refuse(bttbid.CodeUnderpaid, fmt.Sprintf("amount %s below the price %s", m.Amount, tm.Price))
			return
		}
	case wallet.ForPledge:
		if !s.t.publisher() || tm.Goal.IsZero() {
			refuse(bttbid.CodeNotPayee, "we run no campaign for this torrent")
			return
		}
		if forgedTip() {
			// A forged pledge payment is refused as forged, not as
			// unpayable. The wallet checks again as it stores (a
			// pledge payment is rare: twice here is cheap).
			return
		}
		held, ok := s.t.heldPledge(s.addr)
		if !s.t.c.campaign.Funded || !ok || held.Amount.Cmp(m.Amount) != 0 {
			s.fail(bttbid.CodeUnderpaid, "not a pledge of a funded campaign we hold", false)
			return
		}
	}
	// Verified, then durable before it counts and before the RECEIPT
	// (write.go).
	s.m.store(a, &pendingWrite{s: s, c: c, tip: m, note: note, now: now})
}
