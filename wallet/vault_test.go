package wallet

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// TestVaultChequeDigest cross-checks the vault cheque digest with
// go-ethereum's TypedData (TIP-712 encodes addresses as their 20 bytes),
// pins its value, and checks that a vault cheque verifies only for its
// vault and is not a plain cheque.
func TestVaultChequeDigest(t *testing.T) {
	payer, payee := testKey(t, 1), testKey(t, 2).Address()
	vault, other := testKey(t, 7).Address(), testKey(t, 8).Address()
	token := MustParseAddress(DefaultBTTContract)
	cum, _ := ParseAmount("12.5", BTTDecimals)
	c, err := SignVaultCheque(payer, ChainIDNile, vault, token, payee, cum)
	if err != nil {
		t.Fatal(err)
	}
	eth := func(a Address) string { return common.BytesToAddress(a[1:]).Hex() }
	td := apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {{Name: "name", Type: "string"}, {Name: "version", Type: "string"}, {Name: "chainId", Type: "uint256"}, {Name: "verifyingContract", Type: "address"}},
			"Cheque":       {{Name: "token", Type: "address"}, {Name: "payer", Type: "address"}, {Name: "beneficiary", Type: "address"}, {Name: "cumulativePayout", Type: "uint256"}},
		},
		PrimaryType: "Cheque",
		Domain:      apitypes.TypedDataDomain{Name: "BTTCheque", Version: "1", ChainId: math.NewHexOrDecimal256(int64(ChainIDNile)), VerifyingContract: eth(vault)},
		Message: apitypes.TypedDataMessage{
			"token": eth(token), "payer": eth(payer.Address()), "beneficiary": eth(payee), "cumulativePayout": cum.Big().String(),
		},
	}
	want, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatal(err)
	}
	got := c.VaultDigest(vault)
	if !bytesEqual(got[:], want) {
		t.Fatalf("digest %x, go-ethereum says %x", got, want)
	}
	// The vector (PROTOCOL.md §11): keys 1 and 2 of the tests, vault key 7.
	if hex.EncodeToString(got[:]) != "bf9cc87e9d5d5f1a84e517feb389c0478ed21e85a0565f783535d6a4249d862a" ||
		hex.EncodeToString(c.Signature[:]) != "78d547e1ff15389b8d1794bdc2548cc2cc4325b536ece1e07aad41f0bc312349267732097398061d23aecdd18fb77a02e81f86d4d2226bc9dc8e1f641db28cc41c" {
		t.Errorf("vector changed: digest %x signature %x", got, c.Signature)
	}
	if err := c.VerifyVault(vault); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyVault(other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("verified for another vault: %v", err)
	}
	if err := c.Verify(); err != nil {
		t.Errorf("Verify follows Vault: %v", err)
	}
	plain := c
	plain.Vault = Address{}
	if err := plain.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a vault cheque passed as a plain cheque: %v", err)
	}
	// The binary form keeps the vault (cheque book records).
	b, _ := c.MarshalBinary()
	var back Cheque
	if err := back.UnmarshalBinary(b); err != nil || back != c || len(b) != ChequeSize+21 {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
