package tron

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fbsobreira/gotron-sdk/pkg/proto/core"

	"github.com/bidtorrent/bidtorrent/wallet"
)

func TestReceiptErrors(t *testing.T) {
	reason := "ERC20: transfer amount exceeds balance"
	b := []byte{0x08, 0xc3, 0x79, 0xa0}
	off, l := make([]byte, 32), make([]byte, 32)
	off[31] = 32
	binary.BigEndian.PutUint64(l[24:], uint64(len(reason)))
	b = append(append(b, off...), l...)
	p := make([]byte, 64)
	copy(p, reason)
	b = append(b, p...)
	if got := decodeRevert([][]byte{b}); got != reason {
		t.Fatalf("decodeRevert = %q", got)
	}
	revert := &core.TransactionInfo{Result: core.TransactionInfo_FAILED, ResMessage: []byte("REVERT opcode executed"),
		ContractResult: [][]byte{b}, Receipt: &core.ResourceReceipt{Result: core.Transaction_Result_REVERT}}
	if err := receiptErr("ab", revert); !errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Errorf("revert: %v", err)
	}
	oe := &core.TransactionInfo{Result: core.TransactionInfo_FAILED, Receipt: &core.ResourceReceipt{Result: core.Transaction_Result_OUT_OF_ENERGY}}
	if err := receiptErr("ab", oe); !errors.Is(err, wallet.ErrInsufficientEnergy) {
		t.Errorf("out of energy: %v", err)
	}
	other := &core.TransactionInfo{Result: core.TransactionInfo_FAILED, Receipt: &core.ResourceReceipt{Result: core.Transaction_Result_BAD_JUMP_DESTINATION}}
	if err := receiptErr("ab", other); err == nil || errors.Is(err, wallet.ErrInsufficientFunds) {
		t.Errorf("other failure: %v", err)
	}
	okInfo := &core.TransactionInfo{Receipt: &core.ResourceReceipt{Result: core.Transaction_Result_SUCCESS}}
	if err := receiptErr("ab", okInfo); err != nil {
		t.Errorf("success: %v", err)
	}
	if decodeRevert([][]byte{{1, 2}}) != "" || decodeRevert(nil) != "" {
		t.Errorf("garbage decoded")
	}
}
