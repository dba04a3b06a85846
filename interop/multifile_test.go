//go:build linux

package interop

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// tree is a multi-file payload: relative path → size. It has nested
// directories, sizes that straddle piece boundaries, a tiny file and an
// empty one (real torrents have both).
var tree = map[string]int64{
	"a.bin":            1<<20 + 7,
	"sub/b.bin":        2<<20 - 3,
	"sub/deeper/c.txt": 100,
	"empty.dat":        0,
	"z.bin":            300<<10 + 1,
}

// writeTree writes tree under root and returns each file's sha256.
func writeTree(t *testing.T, root string) map[string]string {
	t.Helper()
	sums := make(map[string]string)
	for rel, size := range tree {
		sum, err := WritePayload(filepath.Join(root, rel), size, uint64(len(rel))*7+uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		sums[rel] = sum
	}
	return sums
}

// checkTree fails the test unless every file under root has its sha256.
func checkTree(t *testing.T, root string, want map[string]string) {
	t.Helper()
	for rel, sum := range want {
		checkFile(t, filepath.Join(root, rel), sum)
	}
}

// TestAria2GetsOurMultiFileTorrent: aria2 downloads a directory torrent
// made by our create verb from our seed verb.
func TestAria2GetsOurMultiFileTorrent(t *testing.T) {
	t.Parallel()
	need(t, "aria2c")
	dir := t.TempDir()
	trk := startTracker(t)
	src := filepath.Join(dir, "src", "album")
	sums := writeTree(t, src)
	tor := filepath.Join(dir, "ours.torrent")
	b := newBT(t, dir, "ours-seed")
	if _, err := b.run(t, 30*time.Second, "ours-create", "create",
		"--piece-length", fmt.Sprint(1<<pieceLog2), "--tracker", trk.URL, "-o", tor, src); err != nil {
		t.Fatalf("our create: %v", err)
	}
	ti, err := ReadTorrent(tor)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range tree {
		total += n
	}
	if ti.Name != "album" || ti.Length != total {
		t.Fatalf("our create wrote %q with %d bytes; want \"album\" with %d", ti.Name, ti.Length, total)
	}
	b.start(t, "ours-seed", "seed", "--listen", b.listen.String(), "--torrent", tor, src)
	if err := WaitHasAll(NewLoopbackIP(), b.listen, ti.InfoHash, ti.Pieces, 30*time.Second); err != nil {
		t.Fatalf("our seeder: %v", err)
	}
	trk.AddPeer(ti.InfoHash, b.listen)
	out := filepath.Join(dir, "aria2-out")
	leech := startAria2(t, dir, "aria2-get", NewLoopbackIP(), tor, out, false)
	if err := leech.Wait(transferMax); err != nil {
		t.Fatalf("aria2 leecher: %v", err)
	}
	checkTree(t, filepath.Join(out, "album"), sums)
}

// TestGetMultiFileFromTransmission: our get downloads a directory torrent
// made by mktorrent from a Transmission seeder.
func TestGetMultiFileFromTransmission(t *testing.T) {
	t.Parallel()
	need(t, "transmission-daemon", "transmission-remote", "mktorrent")
	dir := t.TempDir()
	seedDir := filepath.Join(dir, "seed")
	sums := writeTree(t, filepath.Join(seedDir, "album"))
	tor := filepath.Join(dir, "album.torrent")
	ti, err := Mktorrent(filepath.Join(seedDir, "album"), tor, pieceLog2)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := StartTransmission(dir, "transmission", NewLoopbackIP(), seedDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	watch(t, tr.Proc)
	if err := tr.Add(tor, seedDir); err != nil {
		t.Fatal(err)
	}
	if err := tr.WaitDone(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	b := newBT(t, dir, "ours")
	out := filepath.Join(dir, "ours-out")
	if _, err := b.run(t, transferMax, "ours-get", "get", "--listen", b.listen.String(),
		"--peer", tr.Addr.String(), "--out", out, tor); err != nil {
		t.Fatalf("our get did not finish cleanly: %v", err)
	}
	checkTree(t, filepath.Join(out, ti.Name), sums) // the empty file must exist too
}
