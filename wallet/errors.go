package wallet

import "errors"

// Sentinel errors callers branch on. Every error the package returns that
// belongs to one of these classes wraps the sentinel, so errors.Is works
// through the layers (backend → Wallet → CLI).
var (
	// ErrBadAddress: an address is malformed (checksum, prefix, length) or
	// was refused by the chain.
	ErrBadAddress = errors.New("bad address")
	// ErrBadSignature: a signature is malformed, has high s or v ∉ {27,28},
	// or does not recover to the claimed signer (a forged cheque).
	ErrBadSignature = errors.New("bad signature")
	// ErrStale: a cheque's cumulative payout is not above what is already
	// recorded or settled for its pair.
	ErrStale = errors.New("stale cheque")
	// ErrUnderpaid: a payment's cheque does not raise the cumulative
	// payout by at least the payment's amount.
	ErrUnderpaid = errors.New("underpaid")
	// ErrSuperseded: a later record (a pledge with a higher time) is
	// already stored.
	ErrSuperseded = errors.New("superseded by a later record")
	// ErrMisaddressed: a cheque names another beneficiary, token or chain
	// than the one checking it.
	ErrMisaddressed = errors.New("misaddressed cheque")
	// ErrInsufficientFunds: the account cannot pay the amount.
	ErrInsufficientFunds = errors.New("insufficient balance")
	// ErrInsufficientEnergy: the transaction ran out of energy (raise the
	// fee limit or stake TRX for energy).
	ErrInsufficientEnergy = errors.New("insufficient energy or fee limit")
	// ErrDuplicateTx: the network already has this transaction.
	ErrDuplicateTx = errors.New("duplicate transaction")
	// ErrUnreachable: the chain node could not be reached.
	ErrUnreachable = errors.New("node unreachable")
	// ErrTimeout: the node did not answer, or a transaction was not
	// confirmed, in time.
	ErrTimeout = errors.New("timed out")
	// ErrNotSupported: the chain backend cannot do this (faucet on TRON,
	// redeeming a cheque without a vault contract).
	ErrNotSupported = errors.New("not supported by this chain")
	// ErrWrongPassphrase: the keystore could not be decrypted.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrPending: another settlement of the same cheque is in progress
	// (in this process or another sharing the cheque book), or its
	// transfer was broadcast and its outcome is not known yet; Settle
	// looks it up again next time.
	ErrPending = errors.New("settlement in progress")
	// ErrUnexpectedTx: the node built a transaction other than the one we
	// asked for (another contract, recipient, amount, call value...); it
	// was not signed.
	ErrUnexpectedTx = errors.New("unexpected transaction")
	// ErrNoKeystore: the data dir holds no key yet.
	ErrNoKeystore = errors.New("no keystore")
)
