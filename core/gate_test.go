package core

import (
	"context"
	"crypto/sha1"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/local"
)

// magicLicence is what the test verifier accepts as a licence.
const magicLicence = "open-sesame"

// gateState sums the seeder's gate over torrent ih: connections that
// asked for blocks while closed, and connections opened.
func gateState(e *Engine, ih InfoHash) (refusedConns, open int) {
	gt := e.gates.byHash(ih)
	if gt == nil {
		return 0, 0
	}
	gt.conns.Range(func(_, c any) bool {
		gc := c.(*gateConn)
		if gc.refused.Load() > 0 {
			refusedConns++
		}
		if gc.open.Load() {
			open++
		}
		return true
	})
	return refusedConns, open
}

// waitUntil polls cond every 20ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendBttBid writes a btt_bid message from e to every connected peer of ih
// that speaks btt_bid, as the market would; it returns how many got it.
func sendBttBid(t *testing.T, e *Engine, ih InfoHash, payload []byte) int {
	t.Helper()
	tt, ok := e.cl.Torrent(metainfo.Hash(ih))
	if !ok {
		t.Fatal("torrent not in the client")
	}
	n := 0
	for _, pc := range tt.PeerConns() {
		if pc.WriteExtendedMessage(pp.ExtensionName(bttbid.ExtensionName), payload) == nil {
			n++
		}
	}
	return n
}

// paidTorrent creates a payload and its .torrent with terms in dir.
func paidTorrent(t *testing.T, dir string, terms market.Terms) (root, torrentPath string, tf *TorrentFile) {
	t.Helper()
	sizes := map[string]int{"film.bin": 3<<20 + 4321, "notes.txt": 999}
	return payloadTorrent(t, dir, 8, sizes, CreateOptions{PieceLength: 64 << 10, Terms: &terms})
}

// startPaidPublisher starts a publisher (wallet seed 91 on l, at ipN(ip))
// seeding a paid torrent (paidTorrent, 7000 base units per MiB) and waits
// until its data is verified. It returns the publisher, its terms, the
// payload's root and the .torrent's path.
func startPaidPublisher(t *testing.T, dir string, l *local.Ledger, ip int) (publisher *runningEngine, pub *wallet.Wallet, terms market.Terms, root, torrentPath string, ih InfoHash) {
	t.Helper()
	pub = testWallet(t, l, dir, 91, 0)
	terms = market.Terms{Payee: pub.Address(), ChainID: pub.ChainID(), Token: pub.Token(), Price: wallet.NewAmount(7000)}
	root, torrentPath, _ = paidTorrent(t, dir, terms)
	publisher, seeded := seedEngine(t, "publisher", marketTestConfig(ipN(ip), 0), filepath.Join(dir, "publisher"),
		torrentPath, filepath.Dir(root), "publisher verified", isComplete, WithWallet(pub))
	return publisher, pub, terms, root, torrentPath, seeded.InfoHash
}

