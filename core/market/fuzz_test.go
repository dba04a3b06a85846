package market

import (
	"testing"
	"time"
)

// FuzzReceive feeds arbitrary payloads to a ready seller and a ready
// buyer: whatever arrives, Receive never panics and everything it queues
// is a message the codec accepts.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		"d5:price3:\x10\x00\x003:seqi1e1:t3:bide",
		"d6:credit0:5:price1:\x011:ri1e3:seqi1e1:t5:awarde",
		"d5:price1:\xff1:ri7e3:seqi2e1:t6:outbide",
		"d4:codei404e3:msg6:pay up1:t5:errore",
		"d6:payout1:\x014:owed1:\x021:t7:receipte",
		"d1:t6:chequee",
		"li1ee", "", "d", "d1:t4:zzzze",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	ms, mb := newMarket(f, e.wallet("s", 1)), newMarket(f, e.wallet("b", 2))
	f.Fuzz(func(t *testing.T, payload []byte) {
		l := newLink(ms.NewAuction(ih), mb.NewAuction(ih), 1, 2)
		l.a.SetAsk(askOf(10))
		l.a.Start(t0)
		l.b.Start(t0)
		l.flush(t, t0)
		l.b.SetBid(t0, amt(20))
		l.flush(t, t0)
		now := t0.Add(time.Second)
		l.a.Receive(now, payload)
		l.b.Receive(now, payload)
		for _, raw := range append(l.a.TakeOutbox(), l.b.TakeOutbox()...) {
			decode(t, raw)
		}
	})
}
