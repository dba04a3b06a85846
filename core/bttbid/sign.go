package bttbid

import (
	"encoding/hex"
	"strconv"
)

// HelloSigningBytes returns the message a HELLO's sender signs with
// TIP-191 (TronWeb signMessageV2: keccak256 of "\x19TRON Signed
// Message:\n" + decimal length + message), and the receiver verifies
// against h.Address. It binds the extension name, the sender's version,
// the torrent, both peer IDs of this connection (sender first, as each
// side saw them in the BitTorrent handshake), the chain, token, address
// and timestamp. It is ASCII, one "key: value" per line, each line ending
// in "\n" (docs/PROTOCOL.md §7.1):
//
//	btt_bid HELLO
//	version: 1
//	infohash: <40 hex>
//	sender: <40 hex peer id>
//	receiver: <40 hex peer id>
//	chain: <decimal>
//	token: <42 hex, 41…>
//	address: <42 hex, 41…>
//	time: <decimal Unix seconds>
//
// Hex is lower case; numbers have no leading zeros. h.Sig is not part of it.
func HelloSigningBytes(h *Hello, infoHash, sender, receiver [20]byte) []byte {
	b := make([]byte, 0, 320)
	b = append(b, ExtensionName+" HELLO\n"...)
	b = line(b, "version", strconv.FormatUint(uint64(h.Version), 10))
	b = line(b, "infohash", hex.EncodeToString(infoHash[:]))
	b = line(b, "sender", hex.EncodeToString(sender[:]))
	b = line(b, "receiver", hex.EncodeToString(receiver[:]))
	b = line(b, "chain", strconv.FormatUint(h.ChainID, 10))
	b = line(b, "token", h.Token.String())
	b = line(b, "address", h.Address.String())
	b = line(b, "time", strconv.FormatInt(h.Time, 10))
	return b
}

// Account identifies a cheque account: cumulative payouts, owed amounts
// and credit are counted per payer→beneficiary pair on one chain and
// token, across all torrents and connections between them.
type Account struct {
	ChainID     uint64
	Token       Address
	Payer       Address
	Beneficiary Address
}

// Account returns the account the cheque pays into.
func (c *Cheque) Account() Account {
	return Account{ChainID: c.ChainID, Token: c.Token, Payer: c.Payer, Beneficiary: c.Beneficiary}
}

// ReceiptSigningBytes returns the message a seller signs with TIP-191 to
// countersign a RECEIPT for the account (docs/PROTOCOL.md §7.3); the
// signer is the account's beneficiary. Same layout as HelloSigningBytes:
//
//	btt_bid RECEIPT
//	version: 1
//	chain: <decimal>
//	token: <42 hex>
//	payer: <42 hex>
//	beneficiary: <42 hex>
//	payout: <decimal base units>
//	owed: <decimal base units>
func ReceiptSigningBytes(a Account, r *Receipt) []byte {
	b := make([]byte, 0, 320)
	b = append(b, ExtensionName+" RECEIPT\n"...)
	b = line(b, "version", "1") // the string of §7.3, unchanged by version 2
	b = line(b, "chain", strconv.FormatUint(a.ChainID, 10))
	b = line(b, "token", a.Token.String())
	b = line(b, "payer", a.Payer.String())
	b = line(b, "beneficiary", a.Beneficiary.String())
	b = line(b, "payout", r.Payout.String())
	b = line(b, "owed", r.Owed.String())
	return b
}

func line(b []byte, key, val string) []byte {
	b = append(b, key...)
	b = append(b, ": "...)
	b = append(b, val...)
	return append(b, '\n')
}
