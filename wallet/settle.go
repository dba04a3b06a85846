package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Settlement is what Settle did for one cheque book record.
type Settlement struct {
	Record    Record // the record after settlement
	Paid      Amount // moved by this settlement
	Shortfall Amount // still owed after it (payer's balance too low)
	TxID      string
	Err       error // why this record was not (fully) settled, or nil
}

// Settle settles every record of the wallet's chain and token with an
// unsettled amount:
//
//   - where the chain redeems cheques (local), issued and received cheques
//     alike are redeemed: the ledger pays the beneficiary what the payer
//     can cover;
//   - otherwise (TRON) issued cheques are paid by a token transfer of
//     cumulative − settled, and received cheques wait for their payer
//     (their Err is ErrNotSupported);
//   - vault cheques (Cheque.Vault set, on a VaultCasher chain) are
//     cashed by their beneficiary at the payer's vault (Paid, and
//     Shortfall for what bounced); their payer leaves them alone.
//
// The settled total is recorded after each confirmed payment. A failure
// on one record does not stop the others; Settle returns an error only
// when the cheque book cannot be read.
func (w *Wallet) Settle(ctx context.Context) ([]Settlement, error) {
	rs, err := w.book.Records()
	if err != nil {
		return nil, err
	}
	var out []Settlement
	for _, r := range rs {
		if r.Cheque.ChainID != w.chain.ChainID() || r.Cheque.Token != w.chain.Token() || r.Unsettled().IsZero() {
			continue
		}
		if r.Direction == Issued && !r.Cheque.Vault.IsZero() {
			continue // its beneficiary cashes it at our vault
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, w.settle(ctx, r))
	}
	return out, nil
}

func (w *Wallet) settle(ctx context.Context, r Record) Settlement {
	s := Settlement{Record: r}
	if vc, ok := w.chain.(VaultCasher); ok && !r.Cheque.Vault.IsZero() {
		return w.cash(ctx, vc, s)
	}
	red, err := w.chain.Redeem(ctx, r.Cheque)
	switch {
	case err == nil:
		s.Paid, s.Shortfall, s.TxID = red.Paid, red.Shortfall, red.TxID
		s.Record.Settled = red.Settled
		if red.Settled.Cmp(r.Cheque.Cumulative) > 0 {
			s.Record.Settled = r.Cheque.Cumulative
		}
	case errors.Is(err, ErrStale):
		// The chain has already paid this cheque in full.
		s.Record.Settled = r.Cheque.Cumulative
	case errors.Is(err, ErrNotSupported) && r.Direction == Issued:
		return w.pay(ctx, s)
	default:
		s.Err = err
		s.Shortfall = r.Unsettled()
		return s
	}
	if err := w.book.SetSettled(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, s.Record.Settled); err != nil {
		s.Err = err
	}
	return s
}

