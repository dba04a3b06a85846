package bttbid

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Messages of protocol version 2: payments beyond bandwidth
// (docs/PROTOCOL.md §16). They are sent only on connections whose HELLOs
// negotiated version 2 or more; a version 1 peer ignores them as unknown
// types.
const (
	TypeTip      Type = "tip"
	TypeLicense  Type = "license"
	TypePledge   Type = "pledge"
	TypeCampaign Type = "campaign"
	TypeFunded   Type = "funded"
)

// Limits of version 2's messages.
const (
	// MaxMemo is the longest TIP memo, in bytes of UTF-8.
	MaxMemo = 140
	// MaxFundedPledges is the most pledges one FUNDED carries: the largest
	// count whose worst case (every amount 32 bytes, every integer 19
	// digits) stays within MaxMessageSize. A proof that needs more pledges
	// spans several FUNDED messages.
	MaxFundedPledges = 11
	// LicenseMaxSkew is how far a licence presentation's or a pledge's
	// timestamp may be from the receiver's clock, either way: HELLO's.
	LicenseMaxSkew = HelloMaxSkew
)

// Purpose is what a TIP pays for: its `for` key.
type Purpose string

// The purposes of a TIP.
const (
	PurposeTip      Purpose = "tip"      // a gift to a peer or a publisher
	PurposePurchase Purpose = "purchase" // the price of a paid torrent, to its payee
	PurposePledge   Purpose = "pledge"   // a pledge of a funded campaign, to its payee
)

func (p Purpose) valid() bool {
	return p == PurposeTip || p == PurposePurchase || p == PurposePledge
}

// Tip is a one-off payment carried by a cumulative cheque: the cheque's
// payout rises by at least Amount, and NoteSig, the payer's TIP-712
// signature of the Tip note (wallet.SignTipNote), says what the payment
// is for. Payer to payee, on version 2 connections.
type Tip struct {
	// Cheque is the cumulative cheque that moves the money, with the
	// CHEQUE keys `chain`, `token`, `payer`, `beneficiary`, `payout`, `sig`.
	Cheque   Cheque
	For      Purpose       // `for`
	Amount   wallet.Amount // `amount`: what this payment is, > 0 and ≤ the payout
	InfoHash [20]byte      // `ih`: the torrent it refers to
	Memo     string        // `memo`: UTF-8, at most MaxMemo bytes, only when For is PurposeTip
	NoteSig  Signature     // `nsig`: the payer's TIP-712 signature of the note
}

// License is a publisher's signed grant that Buyer paid Price for the
// torrent InfoHash (`lsig`: TIP-712 `License`, signed by Payee). The
// payee sends it to the buyer as a grant (Time zero, PresentSig zero);
// the buyer sends it to any seeder of the torrent as a presentation, with
// Time and PresentSig, its TIP-191 signature over
// LicensePresentationBytes, which binds it to that connection.
type License struct {
	InfoHash   [20]byte      // `ih`
	Buyer      Address       // `buyer`
	Payee      Address       // `payee`: the torrent's payee, the signer of Sig
	ChainID    uint64        // `chain`
	Token      Address       // `token`
	Price      wallet.Amount // `price`: the price paid, > 0
	Sig        Signature     // `lsig`
	Time       int64         // `time`: presentation only, Unix seconds
	PresentSig Signature     // `psig`: presentation only
}

// Presentation reports whether l is a presentation (it carries `time`
// and `psig`) rather than a grant.
func (l *License) Presentation() bool { return l.Time != 0 }

// Pledge is a signed promise by Payer to pay Amount to Payee for the
// torrent InfoHash if the campaign (Goal by Deadline) is funded (`sig`:
// TIP-712 `Pledge`). Pledger to publisher; also the elements of FUNDED.
// A later pledge of the same payer for the same torrent replaces it.
type Pledge struct {
	ChainID  uint64        // `chain`
	Token    Address       // `token`
	Payer    Address       // `payer`
	Payee    Address       // `payee`
	InfoHash [20]byte      // `ih`
	Amount   wallet.Amount // `amount`: the total promised, > 0
	Goal     wallet.Amount // `goal`: the torrent's terms, > 0
	Deadline int64         // `deadline`: the torrent's terms, Unix seconds
	Time     int64         // `time`: Unix seconds when signed, ≤ Deadline
	Sig      Signature     // `sig`
}

