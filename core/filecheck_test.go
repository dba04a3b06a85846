package core

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkFixture is a verified copy of a three-file torrent in A's data dir,
// A stopped cleanly, and the original files for a good seeder.
type checkFixture struct {
	dir, root, torrentPath string
	tf                     *TorrentFile
	ih                     InfoHash
	aData, aState          string // A's copy of the data, A's state dir
	sums                   map[string][32]byte
}

var checkSizes = map[string]int{"a.bin": 200<<10 + 3, "b.bin": 256<<10 + 7, "c.bin": 100 << 10}

func newCheckFixture(t *testing.T) *checkFixture {
	t.Helper()
	f := &checkFixture{dir: t.TempDir(), sums: map[string][32]byte{}}
	f.root, f.torrentPath, f.tf = payloadTorrent(t, f.dir, 19, checkSizes, CreateOptions{PieceLength: 32 << 10})
	f.aData, f.aState = filepath.Join(f.dir, "a-data"), filepath.Join(f.dir, "a-state")
	for name := range checkSizes {
		b, err := os.ReadFile(filepath.Join(f.root, name))
		if err != nil {
			t.Fatal(err)
		}
		f.sums[name] = sha256.Sum256(b)
		p := filepath.Join(f.aData, "payload", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := startEngine(t, "A", testConfig("127.0.0.190"), f.aState)
	ih, err := a.Add(context.Background(), AddSpec{Source: f.torrentPath, DataDir: f.aData})
	if err != nil {
		t.Fatal(err)
	}
	f.ih = ih
	waitFor(t, a.Engine, ih, 30*time.Second, "A verified its copy", isComplete)
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	return f
}

// piecesOf returns the piece range of file name.
func (f *checkFixture) piecesOf(t *testing.T, name string) (begin, end int) {
	for _, lf := range newLayout(f.tf, f.aData).files {
		if filepath.Base(lf.path) == name {
			return lf.begin, lf.end
		}
	}
	t.Fatalf("no file %s", name)
	return 0, 0
}

func (f *checkFixture) aPath(name string) string { return filepath.Join(f.aData, "payload", name) }

// overwrite writes n garbage bytes at off in A's copy of name, keeping its
// size; keepMtime puts the old modification time back.
func (f *checkFixture) overwrite(t *testing.T, name string, off, n int64, keepMtime bool) {
	t.Helper()
	p := f.aPath(name)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteAt([]byte(strings.Repeat("\xAA", int(n))), off); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	mt := fi.ModTime().Add(time.Hour) // a clock that moved on, whatever the file system's mtime granularity
	if keepMtime {
		mt = fi.ModTime()
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	h, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := sha256.New()
	if _, err := io.Copy(s, h); err != nil {
		t.Fatal(err)
	}
	return [32]byte(s.Sum(nil))
}

// settled is a torrent whose start-up hashing is over.
func settled(tr Torrent) bool {
	return tr.NumPieces > 0 && tr.State != StateChecking && tr.State != StateMetadata
}

// A file changed while the client was stopped (same size, new mtime) is
// hashed again before any of its pieces is served: its bad piece is not
// complete after the restart, a file only touched stays complete, and the
// untouched file is not hashed. The bad piece is fetched again from a good
// seeder, and a third peer downloading from A alone gets every file with
// the right SHA-256.
func TestStartupCheckChangedFile(t *testing.T) {
	f := newCheckFixture(t)
	ctx := context.Background()
	aBegin, aEnd := f.piecesOf(t, "a.bin")
	bBegin, _ := f.piecesOf(t, "b.bin")
	cBegin, cEnd := f.piecesOf(t, "c.bin")
	// b.bin: one piece in its middle is garbage, mtime moved on.
	bOff := int64(f.tf.PieceLength)*int64(bBegin+3) - int64(checkSizes["a.bin"]) // piece bBegin+3 lies inside b.bin
	bad := bBegin + 3
	f.overwrite(t, "b.bin", bOff, 100, false)
	// c.bin: the same bytes, a new mtime: hashed again, found good.
	f.overwrite(t, "c.bin", 0, 0, false)
	// a.bin: garbage with its old mtime and size: unchanged as far as the
	// check can tell, so not hashed (proof that it was not: it stays complete).
	f.overwrite(t, "a.bin", 10, 50, true)

	a := startEngine(t, "A2", testConfig("127.0.0.190"), f.aState)
	tr := waitFor(t, a.Engine, f.ih, 30*time.Second, "A's start-up check", settled)
	for i, p := range tr.Pieces {
		want := byte(2)
		if i == bad {
			want = 0
		}
		if p != want {
			t.Errorf("after restart piece %d is %d, want %d (a.bin %d-%d, b.bin from %d, c.bin %d-%d)", i, p, want, aBegin, aEnd, bBegin, cBegin, cEnd)
		}
	}
	if tr.State == StateSeeding {
		t.Fatalf("A seeds a torrent with a bad piece: %+v", tr.State)
	}
	// Put a.bin back as it was (the test's trick to prove it was not
	// hashed) before anyone downloads it; its new mtime has it hashed.
	a.stop()
	if err := os.WriteFile(f.aPath("a.bin"), mustRead(t, filepath.Join(f.root, "a.bin")), 0o644); err != nil {
		t.Fatal(err)
	}
	a = startEngine(t, "A3", testConfig("127.0.0.190"), f.aState)

	// B downloads from A alone; A gets its bad piece from the good seeder S.
	b := startEngine(t, "B", testConfig("127.0.0.191"), filepath.Join(f.dir, "b-state"))
	bData := filepath.Join(f.dir, "b-data")
	if _, err := b.Add(ctx, AddSpec{Source: f.torrentPath, DataDir: bData, Peers: []string{a.ListenAddr().String()}}); err != nil {
		t.Fatal(err)
	}
	// While A lacks the piece, B cannot complete: A never serves it.
	bt := waitFor(t, b.Engine, f.ih, 30*time.Second, "B has all A has", func(tr Torrent) bool {
		n := 0
		for _, p := range tr.Pieces {
			if p == 2 {
				n++
			}
		}
		return n == tr.NumPieces-1 && tr.NumPieces > 0
	})
	if bt.Pieces[bad] == 2 {
		t.Fatalf("B got piece %d, which A does not have", bad)
	}
	s := startEngine(t, "S", testConfig("127.0.0.192"), filepath.Join(f.dir, "s-state"))
	if _, err := s.Add(ctx, AddSpec{Source: f.torrentPath, DataDir: filepath.Dir(f.root)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.Engine, f.ih, 30*time.Second, "S verified", isComplete)
	if err := a.AddPeer(ctx, f.ih, s.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.Engine, f.ih, 60*time.Second, "A fetched its bad piece again", isComplete)
	waitFor(t, b.Engine, f.ih, 60*time.Second, "B complete from A", isComplete)
	for name, want := range f.sums {
		if got := fileSum(t, f.aPath(name)); got != want {
			t.Errorf("A's %s: sha256 %x, want %x", name, got, want)
		}
		if got := fileSum(t, filepath.Join(bData, "payload", name)); got != want {
			t.Errorf("B's %s: sha256 %x, want %x", name, got, want)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An unchanged torrent starts seeding without hashing: garbage written
// into a file whose size and mtime are put back is not noticed (what
// would be found if the data were hashed).
func TestStartupCheckUnchangedNotHashed(t *testing.T) {
	f := newCheckFixture(t)
	for name := range checkSizes {
		f.overwrite(t, name, 5, 64, true)
	}
	a := startEngine(t, "A2", testConfig("127.0.0.190"), f.aState)
	tr := waitFor(t, a.Engine, f.ih, 30*time.Second, "A's start", settled)
	if !isComplete(tr) || tr.State != StateSeeding {
		t.Fatalf("unchanged torrent after restart: state %s, pieces %v; want seeding without a hash check", tr.State, tr.Pieces)
	}
}

// A file removed while stopped puts the torrent in error naming the path,
// and nothing is downloaded over it (even with a seeder at hand) until the
// user resumes it.
func TestStartupCheckMissingFile(t *testing.T) {
	f := newCheckFixture(t)
	ctx := context.Background()
	if err := os.Remove(f.aPath("b.bin")); err != nil {
		t.Fatal(err)
	}
	s := startEngine(t, "S", testConfig("127.0.0.192"), filepath.Join(f.dir, "s-state"))
	if _, err := s.Add(ctx, AddSpec{Source: f.torrentPath, DataDir: filepath.Dir(f.root)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.Engine, f.ih, 30*time.Second, "S verified", isComplete)

	a := startEngine(t, "A2", testConfig("127.0.0.190"), f.aState)
	tr := waitFor(t, a.Engine, f.ih, 30*time.Second, "A in error", func(tr Torrent) bool { return tr.State == StateError })
	if !strings.Contains(tr.Err, f.aPath("b.bin")) {
		t.Fatalf("error %q does not name %s", tr.Err, f.aPath("b.bin"))
	}
	if err := a.AddPeer(ctx, f.ih, s.ListenAddr().String()); err == nil {
		t.Log("AddPeer on a torrent in error accepted (it is not started)")
	}
	time.Sleep(time.Second)
	if _, err := os.Stat(f.aPath("b.bin")); !os.IsNotExist(err) {
		t.Fatalf("b.bin came back without the user's word: %v", err)
	}
	if tr := a.Snapshot(); tr.Torrents[0].State != StateError {
		t.Fatalf("state %s, want error", tr.Torrents[0].State)
	}
	// The user decides: resume downloads it again.
	if err := a.Resume(ctx, f.ih); err != nil {
		t.Fatal(err)
	}
	if err := a.AddPeer(ctx, f.ih, s.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a.Engine, f.ih, 60*time.Second, "A downloaded b.bin again", isComplete)
	if got := fileSum(t, f.aPath("b.bin")); got != f.sums["b.bin"] {
		t.Fatalf("b.bin sha256 %x, want %x", got, f.sums["b.bin"])
	}
}

// A store written before stamps existed (no filestamps bucket) starts as
// before, without hashing, and stamps its files then: a change made after
// that start is caught at the next one.
func TestStartupCheckOldStore(t *testing.T) {
	f := newCheckFixture(t)
	db, err := bolt.Open(filepath.Join(f.aState, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketStamps) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f.overwrite(t, "a.bin", 5, 64, true) // not seen: trusted like before
	a := startEngine(t, "A2", testConfig("127.0.0.190"), f.aState)
	tr := waitFor(t, a.Engine, f.ih, 30*time.Second, "A's start", settled)
	if !isComplete(tr) {
		t.Fatalf("old store: pieces %v, want all complete (trusted)", tr.Pieces)
	}
	a.stop()
	begin, _ := f.piecesOf(t, "c.bin")
	off := int64(f.tf.PieceLength)*int64(begin+1) - int64(checkSizes["a.bin"]+checkSizes["b.bin"])
	f.overwrite(t, "c.bin", off, 10, false)
	a = startEngine(t, "A3", testConfig("127.0.0.190"), f.aState)
	tr = waitFor(t, a.Engine, f.ih, 30*time.Second, "A's start-up check", settled)
	if tr.Pieces[begin+1] == 2 {
		t.Fatalf("a change after the first start with stamps was not caught: pieces %v", tr.Pieces)
	}
}

// Recheck is the other answer to a missing file: the torrent starts, the
// file's pieces are forgotten and everything else is hashed again.
func TestStartupCheckMissingRecheck(t *testing.T) {
	f := newCheckFixture(t)
	if err := os.Remove(f.aPath("c.bin")); err != nil {
		t.Fatal(err)
	}
	a := startEngine(t, "A2", testConfig("127.0.0.190"), f.aState)
	waitFor(t, a.Engine, f.ih, 30*time.Second, "A in error", func(tr Torrent) bool { return tr.State == StateError })
	if err := a.Recheck(context.Background(), f.ih); err != nil {
		t.Fatal(err)
	}
	begin, end := f.piecesOf(t, "c.bin")
	tr := waitFor(t, a.Engine, f.ih, 30*time.Second, "A rechecked", func(tr Torrent) bool {
		return settled(tr) && tr.State != StateError && tr.Err == ""
	})
	for i, p := range tr.Pieces {
		if want := i < begin || i >= end; (p == 2) != want {
			t.Errorf("piece %d complete=%v, want %v (c.bin is pieces %d-%d)", i, p == 2, want, begin, end)
		}
	}
}