// pay settles an issued cheque by transfer (chains without redemption).
// One settlement per pair at a time: a pending transfer is resolved by
// its status on chain (never sent again), and a new one is claimed with
// ChequeBook.BeginPending before it is broadcast, so of concurrent
// settlements (goroutines, or processes sharing the cheque book) one
// pays and the others return ErrPending.
func (w *Wallet) pay(ctx context.Context, s Settlement) Settlement {
	r := s.Record
	if w.key == nil {
		s.Err = ErrNoKey
		return s
	}
	tracker, tracked := w.chain.(TrackedSender)
	if !tracked {
		s.Err = fmt.Errorf("%s cannot track a transfer before broadcasting it: %w", w.chain.Name(), ErrNotSupported)
		return s
	}
	if p := r.Pending; p != nil {
		st, err := tracker.TxStatus(ctx, p.TxID)
		switch {
		case err != nil:
			s.Err = fmt.Errorf("cannot check the pending settlement %s: %w", p.TxID, err)
			return s
		case st == TxConfirmed:
			if err := w.book.settledBy(r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, p.Target, p.TxID); err != nil {
				s.Err = err
				return s
			}
			s.Paid, s.TxID = p.Target.SubFloor(r.Settled), p.TxID
			r.Settled, r.Pending = p.Target, nil
		case st == TxFailed || time.Now().After(p.Expires.Add(pendingGrace)):
			if err := w.book.EndPending(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, p.TxID); err != nil {
				s.Err = err
				return s
			}
			r.Pending = nil
		default:
			s.Err = fmt.Errorf("settlement %s of %s is not confirmed yet: %w", p.TxID, r.Counterparty, ErrPending)
			return s
		}
	}
	s.Record = r
	amt := r.Unsettled()
	if amt.IsZero() {
		return s
	}
	rc, err := tracker.SendTracked(ctx, w.key, r.Counterparty, amt, func(id string, exp time.Time) error {
		return w.book.BeginPending(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, r.Settled, Pending{TxID: id, Target: r.Cheque.Cumulative, Expires: exp})
	})
	if err != nil {
		// A pending record, if written, is resolved by the next Settle.
		s.Err = fmt.Errorf("cannot pay %s BTT to %s: %w", amt.Format(BTTDecimals), r.Counterparty, err)
		return s
	}
	if err := w.book.settledBy(r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, r.Cheque.Cumulative, rc.TxID); err != nil {
		s.Err = err
		return s
	}
	s.Paid, _ = s.Paid.Add(amt)
	s.TxID = rc.TxID
	s.Record.Settled, s.Record.Pending = r.Cheque.Cumulative, nil
	return s
}

// cash settles a received vault cheque by cashing it at the payer's
// vault. What the vault says we already cashed is recorded first, so a
// cash whose confirmation was lost (a crash, a timeout) is recorded from
// the chain, never cashed again; the cash is claimed with
// ChequeBook.BeginPending before it is broadcast, so of concurrent
// settlements one cashes and the others return ErrPending.
func (w *Wallet) cash(ctx context.Context, vc VaultCasher, s Settlement) Settlement {
	r := s.Record
	setSettled := func(v Amount) error {
		return w.book.SetSettled(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, v.Min(r.Cheque.Cumulative))
	}
	// A cash in flight (another goroutine or process, or one whose
	// outcome was lost) is waited for: cashing again before it is mined
	// would only revert and burn a fee.
	if p := r.Pending; p != nil {
		if tracker, ok := w.chain.(TrackedSender); ok {
			st, err := tracker.TxStatus(ctx, p.TxID)
			switch {
			case err != nil:
				s.Err = fmt.Errorf("cannot check the pending cash %s: %w", p.TxID, err)
				return s
			case st == TxUnknown && !time.Now().After(p.Expires.Add(pendingGrace)):
				s.Err = fmt.Errorf("cash %s at vault %s is not confirmed yet: %w", p.TxID, r.Cheque.Vault, ErrPending)
				return s
			}
		}
		if err := w.book.EndPending(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, p.TxID); err != nil {
			s.Err = err
			return s
		}
		r.Pending = nil
	}
	done, err := vc.Cashed(ctx, r.Cheque.Vault, w.addr)
	if err != nil {
		s.Err, s.Shortfall = fmt.Errorf("cannot read what vault %s paid us: %w", r.Cheque.Vault, err), r.Unsettled()
		return s
	}
	if done.Cmp(r.Settled) > 0 {
		if err := setSettled(done); err != nil {
			s.Err = err
			return s
		}
		s.Paid = done.Min(r.Cheque.Cumulative).SubFloor(r.Settled)
		r.Settled = done.Min(r.Cheque.Cumulative)
		s.Record = r
	}
	if r.Unsettled().IsZero() {
		return s
	}
	if w.key == nil {
		s.Err = ErrNoKey
		return s
	}
	red, err := vc.CashCheque(ctx, w.key, r.Cheque, func(id string, exp time.Time) error {
		return w.book.BeginPending(r.Direction, r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, r.Settled, Pending{TxID: id, Target: r.Cheque.Cumulative, Expires: exp})
	})
	s.TxID = red.TxID
	if err != nil {
		// A pending record, if written, is resolved by the next Settle.
		s.Err, s.Shortfall = fmt.Errorf("cannot cash at vault %s: %w", r.Cheque.Vault, err), r.Unsettled()
		return s
	}
	if red.TxID == "" {
		// Nothing was sent (the vault could pay us nothing): what the
		// last cash left bounced stands.
		if err := setSettled(red.Settled); err != nil {
			s.Err = err
			return s
		}
	} else if err := w.book.SetCashed(r.Cheque.ChainID, r.Cheque.Token, r.Counterparty, red.Settled, red.Shortfall, red.TxID); err != nil {
		// The settled total, the bounced amount and the end of the
		// pending cash go in one transaction.
		s.Err = err
		return s
	}
	s.Paid, _ = s.Paid.Add(red.Paid)
	s.Shortfall = red.Shortfall
	s.Record.Settled = red.Settled.Min(r.Cheque.Cumulative)
	if red.TxID != "" {
		s.Record.Bounced = red.Shortfall
	}
	s.Record.Bounced = s.Record.Bounced.Min(s.Record.Unsettled())
	return s
}

