package market

// Storing received cheques (PROTOCOL.md §8.4, §16.3): a cheque counts,
// and is acknowledged with RECEIPT, only once it is stored durably. By
// default the market stores it at once through the Wallet (AcceptCheque,
// AcceptTip), on the caller's goroutine. An engine whose loop must not
// wait on an fsync calls QueueWrites: the market then queues each write
// (TakeWrites), the engine stores the queue off its loop, in order, and
// reports each outcome on the loop (Written); only then does the cheque
// count.
//
// While a cheque is queued it counts for nothing: the account's accepted
// total, debt, credit and exposure are as if it were unpaid, and no
// RECEIPT names it. A later cheque is checked against the accepted
// (stored) total and queued behind it; the store refuses one that is not
// above the cheque stored before it (ErrStale), as it would have been
// refused had the first been stored at once.

import (
	"errors"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Write is a received cheque the market counts once it is stored: a
// CHEQUE's (Note nil) or a TIP's with its note. The engine stores it
// (wallet.Wallet.AcceptAll, in the order taken) and reports the outcome
// with Market.Written(ID, …).
type Write struct {
	ID     uint64
	Cheque wallet.Cheque
	Note   *wallet.TipNote
}

// maxQueuedWrites bounds the writes one payer may have queued: an honest
// buyer has one or two (it waits for its RECEIPT); past the bound a cheque
// is refused with ERROR 500, unstored, and the payer may send it again.
const maxQueuedWrites = 64

// pendingWrite is a queued write and what completes it.
type pendingWrite struct {
	s     *Session
	c     wallet.Cheque
	tip   *bttbid.Tip // the TIP that carried it; nil: a CHEQUE
	note  wallet.TipNote
	now   time.Time
	price wallet.Amount // a CHEQUE's price, for its credit
}

// QueueWrites makes the market queue its writes of received cheques for
// the engine (TakeWrites, Written) instead of storing them at once.
// Call it before the first session starts.
func (m *Market) QueueWrites() {
	m.queueWrites = true
	if m.pending == nil {
		m.pending = make(map[uint64]*pendingWrite)
	}
}

// TakeWrites returns the writes queued since the last call, in the order
// they must be stored, and forgets them (they stay pending until
// Written).
func (m *Market) TakeWrites() []Write {
	out := m.writes
	m.writes = nil
	return out
}

// Writing returns how many taken or queued writes wait for Written.
func (m *Market) Writing() int { return len(m.pending) }

// store stores w at once, or queues it (QueueWrites).
func (m *Market) store(a *account, w *pendingWrite) {
	if !m.queueWrites {
		var r wallet.Accepted
		if w.tip == nil {
			r.Inc, r.Err = m.w.AcceptCheque(w.c)
		} else {
			r.Inc, r.Err = m.w.AcceptTip(w.c, w.note)
		}
		w.s.stored(a, w, r)
		return
	}
	if a.writes >= maxQueuedWrites {
		w.s.fail(bttbid.CodeInternal, "too many cheques of this payer wait to be stored", false)
		return
	}
	a.writes++
	m.nextWrite++
	m.pending[m.nextWrite] = w
	wr := Write{ID: m.nextWrite, Cheque: w.c}
	if w.tip != nil {
		n := w.note
		wr.Note = &n
	}
	m.writes = append(m.writes, wr)
}

// Written reports how the store of write id ended (r.Err set: it was
// refused, or it could not be stored). The cheque counts, and is
// acknowledged, only now. It returns the session whose outbox may have
// grown, or nil.
func (m *Market) Written(id uint64, r wallet.Accepted) *Session {
	w := m.pending[id]
	if w == nil {
		return nil
	}
	delete(m.pending, id)
	a := m.account(w.c.Payer)
	a.writes--
	w.s.stored(a, w, r)
	return w.s
}

// stored completes a received cheque's write: on success it counts (the
// accepted total, earnings, credit) and is acknowledged with RECEIPT; a
// refusal or a failure is answered with ERROR and the cheque counts for
// nothing. The session may have closed meanwhile: a stored cheque still
// counts for its account and torrent.
func (s *Session) stored(a *account, w *pendingWrite, r wallet.Accepted) {
	if r.Err != nil {
		s.refuseStored(w, r.Err)
		return
	}
	if r.Repeat {
		s.sendReceipt(a) // a duplicate of a cheque stored meanwhile
		return
	}
	if w.c.Cumulative.Cmp(a.accepted) > 0 {
		c := w.c
		a.accepted, a.held = c.Cumulative, &c
	}
	if w.tip == nil {
		s.addEarned(r.Inc)
		s.growCredit(a, r.Inc, w.price)
		s.sendReceipt(a)
		if s.sell.suspended && a.owed.SubFloor(a.accepted).Cmp(s.creditAmount(a, s.sell.price)) < 0 && !s.sell.cut {
			s.sell.suspended = false
			s.resume(a)
		}
		return
	}
	m := w.tip
	// The amount is not a bandwidth debt paid; the rest of the rise is.
	a.owed = a.owed.AddSaturating(m.Amount)
	if rest := r.Inc.SubFloor(m.Amount); !rest.IsZero() {
		s.addEarned(rest)
	}
	s.t.logPayment(Payment{Time: w.now, In: true, For: string(m.For), Peer: s.addr, Amount: m.Amount, Memo: m.Memo})
	switch string(m.For) {
	case wallet.ForPledge:
		s.t.pledgePaid(s.addr, m.Amount)
	case wallet.ForPurchase:
		s.t.notePurchase(s.addr, m.Amount, m.Cheque.Payout)
	}
	s.sendReceipt(a)
	if string(m.For) == wallet.ForPurchase {
		s.awaitGrant(w.now, m.Amount, m.Cheque.Payout)
	}
}

// refuseStored answers a cheque the wallet refused or could not store.
func (s *Session) refuseStored(w *pendingWrite, err error) {
	switch {
	case errors.Is(err, wallet.ErrBadSignature) || errors.Is(err, wallet.ErrMisaddressed) || errors.Is(err, wallet.ErrBadAddress):
		// What Verify and VerifyTipNote refuse (the rest was checked
		// before it was queued).
		if w.tip == nil {
			s.fail(bttbid.CodeBadCheque, "cheque signature does not recover the payer", true)
		} else {
			s.fail(bttbid.CodeBadCheque, "tip cheque or note does not recover the payer", true)
		}
	case errors.Is(err, wallet.ErrStale):
		s.fail(bttbid.CodeStaleCheque, "cheque not above the recorded total", false)
	case w.tip != nil && errors.Is(err, wallet.ErrUnderpaid):
		s.fail(bttbid.CodeUnderpaid, "cheque does not cover the amount", false)
	default:
		// Not stored: not acknowledged and not counted; the payer's
		// debt and exposure stay as if unpaid, and it may send it again.
		if w.tip == nil {
			s.fail(bttbid.CodeInternal, "cannot store the cheque", false)
		} else {
			s.fail(bttbid.CodeInternal, "cannot store the payment", false)
		}
		s.lastErr = err.Error()
	}
}
