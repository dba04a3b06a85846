// Package local is the embedded settlement backend: a ledger of token
// balances in a bbolt file on this machine. It is the default chain, so
// the market works offline and in private swarms: a faucet credits
// accounts, and redeeming a cheque moves cumulative − settled from payer
// to beneficiary atomically.
//
// Several processes can share one ledger file: each operation opens the
// file, takes its lock (waiting at most the lock timeout), runs one
// fsynced transaction and closes it.
package local

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/internal/boltfile"
)

// Ledger is a local ledger file. It implements wallet.Chain with chain id
// wallet.ChainIDLocal.
type Ledger struct {
	path        string
	token       wallet.Address
	lockTimeout time.Duration
}

var _ wallet.Chain = (*Ledger)(nil)

var (
	bucketBalances = []byte("balances") // token ‖ account → amount (32 bytes)
	bucketSettled  = []byte("settled")  // token ‖ payer ‖ beneficiary → settled (32) ‖ shortfall (32)
	bucketMeta     = []byte("meta")     // "seq" → uint64 transaction counter
)

// Open returns the ledger at path for token (created on first write).
// lockTimeout bounds each wait for another process (zero means 5s).
func Open(path string, token wallet.Address, lockTimeout time.Duration) (*Ledger, error) {
	if token[0] != wallet.AddressPrefix {
		return nil, fmt.Errorf("cannot open ledger: token address unset: %w", wallet.ErrBadAddress)
	}
	l := &Ledger{path: path, token: token, lockTimeout: lockTimeout}
	err := boltfile.Update(path, lockTimeout, func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBalances, bucketSettled, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open ledger: %w", err)
	}
	return l, nil
}

// Path returns the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Name returns "local".
func (l *Ledger) Name() string { return "local" }

// ChainID returns wallet.ChainIDLocal.
func (l *Ledger) ChainID() uint64 { return wallet.ChainIDLocal }

// Token returns the ledger's token address.
func (l *Ledger) Token() wallet.Address { return l.token }

// Balance returns addr's token balance (zero if never credited).
func (l *Ledger) Balance(ctx context.Context, addr wallet.Address) (wallet.Balance, error) {
	if err := ctx.Err(); err != nil {
		return wallet.Balance{}, err
	}
	var b wallet.Balance
	err := boltfile.View(l.path, l.lockTimeout, func(tx *bolt.Tx) error {
		b.Token = getAmount(tx.Bucket(bucketBalances), l.balanceKey(addr))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wallet.Balance{}, fmt.Errorf("cannot read ledger: %w", err)
	}
	return b, nil
}

// Faucet credits amount to addr.
func (l *Ledger) Faucet(ctx context.Context, addr wallet.Address, amount wallet.Amount) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBalances)
		n, err := getAmount(bk, l.balanceKey(addr)).Add(amount)
		if err != nil {
			return fmt.Errorf("balance of %s would overflow: %w", addr, err)
		}
		return putAmount(bk, l.balanceKey(addr), n)
	})
}

// Send moves amount from from's account to to. The local ledger trusts
// the processes that can write its file; holding the key is what names
// the sender.
func (l *Ledger) Send(ctx context.Context, from *wallet.Key, to wallet.Address, amount wallet.Amount) (wallet.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return wallet.Receipt{}, err
	}
	if to[0] != wallet.AddressPrefix {
		return wallet.Receipt{}, fmt.Errorf("recipient unset: %w", wallet.ErrBadAddress)
	}
	r := wallet.Receipt{From: from.Address(), To: to, Amount: amount}
	err := l.update(func(tx *bolt.Tx) error {
		if err := l.move(tx, r.From, to, amount); err != nil {
			return err
		}
		id, err := nextSeq(tx)
		r.TxID = id
		return err
	})
	if err != nil {
		return wallet.Receipt{}, err
	}
	return r, nil
}

