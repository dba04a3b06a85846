package core

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestConnMatchTwoTorrentsOnePeer: a leecher dials one seeder for two
// torrents, so two of its connections share the remote address. Each
// PeerConn is matched to its own connection (each connection carries the
// torrent it was matched to: the two infohashes, once each), and the
// snapshot's connection flags come from our wrapper: outgoing TCP,
// encrypted under the default "prefer" policy and plaintext under
// "disable".
func TestConnMatchTwoTorrentsOnePeer(t *testing.T) {
	for i, enc := range []string{"prefer", "disable"} {
		t.Run(enc, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			scfg, lcfg := testConfig(ipN(230+2*i)), testConfig(ipN(231+2*i))
			scfg.Encryption, lcfg.Encryption = enc, enc
			scfg.UploadLimit = 256 << 10 // slow enough to look while both download
			seeder := startEngine(t, "seeder", scfg, filepath.Join(dir, "s"))
			leecher := startEngine(t, "leecher", lcfg, filepath.Join(dir, "l"))
			var ihs [2]InfoHash
			for k := range ihs {
				root, tp, _ := payloadTorrent(t, filepath.Join(dir, string(rune('a'+k))), uint64(10+k),
					map[string]int{"data.bin": 2 << 20}, CreateOptions{PieceLength: 32 << 10})
				ih, err := seeder.Add(ctx, AddSpec{Source: tp, DataDir: filepath.Dir(root)})
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, seeder.Engine, ih, 30*time.Second, "seeder verified", isComplete)
				ihs[k] = ih
			}
			// Added paused, then resumed together: both dials handshake at
			// once, so the first PeerConn added finds two candidates.
			for k, ih := range ihs {
				if _, err := leecher.Add(ctx, AddSpec{Source: filepath.Join(dir, string(rune('a'+k)), "payload.torrent"), Paused: true,
					DataDir: filepath.Join(dir, "out", string(rune('a'+k))), Peers: []string{seeder.ListenAddr().String()}}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, leecher.Engine, ih, 10*time.Second, "added", func(Torrent) bool { return true })
			}
			errs := make(chan error, len(ihs))
			for _, ih := range ihs {
				go func() { errs <- leecher.Resume(ctx, ih) }()
			}
			for range ihs {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for _, ih := range ihs {
				p := waitFor(t, leecher.Engine, ih, 30*time.Second, "a peer sending", func(tr Torrent) bool {
					return len(tr.Peers) == 1 && tr.Peers[0].Downloaded > 0 && !isComplete(tr)
				}).Peers[0]
				if p.Key.String() != seeder.ListenAddr().String() || p.Incoming || p.Transport != "tcp" || p.Encrypted != (enc == "prefer") {
					t.Errorf("torrent %s: peer %s incoming %v transport %s encrypted %v", ih, p.Key, p.Incoming, p.Transport, p.Encrypted)
				}
			}
			seen := map[InfoHash]int{}
			for _, c := range leecher.Conns().Conns() {
				if c.Key().Remote != seeder.ListenAddr().String() {
					continue
				}
				ih, ok := c.InfoHash()
				if !ok {
					t.Errorf("connection %s matched to no torrent", c.Key())
				}
				seen[ih]++
			}
			if len(seen) != 2 || seen[ihs[0]] != 1 || seen[ihs[1]] != 1 {
				t.Fatalf("connections to the seeder by torrent: %v, want one each of %v", seen, ihs)
			}
		})
	}
}
