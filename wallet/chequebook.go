package wallet

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

// Direction says whether we wrote a cheque or were paid with it.
type Direction uint8

// Directions of a cheque book entry.
const (
	Issued   Direction = 1 // we are the payer
	Received Direction = 2 // we are the beneficiary
)

// String returns "issued" or "received".
func (d Direction) String() string {
	switch d {
	case Issued:
		return "issued"
	case Received:
		return "received"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Record is the cheque book's entry for one (direction, chain, token,
// counterparty): the highest cheque seen and what has been settled of it.
type Record struct {
	Direction    Direction
	Counterparty Address // the beneficiary of issued cheques, the payer of received ones
	Cheque       Cheque  // the highest cumulative cheque
	Settled      Amount  // cumulative amount settled on chain so far
	// Bounced is, for a received vault cheque, what the last cash at the
	// payer's vault left unpaid for want of balance (the vault's
	// bounced[beneficiary]; cashable after a deposit): never more than
	// Unsettled, zero once a later cash pays the rest.
	Bounced Amount
	Pending *Pending // a settlement transfer broadcast but not yet known to be confirmed, or nil
	Updated time.Time
}

// Pending is a settlement transfer whose outcome is not yet recorded. It
// is written (fsynced) before the transfer is broadcast, so a crash
// between paying and recording can never make Settle pay twice: the next
// Settle looks the transaction up first.
type Pending struct {
	TxID    string    // hex transaction id
	Target  Amount    // the settled total once it is confirmed
	Expires time.Time // after this, a transaction not on chain never will be
}

// Unsettled returns what the cheque promises beyond what was settled.
func (r Record) Unsettled() Amount { return r.Cheque.Cumulative.SubFloor(r.Settled) }

// ChequeBook is the persistent record of the highest cumulative cheque
// issued to and received from each counterparty, and of what has been
// settled. It is a bbolt file opened per operation (see OpenChequeBook),
// so the engine and CLI processes can share it (within a process, reads
// share the handle of a write in progress rather than wait for it). Every update is one
// fsynced transaction: when a Record… method returns nil, the cheque
// survives a crash or power loss.
//
// A ChequeBook is safe for concurrent use; bbolt's file lock serialises
// writers, across processes too.
type ChequeBook struct {
	path        string
	lockTimeout time.Duration
}

var bucketCheques = []byte("cheques")

// OpenChequeBook opens (creating if needed) the cheque book at path.
// lockTimeout bounds how long an operation waits for another process
// holding the file (zero means 5s).
func OpenChequeBook(path string, lockTimeout time.Duration) (*ChequeBook, error) {
	b := &ChequeBook{path: path, lockTimeout: lockTimeout}
	err := boltfile.Update(path, lockTimeout, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketCheques)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open cheque book: %w", err)
	}
	return b, nil
}

// Path returns the file's path.
func (b *ChequeBook) Path() string { return b.path }

// RecordIssued stores c, a cheque we signed, as the highest issued to its
// beneficiary. It returns the increase over the previous highest. A lower
// cumulative than recorded is ErrStale; the same cumulative is a no-op
// (zero increase).
func (b *ChequeBook) RecordIssued(c Cheque) (Amount, error) {
	if err := c.Verify(); err != nil {
		return Amount{}, fmt.Errorf("cannot record issued cheque: %w", err)
	}
	return b.record(Issued, c.Beneficiary, c)
}

// RecordReceived stores c, a cheque paid to us, as the highest received
// from its payer, and returns the increase (see RecordIssued). The
// signature is verified first; the write is fsynced before it returns,
// so a RECEIPT may be sent as soon as it does.
func (b *ChequeBook) RecordReceived(c Cheque) (Amount, error) {
	if err := c.Verify(); err != nil {
		return Amount{}, fmt.Errorf("cannot record received cheque: %w", err)
	}
	return b.record(Received, c.Payer, c)
}

// record stores a cheque whose signature the caller has verified.
func (b *ChequeBook) record(dir Direction, counterparty Address, c Cheque) (Amount, error) {
	var delta Amount
	err := boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		var err error
		delta, err = recordTx(tx, dir, counterparty, c)
		return err
	})
	if err != nil {
		return Amount{}, fmt.Errorf("cannot record %s cheque for %s: %w", dir, counterparty, err)
	}
	return delta, nil
}

