// Package wallet is keys and money for bidtorrent: key generation and
// import (BIP-39 mnemonic on m/44'/195'/0'/0/i, hex, v3 keystore JSON), an
// encrypted keystore, TRON addresses, TIP-191 message signing, TIP-712
// cheque signing and verification, the persistent cheque book, and the
// Chain interface its settlement backends implement (wallet/local, the
// embedded ledger; wallet/tron, the TRON network over gRPC).
//
// Cheques are signed over the TIP-712 digest of
// Cheque(address token,address payer,address beneficiary,uint256 cumulativePayout)
// in the domain EIP712Domain(string name,string version,uint256 chainId)
// with name "BTTCheque" and version "1"; see Cheque.Digest. The values
// reproduce TronWeb's (the tests check its reference vectors).
//
// Wallet is the entry type. The engine uses it through a small interface
// of its own: Address, SignCheque, AcceptCheque (verify + fsynced record
// before a RECEIPT), VerifyCheque, SignMessage/VerifyMessage (HELLO),
// Highest, Balance, Settle; for tips, purchases and pledges (see
// commerce.go) IssuePayment, AcceptTip, SignTipNote, SignLicense,
// SignPledge and the licence and pledge store.
package wallet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Wallet binds one key (or, watch-only, one address), a cheque book and a
// chain backend. It is safe for concurrent use: it holds no mutable state
// of its own (the cheque book serialises writes through its file lock).
type Wallet struct {
	key   *Key // nil when watch-only
	addr  Address
	book  *ChequeBook
	chain Chain

	mu      sync.Mutex // guards retryAt
	retryAt time.Time  // SettleDue does nothing before this, after a failed settlement
}

// New returns a wallet that can sign with key.
func New(key *Key, book *ChequeBook, chain Chain) *Wallet {
	return &Wallet{key: key, addr: key.Address(), book: book, chain: chain}
}

// NewWatchOnly returns a wallet for addr without its key: it can show
// balances and cheques, verify, accept cheques and redeem them on the
// local ledger, but not sign or send.
func NewWatchOnly(addr Address, book *ChequeBook, chain Chain) *Wallet {
	return &Wallet{addr: addr, book: book, chain: chain}
}

// ErrNoKey is returned by operations that need the key on a watch-only
// wallet.
var ErrNoKey = errors.New("watch-only wallet: the key is not unlocked")

// Address returns the wallet's TRON address.
func (w *Wallet) Address() Address { return w.addr }

// Chain returns the settlement backend.
func (w *Wallet) Chain() Chain { return w.chain }

// ChainID returns the chain id of the wallet's cheques.
func (w *Wallet) ChainID() uint64 { return w.chain.ChainID() }

// Token returns the address of the wallet's cheque token.
func (w *Wallet) Token() Address { return w.chain.Token() }

// ChequeBook returns the wallet's cheque book.
func (w *Wallet) ChequeBook() *ChequeBook { return w.book }

// SignCheque signs a cheque promising beneficiary a cumulative total of
// cumulative base units of token on chainID, and records it (fsynced) as
// issued before returning it. A cumulative below the highest already
// issued to beneficiary is ErrStale; an equal one returns the same cheque
// again (signatures are deterministic, RFC 6979).
func (w *Wallet) SignCheque(token, beneficiary Address, cumulative Amount, chainID uint64) (Cheque, error) {
	if w.key == nil {
		return Cheque{}, ErrNoKey
	}
	c, err := SignCheque(w.key, chainID, token, beneficiary, cumulative)
	if err != nil {
		return Cheque{}, fmt.Errorf("cannot sign cheque to %s: %w", beneficiary, err)
	}
	if _, err := w.book.record(Issued, beneficiary, c); err != nil {
		return Cheque{}, err
	}
	return c, nil
}

// VerifyCheque checks c's signature (signer recovered = c.Payer, low s,
// v ∈ {27,28}). It does not look at beneficiary or amounts.
func (w *Wallet) VerifyCheque(c Cheque) error { return c.Verify() }

// AcceptCheque is how a seller takes a payment: it verifies c, checks it
// is addressed to this wallet, on this chain, in this token, and records
// it as received, fsynced, before returning the increase over the
// previous cheque from the same payer. Errors: ErrBadSignature (forged),
// ErrMisaddressed, ErrStale (below the recorded total).
func (w *Wallet) AcceptCheque(c Cheque) (Amount, error) {
	if err := w.checkReceived(c); err != nil {
		return Amount{}, err
	}
	return w.book.record(Received, c.Payer, c)
}

