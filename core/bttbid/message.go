package bttbid

import (
	"encoding/hex"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Protocol constants (docs/PROTOCOL.md).
const (
	// ExtensionName is the key in the BEP 10 `m` dictionary.
	ExtensionName = "btt_bid"
	// Version is the highest protocol version this package speaks (HELLO
	// `v`); it speaks every version from 1 up to it.
	Version = 3
	// MaxMessageSize is the largest payload (the bencoded dict, without the
	// BEP 10 header) a peer may send or must accept.
	MaxMessageSize = 4096
	// MaxAmountBytes is the longest amount: a uint256.
	MaxAmountBytes = 32
	// MaxErrorText is the longest ERROR text, in bytes of UTF-8.
	MaxErrorText = 256
	// MaxCreditBytes bounds the credit terms of an ASK (1 TiB).
	MaxCreditBytes = 1 << 40
	// MiB is the unit prices are quoted in: base units per 2^20 bytes.
	MiB = 1 << 20
)

// Round lengths a seller may announce in an ASK.
const (
	DefaultRound = 10 * time.Second
	MinRound     = time.Second
	MaxRound     = 10 * time.Minute
)

// HelloMaxSkew is how far a HELLO's timestamp may be from the receiver's
// clock, either way.
const HelloMaxSkew = 10 * time.Minute

// Chain ids: the TIP-712 chainId of the cheque domain and the `chain` of
// HELLO and CHEQUE. The TRON ids are the low 32 bits of each network's
// genesis block hash. ChainLocal, the embedded local ledger, is ours
// (ASCII "bttl"); it must equal wallet.ChainIDLocal.
const (
	ChainMainnet uint64 = 728126428
	ChainNile    uint64 = 3448148188
	ChainShasta  uint64 = 2494104990
	ChainLocal   uint64 = 1651799148
)

// Type is a message's `t` key.
type Type string

// Message types of version 1.
const (
	TypeHello   Type = "hello"
	TypeAsk     Type = "ask"
	TypeBid     Type = "bid"
	TypeAward   Type = "award"
	TypeOutbid  Type = "outbid"
	TypeCheque  Type = "cheque"
	TypeReceipt Type = "receipt"
	TypeError   Type = "error"
)

// Message is one btt_bid message: *Hello, *Ask, *Bid, *Award, *Outbid,
// *Cheque, *Receipt or *ErrorMsg of version 1, or *Tip, *License,
// *Pledge, *Campaign or *Funded of version 2 (commerce.go).
type Message interface {
	// Type returns the message's `t` key.
	Type() Type
	isMessage()
}

// AddressSize is the length of a TRON address: 0x41 then 20 bytes.
const AddressSize = 21

// Address is a TRON address in its 21-byte form (0x41 followed by the
// 20-byte account id). The codec only accepts addresses with the 0x41
// prefix; the zero value is not a valid address.
type Address [AddressSize]byte

// Valid reports whether a has the 0x41 prefix.
func (a Address) Valid() bool { return a[0] == 0x41 }

// String returns the 42 lower-case hex digits ("41…"), the form HELLO and
// RECEIPT signing strings use.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// AddressFromBytes checks b is 21 bytes starting with 0x41.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if len(b) != AddressSize {
		return a, &Error{Code: CodeInvalidField, Reason: "address is not 21 bytes"}
	}
	copy(a[:], b)
	if !a.Valid() {
		return Address{}, &Error{Code: CodeInvalidField, Reason: "address does not start with 0x41"}
	}
	return a, nil
}

// SignatureSize is the length of a secp256k1 signature r‖s‖v.
const SignatureSize = 65

// Signature is a 65-byte secp256k1 signature r‖s‖v with v 27 or 28. The
// codec checks the length and v; the wallet checks the rest (low s,
// recovery).
type Signature [SignatureSize]byte

// IsZero reports whether s is all zero (absent).
func (s Signature) IsZero() bool { return s == Signature{} }

// Hello is the first message each side sends: who it is on which chain and
// token, signed (TIP-191) over HelloSigningBytes to bind it to this
// connection. Both directions.
type Hello struct {
	Version uint32  // `v`: highest protocol version the sender speaks, 1…65535
	ChainID uint64  // `chain`
	Token   Address // `token`: TRC-20 contract of the token it pays and accepts
	Address Address // `addr`: the sender's wallet (payer or beneficiary)
	Time    int64   // `ts`: Unix seconds when signed
	Sig     Signature
	// Nonce is `nonce` (version 3): fresh random bytes for this
	// connection, which the peer signs into AUTH and licence
	// presentations; zero = absent (a version 1 or 2 sender).
	Nonce Nonce
	// Vault is `vault` (version 3, optional): the sender's cheque vault,
	// where its cheques to the peer are cashable; zero = none.
	Vault Address
}

