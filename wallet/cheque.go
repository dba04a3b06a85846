package wallet

import (
	"encoding/binary"
	"fmt"
)

// Chain ids of the TIP-712 cheque domain. The TRON ids are the low 32
// bits of each network's genesis block hash, as TronWeb uses them.
const (
	ChainIDMainnet uint64 = 728126428  // 0x2b6653dc
	ChainIDNile    uint64 = 3448148188 // 0xcd8690dc
	ChainIDShasta  uint64 = 2494104990 // 0x94a9059e
	// ChainIDLocal is the embedded local ledger's chain id: ASCII "bttl"
	// (0x6274746c). It is no TRON network's id, so a cheque signed for the
	// local ledger can never be cashed on TRON and vice versa.
	ChainIDLocal uint64 = 1651799148
)

// ChequeDomainName and ChequeDomainVersion are the TIP-712 domain fields.
const (
	ChequeDomainName    = "BTTCheque"
	ChequeDomainVersion = "1"
)

var (
	domainTypeHash = keccak([]byte("EIP712Domain(string name,string version,uint256 chainId)"))
	chequeTypeHash = keccak([]byte("Cheque(address token,address payer,address beneficiary,uint256 cumulativePayout)"))
	domainNameHash = keccak([]byte(ChequeDomainName))
	domainVerHash  = keccak([]byte(ChequeDomainVersion))
)

// Cheque is a signed promise: Payer owes Beneficiary a cumulative total of
// Cumulative base units of Token on chain ChainID. Each new cheque for
// the same (chain, token, payer, beneficiary) replaces the previous one
// with a higher total, so replays are worthless and no nonce is needed.
//
// The signature is secp256k1 over the TIP-712 digest (see Digest), 65
// bytes r‖s‖v, v ∈ {27, 28}, low s: TronWeb's
// signTypedData over the same domain and value yields the same bytes.
type Cheque struct {
	ChainID     uint64
	Token       Address
	Payer       Address
	Beneficiary Address
	Cumulative  Amount
	Signature   Signature
	// Vault, when set, makes this a vault cheque: signed over the domain
	// naming the payer's cheque vault (VaultDigest), cashable there by the
	// beneficiary. Zero for plain cheques.
	Vault Address
}

// ChequeDomainSeparator returns the TIP-712 domain separator:
// keccak256(typeHash(EIP712Domain(string name,string version,uint256 chainId))
// ‖ keccak256("BTTCheque") ‖ keccak256("1") ‖ uint256(chainID)).
func ChequeDomainSeparator(chainID uint64) [32]byte {
	id := uint64Word(chainID)
	return keccak(domainTypeHash[:], domainNameHash[:], domainVerHash[:], id[:])
}

// StructHash returns the TIP-712 hashStruct of the cheque's value.
// Addresses are ABI-encoded as their 20-byte account id (the 0x41 prefix
// dropped), left-padded to 32 bytes, as TronWeb does.
func (c Cheque) StructHash() [32]byte {
	tok, pay, ben := addressWord(c.Token), addressWord(c.Payer), addressWord(c.Beneficiary)
	cum := c.Cumulative.Bytes32()
	return keccak(chequeTypeHash[:], tok[:], pay[:], ben[:], cum[:])
}

// Digest returns keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash), the
// 32 bytes that are signed.
func (c Cheque) Digest() [32]byte {
	if !c.Vault.IsZero() {
		return c.VaultDigest(c.Vault)
	}
	return typedDigest(c.ChainID, c.StructHash())
}

// typedDigest is the TIP-712 digest of a struct hash in the cheque domain
// of chainID: keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash).
func typedDigest(chainID uint64, structHash [32]byte) [32]byte {
	d := ChequeDomainSeparator(chainID)
	return keccak([]byte{0x19, 0x01}, d[:], structHash[:])
}

// addressWord ABI-encodes a TRON address as TIP-712 does: its 20-byte
// account id (the 0x41 prefix dropped), left-padded to 32 bytes.
func addressWord(a Address) [32]byte {
	var w [32]byte
	copy(w[12:], a[1:])
	return w
}

// SignCheque fills in the payer (the key's address) and signs the cheque.
func SignCheque(k *Key, chainID uint64, token, beneficiary Address, cumulative Amount) (Cheque, error) {
	c := Cheque{ChainID: chainID, Token: token, Payer: k.Address(), Beneficiary: beneficiary, Cumulative: cumulative}
	return signInto(k, "cheque", &c, &c.Signature)
}

// Verify checks the signature: well formed, low s, v ∈ {27, 28}, and the
// recovered signer is c.Payer. It does not check who the beneficiary is
// or whether the amount is new: see Wallet.AcceptCheque.
func (c Cheque) Verify() error {
	return verifyFields(c, "cheque", "payer", c.Payer, c.Signature)
}

