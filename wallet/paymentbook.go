package wallet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

// Payment is one tip, purchase or pledge payment made or received: Amount
// of the cumulative cheque Cumulative exchanged with Counterparty (the
// beneficiary of an issued payment, the payer of a received one), for
// For (ForTip, ForPurchase or ForPledge) regarding the torrent InfoHash.
type Payment struct {
	Direction    Direction
	For          string
	Counterparty Address
	InfoHash     [20]byte
	Amount       Amount
	Memo         string
	Time         time.Time
	Cumulative   Amount
}

var (
	bucketPayments   = []byte("payments")
	bucketLicenses   = []byte("licenses")
	bucketPledges    = []byte("pledges")
	bucketPledgePaid = []byte("pledgepaid")
)

// AcceptPayment records c, a cheque paid to us, exactly as RecordReceived
// does (same checks and errors: ErrBadSignature, ErrStale), and p, the
// payment it carries, in one fsynced transaction: either both are stored
// or neither. The cheque must raise the recorded cumulative by at least
// p.Amount, else ErrUnderpaid and nothing is stored (a repeated cheque
// pays nothing new). p's zero Direction, Counterparty, Cumulative and
// Time are filled in from c and the clock; set ones must match c. A
// pledge payment also adds to PledgePaid. It returns the increase.
func (b *ChequeBook) AcceptPayment(c Cheque, p Payment) (inc Amount, err error) {
	if err := c.Verify(); err != nil {
		return Amount{}, fmt.Errorf("cannot record received payment: %w", err)
	}
	return b.recordPayment(Received, c.Payer, c, p)
}

// RecordIssuedPayment records c, a cheque we signed, as RecordIssued does,
// and p, the payment it carries, in one fsynced transaction, with the
// rules of AcceptPayment (c must exceed the highest issued cheque to its
// beneficiary by at least p.Amount, else ErrUnderpaid). It returns the
// increase.
func (b *ChequeBook) RecordIssuedPayment(c Cheque, p Payment) (Amount, error) {
	if err := c.Verify(); err != nil {
		return Amount{}, fmt.Errorf("cannot record issued payment: %w", err)
	}
	return b.recordPayment(Issued, c.Beneficiary, c, p)
}

func (b *ChequeBook) recordPayment(dir Direction, counterparty Address, c Cheque, p Payment) (Amount, error) {
	if err := fillPayment(dir, counterparty, c, &p); err != nil {
		return Amount{}, fmt.Errorf("cannot record %s payment with %s: %w", dir, counterparty, err)
	}
	var delta Amount
	err := boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		var err error
		if delta, err = recordTx(tx, dir, counterparty, c); err != nil {
			return err
		}
		if delta.Cmp(p.Amount) < 0 {
			return fmt.Errorf("the cheque adds %s to the recorded cumulative, the %s is %s: %w", delta, p.For, p.Amount, ErrUnderpaid)
		}
		return putPaymentTx(tx, c, p)
	})
	if err != nil {
		return Amount{}, fmt.Errorf("cannot record %s payment with %s: %w", dir, counterparty, err)
	}
	return delta, nil
}

// putPaymentTx stores p, the payment cheque c carries, inside the
// caller's transaction (and adds a pledge payment to PledgePaid).
func putPaymentTx(tx *bolt.Tx, c Cheque, p Payment) error {
	bk, err := tx.CreateBucketIfNotExists(bucketPayments)
	if err != nil {
		return err
	}
	seq, err := bk.NextSequence()
	if err != nil {
		return err
	}
	key := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(p.Time.UnixNano())), seq)
	if err := bk.Put(key, encodePayment(p)); err != nil {
		return err
	}
	if p.For == ForPledge {
		return addPledgePaid(tx, p.InfoHash, c.Payer, c.Beneficiary, p.Amount)
	}
	return nil
}

// fillPayment completes p from its cheque and checks it.
func fillPayment(dir Direction, counterparty Address, c Cheque, p *Payment) error {
	if p.Direction == 0 {
		p.Direction = dir
	}
	if p.Counterparty.IsZero() {
		p.Counterparty = counterparty
	}
	if p.Cumulative.IsZero() {
		p.Cumulative = c.Cumulative
	}
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	switch {
	case p.Direction != dir:
		return fmt.Errorf("payment is marked %s, the cheque is %s", p.Direction, dir)
	case p.Counterparty != counterparty:
		return fmt.Errorf("payment names counterparty %s, the cheque %s", p.Counterparty, counterparty)
	case p.Cumulative.Cmp(c.Cumulative) != 0:
		return fmt.Errorf("payment names cumulative %s, the cheque %s", p.Cumulative, c.Cumulative)
	}
	return checkPayment(p.For, p.Amount, p.Memo)
}