// recordTx is record's body inside the caller's transaction: it stores c
// as the highest cheque of its pair and returns the increase (zero for
// the same cumulative, ErrStale for a lower one).
func recordTx(tx *bolt.Tx, dir Direction, counterparty Address, c Cheque) (Amount, error) {
	key := recordKey(dir, c.ChainID, c.Token, counterparty)
	bk, err := tx.CreateBucketIfNotExists(bucketCheques)
	if err != nil {
		return Amount{}, err
	}
	r := Record{Direction: dir, Counterparty: counterparty}
	if v := bk.Get(key); v != nil {
		if r, err = decodeRecord(key, v); err != nil {
			return Amount{}, err
		}
		switch r.Cheque.Cumulative.Cmp(c.Cumulative) {
		case 0:
			return Amount{}, nil
		case 1:
			return Amount{}, fmt.Errorf("cumulative %s is below the recorded %s: %w", c.Cumulative, r.Cheque.Cumulative, ErrStale)
		}
	}
	delta := c.Cumulative.SubFloor(r.Cheque.Cumulative)
	r.Cheque, r.Updated = c, time.Now()
	if dir == Received && c.Vault.IsZero() {
		// Transfers the payer made before this cheque arrived (§11.2).
		if t := transferredTx(tx, key).Min(c.Cumulative); t.Cmp(r.Settled) > 0 {
			r.Settled = t
		}
	}
	return delta, bk.Put(key, encodeRecord(r))
}

// Incoming is one received cheque for Wallet.AcceptAll: a bandwidth
// payment (Note nil), or a TIP's cheque and the note saying what the rise
// pays for (§16).
type Incoming struct {
	Cheque Cheque
	Note   *TipNote
}

// Accepted is what Wallet.AcceptAll made of one Incoming.
type Accepted struct {
	Inc    Amount // the increase over the payer's previous cheque
	Repeat bool   // its cumulative was recorded already: nothing new stored
	Err    error  // why it was refused; nothing of it was stored
}

// incoming is an Incoming checked by the wallet: its cheque verified and
// its note turned into the payment it records (nil: bandwidth).
type incoming struct {
	c Cheque
	p *Payment
}

// receiveAll records received cheques (and the payments they carry), in
// order, in one fsynced transaction. An item that fails its checks, or
// was refused before (err set), stores nothing and reports why; the
// others are stored. A cheque whose cumulative is the recorded one is a
// Repeat (its payment is not recorded again). A returned error means the
// transaction failed and nothing was stored.
func (b *ChequeBook) receiveAll(items []incoming, res []Accepted) error {
	err := boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		for i, it := range items {
			if res[i].Err != nil {
				continue
			}
			r, err := receiveTx(tx, it.c, it.p)
			if err != nil {
				return err
			}
			res[i] = r
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot record %d received cheques: %w", len(items), err)
	}
	return nil
}

// receiveTx records one received cheque c, and p when it carries a
// payment, in the caller's transaction. A refusal (stale, underpaid) is
// reported in the Accepted with nothing written; an error fails the
// transaction.
func receiveTx(tx *bolt.Tx, c Cheque, p *Payment) (Accepted, error) {
	key := recordKey(Received, c.ChainID, c.Token, c.Payer)
	var prev Amount
	if bk := tx.Bucket(bucketCheques); bk != nil {
		if v := bk.Get(key); v != nil {
			r, err := decodeRecord(key, v)
			if err != nil {
				return Accepted{}, err
			}
			prev = r.Cheque.Cumulative
		}
	}
	switch prev.Cmp(c.Cumulative) {
	case 0:
		if !prev.IsZero() {
			return Accepted{Repeat: true}, nil
		}
	case 1:
		return Accepted{Err: fmt.Errorf("cumulative %s is below the recorded %s: %w", c.Cumulative, prev, ErrStale)}, nil
	}
	if p != nil {
		if delta := c.Cumulative.SubFloor(prev); delta.Cmp(p.Amount) < 0 {
			return Accepted{Err: fmt.Errorf("the cheque adds %s to the recorded cumulative, the %s is %s: %w", delta, p.For, p.Amount, ErrUnderpaid)}, nil
		}
	}
	inc, err := recordTx(tx, Received, c.Payer, c)
	if err != nil {
		return Accepted{}, err
	}
	if p != nil {
		if err := putPaymentTx(tx, c, *p); err != nil {
			return Accepted{}, err
		}
	}
	return Accepted{Inc: inc}, nil
}

