package bttbid

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bidtorrent/bidtorrent/wallet"
)

const maxInt = 1<<63 - 1

// Encode returns the bencoded payload of m (the bytes after the BEP 10
// extended-message id). It checks every field against the limits Decode
// enforces, so whatever Encode returns, Decode accepts; a field out of
// range gives an *Error with CodeInvalidField.
func Encode(m Message) ([]byte, error) {
	var e encoder
	switch m := m.(type) {
	case *Hello:
		if m == nil {
			break
		}
		e.uint("v", uint64(m.Version), 1, 65535)
		e.uint("chain", m.ChainID, 1, maxInt)
		e.address("token", m.Token)
		e.address("addr", m.Address)
		e.int("ts", m.Time, 1, maxInt)
		e.sig("sig", m.Sig, false)
		e.nonce("nonce", m.Nonce)
		e.optAddress("vault", m.Vault)
	case *Ask:
		if m == nil {
			break
		}
		e.amount("price", m.Price)
		if m.RoundLength < MinRound || m.RoundLength > MaxRound {
			e.fail("round", "round length "+m.RoundLength.String()+" outside 1s…10m")
		}
		e.int("round", m.RoundLength.Milliseconds(), 0, maxInt)
		e.uint("credit", m.Credit, 1, MaxCreditBytes)
		e.uint("cap", m.Cap, max(m.Credit, 1), MaxCreditBytes)
		if m.Slots != 0 {
			e.uint("slots", uint64(m.Slots), 0, 65535)
		}
	case *Bid:
		if m == nil {
			break
		}
		e.uint("seq", m.Seq, 1, maxInt)
		e.amount("price", m.Price)
	case *Award:
		if m == nil {
			break
		}
		e.answer(m.Round, m.Seq, m.Price)
		e.amount("credit", m.Credit)
	case *Outbid:
		if m == nil {
			break
		}
		e.answer(m.Round, m.Seq, m.Price)
	case *Cheque:
		if m == nil {
			break
		}
		e.cheque(m) // shared with TIP (commerce.go)
	case *Receipt:
		if m == nil {
			break
		}
		e.amount("payout", m.Payout)
		e.amount("owed", m.Owed)
		if !m.Credit.IsZero() {
			e.amount("credit", m.Credit)
		}
		e.sig("sig", m.Sig, true)
	case *Auth:
		if m == nil {
			break
		}
		e.sig("sig", m.Sig, false)
	case *ErrorMsg:
		if m == nil {
			break
		}
		e.int("code", int64(m.Code), 1, 65535)
		if m.Text != "" {
			if len(m.Text) > MaxErrorText || !utf8.ValidString(m.Text) {
				e.fail("msg", "text is not UTF-8 of at most 256 bytes")
			}
			e.w.bytes("msg", []byte(m.Text))
		}
		if m.Disable {
			e.w.int("disable", 1)
		}
	default:
		e.commerce(m)
	}
	if len(e.w.keys) == 0 && e.err == nil {
		return nil, &Error{Code: CodeInvalidField, Reason: "cannot encode a nil or foreign message"}
	}
	if e.err != nil {
		return nil, e.err
	}
	e.w.bytes("t", []byte(m.Type()))
	b := e.w.encode()
	if len(b) > MaxMessageSize {
		return nil, &Error{Code: CodeTooLarge, Reason: strconv.Itoa(len(b)) + "-byte message"}
	}
	return b, nil
}

