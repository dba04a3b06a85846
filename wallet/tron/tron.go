// Package tron is the TRON network settlement backend: balances (TRX,
// TRC-20 BTT, legacy TRC-10 BTT 1002000) and TRC-20 transfers with an
// explicit fee limit, over gotron-sdk's gRPC client, with confirmation
// polling. Cheques are settled by the payer with a transfer (TRON has no
// cheque vault yet), so Redeem and Faucet return wallet.ErrNotSupported.
//
// Errors wrap the wallet sentinels: ErrUnreachable, ErrTimeout,
// ErrInsufficientFunds, ErrInsufficientEnergy, ErrDuplicateTx,
// ErrBadAddress, ErrBadSignature.
package tron

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/client"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// BTT10ID is the legacy TRC-10 BTT token id.
const BTT10ID = "1002000"

// Config selects a node and the transfer parameters.
type Config struct {
	Network        string         // "mainnet", "nile" or "shasta" (names the chain)
	ChainID        uint64         // TIP-712 chain id of cheques on this network
	Endpoint       string         // gRPC host:port
	Plaintext      bool           // dial without TLS (a local node; see wallet.Config.Plaintext)
	APIKey         string         // TRON-PRO-API-KEY, sent as gRPC metadata; may be empty
	Token          wallet.Address // the TRC-20 BTT contract
	FeeLimitSun    int64          // fee limit of contract calls (transfers, vault operations), in sun
	Factory        wallet.Address // the VaultFactory payers' vaults come from; zero: no vaults
	FreeShare      int            // percent of a vault's free collateral a payee counts besides its reservation (Chain.Collateral)
	RPCTimeout     time.Duration  // per call
	ConfirmTimeout time.Duration  // for a broadcast transaction to be confirmed
	PollInterval   time.Duration  // between confirmation polls; zero means 1s
}

// FromWallet builds a Config from the [wallet] section.
func FromWallet(c wallet.Config) Config {
	n := c.Network()
	ep, plain := c.Dial()
	return Config{
		Network: n.Name, ChainID: n.ChainID, Endpoint: ep, Plaintext: plain, APIKey: c.APIKey(),
		Token: c.TokenAddress(), FeeLimitSun: c.FeeLimitSun, Factory: c.FactoryAddress(),
		FreeShare:  c.VaultFreeShare,
		RPCTimeout: c.RPCTimeout.Duration, ConfirmTimeout: c.ConfirmTimeout.Duration,
	}
}

// Chain is a connection to a TRON node. It implements wallet.Chain.
type Chain struct {
	cfg Config
	g   *client.GrpcClient
}

var _ wallet.Chain = (*Chain)(nil)

// Dial prepares a client for cfg.Endpoint. gRPC connects lazily: an
// unreachable node shows up as ErrUnreachable on the first call.
func Dial(cfg Config) (*Chain, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("no TRON node endpoint configured")
	}
	if cfg.FeeLimitSun <= 0 {
		return nil, fmt.Errorf("fee limit must be positive, not %d", cfg.FeeLimitSun)
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = 10 * time.Second
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = 90 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	g := client.NewGrpcClientWithTimeout(cfg.Endpoint, cfg.RPCTimeout)
	creds := credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	if cfg.Plaintext {
		creds = insecure.NewCredentials()
	}
	if err := g.Start(grpc.WithTransportCredentials(creds)); err != nil {
		return nil, fmt.Errorf("cannot set up a client for %s: %w", cfg.Endpoint, err)
	}
	if cfg.APIKey != "" {
		_ = g.SetAPIKey(cfg.APIKey)
	}
	return &Chain{cfg: cfg, g: g}, nil
}

// Close releases the connection.
func (c *Chain) Close() { c.g.Stop() }

// Name returns the network name.
func (c *Chain) Name() string { return c.cfg.Network }

// ChainID returns the network's TIP-712 chain id.
func (c *Chain) ChainID() uint64 { return c.cfg.ChainID }

