package wallet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeystore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keystore")
	ks := Keystore{Dir: dir, ScryptN: LightScryptN, ScryptP: LightScryptP}
	if _, err := ks.Address(); !errors.Is(err, ErrNoKeystore) {
		t.Fatalf("missing keystore: %v", err)
	}
	if _, err := ks.Unlock("x"); !errors.Is(err, ErrNoKeystore) {
		t.Fatalf("missing keystore unlock: %v", err)
	}
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Save(k, ""); err == nil {
		t.Fatal("empty passphrase accepted")
	}
	if err := ks.Save(k, "correct horse"); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, ks.Path(): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", p, fi.Mode().Perm(), want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("keystore dir holds %d entries, want only the key", len(ents))
	}
	raw, _ := os.ReadFile(ks.Path())
	secret := k.ECDSA().D.Text(16)
	if strings.Contains(string(raw), secret) {
		t.Fatal("keystore holds the key in clear")
	}
	if a, err := ks.Address(); err != nil || a != k.Address() {
		t.Errorf("Address() = %v, %v", a, err)
	}
	if _, err := ks.Unlock("wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	u, err := ks.Unlock("correct horse")
	if err != nil || u.Address() != k.Address() {
		t.Fatalf("Unlock: %v %v", u, err)
	}
	if err := ks.Save(testKey(t, 5), "other"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	if u2, _ := ks.Unlock("correct horse"); u2.Address() != k.Address() {
		t.Errorf("key replaced")
	}
}

// A keystore as geth writes it (pbkdf2 variant from the Web3 secret
// storage definition's test vector).
const web3PBKDF2Vector = `{
 "crypto" : {
  "cipher" : "aes-128-ctr",
  "cipherparams" : {"iv" : "6087dab2f9fdbbfaddc31a909735c1e6"},
  "ciphertext" : "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
  "kdf" : "pbkdf2",
  "kdfparams" : {"c" : 262144, "dklen" : 32, "prf" : "hmac-sha256", "salt" : "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
  "mac" : "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
 },
 "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
 "version" : 3
}`

const web3ScryptVector = `{
 "crypto" : {
  "cipher" : "aes-128-ctr",
  "cipherparams" : {"iv" : "83dbcc02d8ccb40e466191a123791e0e"},
  "ciphertext" : "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
  "kdf" : "scrypt",
  "kdfparams" : {"dklen" : 32, "n" : 262144, "r" : 1, "p" : 8, "salt" : "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},
  "mac" : "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
 },
 "id" : "3198bc9c-6672-5ab3-d995-4942343ae5b6",
 "version" : 3
}`

func TestImportWeb3Keystores(t *testing.T) {
	// Both vectors encrypt key 7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d
	// with passphrase "testpassword".
	want, err := KeyFromHex("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d")
	if err != nil {
		t.Fatal(err)
	}
	for name, js := range map[string]string{"pbkdf2": web3PBKDF2Vector, "scrypt": web3ScryptVector} {
		k, err := DecryptKeyJSON([]byte(js), "testpassword")
		if err != nil || k.Address() != want.Address() {
			t.Errorf("%s: %v %v", name, k, err)
		}
		if name == "scrypt" {
			continue // slow KDF (N=2^18, p=8): one decryption is enough
		}
		if _, err := DecryptKeyJSON([]byte(js), "nope"); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s wrong passphrase: %v", name, err)
		}
	}
	// Our own format round-trips and is checked against its address.
	b, err := EncryptKeyJSON(want, "pw", LightScryptN, LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	k, err := DecryptKeyJSON(b, "pw")
	if err != nil || k.Address() != want.Address() {
		t.Fatalf("round trip: %v", err)
	}
	forged := strings.Replace(string(b), want.Address().Hex(), testKey(t, 1).Address().Hex(), 1)
	if _, err := DecryptKeyJSON([]byte(forged), "pw"); err == nil || !strings.Contains(err.Error(), "names address") {
		t.Errorf("address mismatch: %v", err)
	}
	if _, err := DecryptKeyJSON([]byte(`{"version":3}`), "pw"); err == nil {
		t.Errorf("empty keystore accepted")
	}
}
