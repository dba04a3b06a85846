package core

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// parkConfig is testConfig parking after d.
func parkConfig(ip string, d time.Duration) Config {
	c := testConfig(ip)
	c.ParkAfter = d
	return c
}

func isParked(tr Torrent) bool { return tr.Parked && isComplete(tr) && tr.State == StateSeeding }

// inClient reports, from the loop, whether torrent ih is in the anacrolix
// client and our state holds it.
func inClient(t testing.TB, e *Engine, ih InfoHash) bool {
	t.Helper()
	var in bool
	err := e.do(context.Background(), func() error {
		ts, ok := e.torrents[ih]
		if !ok {
			return fmt.Errorf("torrent %s unknown", ih)
		}
		_, held := e.cl.Torrent(metainfo.Hash(ih))
		if held != (ts.t != nil) {
			return fmt.Errorf("client holds it: %v, our state: %v", held, ts.t != nil)
		}
		in = held
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// A complete torrent with no peer leaves the client after park_after and
// keeps its place in the snapshot: seeding, every piece and file
// complete, totals kept. A command that needs the client wakes it; it
// parks again once quiet. Pause and resume of a parked torrent work.
func TestParkAndWakeByCommand(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := seedTorrent(t, dir, 32<<10)
	ctx := context.Background()
	e, before := seedEngine(t, "seeder", parkConfig("127.0.0.50", 300*time.Millisecond), filepath.Join(dir, "s"), torrentPath, filepath.Dir(root), "seeder verified", isComplete)
	ih := before.InfoHash
	got := waitFor(t, e.Engine, ih, 10*time.Second, "parked", isParked)
	if inClient(t, e.Engine, ih) {
		t.Fatal("parked torrent still in the anacrolix client")
	}
	if got.Size != tf.Size || got.Done != tf.Size || got.NumPieces != tf.NumPieces || len(got.Files) != len(before.Files) {
		t.Fatalf("parked snapshot size %d done %d pieces %d files %d, want %d/%d/%d/%d",
			got.Size, got.Done, got.NumPieces, len(got.Files), tf.Size, tf.Size, tf.NumPieces, len(before.Files))
	}
	for i, f := range got.Files {
		if f != before.Files[i] {
			t.Fatalf("parked file %d: %+v, in the client %+v", i, f, before.Files[i])
		}
	}

	// Recheck needs the client: the torrent wakes, is hashed, parks again.
	if err := e.Recheck(ctx, ih); err != nil {
		t.Fatal(err)
	}
	if !inClient(t, e.Engine, ih) {
		t.Fatal("recheck did not wake the parked torrent")
	}
	waitFor(t, e.Engine, ih, 5*time.Second, "woken", func(tr Torrent) bool { return !tr.Parked })
	waitFor(t, e.Engine, ih, 30*time.Second, "parked again after the recheck", isParked)

	// Labels need no client: the torrent stays parked.
	if err := e.SetLabels(ctx, ih, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if inClient(t, e.Engine, ih) {
		t.Fatal("a label change woke the parked torrent")
	}

	if err := e.Pause(ctx, ih); err != nil {
		t.Fatal(err)
	}
	p := waitFor(t, e.Engine, ih, 5*time.Second, "paused", func(tr Torrent) bool { return tr.State == StatePaused })
	if p.Parked {
		t.Fatal("paused torrent shown parked")
	}
	if err := e.Resume(ctx, ih); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.Engine, ih, 30*time.Second, "parked after resume", isParked)
	if inClient(t, e.Engine, ih) {
		t.Fatal("parked after resume, yet in the client")
	}
}

// A torrent parked at shutdown starts parked, without the client, when
// its files are unchanged; a file changed while stopped makes it start in
// the client and be verified, and the changed piece is not complete.
func TestParkedRestart(t *testing.T) {
	dir := t.TempDir()
	root, torrentPath, tf := dataTorrent(t, dir, 7, 4<<20)
	ctx := context.Background()
	cfg := parkConfig("127.0.0.51", 300*time.Millisecond)
	state := filepath.Join(dir, "s")
	e := startEngine(t, "seeder", cfg, state)
	ih, err := e.Add(ctx, AddSpec{Source: torrentPath, DataDir: filepath.Dir(root)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.Engine, ih, 30*time.Second, "parked", isParked)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}

	// Unchanged: parked from the start, never in the client.
	cfg.ParkAfter = time.Hour // it could not have parked again by itself
	e = startEngine(t, "seeder2", cfg, state)
	waitFor(t, e.Engine, ih, 5*time.Second, "restored parked", isParked)
	if inClient(t, e.Engine, ih) {
		t.Fatal("restored parked torrent is in the client")
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}

	// A byte of the second piece changed while stopped (same size, new
	// mtime): the torrent starts in the client and that piece is hashed
	// bad.
	data := filepath.Join(root, "data.bin")
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff ^ readByte(t, data, tf.PieceLength+5)}, tf.PieceLength+5); err != nil {
		t.Fatal(err)
	}
	f.Close()
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(data, future, future); err != nil {
		t.Fatal(err)
	}
	e = startEngine(t, "seeder3", cfg, state)
	got := waitFor(t, e.Engine, ih, 30*time.Second, "changed file verified", func(tr Torrent) bool {
		return tr.NumPieces > 1 && tr.State != StateChecking && tr.Done == tr.Size-tf.PieceLength
	})
	if got.Parked || got.Pieces[1] == 2 || !inClient(t, e.Engine, ih) {
		t.Fatalf("changed file: parked %v, piece 1 state %d, in client %v", got.Parked, got.Pieces[1], inClient(t, e.Engine, ih))
	}
}

func readByte(t testing.TB, path string, off int64) byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b[0]
}