// Campaign is a publisher's informative progress report on a funded
// torrent. Publisher to peers, after HELLO and after each pledge.
type Campaign struct {
	InfoHash [20]byte      // `ih`
	Goal     wallet.Amount // `goal`: > 0
	Deadline int64         // `deadline`: Unix seconds
	Pledged  wallet.Amount // `pledged`: the sum of the valid pledges held
	Count    uint64        // `count`: how many pledges that is
}

// Funded is the publisher's proof that a campaign reached its goal:
// pledges of distinct payers for InfoHash, each signed by its payer.
// Publisher to pledger. A proof may span several FUNDED messages.
type Funded struct {
	InfoHash [20]byte // `ih`
	Pledges  []Pledge // `pledges`: 1…MaxFundedPledges dicts, without `t`
}

// Type implements Message.
func (*Tip) Type() Type { return TypeTip }

// Type implements Message.
func (*License) Type() Type { return TypeLicense }

// Type implements Message.
func (*Pledge) Type() Type { return TypePledge }

// Type implements Message.
func (*Campaign) Type() Type { return TypeCampaign }

// Type implements Message.
func (*Funded) Type() Type { return TypeFunded }

func (*Tip) isMessage()      {}
func (*License) isMessage()  {}
func (*Pledge) isMessage()   {}
func (*Campaign) isMessage() {}
func (*Funded) isMessage()   {}

// LicensePresentationBytes returns the message a buyer signs with TIP-191
// to present lic on one connection, and the seeder verifies against
// lic.Buyer (docs/PROTOCOL.md §16.8). It binds the torrent, both peer IDs
// (the seller's, i.e. the receiver's, first), the licence's chain, token,
// payee, buyer and price, and the time; same layout as HelloSigningBytes:
//
//	btt_bid license presentation
//	version: 2
//	infohash: <40 hex>
//	seller: <40 hex peer id>
//	buyer: <40 hex peer id>
//	chain: <decimal>
//	token: <42 hex>
//	payee: <42 hex>
//	address: <42 hex, the buyer>
//	price: <decimal base units>
//	time: <decimal Unix seconds>
//
// lic.Sig, lic.Time and lic.PresentSig are not read.
func LicensePresentationBytes(lic *License, infoHash, seller, buyer [20]byte, t int64) []byte {
	return presentationBytes(2, lic, infoHash, seller, buyer, t, nil)
}

// SkewOK reports whether a version 2 timestamp (licence presentation,
// pledge) is within LicenseMaxSkew of now.
func SkewOK(ts int64, now time.Time) bool {
	d := now.Sub(time.Unix(ts, 0))
	return d <= LicenseMaxSkew && d >= -LicenseMaxSkew
}

// encodeCommerce writes the fields of a version 2 message; it does
// nothing for other types (Encode reports those).
func (e *encoder) commerce(m Message) {
	switch m := m.(type) {
	case *Tip:
		if m == nil {
			return
		}
		e.cheque(&m.Cheque)
		if !m.For.valid() {
			e.fail("for", "purpose "+strconv.Quote(string(m.For))+" is not tip, purchase or pledge")
		}
		e.w.bytes("for", []byte(m.For))
		e.positive("amount", m.Amount)
		if m.Amount.Cmp(m.Cheque.Payout) > 0 {
			e.fail("amount", "amount above the cheque's payout")
		}
		e.w.bytes("ih", m.InfoHash[:])
		if m.Memo != "" {
			if m.For != PurposeTip {
				e.fail("memo", "a memo is only allowed with for=tip")
			}
			if len(m.Memo) > MaxMemo || !utf8.ValidString(m.Memo) {
				e.fail("memo", "memo is not UTF-8 of at most 140 bytes")
			}
			e.w.bytes("memo", []byte(m.Memo))
		}
		e.sig("nsig", m.NoteSig, false)
	case *License:
		if m == nil {
			return
		}
		e.w.bytes("ih", m.InfoHash[:])
		e.address("buyer", m.Buyer)
		e.address("payee", m.Payee)
		e.uint("chain", m.ChainID, 1, maxInt)
		e.address("token", m.Token)
		e.positive("price", m.Price)
		e.sig("lsig", m.Sig, false)
		if m.Time != 0 || !m.PresentSig.IsZero() {
			e.int("time", m.Time, 1, maxInt)
			e.sig("psig", m.PresentSig, false)
		}
	case *Pledge:
		if m == nil {
			return
		}
		e.pledge(m)
	case *Campaign:
		if m == nil {
			return
		}
		e.w.bytes("ih", m.InfoHash[:])
		e.positive("goal", m.Goal)
		e.int("deadline", m.Deadline, 1, maxInt)
		e.amount("pledged", m.Pledged)
		e.uint("count", m.Count, 0, maxInt)
	case *Funded:
		if m == nil {
			return
		}
		e.w.bytes("ih", m.InfoHash[:])
		if err := checkPledges(m); err != "" {
			e.fail("pledges", err)
		}
		list := []byte{'l'}
		for i := range m.Pledges {
			var pe encoder
			pe.pledge(&m.Pledges[i])
			if pe.err != nil && e.err == nil {
				e.fail("pledges", "pledge "+strconv.Itoa(i)+": "+pe.err.Error())
			}
			list = append(list, pe.w.encode()...)
		}
		e.w.raw("pledges", append(list, 'e'))
	case *Transfer:
		e.transfer(m)
	}
}