// Token returns the TRC-20 BTT contract.
func (c *Chain) Token() wallet.Address { return c.cfg.Token }

func (c *Chain) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.RPCTimeout)
}

// Balance returns addr's TRX, TRC-20 BTT and TRC-10 BTT balances. An
// account the network has never seen has zero of everything.
func (c *Chain) Balance(ctx context.Context, addr wallet.Address) (wallet.Balance, error) {
	var b wallet.Balance
	rctx, cancel := c.rpcCtx(ctx)
	acc, err := c.g.GetAccountCtx(rctx, addr.String())
	cancel()
	switch {
	case err != nil && strings.Contains(err.Error(), "account not found"):
	case err != nil:
		return b, c.mapErr("get account", err)
	default:
		b.TRX = wallet.NewAmount(uint64(max(acc.GetBalance(), 0)))
		b.BTT10 = wallet.NewAmount(uint64(max(acc.GetAssetV2()[BTT10ID], 0)))
	}
	tok, err := c.tokenBalance(ctx, addr)
	if err != nil {
		return b, err
	}
	b.Token = tok
	return b, nil
}

func (c *Chain) tokenBalance(ctx context.Context, addr wallet.Address) (wallet.Amount, error) {
	rctx, cancel := c.rpcCtx(ctx)
	defer cancel()
	v, err := c.g.TRC20ContractBalanceCtx(rctx, addr.String(), c.cfg.Token.String())
	if err != nil {
		return wallet.Amount{}, c.mapErr("get the TRC-20 balance", err)
	}
	a, err := wallet.AmountFromBig(v)
	if err != nil {
		return wallet.Amount{}, fmt.Errorf("node returned a bad TRC-20 balance: %w", err)
	}
	return a, nil
}

// Send transfers amount of the TRC-20 token from from to to with the
// configured fee limit, signs, broadcasts, and polls until the
// transaction is confirmed or ConfirmTimeout passes (ErrTimeout: the
// transaction may still land; check its id before retrying).
func (c *Chain) Send(ctx context.Context, from *wallet.Key, to wallet.Address, amount wallet.Amount) (wallet.Receipt, error) {
	return c.SendTracked(ctx, from, to, amount, nil)
}

var _ wallet.TrackedSender = (*Chain)(nil)

// SendTracked is Send, calling record (if not nil) with the transaction
// id and expiry after signing and before broadcasting.
func (c *Chain) SendTracked(ctx context.Context, from *wallet.Key, to wallet.Address, amount wallet.Amount, record func(txid string, expires time.Time) error) (wallet.Receipt, error) {
	r := wallet.Receipt{From: from.Address(), To: to, Amount: amount}
	if to[0] != wallet.AddressPrefix {
		return r, fmt.Errorf("recipient unset: %w", wallet.ErrBadAddress)
	}
	if amount.IsZero() {
		return r, fmt.Errorf("cannot send zero")
	}
	have, err := c.tokenBalance(ctx, from.Address())
	if err != nil {
		return r, err
	}
	if have.Cmp(amount) < 0 {
		return r, fmt.Errorf("%s holds %s BTT, cannot send %s: %w", from.Address(), have.Format(wallet.BTTDecimals), amount.Format(wallet.BTTDecimals), wallet.ErrInsufficientFunds)
	}
	info, id, err := c.call(ctx, from, c.cfg.Token, transferData(to, amount), record)
	r.TxID = id
	if err != nil {
		return r, err
	}
	r.Block = info.GetBlockNumber()
	return r, nil
}

