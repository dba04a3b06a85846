package wallet

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	tests := []struct {
		in       string
		decimals int
		want     string // base units, or "" for an error
		errHas   string
	}{
		{"12.5", 18, "12500000000000000000", ""},
		{"0.000001 BTT", 18, "1000000000000", ""},
		{"1", 6, "1000000", ""},
		{"+3.", 6, "3000000", ""},
		{".5", 6, "500000", ""},
		{"0", 18, "0", ""},
		{"  7 TRX ", 6, "7000000", ""},
		{"1.048576", 18, "1048576000000000000", ""},
		{max.String(), 0, max.String(), ""},
		{"-1", 18, "", "negative"},
		{"-0.5", 6, "", "negative"},
		{"1.0000001", 6, "", "more than 6 decimal places"},
		{"0.0000000000000000001", 18, "", "more than 18 decimal places"},
		{new(big.Int).Add(max, big.NewInt(1)).String(), 0, "", "too large"},
		{"115792089237316195423570985008687907853269984665640564039457.584007913129639936", 18, "", "too large"},
		{"1e18", 0, "", "not a number"},
		{"abc", 6, "", "not a number"},
		{"1.2.3", 6, "", "not a number"},
		{".", 6, "", "not a number"},
		{"", 6, "", "empty"},
		{"0x10", 0, "", "not a number"},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.decimals)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParseAmount(%q, %d) = %s, %v; want error with %q", tt.in, tt.decimals, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseAmount(%q, %d) = %s, %v; want %s", tt.in, tt.decimals, got, err, tt.want)
		}
	}
}

func TestAmountFormat(t *testing.T) {
	tests := []struct {
		base     string
		decimals int
		want     string
	}{
		{"1500000000000000000", 18, "1.5"},
		{"1", 18, "0.000000000000000001"},
		{"0", 18, "0"},
		{"1000000", 6, "1"},
		{"1234567", 6, "1.234567"},
		{"42", 0, "42"},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", 18,
			"115792089237316195423570985008687907853269984665640564039457.584007913129639935"},
	}
	for _, tt := range tests {
		b, _ := new(big.Int).SetString(tt.base, 10)
		a, err := AmountFromBig(b)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Format(tt.decimals)
		if got != tt.want {
			t.Errorf("Format(%s, %d) = %q, want %q", tt.base, tt.decimals, got, tt.want)
		}
		back, err := ParseAmount(got, tt.decimals)
		if err != nil || back.Cmp(a) != 0 {
			t.Errorf("round trip of %s: %s, %v", tt.base, back, err)
		}
	}
}

func TestAmountArithmetic(t *testing.T) {
	max, _ := AmountFromBig(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))
	if _, err := max.Add(NewAmount(1)); !errors.Is(err, ErrOverflow) {
		t.Errorf("max+1: %v, want ErrOverflow", err)
	}
	if MaxAmount().Cmp(max) != 0 {
		t.Errorf("MaxAmount = %s, want 2^256-1", MaxAmount())
	}
	// A saturating sum keeps every addend: at the ceiling whatever the
	// order, never the first addend alone (core's old addAmount dropped
	// the one that overflowed, so 2 + (max-1) was 2).
	for _, c := range [][2]Amount{{NewAmount(2), max.SubFloor(NewAmount(1))}, {max.SubFloor(NewAmount(1)), NewAmount(2)}, {max, max}} {
		if got := c[0].AddSaturating(c[1]); got.Cmp(max) != 0 {
			t.Errorf("AddSaturating(%s, %s) = %s, want 2^256-1", c[0], c[1], got)
		}
	}
	if got := NewAmount(5).AddSaturating(NewAmount(7)); got.String() != "12" {
		t.Errorf("AddSaturating(5, 7) = %s", got)
	}
	if _, err := NewAmount(1).Sub(NewAmount(2)); !errors.Is(err, ErrOverflow) {
		t.Errorf("1-2: %v, want ErrOverflow", err)
	}
	if got := NewAmount(1).SubFloor(NewAmount(2)); !got.IsZero() {
		t.Errorf("SubFloor(1,2) = %s", got)
	}
	if _, err := AmountFromBig(big.NewInt(-1)); !errors.Is(err, ErrOverflow) {
		t.Errorf("negative big: %v", err)
	}
	if _, err := AmountFromBytes(make([]byte, 33)); !errors.Is(err, ErrOverflow) {
		t.Errorf("33 bytes: %v", err)
	}
	// The minimal encoding: Bytes and AmountFromMinimalBytes are inverses,
	// and no other encoding of the same amount is read.
	for _, a := range []Amount{{}, NewAmount(1), NewAmount(256), max} {
		if got, err := AmountFromMinimalBytes(a.Bytes()); err != nil || got.Cmp(a) != 0 {
			t.Errorf("AmountFromMinimalBytes(%x) = %s, %v; want %s", a.Bytes(), got, err, a)
		}
	}
	for _, b := range [][]byte{{0}, {0, 1}, append([]byte{0}, max.Bytes()[1:]...)} {
		if got, err := AmountFromMinimalBytes(b); err == nil || !strings.Contains(err.Error(), "leading zero") {
			t.Errorf("AmountFromMinimalBytes(%x) = %s, %v; want a leading-zero error", b, got, err)
		}
	}
	if _, err := AmountFromMinimalBytes(append([]byte{1}, make([]byte, 32)...)); !errors.Is(err, ErrOverflow) {
		t.Errorf("33 minimal bytes: %v", err)
	}
	// Price per MiB times bytes, as the market computes it.
	price, _ := ParseAmount("0.001", BTTDecimals)
	got, err := price.MulDiv(3<<20, 1<<20)
	if err != nil || got.Format(BTTDecimals) != "0.003" {
		t.Errorf("MulDiv = %s, %v", got.Format(BTTDecimals), err)
	}
	if _, err := max.MulDiv(2, 1); !errors.Is(err, ErrOverflow) {
		t.Errorf("max*2: %v", err)
	}
	if _, err := price.MulDiv(1, 0); !errors.Is(err, ErrOverflow) {
		t.Errorf("div by zero: %v", err)
	}
	if s, _ := NewAmount(5).Add(NewAmount(7)); s.String() != "12" || NewAmount(5).Min(NewAmount(7)).String() != "5" {
		t.Errorf("Add/Min wrong")
	}
	if b := NewAmount(258).Bytes(); len(b) != 2 || b[0] != 1 || b[1] != 2 {
		t.Errorf("Bytes = %x", b)
	}
	if len(NewAmount(0).Bytes()) != 0 {
		t.Errorf("zero Bytes not empty")
	}
	if u := max.U256(); AmountFromU256(u).Cmp(max) != 0 {
		t.Errorf("U256 round trip")
	}
	if v, ok := max.Uint64(); ok {
		t.Errorf("max fits uint64: %d", v)
	}
}