func (e *encoder) cheque(c *Cheque) {
	e.uint("chain", c.ChainID, 1, maxInt)
	e.address("token", c.Token)
	e.address("payer", c.Payer)
	e.address("beneficiary", c.Beneficiary)
	e.amount("payout", c.Payout)
	e.sig("sig", c.Sig, false)
	e.optAddress("vault", c.Vault)
}

func (e *encoder) pledge(p *Pledge) {
	e.uint("chain", p.ChainID, 1, maxInt)
	e.address("token", p.Token)
	e.address("payer", p.Payer)
	e.address("payee", p.Payee)
	e.w.bytes("ih", p.InfoHash[:])
	e.positive("amount", p.Amount)
	e.positive("goal", p.Goal)
	e.int("deadline", p.Deadline, 1, maxInt)
	e.int("time", p.Time, 1, maxInt)
	if p.Time > p.Deadline {
		e.fail("time", "pledge signed after its deadline")
	}
	e.sig("sig", p.Sig, false)
}

func (e *encoder) positive(key string, a wallet.Amount) {
	if a.IsZero() {
		e.fail(key, "zero amount")
	}
	e.amount(key, a)
}

// checkPledges checks what a FUNDED's pledges must share: the count, the
// torrent, and distinct payers.
func checkPledges(f *Funded) string {
	if n := len(f.Pledges); n == 0 || n > MaxFundedPledges {
		return strconv.Itoa(n) + " pledges (want 1…" + strconv.Itoa(MaxFundedPledges) + ")"
	}
	seen := make(map[Address]bool, len(f.Pledges))
	for i, p := range f.Pledges {
		if p.InfoHash != f.InfoHash {
			return "pledge " + strconv.Itoa(i) + " is for another torrent"
		}
		if seen[p.Payer] {
			return "pledge " + strconv.Itoa(i) + " repeats a payer"
		}
		seen[p.Payer] = true
	}
	return ""
}

// raw adds a value that is already bencoded.
func (w *dictWriter) raw(key string, v []byte) {
	w.keys = append(w.keys, key)
	w.vals = append(w.vals, v)
}

