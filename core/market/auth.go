package market

// Protocol version 3 on a connection (PROTOCOL.md §18): each side's HELLO
// carries a fresh nonce and may name its cheque vault; on a version 3
// connection each side then proves its HELLO with AUTH, a signature over
// the other side's nonce, and only then is the connection READY. A HELLO
// alone proves nothing: anyone may copy one seen on another connection
// (claiming both peer IDs) within its ±600 s, and would then be served
// paid bytes charged to the copied address's account.

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Authenticating is the state of a version 3 connection between the
// peer's verified HELLO and its verified AUTH: only AUTH and ERROR are
// valid (§18.2).
const Authenticating State = Disabled + 1

func newNonce() bttbid.Nonce {
	var n bttbid.Nonce
	for n.IsZero() {
		if _, err := rand.Read(n[:]); err != nil {
			panic(fmt.Sprintf("no randomness for a HELLO nonce: %v", err)) // crypto/rand never fails on a supported OS
		}
	}
	return n
}

// Nonce returns the nonce our HELLO carries on this connection: the peer
// signs it into its AUTH and licence presentations.
func (s *Session) Nonce() bttbid.Nonce { return s.nonce }

// PeerNonce returns the nonce of the peer's HELLO (zero before it, or
// from a version 1 or 2 peer).
func (s *Session) PeerNonce() bttbid.Nonce { return s.peerNonce }

// v3 reports whether the connection negotiated version 3 (READY or
// authenticating).
func (s *Session) v3() bool { return s.version >= 3 }

// SetVault sets our own cheque vault (zero: none), named in the HELLOs
// of later connections; cheques to version 3 peers are then vault
// cheques (§18.3) once a HELLO of ours naming it reached them (the
// engine re-reads its vault while running: a vault found later is used
// from the next connection on).
func (m *Market) SetVault(v wallet.Address) { m.vault = v }

// Vault returns our cheque vault as set by SetVault.
func (m *Market) Vault() wallet.Address { return m.vault }

// PayerVault returns the vault payer named in its last version 3 HELLO,
// when our account with it is backed by that vault: we hold no cheque
// from it yet or the latest is a vault cheque for it. Zero otherwise
// (its cover is then read as for a plain payer).
func (m *Market) PayerVault(payer wallet.Address) wallet.Address {
	a, ok := m.accounts[payer]
	if !ok || a.vault.IsZero() {
		return wallet.Address{}
	}
	if a.held != nil && a.held.Vault != a.vault {
		return wallet.Address{}
	}
	return a.vault
}

// helloV3 checks what a version 3 HELLO adds and sends our AUTH; it
// reports false when it failed the connection.
func (s *Session) helloV3(h *bttbid.Hello) bool {
	if h.Nonce.IsZero() {
		s.fail(bttbid.CodeInvalidField, "version 3 HELLO without a nonce", true)
		return false
	}
	if h.Nonce == s.nonce {
		s.fail(bttbid.CodeInvalidField, "HELLO nonce is ours: a reflected HELLO", true)
		return false
	}
	s.peerNonce = h.Nonce
	s.peerVault = wallet.Address(h.Vault)
	sig, err := s.m.w.SignMessage(bttbid.AuthSigningBytes(s.infoHash, s.local, s.remote, bttbid.Address(s.m.w.Address()), s.peerNonce))
	if err != nil {
		s.fail(bttbid.CodeInternal, "cannot sign AUTH", true)
		s.lastErr = fmt.Sprintf("cannot sign AUTH: %v", err)
		return false
	}
	s.state = Authenticating
	s.send(&bttbid.Auth{Sig: bttbid.Signature(sig)})
	return true
}

// onAuth verifies the peer's AUTH: its HELLO address signed our nonce on
// this connection. Then the connection is READY.
func (s *Session) onAuth(now time.Time, m *bttbid.Auth) {
	msg := bttbid.AuthSigningBytes(s.infoHash, s.remote, s.local, bttbid.Address(s.addr), s.nonce)
	if err := wallet.VerifyMessage(s.addr, msg, wallet.Signature(m.Sig)); err != nil {
		s.fail(bttbid.CodeBadSignature, "AUTH does not recover the HELLO's addr over our nonce", true)
		return
	}
	a := s.m.account(s.addr)
	a.peerV3 = true
	a.vault = s.peerVault
	a.ourVault = s.ourVault
	s.ready(now)
}

// chequeVault is the vault our next cheque to a is cashable at, zero for
// a plain cheque (§18.3): once an account is paid with vault cheques it
// stays so; it starts so when we have a vault and the peer speaks version
// 3 and nothing was paid on it with plain cheques (whose settlement by
// transfer the vault would pay a second time).
func (m *Market) chequeVault(a *account) (wallet.Address, error) {
	if a.last != nil && !a.last.Vault.IsZero() {
		switch {
		case !a.peerV3:
			return wallet.Address{}, fmt.Errorf("the account is paid with cheques of vault %s, which the peer (version 2) cannot take", a.last.Vault)
		case a.last.Vault != m.vault, a.last.Vault != a.ourVault:
			// Our HELLOs did not name it (it could not be read at start,
			// or the connection predates its reading): the peer would
			// refuse its cheques (§18.3).
			return wallet.Address{}, fmt.Errorf("the account is paid with cheques of vault %s, which our HELLO did not name", a.last.Vault)
		}
		return a.last.Vault, nil
	}
	if m.vault.IsZero() || !a.peerV3 || a.last != nil || a.ourVault != m.vault {
		return wallet.Address{}, nil
	}
	return m.vault, nil
}

// vaultChecks is the §18.3 check of a received cheque's vault: on a
// version 3 connection it must be the vault the payer's HELLO named, or
// none; a payer that named a vault pays with its cheques while we hold no
// plain cheque from it. It returns the refusal's text ("" when fine).
func (s *Session) vaultChecks(a *account, vault wallet.Address) string {
	switch {
	case !vault.IsZero() && vault != s.peerVault:
		return fmt.Sprintf("cheque names vault %s, the payer's HELLO %s", vault, s.peerVault)
	case vault.IsZero() && !s.peerVault.IsZero() && (a.held == nil || !a.held.Vault.IsZero()):
		return fmt.Sprintf("the payer named vault %s: its cheques must be cashable there", s.peerVault)
	}
	return ""
}
