package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/mse"
)

// sniffRig is a sniffer on a loopback TCP listener of our own (so its
// connections are *Conns of reg) whose wake records its calls.
type sniffRig struct {
	s     *sniffer
	reg   *ConnRegistry
	tf    *TorrentFile // a hybrid torrent whose keys are indexed
	mu    sync.Mutex
	woken []InfoHash
}

func newSniffRig(t *testing.T, encryption string, timeout time.Duration) *sniffRig {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, _, tf := payloadTorrent(t, t.TempDir(), 5, map[string]int{"data.bin": 100_000}, CreateOptions{PieceLength: 16 << 10, Format: FormatHybrid})
	e := &Engine{keys: newHashIndex()}
	e.indexKeys(&tstate{ih: tf.InfoHash, tf: tf})
	r := &sniffRig{reg: newConnRegistry(), tf: tf}
	wake := func(ctx context.Context, ih InfoHash) error {
		r.mu.Lock()
		r.woken = append(r.woken, ih)
		r.mu.Unlock()
		return nil
	}
	r.s = newSniffer(tcpListener{Listener: l, reg: r.reg}, l.Close, e.keys, wake, encryption, timeout, testLogger(t, "sniff"))
	t.Cleanup(func() { _ = r.s.Close() })
	return r
}

func (r *sniffRig) wakes() []InfoHash {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]InfoHash(nil), r.woken...)
}

func (r *sniffRig) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// handedOver checks the next connection handed over, the i-th wake's,
// named by key: anacrolix reads want (what the peer sent, decrypted),
// its reply reaches the peer, who reads it on peer; the wake was for the
// rig's torrent. It returns our *Conn carrying it.
func (r *sniffRig) handedOver(t *testing.T, peer io.Reader, want []byte, key [20]byte, i int) *Conn {
	t.Helper()
	got := r.accept(t)
	b := make([]byte, len(want))
	if _, err := io.ReadFull(got, b); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("anacrolix reads %q (%v), want %q", b, err, want)
	}
	if _, err := got.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	b = make([]byte, 5)
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "reply" {
		t.Fatalf("peer reads %q (%v)", b, err)
	}
	if w := r.wakes(); len(w) != i+1 || w[i] != r.tf.InfoHash {
		t.Fatalf("key %x: wakes %v, want %s", key, w, r.tf.InfoHash)
	}
	k := ConnKey{Local: got.LocalAddr().String(), Remote: got.RemoteAddr().String()}
	oc, ok := r.reg.Lookup(k)
	if !ok {
		t.Fatalf("no conn of ours for %s", k)
	}
	return oc
}

// dialFrom is dial from local address ip.
func (r *sniffRig) dialFrom(t *testing.T, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", r.s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// accept returns the next connection handed over, within 5 s.
func (r *sniffRig) accept(t *testing.T) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := r.s.Accept(); ch <- res{c, err} }()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		t.Cleanup(func() { _ = a.c.Close() })
		return a.c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection handed over in 5 s")
		return nil
	}
}

// btHandshake is a BEP 3 handshake naming key.
func btHandshake(key [20]byte) []byte {
	b := append([]byte(btProtocol), make([]byte, 8)...)
	b = append(b, key[:]...)
	return append(b, []byte("-TT0001-peeridpeerid")...)
}

// closedByPeer waits until c is closed by the other side (a reset if
// it left bytes unread), having read nothing.
func closedByPeer(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	if (err != nil && !errors.Is(err, syscall.ECONNRESET)) || len(b) != 0 {
		t.Fatalf("connection read %d bytes, err %v; want it closed by the sniffer", len(b), err)
	}
}

