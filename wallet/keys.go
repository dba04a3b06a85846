package wallet

import (
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
	bip39 "github.com/fbsobreira/go-bip39"
	"github.com/fbsobreira/gotron-sdk/pkg/mnemonic"
)

// MnemonicPath is the BIP-44 derivation path of TRON keys; %d is the index.
const MnemonicPath = "m/44'/195'/0'/0/%d"

// Key is an unlocked secp256k1 private key and its TRON address. Its
// formatting methods never print the secret: fmt shows only the address.
type Key struct {
	priv *ecdsa.PrivateKey
	addr Address
}

// GenerateKey makes a new random key from crypto/rand.
func GenerateKey() (*Key, error) {
	p, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("cannot generate a key: %w", err)
	}
	return newKey(p)
}

// KeyFromHex parses a 32-byte private key in hex (an optional 0x prefix
// and surrounding space are allowed). The error never repeats the input.
func KeyFromHex(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 64 {
		return nil, fmt.Errorf("private key has %d hex digits, want 64", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("private key is not hex")
	}
	defer zero(b)
	return KeyFromBytes(b)
}

// KeyFromBytes makes a key from 32 big-endian bytes.
func KeyFromBytes(b []byte) (*Key, error) {
	p, err := crypto.ToECDSA(b)
	if err != nil {
		return nil, fmt.Errorf("invalid private key (must be 32 bytes in 1..n-1)")
	}
	return newKey(p)
}

// KeyFromMnemonic derives the key at m/44'/195'/0'/0/index from a BIP-39
// mnemonic (English word list, checksum validated), with an empty BIP-39
// passphrase as TronLink and TronWeb use.
func KeyFromMnemonic(phrase string, index int) (*Key, error) {
	phrase = strings.Join(strings.Fields(strings.ToLower(phrase)), " ")
	if index < 0 || index > 1<<31-1 {
		return nil, fmt.Errorf("mnemonic index %d out of range 0..2147483647", index)
	}
	if !bip39.IsMnemonicValid(phrase) {
		n := len(strings.Fields(phrase))
		switch n {
		case 12, 15, 18, 21, 24:
			return nil, fmt.Errorf("invalid mnemonic: an unknown word or a bad checksum")
		default:
			return nil, fmt.Errorf("invalid mnemonic: %d words, want 12, 15, 18, 21 or 24", n)
		}
	}
	sk, _ := mnemonic.FromSeedAndPassphrase(phrase, "", index)
	if sk == nil {
		return nil, fmt.Errorf("cannot derive key %d from the mnemonic", index)
	}
	b := sk.Serialize()
	sk.Zero()
	defer zero(b)
	// Round-trip through bytes: go-ethereum's pure-Go signer rejects
	// keys whose curve is btcec's.
	return KeyFromBytes(b)
}

func newKey(p *ecdsa.PrivateKey) (*Key, error) {
	// Normalise the curve to go-ethereum's S256 (see KeyFromMnemonic).
	b := crypto.FromECDSA(p)
	defer zero(b)
	q, err := crypto.ToECDSA(b)
	if err != nil {
		return nil, fmt.Errorf("invalid private key")
	}
	return &Key{priv: q, addr: AddressFromPublicKey(&q.PublicKey)}, nil
}

// Address returns the key's TRON address.
func (k *Key) Address() Address { return k.addr }

// ECDSA returns the private key, for signing TRON transactions. Callers
// must not modify or log it.
func (k *Key) ECDSA() *ecdsa.PrivateKey { return k.priv }

// SignHash signs a 32-byte digest: 65 bytes r‖s‖v with low s and
// v ∈ {27, 28}.
func (k *Key) SignHash(hash [32]byte) (Signature, error) {
	var sig Signature
	b, err := crypto.Sign(hash[:], k.priv)
	if err != nil {
		return sig, fmt.Errorf("cannot sign: %w", err)
	}
	copy(sig[:], b)
	sig[64] += 27
	return sig, nil
}

// String shows the address only.
func (k *Key) String() string { return "wallet.Key(" + k.addr.String() + ")" }

// Format implements fmt.Formatter so no verb (not even %#v) prints the
// secret.
func (k *Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
