package core

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
)

// connNonce is the nonce e's HELLO carries on its connection to the peer
// whose peer ID is id.
func connNonce(t *testing.T, e *Engine, id [20]byte) bttbid.Nonce {
	t.Helper()
	var n *bttbid.Nonce
	e.auths.Range(func(k, v any) bool {
		if [20]byte(k.(*torrent.PeerConn).PeerID) == id {
			n = v.(*connAuth).nonce.Load()
		}
		return n == nil
	})
	if n == nil {
		t.Fatalf("no connection to %x", id)
	}
	return *n
}

// rawPeer is a hand-made BitTorrent connection (an attacker's client):
// it claims any peer ID and sends whatever btt_bid payloads it likes.
type rawPeer struct {
	c      net.Conn
	bttbid byte // the remote's extension id for btt_bid
}

func dialRaw(t *testing.T, addr string, ih InfoHash, peerID [20]byte) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	hs := append([]byte("\x13BitTorrent protocol"), 0, 0, 0, 0, 0, 0x10, 0, 0) // BEP 10 bit
	hs = append(append(hs, ih[:]...), peerID[:]...)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 68)); err != nil {
		t.Fatalf("no handshake from the seeder: %v", err)
	}
	p := &rawPeer{c: c}
	p.write(t, 0, []byte("d1:md7:btt_bidi3eee"))
	for p.bttbid == 0 { // read until the seeder's extended handshake
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			t.Fatalf("reading from the seeder: %v", err)
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
		if n < 2 || msg[0] != 20 || msg[1] != 0 {
			continue
		}
		var eh pp.ExtendedHandshakeMessage
		if err := bencode.Unmarshal(msg[2:], &eh); err != nil {
			t.Fatal(err)
		}
		p.bttbid = byte(eh.M[pp.ExtensionName(bttbid.ExtensionName)])
		if p.bttbid == 0 {
			t.Fatal("the seeder does not speak btt_bid")
		}
	}
	go io.Copy(io.Discard, c) // keep the seeder's writes flowing
	return p
}

// write sends an extended message with extension id ext.
func (p *rawPeer) write(t *testing.T, ext byte, payload []byte) {
	t.Helper()
	b := binary.BigEndian.AppendUint32(nil, uint32(2+len(payload)))
	b = append(append(b, 20, ext), payload...)
	if _, err := p.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// TestPresentationReplayRefused (PROTOCOL.md §18.4): a buyer presents
// its licence to the publisher; an attacker who saw that presentation
// opens another connection claiming the buyer's peer ID, sends a version
// 3 HELLO and the copied presentation: the gate stays closed, since the
// presentation signed the publisher's nonce of the first connection.
// (With version 2's string, bound only to the peer IDs and time, the
// copy opened the gate.) A presentation signed over the new connection's
// nonce opens it: the raw connection is a working one.
func TestPresentationReplayRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := testLedger(t, dir)
	publisher, pub, terms, _, tp, ih := startPaidPublisher(t, dir, l, 210)
	buyer := startEngine(t, "buyer", marketTestConfig(ipN(211), 0), filepath.Join(dir, "buyer"), WithWallet(testWallet(t, l, dir, 92, 0)))
	if _, err := buyer.Add(ctx, AddSpec{Source: tp, DataDir: buyer.DataDir() + "-out", Peers: []string{publisher.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, buyer.Engine, ih, 30*time.Second, "the publisher's HELLO", func(tr Torrent) bool {
		return len(tr.Peers) > 0 && tr.Peers[0].Market.Enabled
	})
	buyerID := buyer.cl.PeerID()
	seen := presentation(t, testKey(t, 91), testKey(t, 92), terms, ih, publisher.cl.PeerID(), buyerID, connNonce(t, publisher.Engine, buyerID))
	sendBttBid(t, buyer.Engine, ih, seen)
	waitUntil(t, 10*time.Second, "the buyer's connection opened", func() bool { _, open := gateState(publisher.Engine, ih); return open == 1 })
	if err := buyer.stop(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the buyer's connection closed", func() bool { _, open := gateState(publisher.Engine, ih); return open == 0 })

	// The attacker: the buyer's peer ID, a version 3 HELLO, the copy.
	p := dialRaw(t, publisher.ListenAddr().String(), ih, buyerID)
	k := testKey(t, 92)
	h := &bttbid.Hello{Version: bttbid.Version, ChainID: pub.ChainID(), Token: bttbid.Address(pub.Token()), Address: bttbid.Address(k.Address()),
		Time: time.Now().Unix(), Nonce: bttbid.Nonce{1, 2, 3}}
	sig, err := k.SignMessage(bttbid.HelloSigningBytes(h, ih, buyerID, publisher.cl.PeerID()))
	if err != nil {
		t.Fatal(err)
	}
	h.Sig = bttbid.Signature(sig)
	hb, err := bttbid.Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, p.bttbid, hb)
	p.write(t, p.bttbid, seen)
	time.Sleep(2 * time.Second)
	if _, open := gateState(publisher.Engine, ih); open != 0 {
		t.Fatal("a presentation copied from another connection opened the gate")
	}
	// The same licence presented over this connection's nonce opens it.
	fresh := presentation(t, testKey(t, 91), k, terms, ih, publisher.cl.PeerID(), buyerID, connNonce(t, publisher.Engine, buyerID))
	p.write(t, p.bttbid, fresh)
	waitUntil(t, 10*time.Second, "a fresh presentation opened the gate", func() bool { _, open := gateState(publisher.Engine, ih); return open == 1 })
}