// TestSniffPlaintext: a plaintext handshake naming a hybrid torrent by
// its v1 infohash or its truncated v2 one wakes that torrent, and the
// connection handed over reads every byte the peer sent, from the first,
// and writes to the peer; it is carried by our *Conn.
func TestSniffPlaintext(t *testing.T) {
	r := newSniffRig(t, "prefer", 5*time.Second)
	for i, key := range [][20]byte{r.tf.InfoHash, r.tf.InfoHashV2.Short()} {
		c := r.dial(t)
		sent := append(btHandshake(key), "then a message"...)
		if _, err := c.Write(sent); err != nil {
			t.Fatal(err)
		}
		oc := r.handedOver(t, c, sent, key, i)
		if oc.Encrypted() || oc.BytesRead() != int64(len(sent)) {
			t.Fatalf("our conn %s: encrypted %v, %d bytes read; want plaintext with %d", oc.Key(), oc.Encrypted(), oc.BytesRead(), len(sent))
		}
	}
}

// TestSniffMSE: an MSE handshake (RC4, the BitTorrent handshake in its
// initial payload as libtorrent sends it) with either key of a hybrid
// torrent wakes that torrent; anacrolix reads the decrypted stream and
// its writes reach the peer encrypted. Our *Conn saw the MSE opening.
func TestSniffMSE(t *testing.T) {
	r := newSniffRig(t, "require", 5*time.Second)
	for i, key := range [][20]byte{r.tf.InfoHash, r.tf.InfoHashV2.Short()} {
		c := r.dial(t)
		hs := btHandshake(key)
		stream, method, err := mse.InitiateHandshake(c, key[:], hs, mse.CryptoMethodRC4)
		if err != nil || method != mse.CryptoMethodRC4 {
			t.Fatalf("initiating MSE: method %v, %v", method, err)
		}
		if _, err := stream.Write([]byte("then a message")); err != nil {
			t.Fatal(err)
		}
		if oc := r.handedOver(t, stream, append(hs, "then a message"...), key, i); !oc.Encrypted() {
			t.Fatalf("our conn %s: not marked encrypted", oc.Key())
		}
	}
}

// TestSniffRefuses: a handshake naming a torrent we do not have, a
// plaintext one under "require" and an MSE one under "disable" are
// closed without waking anything or being handed over: the next
// connection handed over is a good one dialled after.
func TestSniffRefuses(t *testing.T) {
	var unknown [20]byte
	_, _ = rand.Read(unknown[:])
	for _, tc := range []struct {
		name, encryption string
		mse, known       bool
	}{
		{"plaintext unknown", "prefer", false, false},
		{"MSE unknown", "prefer", true, false},
		{"plaintext under require", "require", false, true},
		{"MSE under disable", "disable", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSniffRig(t, tc.encryption, 5*time.Second)
			key := unknown
			if tc.known {
				key = r.tf.InfoHash
			}
			c := r.dial(t)
			if tc.mse {
				if _, _, err := mse.InitiateHandshake(c, key[:], btHandshake(key), mse.AllSupportedCrypto); err == nil {
					t.Fatal("MSE handshake succeeded")
				}
			} else {
				if _, err := c.Write(btHandshake(key)); err != nil {
					t.Fatal(err)
				}
				closedByPeer(t, c, 5*time.Second)
			}
			good := r.dial(t)
			if tc.encryption == "require" {
				if _, _, err := mse.InitiateHandshake(good, r.tf.InfoHash[:], btHandshake(r.tf.InfoHash), mse.AllSupportedCrypto); err != nil {
					t.Fatal(err)
				}
			} else if _, err := good.Write(btHandshake(r.tf.InfoHash)); err != nil {
				t.Fatal(err)
			}
			if got := r.accept(t); got.RemoteAddr().String() != good.LocalAddr().String() {
				t.Fatalf("handed over %s, want the good connection %s", got.RemoteAddr(), good.LocalAddr())
			}
			if w := r.wakes(); len(w) != 1 {
				t.Fatalf("wakes %v, want one, for the good connection", w)
			}
		})
	}
}

// TestSniffSilentPeer: a connection that sends nothing holds no one up
// (a good one dialled after it is handed over at once) and is closed
// after the timeout.
func TestSniffSilentPeer(t *testing.T) {
	r := newSniffRig(t, "prefer", 2*time.Second)
	silent := r.dial(t)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.ReadAll(silent)
	}()
	good := r.dial(t)
	if _, err := good.Write(btHandshake(r.tf.InfoHash)); err != nil {
		t.Fatal(err)
	}
	if got := r.accept(t); got.RemoteAddr().String() != good.LocalAddr().String() {
		t.Fatalf("handed over %s, want %s", got.RemoteAddr(), good.LocalAddr())
	}
	select {
	case <-closed:
		t.Fatal("silent connection closed before its timeout")
	default:
	}
	closedByPeer(t, silent, 10*time.Second)
}

