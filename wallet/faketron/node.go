// Package faketron is an in-process TRON full node for tests: it serves
// gotron-sdk's gRPC WalletServer on 127.0.0.1, so the unmodified SDK
// client can query balances, build, sign, broadcast and confirm TRC-20
// transfers against it. It keeps TRX, TRC-10 and TRC-20 balances,
// verifies transaction signatures on broadcast, burns TRX for energy up to
// the fee limit, and can inject faults (unreachable, hanging, duplicate
// transaction, bad address, out of energy, never confirming) or tamper
// with the transactions it builds.
//
// Contracts run on go-ethereum's EVM (see machine): TRC-20 tokens are the
// TestToken compiled in package contracts, and anything bidtorrent
// deploys (the cheque vault) runs as it would on TRON's TVM, with EVM gas
// as the energy used. It models only what bidtorrent uses; every other
// RPC is unimplemented.
package faketron

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// Fault is a failure the node injects into every matching call.
type Fault int

// Faults.
const (
	NoFault      Fault = iota
	Unavailable        // every RPC fails with codes.Unavailable
	Hang               // every RPC blocks until the caller's deadline
	DuplicateTx        // broadcast answers DUP_TRANSACTION_ERROR
	BadAddress         // building a transfer fails validation: invalid address
	OutOfEnergy        // transfers execute and fail with OUT_OF_ENERGY
	NeverConfirm       // broadcast succeeds but the transaction never appears
)

// EnergyPriceSun is what a unit of energy (EVM gas used by a contract
// call or creation) burns from the caller's TRX, capped by the fee limit.
const EnergyPriceSun = 100

// Node is a fake TRON node. Its methods are safe for concurrent use.
type Node struct {
	lis net.Listener
	srv *grpc.Server

	mu           sync.Mutex // guards everything below
	fault        Fault
	trx          map[wallet.Address]int64
	trc10        map[string]map[wallet.Address]int64
	m            *machine
	skew         time.Duration                    // added to the wall clock for block times (Advance)
	txs          map[string]*core.TransactionInfo // by hex txid
	block        int64
	lastFeeLimit int64
	broadcasts   int
	apiKeys      []string
	tamper       func(*core.TransactionRaw)
	lastTx       string
}

// Start serves a new node of the Nile test network (block.chainid
// ChainIDNile) on 127.0.0.1:0.
func Start() (*Node, error) { return StartChain(wallet.ChainIDNile) }

// StartChain serves a new node whose contracts see block.chainid chainID.
func StartChain(chainID uint64) (*Node, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen: %w", err)
	}
	n := &Node{
		lis:   lis,
		trx:   map[wallet.Address]int64{},
		trc10: map[string]map[wallet.Address]int64{},
		m:     newMachine(chainID),
		txs:   map[string]*core.TransactionInfo{},
		block: 1000,
	}
	n.srv = grpc.NewServer(grpc.UnaryInterceptor(n.intercept))
	api.RegisterWalletServer(n.srv, &server{n: n})
	go func() { _ = n.srv.Serve(lis) }()
	return n, nil
}

// Addr returns the node's host:port.
func (n *Node) Addr() string { return n.lis.Addr().String() }

// Close stops the node.
func (n *Node) Close() { n.srv.Stop() }

// SetFault sets the injected fault (NoFault clears it).
func (n *Node) SetFault(f Fault) { n.mu.Lock(); n.fault = f; n.mu.Unlock() }

// SetTamper makes the node a liar: f rewrites the raw data of every
// transaction it builds (TriggerContract) before hashing it, as a node
// operator or a man in the middle could. nil restores honesty.
func (n *Node) SetTamper(f func(*core.TransactionRaw)) { n.mu.Lock(); n.tamper = f; n.mu.Unlock() }

// AddContract puts a TRC-20 token at contract (a TestToken, compiled
// from contracts/, with no holders), unless a contract is there already.
func (n *Node) AddContract(contract wallet.Address) { n.addToken(contract, false) }

// AddQuietToken puts at contract a TRC-20 token whose transfer and
// transferFrom return no data (as USDT on TRON does).
func (n *Node) AddQuietToken(contract wallet.Address) { n.addToken(contract, true) }

func (n *Node) addToken(contract wallet.Address, quiet bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.m.isContract(contract) {
		n.m.installToken(contract, quiet)
	}
}

// Advance moves the node's clock (block.timestamp) forward by d.
func (n *Node) Advance(d time.Duration) { n.mu.Lock(); n.skew += d; n.mu.Unlock() }

