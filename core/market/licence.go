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
// transfer), and asks the engine to settle.
func (s *Session) awaitGrant(price, cumulative wallet.Amount) {
	s.deal.grantFor = &grantWait{price: price, cumulative: cumulative}
	s.m.settleWant = true
	s.checkGrant()
}

// checkGrant grants the licence a purchase waits for once the payer's
// settled total covers it, or refuses it when its settlement came up
// short.
func (s *Session) checkGrant() {
	g := s.deal.grantFor
	if g == nil || s.state != Ready {
		return
	}
	a, err := s.m.seller(s.addr)
	if err != nil {
		return
	}
	switch {
	case a.cover.settled.Cmp(g.cumulative) >= 0:
		s.deal.grantFor = nil
		s.grant(g.price)
	case a.cover.short:
		s.deal.grantFor = nil
		s.fail(bttbid.CodeUnderpaid, "the purchase was not paid: its settlement came up short", false)
	}
}

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
	sig, err := s.m.w.SignMessage(bttbid.LicensePresentationBytes(m, s.infoHash, s.remote, s.local, m.Time))
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
