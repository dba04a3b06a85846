package core

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2"
)

// A uTP SYN as libtorrent sends it: type 4 version 1, extension 0,
// connection id 0x1234, timestamps, window 0x00100000, seq_nr 0xbeef,
// ack_nr 0.
var synPacket = utpHex("4100" + "1234" + "0a0b0c0d" + "00000000" + "00100000" + "beef" + "0000")

// The reset answering it: type 3 version 1, the SYN's connection id,
// ack_nr the SYN's seq_nr, everything else zero.
var resetPacket = utpHex("3100" + "1234" + "00000000" + "00000000" + "00000000" + "0000" + "beef")

func utpHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestUTPResetOnlyForSyn(t *testing.T) {
	got, ok := utpReset(synPacket)
	if !ok || !bytes.Equal(got[:], resetPacket) {
		t.Fatalf("reset for SYN = %x, %v; want %x", got, ok, resetPacket)
	}
	withExt := append(append([]byte{}, synPacket...), 0, 8, 1, 2, 3, 4, 5, 6, 7, 8)
	withExt[1] = 2 // an extension header follows: still a SYN
	if got, ok := utpReset(withExt); !ok || !bytes.Equal(got[:], resetPacket) {
		t.Fatalf("reset for SYN with extension = %x, %v; want %x", got, ok, resetPacket)
	}
	for name, pkt := range map[string][]byte{
		"data":      append([]byte{0x01}, synPacket[1:]...),
		"state":     append([]byte{0x21}, synPacket[1:]...),
		"reset":     resetPacket,
		"version 2": append([]byte{0x42}, synPacket[1:]...),
		"short":     synPacket[:19],
		"dht ping":  []byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
		"empty":     nil,
	} {
		if got, ok := utpReset(pkt); ok {
			t.Errorf("%s: answered with %x; want no answer", name, got)
		}
	}
}

// exchange sends pkt from a fresh socket to addr and returns the reply, or
// nil after wait.
func exchange(t *testing.T, addr net.Addr, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(pkt, addr); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 2048)
	n, from, err := c.ReadFrom(b)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		t.Fatal(err)
	}
	if from.String() != addr.String() {
		t.Fatalf("reply from %s; want %s", from, addr)
	}
	return b[:n]
}

// TestEngineAnswersUTPSynWithReset: with uTP off (the default) the
// engine's UDP port, the TCP listen port's number, answers a crafted uTP
// SYN with exactly the ST_RESET bytes, and ignores a uTP data packet.
func TestEngineAnswersUTPSynWithReset(t *testing.T) {
	cfg := testConfig("127.0.0.1")
	e := startEngine(t, "seed", cfg, t.TempDir())
	port := e.tcp.Addr().(*net.TCPAddr).Port
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	if got := exchange(t, addr, synPacket, 2*time.Second); !bytes.Equal(got, resetPacket) {
		t.Fatalf("answer to a uTP SYN on %s: %x; want %x", addr, got, resetPacket)
	}
	if got := exchange(t, addr, append([]byte{0x01}, synPacket[1:]...), 200*time.Millisecond); got != nil {
		t.Fatalf("answer to a uTP data packet: %x; want none", got)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, addr, synPacket, 200*time.Millisecond); got != nil {
		t.Fatalf("answer after stop: %x", got)
	}
}

// TestUTPRefuserKeepsDHT: a DHT server reading through utpRefuser still
// answers a ping on the shared socket, and the SYN gets its reset.
func TestUTPRefuserKeepsDHT(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noNodes := func() ([]dht.Addr, error) { return nil, nil }
	srv, err := dht.NewServer(&dht.ServerConfig{Conn: utpRefuser{pc}, NoSecurity: true, StartingNodes: noNodes})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Close(); pc.Close() }()
	cli, err := dht.NewServer(&dht.ServerConfig{NoSecurity: true, StartingNodes: noNodes,
		Conn: mustListenUDP(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if got := exchange(t, pc.LocalAddr(), synPacket, 2*time.Second); !bytes.Equal(got, resetPacket) {
		t.Fatalf("answer to a uTP SYN beside the DHT: %x; want %x", got, resetPacket)
	}
	res := cli.Ping(pc.LocalAddr().(*net.UDPAddr))
	if res.Err != nil {
		t.Fatalf("DHT ping through the refuser: %v", res.Err)
	}
	if id := res.Reply.SenderID(); id == nil || *id != srv.ID() {
		t.Fatalf("DHT ping answered by %v; want %x", id, srv.ID())
	}
}

func mustListenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