// Payments returns every payment recorded, oldest first.
func (b *ChequeBook) Payments() ([]Payment, error) {
	ps, err := readAll(b, bucketPayments, nil, decodePayment)
	if err != nil {
		return nil, fmt.Errorf("cannot read payments: %w", err)
	}
	return ps, nil
}

// SaveLicense stores l (fsynced) after verifying its signature. It is
// keyed by (infohash, buyer, payee): saving the same licence again is a
// no-op, another one for the same key replaces it.
func (b *ChequeBook) SaveLicense(l License) error {
	if err := l.Verify(); err != nil {
		return fmt.Errorf("cannot save licence: %w", err)
	}
	if err := b.put(bucketLicenses, licenseKey(l.InfoHash, l.Buyer, l.Payee), encodeLicense(l), nil); err != nil {
		return fmt.Errorf("cannot save licence of %s from %s: %w", l.Buyer, l.Payee, err)
	}
	return nil
}

// Licenses returns every stored licence, by infohash, buyer, payee.
func (b *ChequeBook) Licenses() ([]License, error) {
	ls, err := readAll(b, bucketLicenses, nil, decodeLicense)
	if err != nil {
		return nil, fmt.Errorf("cannot read licences: %w", err)
	}
	return ls, nil
}

// LicenseFor returns buyer's licence from payee for the torrent ih, and
// whether there is one.
func (b *ChequeBook) LicenseFor(ih [20]byte, buyer, payee Address) (License, bool, error) {
	var l License
	ok, err := b.get(bucketLicenses, licenseKey(ih, buyer, payee), func(v []byte) (err error) {
		l, err = decodeLicense(v)
		return err
	})
	if err != nil {
		return License{}, false, fmt.Errorf("cannot read licences: %w", err)
	}
	return l, ok, nil
}

// SavePledge stores p (fsynced) after verifying its signature, keyed by
// (infohash, payer, payee): a later pledge (higher Time) replaces the
// stored one, the same pledge again is a no-op, and an earlier one, or
// another one made at the same second, is refused with ErrSuperseded.
func (b *ChequeBook) SavePledge(p Pledge) error {
	if err := p.Verify(); err != nil {
		return fmt.Errorf("cannot save pledge: %w", err)
	}
	err := b.put(bucketPledges, pledgeKey(p.InfoHash, p.Payer, p.Payee), encodePledge(p), func(old []byte) error {
		e, err := decodePledge(old)
		if err != nil {
			return err
		}
		if e.Time >= p.Time {
			return fmt.Errorf("a pledge made at %d is stored, this one is from %d: %w", e.Time, p.Time, ErrSuperseded)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot save pledge of %s to %s: %w", p.Payer, p.Payee, err)
	}
	return nil
}

// Pledges returns the stored pledges for the torrent ih, by payer, payee.
func (b *ChequeBook) Pledges(ih [20]byte) ([]Pledge, error) {
	ps, err := readAll(b, bucketPledges, ih[:], decodePledge)
	if err != nil {
		return nil, fmt.Errorf("cannot read pledges: %w", err)
	}
	return ps, nil
}

// PledgePaid returns the total of the pledge payments (For == ForPledge)
// recorded from payer to payee for the torrent ih, in either direction:
// zero when none was made. A pledger checks it so it never pays twice.
func (b *ChequeBook) PledgePaid(ih [20]byte, payer, payee Address) (Amount, error) {
	var paid Amount
	_, err := b.get(bucketPledgePaid, pledgeKey(ih, payer, payee), func(v []byte) (err error) {
		paid, err = AmountFromBytes(v)
		return err
	})
	if err != nil {
		return Amount{}, fmt.Errorf("cannot read pledge payments: %w", err)
	}
	return paid, nil
}

func addPledgePaid(tx *bolt.Tx, ih [20]byte, payer, payee Address, amount Amount) error {
	bk, err := tx.CreateBucketIfNotExists(bucketPledgePaid)
	if err != nil {
		return err
	}
	key := pledgeKey(ih, payer, payee)
	var paid Amount
	if v := bk.Get(key); v != nil {
		if paid, err = AmountFromBytes(v); err != nil {
			return err
		}
	}
	if paid, err = paid.Add(amount); err != nil {
		return err
	}
	v := paid.Bytes32()
	return bk.Put(key, v[:])
}

// put stores v at key in bucket, in one fsynced transaction. When the
// same bytes are stored it is a no-op; other stored bytes are replaced,
// unless refuse (when not nil) returns an error for them.
func (b *ChequeBook) put(bucket, key, v []byte, refuse func(old []byte) error) error {
	return boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		old := bk.Get(key)
		if bytes.Equal(old, v) {
			return nil
		}
		if old != nil && refuse != nil {
			if err := refuse(old); err != nil {
				return err
			}
		}
		return bk.Put(key, v)
	})
}