// A parked torrent serves a leecher that dials it: the seeder's listener
// reads the handshake (plaintext, or MSE with the leecher requiring it:
// the seeder's connection is marked encrypted just then), wakes the
// torrent and hands the connection over; every byte arrives (sha256 of
// every file). Once the leecher is gone the torrent parks again, and what
// it uploaded stays in its totals and the session's.
func TestParkedSeedServes(t *testing.T) {
	for _, enc := range []string{"disable", "require"} {
		t.Run(enc, func(t *testing.T) {
			dir := t.TempDir()
			root, torrentPath, tf := seedTorrent(t, dir, 32<<10)
			ctx := context.Background()
			seeder, seeded := seedEngine(t, "seeder", parkConfig("127.0.0.52", 500*time.Millisecond), filepath.Join(dir, "s"), torrentPath, filepath.Dir(root), "parked", isParked)
			ih := seeded.InfoHash
			if inClient(t, seeder.Engine, ih) {
				t.Fatal("parked torrent in the client")
			}

			lcfg := testConfig("127.0.0.53")
			lcfg.Encryption = enc
			leecher := startEngine(t, "leecher", lcfg, filepath.Join(dir, "l"))
			out := filepath.Join(dir, "out")
			if _, err := leecher.Add(ctx, AddSpec{Source: torrentPath, DataDir: out, Peers: []string{seeder.ListenAddr().String()}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, leecher.Engine, ih, 60*time.Second, "download complete", isComplete)
			sameTree(t, hashTree(t, root), hashTree(t, filepath.Join(out, "payload")))
			for _, c := range seeder.Conns().Conns() {
				if !c.Outgoing() && c.Encrypted() != (enc == "require") {
					t.Errorf("seeder's connection %s encrypted %v under the leecher's %q", c.Key(), c.Encrypted(), enc)
				}
			}
			if err := leecher.stop(); err != nil {
				t.Fatal(err)
			}
			got := waitFor(t, seeder.Engine, ih, 30*time.Second, "parked again", isParked)
			if got.Uploaded < tf.Size {
				t.Fatalf("parked again with %d uploaded, want >= %d", got.Uploaded, tf.Size)
			}
			if s := seeder.Snapshot(); s.Totals.Uploaded < tf.Size {
				t.Fatalf("session total uploaded %d after the park, want >= %d", s.Totals.Uploaded, tf.Size)
			}
		})
	}
}

// BenchmarkWakeHandshake is the time from a peer's plaintext handshake
// to our answering handshake, for a parked torrent (the sniffer wakes it
// first: back in the client, its data checked from our completion store)
// and for one in the client, on loopback.
func BenchmarkWakeHandshake(b *testing.B) {
	for _, parked := range []bool{false, true} {
		name := "in-client"
		if parked {
			name = "parked"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			root, torrentPath, _ := dataTorrent(b, dir, 3, 4<<20)
			cfg := parkConfig("127.0.0.54", 0)
			if parked {
				cfg.ParkAfter = time.Millisecond
			}
			e, seeded := seedEngine(b, "seeder", cfg, filepath.Join(dir, "s"), torrentPath, filepath.Dir(root), "verified", isComplete)
			ih := seeded.InfoHash
			hs := append([]byte(btProtocol), make([]byte, 8)...)
			hs = append(hs, ih[:]...)
			hs = append(hs, "-XX0000-benchmarkpee"...)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for deadline := time.Now().Add(30 * time.Second); parked && inClient(b, e.Engine, ih); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatal("the torrent did not park again within 30 s")
					}
				}
				b.StartTimer()
				c, err := net.Dial("tcp", e.ListenAddr().String())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(hs); err != nil {
					b.Fatal(err)
				}
				reply := make([]byte, 68)
				if _, err := io.ReadFull(c, reply); err != nil {
					b.Fatalf("no handshake back: %v", err)
				}
				b.StopTimer()
				if !bytes.Equal(reply[28:48], ih[:]) {
					b.Fatalf("handshake back names %x", reply[28:48])
				}
				c.Close()
				b.StartTimer()
			}
		})
	}
}