// Decode parses one payload. It never panics. Errors are *Error values:
// CodeTooLarge above MaxMessageSize; CodeMalformed for anything but one
// strict bencoded dict (canonical integers, keys sorted and unique, no
// trailing bytes); CodeUnknownType for a well-formed message of a type
// this version does not know, which the caller must ignore silently;
// CodeInvalidField for a missing field, a field of the wrong bencode type,
// or a value out of range. Unknown keys are ignored. The returned message
// does not alias b.
func Decode(b []byte) (Message, error) {
	if len(b) > MaxMessageSize {
		return nil, &Error{Code: CodeTooLarge, Reason: strconv.Itoa(len(b)) + "-byte message"}
	}
	v, err := parseBencode(b)
	if err != nil {
		return nil, err
	}
	if v.kind != 'd' {
		return nil, &Error{Code: CodeMalformed, Reason: "message is a " + v.kindName() + ", not a dict"}
	}
	d := decoder{d: v.d}
	tv, ok := d.lookup("t")
	if !ok || tv.kind != 's' {
		return nil, fieldErr(CodeInvalidField, "t", "missing or not a byte string")
	}
	var m Message
	switch Type(tv.s) {
	case TypeHello:
		m = &Hello{
			Version: uint32(d.uint("v", 1, 65535)),
			ChainID: d.uint("chain", 1, maxInt),
			Token:   d.address("token"),
			Address: d.address("addr"),
			Time:    int64(d.uint("ts", 1, maxInt)),
			Sig:     d.sig("sig", false),
			Nonce:   d.optNonce("nonce"),
			Vault:   d.optAddress("vault"),
		}
	case TypeAsk:
		a := &Ask{
			Price:       d.amount("price"),
			RoundLength: time.Duration(d.uint("round", uint64(MinRound/time.Millisecond), uint64(MaxRound/time.Millisecond))) * time.Millisecond,
			Credit:      d.uint("credit", 1, MaxCreditBytes),
		}
		a.Cap = d.uint("cap", max(a.Credit, 1), MaxCreditBytes)
		if _, ok := d.lookup("slots"); ok {
			a.Slots = uint32(d.uint("slots", 0, 65535))
		}
		m = a
	case TypeBid:
		m = &Bid{Seq: d.uint("seq", 1, maxInt), Price: d.amount("price")}
	case TypeAward:
		r, seq, price := d.answer()
		m = &Award{Round: r, Seq: seq, Price: price, Credit: d.amount("credit")}
	case TypeOutbid:
		r, seq, price := d.answer()
		m = &Outbid{Round: r, Seq: seq, Price: price}
	case TypeCheque:
		c := d.cheque()
		m = &c
	case TypeReceipt:
		m = &Receipt{Payout: d.amount("payout"), Owed: d.amount("owed"), Credit: d.optAmount("credit"), Sig: d.sig("sig", true)}
	case TypeAuth:
		m = &Auth{Sig: d.sig("sig", false)}
	case TypeError:
		em := &ErrorMsg{Code: Code(d.uint("code", 1, 65535))}
		if v, ok := d.lookup("msg"); ok {
			if v.kind != 's' || len(v.s) > MaxErrorText || !utf8.Valid(v.s) {
				d.fail("msg", "not a UTF-8 byte string of at most 256 bytes")
			}
			em.Text = string(v.s)
		}
		if _, ok := d.lookup("disable"); ok {
			em.Disable = d.uint("disable", 0, 1) == 1
		}
		m = em
	default:
		var known bool
		if m, known = d.commerce(Type(tv.s)); !known {
			return nil, fieldErr(CodeUnknownType, "t", "unknown message type "+strconv.Quote(string(tv.s)))
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// decoder reads typed fields from a parsed dict, keeping the first error.
type decoder struct {
	d   []entry
	err error
}

func (d *decoder) fail(key, reason string) {
	if d.err == nil {
		d.err = fieldErr(CodeInvalidField, key, reason)
	}
}

func (d *decoder) lookup(key string) (value, bool) {
	for _, e := range d.d {
		if e.key == key {
			return e.val, true
		}
	}
	return value{}, false
}

// field returns the value of a required key of the given bencode kind.
func (d *decoder) field(key string, kind byte) (value, bool) {
	v, ok := d.lookup(key)
	if !ok {
		d.fail(key, "missing")
		return value{}, false
	}
	if v.kind != kind {
		d.fail(key, "is a "+v.kindName())
		return value{}, false
	}
	return v, true
}

func (d *decoder) uint(key string, lo, hi uint64) uint64 {
	v, ok := d.field(key, 'i')
	if !ok {
		return 0
	}
	if v.i < 0 || uint64(v.i) < lo || uint64(v.i) > hi {
		d.fail(key, strconv.FormatInt(v.i, 10)+" outside "+strconv.FormatUint(lo, 10)+"…"+strconv.FormatUint(hi, 10))
		return 0
	}
	return uint64(v.i)
}

// answer reads the fields AWARD and OUTBID share: the seller's round,
// the BID answered and the price (docs/PROTOCOL.md).
func (d *decoder) answer() (round, seq uint64, price wallet.Amount) {
	round = d.uint("r", 0, maxInt)
	seq = d.uint("seq", 1, maxInt)
	return round, seq, d.amount("price")
}

func (d *decoder) amount(key string) wallet.Amount {
	v, ok := d.field(key, 's')
	if !ok {
		return wallet.Amount{}
	}
	if err := checkAmount(v.s); err != "" {
		d.fail(key, err)
		return wallet.Amount{}
	}
	a, err := wallet.AmountFromBytes(v.s)
	if err != nil {
		d.fail(key, err.Error())
	}
	return a
}

// optAmount is amount for an optional key: zero when it is absent.
func (d *decoder) optAmount(key string) wallet.Amount {
	if _, ok := d.lookup(key); !ok {
		return wallet.Amount{}
	}
	return d.amount(key)
}

func checkAmount(b []byte) string {
	switch {
	case len(b) > MaxAmountBytes:
		return strconv.Itoa(len(b)) + "-byte amount (at most 32)"
	case len(b) > 0 && b[0] == 0:
		return "amount with a leading zero byte"
	}
	return ""
}

func (d *decoder) address(key string) Address {
	v, ok := d.field(key, 's')
	if !ok {
		return Address{}
	}
	a, err := AddressFromBytes(v.s)
	if err != nil {
		d.fail(key, err.(*Error).Reason)
	}
	return a
}

func (d *decoder) sig(key string, optional bool) Signature {
	var s Signature
	if _, ok := d.lookup(key); !ok && optional {
		return s
	}
	v, ok := d.field(key, 's')
	if !ok {
		return s
	}
	if reason := checkSig(v.s); reason != "" {
		d.fail(key, reason)
		return s
	}
	copy(s[:], v.s)
	return s
}

func checkSig(b []byte) string {
	if len(b) != SignatureSize {
		return strconv.Itoa(len(b)) + "-byte signature (want 65)"
	}
	if v := b[64]; v != 27 && v != 28 {
		return "signature v is " + strconv.Itoa(int(v)) + " (want 27 or 28)"
	}
	return ""
}

// encoder writes typed fields into a dict, keeping the first error.
type encoder struct {
	w   dictWriter
	err error
}

func (e *encoder) fail(key, reason string) {
	if e.err == nil {
		e.err = fieldErr(CodeInvalidField, key, reason)
	}
}

func (e *encoder) uint(key string, v, lo, hi uint64) {
	if v < lo || v > hi {
		e.fail(key, strconv.FormatUint(v, 10)+" outside "+strconv.FormatUint(lo, 10)+"…"+strconv.FormatUint(hi, 10))
		return
	}
	e.w.int(key, int64(v))
}

func (e *encoder) int(key string, v, lo, hi int64) {
	if v < lo || v > hi {
		e.fail(key, strconv.FormatInt(v, 10)+" out of range")
		return
	}
	e.w.int(key, v)
}

func (e *encoder) amount(key string, a wallet.Amount) { e.w.bytes(key, a.Bytes()) }

// answer writes the fields AWARD and OUTBID share (decoder.answer).
func (e *encoder) answer(round, seq uint64, price wallet.Amount) {
	e.uint("r", round, 0, maxInt)
	e.uint("seq", seq, 1, maxInt)
	e.amount("price", price)
}

func (e *encoder) address(key string, a Address) {
	if !a.Valid() {
		e.fail(key, "address does not start with 0x41")
		return
	}
	e.w.bytes(key, a[:])
}

func (e *encoder) sig(key string, s Signature, optional bool) {
	if optional && s.IsZero() {
		return
	}
	if reason := checkSig(s[:]); reason != "" {
		e.fail(key, reason)
		return
	}
	e.w.bytes(key, s[:])
}
