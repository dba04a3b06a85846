package bttbid_test

import (
	"errors"
	"fmt"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// How an engine handles one received btt_bid payload: decode it, act on
// the message, ignore unknown types silently, and answer anything else
// that fails with the ERROR the codec suggests.
func ExampleDecode() {
	handle := func(payload []byte) {
		m, err := bttbid.Decode(payload)
		var e *bttbid.Error
		switch {
		case errors.As(err, &e) && e.Code == bttbid.CodeUnknownType:
			fmt.Println("ignored: a later version's message")
		case errors.As(err, &e):
			reply, _ := bttbid.Encode(e.ErrorMessage())
			fmt.Printf("reply %q\n", reply)
		default:
			switch m := m.(type) {
			case *bttbid.Bid:
				fmt.Printf("bid #%d: %s base units per MiB\n", m.Seq, m.Price)
			default:
				fmt.Println("got", m.Type())
			}
		}
	}
	b, _ := bttbid.Encode(&bttbid.Bid{Seq: 1, Price: wallet.NewAmount(1 << 20)})
	handle(b)
	handle([]byte("d1:t6:refunde"))
	handle([]byte("d5:price2:\x00\x013:seqi1e1:t3:bide"))
	// Output:
	// bid #1: 1048576 base units per MiB
	// ignored: a later version's message
	// reply "d4:codei102e7:disablei1e3:msg71:btt_bid invalid_field in field \"price\": amount with a leading zero byte1:t5:errore"
}
