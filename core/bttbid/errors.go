package bttbid

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Code is a btt_bid error code: the `code` of an ERROR message, and the
// Code of every *Error the codec returns. The table is in docs/PROTOCOL.md
// §9; codes are never reused for another meaning.
type Code int64

// Error codes of protocol versions 1 and 2.
const (
	// Protocol and codec errors.
	CodeMalformed          Code = 100 // not a strict bencoded dict
	CodeTooLarge           Code = 101 // payload above MaxMessageSize
	CodeInvalidField       Code = 102 // field missing, of the wrong type, or out of range
	CodeUnexpected         Code = 103 // message not allowed in the connection's state
	CodeRateLimited        Code = 104 // too many messages
	CodeUnsupportedVersion Code = 105 // no common protocol version
	// CodeUnknownType is what Decode reports for a message whose type it
	// does not know. It is never sent: receivers ignore such messages
	// silently, so later versions can add types.
	CodeUnknownType Code = 106

	// Identity (HELLO) errors.
	CodeBadSignature Code = 200 // HELLO signature does not recover the claimed address
	CodeWrongChain   Code = 201 // chain id differs from ours
	CodeWrongToken   Code = 202 // token differs from ours
	CodeStaleHello   Code = 203 // HELLO timestamp too far from our clock

	// Market errors.
	CodeNotSelling Code = 300 // BID sent to a peer that sent no ASK

	// Payment errors.
	CodeBadCheque       Code = 400 // cheque signature invalid or not by the payer
	CodeMisaddressed    Code = 401 // cheque payer, beneficiary, token or chain wrong
	CodeStaleCheque     Code = 402 // cumulative payout not above the accepted total
	CodeExcessiveCheque Code = 403 // payout above owed plus credit
	CodeCreditExceeded  Code = 404 // debt reached the credit limit: paid service suspended
	CodeBadPiece        Code = 405 // a piece from this seller failed its hash check
	CodeBadAward        Code = 406 // AWARD price above our bid, or AWARD without a bid

	// Payment errors of version 2 (406 is taken by bad_award).
	CodeUnderpaid  Code = 407 // TIP pays less than its amount, the price or the pledge
	CodeNotPayee   Code = 408 // purchase or pledge sent to a peer that is not the torrent's payee
	CodeBadLicense Code = 409 // licence presentation invalid

	// CodeInternal reports a failure on the sender's side.
	CodeInternal Code = 500
)

var codeNames = map[Code]string{
	CodeMalformed:          "malformed",
	CodeTooLarge:           "too_large",
	CodeInvalidField:       "invalid_field",
	CodeUnexpected:         "unexpected",
	CodeRateLimited:        "rate_limited",
	CodeUnsupportedVersion: "unsupported_version",
	CodeUnknownType:        "unknown_type",
	CodeBadSignature:       "bad_signature",
	CodeWrongChain:         "wrong_chain",
	CodeWrongToken:         "wrong_token",
	CodeStaleHello:         "stale_hello",
	CodeNotSelling:         "not_selling",
	CodeBadCheque:          "bad_cheque",
	CodeMisaddressed:       "misaddressed",
	CodeStaleCheque:        "stale_cheque",
	CodeExcessiveCheque:    "excessive_cheque",
	CodeCreditExceeded:     "credit_exceeded",
	CodeBadPiece:           "bad_piece",
	CodeBadAward:           "bad_award",
	CodeUnderpaid:          "underpaid",
	CodeNotPayee:           "not_payee",
	CodeBadLicense:         "bad_license",
	CodeBadTransfer:        "bad_transfer",
	CodeInternal:           "internal",
}

// String returns the code's name from the protocol table, or its number
// for a code this version does not know.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "code " + strconv.FormatInt(int64(c), 10)
}

// Disables reports whether an ERROR with this code is, by default, sent
// with the disable flag: the sender stops speaking btt_bid on the
// connection, which stays an ordinary BitTorrent connection.
func (c Code) Disables() bool {
	switch c {
	case CodeMalformed, CodeTooLarge, CodeInvalidField, CodeUnexpected, CodeUnsupportedVersion,
		CodeBadSignature, CodeWrongChain, CodeWrongToken, CodeStaleHello,
		CodeBadCheque, CodeMisaddressed, CodeBadPiece, CodeBadAward:
		return true
	}
	return false
}

// Error is what Encode and Decode return for a message they cannot
// handle. Code says which ERROR code answers it; Field names the offending
// key when there is one.
type Error struct {
	Code   Code
	Field  string // bencode key, empty when the whole message is at fault
	Reason string
}

func (e *Error) Error() string {
	s := "btt_bid " + e.Code.String()
	if e.Field != "" {
		s += " in field " + strconv.Quote(e.Field)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// ErrorMessage returns the ERROR message that answers e, with the
// disable flag set as Code.Disables says.
func (e *Error) ErrorMessage() *ErrorMsg {
	return &ErrorMsg{Code: e.Code, Text: truncateText(e.Error()), Disable: e.Code.Disables()}
}

func fieldErr(code Code, field, reason string) *Error {
	return &Error{Code: code, Field: field, Reason: reason}
}

// truncateText makes s valid UTF-8 of at most MaxErrorText bytes, cutting
// at a rune boundary.
func truncateText(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= MaxErrorText {
		return s
	}
	n := MaxErrorText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