// pendingGrace is how long after its expiry a transaction not found on
// chain is taken as dropped (block production and node lag).
const pendingGrace = 2 * time.Minute

// Due returns what Settle would settle now on the wallet's chain and
// token, for a settlement threshold to be judged against:
//
//   - where the chain redeems cheques (local), the unsettled part of
//     received cheques;
//   - where the payer settles by transfer (TRON), the unsettled part of
//     issued plain cheques and of received vault cheques (cashed here).
//     Received plain cheques there are IOUs this wallet cannot settle:
//     they never count, or every balance refresh past the threshold
//     would settle again.
func (w *Wallet) Due() (Amount, error) {
	rs, err := w.book.Records()
	if err != nil {
		return Amount{}, err
	}
	_, payerSettles := w.chain.(TrackedSender)
	var due Amount
	for _, r := range rs {
		if r.Cheque.ChainID != w.chain.ChainID() || r.Cheque.Token != w.chain.Token() {
			continue
		}
		_, cashes := w.chain.(VaultCasher)
		switch {
		case !r.Cheque.Vault.IsZero() && cashes:
			if r.Direction == Issued {
				continue // our payee cashes it
			}
		case (r.Direction == Issued) != payerSettles:
			continue
		}
		if due, err = due.Add(r.Unsettled()); err != nil {
			return Amount{}, fmt.Errorf("cannot add up what is due: %w", err)
		}
	}
	return due, nil
}

// SettleDue is the threshold settlement: it settles (Settle) when Due
// reaches threshold, and does nothing when threshold is zero. After a
// settlement that failed for another reason than one already in
// progress (or a received IOU the chain cannot redeem), it waits settleBackoff before trying again on its own, so a
// failing transfer does not burn a network fee at every balance refresh.
// It reports whether it settled.
func (w *Wallet) SettleDue(ctx context.Context, threshold Amount) ([]Settlement, bool, error) {
	if threshold.IsZero() {
		return nil, false, nil
	}
	w.mu.Lock()
	wait := time.Now().Before(w.retryAt)
	w.mu.Unlock()
	if wait {
		return nil, false, nil
	}
	due, err := w.Due()
	if err != nil || due.Cmp(threshold) < 0 {
		return nil, false, err
	}
	ss, err := w.Settle(ctx)
	for _, s := range ss {
		if s.Err != nil && !errors.Is(s.Err, ErrPending) && !errors.Is(s.Err, ErrNotSupported) {
			w.mu.Lock()
			w.retryAt = time.Now().Add(settleBackoff)
			w.mu.Unlock()
			break
		}
	}
	return ss, true, err
}

// settleBackoff is how long SettleDue waits after a failed settlement.
const settleBackoff = 5 * time.Minute