// fieldSigned is a TIP-712 signed struct: the checks of its fields and the
// digest its signature covers.
type fieldSigned interface {
	checkFields() error
	Digest() [32]byte
}

// signFields checks s's fields and signs its digest with k; what names s
// in the error.
func signFields(k *Key, what string, s fieldSigned) (Signature, error) {
	if err := s.checkFields(); err != nil {
		return Signature{}, err
	}
	sig, err := k.SignHash(s.Digest())
	if err != nil {
		return Signature{}, fmt.Errorf("cannot sign %s: %w", what, err)
	}
	return sig, nil
}

// signInto signs *s (signFields) into sig, its signature field, and
// returns it.
func signInto[T fieldSigned](k *Key, what string, s *T, sig *Signature) (T, error) {
	var err error
	if *sig, err = signFields(k, what, *s); err != nil {
		var zero T
		return zero, err
	}
	return *s, nil
}

// verifyFields checks s's fields and that sig over its digest recovers
// want (checkSigner).
func verifyFields(s fieldSigned, what, role string, want Address, sig Signature) error {
	if err := s.checkFields(); err != nil {
		return err
	}
	return checkSigner(what, role, want, s.Digest(), sig)
}

// checkSigner checks that sig over digest, the signature of a signed
// struct (what), recovers want, its role field (the payer of a cheque).
func checkSigner(what, role string, want Address, digest [32]byte, sig Signature) error {
	signer, err := Recover(digest, sig)
	if err != nil {
		return fmt.Errorf("%s from %s: %w", what, want, err)
	}
	if signer != want {
		return fmt.Errorf("%s claims %s %s but was signed by %s: %w", what, role, want, signer, ErrBadSignature)
	}
	return nil
}

func (c Cheque) checkFields() error {
	return checkParties("cheque", c.Token, namedAddress{"payer", c.Payer}, namedAddress{"beneficiary", c.Beneficiary})
}

// checkParties checks the addresses of a signed struct (what names it)
// between two parties: every one with the 0x41 prefix, and two parties
// that are not the same account.
func checkParties(what string, token Address, from, to namedAddress) error {
	if err := checkPrefixes(what, namedAddress{"token", token}, from, to); err != nil {
		return err
	}
	if from.a == to.a {
		return fmt.Errorf("%s %s and %s are both %s: %w", what, from.name, to.name, from.a, ErrMisaddressed)
	}
	return nil
}

// namedAddress is an address field of a signed struct, for error messages.
type namedAddress struct {
	name string
	a    Address
}

// checkPrefixes checks that every address of a signed struct (what names
// it) has the 0x41 prefix.
func checkPrefixes(what string, fields ...namedAddress) error {
	for _, f := range fields {
		if f.a[0] != AddressPrefix {
			return fmt.Errorf("%s %s %s lacks the 0x41 prefix: %w", what, f.name, f.a.Hex(), ErrBadAddress)
		}
	}
	return nil
}

// ChequeSize is the length of a cheque's binary encoding.
const ChequeSize = 8 + 3*21 + 32 + 65

// MarshalBinary encodes the cheque in ChequeSize bytes: chain id (8,
// big-endian) ‖ token ‖ payer ‖ beneficiary (21 each) ‖ cumulative (32,
// big-endian) ‖ signature (65), then, for a vault cheque only, the vault
// (21).
func (c Cheque) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, ChequeSize)
	b = binary.BigEndian.AppendUint64(b, c.ChainID)
	b = append(b, c.Token[:]...)
	b = append(b, c.Payer[:]...)
	b = append(b, c.Beneficiary[:]...)
	cum := c.Cumulative.Bytes32()
	b = append(b, cum[:]...)
	b = append(b, c.Signature[:]...)
	if !c.Vault.IsZero() {
		b = append(b, c.Vault[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes MarshalBinary's encoding.
func (c *Cheque) UnmarshalBinary(b []byte) error {
	if len(b) != ChequeSize && len(b) != ChequeSize+21 {
		return fmt.Errorf("cheque is %d bytes, want %d (or %d with a vault)", len(b), ChequeSize, ChequeSize+21)
	}
	var d Cheque
	d.ChainID = binary.BigEndian.Uint64(b)
	b = b[8:]
	copy(d.Token[:], b[:21])
	copy(d.Payer[:], b[21:42])
	copy(d.Beneficiary[:], b[42:63])
	d.Cumulative, _ = AmountFromBytes(b[63:95])
	copy(d.Signature[:], b[95:160])
	if len(b) > 160 { // the vault trailer
		copy(d.Vault[:], b[160:])
		if d.Vault[0] != AddressPrefix {
			return fmt.Errorf("cheque vault %s lacks the 0x41 prefix: %w", d.Vault.Hex(), ErrBadAddress)
		}
	}
	*c = d
	return nil
}
