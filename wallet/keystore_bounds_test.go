package wallet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// craftKeystore is a v3 keystore whose KDF parameters come from an attacker.
func craftKeystore(kdf, params string) []byte {
	return []byte(`{"version":3,"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},` +
		`"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",` +
		`"kdf":"` + kdf + `","kdfparams":{` + params + `,"salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},` +
		`"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"}}`)
}

// A keystore's KDF parameters are bounded by geth's "standard" cost
// (scrypt N=2^18, r=8, p=1; pbkdf2 262144 rounds): an imported file cannot
// make us allocate gigabytes or spin for minutes, and the error says why.
func TestKeystoreKDFBounds(t *testing.T) {
	for name, js := range map[string][]byte{
		"scrypt N 2^19":     craftKeystore("scrypt", `"n":524288,"r":1,"p":1,"dklen":32`),
		"scrypt r 16":       craftKeystore("scrypt", `"n":4096,"r":16,"p":1,"dklen":32`),
		"scrypt N*r*p":      craftKeystore("scrypt", `"n":262144,"r":8,"p":2,"dklen":32`),
		"scrypt N not 2^k":  craftKeystore("scrypt", `"n":1000,"r":8,"p":1,"dklen":32`),
		"scrypt p 0":        craftKeystore("scrypt", `"n":4096,"r":8,"p":0,"dklen":32`),
		"scrypt N 2^30":     craftKeystore("scrypt", `"n":1073741824,"r":8,"p":1,"dklen":32`),
		"scrypt p 2^30":     craftKeystore("scrypt", `"n":2,"r":1,"p":1073741824,"dklen":32`),
		"scrypt dklen 2^30": craftKeystore("scrypt", `"n":4096,"r":8,"p":1,"dklen":1073741824`),
		"pbkdf2 c 2^19":     craftKeystore("pbkdf2", `"c":524288,"prf":"hmac-sha256","dklen":32`),
		"pbkdf2 c 2^31-1":   craftKeystore("pbkdf2", `"c":2147483647,"prf":"hmac-sha256","dklen":32`),
		"pbkdf2 c 0":        craftKeystore("pbkdf2", `"c":0,"prf":"hmac-sha256","dklen":32`),
	} {
		start := time.Now()
		_, err := DecryptKeyJSON(js, "testpassword")
		if err == nil || errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "keystore") ||
			!strings.Contains(err.Error(), "allowed") {
			t.Errorf("%s: %v, want a KDF parameter error", name, err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("%s: refused after %v: the KDF ran", name, d)
		}
	}
	// The largest allowed costs still decrypt (the web3 vectors: pbkdf2 at
	// 262144 rounds, scrypt N=2^18 r=1 p=8, in TestImportWeb3Keystores).
	if _, err := DecryptKeyJSON(craftKeystore("pbkdf2", `"c":262144,"prf":"hmac-sha256","dklen":32`), "x"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("pbkdf2 at the bound: %v", err)
	}
}