// Redeem cashes c: it pays the beneficiary cumulative − settled, at most
// the payer's balance, records the new settled total and the shortfall,
// all in one transaction. Forged cheques are wallet.ErrBadSignature;
// cheques for another chain or token wallet.ErrMisaddressed; a cheque
// at or below the settled total wallet.ErrStale (the returned Redemption
// still carries the settled total).
func (l *Ledger) Redeem(ctx context.Context, c wallet.Cheque) (wallet.Redemption, error) {
	if err := ctx.Err(); err != nil {
		return wallet.Redemption{}, err
	}
	red := wallet.Redemption{Cheque: c}
	if err := c.Verify(); err != nil {
		return red, fmt.Errorf("cannot redeem cheque: %w", err)
	}
	if c.ChainID != wallet.ChainIDLocal {
		return red, fmt.Errorf("cannot redeem a cheque for chain %d on the local ledger (%d): %w", c.ChainID, wallet.ChainIDLocal, wallet.ErrMisaddressed)
	}
	if c.Token != l.token {
		return red, fmt.Errorf("cannot redeem a cheque in token %s on a ledger of %s: %w", c.Token, l.token, wallet.ErrMisaddressed)
	}
	err := l.update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSettled)
		sk := l.settledKey(c.Payer, c.Beneficiary)
		settled, _ := getSettled(sb, sk)
		red.Settled = settled
		if c.Cumulative.Cmp(settled) <= 0 {
			return fmt.Errorf("cheque for %s is not above the %s already settled: %w", c.Cumulative, settled, wallet.ErrStale)
		}
		owed := c.Cumulative.SubFloor(settled)
		pay := owed.Min(getAmount(tx.Bucket(bucketBalances), l.balanceKey(c.Payer)))
		if !pay.IsZero() {
			if err := l.move(tx, c.Payer, c.Beneficiary, pay); err != nil {
				return err
			}
		}
		red.Paid = pay
		red.Settled, _ = settled.Add(pay) // ≤ cumulative: cannot overflow
		red.Shortfall = c.Cumulative.SubFloor(red.Settled)
		if err := putSettled(sb, sk, red.Settled, red.Shortfall); err != nil {
			return err
		}
		id, err := nextSeq(tx)
		red.TxID = id
		return err
	})
	if err != nil {
		return red, err
	}
	return red, nil
}

// Settled returns what has been paid for cheques from payer to
// beneficiary, and the shortfall recorded at the last redemption.
func (l *Ledger) Settled(ctx context.Context, payer, beneficiary wallet.Address) (settled, shortfall wallet.Amount, err error) {
	if err := ctx.Err(); err != nil {
		return settled, shortfall, err
	}
	err = boltfile.View(l.path, l.lockTimeout, func(tx *bolt.Tx) error {
		settled, shortfall = getSettled(tx.Bucket(bucketSettled), l.settledKey(payer, beneficiary))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return settled, shortfall, fmt.Errorf("cannot read ledger: %w", err)
	}
	return settled, shortfall, nil
}

// Check verifies the ledger file's integrity.
func (l *Ledger) Check() error { return boltfile.Check(l.path, l.lockTimeout) }

func (l *Ledger) update(fn func(*bolt.Tx) error) error {
	err := boltfile.Update(l.path, l.lockTimeout, func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBalances, bucketSettled, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	return nil
}

func (l *Ledger) move(tx *bolt.Tx, from, to wallet.Address, amount wallet.Amount) error {
	bk := tx.Bucket(bucketBalances)
	fk, tk := l.balanceKey(from), l.balanceKey(to)
	fb := getAmount(bk, fk)
	nf, err := fb.Sub(amount)
	if err != nil {
		return fmt.Errorf("%s holds %s BTT, cannot pay %s: %w", from, fb.Format(wallet.BTTDecimals), amount.Format(wallet.BTTDecimals), wallet.ErrInsufficientFunds)
	}
	if err := putAmount(bk, fk, nf); err != nil {
		return err
	}
	nt, err := getAmount(bk, tk).Add(amount)
	if err != nil {
		return fmt.Errorf("balance of %s would overflow: %w", to, err)
	}
	return putAmount(bk, tk, nt)
}

func (l *Ledger) balanceKey(a wallet.Address) []byte {
	return append(append(make([]byte, 0, 42), l.token[:]...), a[:]...)
}

func (l *Ledger) settledKey(payer, beneficiary wallet.Address) []byte {
	return append(append(append(make([]byte, 0, 63), l.token[:]...), payer[:]...), beneficiary[:]...)
}

func getAmount(bk *bolt.Bucket, k []byte) wallet.Amount {
	if bk == nil {
		return wallet.Amount{}
	}
	a, _ := wallet.AmountFromBytes(bk.Get(k))
	return a
}

func putAmount(bk *bolt.Bucket, k []byte, a wallet.Amount) error {
	v := a.Bytes32()
	return bk.Put(k, v[:])
}

func getSettled(bk *bolt.Bucket, k []byte) (settled, shortfall wallet.Amount) {
	if bk == nil {
		return
	}
	v := bk.Get(k)
	if len(v) != 64 {
		return
	}
	settled, _ = wallet.AmountFromBytes(v[:32])
	shortfall, _ = wallet.AmountFromBytes(v[32:])
	return
}

func putSettled(bk *bolt.Bucket, k []byte, settled, shortfall wallet.Amount) error {
	s, f := settled.Bytes32(), shortfall.Bytes32()
	return bk.Put(k, append(s[:], f[:]...))
}

func nextSeq(tx *bolt.Tx) (string, error) {
	bk := tx.Bucket(bucketMeta)
	var n uint64
	if v := bk.Get([]byte("seq")); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := bk.Put([]byte("seq"), binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return "", err
	}
	return "local-" + strconv.FormatUint(n, 10), nil
}