// TestSniffInFlightBound: beyond sniffInFlight connections being sniffed
// (from sniffInFlight/sniffPerIP addresses), a new one is closed at once.
func TestSniffInFlightBound(t *testing.T) {
	r := newSniffRig(t, "prefer", 20*time.Second)
	for i := range sniffInFlight {
		r.dialFrom(t, fmt.Sprintf("127.0.%d.%d", 1+i/sniffPerIP/250, 1+i/sniffPerIP%250))
	}
	closedByPeer(t, r.dialFrom(t, "127.0.9.1"), 5*time.Second)
}

// TestSniffQuotaKey: IPv4 addresses (also IPv4-mapped IPv6) count one by
// one; IPv6 addresses count by their /64.
func TestSniffQuotaKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"},
	} {
		if got := ipQuotaKey(netip.MustParseAddr(c.a)); got != netip.MustParseAddr(c.b) {
			t.Errorf("ipQuotaKey(%s) = %s, want %s", c.a, got, c.b)
		}
	}
	if ipQuotaKey(netip.MustParseAddr("2001:db8:1:2::1")) == ipQuotaKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("two /64s share a quota")
	}
}

// TestSniffPerIPBound: one address holding sniffPerIP silent connections
// gets its next one closed at once, and keeps no other peer out: a
// handshake from another address is handed over. Before the bound, the
// extra connection was held until the timeout, and sniffInFlight silent
// connections from one host kept every peer out.
func TestSniffPerIPBound(t *testing.T) {
	r := newSniffRig(t, "prefer", 20*time.Second)
	for range sniffPerIP {
		r.dialFrom(t, "127.0.3.1")
	}
	closedByPeer(t, r.dialFrom(t, "127.0.3.1"), 2*time.Second)
	c := r.dialFrom(t, "127.0.3.2")
	if _, err := c.Write(btHandshake(r.tf.InfoHash)); err != nil {
		t.Fatal(err)
	}
	r.accept(t)
}

// TestSniffClose: Close ends Accept and closes connections in flight.
func TestSniffClose(t *testing.T) {
	r := newSniffRig(t, "prefer", 20*time.Second)
	c := r.dial(t)
	if err := r.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	closedByPeer(t, c, 5*time.Second)
}

// TestRequireRefusesPlaintextDial: with encryption required, an outgoing
// connection whose first bytes are a plaintext handshake fails before
// they are sent and is closed; an MSE opening passes, as does plaintext
// when encryption is not required.
func TestRequireRefusesPlaintextDial(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer := func() (ours *Conn, theirs net.Conn, reg *ConnRegistry) {
		reg = newConnRegistry()
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		theirs, err = l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = theirs.Close(); _ = nc.Close() })
		return reg.wrap(nc, "tcp", true), theirs, reg
	}
	hs := btHandshake(InfoHash{1})

	c, theirs, reg := peer()
	reg.requireMSE = true
	if n, err := c.Write(hs); err == nil || n != 0 {
		t.Fatalf("plaintext write under require: %d bytes, %v", n, err)
	}
	closedByPeer(t, theirs, 5*time.Second)

	c, theirs, reg = peer()
	reg.requireMSE = true
	opening := make([]byte, 96) // an MSE initiator's public key
	_, _ = rand.Read(opening)
	opening[0] = 0x14
	for _, b := range [][]byte{opening, hs} {
		if _, err := c.Write(b); err != nil {
			t.Fatalf("write after an MSE opening: %v", err)
		}
	}
	if got := make([]byte, len(opening)+len(hs)); !readsAll(theirs, got) || !bytes.Equal(got, append(opening, hs...)) {
		t.Fatal("peer did not receive the MSE opening and what followed")
	}

	c, theirs, _ = peer()
	if _, err := c.Write(hs); err != nil {
		t.Fatalf("plaintext write, encryption not required: %v", err)
	}
	if got := make([]byte, len(hs)); !readsAll(theirs, got) || !bytes.Equal(got, hs) {
		t.Fatal("peer did not receive the plaintext handshake")
	}
}

