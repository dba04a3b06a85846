package core

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// writePattern writes n bytes of a pattern a few lines of Python repeat
// (bytes((i*7 + (i>>9) + seed) & 0xff for i in range(n))), so the
// libtorrent infohashes below can be recomputed.
func writePattern(t *testing.T, path string, n, seed int) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9 + seed)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// patternTree writes dir/album (a subdirectory, sizes off piece
// boundaries) and dir/one.bin. No empty file: a v2 tree with one is
// refused (see TestParseV2Refusals).
func patternTree(t *testing.T, dir string) {
	t.Helper()
	for rel, n := range map[string]int{"a.bin": 100007, "sub/deeper/c.txt": 100, "z.bin": 40001} {
		writePattern(t, filepath.Join(dir, "album", rel), n, len(rel))
	}
	writePattern(t, filepath.Join(dir, "one.bin"), 70003, 1)
}

// TestCreateMatchesLibtorrent: hybrid and v2 torrents made by create are
// the ones libtorrent 2.0.8 makes of the same files (16 KiB pieces):
// identical info dicts, so identical infohashes. Vectors from
// lt.create_torrent(fs, 16384, flags=0 or v2_only) (interop/testdata/ltpeer.py make).
func TestCreateMatchesLibtorrent(t *testing.T) {
	dir := t.TempDir()
	patternTree(t, dir)
	for _, tc := range []struct {
		path   string
		format Format
		v1, v2 string
	}{
		{"album", FormatHybrid, "adaca20d6b4539dafad06bc1b233572b095de3b8", "1f2e377ae9d2a71813d47f29a7d5bc5cdf497e240133043ac8de48fe86526e0d"},
		{"one.bin", FormatHybrid, "da0c35f7f256043912b2b51151d68cc4260fb438", "65b7dcd99cd0fc76db40dc28fadbf0f9d69d001555dad01dd9f5668d24e4c38a"},
		{"album", FormatV2, "", "0e690621fa7dfcf922c49e2ee3fe35c769c1df326eeb83baf9351a9bb44637d0"},
		{"one.bin", FormatV2, "", "5f89e4b3d7ba712902a4c68acb1ce62fa77ae0e1955b2172d2b0a56531385a27"},
	} {
		t.Run(string(tc.format)+"/"+tc.path, func(t *testing.T) {
			tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, tc.path), PieceLength: 16 << 10, Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if tf.Format != tc.format || tf.InfoHashV2.String() != tc.v2 {
				t.Fatalf("format %s v2 %s, want %s %s", tf.Format, tf.InfoHashV2, tc.format, tc.v2)
			}
			want := tc.v1
			if tc.v1 == "" {
				want = tc.v2[:40] // a v2-only torrent is known by its truncated v2 infohash
			}
			if tf.InfoHash.String() != want {
				t.Fatalf("infohash %s, want %s", tf.InfoHash, want)
			}
			m := tf.Magnet()
			if strings.Contains(m, "urn:btih:") != (tc.v1 != "") || !strings.Contains(m, "xt=urn:btmh:1220"+tc.v2) {
				t.Fatalf("magnet %s", m)
			}
			// Our parser reads it back (it refused v2-only before).
			back, err := ParseTorrentFile(tf.Bytes, "created")
			if err != nil {
				t.Fatal(err)
			}
			if back.InfoHash != tf.InfoHash || back.Size != tf.Size || len(back.Files) != len(tf.Files) {
				t.Fatalf("reparsed %+v", back)
			}
			// The magnet resolves to the same key.
			src, err := resolveSource(context.Background(), m)
			if err != nil || src.ih != tf.InfoHash {
				t.Fatalf("magnet resolves to %v, %v; want %s", src, err, tf.InfoHash)
			}
		})
	}
}

