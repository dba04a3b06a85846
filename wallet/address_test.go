package wallet

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddressErrors(t *testing.T) {
	const good = "TGVo3Ci8mmveRZ3H7CyLKGrznfSv9fvQ8y"
	const goodHex = "414799a56c0d4cd33838c1f002e2ab73b8dda0c774"
	tests := []struct {
		in, errHas string
	}{
		{"", "empty"},
		{"TGVo3Ci8mmveRZ3H7CyLKGrznfSv9fvQ8z", "bad checksum"},
		{"TGVo3Ci8mmveRZ3H7CyLKGrznfSv9fvQ8", "want 34"},
		{"TGVo3Ci8mmveRZ3H7CyLKGrznfSv9fvQ0y", "not base58"},
		{"TGVo3Ci8mmveRZ3H7CyLKGrznfSv9fvQly", "not base58"},
		{"424799a56c0d4cd33838c1f002e2ab73b8dda0c774", "prefix 42"},
		{"4799a56c0d4cd33838c1f002e2ab73b8dda0c774", "20 bytes"},
		{"0x4799a56c0d4cd33838c1f002e2ab73b8dda0c7", "want 42"},
		{"414799a56c0d4cd33838c1f002e2ab73b8dda0c77", "want 42"},
		// A valid base58check string with a Bitcoin prefix (0x00).
		{"1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "prefix byte 0x00"},
	}
	for _, tt := range tests {
		_, err := ParseAddress(tt.in)
		if err == nil || !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("ParseAddress(%q) = %v; want ErrBadAddress mentioning %q", tt.in, err, tt.errHas)
		}
	}
	a, err := ParseAddress(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != good || a.Hex() != goodHex {
		t.Errorf("round trip: %s %s", a, a.Hex())
	}
	b, err := ParseAddress(" 0x" + strings.ToUpper(goodHex) + "\n")
	if err != nil || b != a {
		t.Errorf("upper-case hex: %v %v", b, err)
	}
	var u Address
	if err := u.UnmarshalText([]byte(goodHex)); err != nil || u != a {
		t.Errorf("UnmarshalText: %v", err)
	}
	if txt, _ := a.MarshalText(); string(txt) != good {
		t.Errorf("MarshalText = %s", txt)
	}
	if _, err := AddressFromBytes(a[1:]); !errors.Is(err, ErrBadAddress) {
		t.Errorf("20 bytes accepted")
	}
	if !(Address{}).IsZero() || a.IsZero() {
		t.Errorf("IsZero wrong")
	}
	e := a.EVM()
	if string(e[:]) != string(a[1:]) {
		t.Errorf("EVM wrong")
	}
	if back := AddressFromEVM(e); back != a || back.String() != a.String() {
		t.Errorf("AddressFromEVM(%x) = %s, want %s", e, back, a)
	}
}
