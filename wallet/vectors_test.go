package wallet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tronVectors mirrors ../shared/testdata/tron-vectors.json (TronWeb 6.5.1).
type tronVectors struct {
	Generator string `json:"generator"`
	Token     string `json:"token"`
	Keys      []struct {
		PrivateKey    string `json:"private_key"`
		AddressBase58 string `json:"address_base58"`
		AddressHex    string `json:"address_hex"`
		Messages      []struct {
			Message     string `json:"message"`
			HashV2      string `json:"hash_v2"`
			SignatureV2 string `json:"signature_v2"`
		} `json:"messages"`
		Cheques []struct {
			Domain struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				ChainID uint64 `json:"chainId"`
			} `json:"domain"`
			Value struct {
				Token            string `json:"token"`
				Payer            string `json:"payer"`
				Beneficiary      string `json:"beneficiary"`
				CumulativePayout string `json:"cumulativePayout"`
			} `json:"value"`
			ValueHex struct {
				Token       string `json:"token"`
				Payer       string `json:"payer"`
				Beneficiary string `json:"beneficiary"`
			} `json:"value_hex"`
			DomainSeparator string `json:"domain_separator"`
			StructHash      string `json:"struct_hash"`
			Digest          string `json:"digest"`
			Signature       string `json:"signature"`
		} `json:"cheques"`
	} `json:"keys"`
	Mnemonic struct {
		Phrase    string   `json:"phrase"`
		Path      string   `json:"path"`
		Addresses []string `json:"addresses"`
	} `json:"mnemonic"`
}

// loadVectors reads the shared TronWeb vectors, found relative to the
// module root at ../shared/testdata (the checkout lives beside shared/).
// BIDTORRENT_VECTORS overrides the path. Without the file the test is
// skipped, except under CI=true where it fails.
func loadVectors(t testing.TB) *tronVectors {
	t.Helper()
	path := os.Getenv("BIDTORRENT_VECTORS")
	if path == "" {
		root, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		for { // the module root is the nearest directory with go.mod
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			up := filepath.Dir(root)
			if up == root {
				t.Fatal("no go.mod above the test directory")
			}
			root = up
		}
		path = filepath.Join(root, "..", "shared", "testdata", "tron-vectors.json")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("TronWeb vectors missing at %s (CI=true)", path)
		}
		t.Skipf("TronWeb vectors not found at %s; set BIDTORRENT_VECTORS", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var v tronVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("cannot decode %s: %v", path, err)
	}
	if len(v.Keys) == 0 || len(v.Mnemonic.Addresses) == 0 {
		t.Fatalf("%s holds no vectors", path)
	}
	return &v
}

func hex0x(b []byte) string { return "0x" + hex.EncodeToString(b) }

func TestTronWebVectors(t *testing.T) {
	v := loadVectors(t)
	token := MustParseAddress(v.Token)
	var nMsg, nCheque int
	for i, kv := range v.Keys {
		k, err := KeyFromHex(kv.PrivateKey)
		if err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if got := k.Address().String(); got != kv.AddressBase58 {
			t.Errorf("key %d: address %s, want %s", i, got, kv.AddressBase58)
		}
		if got := k.Address().Hex(); got != kv.AddressHex {
			t.Errorf("key %d: hex address %s, want %s", i, got, kv.AddressHex)
		}
		for _, form := range []string{kv.AddressBase58, kv.AddressHex, "0x" + kv.AddressHex} {
			if a, err := ParseAddress(form); err != nil || a != k.Address() {
				t.Errorf("key %d: ParseAddress(%q) = %v, %v", i, form, a, err)
			}
		}
		for _, m := range kv.Messages {
			nMsg++
			h := MessageHash([]byte(m.Message))
			if got := hex0x(h[:]); got != m.HashV2 {
				t.Errorf("key %d message %.20q: hash %s, want %s", i, m.Message, got, m.HashV2)
			}
			sig, err := k.SignMessage([]byte(m.Message))
			if err != nil {
				t.Fatal(err)
			}
			if got := sig.String(); got != m.SignatureV2 {
				t.Errorf("key %d message %.20q: signature %s, want %s", i, m.Message, got, m.SignatureV2)
			}
			want, err := ParseSignature(m.SignatureV2)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyMessage(k.Address(), []byte(m.Message), want); err != nil {
				t.Errorf("key %d message %.20q: TronWeb signature rejected: %v", i, m.Message, err)
			}
			if err := VerifyMessage(k.Address(), []byte(m.Message+"!"), want); !errors.Is(err, ErrBadSignature) {
				t.Errorf("key %d: signature verified for another message: %v", i, err)
			}
		}
		for _, cv := range kv.Cheques {
			nCheque++
			if cv.Domain.Name != ChequeDomainName || cv.Domain.Version != ChequeDomainVersion {
				t.Fatalf("vector domain %+v", cv.Domain)
			}
			cum, ok := new(big.Int).SetString(cv.Value.CumulativePayout, 10)
			if !ok {
				t.Fatalf("bad cumulativePayout %q", cv.Value.CumulativePayout)
			}
			amt, err := AmountFromBig(cum)
			if err != nil {
				t.Fatal(err)
			}
			ben := MustParseAddress(cv.Value.Beneficiary)
			if ben.Hex() != cv.ValueHex.Beneficiary || token.Hex() != cv.ValueHex.Token ||
				MustParseAddress(cv.Value.Payer).Hex() != cv.ValueHex.Payer || MustParseAddress(cv.Value.Token) != token {
				t.Errorf("key %d: cheque addresses do not match their hex forms", i)
			}
			if MustParseAddress(cv.Value.Payer) != k.Address() {
				t.Fatalf("key %d: vector payer is not the key", i)
			}
			c, err := SignCheque(k, cv.Domain.ChainID, token, ben, amt)
			if err != nil {
				t.Fatal(err)
			}
			ds := ChequeDomainSeparator(cv.Domain.ChainID)
			sh, dg := c.StructHash(), c.Digest()
			check := func(what, got, want string) {
				if got != want {
					t.Errorf("key %d chain %d cumulative %s: %s %s, want %s", i, cv.Domain.ChainID, cv.Value.CumulativePayout, what, got, want)
				}
			}
			check("domain separator", hex0x(ds[:]), cv.DomainSeparator)
			check("struct hash", hex0x(sh[:]), cv.StructHash)
			check("digest", hex0x(dg[:]), cv.Digest)
			check("signature", c.Signature.String(), cv.Signature)
			// The TronWeb signature verifies as is.
			tc := c
			tc.Signature, err = ParseSignature(cv.Signature)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.Verify(); err != nil {
				t.Errorf("key %d: TronWeb cheque rejected: %v", i, err)
			}
			// Binary round trip.
			b, _ := tc.MarshalBinary()
			var back Cheque
			if err := back.UnmarshalBinary(b); err != nil || back != tc {
				t.Errorf("key %d: binary round trip: %v", i, err)
			}
		}
	}
	for i, want := range v.Mnemonic.Addresses {
		if !strings.Contains(v.Mnemonic.Path, "INDEX") {
			t.Fatalf("unexpected path %s", v.Mnemonic.Path)
		}
		k, err := KeyFromMnemonic(v.Mnemonic.Phrase, i)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.Address().String(); got != want {
			t.Errorf("mnemonic index %d: %s, want %s", i, got, want)
		}
	}
	t.Logf("%s: %d keys, %d messages, %d cheques, %d mnemonic addresses reproduced",
		v.Generator, len(v.Keys), nMsg, nCheque, len(v.Mnemonic.Addresses))
}