// commerce decodes a version 2 message of type t; ok is false for a type
// it does not know.
func (d *decoder) commerce(t Type) (m Message, ok bool) {
	switch t {
	case TypeTip:
		tp := &Tip{Cheque: d.cheque()}
		tp.For = Purpose(d.str("for", 16))
		if d.err == nil && !tp.For.valid() {
			d.fail("for", "purpose "+strconv.Quote(string(tp.For))+" is not tip, purchase or pledge")
		}
		tp.Amount = d.positive("amount")
		if d.err == nil && tp.Amount.Cmp(tp.Cheque.Payout) > 0 {
			d.fail("amount", "amount above the cheque's payout")
		}
		tp.InfoHash = d.infoHash("ih")
		if _, ok := d.lookup("memo"); ok {
			tp.Memo = d.str("memo", MaxMemo)
			if d.err == nil && tp.For != PurposeTip {
				d.fail("memo", "a memo is only allowed with for=tip")
			}
		}
		tp.NoteSig = d.sig("nsig", false)
		return tp, true
	case TypeLicense:
		l := &License{
			InfoHash: d.infoHash("ih"),
			Buyer:    d.address("buyer"),
			Payee:    d.address("payee"),
			ChainID:  d.uint("chain", 1, maxInt),
			Token:    d.address("token"),
			Price:    d.positive("price"),
			Sig:      d.sig("lsig", false),
		}
		_, hasTime := d.lookup("time")
		_, hasPsig := d.lookup("psig")
		if hasTime || hasPsig {
			l.Time = int64(d.uint("time", 1, maxInt))
			l.PresentSig = d.sig("psig", false)
		}
		return l, true
	case TypePledge:
		return d.pledge(), true
	case TypeCampaign:
		return &Campaign{
			InfoHash: d.infoHash("ih"),
			Goal:     d.positive("goal"),
			Deadline: int64(d.uint("deadline", 1, maxInt)),
			Pledged:  d.amount("pledged"),
			Count:    d.uint("count", 0, maxInt),
		}, true
	case TypeFunded:
		f := &Funded{InfoHash: d.infoHash("ih")}
		v, ok := d.field("pledges", 'l')
		if !ok {
			return f, true
		}
		if len(v.l) > MaxFundedPledges {
			d.fail("pledges", strconv.Itoa(len(v.l))+" pledges (want 1…"+strconv.Itoa(MaxFundedPledges)+")")
			return f, true
		}
		for i, pv := range v.l {
			if pv.kind != 'd' {
				d.fail("pledges", "pledge "+strconv.Itoa(i)+" is a "+pv.kindName())
				return f, true
			}
			pd := decoder{d: pv.d}
			p := pd.pledge()
			if pd.err != nil {
				d.fail("pledges", "pledge "+strconv.Itoa(i)+": "+pd.err.Error())
				return f, true
			}
			f.Pledges = append(f.Pledges, *p)
		}
		if err := checkPledges(f); err != "" && d.err == nil {
			d.fail("pledges", err)
		}
		return f, true
	case TypeTransfer:
		return d.transfer(), true
	}
	return nil, false
}

func (d *decoder) cheque() Cheque {
	return Cheque{
		ChainID:     d.uint("chain", 1, maxInt),
		Token:       d.address("token"),
		Payer:       d.address("payer"),
		Beneficiary: d.address("beneficiary"),
		Payout:      d.amount("payout"),
		Sig:         d.sig("sig", false),
		Vault:       d.optAddress("vault"),
	}
}

func (d *decoder) pledge() *Pledge {
	p := &Pledge{
		ChainID:  d.uint("chain", 1, maxInt),
		Token:    d.address("token"),
		Payer:    d.address("payer"),
		Payee:    d.address("payee"),
		InfoHash: d.infoHash("ih"),
		Amount:   d.positive("amount"),
		Goal:     d.positive("goal"),
		Deadline: int64(d.uint("deadline", 1, maxInt)),
		Time:     int64(d.uint("time", 1, maxInt)),
		Sig:      d.sig("sig", false),
	}
	if d.err == nil && p.Time > p.Deadline {
		d.fail("time", "pledge signed after its deadline")
	}
	return p
}

func (d *decoder) positive(key string) wallet.Amount {
	a := d.amount(key)
	if d.err == nil && a.IsZero() {
		d.fail(key, "zero amount")
	}
	return a
}

func (d *decoder) infoHash(key string) (ih [20]byte) {
	v, ok := d.field(key, 's')
	if !ok {
		return ih
	}
	if len(v.s) != len(ih) {
		d.fail(key, strconv.Itoa(len(v.s))+"-byte infohash (want 20)")
		return ih
	}
	copy(ih[:], v.s)
	return ih
}

// str reads a required UTF-8 byte string of at most max bytes.
func (d *decoder) str(key string, max int) string {
	v, ok := d.field(key, 's')
	if !ok {
		return ""
	}
	if len(v.s) > max || !utf8.Valid(v.s) {
		d.fail(key, "not UTF-8 of at most "+strconv.Itoa(max)+" bytes")
		return ""
	}
	return string(v.s)
}