// TestParseV2Refusals: broken v2 metadata gets errors that say what is
// wrong, not the v1 message v2-only torrents used to get.
func TestParseV2Refusals(t *testing.T) {
	dir := t.TempDir()
	patternTree(t, dir)
	tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "album"), PieceLength: 16 << 10, Format: FormatV2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"meta version 3", "12:meta versioni2e", "12:meta versioni3e", "meta version 3 is not supported"},
		{"piece length", "12:piece lengthi16384e", "12:piece lengthi12288e", "not a power of two of at least 16384"},
		{"short pieces root", "11:pieces root32:", "11:pieces root31:", "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(strings.Replace(string(tf.Bytes), tc.from, tc.to, 1))
			if string(b) == string(tf.Bytes) {
				t.Fatalf("%q not in the torrent", tc.from)
			}
			_, err := ParseTorrentFile(b, "t")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// An empty file: anacrolix v1.62.0 panics on adding one that follows
	// a non-empty file, and on any peer's hash request once one is in
	// the tree, so it is refused with the reason (by create too).
	for _, name := range []string{"0-empty", "zz-empty"} {
		p := filepath.Join(dir, "album", name)
		writePattern(t, p, 0, 0)
		for _, f := range []Format{FormatHybrid, FormatV2} {
			_, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "album"), PieceLength: 16 << 10, Format: f})
			if err == nil || !strings.Contains(err.Error(), "empty file ("+name+")") {
				t.Fatalf("%s with %s: %v", f, name, err)
			}
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// A piece layer that does not hash to its file's pieces root.
	i := strings.Index(string(tf.Bytes), "12:piece layers")
	if i < 0 {
		t.Fatal("no piece layers")
	}
	b := append([]byte(nil), tf.Bytes...)
	b[len(b)-3] ^= 1 // inside the last layer's hashes
	if _, err := ParseTorrentFile(b, "t"); err == nil || !strings.Contains(err.Error(), "piece layers") {
		t.Fatalf("corrupt piece layer: %v", err)
	}
}

