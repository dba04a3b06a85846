package market

// The exposure bound (PROTOCOL.md §8.6): per payer, exposure = what we
// accepted from it and is not settled yet + its debt (owed − accepted),
// summed over every connection and torrent, since the account is one.
// Paid bytes are served, and a licence granted, only while exposure stays
// within what the payer can be shown to pay (its cover), and debt within
// its credit. Reading a cover is I/O (the ledger, later a vault): the
// engine does it off its loop, asked by CoverDue, and hands the answer to
// SetCover.

import (
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// CoverTTL is how long a cover reading is used before it is read again
// when the payer is trading.
const CoverTTL = 3 * time.Second

// VaultCoverMaxAge is the oldest a vault payer's cover may get while the
// payer owes us anything, traded or not: its vault can change under it
// (a withdrawal or a reservation decrease announced, the free balance
// cashed by others), PROTOCOL.md §18.5.
const VaultCoverMaxAge = 30 * time.Second

// inFlight is the margin the cover keeps for bytes already on their way
// when paid service stops: the engine looks at a connection when its
// allowance is used up (a byte tripwire), and a piece or two written
// before that look are still counted (§8.6).
const inFlight = 128 << 10

// coverRetry is the least time between two readings a grant asked for.
const coverRetry = time.Second

// Cover is what the engine read for one payer, off its loop.
type Cover struct {
	// Amount is what the payer can be shown to pay (local ledger: its
	// balance); meaningful only when Known.
	Amount wallet.Amount
	// Known: Amount is proven. Unknown (TRON without a vault): the
	// market's unsecured limit applies.
	Known bool
	// Settled is the settled total of the payer's cheques to us (the
	// cheque book's, read before Amount).
	Settled wallet.Amount
	// Vault: Amount is the collateral of the vault the payer named
	// (Market.PayerVault), which cashes its cheques to us.
	Vault bool
}

// coverState is a payer's cover as the market last heard it.
type coverState struct {
	Cover
	at      time.Time // when it was read; zero: never
	want    bool      // a reading is wanted now (a grant would pass it)
	busy    bool      // a reading is under way
	used    bool      // a grant was judged on it since the last reading
	settled wallet.Amount
	short   bool // a settlement came up short: no paid service until paid
}

// SetCover records a payer's cover, read at now. Pledges are counted
// again against it.
func (m *Market) SetCover(payer wallet.Address, c Cover, now time.Time) {
	a := m.account(payer)
	prev := a.cover.Cover
	a.cover.Cover, a.cover.at, a.cover.busy, a.cover.want = c, now, false, false
	if c.Settled.Cmp(a.cover.settled) > 0 {
		a.cover.settled = c.Settled
	}
	// A vault payer whose cover just fell below what we accepted from it
	// and hold unsettled (it announced a withdrawal or lowering our
	// reservation, or others cashed the free balance) is cashed at once:
	// the vault pays now what it may not once the delay has passed
	// (§18.5). Only on the fall, so a bounce is not cashed again at every
	// reading.
	if a.held != nil && !a.held.Vault.IsZero() {
		var backed, before wallet.Amount
		if c.Known {
			backed = c.Amount
		}
		if prev.Known {
			before = prev.Amount
		}
		if backed.Cmp(before) < 0 && a.accepted.SubFloor(a.cover.settled).Cmp(backed) > 0 {
			m.settleWant = true
		}
	}
	m.recountAll(payer)
}

// CoverDue returns the payers whose cover should be read now (a grant
// waits for it, the last reading is older than CoverTTL while they
// trade, or a vault payer's is older than VaultCoverMaxAge while it owes
// us) and marks them busy until SetCover or CoverFailed.
func (m *Market) CoverDue(now time.Time) []wallet.Address {
	var out []wallet.Address
	for addr, a := range m.accounts {
		c := &a.cover
		if c.busy {
			continue
		}
		stale := c.at.IsZero() || now.Sub(c.at) >= CoverTTL
		old := c.Vault && !c.at.IsZero() && now.Sub(c.at) >= VaultCoverMaxAge && !a.exposure().IsZero()
		if c.want && (stale || now.Sub(c.at) >= coverRetry) || c.used && stale || old {
			c.busy, c.used = true, false
			out = append(out, addr)
		}
	}
	return out
}

// CoverFailed ends a reading that failed: the old cover stays.
func (m *Market) CoverFailed(payer wallet.Address) { m.account(payer).cover.busy = false }

// Settled records the outcome of a settlement of the payer's cheques to
// us: the settled total, and whether it came up short (the payer could
// not pay all it owed). A short payer gets no paid service, licence or
// counted pledge on any connection or torrent until a settlement pays
// it in full. Across a restart the bound holds by itself: what stays
// unsettled is exposure the payer's cover must exceed.
func (m *Market) Settled(payer wallet.Address, settled, shortfall wallet.Amount) {
	a := m.account(payer)
	if settled.Cmp(a.cover.settled) > 0 {
		a.cover.settled = settled
	}
	a.cover.short = !shortfall.IsZero()
	a.cover.want = true
	m.recountAll(payer)
}

// Short reports whether payer's last settlement came up short.
func (m *Market) Short(payer wallet.Address) bool {
	a, ok := m.accounts[payer]
	return ok && a.cover.short
}

// SettleDue reports whether a grant waits for a settlement (a purchase
// is licensed once its cheque is redeemed, §16.10), and clears it.
func (m *Market) SettleDue() bool {
	d := m.settleWant
	m.settleWant = false
	return d
}

// exposure is what the payer's account risks us: accepted but unsettled,
// plus debt. Both are in owed − settled.
func (a *account) exposure() wallet.Amount {
	owed := a.owed
	if a.accepted.Cmp(owed) > 0 {
		owed = a.accepted // paid ahead
	}
	return owed.SubFloor(a.cover.settled)
}

// coverLimit is the most exposure the payer may reach, with unsecured the
// limit for a payer whose cover is not known (zero for none). A payer
// never read yet has none, and a reading is asked for.
func (a *account) coverLimit(unsecured wallet.Amount) wallet.Amount {
	c := &a.cover
	switch {
	case c.short:
		return wallet.Amount{}
	case c.at.IsZero():
		c.want = true
		return wallet.Amount{}
	case c.Known:
		return c.Amount
	}
	return unsecured
}

// unsecured is the limit for a payer of unknown cover at price: the
// configured one, or one initial credit step.
func (m *Market) unsecured(price wallet.Amount) wallet.Amount {
	if !m.cfg.Unsecured.IsZero() {
		return m.cfg.Unsecured
	}
	return charge(price, int64(m.cfg.Credit))
}

// allowance is how much more the payer may come to owe at price: the
// lesser of its credit left and its cover left. When cover is what
// binds, a fresh reading is asked for.
func (m *Market) allowance(a *account, price wallet.Amount) wallet.Amount {
	credit := charge(price, int64(min(a.creditBytes, 1<<40)))
	left := credit.SubFloor(a.owed.SubFloor(a.accepted))
	a.cover.used = true
	cover := a.coverLimit(m.unsecured(price)).SubFloor(a.exposure()).SubFloor(charge(price, inFlight))
	if cover.Cmp(left) <= 0 {
		a.cover.want = true
		return cover
	}
	return left
}

// awardCredit is the credit an AWARD or RECEIPT states at price: the
// account's credit, but never more than its cover leaves beyond what is
// accepted and unsettled.
func (m *Market) awardCredit(a *account, price wallet.Amount) wallet.Amount {
	credit := charge(price, int64(min(a.creditBytes, 1<<40)))
	room := a.coverLimit(m.unsecured(price)).SubFloor(a.accepted.SubFloor(a.cover.settled))
	return credit.Min(room)
}

// pledgeCover is how much of a pledge counts: up to what its pledger can
// be shown to pay (nothing unsecured unless configured).
func (m *Market) pledgeCover(payer wallet.Address) wallet.Amount {
	return m.account(payer).coverLimit(m.cfg.Unsecured)
}