func readsAll(c net.Conn, b []byte) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadFull(c, b)
	return err == nil
}

// TestSniffEngines: two engines transfer a torrent (bytes checked by
// hash) over an incoming plaintext handshake and over an incoming MSE
// one, each read by the seeder's sniffer; the seeder's row of the peer
// says which it was.
func TestSniffEngines(t *testing.T) {
	for i, tc := range []struct {
		seeder, leecher string
		encrypted       bool
	}{
		{"prefer", "disable", false},
		{"require", "prefer", true},
	} {
		t.Run(tc.seeder+"-"+tc.leecher, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			root, tp, _ := dataTorrent(t, dir, uint64(40+i), 1<<20)
			sc, lc := testConfig(ipN(240+2*i)), testConfig(ipN(241+2*i))
			sc.Encryption, lc.Encryption = tc.seeder, tc.leecher
			sc.UploadLimit = 512 << 10 // slow enough to see the peer
			seeder, seeded := seedEngine(t, "seeder", sc, filepath.Join(dir, "s"), tp, filepath.Dir(root), "seeder verified", isComplete)
			ih := seeded.InfoHash
			leecher := startEngine(t, "leecher", lc, filepath.Join(dir, "l"))
			out := filepath.Join(dir, "out")
			if _, err := leecher.Add(ctx, AddSpec{Source: tp, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			p := waitFor(t, seeder.Engine, ih, 30*time.Second, "the leecher", func(tr Torrent) bool {
				return len(tr.Peers) == 1 && tr.Peers[0].Uploaded > 0
			}).Peers[0]
			if !p.Incoming || p.Encrypted != tc.encrypted {
				t.Errorf("seeder's peer row: incoming %v encrypted %v, want incoming, encrypted %v", p.Incoming, p.Encrypted, tc.encrypted)
			}
			waitFor(t, leecher.Engine, ih, 60*time.Second, "download complete", isComplete)
			sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
		})
	}
}

// TestSniffEnginesNoCommonPolicy: a leecher requiring encryption and a
// seeder refusing it never connect: the seeder's sniffer closes the MSE
// dial, and the leecher's plaintext fallback is refused by its own *Conn
// before any byte is sent.
func TestSniffEnginesNoCommonPolicy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	root, tp, _ := dataTorrent(t, dir, 44, 256<<10)
	sc, lc := testConfig(ipN(244)), testConfig(ipN(245))
	sc.Encryption, lc.Encryption = "disable", "require"
	seeder, _ := seedEngine(t, "seeder", sc, filepath.Join(dir, "s"), tp, filepath.Dir(root), "seeder verified", isComplete)
	leecher := startEngine(t, "leecher", lc, filepath.Join(dir, "l"))
	var mu sync.Mutex
	var dials []*Conn
	leecher.Conns().OnConn(func(c *Conn) {
		mu.Lock()
		dials = append(dials, c)
		mu.Unlock()
	})
	if _, err := leecher.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(dir, "out"), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		var closedPlain int
		for _, c := range dials {
			switch {
			case c.Encrypted():
			case c.BytesWritten() > 0:
				t.Fatalf("dial %s wrote %d bytes unencrypted", c.Key(), c.BytesWritten())
			case c.ctx.Err() != nil:
				closedPlain++ // the fallback, refused
			}
		}
		n := len(dials)
		mu.Unlock()
		if closedPlain > 0 && n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d dials, %d refused fallbacks; want an MSE dial and a refused fallback", n, closedPlain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, e := range []*runningEngine{seeder, leecher} {
		for _, tr := range e.Snapshot().Torrents {
			if tr.PeerCount != 0 || (e == leecher && tr.Done != 0) {
				t.Errorf("torrent %s: %d peers, %d bytes done; want none", tr.InfoHash, tr.PeerCount, tr.Done)
			}
		}
	}
}
