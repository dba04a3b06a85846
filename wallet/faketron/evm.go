package faketron

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"

	"github.com/bidtorrent/bidtorrent/contracts"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// machine runs contracts on go-ethereum's EVM with TRON's conventions:
// 20-byte addresses inside (the 0x41 prefix dropped), block.chainid the
// network's TIP-712 chain id, and the instruction set of paris (no PUSH0:
// TRON enables later opcodes only by governance vote). Contract
// addresses follow Ethereum's rule, not TRON's: callers read the address
// from the transaction's receipt, as they must on TRON. Guarded by
// Node.mu.
type machine struct {
	db      *state.StateDB
	config  *params.ChainConfig
	scratch common.Address // where helper contracts are created before their code is copied
}

func newMachine(chainID uint64) *machine {
	db, err := state.New(types.EmptyRootHash, state.NewDatabase(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil), nil))
	if err != nil {
		panic(err) // an empty in-memory state cannot fail
	}
	zero := big.NewInt(0)
	cfg := &params.ChainConfig{
		ChainID: new(big.Int).SetUint64(chainID), HomesteadBlock: zero, EIP150Block: zero, EIP155Block: zero,
		EIP158Block: zero, ByzantiumBlock: zero, ConstantinopleBlock: zero, PetersburgBlock: zero,
		IstanbulBlock: zero, MuirGlacierBlock: zero, BerlinBlock: zero, LondonBlock: zero,
		ArrowGlacierBlock: zero, GrayGlacierBlock: zero, TerminalTotalDifficulty: zero,
	}
	return &machine{db: db, config: cfg, scratch: common.HexToAddress("0xfacade")}
}

func evmAddr(a wallet.Address) common.Address { return a.EVM() }

func tronAddr(a common.Address) wallet.Address { return wallet.AddressFromEVM(a) }

// evm returns an EVM for a block at number and unix time now.
func (m *machine) evm(number int64, now uint64, origin common.Address) *vm.EVM {
	random := common.Hash{1}
	ctx := vm.BlockContext{
		CanTransfer: core.CanTransfer, Transfer: core.Transfer,
		GetHash:     func(n uint64) common.Hash { return crypto.Keccak256Hash(new(big.Int).SetUint64(n).Bytes()) },
		BlockNumber: big.NewInt(number), Time: now, Difficulty: big.NewInt(0), BaseFee: big.NewInt(0),
		BlobBaseFee: big.NewInt(0), GasLimit: 100_000_000, Random: &random,
	}
	e := vm.NewEVM(ctx, m.db, m.config, vm.Config{})
	e.SetTxContext(vm.TxContext{Origin: origin, GasPrice: uint256.NewInt(0)})
	return e
}

// result is one execution's outcome.
type result struct {
	ret     []byte
	gasUsed uint64
	created common.Address
	logs    []*types.Log
	err     error // vm.ErrExecutionReverted, vm.ErrOutOfGas, ...
}

// run executes a call (to != nil) or a creation with gas, as
// transaction txHash; a failed execution changes nothing.
func (m *machine) run(txHash common.Hash, number int64, now uint64, from common.Address, to *common.Address, data []byte, gas uint64) result {
	m.db.SetTxContext(txHash, 0)
	e := m.evm(number, now, from)
	rules := m.config.Rules(big.NewInt(number), true, now)
	m.db.Prepare(rules, from, common.Address{}, to, vm.ActivePrecompiles(rules), nil)
	var r result
	var left uint64
	if to != nil {
		r.ret, left, r.err = e.Call(from, *to, data, gas, new(uint256.Int))
	} else {
		r.ret, r.created, left, r.err = e.Create(from, data, gas, new(uint256.Int))
		if r.err == nil {
			r.ret = nil
		}
	}
	r.gasUsed = gas - left
	if r.err == nil {
		r.logs = m.db.GetLogs(txHash, uint64(number), common.Hash{}, now)
	}
	m.db.Finalise(true)
	return r
}

// view runs a call and discards its effects (constant calls).
func (m *machine) view(number int64, now uint64, from, to common.Address, data []byte) result {
	snap := m.db.Snapshot()
	defer m.db.RevertToSnapshot(snap)
	e := m.evm(number, now, from)
	ret, left, err := e.Call(from, to, data, 50_000_000, new(uint256.Int))
	return result{ret: ret, gasUsed: 50_000_000 - left, err: err}
}

// installToken puts a TestToken (quiet: transfer returns no data) at addr.
func (m *machine) installToken(addr wallet.Address, quiet bool) {
	code, err := contracts.Token.Deploy(quiet)
	if err != nil {
		panic(err)
	}
	m.db.SetNonce(m.scratch, m.db.GetNonce(m.scratch)+1, 0)
	r := m.run(common.Hash{}, 0, 0, m.scratch, nil, code, 10_000_000)
	if r.err != nil {
		panic(fmt.Sprintf("cannot create the test token: %v", r.err))
	}
	m.db.SetCode(evmAddr(addr), m.db.GetCode(r.created), 0)
}

// isContract reports whether addr holds code.
func (m *machine) isContract(addr wallet.Address) bool { return len(m.db.GetCode(evmAddr(addr))) > 0 }

// tokenBalanceSlot is the storage slot of balanceOf[holder] in TestToken
// (totalSupply is slot 0, balanceOf slot 1).
func tokenBalanceSlot(holder wallet.Address) common.Hash {
	var buf [64]byte
	copy(buf[12:32], holder[1:])
	buf[63] = 1
	return crypto.Keccak256Hash(buf[:])
}

// setTokenBalance writes holder's balance in a TestToken directly.
func (m *machine) setTokenBalance(token, holder wallet.Address, v wallet.Amount) {
	m.db.SetState(evmAddr(token), tokenBalanceSlot(holder), common.Hash(v.Bytes32()))
	m.db.Finalise(true)
}

// tokenBalance reads holder's balance in a TestToken.
func (m *machine) tokenBalance(token, holder wallet.Address) wallet.Amount {
	h := m.db.GetState(evmAddr(token), tokenBalanceSlot(holder))
	a, _ := wallet.AmountFromBytes(h[:])
	return a
}