// TestPurchaseGate: a seeder of a paid torrent serves nothing to a
// btt_bid leecher without a licence nor to a legacy leecher; once the
// licence (here the test verifier's magic, sent as a real btt_bid
// message) arrives on its connection, that leecher downloads everything,
// verified, and the legacy leecher still gets nothing.
func TestPurchaseGate(t *testing.T) {
	dir := t.TempDir()
	terms := testTerms()
	terms.Goal, terms.Deadline = wallet.Amount{}, time.Time{}
	root, tp, tf := paidTorrent(t, dir, terms)
	ih := tf.InfoHash
	ctx := context.Background()
	l := testLedger(t, dir)

	seeder := startEngine(t, "seeder", testConfig("127.0.0.80"), filepath.Join(dir, "seeder"), WithWallet(testWallet(t, l, dir, 1, 0)))
	seeder.gates.setVerifier(func(_ *torrent.PeerConn, payload []byte) bool { return string(payload) == magicLicence })
	if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
	if st.Terms == nil || st.Terms.Price.Cmp(terms.Price) != 0 || st.Terms.Payee != terms.Payee {
		t.Fatalf("snapshot terms %+v, want %+v", st.Terms, terms)
	}
	if gt := seeder.gates.byHash(ih); gt == nil || gt.terms.Price.Cmp(terms.Price) != 0 || gt.terms.Payee != terms.Payee {
		t.Fatalf("gate %+v", gt)
	}

	buyer := startEngine(t, "buyer", testConfig("127.0.0.81"), filepath.Join(dir, "buyer"), WithWallet(testWallet(t, l, dir, 2, 1e15)))
	legacy := startEngine(t, "legacy", testConfig("127.0.0.82"), filepath.Join(dir, "legacy"))
	// The buyer adds a magnet: its own gate goes up when the metadata
	// (and the terms in it) arrives.
	for e, src := range map[*runningEngine]string{buyer: tf.Magnet(), legacy: tp} {
		if _, err := e.Add(ctx, AddSpec{Source: src, DataDir: e.DataDir() + "-out", Peers: []string{seeder.ListenAddr().String()}}); err != nil {
			t.Fatal(err)
		}
	}
	// Both leechers asked for blocks and were refused.
	waitUntil(t, 30*time.Second, "both leechers refused", func() bool { n, _ := gateState(seeder.Engine, ih); return n == 2 })
	// Give anacrolix every chance to serve them anyway: its request
	// rounds run many times a second on loopback.
	time.Sleep(2 * time.Second)
	for _, e := range []*runningEngine{buyer, legacy} {
		s := waitFor(t, e.Engine, ih, 5*time.Second, "a snapshot", func(Torrent) bool { return true })
		if s.Done != 0 || s.Downloaded != 0 {
			t.Fatalf("%s got %d bytes (%d verified) through a closed gate", e.DataDir(), s.Downloaded, s.Done)
		}
	}
	if s := findT(seeder.Snapshot(), ih); s.Uploaded != 0 {
		t.Fatalf("seeder uploaded %d bytes through a closed gate", s.Uploaded)
	}

	// A btt_bid message that is not a licence changes nothing.
	if n := sendBttBid(t, buyer.Engine, ih, []byte("d1:t5:helloe")); n != 1 {
		t.Fatalf("sent to %d peers, want 1", n)
	}
	if n := sendBttBid(t, buyer.Engine, ih, []byte(magicLicence)); n != 1 {
		t.Fatalf("licence sent to %d peers, want 1", n)
	}
	waitFor(t, buyer.Engine, ih, 60*time.Second, "licensed download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(buyer.DataDir()+"-out", "payload")))
	if n := seeder.gates.byHash(ih).opened.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
	// The buyer, now a complete seed of the paid torrent, refuses the
	// legacy leecher too.
	if bt := findT(buyer.Snapshot(), ih); bt.Terms == nil || !bt.Terms.Paid() {
		t.Errorf("buyer's snapshot terms %+v", bt.Terms)
	}
	if err := legacy.AddPeer(ctx, ih, buyer.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the buyer refusing the legacy leecher", func() bool { n, _ := gateState(buyer.Engine, ih); return n == 1 })
	s := waitFor(t, legacy.Engine, ih, 5*time.Second, "a snapshot", func(Torrent) bool { return true })
	if s.Done != 0 || s.Downloaded != 0 {
		t.Errorf("legacy leecher got %d bytes of a paid torrent", s.Downloaded)
	}
	for _, e := range []*runningEngine{buyer, legacy, seeder} {
		if err := e.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// TestFreeTorrentNotGated: terms without a price (a payee for tips) gate
// nothing: a legacy leecher downloads everything.
func TestFreeTorrentNotGated(t *testing.T) {
	dir := t.TempDir()
	terms := testTerms()
	terms.Price, terms.Goal, terms.Deadline = wallet.Amount{}, wallet.Amount{}, time.Time{}
	root, tp, tf := paidTorrent(t, dir, terms)
	ctx := context.Background()
	l := testLedger(t, dir)
	seeder := startEngine(t, "seeder", testConfig("127.0.0.83"), filepath.Join(dir, "seeder"), WithWallet(testWallet(t, l, dir, 1, 0)))
	if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, seeder.Engine, tf.InfoHash, 30*time.Second, "seeder verified", isComplete)
	if st.Terms == nil || st.Terms.Paid() || st.Terms.Payee != terms.Payee {
		t.Fatalf("snapshot terms %+v", st.Terms)
	}
	if seeder.gates.byHash(tf.InfoHash) != nil {
		t.Fatal("a free torrent is gated")
	}
	legacy := startEngine(t, "legacy", testConfig("127.0.0.84"), filepath.Join(dir, "legacy"))
	out := filepath.Join(dir, "out")
	if _, err := legacy.Add(ctx, AddSpec{Source: tp, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, legacy.Engine, tf.InfoHash, 60*time.Second, "download complete", isComplete)
	sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
}

func findT(s Snapshot, ih InfoHash) Torrent {
	for _, tr := range s.Torrents {
		if tr.InfoHash == ih {
			return tr
		}
	}
	return Torrent{}
}

// TestGateConnStep drives one connection's gate through its states.
func TestGateConnStep(t *testing.T) {
	req := func(i int) pp.Message {
		return pp.Message{Type: pp.Request, Index: pp.Integer(i), Begin: 0, Length: 16 << 10}
	}
	cancel := func(i int) pp.Message {
		m := req(i)
		m.Type = pp.Cancel
		return m
	}
	licence := pp.Message{Type: pp.Extended, ExtendedID: 3, ExtendedPayload: []byte(magicLicence)}
	hello := pp.Message{Type: pp.Extended, ExtendedID: 3, ExtendedPayload: []byte("d1:t5:helloe")}
	have := pp.Message{Type: pp.Have, Index: 9}
	interested := pp.Message{Type: pp.Interested}
	isLicence := func(m *pp.Message) bool { return string(m.ExtendedPayload) == magicLicence }

	type step struct {
		in, want pp.Message
		opened   bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"closed conn refuses and lets the market talk", []step{
			{in: interested, want: keepalive},
			{in: req(1), want: keepalive},
			{in: req(1), want: keepalive}, // duplicate: remembered once
			{in: hello, want: hello},
			{in: have, want: have},
			{in: pp.Message{Type: pp.Bitfield, Bitfield: []bool{true}}, want: pp.Message{Type: pp.Bitfield, Bitfield: []bool{true}}},
			{in: pp.Message{Type: pp.NotInterested}, want: pp.Message{Type: pp.NotInterested}},
		}},
		{"licence hands back the swallowed requests, then the interest", []step{
			{in: interested, want: keepalive},
			{in: req(1), want: keepalive},
			{in: req(2), want: keepalive},
			{in: req(3), want: keepalive},
			{in: cancel(2), want: keepalive}, // cancelled while closed: forgotten
			{in: licence, want: req(1), opened: true},
			{in: req(4), want: req(4)}, // new requests pass at once
			{in: have, want: req(3)},   // the debt is paid in place of a Have
			{in: pp.Message{Keepalive: true}, want: interested},
			{in: have, want: have}, // nothing owed: nothing rewritten
			{in: req(5), want: req(5)},
			{in: licence, want: licence}, // a second licence is the market's
		}},
		{"licence without requests restores interest", []step{
			{in: interested, want: keepalive},
			{in: licence, want: interested, opened: true},
			{in: have, want: have},
		}},
		{"licence without interest", []step{
			{in: hello, want: hello},
			{in: licence, want: keepalive, opened: true},
			{in: req(7), want: req(7)},
		}},
		{"cancel of a request still owed after opening", []step{
			{in: req(1), want: keepalive},
			{in: req(2), want: keepalive},
			{in: licence, want: req(1), opened: true},
			{in: cancel(2), want: keepalive},
			{in: have, want: have},
		}},
	} {
		var c gateConn
		for i, s := range tc.steps {
			m := s.in
			if opened := c.step(&m, isLicence); opened != s.opened {
				t.Errorf("%s: step %d: opened %v, want %v", tc.name, i, opened, s.opened)
			}
			if !sameMessage(m, s.want) {
				t.Errorf("%s: step %d: %v became %v, want %v", tc.name, i, s.in, m, s.want)
			}
		}
	}
}

func sameMessage(a, b pp.Message) bool {
	if a.Keepalive || b.Keepalive {
		return a.Keepalive == b.Keepalive
	}
	return a.Type == b.Type && a.Index == b.Index && a.Begin == b.Begin && a.Length == b.Length &&
		a.ExtendedID == b.ExtendedID && string(a.ExtendedPayload) == string(b.ExtendedPayload) && len(a.Bitfield) == len(b.Bitfield)
}

// TestGateTable: only priced terms gate; every gated infohash is found
// and no other, whatever the order they came in; adding again keeps the
// first gate; a list a reader holds is never changed; a lookup allocates
// nothing; a connection not attached to a torrent is not gated.
func TestGateTable(t *testing.T) {
	var g gateTable
	ih := func(b ...byte) InfoHash { var h InfoHash; copy(h[:], b); return h }
	if g.byHash(ih(1)) != nil || g.of(&torrent.PeerConn{}) != nil {
		t.Fatal("an empty table gates")
	}
	free := testTerms()
	free.Price = wallet.Amount{}
	g.add(ih(1), &free)
	g.add(ih(2), nil)
	if g.gates.Load() != nil {
		t.Fatal("a free torrent is gated")
	}
	paid := testTerms()
	gated := []InfoHash{ih(9), ih(3), ih(0xff, 1), ih(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), ih(0)}
	for _, h := range gated[:3] {
		g.add(h, &paid)
	}
	held := *g.gates.Load() // as the filter holds it
	var was []InfoHash
	for _, gt := range held {
		was = append(was, gt.ih)
	}
	for _, h := range gated[3:] {
		g.add(h, &paid)
	}
	for i, gt := range held {
		if gt.ih != was[i] {
			t.Fatalf("a reader's list changed under it: entry %d is %x, was %x", i, gt.ih[:2], was[i][:2])
		}
	}
	cheaper := paid
	cheaper.Price = wallet.NewAmount(1)
	g.add(gated[1], &cheaper)
	if l := *g.gates.Load(); len(l) != len(gated) {
		t.Fatalf("%d gates, want %d", len(l), len(gated))
	}
	for _, h := range gated {
		gt := g.byHash(h)
		if gt == nil || gt.ih != h || gt.terms.Price.Cmp(paid.Price) != 0 {
			t.Errorf("gate of %x: %+v", h[:2], gt)
		}
	}
	for _, h := range []InfoHash{ih(1), ih(2), ih(3, 1), ih(0xff), ih(0xff, 2), ih(10)} {
		if gt := g.byHash(h); gt != nil {
			t.Errorf("%x is gated", h[:2])
		}
	}
	if g.of(&torrent.PeerConn{}) != nil {
		t.Error("a connection without a torrent is gated")
	}
	if n := testing.AllocsPerRun(100, func() { g.byHash(ih(10)) }); n != 0 {
		t.Errorf("a lookup allocates %v times", n)
	}
}

// BenchmarkGateLookup: what the filter costs a message of a free torrent
// (a miss) with no, one and 500 paid torrents.
func BenchmarkGateLookup(b *testing.B) {
	paid := testTerms()
	for _, n := range []int{0, 1, 500} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var g gateTable
			for i := range n {
				g.add(InfoHash(sha1.Sum([]byte(fmt.Sprint(i)))), &paid)
			}
			free := InfoHash(sha1.Sum([]byte("free")))
			b.ReportAllocs()
			for b.Loop() {
				if g.byHash(free) != nil {
					b.Fatal("free torrent gated")
				}
			}
		})
	}
}