func (n *Node) now() time.Time { return time.Now().Add(n.skew) }

// SetTRX sets addr's TRX balance in sun.
func (n *Node) SetTRX(addr wallet.Address, sun int64) { n.mu.Lock(); n.trx[addr] = sun; n.mu.Unlock() }

// TRX returns addr's TRX balance in sun.
func (n *Node) TRX(addr wallet.Address) int64 { n.mu.Lock(); defer n.mu.Unlock(); return n.trx[addr] }

// SetTRC10 sets addr's balance of TRC-10 token id.
func (n *Node) SetTRC10(id string, addr wallet.Address, v int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.trc10[id] == nil {
		n.trc10[id] = map[wallet.Address]int64{}
	}
	n.trc10[id][addr] = v
}

// SetTRC20 sets addr's balance in a TRC-20 contract (registering it).
func (n *Node) SetTRC20(contract, addr wallet.Address, v wallet.Amount) {
	n.AddContract(contract)
	n.mu.Lock()
	n.m.setTokenBalance(contract, addr, v)
	n.mu.Unlock()
}

// TRC20 returns addr's balance in a TRC-20 contract.
func (n *Node) TRC20(contract, addr wallet.Address) wallet.Amount {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.tokenBalance(contract, addr)
}

// LastFeeLimit returns the fee limit of the last broadcast transaction.
func (n *Node) LastFeeLimit() int64 { n.mu.Lock(); defer n.mu.Unlock(); return n.lastFeeLimit }

// LastTx returns the hex id of the latest transaction accepted.
func (n *Node) LastTx() string { n.mu.Lock(); defer n.mu.Unlock(); return n.lastTx }

// Broadcasts returns how many transactions were accepted.
func (n *Node) Broadcasts() int { n.mu.Lock(); defer n.mu.Unlock(); return n.broadcasts }

// APIKeys returns the TRON-PRO-API-KEY headers seen, in order.
func (n *Node) APIKeys() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.apiKeys...)
}

func (n *Node) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	n.mu.Lock()
	f := n.fault
	if md, ok := metadataFrom(ctx); ok {
		n.apiKeys = append(n.apiKeys, md...)
	}
	n.mu.Unlock()
	switch f {
	case Unavailable:
		return nil, status.Error(codes.Unavailable, "fake node: unavailable")
	case Hang:
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return h(ctx, req)
}

// server implements api.WalletServer for a Node.
type server struct {
	api.UnimplementedWalletServer
	n *Node
}

func ok() *api.Return { return &api.Return{Result: true, Code: api.Return_SUCCESS} }

func fail(code api.ReturnResponseCode, msg string) *api.Return {
	return &api.Return{Result: false, Code: code, Message: []byte(msg)}
}

func addrOf(b []byte) (wallet.Address, error) { return wallet.AddressFromBytes(b) }

func (s *server) GetAccount(_ context.Context, in *core.Account) (*core.Account, error) {
	a, err := addrOf(in.GetAddress())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	trx, known := n.trx[a]
	acc := &core.Account{Balance: trx, AssetV2: map[string]int64{}}
	for id, m := range n.trc10 {
		if v, ok := m[a]; ok {
			acc.AssetV2[id] = v
			known = true
		}
	}
	if !known {
		return &core.Account{}, nil // as a real node answers for an unknown account
	}
	acc.Address = a.Bytes()
	return acc, nil
}

func (s *server) TriggerConstantContract(_ context.Context, in *core.TriggerSmartContract) (*api.TransactionExtention, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	c, err := addrOf(in.GetContractAddress())
	if err != nil || !n.m.isContract(c) {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_VALIDATE_ERROR, "No contract or not a smart contract")}, nil
	}
	var from common.Address
	if o, err := addrOf(in.GetOwnerAddress()); err == nil {
		from = evmAddr(o)
	}
	r := n.m.view(n.block, uint64(n.now().Unix()), from, evmAddr(c), in.GetData())
	if r.err != nil {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_EXE_ERROR, "REVERT opcode executed"), ConstantResult: [][]byte{r.ret}, EnergyUsed: int64(r.gasUsed)}, nil
	}
	return &api.TransactionExtention{Result: ok(), ConstantResult: [][]byte{r.ret}, EnergyUsed: int64(r.gasUsed)}, nil
}

