package wallet

// Settlement by transfer, seen from both sides (PROTOCOL.md §11.2): on
// TRON without a vault a payer settles its cheques with a TRC-20
// transfer and names the transaction to its payee; the payee checks the
// transfer through its own node and counts it as settled, once.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

// Errors of a transfer a payer names.
var (
	// ErrTxUnknown: the transaction is not (yet) in a block.
	ErrTxUnknown = errors.New("transaction not found on chain")
	// ErrBadTransfer: the transaction failed, or moved nothing of the
	// token from the payer to us.
	ErrBadTransfer = errors.New("not a transfer of the token from the payer to us")
	// ErrTxUsed: the transaction was already counted for another payer.
	ErrTxUsed = errors.New("transaction already counted for another payer")
)

// TransferChecker is implemented by chains where a payer settles by
// transfer (TRON): a payee checks a transfer its payer names.
type TransferChecker interface {
	// Transferred returns what the transaction txid (hex) moved of the
	// chain's token from from to to: the sum of the token contract's
	// Transfer events from from to to, once the transaction is in a
	// block and executed successfully. Not in a block is ErrTxUnknown;
	// failed, or no such event, ErrBadTransfer. It may block on the node
	// for up to its timeouts.
	Transferred(ctx context.Context, txid string, from, to Address) (Amount, error)
}

var (
	// bucketTransfersIn: txid (32) → payer (21) ‖ amount (32), every
	// transfer counted as settled, so none counts twice.
	bucketTransfersIn = []byte("transfers_in")
	// bucketTransferred: recordKey(Received, …) → the payer's counted
	// transfers in total (32).
	bucketTransferred = []byte("transferred")
	// bucketTransfersOut: recordKey(Issued, …) → the ids of our latest
	// settlement transfers to the payee (32 each, newest last).
	bucketTransfersOut = []byte("transfers_out")
)

// keptTransfers is how many of our settlement transfers to each payee
// are kept to name again (after a restart or a lost TRANSFER).
const keptTransfers = 4

// AcceptTransfer counts as settled the transfer txid by which payer says
// it paid us (PROTOCOL.md §11.2). It checks the transfer through our own
// node (TransferChecker: the token's Transfer events from payer to us in
// a successful transaction), then records the transaction as counted and
// raises the payer's settled total, in one fsynced transaction, before
// returning that total (all the payer's counted transfers). A transaction
// counted already for payer returns the total without asking the node; one
// counted for another payer is ErrTxUsed. Chains without transfers to
// check return ErrNotSupported.
func (w *Wallet) AcceptTransfer(ctx context.Context, payer Address, txid [32]byte) (Amount, error) {
	tc, ok := w.chain.(TransferChecker)
	if !ok {
		return Amount{}, fmt.Errorf("%s cheques are not settled by transfer: %w", w.chain.Name(), ErrNotSupported)
	}
	chain, token := w.chain.ChainID(), w.chain.Token()
	if total, seen, err := w.book.transferSeen(chain, token, payer, txid); err != nil || seen {
		return total, err
	}
	amt, err := tc.Transferred(ctx, hex.EncodeToString(txid[:]), payer, w.addr)
	if err != nil {
		return Amount{}, fmt.Errorf("cannot count transfer %x from %s: %w", txid, payer, err)
	}
	return w.book.acceptTransfer(chain, token, payer, txid, amt)
}

