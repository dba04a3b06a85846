package market

// Settlement by transfer (PROTOCOL.md §11.2): on TRON without a vault a
// payer settles by a TRC-20 transfer to its payee and names the
// transaction in a TRANSFER; the payee has the engine check it through
// its own node, off the loop (TransfersDue, TransferChecked), and counts
// it as settled: exposure falls, a purchase waiting for its payment gets
// its licence. As a payer we name each of our settlement transfers
// (Transferred) on every connection to the payee, and again after HELLO.

import (
	"fmt"
	"slices"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// maxTransferChecks is how many TRANSFERs of one payer may wait for the
// chain at once; more are refused (each costs a query of our node).
const maxTransferChecks = 4

// keptTransfers is how many of our latest transfers to a payee we name
// to it on a new connection.
const keptTransfers = 4

// TransferCheck is a TRANSFER the engine checks on chain: the payer and
// the transaction it named.
type TransferCheck struct {
	Payer wallet.Address
	TxID  [32]byte
}

// transferSide is a connection's TRANSFER state: how many of the
// account's transfers we named on it.
type transferSide struct {
	named int
}

// onTransfer queues the payer's TRANSFER for the engine to check, once
// per transaction; checked ones answer with ERROR 410 on failure.
func (s *Session) onTransfer(m *bttbid.Transfer) {
	c := TransferCheck{Payer: s.addr, TxID: m.TxID}
	n := 0
	for _, q := range s.m.checks {
		if q.TransferCheck == c {
			return // already waiting
		}
		if q.Payer == s.addr {
			n++
		}
	}
	if n >= maxTransferChecks {
		s.fail(bttbid.CodeRateLimited, fmt.Sprintf("more than %d transfers of this payer wait to be checked", maxTransferChecks), false)
		return
	}
	s.m.checks = append(s.m.checks, transferQuery{TransferCheck: c, from: s})
}

// transferQuery is a TRANSFER waiting for its check, and the connection
// that named it (answered with ERROR 410 if it fails).
type transferQuery struct {
	TransferCheck
	from   *Session
	asking bool // handed to the engine
}

// TransfersDue returns the TRANSFERs to check on chain now; each is
// answered with TransferChecked.
func (m *Market) TransfersDue() []TransferCheck {
	var out []TransferCheck
	for i := range m.checks {
		if !m.checks[i].asking {
			m.checks[i].asking = true
			out = append(out, m.checks[i].TransferCheck)
		}
	}
	return out
}

// TransferChecked records a check's outcome: settled is the payer's
// settled total once the transfer is counted (the wallet stored it), or
// err why it counts nothing (the connection that named it gets ERROR
// 410 bad_transfer).
func (m *Market) TransferChecked(c TransferCheck, settled wallet.Amount, err error) {
	i := slices.IndexFunc(m.checks, func(q transferQuery) bool { return q.TransferCheck == c })
	if i < 0 {
		return
	}
	from := m.checks[i].from
	m.checks = slices.Delete(m.checks, i, i+1)
	if err != nil {
		if from.state == Ready {
			from.fail(bttbid.CodeBadTransfer, fmt.Sprintf("transfer %x counts nothing: %v", c.TxID, err), false)
		}
		return
	}
	a := m.account(c.Payer)
	if settled.Cmp(a.cover.settled) > 0 {
		a.cover.settled = settled
	}
	a.cover.want = true
	m.recountAll(c.Payer)
}

// Transferred records our settlement transfers to payee (oldest first),
// to be named on every connection to it (§11.2).
func (m *Market) Transferred(payee wallet.Address, txids ...[32]byte) {
	a := m.account(payee)
	for _, id := range txids {
		if !slices.Contains(a.transfers, id) {
			a.transfers = append(a.transfers, id)
		}
	}
}

// SettleWanted reports whether we should settle what we owe by transfer
// now (a purchase waits for it, or a payee stopped paid service at our
// exposure), and clears it. Only chains where the payer settles by
// transfer act on it.
func (m *Market) SettleWanted() bool {
	d := m.payWant
	m.payWant = false
	return d
}

// sendTransfers names on this connection the transfers to the peer it
// has not seen: the latest few on a new connection.
func (s *Session) sendTransfers() {
	if !s.v2() {
		return
	}
	a, ok := s.m.accounts[s.addr]
	if !ok || s.xfer.named >= len(a.transfers) {
		return
	}
	s.xfer.named = max(s.xfer.named, len(a.transfers)-keptTransfers)
	for _, id := range a.transfers[s.xfer.named:] {
		if s.send(&bttbid.Transfer{TxID: id}) != nil {
			return
		}
		s.xfer.named++
	}
}
