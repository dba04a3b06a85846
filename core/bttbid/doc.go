// Package bttbid is the wire codec of btt_bid, bidtorrent's BEP 10
// extension for buying and selling upload bandwidth (docs/PROTOCOL.md).
//
// It turns the eight message types of protocol version 1 and the five
// of version 2 (tips, licences, pledges: commerce.go) into typed Go
// values and back, and builds the byte strings the TIP-191 signatures
// (HELLO, RECEIPT, licence presentation) cover. It does no I/O, no cryptography and keeps no state:
// the engine (core) moves payloads on the wire and the wallet signs and
// verifies. Decoding is strict and bounded: any payload gives either a
// message or an *Error whose Code answers it in an ERROR message, and
// never a panic.
//
// Amounts are wallet.Amount (uint256 base units); prices are base units
// per MiB (2^20 bytes); addresses are 21-byte TRON addresses (0x41…).
package bttbid
