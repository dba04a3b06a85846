package tron

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// build wraps one contract in a transaction as a node would.
func build(t *testing.T, typ core.Transaction_Contract_ContractType, m proto.Message, now time.Time) *api.TransactionExtention {
	t.Helper()
	p, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	raw := &core.TransactionRaw{
		RefBlockBytes: []byte{1, 2}, RefBlockHash: make([]byte, 8), Expiration: now.Add(time.Minute).UnixMilli(),
		Timestamp: now.UnixMilli(), Contract: []*core.Transaction_Contract{{Type: typ, Parameter: p}},
	}
	b, _ := proto.Marshal(raw)
	id := sha256.Sum256(b)
	return &api.TransactionExtention{Transaction: &core.Transaction{RawData: raw}, Txid: id[:], Result: &api.Return{Result: true}}
}

// TestCheckTransfers: TRX and TRC-10 transfers pass only with our
// recipient, amount and asset; a transaction id that is not the hash of
// the raw data is refused.
func TestCheckTransfers(t *testing.T) {
	now := time.Now()
	owner, to, thief := []byte("A-owner-address-21byt"), []byte("A-recipient-21-bytes!"), []byte("A-thief-address-21byt")
	trx := &core.TransferContract{OwnerAddress: owner, ToAddress: to, Amount: 5_000_000}
	trc10 := &core.TransferAssetContract{AssetName: []byte(BTT10ID), OwnerAddress: owner, ToAddress: to, Amount: 7}
	for _, tc := range []struct {
		name string
		typ  core.Transaction_Contract_ContractType
		want proto.Message
		got  proto.Message
		ok   bool
	}{
		{"TRX as asked", core.Transaction_Contract_TransferContract, trx, trx, true},
		{"TRX to a thief", core.Transaction_Contract_TransferContract, trx, &core.TransferContract{OwnerAddress: owner, ToAddress: thief, Amount: 5_000_000}, false},
		{"TRX amount", core.Transaction_Contract_TransferContract, trx, &core.TransferContract{OwnerAddress: owner, ToAddress: to, Amount: 5_000_001}, false},
		{"TRC-10 as asked", core.Transaction_Contract_TransferAssetContract, trc10, trc10, true},
		{"TRC-10 asset", core.Transaction_Contract_TransferAssetContract, trc10, &core.TransferAssetContract{AssetName: []byte("1000001"), OwnerAddress: owner, ToAddress: to, Amount: 7}, false},
		{"TRC-10 recipient", core.Transaction_Contract_TransferAssetContract, trc10, &core.TransferAssetContract{AssetName: []byte(BTT10ID), OwnerAddress: owner, ToAddress: thief, Amount: 7}, false},
		{"TRX for TRC-10", core.Transaction_Contract_TransferAssetContract, trc10, trx, false},
	} {
		gotTyp := tc.typ
		if _, isTRX := tc.got.(*core.TransferContract); isTRX {
			gotTyp = core.Transaction_Contract_TransferContract
		}
		_, err := checkTx(build(t, gotTyp, tc.got, now), tc.typ, tc.want, 0, now)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, wallet.ErrUnexpectedTx)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	ext := build(t, core.Transaction_Contract_TransferContract, trx, now)
	ext.Txid[0] ^= 1
	if _, err := checkTx(ext, core.Transaction_Contract_TransferContract, trx, 0, now); !errors.Is(err, wallet.ErrUnexpectedTx) {
		t.Errorf("wrong txid: %v", err)
	}
	ext = build(t, core.Transaction_Contract_TransferContract, trx, now)
	if _, err := checkTx(ext, core.Transaction_Contract_TransferContract, trx, 1, now); !errors.Is(err, wallet.ErrUnexpectedTx) {
		t.Errorf("fee limit: %v", err)
	}
}