// TestV2TransferLayout: hybrid and v2 torrents, single- and multi-file,
// from a .torrent and from a magnet (btih+btmh or btmh as create prints
// them, and btih alone for a hybrid), go from one engine to another,
// every file verified by sha256 and stored where libtorrent stores it: a
// single file at OUT/one.bin (not OUT/one.bin/one.bin), a tree under
// OUT/album with its empty file.
func TestV2TransferLayout(t *testing.T) {
	dir := t.TempDir()
	patternTree(t, dir)
	ctx := context.Background()
	seeder := startEngine(t, "seeder", testConfig("127.0.0.120"), filepath.Join(dir, "seeder"))
	type job struct {
		name, src, layout string
		ih                InfoHash
		out               string
		e                 *runningEngine
	}
	var jobs []*job
	n := 0
	for _, f := range []Format{FormatHybrid, FormatV2} {
		for _, p := range []string{"album", "one.bin"} {
			tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, p), PieceLength: 16 << 10, Format: f})
			if err != nil {
				t.Fatal(err)
			}
			tp := filepath.Join(dir, string(f)+"-"+p+".torrent")
			if err := os.WriteFile(tp, tf.Bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: dir}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, seeder.Engine, tf.InfoHash, 30*time.Second, "seeder verified "+tp, isComplete)
			srcs := []string{tp, tf.Magnet()}
			if f == FormatHybrid { // a v1 client's magnet of it: btih alone
				srcs = append(srcs, "magnet:?xt=urn:btih:"+tf.InfoHash.String())
			}
			for _, src := range srcs {
				n++
				jobs = append(jobs, &job{name: string(f) + "/" + p, src: src, layout: p, ih: tf.InfoHash,
					out: filepath.Join(dir, "out", fmt.Sprint(n))})
			}
		}
	}
	// A btmh-only magnet of a hybrid: refused once the metadata shows it
	// is one, with the magnet to use instead.
	hy, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "one.bin"), PieceLength: 16 << 10, Format: FormatHybrid})
	if err != nil {
		t.Fatal(err)
	}
	btmh := "magnet:?xt=urn:btmh:1220" + hy.InfoHashV2.String()
	lone := startEngine(t, "btmh-only", testConfig("127.0.0.129"), filepath.Join(dir, "btmh-only"))
	ih, err := lone.Add(ctx, AddSpec{Source: btmh, DataDir: filepath.Join(dir, "btmh-out"), Peers: []string{seeder.ListenAddr().String()}})
	if err != nil || ih != hy.InfoHashV2.Short() {
		t.Fatalf("btmh magnet added as %s, %v; want %s", ih, err, hy.InfoHashV2.Short())
	}
	st := waitFor(t, lone.Engine, ih, 30*time.Second, "btmh-only magnet of a hybrid refused", func(tr Torrent) bool { return tr.Err != "" })
	if !strings.Contains(st.Err, "magnet:?xt=urn:btih:"+hy.InfoHash.String()) || st.Done != 0 {
		t.Fatalf("error %q, %d bytes", st.Err, st.Done)
	}
	leecher := startEngine(t, "leecher", testConfig("127.0.0.121"), filepath.Join(dir, "leecher"))
	var engines []*runningEngine
	for _, j := range jobs {
		j.e = leecher
		if strings.HasPrefix(j.src, "magnet:") {
			// A second engine: one engine holds one torrent per infohash.
			ip := fmt.Sprintf("127.0.0.%d", 130+len(engines))
			j.e = startEngine(t, "magnet-"+j.name, testConfig(ip), j.out+"-engine")
			engines = append(engines, j.e)
		}
		if _, err := j.e.Add(ctx, AddSpec{Source: j.src, DataDir: j.out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range jobs {
		got := waitFor(t, j.e.Engine, j.ih, 60*time.Second, j.name+" from "+j.src, isComplete)
		sameTree(t, hashTree(t, filepath.Join(dir, j.layout)), hashTree(t, filepath.Join(j.out, j.layout)))
		entries, err := os.ReadDir(j.out)
		if err != nil || len(entries) != 1 || entries[0].Name() != j.layout || entries[0].IsDir() != (j.layout == "album") {
			t.Fatalf("%s: %s holds %v (%v), want only %s", j.name, j.out, entries, err, j.layout)
		}
		if got.Format == "" || got.InfoHashV2 == (InfoHashV2{}) {
			t.Errorf("%s: snapshot format %q v2 %s", j.name, got.Format, got.InfoHashV2)
		}
	}
}

// TestV2MarketIdentifier pins PROTOCOL.md §7.4: the identifier a HELLO,
// a licence, a tip and a pledge carry for a v2-only torrent is its v2
// infohash truncated to 20 bytes, for a hybrid its v1 infohash; the
// vector's info dicts, hashes and HELLO signing hash are the document's.
func TestV2MarketIdentifier(t *testing.T) {
	dir := t.TempDir()
	writePattern(t, filepath.Join(dir, "v.bin"), 100, 1)
	for _, tc := range []struct {
		format       Format
		info, id, v2 string
		hello        string // TIP-191 hash of the §14 HELLO with this identifier
	}{
		{FormatV2, "64393a66696c65207472656564353a762e62696e64303a64363a6c656e677468693130306531313a70696563657320726f6f7433323a4303a0db0805657f94896cbe70712284dd3d74b1324a92b677b792b63b5d753865656531323a6d6574612076657273696f6e693265343a6e616d65353a762e62696e31323a7069656365206c656e6774686931363338346565",
			"cdefb095d867ca02252f77aa8404fdba8f9165c4", "cdefb095d867ca02252f77aa8404fdba8f9165c491dd6136a477c1285b0cb3d1",
			"eded8e02cc2a3c38906a12ed5710393d2db775309beec08536a21dc240cc52cf"},
		{FormatHybrid, "64393a66696c65207472656564353a762e62696e64303a64363a6c656e677468693130306531313a70696563657320726f6f7433323a4303a0db0805657f94896cbe70712284dd3d74b1324a92b677b792b63b5d7538656565363a6c656e677468693130306531323a6d6574612076657273696f6e693265343a6e616d65353a762e62696e31323a7069656365206c656e67746869313633383465363a70696563657332303a3f71dcdbf6bc96928567def05ed9ea78c15f062265",
			"f1cd478b030e9407844ddfa17b8bed0ccb179e96", "45e217bd86e1084a4798d57aee1e77babe190e3cb0861e98ef877221601dc508",
			"336e61ae165bba0206d5ea3f2d85287006c485cf84fc0f4dfbe463bbcbee2f32"},
	} {
		tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "v.bin"), PieceLength: 16 << 10, Format: tc.format})
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(tf.mi.InfoBytes); got != tc.info {
			t.Fatalf("%s info dict %s", tc.format, got)
		}
		if tf.InfoHash.String() != tc.id || tf.InfoHashV2.String() != tc.v2 {
			t.Fatalf("%s: identifier %s v2 %s", tc.format, tf.InfoHash, tf.InfoHashV2)
		}
		h := bttbid.Hello{Version: 1, ChainID: 3448148188, Time: 1764000000}
		copy(h.Token[:], mustHex(t, "41032017411f4663b317fe77c257d28d5cd1b26e3d"))
		copy(h.Address[:], mustHex(t, "414799a56c0d4cd33838c1f002e2ab73b8dda0c774"))
		var sender, receiver [20]byte
		copy(sender[:], mustHex(t, "2d4254303030312d000102030405060708090a0b"))
		copy(receiver[:], mustHex(t, "2d7142343532302d6162636465666768696a6b6c"))
		// The §14 vector itself, to show the HELLO here is §14's.
		var v1 [20]byte
		copy(v1[:], mustHex(t, "c9e15763f722f23e98a29decdfae341b98d53056"))
		if got := wallet.MessageHash(bttbid.HelloSigningBytes(&h, v1, sender, receiver)); hex.EncodeToString(got[:]) != "bd99f9d6315063564fffa4062bb7fdae9e57b9a73487f83b944130fd631178a8" {
			t.Fatalf("§14 HELLO hash %x", got)
		}
		msg := bttbid.HelloSigningBytes(&h, tf.InfoHash, sender, receiver)
		if !strings.Contains(string(msg), "\ninfohash: "+tc.id+"\n") {
			t.Fatalf("signing string %q", msg)
		}
		if got := wallet.MessageHash(msg); hex.EncodeToString(got[:]) != tc.hello {
			t.Errorf("%s HELLO TIP-191 hash %x, want %s", tc.format, got, tc.hello)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPaidTermsEveryFormat: publisher terms spliced into a v1, hybrid or
// v2 info dict read back unchanged, gate the torrent on the seeder (a
// legacy leecher is refused and gets nothing) and open to a licence
// (here the test verifier's magic, as in TestPurchaseGate): the licensed
// leecher downloads every file, verified by sha256.
func TestPaidTermsEveryFormat(t *testing.T) {
	dir := t.TempDir()
	terms := testTerms()
	terms.Goal, terms.Deadline = wallet.Amount{}, time.Time{}
	ctx := context.Background()
	l := testLedger(t, dir)
	seeder := startEngine(t, "seeder", testConfig("127.0.0.140"), filepath.Join(dir, "seeder"), WithWallet(testWallet(t, l, dir, 1, 0)))
	seeder.gates.setVerifier(func(_ *torrent.PeerConn, payload []byte) bool { return string(payload) == magicLicence })
	buyer := startEngine(t, "buyer", testConfig("127.0.0.141"), filepath.Join(dir, "buyer"), WithWallet(testWallet(t, l, dir, 2, 1e15)))
	legacy := startEngine(t, "legacy", testConfig("127.0.0.142"), filepath.Join(dir, "legacy"))
	roots := map[InfoHash]string{}
	for i, f := range []Format{FormatV1, FormatHybrid, FormatV2} {
		d := filepath.Join(dir, string(f))
		root, tp, tf := payloadTorrent(t, d, uint64(20+i), map[string]int{"film.bin": 200<<10 + 321, "notes.txt": 999},
			CreateOptions{PieceLength: 16 << 10, Terms: &terms, Format: f})
		got, err := tf.Terms()
		if err != nil || got == nil || got.Price.Cmp(terms.Price) != 0 || got.Payee != terms.Payee || tf.Format != f {
			t.Fatalf("%s: terms %+v, %v; format %s", f, got, err, tf.Format)
		}
		ih := tf.InfoHash
		roots[ih] = root
		if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified "+string(f), isComplete)
		if gt := seeder.gates.byHash(ih); gt == nil {
			t.Fatalf("%s: seeder has no gate", f)
		}
		for _, e := range []*runningEngine{buyer, legacy} {
			if _, err := e.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Join(e.DataDir()+"-out", string(f)), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, 30*time.Second, string(f)+": both leechers refused", func() bool { n, _ := gateState(seeder.Engine, ih); return n == 2 })
		if n := sendBttBid(t, buyer.Engine, ih, []byte(magicLicence)); n != 1 {
			t.Fatalf("%s: licence sent to %d peers, want 1", f, n)
		}
		waitFor(t, buyer.Engine, ih, 60*time.Second, string(f)+": licensed download", isComplete)
		sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(buyer.DataDir()+"-out", string(f), "payload")))
	}
	for ih := range roots {
		if s := findT(legacy.Snapshot(), ih); s.Done != 0 || s.Downloaded != 0 {
			t.Errorf("legacy leecher got %d bytes of paid torrent %s", s.Downloaded, ih)
		}
	}
}