// Transfers returns the ids of our latest settlement transfers to
// beneficiary (at most four, oldest first), to name to it again.
func (w *Wallet) Transfers(beneficiary Address) ([][32]byte, error) {
	var out [][32]byte
	key := recordKey(Issued, w.chain.ChainID(), w.chain.Token(), beneficiary)
	_, err := w.book.get(bucketTransfersOut, key, func(v []byte) error {
		for ; len(v) >= 32; v = v[32:] {
			out = append(out, [32]byte(v[:32]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read our transfers to %s: %w", beneficiary, err)
	}
	return out, nil
}

// transferSeen reports whether txid was counted already: for payer (and
// then the payer's settled total), or for another (ErrTxUsed).
func (b *ChequeBook) transferSeen(chainID uint64, token, payer Address, txid [32]byte) (Amount, bool, error) {
	var total Amount
	var seen bool
	err := boltfile.View(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		var err error
		total, seen, err = seenTx(tx, recordKey(Received, chainID, token, payer), payer, txid)
		return err
	})
	return total, seen, err
}

func seenTx(tx *bolt.Tx, key []byte, payer Address, txid [32]byte) (Amount, bool, error) {
	_, v := bucketGet(tx, bucketTransfersIn, txid[:])
	if v == nil {
		return Amount{}, false, nil
	}
	if len(v) < 21 || Address(v[:21]) != payer {
		return Amount{}, true, fmt.Errorf("transfer %x: %w", txid, ErrTxUsed)
	}
	return transferredTx(tx, key), true, nil
}

// transferredTx is the total of the counted transfers of the pair key.
func transferredTx(tx *bolt.Tx, key []byte) Amount {
	var a Amount
	if _, v := bucketGet(tx, bucketTransferred, key); v != nil {
		a, _ = AmountFromBytes(v)
	}
	return a
}

// bucketGet returns the bucket of tx and the value of key in it: nil when
// the bucket does not exist, a nil value when the key does not.
func bucketGet(tx *bolt.Tx, bucket, key []byte) (*bolt.Bucket, []byte) {
	bk := tx.Bucket(bucket)
	if bk == nil {
		return nil, nil
	}
	return bk, bk.Get(key)
}

// acceptTransfer records txid as counted for payer and adds amount to the
// payer's transferred total, raising its received record's settled total
// (up to the cheque's cumulative; a later cheque raises it further).
func (b *ChequeBook) acceptTransfer(chainID uint64, token, payer Address, txid [32]byte, amount Amount) (Amount, error) {
	key := recordKey(Received, chainID, token, payer)
	var total Amount
	err := boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		t, seen, err := seenTx(tx, key, payer, txid)
		if err != nil || seen {
			total = t
			return err
		}
		if total, err = transferredTx(tx, key).Add(amount); err != nil {
			return err
		}
		in, err := tx.CreateBucketIfNotExists(bucketTransfersIn)
		if err != nil {
			return err
		}
		a := amount.Bytes32()
		if err := in.Put(txid[:], append(append([]byte{}, payer[:]...), a[:]...)); err != nil {
			return err
		}
		tb, err := tx.CreateBucketIfNotExists(bucketTransferred)
		if err != nil {
			return err
		}
		t32 := total.Bytes32()
		if err := tb.Put(key, t32[:]); err != nil {
			return err
		}
		return raiseSettledTx(tx, key, total)
	})
	if err != nil {
		return Amount{}, fmt.Errorf("cannot record transfer %x from %s: %w", txid, payer, err)
	}
	return total, nil
}

// raiseSettledTx raises the settled total of the received plain cheque
// at key (if any) to transferred, at most its cumulative.
func raiseSettledTx(tx *bolt.Tx, key []byte, transferred Amount) error {
	bk, v := bucketGet(tx, bucketCheques, key)
	if v == nil {
		return nil
	}
	r, err := decodeRecord(key, v)
	if err != nil || !r.Cheque.Vault.IsZero() {
		return err // a vault cheque is settled by cashing it
	}
	s := transferred.Min(r.Cheque.Cumulative)
	if s.Cmp(r.Settled) <= 0 {
		return nil
	}
	r.Settled, r.Updated = s, time.Now()
	return bk.Put(key, encodeRecord(r))
}

// settledBy records, in one fsynced transaction, that the issued pair
// is settled up to settled (as SetSettled) by our transfer txid (hex),
// and keeps txid among the latest to name to the payee.
func (b *ChequeBook) settledBy(chainID uint64, token, beneficiary Address, settled Amount, txid string) error {
	id, err := hex.DecodeString(txid)
	if err != nil || len(id) != 32 {
		return b.SetSettled(Issued, chainID, token, beneficiary, settled) // not a TRON id: nothing to name
	}
	key := recordKey(Issued, chainID, token, beneficiary)
	err = boltfile.Update(b.path, b.lockTimeout, func(tx *bolt.Tx) error {
		bk, v := bucketGet(tx, bucketCheques, key)
		if v == nil {
			return errors.New("no issued cheque recorded")
		}
		r, err := decodeRecord(key, v)
		if err != nil {
			return err
		}
		if err := r.raiseSettled(settled); err != nil {
			return err
		}
		r.Updated = time.Now()
		if err := bk.Put(key, encodeRecord(r)); err != nil {
			return err
		}
		out, err := tx.CreateBucketIfNotExists(bucketTransfersOut)
		if err != nil {
			return err
		}
		old := out.Get(key)
		for i := 0; i+32 <= len(old); i += 32 {
			if string(old[i:i+32]) == string(id) {
				return nil
			}
		}
		ids := append(append([]byte{}, old...), id...)
		if n := len(ids) / 32; n > keptTransfers {
			ids = ids[(n-keptTransfers)*32:]
		}
		return out.Put(key, ids)
	})
	if err != nil {
		return fmt.Errorf("cannot record settlement with %s by %s: %w", beneficiary, txid, err)
	}
	return nil
}
