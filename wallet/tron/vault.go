package tron

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"

	"github.com/bidtorrent/bidtorrent/contracts"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Cheque vaults (contracts/: ChequeVault, made by a VaultFactory). Every
// transaction is packed here with the contracts' ABI and checked before
// it is signed (checkTx), like transfers.

// ErrNoVault: the payer has no vault at the configured factory, or no
// factory is configured.
var ErrNoVault = errors.New("no cheque vault")

// VaultState is what a vault holds and promises.
type VaultState struct {
	Vault, Issuer, Token wallet.Address
	Delay                time.Duration // between a withdrawal (or unreserve) request and its execution
	Balance              wallet.Amount
	Reserved             wallet.Amount // the sum of all reservations
	Unreserved           wallet.Amount // Balance − Reserved: what cashes beyond a reservation, and withdrawals, take
	Withdrawal           wallet.Amount // announced, zero when none
	WithdrawalTime       time.Time     // when the announced withdrawal may be made
	// Collateral is Unreserved − Withdrawal: what payees can count on
	// beyond their reservations, all of them together.
	Collateral wallet.Amount
	// Reservations are the vault's reservations (its reservationHolders),
	// when read with Reservations; Vault leaves it nil.
	Reservations []Reservation
}

// Reservation is the part of a vault's balance held for one beneficiary
// (contracts/ChequeVault.sol: reserve, requestUnreserve, unreserve).
type Reservation struct {
	Beneficiary  wallet.Address
	Amount       wallet.Amount // reserved now: only the beneficiary's cashes take it
	Decrease     wallet.Amount // an announced lowering, zero when none
	DecreaseTime time.Time     // when the announced lowering may be applied
	Held         wallet.Amount // Amount − Decrease: what the beneficiary can count on
}

// DefaultFreeShare is the share (percent) of a vault's free collateral
// (Unreserved − Withdrawal) a payee counts besides its reservation
// unless configured: none, so payees of one vault can never together
// extend more than it holds (PROTOCOL.md §18.5).
const DefaultFreeShare = 0

// CashResult is what cashing a cheque did.
type CashResult struct {
	Receipt         wallet.Receipt
	Paid            wallet.Amount // moved to the recipient by this cash
	FromReservation wallet.Amount // the part of Paid taken from the beneficiary's reservation
	Bounced         wallet.Amount // owed but not paid for want of balance (cash again after a deposit)
}

func evm(a wallet.Address) common.Address { return a.EVM() }

func fromEVM(a common.Address) wallet.Address { return wallet.AddressFromEVM(a) }

// DeployFactory deploys a VaultFactory from from (once per network; put
// its address in the vault_factory setting) and returns its address.
func (c *Chain) DeployFactory(ctx context.Context, from *wallet.Key) (wallet.Address, wallet.Receipt, error) {
	r := wallet.Receipt{From: from.Address()}
	code := contracts.Factory.Code
	const energyLimit = 10_000_000 // what the origin pays for calls (ConsumeUserResourcePercent 100: callers pay all)
	want := &core.CreateSmartContract{
		OwnerAddress: from.Address().Bytes(),
		NewContract: &core.SmartContract{
			OriginAddress: from.Address().Bytes(), Name: "VaultFactory", Bytecode: code,
			ConsumeUserResourcePercent: 100, OriginEnergyLimit: energyLimit,
		},
	}
	info, id, err := c.transact(ctx, from, core.Transaction_Contract_CreateSmartContract, want, func(ctx context.Context) (*api.TransactionExtention, error) {
		return c.g.DeployContractCtx(ctx, from.Address().String(), "VaultFactory", nil, hex.EncodeToString(code), c.cfg.FeeLimitSun, 100, energyLimit)
	}, nil)
	r.TxID = id
	if err != nil {
		return wallet.Address{}, r, fmt.Errorf("cannot deploy the vault factory: %w", err)
	}
	r.Block = info.GetBlockNumber()
	a, err := wallet.AddressFromBytes(info.GetContractAddress())
	if err != nil {
		return wallet.Address{}, r, fmt.Errorf("the node's receipt names no contract address: %w", err)
	}
	return a, r, nil
}

