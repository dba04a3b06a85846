package market

import (
	"errors"
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// awaitGrant holds the licence of a purchase until its payment is
// settled (§16.10: local, redeemed at purchase; TRON, a confirmed
// transfer), and asks the engine to settle; or, for a payer paying with
// vault cheques, until a fresh reading of its vault shows the purchase
// covered by what the vault guarantees us (§18.5), which costs no
// transaction, else until its cheque is cashed.
func (s *Session) awaitGrant(now time.Time, price, cumulative wallet.Amount) {
	s.deal.grantFor = &grantWait{price: price, cumulative: cumulative, asked: now}
	if s.m.PayerVault(s.addr).IsZero() {
		s.m.settleWant = true
	} else {
		s.m.account(s.addr).cover.want = true
	}
	s.checkGrant(now)
}

// vaultCovered reports whether a purchase paid with a cheque of
// cumulative is covered by the payer's vault: the cheque we hold for it
// is a cheque of the vault the payer named, a reading of that vault made
// after the grant began to wait shows its collateral, and the payer's
// whole exposure to us (the purchase included) is within it.
func (m *Market) vaultCovered(payer wallet.Address, a *account, g *grantWait) bool {
	v := m.PayerVault(payer)
	c := &a.cover
	return !v.IsZero() && a.held != nil && a.held.Vault == v && a.accepted.Cmp(g.cumulative) >= 0 &&
		c.Vault && c.Known && !c.short && !c.at.Before(g.asked) && a.exposure().Cmp(c.Amount) <= 0
}

// checkGrant grants the licence a purchase waits for once the payer's
// settled total covers it, or refuses it when its settlement came up
// short.
func (s *Session) checkGrant(now time.Time) {
	g := s.deal.grantFor
	if g == nil || s.state != Ready {
		return
	}
	a, err := s.m.seller(s.addr)
	if err != nil {
		return
	}
	switch {
	case a.cover.settled.Cmp(g.cumulative) >= 0, s.m.vaultCovered(s.addr, a, g):
		s.deal.grantFor = nil
		s.grant(g.price)
	case a.cover.short:
		s.deal.grantFor = nil
		s.fail(bttbid.CodeUnderpaid, "the purchase was not paid: its settlement came up short", false)
	case !s.m.PayerVault(s.addr).IsZero():
		a.cover.want = true // read the vault again (at most every coverRetry)
		if !a.cover.at.IsZero() && !a.cover.at.Before(g.asked) && (g.cashAt.IsZero() || now.Sub(g.cashAt) >= cashRetry) {
			// A reading after the purchase does not cover it (the payer
			// reserved too little for us, §18.5): cash its cheque, as a
			// plain payer's purchase waits for its settlement; a cash
			// that comes up short refuses the licence. Asked again only
			// if the cash ended neither way (it failed): the wallet
			// never cashes twice what it cashed.
			g.cashAt = now
			s.m.settleWant = true
		}
	}
}

// cashRetry is how long a purchase waits for the cash it asked for
// before asking again.
const cashRetry = VaultCoverMaxAge

// grant signs and sends a licence to the peer for price.
func (s *Session) grant(price wallet.Amount) {
	l, err := s.m.w.SignLicense(s.addr, s.infoHash, price)
	if err != nil {
		s.lastErr = fmt.Sprintf("cannot sign a licence: %v", err)
		return
	}
	s.send(licenseMsg(l))
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
func (s *Session) onLicense(now time.Time, m *bttbid.License) {
	if m.Presentation() {
		return
	}
	tm := s.t.c.terms
	l := licenseOf(m)
	switch {
	case tm == nil || tm.Price.IsZero():
		s.fail(bttbid.CodeBadLicense, "licence for a torrent without a price", false)
		return
	case m.InfoHash != s.infoHash || l.Buyer != s.m.w.Address() || l.Payee != tm.Payee ||
		l.ChainID != tm.ChainID || l.Token != tm.Token || l.Price.Cmp(tm.Price) < 0:
		s.fail(bttbid.CodeBadLicense, "licence is not for this torrent, buyer and terms", false)
		return
	case l.Verify() != nil:
		s.fail(bttbid.CodeBadLicense, "licence signature does not recover the payee", false)
		return
	}
	if err := s.m.w.SaveLicense(l); err != nil {
		s.lastErr = fmt.Sprintf("cannot store the licence: %v", err)
		return
	}
	s.t.c.license = &l
	s.present(now)
	if pp := s.deal.pending; pp != nil && pp.purpose == wallet.ForPurchase {
		s.deal.pending = nil
		pp.finish(nil)
	}
}

// present sends our licence to the peer, bound to this connection
// (§16.4), once per connection.
func (s *Session) present(now time.Time) {
	l := s.t.c.license
	if l == nil || s.deal.presented || !s.v2() {
		return
	}
	m := licenseMsg(*l)
	m.Time = now.Unix()
	msg := bttbid.LicensePresentationBytes(m, s.infoHash, s.remote, s.local, m.Time)
	if s.v3() {
		msg = bttbid.LicensePresentationBytesV3(m, s.infoHash, s.remote, s.local, m.Time, s.peerNonce)
	}
	sig, err := s.m.w.SignMessage(msg)
	if err != nil {
		s.lastErr = fmt.Sprintf("cannot sign the licence presentation: %v", err)
		return
	}
	m.PresentSig = bttbid.Signature(sig)
	s.deal.presented = true
	s.send(m)
}

// VerifyPresentation checks a licence presentation received on a
// connection of the torrent infoHash with terms tm, in the order of
// §16.4: seller is our peer ID, buyer the sender's. nonce is our HELLO's
// nonce on the connection when the peer speaks version 3: the
// presentation must be the version 3 string that signs it (§18.4), so one
// seen on another connection is refused; nil for a version 2 peer. It
// needs no market state, so the upload gate runs it on the connection's
// read path.
func VerifyPresentation(m *bttbid.License, tm *Terms, infoHash, seller, buyer [20]byte, now time.Time, nonce *bttbid.Nonce) error {
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
	if nonce != nil {
		msg = bttbid.LicensePresentationBytesV3(m, infoHash, seller, buyer, m.Time, *nonce)
	}
	if err := wallet.VerifyMessage(wallet.Address(m.Buyer), msg, wallet.Signature(m.PresentSig)); err != nil {
		return fmt.Errorf("presentation signature: %w", err)
	}
	return nil
}
