// Package strategy holds the decision logic of bidtorrent's bandwidth
// market: a Seller decides, each round, which bidders get paid service, at
// what clearing price, and how the upload capacity is shared; a Buyer
// decides what to bid to each seller. Both are tiny interfaces with func
// adapters (SellerFunc, BuyerFunc), chosen by name with NewSeller and
// NewBuyer.
//
// Strategies are pure: they take plain values (bids, rates, balances, the
// current time as Now) and return decisions. They do no I/O, start no
// goroutines, read no clock and import nothing else of bidtorrent, so
// they are tested with table tests and an injected clock, and a user can
// write one in a few lines (see the package examples).
//
// Money: prices are base units of the token per MiB (2^20 bytes) and
// amounts are base units, both as github.com/holiman/uint256 values, so an
// 18-decimal token never overflows. The engine converts from and to
// wallet.Amount through their big-endian bytes:
//
//	u := new(uint256.Int).SetBytes(amount.Bytes())
//	amount, _ := wallet.AmountFromBytes(u.Bytes())
//
// Shares of upload (Decision.Weight) are fractions in [0, 1] as float64:
// they steer the shaper, never money.
package strategy

import (
	"fmt"

	"github.com/holiman/uint256"
)

// MiB is the unit prices are quoted in.
const MiB = 1 << 20

// Names of the built-in sellers.
const (
	SellerUniform   = "uniform"
	SellerPropShare = "propshare"
	SellerFree      = "free"
)

// Names of the built-in buyers.
const (
	BuyerFixed    = "fixed"
	BuyerBudget   = "budget"
	BuyerAdaptive = "adaptive"
	BuyerNone     = "none"
)

// SellerNames lists the built-in sellers, the default first.
func SellerNames() []string { return []string{SellerUniform, SellerPropShare, SellerFree} }

// BuyerNames lists the built-in buyers, the default first. The default
// spends nothing until the user chooses otherwise.
func BuyerNames() []string { return []string{BuyerNone, BuyerFixed, BuyerBudget, BuyerAdaptive} }

// The built-in strategies by name, with their default parameters (plain
// values: each lookup returns a copy).
var (
	sellers = map[string]Seller{
		SellerUniform:   Uniform{},
		SellerPropShare: PropShare{Floor: DefaultPropShareFloor},
		SellerFree:      Free{},
	}
	buyers = map[string]Buyer{
		BuyerFixed:    Fixed{},
		BuyerBudget:   Budget{},
		BuyerAdaptive: Adaptive{StepPercent: DefaultAdaptiveStep},
		BuyerNone:     None{},
	}
)

// NewSeller returns the built-in seller with the given name, with its
// default parameters.
func NewSeller(name string) (Seller, error) {
	if s, ok := sellers[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown seller strategy %q (want one of %v)", name, SellerNames())
}

// NewBuyer returns the built-in buyer with the given name, with its
// default parameters.
func NewBuyer(name string) (Buyer, error) {
	if b, ok := buyers[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("unknown buyer strategy %q (want one of %v)", name, BuyerNames())
}

func minU(a, b uint256.Int) uint256.Int {
	if a.Lt(&b) {
		return a
	}
	return b
}

func maxU(a, b uint256.Int) uint256.Int {
	if a.Gt(&b) {
		return a
	}
	return b
}