// constant runs a read-only call of contract's method and unpacks its
// results.
func (c *Chain) constant(ctx context.Context, a contracts.Artifact, contract wallet.Address, method string, args ...any) ([]any, error) {
	data, err := a.ABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot pack %s: %w", method, err)
	}
	rctx, cancel := c.rpcCtx(ctx)
	ext, err := c.g.TriggerConstantContractWithDataCtx(rctx, "", contract.String(), data)
	cancel()
	if err != nil {
		return nil, c.mapErr("call "+method+" of "+contract.String(), err)
	}
	if ext.GetResult().GetCode() != 0 || len(ext.GetConstantResult()) == 0 {
		return nil, fmt.Errorf("%s of %s failed: %s %s", method, contract, ext.GetResult().GetMessage(), decodeRevert(ext.GetConstantResult()))
	}
	out, err := a.ABI.Unpack(method, ext.GetConstantResult()[0])
	if err != nil {
		return nil, fmt.Errorf("%s of %s returned %x: %w", method, contract, ext.GetConstantResult()[0], err)
	}
	return out, nil
}

// VaultOf returns payer's vault at the configured factory (ErrNoVault
// when it has none).
func (c *Chain) VaultOf(ctx context.Context, payer wallet.Address) (wallet.Address, error) {
	if c.cfg.Factory.IsZero() {
		return wallet.Address{}, fmt.Errorf("no vault factory configured (vault_factory): %w", ErrNoVault)
	}
	out, err := c.constant(ctx, contracts.Factory, c.cfg.Factory, "vaultOf", evm(payer))
	if err != nil {
		return wallet.Address{}, err
	}
	v := out[0].(common.Address)
	if v == (common.Address{}) {
		return wallet.Address{}, fmt.Errorf("%s has no vault at %s: %w", payer, c.cfg.Factory, ErrNoVault)
	}
	return fromEVM(v), nil
}

