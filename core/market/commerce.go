package market

// Payments beyond bandwidth (PROTOCOL.md §16): tips, purchases and
// crowdfunding pledges. Every payment is a rise of the cumulative cheque
// of the payer→beneficiary account, the account bandwidth is paid on;
// the TIP note says what the rise is for. Licences and pledges are
// signed objects kept in the wallet's book.

import (
	"errors"
	"slices"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Commerce is what the market needs of a wallet for §16; *wallet.Wallet
// has it. Every method that stores does so durably before returning.
type Commerce interface {
	IssuePayment(beneficiary wallet.Address, cumulative wallet.Amount, p wallet.Payment) (wallet.Cheque, wallet.TipNote, error)
	IssueVaultPayment(vault, beneficiary wallet.Address, cumulative wallet.Amount, p wallet.Payment) (wallet.Cheque, wallet.TipNote, error)
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

// Payment is one tip, purchase or pledge payment made or received for a
// torrent (§16).
type Payment struct {
	Time   time.Time
	In     bool           // received (else sent)
	For    string         // wallet.ForTip, ForPurchase or ForPledge
	Peer   wallet.Address // the counterparty
	Amount wallet.Amount
	Memo   string // untrusted text: sanitise before display
}

// Campaign is the progress of a torrent's crowdfunding campaign
// (§16.11), as the publisher holds it (our own, or as its last CAMPAIGN
// message said).
type Campaign struct {
	Goal, Pledged wallet.Amount
	Count         int // pledges
	Deadline      time.Time
	Funded        bool          // the pledges held reach the goal (by the deadline)
	Expired       bool          // the deadline passed below the goal
	Ours          wallet.Amount // our own pledge (zero: none)
	Paid          bool          // we paid our pledge
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
	tallied  uint64                           // bumped on each tally: peers resend CAMPAIGN
	proof    map[wallet.Address]wallet.Pledge // pledger: FUNDED proof (§16.11 step 5)
	ours     *wallet.Pledge
	pledges  []heldPledge                 // publisher: the valid pledges held (campaign.go)
	index    map[wallet.Address]int       // publisher: payer → pledges
	unpaid   map[wallet.Address]bool      // publisher: held pledges not paid yet
	sum      wallet.Amount                // publisher: Σ counted
	buyers   map[wallet.Address]grantWait // publisher: purchases received, by payer (loaded once)
}

// SetTerms sets the torrent's publisher terms (nil: none) and loads what
// the wallet holds for them: our licence, our pledge, the pledges we
// hold as the publisher.
func (t *Auction) SetTerms(tm *Terms, now time.Time) {
	if tm.equal(t.c.terms) {
		return
	}
	t.c.terms = tm
	t.c.license, t.c.ours = nil, nil
	t.c.campaign = Campaign{}
	t.c.pledges, t.c.index, t.c.unpaid, t.c.sum = nil, nil, nil, wallet.Amount{}
	t.c.proof, t.c.buyers = nil, nil
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
		t.c.campaign = Campaign{Goal: tm.Goal, Deadline: time.Unix(tm.Deadline.Unix(), 0)}
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
	}
	if t.publisher() && !tm.Goal.IsZero() {
		t.loadPledges()
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

// purchaseOf returns payer's first purchase of the torrent received
// (publisher). The payment records are read once per torrent, at the
// first HELLO that asks, and kept up to date by onTip: a HELLO never
// reads the whole book.
func (t *Auction) purchaseOf(payer wallet.Address) (grantWait, bool) {
	if t.c.buyers == nil {
		t.c.buyers = make(map[wallet.Address]grantWait)
		ps, err := t.m.w.Payments()
		if err != nil {
			t.c.buyers = nil // try again at the next HELLO
			return grantWait{}, false
		}
		for _, p := range ps {
			if p.Direction == wallet.Received && p.For == wallet.ForPurchase && p.InfoHash == t.infoHash {
				t.notePurchase(p.Counterparty, p.Amount, p.Cumulative)
			}
		}
	}
	g, ok := t.c.buyers[payer]
	return g, ok
}

// notePurchase indexes a purchase received (the first per payer).
func (t *Auction) notePurchase(payer wallet.Address, price, cumulative wallet.Amount) {
	if t.c.buyers == nil {
		return // loaded with it from the book when first asked
	}
	if _, ok := t.c.buyers[payer]; !ok {
		t.c.buyers[payer] = grantWait{price: price, cumulative: cumulative}
	}
}

// publisher reports whether we are the torrent's payee, on our chain.
func (t *Auction) publisher() bool {
	tm, w := t.c.terms, t.m.w
	return tm != nil && tm.Payee == w.Address() && tm.ChainID == w.ChainID() && tm.Token == w.Token()
}

// dealing is a session's §16 state.
type dealing struct {
	pending      *payment    // our payment awaiting its receipt
	pledgeDone   func(error) // our pledge awaiting CAMPAIGN
	presented    bool        // we presented our licence
	campaignSeen uint64      // the tally our last CAMPAIGN reported
	campaignAt   time.Time
	fundedSent   bool
	grantFor     *grantWait // a purchase whose licence waits for its settlement
}

// grantWait is a purchase paid on the connection (or earlier) whose
// licence is granted once the payer's settled total reaches cumulative
// (§16.10).
type grantWait struct {
	price, cumulative wallet.Amount
	asked             time.Time // when the grant began to wait (a vault's cover must be read after it)
	cashAt            time.Time // a vault reading after asked did not cover it: when a settlement (cash) was last asked for
}

// ErrNotV2 is returned for a §16 action on a connection that cannot carry
// it: not READY, or the peer speaks only version 1.
var ErrNotV2 = errors.New("the peer does not speak btt_bid version 2")

// v2 reports whether §16 messages may be exchanged.
func (s *Session) v2() bool { return s.state == Ready && s.version >= 2 }

// commerceHello runs when the connection turns READY: the publisher
// sends its campaign and, to a buyer it sold to, the licence again; a
// licensed buyer presents its licence.
func (s *Session) commerceHello(now time.Time) {
	if !s.v2() {
		return
	}
	s.CommerceTick(now)
	if s.t.publisher() && !s.t.c.terms.Price.IsZero() {
		// A buyer that lost its grant never pays twice, and gets it only
		// once its payment is settled.
		if g, ok := s.t.purchaseOf(s.addr); ok {
			s.awaitGrant(now, g.price, g.cumulative)
		}
	}
}

// CommerceTick sends what §16 wants sent on the connection now: our
// licence presentation, the publisher's campaign progress (at most once
// a second, when it changed) and its funded proof to unpaid pledgers.
func (s *Session) CommerceTick(now time.Time) {
	s.sendTransfers()
	if !s.v2() || s.t.c.terms == nil {
		return
	}
	s.present(now)
	s.checkGrant(now)
	if s.t.publisher() && !s.t.c.terms.Goal.IsZero() {
		if (s.deal.campaignAt.IsZero() || s.deal.campaignSeen != s.t.c.tallied) && now.Sub(s.deal.campaignAt) >= time.Second {
			s.sendCampaign(now)
		}
		s.maybeFunded()
	}
}

// KeepOpen reports whether the connection is needed for §16 even when
// both sides have every piece: a payment or pledge of ours awaits its
// answer, or a pledge between the two is promised and not paid while the
// campaign runs (the pledger must be reachable when it is funded).
func (s *Session) KeepOpen(now time.Time) bool {
	if s.deal.pending != nil || s.deal.pledgeDone != nil || s.deal.grantFor != nil {
		return true
	}
	tm := s.t.c.terms
	if tm == nil || tm.Goal.IsZero() || s.state != Ready {
		return false
	}
	if c, _ := s.t.Campaign(now); c.Expired {
		return false
	}
	if s.t.publisher() {
		return s.t.c.unpaid[s.addr]
	}
	return s.addr == tm.Payee && s.t.c.ours != nil && !s.t.c.campaign.Paid
}
