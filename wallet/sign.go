package wallet

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
)

// Signature is a 65-byte secp256k1 signature r‖s‖v with v ∈ {27, 28}, as
// TronWeb produces for TIP-191 messages and TIP-712 typed data.
type Signature [65]byte

// Hex returns the signature as 130 hex digits, without 0x.
func (s Signature) Hex() string { return hex.EncodeToString(s[:]) }

// String is Hex with a 0x prefix.
func (s Signature) String() string { return "0x" + s.Hex() }

// ParseSignature parses 65 bytes in hex (an optional 0x prefix).
func ParseSignature(h string) (Signature, error) {
	var s Signature
	h = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(h), "0x"), "0X")
	if len(h) != 130 {
		return s, fmt.Errorf("signature has %d hex digits, want 130: %w", len(h), ErrBadSignature)
	}
	if _, err := hex.Decode(s[:], []byte(h)); err != nil {
		return s, fmt.Errorf("signature is not hex: %w", ErrBadSignature)
	}
	return s, nil
}

var secp256k1HalfN = new(big.Int).Rsh(crypto.S256().Params().N, 1)

// Recover returns the address that made sig over hash. It rejects
// v ∉ {27, 28}, r or s out of range, and high s (s > n/2), so every valid
// signature has exactly one accepted encoding.
func Recover(hash [32]byte, sig Signature) (Address, error) {
	v := sig[64]
	if v != 27 && v != 28 {
		return Address{}, fmt.Errorf("signature v is %d, want 27 or 28: %w", v, ErrBadSignature)
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if s.Cmp(secp256k1HalfN) > 0 {
		return Address{}, fmt.Errorf("signature has high s: %w", ErrBadSignature)
	}
	if !crypto.ValidateSignatureValues(v-27, r, s, true) {
		return Address{}, fmt.Errorf("signature r or s out of range: %w", ErrBadSignature)
	}
	b := sig
	b[64] = v - 27
	pub, err := crypto.SigToPub(hash[:], b[:])
	if err != nil {
		return Address{}, fmt.Errorf("cannot recover the signer: %w", ErrBadSignature)
	}
	return AddressFromPublicKey(pub), nil
}

// MessageHash is the TIP-191 hash TronWeb's signMessageV2 signs:
// keccak256("\x19TRON Signed Message:\n" ‖ decimal len(msg) ‖ msg).
func MessageHash(msg []byte) [32]byte {
	h := crypto.NewKeccakState()
	h.Write([]byte("\x19TRON Signed Message:\n"))
	h.Write([]byte(strconv.Itoa(len(msg))))
	h.Write(msg)
	var out [32]byte
	_, _ = h.Read(out[:])
	return out
}

// SignMessage signs msg as TIP-191 (TronWeb signMessageV2).
func (k *Key) SignMessage(msg []byte) (Signature, error) {
	return k.SignHash(MessageHash(msg))
}

// VerifyMessage checks that sig is signer's TIP-191 signature of msg.
func VerifyMessage(signer Address, msg []byte, sig Signature) error {
	got, err := Recover(MessageHash(msg), sig)
	if err != nil {
		return err
	}
	if got != signer {
		return fmt.Errorf("message signed by %s, not %s: %w", got, signer, ErrBadSignature)
	}
	return nil
}

func keccak(parts ...[]byte) [32]byte {
	var out [32]byte
	copy(out[:], crypto.Keccak256(parts...))
	return out
}
