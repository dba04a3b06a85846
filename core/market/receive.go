package market

// Received cheques (PROTOCOL.md §8.4, §16.3, §18.3): the checks every
// cheque from the peer passes, whether a CHEQUE or a TIP carries it.
// Then come the checks of its own message (onCheque, onTip) and its store
// (write.go).

import (
	"fmt"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// carrier is the message a received cheque came in; it names the cheque
// in error texts.
type carrier string

const (
	inCheque carrier = "cheque"     // a CHEQUE (§8.4)
	inTip    carrier = "tip cheque" // a TIP's (§16.3)
)

// checkCheque runs the checks a received cheque passes in either message,
// in the spec's order (§8.4 and §16.3, steps 1 to 3): its chain, token,
// payer and beneficiary are this connection's and its vault is the one
// the payer's HELLO named (§18.3), else 401 (disable); its signature
// recovers the payer, else 400 (disable); its payout is above the
// account's accepted (stored) payout, else an equal one, a
// retransmission, is answered with RECEIPT and a lower one with 402 (a
// stale CHEQUE also stops paid service, §8.4). It returns the cheque and
// the payer's account; ok is false when the cheque was answered.
//
// The signature costs a recovery, so it is checked once per cheque: here
// only before an answer that stores nothing, and on the path that stores
// by the wallet as it stores (write.go). A caller that refuses a cheque
// these checks passed calls forged first, so that a forged cheque is
// always answered 400.
func (s *Session) checkCheque(m bttbid.Cheque, in carrier) (c wallet.Cheque, a *account, ok bool) {
	w := s.m.w
	if m.ChainID != w.ChainID() || m.Token != bttbid.Address(w.Token()) ||
		m.Payer != bttbid.Address(s.addr) || m.Beneficiary != bttbid.Address(w.Address()) {
		s.fail(bttbid.CodeMisaddressed, string(in)+" chain, token, payer or beneficiary is not this connection's", true)
		return c, nil, false
	}
	if !s.v3() {
		m.Vault = bttbid.Address{} // an unknown key below version 3 (§18.3)
	}
	c = chequeOf(&m)
	a, err := s.m.seller(s.addr)
	if err != nil {
		if !s.forged(&c, in) {
			s.fail(bttbid.CodeInternal, "cannot read the cheque book", false)
		}
		return c, nil, false
	}
	if why := s.vaultChecks(a, c.Vault); why != "" {
		s.fail(bttbid.CodeMisaddressed, why, true)
		return c, nil, false
	}
	switch m.Payout.Cmp(a.accepted) {
	case 0:
		if !s.forged(&c, in) {
			s.sendReceipt(a) // a retransmission
		}
		return c, nil, false
	case -1:
		if !s.forged(&c, in) {
			if in == inCheque {
				s.stopPaid()
			}
			s.fail(bttbid.CodeStaleCheque, fmt.Sprintf("payout %s below the accepted %s", m.Payout, a.accepted), false)
		}
		return c, nil, false
	}
	return c, a, true
}

// forged reports whether c's signature does not recover its payer, having
// answered 400 (disable) when so.
func (s *Session) forged(c *wallet.Cheque, in carrier) bool {
	if c.Verify() != nil {
		s.fail(bttbid.CodeBadCheque, string(in)+" signature does not recover the payer", true)
		return true
	}
	return false
}