// checkReceived verifies c and checks it pays this wallet on its chain in
// its token.
func (w *Wallet) checkReceived(c Cheque) error {
	if err := c.Verify(); err != nil {
		return err
	}
	switch {
	case c.Beneficiary != w.addr:
		return fmt.Errorf("cheque pays %s, not us (%s): %w", c.Beneficiary, w.addr, ErrMisaddressed)
	case c.ChainID != w.chain.ChainID():
		return fmt.Errorf("cheque is for chain %d, not %d: %w", c.ChainID, w.chain.ChainID(), ErrMisaddressed)
	case c.Token != w.chain.Token():
		return fmt.Errorf("cheque is in token %s, not %s: %w", c.Token, w.chain.Token(), ErrMisaddressed)
	}
	return nil
}

// Highest returns the highest cheque of direction dir exchanged with
// counterparty on the wallet's chain and token, and whether there is one.
func (w *Wallet) Highest(dir Direction, counterparty Address) (Record, bool, error) {
	return w.book.Highest(dir, w.chain.ChainID(), w.chain.Token(), counterparty)
}

// Cheques returns every cheque book record.
func (w *Wallet) Cheques() ([]Record, error) { return w.book.Records() }

// SignMessage signs msg as TIP-191 (TronWeb signMessageV2).
func (w *Wallet) SignMessage(msg []byte) (Signature, error) {
	if w.key == nil {
		return Signature{}, ErrNoKey
	}
	return w.key.SignMessage(msg)
}

// VerifyMessage checks that sig is signer's TIP-191 signature of msg.
func (w *Wallet) VerifyMessage(signer Address, msg []byte, sig Signature) error {
	return VerifyMessage(signer, msg, sig)
}

// Balance returns the wallet's holdings on its chain.
func (w *Wallet) Balance(ctx context.Context) (Balance, error) {
	b, err := w.chain.Balance(ctx, w.addr)
	if err != nil {
		return Balance{}, fmt.Errorf("cannot get the balance of %s on %s: %w", w.addr, w.chain.Name(), err)
	}
	return b, nil
}

// Cover returns what payer can be shown to pay us (PROTOCOL.md §8.6): on
// the local ledger its balance (known); on TRON, once the cheques we
// hold from payer are vault cheques for its vault at the configured
// factory, what that vault guarantees us (our reservation there less its
// announced decrease, plus the configured share of the vault's free
// collateral: CollateralChain), known when it is not zero; otherwise
// nothing is known (known false: a seller falls back to its unsecured
// limit; plain cheques on TRON are IOUs no vault pays). It may block on
// the chain for up to its timeouts.
func (w *Wallet) Cover(ctx context.Context, payer Address) (amount Amount, known bool, err error) {
	if cc, ok := w.chain.(CollateralChain); ok {
		r, held, err := w.Highest(Received, payer)
		if err != nil || !held || r.Cheque.Vault.IsZero() {
			return Amount{}, false, err
		}
		vault, amount, known, err := cc.Collateral(ctx, payer, w.addr)
		if err != nil {
			return Amount{}, false, fmt.Errorf("cannot read the cover of %s on %s: %w", payer, w.chain.Name(), err)
		}
		return amount, known && vault == r.Cheque.Vault && !amount.IsZero(), nil
	}
	if w.chain.Name() != "local" {
		return Amount{}, false, nil
	}
	b, err := w.chain.Balance(ctx, payer)
	if err != nil {
		return Amount{}, false, fmt.Errorf("cannot read the cover of %s on %s: %w", payer, w.chain.Name(), err)
	}
	return b.Token, true, nil
}

// OwnVault returns this wallet's cheque vault, when the chain has vaults
// (CollateralChain) and the configured factory made one for this wallet
// holding its token (PROTOCOL.md §11.1); false otherwise.
func (w *Wallet) OwnVault(ctx context.Context) (Address, bool, error) {
	cc, ok := w.chain.(CollateralChain)
	if !ok {
		return Address{}, false, nil
	}
	vault, _, known, err := cc.Collateral(ctx, w.addr, w.addr)
	if err != nil {
		return Address{}, false, fmt.Errorf("cannot read the vault of %s on %s: %w", w.addr, w.chain.Name(), err)
	}
	return vault, known, nil
}