// Highest returns the record for (dir, chainID, token, counterparty) and
// whether there is one.
func (b *ChequeBook) Highest(dir Direction, chainID uint64, token, counterparty Address) (Record, bool, error) {
	var r Record
	key := recordKey(dir, chainID, token, counterparty)
	ok, err := b.get(bucketCheques, key, func(v []byte) (err error) {
		r, err = decodeRecord(key, v)
		return err
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("cannot read cheque book: %w", err)
	}
	return r, ok, nil
}

// Records returns every record, issued first, in key order.
func (b *ChequeBook) Records() ([]Record, error) {
	var out []Record
	err := b.view(bucketCheques, nil, func(k, v []byte) error {
		r, err := decodeRecord(k, v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read cheque book: %w", err)
	}
	return out, nil
}

// raiseSettled raises the record's settled total to settled (never more
// than its cheque; a lower value is ignored) and ends a pending transfer
// that settled reaches.
func (r *Record) raiseSettled(settled Amount) error {
	if settled.Cmp(r.Cheque.Cumulative) > 0 {
		return fmt.Errorf("settled %s exceeds the cheque's %s", settled, r.Cheque.Cumulative)
	}
	if r.Pending != nil && settled.Cmp(r.Pending.Target) >= 0 {
		r.Pending = nil
	}
	if settled.Cmp(r.Settled) > 0 {
		r.Settled = settled
	}
	r.Bounced = r.Bounced.Min(r.Unsettled())
	return nil
}

// SetCashed records a confirmed cash, txid, of the pair's received vault
// cheque in one fsynced transaction: the settled total rises to settled
// (as SetSettled), the bounced amount becomes what the cash left unpaid
// (at most the unsettled rest; zero when the cash paid everything owed),
// and the pending cash txid, if recorded, ends.
func (b *ChequeBook) SetCashed(chainID uint64, token, counterparty Address, settled, bounced Amount, txid string) error {
	err := b.updateRecord(Received, chainID, token, counterparty, func(r *Record) error {
		if r.Cheque.Vault.IsZero() {
			return fmt.Errorf("the cheque of %s is not a vault cheque", counterparty)
		}
		if err := r.raiseSettled(settled.Min(r.Cheque.Cumulative)); err != nil {
			return err
		}
		r.Bounced = bounced.Min(r.Unsettled())
		if r.Pending != nil && r.Pending.TxID == txid {
			r.Pending = nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot record the cash at %s's vault: %w", counterparty, err)
	}
	return nil
}

// SetSettled records that settled (a cumulative total, never more than
// the recorded cheque) has been settled for the record's pair. Settled
// amounts only grow: a lower value is ignored.
func (b *ChequeBook) SetSettled(dir Direction, chainID uint64, token, counterparty Address, settled Amount) error {
	err := b.updateRecord(dir, chainID, token, counterparty, func(r *Record) error {
		return r.raiseSettled(settled)
	})
	if err != nil {
		return fmt.Errorf("cannot record settlement with %s: %w", counterparty, err)
	}
	return nil
}

// BeginPending claims the pair's settlement for the transfer p, about to
// be broadcast: in one write transaction (so across goroutines and
// processes sharing the file) it checks that no other settlement is
// pending and that the settled total is still settled (what the caller
// computed its transfer from), then records p, fsynced. Otherwise it
// changes nothing and returns ErrPending: another settlement is in
// progress or has just been made, and the caller must not broadcast.
func (b *ChequeBook) BeginPending(dir Direction, chainID uint64, token, counterparty Address, settled Amount, p Pending) error {
	err := b.updateRecord(dir, chainID, token, counterparty, func(r *Record) error {
		if _, err := hex.DecodeString(p.TxID); err != nil || len(p.TxID) != 64 {
			return fmt.Errorf("transaction id %q is not 32 bytes of hex", p.TxID)
		}
		if r.Pending != nil {
			return fmt.Errorf("transaction %s is pending: %w", r.Pending.TxID, ErrPending)
		}
		if r.Settled.Cmp(settled) != 0 {
			return fmt.Errorf("settled total moved from %s to %s meanwhile: %w", settled, r.Settled, ErrPending)
		}
		if p.Target.Cmp(r.Settled) <= 0 || p.Target.Cmp(r.Cheque.Cumulative) > 0 {
			return fmt.Errorf("target %s is not between the settled %s and the cheque's %s", p.Target, r.Settled, r.Cheque.Cumulative)
		}
		r.Pending = &p
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot record pending settlement with %s: %w", counterparty, err)
	}
	return nil
}

// EndPending clears the pending settlement txid of the pair (it failed or
// expired unseen); a pending settlement with another id is left alone.
func (b *ChequeBook) EndPending(dir Direction, chainID uint64, token, counterparty Address, txid string) error {
	err := b.updateRecord(dir, chainID, token, counterparty, func(r *Record) error {
		if r.Pending != nil && r.Pending.TxID == txid {
			r.Pending = nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot clear pending settlement with %s: %w", counterparty, err)
	}
	return nil
}

// updateRecord changes the existing record of the pair with fn and stores
// it, stamped, in one fsynced transaction; fn's error aborts it.
func (b *ChequeBook) updateRecord(dir Direction, chainID uint64, token, counterparty Address, fn func(*Record) error) error {
	key := recordKey(dir, chainID, token, counterparty)
	return boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketCheques)
		if err != nil {
			return err
		}
		v := bk.Get(key)
		if v == nil {
			return fmt.Errorf("no %s cheque recorded", dir)
		}
		r, err := decodeRecord(key, v)
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		r.Updated = time.Now()
		return bk.Put(key, encodeRecord(r))
	})
}

// Check verifies the file's integrity (bbolt page consistency, every
// record, payment, licence and pledge decodable, every signature valid).
func (b *ChequeBook) Check() error {
	if err := boltfile.Check(b.path, b.lockTimeout); err != nil {
		return err
	}
	rs, err := b.Records()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := r.Cheque.Verify(); err != nil {
			return fmt.Errorf("cheque book %s holds a bad cheque: %w", b.path, err)
		}
	}
	return b.checkCommerce()
}

// Key layout: direction (1) ‖ chain id (8) ‖ token (21) ‖ counterparty (21).
func recordKey(dir Direction, chainID uint64, token, counterparty Address) []byte {
	k := make([]byte, 0, 51)
	k = append(k, byte(dir))
	k = binary.BigEndian.AppendUint64(k, chainID)
	k = append(k, token[:]...)
	return append(k, counterparty[:]...)
}

// Value layout: cheque (ChequeSize) ‖ settled (32) ‖ updated unix ns (8),
// then, only while a settlement is pending: txid (32) ‖ target (32) ‖
// expires unix ns (8), then, only for a vault cheque: the vault (21),
// then, only for a vault cheque with a bounced amount: bounced (32).
// Files written before the bounced amount existed hold no such field:
// it reads as zero.
const (
	recordSize  = ChequeSize + 32 + 8
	pendingSize = 32 + 32 + 8
)

func encodeRecord(r Record) []byte {
	v, _ := r.Cheque.MarshalBinary()
	vault := v[ChequeSize:] // a vault cheque's vault goes last
	v = v[:ChequeSize:ChequeSize]
	s := r.Settled.Bytes32()
	v = append(v, s[:]...)
	v = binary.BigEndian.AppendUint64(v, uint64(r.Updated.UnixNano()))
	if p := r.Pending; p != nil {
		id, _ := hex.DecodeString(p.TxID)
		t := p.Target.Bytes32()
		v = append(append(v, id...), t[:]...)
		v = binary.BigEndian.AppendUint64(v, uint64(p.Expires.UnixNano()))
	}
	v = append(v, vault...)
	if len(vault) != 0 && !r.Bounced.IsZero() {
		b := r.Bounced.Bytes32()
		v = append(v, b[:]...)
	}
	return v
}

func decodeRecord(k, v []byte) (Record, error) {
	if n := len(v); n == recordSize+21+32 || n == recordSize+pendingSize+21+32 {
		r, err := decodeRecord(k, v[:n-32])
		if err != nil {
			return r, err
		}
		r.Bounced, _ = AmountFromBytes(v[n-32:])
		return r, nil
	}
	if n := len(v); n == recordSize+21 || n == recordSize+pendingSize+21 {
		r, err := decodeRecord(k, v[:n-21])
		if err != nil {
			return r, err
		}
		copy(r.Cheque.Vault[:], v[n-21:])
		if r.Cheque.Vault[0] != AddressPrefix {
			return Record{}, fmt.Errorf("cheque book entry names a bad vault %s", r.Cheque.Vault.Hex())
		}
		return r, nil
	}
	if len(v) == recordSize+pendingSize {
		r, err := decodeRecord(k, v[:recordSize])
		if err != nil {
			return r, err
		}
		p := v[recordSize:]
		r.Pending = &Pending{TxID: hex.EncodeToString(p[:32]), Expires: time.Unix(0, int64(binary.BigEndian.Uint64(p[64:])))}
		r.Pending.Target, _ = AmountFromBytes(p[32:64])
		return r, nil
	}
	if len(k) != 51 || len(v) != recordSize {
		return Record{}, fmt.Errorf("cheque book entry has a bad size (%d, %d)", len(k), len(v))
	}
	var r Record
	r.Direction = Direction(k[0])
	copy(r.Counterparty[:], k[30:])
	if err := r.Cheque.UnmarshalBinary(v[:ChequeSize]); err != nil {
		return Record{}, err
	}
	r.Settled, _ = AmountFromBytes(v[ChequeSize : ChequeSize+32])
	r.Updated = time.Unix(0, int64(binary.BigEndian.Uint64(v[ChequeSize+32:])))
	return r, nil
}
