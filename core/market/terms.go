package market

import (
	"fmt"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Terms are a torrent's publisher terms, the `btt` dict of its info dict
// (docs/PROTOCOL.md §16.2): who is paid, on which chain and token, the
// price of the content and an optional crowdfunding goal. The infohash
// covers them, so nobody can change the payee or the price without
// making another torrent. core.ParseTerms reads them from an info dict.
type Terms struct {
	Payee    wallet.Address // who is paid (required)
	ChainID  uint64         // TIP-712 chain id of the payments
	Token    wallet.Address // the TRC-20 token (the local ledger's token id)
	Price    wallet.Amount  // zero: free
	Goal     wallet.Amount  // zero: no crowdfunding campaign
	Deadline time.Time      // the campaign's deadline (whole seconds); zero iff Goal is zero
}

// Paid reports whether the content has a price (its upload is gated).
func (t *Terms) Paid() bool { return t != nil && !t.Price.IsZero() }

// equal reports whether t and u are the same terms.
func (t *Terms) equal(u *Terms) bool {
	if t == nil || u == nil {
		return t == u
	}
	return t.Payee == u.Payee && t.ChainID == u.ChainID && t.Token == u.Token && t.Price.Cmp(u.Price) == 0 &&
		t.Goal.Cmp(u.Goal) == 0 && t.Deadline.Equal(u.Deadline)
}

// TermsError is a `btt` dict that does not parse or is incomplete. Key
// names the offending key ("btt" for the dict itself).
type TermsError struct {
	Key    string
	Reason string
}

func (e *TermsError) Error() string {
	if e.Key == "btt" {
		return "bad publisher terms: btt: " + e.Reason
	}
	return fmt.Sprintf("bad publisher terms: btt.%s: %s", e.Key, e.Reason)
}

func termsErr(key, reason string) error { return &TermsError{Key: key, Reason: reason} }

// Validate reports the first missing or inconsistent field, naming its
// `btt` key, as a *TermsError.
func (t Terms) Validate() error {
	switch {
	case t.Payee[0] != wallet.AddressPrefix:
		return termsErr("payee", "missing or not a TRON address")
	case t.ChainID == 0 || t.ChainID > 1<<63-1:
		return termsErr("chain", "missing or out of range")
	case t.Token[0] != wallet.AddressPrefix:
		return termsErr("token", "missing or not a TRON address")
	case !t.Goal.IsZero() && t.Deadline.IsZero():
		return termsErr("deadline", "missing (a goal needs a deadline)")
	case t.Goal.IsZero() && !t.Deadline.IsZero():
		return termsErr("deadline", "present without a goal")
	case !t.Deadline.IsZero() && t.Deadline.Unix() <= 0:
		return termsErr("deadline", "before 1970")
	}
	return nil
}