// VaultCover is Cover for a payer that named vault as its cheque vault
// (HELLO, version 3) before we hold a cheque from it: what that vault
// guarantees us, known only when the configured factory says vault is
// payer's, it holds our token and the amount is not zero. Any other
// claim is unknown: the payer is then a plain payer.
func (w *Wallet) VaultCover(ctx context.Context, payer, vault Address) (Amount, bool, error) {
	cc, ok := w.chain.(CollateralChain)
	if !ok {
		return Amount{}, false, nil
	}
	v, amount, known, err := cc.Collateral(ctx, payer, w.addr)
	if err != nil {
		return Amount{}, false, fmt.Errorf("cannot read the cover of %s on %s: %w", payer, w.chain.Name(), err)
	}
	return amount, known && v == vault && !amount.IsZero(), nil
}

// Send transfers amount of the token to to and waits for confirmation.
func (w *Wallet) Send(ctx context.Context, to Address, amount Amount) (Receipt, error) {
	if w.key == nil {
		return Receipt{}, ErrNoKey
	}
	r, err := w.chain.Send(ctx, w.key, to, amount)
	if err != nil {
		return Receipt{}, fmt.Errorf("cannot send %s BTT to %s on %s: %w", amount.Format(BTTDecimals), to, w.chain.Name(), err)
	}
	return r, nil
}

// Faucet credits amount to the wallet (local ledger only).
func (w *Wallet) Faucet(ctx context.Context, amount Amount) error {
	if err := w.chain.Faucet(ctx, w.addr, amount); err != nil {
		return fmt.Errorf("cannot credit %s on %s: %w", w.addr, w.chain.Name(), err)
	}
	return nil
}

// IssuePayment pays p.Amount to beneficiary for p.For (a tip, purchase or
// pledge regarding p.InfoHash, with p.Memo on a tip): it signs the
// cumulative cheque (on the wallet's chain and token; cumulative may also
// cover unpaid bandwidth, but must exceed the highest cheque issued to
// beneficiary by at least p.Amount, else ErrUnderpaid) and the TipNote
// over that cumulative, and records both (ChequeBook.RecordIssuedPayment,
// one fsynced transaction) before returning them. p's Direction,
// Counterparty, Cumulative and Time may be left zero.
func (w *Wallet) IssuePayment(beneficiary Address, cumulative Amount, p Payment) (Cheque, TipNote, error) {
	return w.issuePayment(Address{}, beneficiary, cumulative, p)
}

// IssueVaultPayment is IssuePayment with a vault cheque, cashable by
// beneficiary at vault (this wallet's cheque vault). The note is signed
// as for any payment: it is not cashed.
func (w *Wallet) IssueVaultPayment(vault, beneficiary Address, cumulative Amount, p Payment) (Cheque, TipNote, error) {
	if vault.IsZero() {
		return Cheque{}, TipNote{}, fmt.Errorf("cannot pay %s: no vault: %w", beneficiary, ErrBadAddress)
	}
	return w.issuePayment(vault, beneficiary, cumulative, p)
}

func (w *Wallet) issuePayment(vault, beneficiary Address, cumulative Amount, p Payment) (Cheque, TipNote, error) {
	if w.key == nil {
		return Cheque{}, TipNote{}, ErrNoKey
	}
	chain, token := w.chain.ChainID(), w.chain.Token()
	n, err := SignTipNote(w.key, chain, token, beneficiary, cumulative, p.Amount, p.InfoHash, p.For, p.Memo)
	if err != nil {
		return Cheque{}, TipNote{}, fmt.Errorf("cannot pay %s: %w", beneficiary, err)
	}
	var c Cheque
	if vault.IsZero() {
		c, err = SignCheque(w.key, chain, token, beneficiary, cumulative)
	} else {
		c, err = SignVaultCheque(w.key, chain, vault, token, beneficiary, cumulative)
	}
	if err != nil {
		return Cheque{}, TipNote{}, fmt.Errorf("cannot pay %s: %w", beneficiary, err)
	}
	if _, err := w.book.recordPayment(Issued, beneficiary, c, p); err != nil {
		return Cheque{}, TipNote{}, err
	}
	return c, n, nil
}

// SignTipNote signs, with the wallet's key, chain and token, the note of a
// payment of amount within the cumulative cheque to beneficiary. It
// records nothing: IssuePayment signs and records a whole payment.
func (w *Wallet) SignTipNote(beneficiary Address, cumulative, amount Amount, infoHash [20]byte, purpose, memo string) (TipNote, error) {
	if w.key == nil {
		return TipNote{}, ErrNoKey
	}
	return SignTipNote(w.key, w.chain.ChainID(), w.chain.Token(), beneficiary, cumulative, amount, infoHash, purpose, memo)
}