// Vault reads the state of the vault at addr.
func (c *Chain) Vault(ctx context.Context, addr wallet.Address) (VaultState, error) {
	s := VaultState{Vault: addr}
	read := func(method string) (any, error) {
		out, err := c.constant(ctx, contracts.Vault, addr, method)
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	amount := func(method string, dst *wallet.Amount) error {
		v, err := read(method)
		if err != nil {
			return err
		}
		*dst, err = wallet.AmountFromBig(v.(*big.Int))
		return err
	}
	for _, f := range []func() error{
		func() error { v, err := read("issuer"); s.Issuer = fromEVM(asAddr(v)); return err },
		func() error { v, err := read("token"); s.Token = fromEVM(asAddr(v)); return err },
		func() error {
			v, err := read("withdrawDelay")
			if err == nil {
				s.Delay = time.Duration(v.(*big.Int).Int64()) * time.Second
			}
			return err
		},
		func() error { return amount("balance", &s.Balance) },
		func() error { return amount("totalReserved", &s.Reserved) },
		func() error { return amount("withdrawalAmount", &s.Withdrawal) },
		func() error {
			v, err := read("withdrawalTime")
			if err == nil {
				s.WithdrawalTime = time.Unix(v.(*big.Int).Int64(), 0)
			}
			return err
		},
	} {
		if err := f(); err != nil {
			return VaultState{}, fmt.Errorf("cannot read vault %s: %w", addr, err)
		}
	}
	s.Unreserved = s.Balance.SubFloor(s.Reserved)
	s.Collateral = s.Unreserved.SubFloor(s.Withdrawal)
	return s, nil
}

// Reservation reads beneficiary's reservation at vault.
func (c *Chain) Reservation(ctx context.Context, vault, beneficiary wallet.Address) (Reservation, error) {
	r := Reservation{Beneficiary: beneficiary}
	out, err := c.constant(ctx, contracts.Vault, vault, "reservations", evm(beneficiary))
	if err != nil {
		return r, fmt.Errorf("cannot read the reservation of %s at %s: %w", beneficiary, vault, err)
	}
	if len(out) != 3 {
		return r, fmt.Errorf("vault %s returned %d values for a reservation", vault, len(out))
	}
	if r.Amount, err = wallet.AmountFromBig(out[0].(*big.Int)); err != nil {
		return r, err
	}
	if r.Decrease, err = wallet.AmountFromBig(out[1].(*big.Int)); err != nil {
		return r, err
	}
	if !r.Decrease.IsZero() {
		r.DecreaseTime = time.Unix(out[2].(*big.Int).Int64(), 0)
	}
	r.Held = r.Amount.SubFloor(r.Decrease)
	return r, nil
}

// Reservations reads the vault at addr with every reservation it ever
// made (those lowered to zero included).
func (c *Chain) Reservations(ctx context.Context, addr wallet.Address) (VaultState, error) {
	s, err := c.Vault(ctx, addr)
	if err != nil {
		return s, err
	}
	out, err := c.constant(ctx, contracts.Vault, addr, "reservationHolders")
	if err != nil {
		return s, fmt.Errorf("cannot list the reservations of %s: %w", addr, err)
	}
	holders, _ := out[0].([]common.Address)
	s.Reservations = []Reservation{}
	for _, h := range holders {
		r, err := c.Reservation(ctx, addr, fromEVM(h))
		if err != nil {
			return s, err
		}
		s.Reservations = append(s.Reservations, r)
	}
	return s, nil
}

func asAddr(v any) common.Address {
	a, _ := v.(common.Address)
	return a
}

// Collateral returns payer's vault and what it guarantees payee: payee's
// reservation less its announced decrease, plus FreeShare percent of the
// vault's free collateral (unreserved balance less the announced
// withdrawal; none by default: other payees' cashes can take it, so
// counting it lets the payees of one vault together extend more than it
// holds), in the cheque token; and whether the vault is known (false:
// the payer has no vault at the configured factory, or the vault holds
// another token).
func (c *Chain) Collateral(ctx context.Context, payer, payee wallet.Address) (wallet.Address, wallet.Amount, bool, error) {
	v, err := c.VaultOf(ctx, payer)
	if errors.Is(err, ErrNoVault) {
		return wallet.Address{}, wallet.Amount{}, false, nil
	}
	if err != nil {
		return wallet.Address{}, wallet.Amount{}, false, err
	}
	s, err := c.Vault(ctx, v)
	if err != nil {
		return wallet.Address{}, wallet.Amount{}, false, err
	}
	if s.Token != c.cfg.Token || s.Issuer != payer {
		return v, wallet.Amount{}, false, nil
	}
	r, err := c.Reservation(ctx, v, payee)
	if err != nil {
		return wallet.Address{}, wallet.Amount{}, false, err
	}
	amount, err := r.Held.Add(share(s.Collateral, c.cfg.FreeShare))
	if err != nil {
		return wallet.Address{}, wallet.Amount{}, false, err
	}
	return v, amount, true, nil
}

// share is pct percent of a (rounded down; pct clamped to 0–100).
func share(a wallet.Amount, pct int) wallet.Amount {
	switch {
	case pct <= 0:
		return wallet.Amount{}
	case pct >= 100:
		return a
	}
	v := new(big.Int).Mul(a.Big(), big.NewInt(int64(pct)))
	s, _ := wallet.AmountFromBig(v.Quo(v, big.NewInt(100)))
	return s
}

// send packs method of a's ABI with args, and calls contract from from.
func (c *Chain) send(ctx context.Context, from *wallet.Key, a contracts.Artifact, contract wallet.Address, method string, args ...any) (*core.TransactionInfo, wallet.Receipt, error) {
	r := wallet.Receipt{From: from.Address(), To: contract}
	data, err := a.ABI.Pack(method, args...)
	if err != nil {
		return nil, r, fmt.Errorf("cannot pack %s: %w", method, err)
	}
	info, id, err := c.call(ctx, from, contract, data, nil)
	r.TxID = id
	if err != nil {
		return nil, r, fmt.Errorf("%s on %s: %w", method, contract, err)
	}
	r.Block = info.GetBlockNumber()
	return info, r, nil
}

// CreateVault makes from's vault for the cheque token at the configured
// factory, with withdrawal delay delay (at least the factory's 24 h), and
// returns its address.
func (c *Chain) CreateVault(ctx context.Context, from *wallet.Key, delay time.Duration) (wallet.Address, wallet.Receipt, error) {
	if c.cfg.Factory.IsZero() {
		return wallet.Address{}, wallet.Receipt{}, fmt.Errorf("no vault factory configured (vault_factory): %w", ErrNoVault)
	}
	_, r, err := c.send(ctx, from, contracts.Factory, c.cfg.Factory, "create", evm(c.cfg.Token), big.NewInt(int64(delay/time.Second)))
	if err != nil {
		return wallet.Address{}, r, fmt.Errorf("cannot create a vault: %w", err)
	}
	v, err := c.VaultOf(ctx, from.Address())
	return v, r, err
}

// Deposit moves amount of the cheque token from from into its vault: an
// approve of exactly amount, then the vault's deposit.
func (c *Chain) Deposit(ctx context.Context, from *wallet.Key, amount wallet.Amount) (wallet.Receipt, error) {
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	have, err := c.tokenBalance(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	if have.Cmp(amount) < 0 {
		return wallet.Receipt{}, fmt.Errorf("%s holds %s BTT, cannot deposit %s: %w", from.Address(), have.Format(wallet.BTTDecimals), amount.Format(wallet.BTTDecimals), wallet.ErrInsufficientFunds)
	}
	if _, _, err := c.send(ctx, from, contracts.Token, c.cfg.Token, "approve", evm(v), amount.Big()); err != nil {
		return wallet.Receipt{}, fmt.Errorf("cannot approve the deposit: %w", err)
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "deposit", amount.Big())
	r.Amount = amount
	if err != nil {
		return r, fmt.Errorf("cannot deposit: %w", err)
	}
	return r, nil
}

// RequestWithdrawal announces a withdrawal of amount from from's vault,
// possible after the vault's delay (zero cancels).
func (c *Chain) RequestWithdrawal(ctx context.Context, from *wallet.Key, amount wallet.Amount) (wallet.Receipt, error) {
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "requestWithdrawal", amount.Big())
	r.Amount = amount
	return r, err
}

// Withdraw makes the announced withdrawal from from's vault once it is
// due.
func (c *Chain) Withdraw(ctx context.Context, from *wallet.Key) (wallet.Receipt, error) {
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "withdraw")
	return r, err
}

