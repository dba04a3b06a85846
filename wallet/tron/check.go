package tron

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/api"
	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// maxExpiry is the furthest in the future a transaction may expire
// (TRON's own limit is 24 h).
const maxExpiry = 24 * time.Hour

// checkTx is the gate between a transaction the node built and our
// signature: it returns ext's transaction only if it does exactly what
// want (the contract we built locally: a *core.TriggerSmartContract with
// our owner, the contract, zero call value and the locally packed data; a
// *core.TransferContract; a *core.TransferAssetContract; a
// *core.CreateSmartContract) says, and nothing else: one contract of
// type typ whose parameter equals want field for field (proto.Equal,
// unknown fields included), our fee limit (feeLimit; zero for plain
// transfers), no extra signature, authority, script or memo, an
// expiration in (now, now+24h], and a transaction id that is the hash of
// the raw data. Anything else is wallet.ErrUnexpectedTx: the node (or
// whoever sits between us and it) built something we did not ask for.
func checkTx(ext *api.TransactionExtention, typ core.Transaction_Contract_ContractType, want proto.Message, feeLimit int64, now time.Time) (*core.Transaction, error) {
	refuse := func(format string, a ...any) (*core.Transaction, error) {
		return nil, fmt.Errorf("refusing to sign: "+format+": %w", append(a, wallet.ErrUnexpectedTx)...)
	}
	tx := ext.GetTransaction()
	raw := tx.GetRawData()
	if raw == nil {
		return refuse("the node returned no transaction")
	}
	if len(tx.GetSignature()) != 0 || len(tx.GetRet()) != 0 {
		return refuse("the node's transaction is already signed or executed")
	}
	if len(raw.GetContract()) != 1 {
		return refuse("the transaction holds %d contracts, not 1", len(raw.GetContract()))
	}
	if len(raw.GetAuths()) != 0 || len(raw.GetScripts()) != 0 || len(raw.GetData()) != 0 || len(raw.ProtoReflect().GetUnknown()) != 0 {
		return refuse("the transaction carries fields we did not set (authorities, scripts, memo)")
	}
	if raw.GetFeeLimit() != feeLimit {
		return refuse("fee limit %d sun, not our %d", raw.GetFeeLimit(), feeLimit)
	}
	exp := time.UnixMilli(raw.GetExpiration())
	if !exp.After(now) || exp.After(now.Add(maxExpiry)) {
		return refuse("expiration %s is not within 24 h from now", exp.UTC().Format(time.RFC3339))
	}
	ct := raw.GetContract()[0]
	if ct.GetType() != typ {
		return refuse("contract type %s, not %s", ct.GetType(), typ)
	}
	if ct.GetPermissionId() != 0 || len(ct.GetProvider()) != 0 || len(ct.GetContractName()) != 0 || len(ct.ProtoReflect().GetUnknown()) != 0 {
		return refuse("the contract carries a permission id, provider or name we did not set")
	}
	got := want.ProtoReflect().New().Interface()
	if err := anypb.UnmarshalTo(ct.GetParameter(), got, proto.UnmarshalOptions{}); err != nil {
		return refuse("the contract parameter is not a %s: %v", want.ProtoReflect().Descriptor().FullName(), err)
	}
	if !proto.Equal(got, want) {
		return refuse("the contract differs from ours (%s)", describeDiff(got, want))
	}
	b, err := proto.Marshal(raw)
	if err != nil {
		return refuse("cannot encode the raw data: %v", err)
	}
	if id := sha256.Sum256(b); !bytes.Equal(ext.GetTxid(), id[:]) {
		return refuse("transaction id %x is not the hash of its raw data", ext.GetTxid())
	}
	return tx, nil
}

// describeDiff names the first field where got and want differ, for the
// error message.
func describeDiff(got, want proto.Message) string {
	g, w := got.ProtoReflect(), want.ProtoReflect()
	fields := w.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if !g.Get(f).Equal(w.Get(f)) {
			return string(f.Name())
		}
	}
	return "unknown fields"
}

// transferData packs the TRC-20 call transfer(to, amount).
func transferData(to wallet.Address, amount wallet.Amount) []byte {
	d := make([]byte, 0, 68)
	d = append(d, selTransfer...)
	d = append(d, make([]byte, 12)...)
	d = append(d, to[1:]...)
	v := amount.Bytes32()
	return append(d, v[:]...)
}

// selTransfer is the selector of transfer(address,uint256).
var selTransfer = []byte{0xa9, 0x05, 0x9c, 0xbb}
