package wallet

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = b
	}
	k, err := KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignatureMalleabilityRejected(t *testing.T) {
	k := testKey(t, 7)
	ben := testKey(t, 8).Address()
	tok := MustParseAddress(DefaultBTTContract)
	c, err := SignCheque(k, ChainIDNile, tok, ben, NewAmount(1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	// Flip s to n-s and v: the same signature in its high-s form.
	n := crypto.S256().Params().N
	s := new(big.Int).SetBytes(c.Signature[32:64])
	hi := new(big.Int).Sub(n, s)
	m := c
	hi.FillBytes(m.Signature[32:64])
	m.Signature[64] = 55 - m.Signature[64] // 27 <-> 28
	if err := m.Verify(); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "high s") {
		t.Errorf("high-s signature: %v", err)
	}
	for _, v := range []byte{0, 1, 29, 35} {
		m := c
		m.Signature[64] = v
		if err := m.Verify(); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "want 27 or 28") {
			t.Errorf("v=%d: %v", v, err)
		}
	}
	m = c
	clear(m.Signature[:32])
	if err := m.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("r=0: %v", err)
	}
	// Every field is covered by the signature.
	for name, mut := range map[string]func(*Cheque){
		"chain":       func(c *Cheque) { c.ChainID = ChainIDMainnet },
		"token":       func(c *Cheque) { c.Token = testKey(t, 9).Address() },
		"payer":       func(c *Cheque) { c.Payer = testKey(t, 9).Address() },
		"beneficiary": func(c *Cheque) { c.Beneficiary = testKey(t, 9).Address() },
		"cumulative":  func(c *Cheque) { c.Cumulative = NewAmount(1001) },
	} {
		m := c
		mut(&m)
		if err := m.Verify(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("changed %s still verifies: %v", name, err)
		}
	}
	if _, err := SignCheque(k, ChainIDNile, tok, k.Address(), NewAmount(1)); !errors.Is(err, ErrMisaddressed) {
		t.Errorf("cheque to self: %v", err)
	}
	if _, err := SignCheque(k, ChainIDNile, Address{}, ben, NewAmount(1)); !errors.Is(err, ErrBadAddress) {
		t.Errorf("zero token: %v", err)
	}
	if _, err := ParseSignature("0x1234"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("short signature: %v", err)
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k, err := KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(f, k)
		if strings.Contains(out, "24cbc3b1") || strings.Contains(strings.ToLower(out), "4cbc3b1e4") || !strings.Contains(out, k.Address().String()) {
			t.Errorf("%s prints %q", f, out)
		}
	}
	_, err = KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e65307z")
	if err == nil || strings.Contains(err.Error(), "24cbc3b1") {
		t.Errorf("bad hex error leaks or passes: %v", err)
	}
	if _, err := KeyFromHex("00"); err == nil {
		t.Errorf("short key accepted")
	}
	if _, err := KeyFromBytes(make([]byte, 32)); err == nil {
		t.Errorf("zero key accepted")
	}
}

func TestMnemonicValidation(t *testing.T) {
	if _, err := KeyFromMnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", 0); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("bad checksum: %v", err)
	}
	if _, err := KeyFromMnemonic("abandon abandon abandon", 0); err == nil || !strings.Contains(err.Error(), "3 words") {
		t.Errorf("3 words: %v", err)
	}
	if _, err := KeyFromMnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", -1); err == nil {
		t.Errorf("negative index accepted")
	}
	// Extra spaces and case do not matter.
	a, err := KeyFromMnemonic("  Abandon abandon abandon abandon abandon abandon\nabandon abandon abandon abandon abandon ABOUT ", 0)
	if err != nil || a.Address().String() != "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH" {
		t.Errorf("normalised mnemonic: %v %v", a, err)
	}
}

func TestMessageSignRoundTrip(t *testing.T) {
	k := testKey(t, 3)
	sig, err := k.SignMessage([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyMessage(k.Address(), []byte("hello"), sig); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMessage(testKey(t, 4).Address(), []byte("hello"), sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other signer: %v", err)
	}
}