func (s *server) TriggerContract(_ context.Context, in *core.TriggerSmartContract) (*api.TransactionExtention, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fault == BadAddress {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_VALIDATE_ERROR, "Invalid address")}, nil
	}
	if _, err := addrOf(in.GetOwnerAddress()); err != nil {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_VALIDATE_ERROR, "Invalid ownerAddress")}, nil
	}
	c, err := addrOf(in.GetContractAddress())
	if err != nil || !n.m.isContract(c) {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_VALIDATE_ERROR, "No contract or not a valid smart contract")}, nil
	}
	return n.build(core.Transaction_Contract_TriggerSmartContract, in)
}

// DeployContract builds a contract creation.
func (s *server) DeployContract(_ context.Context, in *core.CreateSmartContract) (*api.TransactionExtention, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := addrOf(in.GetOwnerAddress()); err != nil || len(in.GetNewContract().GetBytecode()) == 0 {
		return &api.TransactionExtention{Result: fail(api.Return_CONTRACT_VALIDATE_ERROR, "Invalid ownerAddress or no bytecode")}, nil
	}
	return n.build(core.Transaction_Contract_CreateSmartContract, in)
}

// build wraps one contract in an unsigned transaction, as a node does
// (tampered with when SetTamper says so). Under n.mu.
func (n *Node) build(typ core.Transaction_Contract_ContractType, in proto.Message) (*api.TransactionExtention, error) {
	param, err := anypb.New(in)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	now := time.Now()
	var ref [8]byte
	binary.BigEndian.PutUint64(ref[:], uint64(n.block))
	raw := &core.TransactionRaw{
		RefBlockBytes: ref[6:],
		RefBlockHash:  ref[:],
		Expiration:    now.Add(60 * time.Second).UnixMilli(),
		Timestamp:     now.UnixNano() / 1000, // distinct per build
		Contract: []*core.Transaction_Contract{{
			Type:      typ,
			Parameter: param,
		}},
	}
	if n.tamper != nil {
		n.tamper(raw)
	}
	tx := &core.Transaction{RawData: raw}
	b, err := proto.Marshal(raw)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	id := sha256.Sum256(b)
	return &api.TransactionExtention{Transaction: tx, Txid: id[:], Result: ok(), ConstantResult: [][]byte{{}}}, nil
}

func (s *server) BroadcastTransaction(_ context.Context, tx *core.Transaction) (*api.Return, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fault == DuplicateTx {
		return fail(api.Return_DUP_TRANSACTION_ERROR, "dup transaction"), nil
	}
	raw := tx.GetRawData()
	if raw == nil || len(raw.GetContract()) != 1 {
		return fail(api.Return_OTHER_ERROR, "malformed transaction"), nil
	}
	b, err := proto.Marshal(raw)
	if err != nil {
		return fail(api.Return_OTHER_ERROR, "malformed transaction"), nil
	}
	h := sha256.Sum256(b)
	id := hex.EncodeToString(h[:])
	if _, dup := n.txs[id]; dup {
		return fail(api.Return_DUP_TRANSACTION_ERROR, "dup transaction"), nil
	}
	if time.Now().UnixMilli() > raw.GetExpiration() {
		return fail(api.Return_TRANSACTION_EXPIRATION_ERROR, "transaction expired"), nil
	}
	ct := raw.GetContract()[0]
	var tsc core.TriggerSmartContract
	var csc core.CreateSmartContract
	var ownerBytes []byte
	switch {
	case ct.GetType() == core.Transaction_Contract_TriggerSmartContract && ct.GetParameter().UnmarshalTo(&tsc) == nil:
		ownerBytes = tsc.GetOwnerAddress()
		if tsc.GetCallValue() != 0 || tsc.GetCallTokenValue() != 0 {
			return fail(api.Return_CONTRACT_VALIDATE_ERROR, "fake node: call value is not supported"), nil
		}
	case ct.GetType() == core.Transaction_Contract_CreateSmartContract && ct.GetParameter().UnmarshalTo(&csc) == nil:
		ownerBytes = csc.GetOwnerAddress()
	default:
		return fail(api.Return_CONTRACT_VALIDATE_ERROR, "fake node: only contract calls and creations are supported"), nil
	}
	owner, err := addrOf(ownerBytes)
	if err != nil {
		return fail(api.Return_CONTRACT_VALIDATE_ERROR, "Invalid ownerAddress"), nil
	}
	if len(tx.GetSignature()) != 1 || len(tx.GetSignature()[0]) != 65 {
		return fail(api.Return_SIGERROR, "missing signature"), nil
	}
	sig := append([]byte(nil), tx.GetSignature()[0]...)
	if sig[64] >= 27 {
		sig[64] -= 27
	}
	pub, err := crypto.SigToPub(h[:], sig)
	if err != nil || wallet.AddressFromPublicKey(pub) != owner {
		return fail(api.Return_SIGERROR, "validate signature error: signer is not the owner"), nil
	}
	n.lastFeeLimit = raw.GetFeeLimit()
	n.broadcasts++
	n.block++
	n.lastTx = id
	var to *common.Address
	data := csc.GetNewContract().GetBytecode()
	if ct.GetType() == core.Transaction_Contract_TriggerSmartContract {
		c, _ := addrOf(tsc.GetContractAddress())
		a := evmAddr(c)
		to, data = &a, tsc.GetData()
	}
	info := n.execute(common.Hash(h), owner, to, data, raw.GetFeeLimit())
	info.Id = h[:]
	info.BlockNumber = n.block
	info.BlockTimeStamp = n.now().UnixMilli()
	n.txs[id] = info
	return ok(), nil
}

