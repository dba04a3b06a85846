package bttbid

import (
	"encoding/hex"
	"strconv"
)

// Version 3 (docs/PROTOCOL.md §18): cheque vaults and connection nonces.
// A HELLO of version 3 or more carries a fresh random Nonce, and may name
// the sender's cheque vault; a CHEQUE (or a TIP's cheque) may name the
// vault it is cashable at. These are optional keys: a version 2 peer
// ignores them, and they are sent only where the spec says.

// NonceSize is the length of a HELLO nonce.
const NonceSize = 16

// Nonce is a HELLO's `nonce`: 16 random bytes the sender draws for one
// connection. The peer signs it into whatever could be replayed on
// another connection (a licence presentation, AUTH).
type Nonce [NonceSize]byte

// IsZero reports whether n is absent.
func (n Nonce) IsZero() bool { return n == Nonce{} }

// String returns the 32 lower-case hex digits signing strings use.
func (n Nonce) String() string { return hex.EncodeToString(n[:]) }

// IsZero reports whether a is absent (all zero).
func (a Address) IsZero() bool { return a == Address{} }

// TypeAuth is version 3's AUTH: the proof that the sender of a HELLO holds
// its key on this connection, a TIP-191 signature over the other side's
// nonce (AuthSigningBytes).
const TypeAuth Type = "auth"

// Auth is sent by each side of a version 3 connection right after it
// verified the peer's HELLO. Until the peer's AUTH is verified, a HELLO
// proves nothing: it could be a copy of one sent on another connection.
type Auth struct {
	Sig Signature // `sig`: TIP-191 by the HELLO's `addr` over AuthSigningBytes
}

// Type implements Message.
func (*Auth) Type() Type { return TypeAuth }
func (*Auth) isMessage() {}

// AuthSigningBytes returns the message an AUTH signs (TIP-191):
//
//	btt_bid AUTH
//	version: 3
//	infohash: <40 hex>
//	sender: <40 hex peer id>
//	receiver: <40 hex peer id>
//	address: <42 hex, the sender's HELLO addr>
//	nonce: <32 hex: the receiver's HELLO nonce>
func AuthSigningBytes(infoHash, sender, receiver [20]byte, addr Address, receiverNonce Nonce) []byte {
	b := make([]byte, 0, 256)
	b = append(b, ExtensionName+" AUTH\n"...)
	b = line(b, "version", "3")
	b = line(b, "infohash", hex.EncodeToString(infoHash[:]))
	b = line(b, "sender", hex.EncodeToString(sender[:]))
	b = line(b, "receiver", hex.EncodeToString(receiver[:]))
	b = line(b, "address", addr.String())
	b = line(b, "nonce", receiverNonce.String())
	return b
}

// LicensePresentationBytesV3 is LicensePresentationBytes for a version 3
// connection: "version: 3" and, after the buyer's peer ID, the line
// "nonce: <32 hex>" with the seller's HELLO nonce on this connection, so
// a presentation seen on one connection is refused on every other.
func LicensePresentationBytesV3(lic *License, infoHash, seller, buyer [20]byte, t int64, sellerNonce Nonce) []byte {
	return presentationBytes(3, lic, infoHash, seller, buyer, t, &sellerNonce)
}

func presentationBytes(v int, lic *License, infoHash, seller, buyer [20]byte, t int64, nonce *Nonce) []byte {
	b := make([]byte, 0, 448)
	b = append(b, ExtensionName+" license presentation\n"...)
	b = line(b, "version", strconv.Itoa(v))
	b = line(b, "infohash", hex.EncodeToString(infoHash[:]))
	b = line(b, "seller", hex.EncodeToString(seller[:]))
	b = line(b, "buyer", hex.EncodeToString(buyer[:]))
	if nonce != nil {
		b = line(b, "nonce", nonce.String())
	}
	b = line(b, "chain", strconv.FormatUint(lic.ChainID, 10))
	b = line(b, "token", lic.Token.String())
	b = line(b, "payee", lic.Payee.String())
	b = line(b, "address", lic.Buyer.String())
	b = line(b, "price", lic.Price.String())
	b = line(b, "time", strconv.FormatInt(t, 10))
	return b
}

// optAddress writes an optional address (absent when zero).
func (e *encoder) optAddress(key string, a Address) {
	if !a.IsZero() {
		e.address(key, a)
	}
}

// optAddress reads an optional address (zero when absent).
func (d *decoder) optAddress(key string) Address {
	if _, ok := d.lookup(key); !ok {
		return Address{}
	}
	return d.address(key)
}

func (e *encoder) nonce(key string, n Nonce) {
	if !n.IsZero() {
		e.w.bytes(key, n[:])
	}
}

// optNonce reads an optional nonce: exactly NonceSize bytes, not all zero.
func (d *decoder) optNonce(key string) Nonce {
	var n Nonce
	v, ok := d.lookup(key)
	if !ok {
		return n
	}
	if v.kind != 's' || len(v.s) != NonceSize {
		d.fail(key, "not a 16-byte string")
		return n
	}
	copy(n[:], v.s)
	if n.IsZero() {
		d.fail(key, "all zero")
	}
	return n
}