// Reserve reserves amount more of from's vault's unreserved balance for
// payee: only payee's cashes can take it, and lowering it takes the
// vault's delay (RequestUnreserve, Unreserve).
func (c *Chain) Reserve(ctx context.Context, from *wallet.Key, payee wallet.Address, amount wallet.Amount) (wallet.Receipt, error) {
	if amount.IsZero() {
		return wallet.Receipt{}, fmt.Errorf("cannot reserve zero")
	}
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	s, err := c.Vault(ctx, v)
	if err != nil {
		return wallet.Receipt{}, err
	}
	if s.Unreserved.Cmp(amount) < 0 {
		return wallet.Receipt{}, fmt.Errorf("vault %s has %s BTT unreserved, cannot reserve %s: %w", v, s.Unreserved.Format(wallet.BTTDecimals), amount.Format(wallet.BTTDecimals), wallet.ErrInsufficientFunds)
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "reserve", evm(payee), amount.Big())
	r.Amount = amount
	if err != nil {
		return r, fmt.Errorf("cannot reserve %s BTT for %s: %w", amount.Format(wallet.BTTDecimals), payee, err)
	}
	return r, nil
}

// RequestUnreserve announces lowering payee's reservation in from's vault
// by amount, possible after the vault's delay (zero cancels; it replaces
// an earlier announcement for payee). Payees see it at once.
func (c *Chain) RequestUnreserve(ctx context.Context, from *wallet.Key, payee wallet.Address, amount wallet.Amount) (wallet.Receipt, error) {
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "requestUnreserve", evm(payee), amount.Big())
	r.Amount = amount
	return r, err
}