// Ask states a seller's reserve price and credit terms. Seller to buyer,
// after HELLO and whenever the terms change.
type Ask struct {
	Price       wallet.Amount // `price`: reserve, base units per MiB
	RoundLength time.Duration // `round`, in ms on the wire: MinRound…MaxRound
	Credit      uint64        // `credit`: initial credit in bytes of paid service, 1…MaxCreditBytes
	Cap         uint64        // `cap`: maximum credit in bytes, Credit…MaxCreditBytes
	Slots       uint32        // `slots`: paid slots per round; 0 = not stated (omitted)
}

// Bid is a buyer's maximum price for paid service. Buyer to seller. A zero
// Price withdraws the bid.
type Bid struct {
	Seq   uint64        // `seq`: strictly increasing per connection, from 1
	Price wallet.Amount // `price`: base units per MiB
}

// Award grants paid service from this point of the stream until the next
// AWARD, OUTBID or ERROR credit_exceeded. Seller to buyer.
type Award struct {
	Round  uint64        // `r`: the seller's round number
	Seq    uint64        // `seq`: the BID it answers
	Price  wallet.Amount // `price`: clearing price per MiB, never above the bid
	Credit wallet.Amount // `credit`: credit limit in base units now in force
}

// Outbid tells a bidder it has no paid service this round and the price
// to beat. It ends any award in force. Seller to buyer.
type Outbid struct {
	Round uint64        // `r`
	Seq   uint64        // `seq`: the BID it answers
	Price wallet.Amount // `price`: the round's clearing price per MiB
}

// Cheque is a signed cumulative payout from Payer to Beneficiary (TIP-712
// `Cheque`, docs/PROTOCOL.md §7.2; verified per §8.4). Buyer to seller.
type Cheque struct {
	ChainID     uint64        // `chain`
	Token       Address       // `token`
	Payer       Address       // `payer`
	Beneficiary Address       // `beneficiary`
	Payout      wallet.Amount // `payout`: cumulative, all time, for this payer→beneficiary pair
	Sig         Signature     // `sig`
	// Vault is `vault` (version 3, optional): the payer's cheque vault
	// whose TIP-712 domain Sig is in (PROTOCOL.md §11.1); zero = a plain
	// cheque.
	Vault Address
}

// Receipt is the seller's accepted cumulative payout from this buyer, and
// its view of what is owed. Seller to buyer, after each valid CHEQUE and
// after HELLO when it holds cheques from the buyer.
type Receipt struct {
	Payout wallet.Amount // `payout`: highest accepted cumulative payout
	Owed   wallet.Amount // `owed`: the seller's cumulative owed amount
	// Credit is `credit`, optional: the account's credit now, in base
	// units at the price of the epoch in force (it grows with each
	// accepted cheque); zero = not stated.
	Credit wallet.Amount
	Sig    Signature // `sig`: optional TIP-191 countersignature; zero = none
}

// ErrorMsg is the ERROR message. Both directions.
type ErrorMsg struct {
	Code    Code   // `code`: 1…65535, table in docs/PROTOCOL.md
	Text    string // `msg`: UTF-8, at most MaxErrorText bytes; optional
	Disable bool   // `disable`: the sender stops speaking btt_bid on this connection
}

// Type implements Message.
func (*Hello) Type() Type { return TypeHello }

// Type implements Message.
func (*Ask) Type() Type { return TypeAsk }

// Type implements Message.
func (*Bid) Type() Type { return TypeBid }

// Type implements Message.
func (*Award) Type() Type { return TypeAward }

// Type implements Message.
func (*Outbid) Type() Type { return TypeOutbid }

// Type implements Message.
func (*Cheque) Type() Type { return TypeCheque }

// Type implements Message.
func (*Receipt) Type() Type { return TypeReceipt }

// Type implements Message.
func (*ErrorMsg) Type() Type { return TypeError }

func (*Hello) isMessage()    {}
func (*Ask) isMessage()      {}
func (*Bid) isMessage()      {}
func (*Award) isMessage()    {}
func (*Outbid) isMessage()   {}
func (*Cheque) isMessage()   {}
func (*Receipt) isMessage()  {}
func (*ErrorMsg) isMessage() {}
