// Package contracts holds bidtorrent's TRON contracts, compiled: the
// cheque vault (src/ChequeVault.sol, one per payer: deposits, delayed
// withdrawals, cheques cashed by their beneficiary), the factory that
// makes vaults and tells payees which vault is a payer's
// (src/VaultFactory.sol), and the TRC-20 test
// token the fake TRON node runs as BTT (src/TestToken.sol, optionally
// "quiet": transfer returning no data, as USDT on TRON does).
//
// build/ is written by build.js with the pinned npm solc (evmVersion
// paris) and committed; TestBuildReproducible recompiles and requires the
// same bytes.
package contracts

import (
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
)

//go:embed build/*.json
var build embed.FS

// Artifact is one compiled contract.
type Artifact struct {
	Name     string
	Compiler string
	ABI      abi.ABI
	ABIJSON  string // as solc wrote it
	Code     []byte // creation bytecode (append the packed constructor arguments)
	Runtime  []byte // deployed bytecode
}

// The compiled contracts.
var (
	Vault   = mustLoad("ChequeVault")
	Factory = mustLoad("VaultFactory")
	Token   = mustLoad("TestToken")
)

func mustLoad(name string) Artifact {
	a, err := load(name)
	if err != nil {
		panic(err) // the embedded files are part of the binary
	}
	return a
}

func load(name string) (Artifact, error) {
	b, err := build.ReadFile("build/" + name + ".json")
	if err != nil {
		return Artifact{}, err
	}
	var raw struct {
		Contract, Compiler, Bytecode, DeployedBytecode string
		ABI                                            json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Artifact{}, fmt.Errorf("contract %s: %w", name, err)
	}
	a := Artifact{Name: raw.Contract, Compiler: raw.Compiler, ABIJSON: string(raw.ABI)}
	if a.ABI, err = abi.JSON(strings.NewReader(a.ABIJSON)); err != nil {
		return Artifact{}, fmt.Errorf("contract %s ABI: %w", name, err)
	}
	if a.Code, err = hex.DecodeString(raw.Bytecode); err != nil {
		return Artifact{}, fmt.Errorf("contract %s bytecode: %w", name, err)
	}
	if a.Runtime, err = hex.DecodeString(raw.DeployedBytecode); err != nil {
		return Artifact{}, fmt.Errorf("contract %s runtime: %w", name, err)
	}
	return a, nil
}

// Deploy returns the creation code with the constructor arguments packed.
func (a Artifact) Deploy(args ...any) ([]byte, error) {
	packed, err := a.ABI.Pack("", args...)
	if err != nil {
		return nil, fmt.Errorf("cannot pack %s's constructor arguments: %w", a.Name, err)
	}
	return append(append([]byte(nil), a.Code...), packed...), nil
}