// Unreserve applies the announced lowering of payee's reservation in
// from's vault once it is due; the amount returns to the unreserved
// balance.
func (c *Chain) Unreserve(ctx context.Context, from *wallet.Key, payee wallet.Address) (wallet.Receipt, error) {
	v, err := c.VaultOf(ctx, from.Address())
	if err != nil {
		return wallet.Receipt{}, err
	}
	_, r, err := c.send(ctx, from, contracts.Vault, v, "unreserve", evm(payee))
	return r, err
}

// Cash cashes ch, a vault cheque paying from, at its payer's vault (the
// factory's answer): the vault pays from what ch adds over what from
// already cashed there, as far as its balance goes.
func (c *Chain) Cash(ctx context.Context, from *wallet.Key, ch wallet.Cheque) (CashResult, error) {
	return c.cash(ctx, from, ch, nil)
}

func (c *Chain) cash(ctx context.Context, from *wallet.Key, ch wallet.Cheque, record func(string, time.Time) error) (CashResult, error) {
	var res CashResult
	if ch.Beneficiary != from.Address() {
		return res, fmt.Errorf("cheque pays %s, not %s: %w", ch.Beneficiary, from.Address(), wallet.ErrMisaddressed)
	}
	v, err := c.VaultOf(ctx, ch.Payer)
	if err != nil {
		return res, err
	}
	if !ch.Vault.IsZero() && ch.Vault != v {
		return res, fmt.Errorf("cheque names vault %s, but %s's vault is %s: %w", ch.Vault, ch.Payer, v, wallet.ErrMisaddressed)
	}
	if err := ch.VerifyVault(v); err != nil {
		return res, fmt.Errorf("cheque is not for %s's vault %s: %w", ch.Payer, v, err)
	}
	data, err := contracts.Vault.ABI.Pack("cash", evm(from.Address()), ch.Cumulative.Big(), ch.Signature[:])
	if err != nil {
		return res, fmt.Errorf("cannot pack cash: %w", err)
	}
	info, id, err := c.call(ctx, from, v, data, record)
	res.Receipt = wallet.Receipt{TxID: id, From: from.Address(), To: v, Block: info.GetBlockNumber()}
	if err != nil {
		return res, err
	}
	res.Paid, res.FromReservation, res.Bounced, err = cashLogs(info, v)
	res.Receipt.Amount = res.Paid
	return res, err
}

// cashLogs reads the ChequeCashed and ChequeBounced events vault logged.
func cashLogs(info *core.TransactionInfo, vault wallet.Address) (paid, reserved, bounced wallet.Amount, err error) {
	cashed, bounce := contracts.Vault.ABI.Events["ChequeCashed"], contracts.Vault.ABI.Events["ChequeBounced"]
	found := false
	for _, l := range info.GetLog() {
		if !bytes.Equal(l.GetAddress(), vault[1:]) || len(l.GetTopics()) == 0 {
			continue
		}
		var ev abi.Event
		switch common.BytesToHash(l.GetTopics()[0]) {
		case cashed.ID:
			ev = cashed
		case bounce.ID:
			ev = bounce
		default:
			continue
		}
		vals, err := ev.Inputs.NonIndexed().Unpack(l.GetData())
		if err != nil || len(vals) != len(ev.Inputs.NonIndexed()) {
			return paid, reserved, bounced, fmt.Errorf("vault %s logged a bad %s: %v", vault, ev.Name, err)
		}
		a, err := wallet.AmountFromBig(vals[1].(*big.Int))
		if err != nil {
			return paid, reserved, bounced, err
		}
		if ev.Name == "ChequeCashed" {
			paid, found = a, true
			if reserved, err = wallet.AmountFromBig(vals[2].(*big.Int)); err != nil {
				return paid, reserved, bounced, err
			}
		} else {
			bounced = a
		}
	}
	if !found {
		return paid, reserved, bounced, fmt.Errorf("vault %s logged no ChequeCashed", vault)
	}
	return paid, reserved, bounced, nil
}