// view calls fn, in key order, for every entry of bucket whose key starts
// with prefix. A missing file or bucket has no entries.
func (b *ChequeBook) view(bucket, prefix []byte, fn func(k, v []byte) error) error {
	err := boltfile.View(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// get calls fn with the value of key in bucket, if there is one, and
// reports whether there was. A missing file or bucket holds nothing.
func (b *ChequeBook) get(bucket, key []byte, fn func(v []byte) error) (bool, error) {
	found := false
	err := boltfile.View(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		v := bk.Get(key)
		if v == nil {
			return nil
		}
		found = true
		return fn(v)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return found && err == nil, err
}

// readAll decodes, in key order, every entry of bucket whose key starts
// with prefix.
func readAll[T any](b *ChequeBook, bucket, prefix []byte, decode func(v []byte) (T, error)) ([]T, error) {
	var out []T
	err := b.view(bucket, prefix, func(_, v []byte) error {
		x, err := decode(v)
		if err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkCommerce verifies every payment decodes and every licence and
// pledge carries a valid signature (part of Check).
func (b *ChequeBook) checkCommerce() error {
	if _, err := b.Payments(); err != nil {
		return err
	}
	ls, err := b.Licenses()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := l.Verify(); err != nil {
			return fmt.Errorf("cheque book %s holds a bad licence: %w", b.path, err)
		}
	}
	ps, err := readAll(b, bucketPledges, nil, decodePledge)
	if err != nil {
		return fmt.Errorf("cannot read pledges: %w", err)
	}
	for _, p := range ps {
		if err := p.Verify(); err != nil {
			return fmt.Errorf("cheque book %s holds a bad pledge: %w", b.path, err)
		}
	}
	return nil
}

// Key layouts: licences infohash (20) ‖ buyer (21) ‖ payee (21); pledges
// and pledge payments infohash (20) ‖ payer (21) ‖ payee (21); payments
// time unix ns (8) ‖ sequence (8).
func licenseKey(ih [20]byte, buyer, payee Address) []byte {
	return append(append(append(make([]byte, 0, 62), ih[:]...), buyer[:]...), payee[:]...)
}

func pledgeKey(ih [20]byte, payer, payee Address) []byte { return licenseKey(ih, payer, payee) }

// Payment value layout: version 1 (1) ‖ direction (1) ‖ counterparty (21)
// ‖ infohash (20) ‖ amount (32) ‖ cumulative (32) ‖ time unix ns (8) ‖
// len(for) (1) ‖ for ‖ len(memo) (2) ‖ memo.
const paymentFixed = 1 + 1 + 21 + 20 + 32 + 32 + 8

func encodePayment(p Payment) []byte {
	v := make([]byte, 0, paymentFixed+3+len(p.For)+len(p.Memo))
	v = append(v, 1, byte(p.Direction))
	v = append(v, p.Counterparty[:]...)
	v = append(v, p.InfoHash[:]...)
	amt, cum := p.Amount.Bytes32(), p.Cumulative.Bytes32()
	v = append(append(v, amt[:]...), cum[:]...)
	v = binary.BigEndian.AppendUint64(v, uint64(p.Time.UnixNano()))
	v = append(append(v, byte(len(p.For))), p.For...)
	v = binary.BigEndian.AppendUint16(v, uint16(len(p.Memo)))
	return append(v, p.Memo...)
}

func decodePayment(v []byte) (Payment, error) {
	bad := fmt.Errorf("payment entry is malformed (%d bytes)", len(v))
	if len(v) < paymentFixed+3 || v[0] != 1 {
		return Payment{}, bad
	}
	var p Payment
	p.Direction = Direction(v[1])
	copy(p.Counterparty[:], v[2:23])
	copy(p.InfoHash[:], v[23:43])
	p.Amount, _ = AmountFromBytes(v[43:75])
	p.Cumulative, _ = AmountFromBytes(v[75:107])
	p.Time = time.Unix(0, int64(binary.BigEndian.Uint64(v[107:115])))
	rest := v[paymentFixed:]
	n := int(rest[0])
	if len(rest) < 1+n+2 {
		return Payment{}, bad
	}
	p.For, rest = string(rest[1:1+n]), rest[1+n:]
	m := int(binary.BigEndian.Uint16(rest))
	if len(rest) != 2+m {
		return Payment{}, bad
	}
	p.Memo = string(rest[2:])
	return p, nil
}

// Licence and pledge values start alike: chain id (8) ‖ token ‖ two
// parties (21 each) ‖ infohash (20).
const headSize = 8 + 3*21 + 20

func appendHead(v []byte, chainID uint64, token, a, b Address, infoHash [20]byte) []byte {
	v = binary.BigEndian.AppendUint64(v, chainID)
	v = append(append(append(v, token[:]...), a[:]...), b[:]...)
	return append(v, infoHash[:]...)
}

func readHead(v []byte, chainID *uint64, token, a, b *Address, infoHash *[20]byte) {
	*chainID = binary.BigEndian.Uint64(v)
	copy(token[:], v[8:29])
	copy(a[:], v[29:50])
	copy(b[:], v[50:71])
	copy(infoHash[:], v[71:91])
}

// Licence value layout: chain id (8) ‖ token ‖ payee ‖ buyer (21 each) ‖
// infohash (20) ‖ price (32) ‖ signature (65).
const licenseSize = headSize + 32 + 65

func encodeLicense(l License) []byte {
	v := appendHead(make([]byte, 0, licenseSize), l.ChainID, l.Token, l.Payee, l.Buyer, l.InfoHash)
	price := l.Price.Bytes32()
	return append(append(v, price[:]...), l.Signature[:]...)
}

func decodeLicense(v []byte) (License, error) {
	if len(v) != licenseSize {
		return License{}, fmt.Errorf("licence entry is %d bytes, want %d", len(v), licenseSize)
	}
	var l License
	readHead(v, &l.ChainID, &l.Token, &l.Payee, &l.Buyer, &l.InfoHash)
	l.Price, _ = AmountFromBytes(v[91:123])
	copy(l.Signature[:], v[123:])
	return l, nil
}

// Pledge value layout: chain id (8) ‖ token ‖ payer ‖ payee (21 each) ‖
// infohash (20) ‖ amount (32) ‖ goal (32) ‖ deadline (8) ‖ time (8) ‖
// signature (65).
const pledgeSize = headSize + 32 + 32 + 8 + 8 + 65

func encodePledge(p Pledge) []byte {
	v := appendHead(make([]byte, 0, pledgeSize), p.ChainID, p.Token, p.Payer, p.Payee, p.InfoHash)
	amt, goal := p.Amount.Bytes32(), p.Goal.Bytes32()
	v = append(append(v, amt[:]...), goal[:]...)
	v = binary.BigEndian.AppendUint64(v, p.Deadline)
	v = binary.BigEndian.AppendUint64(v, p.Time)
	return append(v, p.Signature[:]...)
}

func decodePledge(v []byte) (Pledge, error) {
	if len(v) != pledgeSize {
		return Pledge{}, fmt.Errorf("pledge entry is %d bytes, want %d", len(v), pledgeSize)
	}
	var p Pledge
	readHead(v, &p.ChainID, &p.Token, &p.Payer, &p.Payee, &p.InfoHash)
	p.Amount, _ = AmountFromBytes(v[91:123])
	p.Goal, _ = AmountFromBytes(v[123:155])
	p.Deadline = binary.BigEndian.Uint64(v[155:163])
	p.Time = binary.BigEndian.Uint64(v[163:171])
	copy(p.Signature[:], v[171:])
	return p, nil
}