// call has the node build a call of contract with data from from, checks
// that the node built exactly that (checkTx), signs, calls record (if not
// nil) with the transaction id and expiry, broadcasts and waits for the
// receipt. It returns the receipt and the transaction id (known once
// signed, even when broadcasting or confirming fails).
func (c *Chain) call(ctx context.Context, from *wallet.Key, contract wallet.Address, data []byte, record func(txid string, expires time.Time) error) (*core.TransactionInfo, string, error) {
	want := &core.TriggerSmartContract{OwnerAddress: from.Address().Bytes(), ContractAddress: contract.Bytes(), Data: data}
	return c.transact(ctx, from, core.Transaction_Contract_TriggerSmartContract, want, func(ctx context.Context) (*api.TransactionExtention, error) {
		return c.g.TriggerContractWithDataCtx(ctx, from.Address().String(), contract.String(), data, c.cfg.FeeLimitSun, 0, "", 0)
	}, record)
}

// transact is call for any contract type: build asks the node for the
// transaction, want is the contract it must hold.
func (c *Chain) transact(ctx context.Context, from *wallet.Key, typ core.Transaction_Contract_ContractType, want proto.Message, build func(context.Context) (*api.TransactionExtention, error), record func(string, time.Time) error) (*core.TransactionInfo, string, error) {
	rctx, cancel := c.rpcCtx(ctx)
	ext, err := build(rctx)
	cancel()
	if err != nil {
		return nil, "", c.mapErr("build the transaction", err)
	}
	tx, err := checkTx(ext, typ, want, c.cfg.FeeLimitSun, time.Now())
	if err != nil {
		return nil, "", err
	}
	if tx, err = signTx(from, tx); err != nil {
		return nil, "", fmt.Errorf("cannot sign the transaction: %w", err)
	}
	id := hex.EncodeToString(ext.GetTxid())
	if record != nil {
		if err := record(id, time.UnixMilli(tx.GetRawData().GetExpiration())); err != nil {
			return nil, id, fmt.Errorf("not broadcast: %w", err)
		}
	}
	rctx, cancel = c.rpcCtx(ctx)
	res, err := c.g.BroadcastCtx(rctx, tx)
	cancel()
	if err != nil {
		return nil, id, c.mapBroadcast(res, err)
	}
	info, err := c.confirm(ctx, id)
	return info, id, err
}

// TxStatus looks a transaction up: confirmed, failed, or unknown (not in
// a block).
func (c *Chain) TxStatus(ctx context.Context, txid string) (wallet.TxStatus, error) {
	rctx, cancel := c.rpcCtx(ctx)
	defer cancel()
	info, err := c.g.GetTransactionInfoByIDCtx(rctx, txid)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return wallet.TxUnknown, nil
		}
		return wallet.TxUnknown, c.mapErr("get transaction "+txid, err)
	}
	if receiptErr(txid, info) != nil {
		return wallet.TxFailed, nil
	}
	return wallet.TxConfirmed, nil
}

// confirm polls for the transaction's receipt.
func (c *Chain) confirm(ctx context.Context, id string) (*core.TransactionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConfirmTimeout)
	defer cancel()
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		rctx, rcancel := c.rpcCtx(ctx)
		info, err := c.g.GetTransactionInfoByIDCtx(rctx, id)
		rcancel()
		if err == nil {
			return info, receiptErr(id, info)
		}
		if !strings.Contains(err.Error(), "not found") {
			if ctx.Err() == nil || !errors.Is(c.mapErr("", err), wallet.ErrTimeout) {
				return nil, c.mapErr("get transaction "+id, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s not confirmed within %s: %w", id, c.cfg.ConfirmTimeout, wallet.ErrTimeout)
		case <-t.C:
		}
	}
}

func receiptErr(id string, info *core.TransactionInfo) error {
	res := info.GetReceipt().GetResult()
	if info.GetResult() == core.TransactionInfo_SUCESS && (res == core.Transaction_Result_SUCCESS || res == core.Transaction_Result_DEFAULT) {
		return nil
	}
	msg := string(info.GetResMessage())
	if r := decodeRevert(info.GetContractResult()); r != "" {
		msg += ": " + r
	}
	switch {
	case res == core.Transaction_Result_OUT_OF_ENERGY:
		return fmt.Errorf("transaction %s failed (%s), %d sun burnt: %w", id, msg, info.GetFee(), wallet.ErrInsufficientEnergy)
	case strings.Contains(strings.ToLower(msg), "balance"):
		return fmt.Errorf("transaction %s reverted (%s): %w", id, msg, wallet.ErrInsufficientFunds)
	}
	return fmt.Errorf("transaction %s failed: %s (%s)", id, res, msg)
}