// customError names a revert with one of the contracts' custom errors
// ("" if none matches).
func customError(b []byte) string {
	if len(b) < 4 {
		return ""
	}
	for _, a := range []contracts.Artifact{contracts.Vault, contracts.Factory} {
		for name, e := range a.ABI.Errors {
			if bytes.Equal(e.ID[:4], b[:4]) {
				return name
			}
		}
	}
	return ""
}

// WithFeeLimit returns c with another fee limit, in sun, sharing its
// connection (creating a vault costs about 80 TRX of energy, more than a
// transfer's usual limit).
func (c *Chain) WithFeeLimit(sun int64) *Chain {
	d := *c
	d.cfg.FeeLimitSun = sun
	return &d
}

var (
	_ wallet.CollateralChain = (*Chain)(nil)
	_ wallet.VaultCasher     = (*Chain)(nil)
)

// payable is the most a cash by beneficiary at vault could pay now, as
// the vault's cash computes it: its reservation (at most the balance)
// plus the unreserved balance.
func (c *Chain) payable(ctx context.Context, vault, beneficiary wallet.Address) (wallet.Amount, error) {
	var bal, reserved wallet.Amount
	for _, f := range []struct {
		method string
		dst    *wallet.Amount
	}{{"balance", &bal}, {"totalReserved", &reserved}} {
		out, err := c.constant(ctx, contracts.Vault, vault, f.method)
		if err != nil {
			return wallet.Amount{}, fmt.Errorf("cannot read vault %s: %w", vault, err)
		}
		if *f.dst, err = wallet.AmountFromBig(out[0].(*big.Int)); err != nil {
			return wallet.Amount{}, err
		}
	}
	r, err := c.Reservation(ctx, vault, beneficiary)
	if err != nil {
		return wallet.Amount{}, err
	}
	sum, err := r.Amount.Min(bal).Add(bal.SubFloor(reserved))
	return sum, err
}

// Cashed returns what beneficiary has cashed at vault so far (its
// paidOut).
func (c *Chain) Cashed(ctx context.Context, vault, beneficiary wallet.Address) (wallet.Amount, error) {
	out, err := c.constant(ctx, contracts.Vault, vault, "paidOut", evm(beneficiary))
	if err != nil {
		return wallet.Amount{}, err
	}
	return wallet.AmountFromBig(out[0].(*big.Int))
}

// CashCheque is Cash for Wallet.Settle (wallet.VaultCasher). When the
// vault can pay from nothing (no reservation of ours, no unreserved
// balance: empty, or holding only other payees' reservations) it sends
// nothing: such a cash would pay 0, bounce all and burn our energy, and
// the threshold settlement would repeat it at every balance refresh.
// Everything owed is then the shortfall.
func (c *Chain) CashCheque(ctx context.Context, from *wallet.Key, ch wallet.Cheque, record func(string, time.Time) error) (wallet.Redemption, error) {
	red := wallet.Redemption{Cheque: ch}
	if !ch.Vault.IsZero() {
		can, err := c.payable(ctx, ch.Vault, from.Address())
		if err != nil {
			return red, err
		}
		if can.IsZero() {
			if red.Settled, err = c.Cashed(ctx, ch.Vault, from.Address()); err != nil {
				return red, err
			}
			red.Shortfall = ch.Cumulative.SubFloor(red.Settled)
			return red, nil
		}
	}
	res, err := c.cash(ctx, from, ch, record)
	red.TxID = res.Receipt.TxID
	if err != nil {
		return red, err
	}
	red.Paid, red.Shortfall = res.Paid, res.Bounced
	red.Settled, err = c.Cashed(ctx, ch.Vault, from.Address())
	return red, err
}
