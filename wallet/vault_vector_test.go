package wallet

import (
	"encoding/hex"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// TestVaultChequeVector14 pins the vault cheque vector of PROTOCOL.md §14
// (version 3): the §14 CHEQUE's payer key, beneficiary, chain and payout,
// cashable at the §11.1 vector's vault. Domain separator, digest and the
// signature's recovery are cross-checked with go-ethereum's TypedData.
func TestVaultChequeVector14(t *testing.T) {
	k, err := KeyFromHex("24cbc3b1e4a2cd54242206c7c406e85528028e4489e50d20bb93f6b44e653076")
	if err != nil {
		t.Fatal(err)
	}
	payee := MustParseAddress("TA8kuttZSqEvfLdJfkpN49i47tQcsskDg9")
	vault := MustParseAddress("TGkWdpawVNfeset3P6uTBbLaPY7nZVZvXY")
	token := MustParseAddress(DefaultBTTContract)
	cum := NewAmount(1048576000000000000)
	c, err := SignVaultCheque(k, ChainIDNile, vault, token, payee, cum)
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
			"token": eth(token), "payer": eth(k.Address()), "beneficiary": eth(payee), "cumulativePayout": cum.Big().String(),
		},
	}
	want, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatal(err)
	}
	dom, err := td.HashStruct("EIP712Domain", td.Domain.Map())
	if err != nil {
		t.Fatal(err)
	}
	sep := VaultDomainSeparator(ChainIDNile, vault)
	digest := c.VaultDigest(vault)
	if !bytesEqual(sep[:], dom) || !bytesEqual(digest[:], want) {
		t.Fatalf("domain %x digest %x; go-ethereum says %x %x", sep, digest, dom, want)
	}
	if signer, err := Recover(digest, c.Signature); err != nil || signer != k.Address() {
		t.Fatalf("signature recovers %s (%v)", signer, err)
	}
	for _, v := range []struct{ name, got, want string }{
		{"vault", vault.Hex(), "414a62316623ad457f02cdc5d997ded67a383ec569"},
		{"domain separator", hex.EncodeToString(sep[:]), "a91be62eb80c08570041df57ff296e7672effd426c19b3e88b073448da333861"},
		{"digest", hex.EncodeToString(digest[:]), "aac5a8f5be2492aa74629a9d61beb57dd0e22de5028532ec92239c66f2368480"},
		{"signature", hex.EncodeToString(c.Signature[:]), "0dfb94cba5e354a3b0a7933297a33236b89715a613a2c1169118388a43e7bbcf7e86c3b580a94db825f71166f3e9e4e6d98c560883a9d9e00de278859e2469bd1c"},
	} {
		if v.got != v.want {
			t.Errorf("%s %s, want %s", v.name, v.got, v.want)
		}
	}
}