// decodeRevert extracts the reason of an Error(string) revert, if any.
func decodeRevert(results [][]byte) string {
	if len(results) == 0 {
		return ""
	}
	b := results[0]
	if len(b) < 68 || hex.EncodeToString(b[:4]) != "08c379a0" {
		return customError(b)
	}
	var n int
	for _, x := range b[36+24 : 68] {
		n = n<<8 | int(x)
	}
	if n < 0 || 68+n > len(b) {
		return ""
	}
	return string(b[68 : 68+n])
}

func (c *Chain) mapBroadcast(res *api.Return, err error) error {
	if res == nil {
		return c.mapErr("broadcast", err)
	}
	msg := string(res.GetMessage())
	switch res.GetCode() {
	case api.Return_DUP_TRANSACTION_ERROR:
		return fmt.Errorf("broadcast refused (%s): %w", msg, wallet.ErrDuplicateTx)
	case api.Return_SIGERROR:
		return fmt.Errorf("broadcast refused (%s): %w", msg, wallet.ErrBadSignature)
	case api.Return_BANDWITH_ERROR:
		return fmt.Errorf("broadcast refused (%s): %w", msg, wallet.ErrInsufficientEnergy)
	}
	return c.mapErr("broadcast", err)
}

// mapErr wraps SDK and gRPC errors in the wallet sentinels.
func (c *Chain) mapErr(what string, err error) error {
	if what != "" {
		what = "cannot " + what + ": "
	}
	msg := err.Error()
	low := strings.ToLower(msg)
	st, isStatus := status.FromError(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isStatus && st.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("%snode %s did not answer in time: %w", what, c.cfg.Endpoint, wallet.ErrTimeout)
	case isStatus && st.Code() == codes.Unavailable:
		return fmt.Errorf("%snode %s: %s: %w", what, c.cfg.Endpoint, st.Message(), wallet.ErrUnreachable)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s%w", what, err)
	case strings.Contains(low, "balance is not sufficient") || strings.Contains(low, "exceeds balance"):
		return fmt.Errorf("%s%s: %w", what, msg, wallet.ErrInsufficientFunds)
	case strings.Contains(low, "dup transaction"):
		return fmt.Errorf("%s%s: %w", what, msg, wallet.ErrDuplicateTx)
	case strings.Contains(low, "address") || strings.Contains(low, "no contract"):
		return fmt.Errorf("%s%s: %w", what, msg, wallet.ErrBadAddress)
	}
	return fmt.Errorf("%s%w", what, err)
}

// Redeem is not supported on TRON: the payer settles with Send.
func (c *Chain) Redeem(context.Context, wallet.Cheque) (wallet.Redemption, error) {
	return wallet.Redemption{}, fmt.Errorf("TRON has no cheque vault (the payer settles by transfer): %w", wallet.ErrNotSupported)
}

// Faucet is not supported on TRON.
func (c *Chain) Faucet(context.Context, wallet.Address, wallet.Amount) error {
	return fmt.Errorf("there is no faucet on %s: %w", c.cfg.Network, wallet.ErrNotSupported)
}

// signTx appends from's signature over sha256(raw data), as TRON expects
// (v ∈ {0, 1}; the transaction id is the same hash).
func signTx(from *wallet.Key, tx *core.Transaction) (*core.Transaction, error) {
	raw, err := proto.Marshal(tx.GetRawData())
	if err != nil {
		return nil, err
	}
	sig, err := from.SignHash(sha256.Sum256(raw))
	if err != nil {
		return nil, err
	}
	sig[64] -= 27
	tx.Signature = append(tx.Signature, sig[:])
	return tx, nil
}
