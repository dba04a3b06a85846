package wallet

import "fmt"

// Vault cheques. A cheque cashed at a payer's cheque vault (contracts/,
// ChequeVault) is the same Cheque, signed over the TIP-712 domain
// EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
// with name "BTTCheque", version "1", the chain id and the vault's
// address: a signature for one vault is worthless at any other, and a
// plain cheque (Cheque.Digest, domain without the vault) is not a vault
// cheque.

var vaultDomainTypeHash = keccak([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))

// VaultDomainSeparator returns the TIP-712 domain separator of vault's
// cheques on chainID.
func VaultDomainSeparator(chainID uint64, vault Address) [32]byte {
	id, v := uint64Word(chainID), addressWord(vault)
	return keccak(vaultDomainTypeHash[:], domainNameHash[:], domainVerHash[:], id[:], v[:])
}

// VaultDigest returns the digest the payer signs for c to be cashed at
// vault.
func (c Cheque) VaultDigest(vault Address) [32]byte {
	d, h := VaultDomainSeparator(c.ChainID, vault), c.StructHash()
	return keccak([]byte{0x19, 0x01}, d[:], h[:])
}

// SignVaultCheque signs a cheque promising beneficiary a cumulative total
// of cumulative base units of token, cashable at vault on chainID.
func SignVaultCheque(k *Key, chainID uint64, vault, token, beneficiary Address, cumulative Amount) (Cheque, error) {
	c := Cheque{ChainID: chainID, Token: token, Payer: k.Address(), Beneficiary: beneficiary, Cumulative: cumulative, Vault: vault}
	if err := c.checkFields(); err != nil {
		return Cheque{}, err
	}
	if vault[0] != AddressPrefix {
		return Cheque{}, fmt.Errorf("vault %s lacks the 0x41 prefix: %w", vault.Hex(), ErrBadAddress)
	}
	sig, err := k.SignHash(c.VaultDigest(vault))
	if err != nil {
		return Cheque{}, fmt.Errorf("cannot sign vault cheque: %w", err)
	}
	c.Signature = sig
	return c, nil
}

// VerifyVault checks that c is its payer's signature for vault (the
// vault makes the same check when it is cashed).
func (c Cheque) VerifyVault(vault Address) error {
	if err := c.checkFields(); err != nil {
		return err
	}
	return checkSigner("vault cheque", "payer", c.Payer, c.VaultDigest(vault), c.Signature)
}

// SignVaultCheque is SignCheque for a cheque cashable at vault (this
// wallet's vault): signed over the vault's domain and recorded (fsynced)
// as issued before it is returned. Settle never pays it by transfer: its
// beneficiary cashes it.
func (w *Wallet) SignVaultCheque(vault, token, beneficiary Address, cumulative Amount, chainID uint64) (Cheque, error) {
	if w.key == nil {
		return Cheque{}, ErrNoKey
	}
	c, err := SignVaultCheque(w.key, chainID, vault, token, beneficiary, cumulative)
	if err != nil {
		return Cheque{}, fmt.Errorf("cannot sign cheque to %s: %w", beneficiary, err)
	}
	if _, err := w.book.record(Issued, beneficiary, c); err != nil {
		return Cheque{}, err
	}
	return c, nil
}
