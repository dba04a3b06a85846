package wallet

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Purposes of a payment (the `for` key of a btt_bid `tip` message and
// the purpose field of its TipNote).
const (
	ForTip      = "tip"
	ForPurchase = "purchase"
	ForPledge   = "pledge"
)

// MaxMemo is the longest memo a payment may carry, in bytes of UTF-8.
const MaxMemo = 140

var (
	tipTypeHash     = keccak([]byte("Tip(address token,address payer,address beneficiary,uint256 cumulative,uint256 amount,bytes32 infohash,string purpose,string memo)"))
	licenseTypeHash = keccak([]byte("License(address token,address payee,address buyer,bytes32 infohash,uint256 price)"))
	pledgeTypeHash  = keccak([]byte("Pledge(address token,address payer,address payee,bytes32 infohash,uint256 amount,uint256 goal,uint64 deadline,uint64 time)"))
)

// TipNote is the payer's signed statement of what one payment is: Amount
// of the cumulative cheque Cumulative (Payer → Beneficiary) pays for
// Purpose (ForTip, ForPurchase or ForPledge) regarding the torrent
// InfoHash, with an optional Memo (tips only). It travels with the cheque
// in a `tip` message; see docs/PROTOCOL.md.
//
// It is signed as TIP-712
// Tip(address token,address payer,address beneficiary,uint256 cumulative,uint256 amount,bytes32 infohash,string purpose,string memo)
// in the cheque domain of ChainID (see ChequeDomainSeparator).
type TipNote struct {
	ChainID     uint64
	Token       Address
	Payer       Address
	Beneficiary Address
	Cumulative  Amount
	Amount      Amount
	InfoHash    [20]byte
	Purpose     string
	Memo        string
	Signature   Signature
}

// StructHash returns the TIP-712 hashStruct of the note.
func (n TipNote) StructHash() [32]byte {
	tok, pay, ben := addressWord(n.Token), addressWord(n.Payer), addressWord(n.Beneficiary)
	cum, amt := n.Cumulative.Bytes32(), n.Amount.Bytes32()
	ih := infoHashWord(n.InfoHash)
	pur, memo := keccak([]byte(n.Purpose)), keccak([]byte(n.Memo))
	return keccak(tipTypeHash[:], tok[:], pay[:], ben[:], cum[:], amt[:], ih[:], pur[:], memo[:])
}

// Digest returns the TIP-712 digest that is signed.
func (n TipNote) Digest() [32]byte { return typedDigest(n.ChainID, n.StructHash()) }

// SignTipNote fills in the payer (the key's address) and signs the note of
// a payment of amount, part of the cumulative cheque to beneficiary.
func SignTipNote(k *Key, chainID uint64, token, beneficiary Address, cumulative, amount Amount, infoHash [20]byte, purpose, memo string) (TipNote, error) {
	n := TipNote{ChainID: chainID, Token: token, Payer: k.Address(), Beneficiary: beneficiary,
		Cumulative: cumulative, Amount: amount, InfoHash: infoHash, Purpose: purpose, Memo: memo}
	return signInto(k, "payment note", &n, &n.Signature)
}

// Verify checks the note is well formed (see SignTipNote's rules: a known
// purpose, 0 < amount ≤ cumulative, a memo of at most MaxMemo bytes of
// UTF-8 and only on a tip) and that its signature (low s, v ∈ {27, 28})
// recovers Payer. It does not compare it with a cheque: see VerifyTipNote.
func (n TipNote) Verify() error {
	return verifyFields(n, "payment note", "payer", n.Payer, n.Signature)
}

// VerifyTipNote checks n (Verify) and that it describes cheque c: same
// chain, token, payer, beneficiary and cumulative. A note for another
// cheque is ErrBadSignature, like a forged one.
func VerifyTipNote(c Cheque, n TipNote) error {
	if err := n.Verify(); err != nil {
		return err
	}
	switch {
	case n.ChainID != c.ChainID, n.Token != c.Token, n.Payer != c.Payer, n.Beneficiary != c.Beneficiary:
		return fmt.Errorf("payment note names another account than its cheque: %w", ErrBadSignature)
	case n.Cumulative.Cmp(c.Cumulative) != 0:
		return fmt.Errorf("payment note is for cumulative %s, the cheque is for %s: %w", n.Cumulative, c.Cumulative, ErrBadSignature)
	}
	return nil
}

func (n TipNote) checkFields() error {
	if err := checkParties("payment note", n.Token, namedAddress{"payer", n.Payer}, namedAddress{"beneficiary", n.Beneficiary}); err != nil {
		return err
	}
	if n.Amount.Cmp(n.Cumulative) > 0 {
		return fmt.Errorf("payment note amount %s exceeds its cumulative %s", n.Amount, n.Cumulative)
	}
	return checkPayment(n.Purpose, n.Amount, n.Memo)
}

// checkPayment checks what a payment is for, its amount and its memo.
func checkPayment(purpose string, amount Amount, memo string) error {
	switch purpose {
	case ForTip, ForPurchase, ForPledge:
	default:
		return fmt.Errorf("payment purpose %q is not %q, %q or %q", purpose, ForTip, ForPurchase, ForPledge)
	}
	if amount.IsZero() {
		return fmt.Errorf("%s of zero", purpose)
	}
	if len(memo) > MaxMemo {
		return fmt.Errorf("memo is %d bytes, at most %d allowed", len(memo), MaxMemo)
	}
	if !utf8.ValidString(memo) {
		return fmt.Errorf("memo is not valid UTF-8")
	}
	if memo != "" && purpose != ForTip {
		return fmt.Errorf("a %s carries no memo", purpose)
	}
	return nil
}

// License is a payee's signed grant: Buyer paid Price (base units of
// Token on ChainID) for the torrent InfoHash and may fetch it from any of
// Payee's seeders. It is signed by Payee as TIP-712
// License(address token,address payee,address buyer,bytes32 infohash,uint256 price)
// in the cheque domain of ChainID.
type License struct {
	ChainID   uint64
	Token     Address
	Payee     Address
	Buyer     Address
	InfoHash  [20]byte
	Price     Amount
	Signature Signature
}

// StructHash returns the TIP-712 hashStruct of the licence.
func (l License) StructHash() [32]byte {
	tok, pay, buy := addressWord(l.Token), addressWord(l.Payee), addressWord(l.Buyer)
	ih, price := infoHashWord(l.InfoHash), l.Price.Bytes32()
	return keccak(licenseTypeHash[:], tok[:], pay[:], buy[:], ih[:], price[:])
}

// Digest returns the TIP-712 digest that is signed.
func (l License) Digest() [32]byte { return typedDigest(l.ChainID, l.StructHash()) }

// SignLicense fills in the payee (the key's address) and signs a licence
// for buyer to the torrent infoHash, bought for price.
func SignLicense(k *Key, chainID uint64, token, buyer Address, infoHash [20]byte, price Amount) (License, error) {
	l := License{ChainID: chainID, Token: token, Payee: k.Address(), Buyer: buyer, InfoHash: infoHash, Price: price}
	return signInto(k, "licence", &l, &l.Signature)
}

// Verify checks the licence's addresses and that its signature (low s,
// v ∈ {27, 28}) recovers Payee. Whether Payee, chain, token and price
// match a torrent's terms is the caller's check.
func (l License) Verify() error {
	return verifyFields(l, "licence", "payee", l.Payee, l.Signature)
}

func (l License) checkFields() error {
	return checkParties("licence", l.Token, namedAddress{"payee", l.Payee}, namedAddress{"buyer", l.Buyer})
}

// Pledge is a crowdfunding promise: Payer will pay Amount (its total for
// this torrent) to Payee for the torrent InfoHash once pledges reach Goal
// by Deadline (unix seconds). Time (unix seconds) orders a payer's
// pledges: a later one replaces an earlier one. It is signed by Payer as
// TIP-712
// Pledge(address token,address payer,address payee,bytes32 infohash,uint256 amount,uint256 goal,uint64 deadline,uint64 time)
// in the cheque domain of ChainID.
type Pledge struct {
	ChainID   uint64
	Token     Address
	Payer     Address
	Payee     Address
	InfoHash  [20]byte
	Amount    Amount
	Goal      Amount
	Deadline  uint64
	Time      uint64
	Signature Signature
}

// StructHash returns the TIP-712 hashStruct of the pledge.
func (p Pledge) StructHash() [32]byte {
	tok, pay, pee := addressWord(p.Token), addressWord(p.Payer), addressWord(p.Payee)
	ih, amt, goal := infoHashWord(p.InfoHash), p.Amount.Bytes32(), p.Goal.Bytes32()
	dl, at := uint64Word(p.Deadline), uint64Word(p.Time)
	return keccak(pledgeTypeHash[:], tok[:], pay[:], pee[:], ih[:], amt[:], goal[:], dl[:], at[:])
}

// Digest returns the TIP-712 digest that is signed.
func (p Pledge) Digest() [32]byte { return typedDigest(p.ChainID, p.StructHash()) }

// SignPledge fills in the payer (the key's address) and signs a pledge of
// amount to payee for infoHash towards goal by deadline, made at time at
// (both unix seconds).
func SignPledge(k *Key, chainID uint64, token, payee Address, infoHash [20]byte, amount, goal Amount, deadline, at uint64) (Pledge, error) {
	p := Pledge{ChainID: chainID, Token: token, Payer: k.Address(), Payee: payee, InfoHash: infoHash,
		Amount: amount, Goal: goal, Deadline: deadline, Time: at}
	return signInto(k, "pledge", &p, &p.Signature)
}

// Verify checks the pledge is well formed (amount and goal above zero,
// made no later than its deadline) and that its signature (low s,
// v ∈ {27, 28}) recovers Payer. Terms, clock skew and the deadline
// against the present are the caller's checks.
func (p Pledge) Verify() error {
	return verifyFields(p, "pledge", "payer", p.Payer, p.Signature)
}

func (p Pledge) checkFields() error {
	if err := checkParties("pledge", p.Token, namedAddress{"payer", p.Payer}, namedAddress{"payee", p.Payee}); err != nil {
		return err
	}
	switch {
	case p.Amount.IsZero():
		return fmt.Errorf("pledge of zero")
	case p.Goal.IsZero():
		return fmt.Errorf("pledge towards a goal of zero")
	case p.Time > p.Deadline:
		return fmt.Errorf("pledge made at %d, after its deadline %d", p.Time, p.Deadline)
	}
	return nil
}

// infoHashWord encodes an infohash as TIP-712 bytes32: the 20 bytes, then
// 12 zero bytes.
func infoHashWord(ih [20]byte) [32]byte {
	var w [32]byte
	copy(w[:], ih[:])
	return w
}

// uint64Word encodes a uint64 as a TIP-712 word (big-endian, left-padded).
func uint64Word(v uint64) [32]byte {
	var w [32]byte
	binary.BigEndian.PutUint64(w[24:], v)
	return w
}