// TestV2ResumePriorities: a v2 multi-file download with one file skipped
// fetches the others only (v2 pieces never span files, so the skipped
// file is never created), and after a restart the engine restores the
// torrent with its format, v2 infohash and priorities, complete without
// fetching anything again.
func TestV2ResumePriorities(t *testing.T) {
	dir := t.TempDir()
	patternTree(t, dir)
	ctx := context.Background()
	tf, err := CreateTorrent(CreateOptions{Path: filepath.Join(dir, "album"), PieceLength: 16 << 10, Format: FormatV2})
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(dir, "album.torrent")
	if err := os.WriteFile(tp, tf.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	skip := slices.Index(tf.Files, "z.bin")
	if skip < 0 {
		t.Fatalf("files %v", tf.Files)
	}
	seeder := startEngine(t, "seeder", testConfig("127.0.0.145"), filepath.Join(dir, "seeder"))
	if _, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seeder.Engine, tf.InfoHash, 30*time.Second, "seeder verified", isComplete)
	out, state := filepath.Join(dir, "out"), filepath.Join(dir, "leecher")
	wanted := func(tr Torrent) bool { return tr.Size > 0 && tr.Done == tr.Size }
	e := startEngine(t, "leecher", testConfig("127.0.0.146"), state)
	ih, err := e.Add(ctx, AddSpec{Source: tp, DataDir: out, Paused: true, Peers: []string{seeder.ListenAddr().String()}})
	if err != nil || ih != tf.InfoHash {
		t.Fatalf("Add: %s, %v", ih, err)
	}
	if err := e.SetFilePriority(ctx, ih, skip, PrioritySkip); err != nil {
		t.Fatal(err)
	}
	if err := e.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	first := waitFor(t, e.Engine, ih, 60*time.Second, "wanted files", wanted)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	all := hashTree(t, filepath.Join(dir, "album"))
	delete(all, "z.bin")
	sameTree(t, all, hashTree(t, filepath.Join(out, "album")))
	if _, err := os.Stat(filepath.Join(out, "album", "z.bin")); !os.IsNotExist(err) {
		t.Fatalf("skipped file: %v", err)
	}

	e = startEngine(t, "restarted", testConfig("127.0.0.146"), state)
	got := waitFor(t, e.Engine, ih, 30*time.Second, "restored", wanted)
	if got.Format != FormatV2 || got.InfoHashV2 != tf.InfoHashV2 || got.Files[skip].Priority != PrioritySkip {
		t.Fatalf("restored %s %s priority %d", got.Format, got.InfoHashV2, got.Files[skip].Priority)
	}
	if got.Downloaded != first.Downloaded {
		t.Fatalf("downloaded %d after the restart, %d before", got.Downloaded, first.Downloaded)
	}
}
