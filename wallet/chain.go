package wallet

import (
	"context"
	"time"
)

// Balance is an account's holdings on a chain. On the local ledger only
// Token is used.
type Balance struct {
	Token Amount // the cheque token: TRC-20 BTT (18 decimals), or the local ledger's
	TRX   Amount // TRX in sun (6 decimals)
	BTT10 Amount // legacy TRC-10 BTT, token id 1002000 (6 decimals)
}

// Receipt describes a confirmed transfer.
type Receipt struct {
	TxID   string // hex transaction id (a ledger sequence number on local)
	From   Address
	To     Address
	Amount Amount
	Block  int64 // block number; zero on local
}

// Redemption is the outcome of cashing a cheque.
type Redemption struct {
	Cheque    Cheque
	Paid      Amount // moved from payer to beneficiary by this redemption
	Settled   Amount // total ever paid for the cheque's pair
	Shortfall Amount // Cumulative − Settled: owed but not covered by the payer's balance
	TxID      string
}

// Chain is a settlement backend: the embedded local ledger
// (wallet/local) or the TRON network (wallet/tron). Methods may block on
// I/O for up to the backend's configured timeouts and honour ctx. All
// amounts are in the chain's token (Token()) unless a Balance field says
// otherwise.
type Chain interface {
	// Name is "local", "mainnet", "nile" or "shasta".
	Name() string
	// ChainID is the TIP-712 chain id cheques for this chain carry.
	ChainID() uint64
	// Token is the cheque token's address (the BTT TRC-20 contract).
	Token() Address
	// Balance returns addr's holdings; an unknown account has zero.
	Balance(ctx context.Context, addr Address) (Balance, error)
	// Send transfers amount of the token from from's account to to and
	// waits until it is confirmed.
	Send(ctx context.Context, from *Key, to Address, amount Amount) (Receipt, error)
	// Redeem cashes a cheque for its beneficiary: it moves
	// cumulative − already settled from payer to beneficiary, at most the
	// payer's balance. Forged cheques are ErrBadSignature, cheques for
	// another chain or token ErrMisaddressed, and cheques at or below the
	// settled total ErrStale. Backends without cheque redemption (TRON
	// without a vault contract) return ErrNotSupported: there the payer
	// settles with Send.
	Redeem(ctx context.Context, c Cheque) (Redemption, error)
	// Faucet credits amount to addr. Only the local ledger has one;
	// others return ErrNotSupported.
	Faucet(ctx context.Context, addr Address, amount Amount) error
}

// TxStatus is what a chain knows of a transaction.
type TxStatus int

// Transaction states.
const (
	TxUnknown   TxStatus = iota // not on chain (yet, or ever if expired)
	TxConfirmed                 // executed successfully
	TxFailed                    // on chain but failed (e.g. out of energy)
)

// TrackedSender is implemented by chains whose transfers have an id
// before they are broadcast (TRON). Wallet.Settle uses it to record a
// Pending settlement before paying, so a crash between the payment and
// its record never makes it pay twice.
type TrackedSender interface {
	// SendTracked is Send, calling record with the transaction id and
	// its expiry after signing and before broadcasting. If record fails,
	// nothing is broadcast.
	SendTracked(ctx context.Context, from *Key, to Address, amount Amount, record func(txid string, expires time.Time) error) (Receipt, error)
	// TxStatus looks a transaction up by hex id.
	TxStatus(ctx context.Context, txid string) (TxStatus, error)
}

// CollateralChain is implemented by chains where payers back their
// cheques with collateral their payees can cash without them (TRON with
// a vault factory configured: wallet/tron, contracts/ChequeVault.sol).
type CollateralChain interface {
	// Collateral returns payer's vault and what it guarantees payee (its
	// reservation for payee less an announced decrease, plus the
	// configured share of the unreserved balance less an announced
	// withdrawal: PROTOCOL.md §18.5), and whether the vault is known
	// (false: no vault, or one for another token). It may block on the
	// chain for up to the backend's timeouts.
	Collateral(ctx context.Context, payer, payee Address) (vault Address, amount Amount, known bool, err error)
}

// VaultCasher is implemented by chains where the beneficiary of a vault
// cheque (Cheque.Vault set) cashes it itself at the payer's vault (TRON).
// Settle uses it for received vault cheques; the payer never pays them by
// transfer.
type VaultCasher interface {
	// Cashed returns what beneficiary has cashed at vault so far.
	Cashed(ctx context.Context, vault, beneficiary Address) (Amount, error)
	// CashCheque cashes c at c.Vault, signed by from (its beneficiary),
	// calling record (if not nil) with the transaction id and expiry
	// after signing and before broadcasting (its error stops the
	// broadcast): Paid is what moved, Shortfall what bounced for want of
	// balance, Settled the total cashed after it. TxID is the cash's
	// transaction, empty when none was sent (the vault could pay
	// nothing): only a sent cash's Shortfall is what the vault recorded
	// as bounced.
	CashCheque(ctx context.Context, from *Key, c Cheque, record func(txid string, expires time.Time) error) (Redemption, error)
}