// SignLicense signs, as payee, a licence for buyer to the torrent
// infoHash bought for price, on the wallet's chain and token.
func (w *Wallet) SignLicense(buyer Address, infoHash [20]byte, price Amount) (License, error) {
	if w.key == nil {
		return License{}, ErrNoKey
	}
	return SignLicense(w.key, w.chain.ChainID(), w.chain.Token(), buyer, infoHash, price)
}

// SignPledge signs, as payer, a pledge of amount to payee for infoHash
// towards goal by deadline, made at at (unix seconds), on the wallet's
// chain and token. It does not store it: see SavePledge.
func (w *Wallet) SignPledge(payee Address, infoHash [20]byte, amount, goal Amount, deadline, at uint64) (Pledge, error) {
	if w.key == nil {
		return Pledge{}, ErrNoKey
	}
	return SignPledge(w.key, w.chain.ChainID(), w.chain.Token(), payee, infoHash, amount, goal, deadline, at)
}

// AcceptTip is how a payee takes a tip, purchase or pledge payment (a
// `tip` message): AcceptCheque's checks (ErrBadSignature,
// ErrMisaddressed, ErrStale), that n is the payer's valid note of c
// (VerifyTipNote: ErrBadSignature otherwise), then the cheque and the
// payment n describes, received now, are recorded in one fsynced
// transaction (ChequeBook.AcceptPayment: ErrUnderpaid when the cheque
// adds less than n.Amount, and then nothing is recorded). It returns the
// increase. Checks a purchase or pledge needs against the torrent's terms
// are the caller's, before calling it.
func (w *Wallet) AcceptTip(c Cheque, n TipNote) (Amount, error) {
	if err := w.checkReceived(c); err != nil {
		return Amount{}, err
	}
	if err := VerifyTipNote(c, n); err != nil {
		return Amount{}, err
	}
	return w.book.recordPayment(Received, c.Payer, c, Payment{For: n.Purpose, InfoHash: n.InfoHash, Amount: n.Amount, Memo: n.Memo})
}

// AcceptAll is AcceptCheque and AcceptTip for a batch of received
// cheques (a money writer's queue): each is checked as they check it,
// then all that pass are recorded, in order, in one fsynced transaction,
// so a batch costs one fsync. The result has one Accepted per item: a
// refused item (ErrBadSignature, ErrMisaddressed, ErrStale, ErrUnderpaid)
// stored nothing; a cheque already recorded is a Repeat. An error means
// the transaction failed and nothing at all was stored: acknowledge none.
func (w *Wallet) AcceptAll(in []Incoming) ([]Accepted, error) {
	res := make([]Accepted, len(in))
	items := make([]incoming, len(in))
	for i, it := range in {
		items[i].c = it.Cheque
		if res[i].Err = w.checkReceived(it.Cheque); res[i].Err != nil {
			continue
		}
		if n := it.Note; n != nil {
			if res[i].Err = VerifyTipNote(it.Cheque, *n); res[i].Err != nil {
				continue
			}
			p := Payment{For: n.Purpose, InfoHash: n.InfoHash, Amount: n.Amount, Memo: n.Memo}
			if res[i].Err = fillPayment(Received, it.Cheque.Payer, it.Cheque, &p); res[i].Err != nil {
				continue
			}
			items[i].p = &p
		}
	}
	if err := w.book.receiveAll(items, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Payments returns every payment made or received, oldest first.
func (w *Wallet) Payments() ([]Payment, error) { return w.book.Payments() }

// SaveLicense verifies and stores a licence (ChequeBook.SaveLicense).
func (w *Wallet) SaveLicense(l License) error { return w.book.SaveLicense(l) }

// LicenseFor returns this wallet's licence from payee for the torrent ih,
// and whether it holds one.
func (w *Wallet) LicenseFor(ih [20]byte, payee Address) (License, bool, error) {
	return w.book.LicenseFor(ih, w.addr, payee)
}

// Licenses returns every stored licence.
func (w *Wallet) Licenses() ([]License, error) { return w.book.Licenses() }

// SavePledge verifies and stores a pledge; a later one from the same payer
// to the same payee for the same torrent replaces it, an earlier one is
// ErrSuperseded (ChequeBook.SavePledge).
func (w *Wallet) SavePledge(p Pledge) error { return w.book.SavePledge(p) }

// Pledges returns the stored pledges for the torrent ih.
func (w *Wallet) Pledges(ih [20]byte) ([]Pledge, error) { return w.book.Pledges(ih) }

// PledgePaid returns what payer has paid payee, as pledge payments, for
// the torrent ih (zero when nothing).
func (w *Wallet) PledgePaid(ih [20]byte, payer, payee Address) (Amount, error) {
	return w.book.PledgePaid(ih, payer, payee)
}
