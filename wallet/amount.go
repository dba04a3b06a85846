package wallet

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/holiman/uint256"
)

// Decimals of the tokens the wallet knows.
const (
	BTTDecimals   = 18 // TRC-20 BTT (after the 2021 redenomination)
	BTT10Decimals = 6  // legacy TRC-10 BTT, token id 1002000
	TRXDecimals   = 6  // TRX, in sun
)

// Amount is a non-negative token amount in base units, up to 2^256-1.
// The zero value is zero. Amounts are values: copy them freely.
type Amount struct{ u uint256.Int }

// ErrOverflow is returned when arithmetic leaves the uint256 range.
var ErrOverflow = errors.New("amount out of range")

// NewAmount returns n base units.
func NewAmount(n uint64) Amount { var a Amount; a.u.SetUint64(n); return a }

// AmountFromBig converts b; it fails for negative values or values above 2^256-1.
func AmountFromBig(b *big.Int) (Amount, error) {
	var a Amount
	if b.Sign() < 0 {
		return a, fmt.Errorf("negative amount %s: %w", b, ErrOverflow)
	}
	if a.u.SetFromBig(b) {
		return Amount{}, fmt.Errorf("amount %s: %w", b, ErrOverflow)
	}
	return a, nil
}

// AmountFromBytes reads a big-endian unsigned integer of at most 32 bytes.
func AmountFromBytes(b []byte) (Amount, error) {
	var a Amount
	if len(b) > 32 {
		return a, fmt.Errorf("%d-byte amount: %w", len(b), ErrOverflow)
	}
	a.u.SetBytes(b)
	return a, nil
}

// AmountFromMinimalBytes reads the encoding Bytes makes, refusing any
// other: at most 32 bytes (else ErrOverflow), no leading zero byte, zero
// as no bytes. It is how amounts travel in btt_bid messages and torrent
// terms, where one amount must have one encoding.
func AmountFromMinimalBytes(b []byte) (Amount, error) {
	if len(b) > 0 && b[0] == 0 {
		return Amount{}, fmt.Errorf("amount with a leading zero byte")
	}
	return AmountFromBytes(b)
}

// Bytes returns the minimal big-endian encoding (empty for zero).
func (a Amount) Bytes() []byte {
	if a.u.IsZero() {
		return []byte{}
	}
	return a.u.Bytes()
}

// Bytes32 returns the 32-byte big-endian encoding (ABI uint256).
func (a Amount) Bytes32() [32]byte { return a.u.Bytes32() }

// Big returns a new big.Int with the value.
func (a Amount) Big() *big.Int { return a.u.ToBig() }

// Uint64 returns the value and whether it fits in a uint64.
func (a Amount) Uint64() (uint64, bool) { return a.u.Uint64(), a.u.IsUint64() }

// IsZero reports whether a is zero.
func (a Amount) IsZero() bool { return a.u.IsZero() }

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int { return a.u.Cmp(&b.u) }

// Add returns a+b, or ErrOverflow.
func (a Amount) Add(b Amount) (Amount, error) {
	var r Amount
	if _, over := r.u.AddOverflow(&a.u, &b.u); over {
		return Amount{}, ErrOverflow
	}
	return r, nil
}

// AddSaturating returns a+b, or MaxAmount when the sum does not fit. It
// is the rule for running totals of money (earned, spent, owed,
// unsettled): a sum that would overflow stays at the ceiling, so no
// addend is ever dropped and the order of the additions does not change
// the result.
func (a Amount) AddSaturating(b Amount) Amount {
	s, err := a.Add(b)
	if err != nil {
		return MaxAmount()
	}
	return s
}

// MaxAmount returns 2^256-1, the largest Amount.
func MaxAmount() Amount {
	var a Amount
	a.u.SetAllOne()
	return a
}

// Sub returns a-b, or ErrOverflow when b > a.
func (a Amount) Sub(b Amount) (Amount, error) {
	var r Amount
	if _, under := r.u.SubOverflow(&a.u, &b.u); under {
		return Amount{}, ErrOverflow
	}
	return r, nil
}

// SubFloor returns a-b, or zero when b > a.
func (a Amount) SubFloor(b Amount) Amount {
	if a.Cmp(b) <= 0 {
		return Amount{}
	}
	r, _ := a.Sub(b)
	return r
}

// Min returns the smaller of a and b.
func (a Amount) Min(b Amount) Amount {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

// MulDiv returns a*num/den rounded down (the product is computed in 512
// bits), or ErrOverflow when the result does not fit or den is zero. It is
// how a price per MiB becomes a price for n bytes: price.MulDiv(n, 1<<20).
func (a Amount) MulDiv(num, den uint64) (Amount, error) {
	if den == 0 {
		return Amount{}, ErrOverflow
	}
	var r Amount
	n, d := uint256.NewInt(num), uint256.NewInt(den)
	if _, over := r.u.MulDivOverflow(&a.u, n, d); over {
		return Amount{}, ErrOverflow
	}
	return r, nil
}

// String formats the amount in base units, in decimal.
func (a Amount) String() string { return a.u.Dec() }

// Float converts a to whole tokens of the given decimals as a float64,
// for charts and metrics only: it is not exact.
func (a Amount) Float(decimals int) float64 {
	f := new(big.Float).SetInt(a.Big())
	if decimals > 0 {
		f.Quo(f, new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)))
	}
	v, _ := f.Float64()
	return v
}

// Format renders the amount with the given number of decimals, trimming
// trailing zeros: Format(18) of 1500000000000000000 is "1.5".
func (a Amount) Format(decimals int) string {
	s := a.u.Dec()
	if decimals <= 0 {
		return s
	}
	if len(s) <= decimals {
		s = strings.Repeat("0", decimals-len(s)+1) + s
	}
	whole, frac := s[:len(s)-decimals], strings.TrimRight(s[len(s)-decimals:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// ParseAmount parses a human amount such as "12.5" or "0.000001" with the
// given number of decimals into base units. An optional unit suffix after a
// space ("0.5 BTT") is ignored by ParseAmount; callers that care check it.
// Negative values, more fractional digits than decimals, and values above
// 2^256-1 are errors.
func ParseAmount(s string, decimals int) (Amount, error) {
	orig := s
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return Amount{}, fmt.Errorf("empty amount")
	}
	if s[0] == '-' {
		return Amount{}, fmt.Errorf("amount %q is negative", orig)
	}
	s = strings.TrimPrefix(s, "+")
	whole, frac, hasDot := strings.Cut(s, ".")
	if hasDot && frac == "" && whole == "" {
		return Amount{}, fmt.Errorf("amount %q is not a number", orig)
	}
	if len(frac) > decimals {
		return Amount{}, fmt.Errorf("amount %q has more than %d decimal places", orig, decimals)
	}
	digits := whole + frac + strings.Repeat("0", decimals-len(frac))
	if digits == "" {
		digits = "0"
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Amount{}, fmt.Errorf("amount %q is not a number", orig)
		}
	}
	b, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Amount{}, fmt.Errorf("amount %q is not a number", orig)
	}
	a, err := AmountFromBig(b)
	if err != nil {
		return Amount{}, fmt.Errorf("amount %q is too large", orig)
	}
	return a, nil
}

// U256 returns a as a uint256 value (the strategy package's money type).
func (a Amount) U256() uint256.Int { return a.u }

// AmountFromU256 wraps a uint256 value.
func AmountFromU256(u uint256.Int) Amount { return Amount{u: u} }
