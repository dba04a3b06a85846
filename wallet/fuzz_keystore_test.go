package wallet

import "testing"

// FuzzDecryptKeyJSON feeds keystore import (a file a user opens): it never
// panics, never accepts a file whose MAC it did not check, and its KDF cost
// stays bounded (TestKeystoreKDFBounds).
func FuzzDecryptKeyJSON(f *testing.F) {
	k, err := KeyFromHex("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d")
	if err != nil {
		f.Fatal(err)
	}
	b, err := EncryptKeyJSON(k, "pw", 1<<10, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(craftKeystore("pbkdf2", `"c":1024,"prf":"hmac-sha256","dklen":32`))
	f.Add(craftKeystore("scrypt", `"n":1024,"r":8,"p":1,"dklen":32`))
	f.Add([]byte(`{"version":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecryptKeyJSON(b, "pw")
		if err == nil && got == nil {
			t.Fatal("no key and no error")
		}
	})
}
