package bttbid

// TRANSFER (PROTOCOL.md §11.2, revision 2.4): on TRON without a vault a
// payer settles its account by a TRC-20 transfer to the payee, and names
// the transaction to the payee so that it counts as settled.

// TypeTransfer is the `t` of TRANSFER (version 2, revision 2.4).
const TypeTransfer Type = "transfer"

// CodeBadTransfer answers a TRANSFER that does not settle anything: the
// transaction is unknown or not confirmed, failed, is not a transfer of
// the token from the payer to the receiver, or was counted already
// (disable 0).
const CodeBadTransfer Code = 410

// Transfer names a TRC-20 transfer by which the payer settled (part of)
// its account with the receiver. Payer to payee.
type Transfer struct {
	TxID [32]byte // `tx`: the transaction id (sha256 of its raw data)
}

// Type implements Message.
func (*Transfer) Type() Type { return TypeTransfer }

func (*Transfer) isMessage() {}

func (e *encoder) transfer(m *Transfer) {
	if m != nil {
		e.w.bytes("tx", m.TxID[:])
	}
}

func (d *decoder) transfer() *Transfer {
	t := &Transfer{}
	v, ok := d.field("tx", 's')
	if !ok {
		return t
	}
	if len(v.s) != len(t.TxID) {
		d.fail("tx", "not 32 bytes")
		return t
	}
	copy(t.TxID[:], v.s)
	return t
}