// execute runs a contract call (to != nil) or creation on the EVM with
// the energy the fee limit and the owner's TRX pay for, burns the fee,
// and returns the receipt (without id/block). Under n.mu.
func (n *Node) execute(txHash common.Hash, owner wallet.Address, to *common.Address, data []byte, feeLimit int64) *core.TransactionInfo {
	info := &core.TransactionInfo{Receipt: &core.ResourceReceipt{}}
	budget := min(feeLimit, n.trx[owner])
	burn := func(sun int64) {
		n.trx[owner] -= sun
		info.Fee, info.Receipt.EnergyFee = sun, sun
	}
	failWith := func(r core.Transaction_ResultContractResult, msg string, result []byte) *core.TransactionInfo {
		info.Result = core.TransactionInfo_FAILED
		info.Receipt.Result = r
		info.ResMessage = []byte(msg)
		info.ContractResult = [][]byte{result}
		return info
	}
	if n.fault == OutOfEnergy {
		burn(budget)
		return failWith(core.Transaction_Result_OUT_OF_ENERGY, "Not enough energy for 'SSTORE' operation executing", nil)
	}
	r := n.m.run(txHash, n.block, uint64(n.now().Unix()), evmAddr(owner), to, data, uint64(max(budget, 0)/EnergyPriceSun))
	info.Receipt.EnergyUsageTotal = int64(r.gasUsed)
	switch {
	case errors.Is(r.err, vm.ErrOutOfGas) || errors.Is(r.err, vm.ErrCodeStoreOutOfGas):
		burn(budget)
		return failWith(core.Transaction_Result_OUT_OF_ENERGY, "Not enough energy for 'SSTORE' operation executing", nil)
	case r.err != nil:
		burn(int64(r.gasUsed) * EnergyPriceSun)
		return failWith(core.Transaction_Result_REVERT, "REVERT opcode executed", r.ret)
	}
	burn(int64(r.gasUsed) * EnergyPriceSun)
	info.Receipt.Result = core.Transaction_Result_SUCCESS
	info.ContractResult = [][]byte{r.ret}
	if to == nil {
		a := tronAddr(r.created)
		info.ContractAddress = a.Bytes()
	}
	for _, l := range r.logs {
		tl := &core.TransactionInfo_Log{Address: l.Address.Bytes(), Data: l.Data}
		for _, t := range l.Topics {
			tl.Topics = append(tl.Topics, t.Bytes())
		}
		info.Log = append(info.Log, tl)
	}
	return info
}

func (s *server) GetTransactionInfoById(_ context.Context, in *api.BytesMessage) (*core.TransactionInfo, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	info, ok := n.txs[hex.EncodeToString(in.GetValue())]
	if !ok || n.fault == NeverConfirm {
		return &core.TransactionInfo{}, nil
	}
	return proto.Clone(info).(*core.TransactionInfo), nil
}

// ErrNoSuchTx is returned by Receipt for unknown transactions.
var ErrNoSuchTx = errors.New("no such transaction")

// Receipt returns a transaction's receipt by hex id.
func (n *Node) Receipt(id string) (*core.TransactionInfo, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	info, ok := n.txs[id]
	if !ok {
		return nil, ErrNoSuchTx
	}
	return proto.Clone(info).(*core.TransactionInfo), nil
}
