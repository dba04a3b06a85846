package core

import (
	"testing"

	"github.com/anacrolix/torrent"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
)

// Issue 18 item 5: one peer flooding 64 KiB extension messages fills the
// event queue with at most MaxMessageSize+1 bytes per message, and the
// lifecycle events of other peers queued after it (added, handshake,
// closed) all reach the loop, in order; only messages are dropped.
func TestMarketQueueFlood(t *testing.T) {
	mk := &marketState{evC: make(chan mevent, 8), over: newLifeQ()}
	flooder := &torrent.PeerConn{}
	big := make([]byte, 64<<10)
	for range 20 {
		mk.enqueue(mevent{kind: mevMessage, pc: flooder, payload: messageCopy(big)})
	}
	others := make([]*torrent.PeerConn, 5)
	for i := range others {
		others[i] = &torrent.PeerConn{}
		mk.enqueue(mevent{kind: mevAdded, pc: others[i]})
		mk.enqueue(mevent{kind: mevHandshake, pc: others[i], has: true})
		mk.enqueue(mevent{kind: mevMessage, pc: flooder, payload: messageCopy(big)}) // dropped: full
		mk.enqueue(mevent{kind: mevClosed, pc: others[i]})
	}
	select {
	case <-mk.over.wake:
	default:
		t.Fatal("no wake-up for the overflow")
	}
	var got []mevent
	queued := 0
	mk.drain(func(ev mevent) {
		got = append(got, ev)
		queued += len(ev.payload)
	})
	if queued > 8*(bttbid.MaxMessageSize+1) {
		t.Errorf("%d payload bytes queued for 8 messages, want at most %d", queued, 8*(bttbid.MaxMessageSize+1))
	}
	if len(got) != 8+15 {
		t.Fatalf("%d events reached the loop, want 8 messages and 15 lifecycle events", len(got))
	}
	for i, pc := range others {
		for j, k := range []mevKind{mevAdded, mevHandshake, mevClosed} {
			ev := got[8+3*i+j]
			if ev.pc != pc || ev.kind != k {
				t.Errorf("event %d: kind %d of %p, want kind %d of peer %d", 8+3*i+j, ev.kind, ev.pc, k, i)
			}
		}
	}
	if d := mk.dropped.Load(); d != 12+5 {
		t.Errorf("%d events dropped, want the 17 messages", d)
	}
	// The queue works normally again once drained.
	mk.enqueue(mevent{kind: mevClosed, pc: flooder})
	if ev := <-mk.evC; ev.pc != flooder {
		t.Error("the queue does not take events after the overflow")
	}
	// A payload above the limit still reads as too large to the session.
	if n := len(messageCopy(big)); n != bttbid.MaxMessageSize+1 {
		t.Errorf("copy of a 64 KiB payload: %d bytes", n)
	}
	if n := len(messageCopy(big[:100])); n != 100 {
		t.Errorf("copy of a 100-byte payload: %d bytes", n)
	}
}
