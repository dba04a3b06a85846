package wallet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fbsobreira/gotron-sdk/pkg/common"
)

// AddressPrefix is the first byte of every TRON account address.
const AddressPrefix = 0x41

// Address is a 21-byte TRON address: 0x41 followed by the 20-byte
// keccak-derived account id (the same 20 bytes Ethereum would use).
// The zero value is not a valid address; see IsZero.
type Address [21]byte

// AddressFromPublicKey derives the TRON address of a secp256k1 public key.
func AddressFromPublicKey(pub *ecdsa.PublicKey) Address {
	var a Address
	a[0] = AddressPrefix
	copy(a[1:], crypto.PubkeyToAddress(*pub).Bytes())
	return a
}

// String returns the base58check form (T…).
func (a Address) String() string { return common.EncodeCheck(a[:]) }

// Hex returns the 21-byte hex form (41…), without a 0x prefix.
func (a Address) Hex() string { return hex.EncodeToString(a[:]) }

// Bytes returns a copy of the 21 bytes.
func (a Address) Bytes() []byte { return append([]byte(nil), a[:]...) }

// EVM returns the 20-byte account id (the address without its 0x41
// prefix), as ABI-encoded in TIP-712 and TRC-20 calls.
func (a Address) EVM() [20]byte {
	var e [20]byte
	copy(e[:], a[1:])
	return e
}

// AddressFromEVM returns the TRON address of a 20-byte account id (the
// 0x41 prefix, then e).
func AddressFromEVM(e [20]byte) Address {
	var a Address
	a[0] = AddressPrefix
	copy(a[1:], e[:])
	return a
}

// IsZero reports whether a is the zero value (unset).
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText encodes the address in base58check form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText accepts either form; see ParseAddress.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// AddressFromBytes checks and converts a 21-byte address.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if len(b) != len(a) {
		return a, fmt.Errorf("address is %d bytes, want 21: %w", len(b), ErrBadAddress)
	}
	if b[0] != AddressPrefix {
		return a, fmt.Errorf("address starts with byte 0x%02x, want 0x41: %w", b[0], ErrBadAddress)
	}
	copy(a[:], b)
	return a, nil
}

// ParseAddress parses a TRON address in base58check form (T…, 34
// characters) or hex form (41… with 42 hex digits, an optional 0x prefix).
// Errors say what is wrong: bad character, bad checksum, wrong prefix or
// wrong length. All wrap ErrBadAddress.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, fmt.Errorf("empty address: %w", ErrBadAddress)
	}
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(h) == 42 && isHex(h) {
		b, _ := hex.DecodeString(h)
		if b[0] != AddressPrefix {
			return Address{}, fmt.Errorf("hex address %q has prefix %02x, want 41: %w", s, b[0], ErrBadAddress)
		}
		return AddressFromBytes(b)
	}
	if len(h) == 40 && isHex(h) {
		return Address{}, fmt.Errorf("address %q is 20 bytes (an Ethereum address?): a TRON hex address is 21 bytes starting with 41: %w", s, ErrBadAddress)
	}
	if h != s || isHex(s) {
		return Address{}, fmt.Errorf("hex address %q has %d digits, want 42: %w", s, len(h), ErrBadAddress)
	}
	for i, c := range s {
		if !strings.ContainsRune(base58Alphabet, c) {
			return Address{}, fmt.Errorf("address %q has a character %q at %d that is not base58: %w", s, c, i, ErrBadAddress)
		}
	}
	if len(s) != 34 {
		return Address{}, fmt.Errorf("address %q has %d characters, want 34 (T…) or 42 hex digits (41…): %w", s, len(s), ErrBadAddress)
	}
	raw, err := common.Decode(s)
	if err != nil {
		return Address{}, fmt.Errorf("address %q is not base58: %w", s, ErrBadAddress)
	}
	if len(raw) != 25 {
		return Address{}, fmt.Errorf("address %q decodes to %d bytes, want 25 (21 + 4 checksum): %w", s, len(raw), ErrBadAddress)
	}
	sum := sha256.Sum256(raw[:21])
	sum = sha256.Sum256(sum[:])
	if !bytes.Equal(sum[:4], raw[21:]) {
		return Address{}, fmt.Errorf("address %q has a bad checksum (mistyped?): %w", s, ErrBadAddress)
	}
	if raw[0] != AddressPrefix {
		return Address{}, fmt.Errorf("address %q has prefix byte 0x%02x, want 0x41 (T…): %w", s, raw[0], ErrBadAddress)
	}
	var a Address
	copy(a[:], raw[:21])
	return a, nil
}

// MustParseAddress is ParseAddress for constants; it panics on error.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
