package core

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseTorrentFile feeds .torrent parsing (a file a user opens, or
// metadata from the web): it never panics, and what it accepts re-parses to
// the same infohash and gives a magnet.
func FuzzParseTorrentFile(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(p, make([]byte, 40000), 0o600); err != nil {
		f.Fatal(err)
	}
	for _, fm := range []Format{FormatV1, FormatHybrid, FormatV2} {
		tf, err := CreateTorrent(CreateOptions{Format: fm, Path: p, PieceLength: 16384,
			Trackers: []string{"http://127.0.0.1:6969/announce"}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tf.Bytes)
	}
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	f.Add([]byte("de"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tf, err := ParseTorrentFile(b, "fuzz")
		if err != nil {
			return
		}
		_ = tf.Magnet()
		again, err := ParseTorrentFile(tf.Bytes, "again")
		if err != nil || again.InfoHash != tf.InfoHash {
			t.Fatalf("accepted torrent does not re-parse: %v", err)
		}
	})
}

// FuzzMagnet feeds magnet parsing (a link a user pastes): it never panics.
func FuzzMagnet(f *testing.F) {
	for _, s := range []string{
		"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x&tr=http://127.0.0.1/a",
		"magnet:?xt=urn:btih:CEAQ3BQ4SMO3BQ4SMO3BQ4SMO3BQ4SMO&x.pe=127.0.0.1:1",
		"magnet:?xt=urn:btmh:1220" + "ab12000000000000000000000000000000000000000000000000000000000001" + "&dn=%FF",
		"magnet:?dn=noxt", "magnet:", "magnet:?xt=urn:btih:zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := resolveSource(context.Background(), "magnet:"+s)
		if err == nil && src.tf != nil {
			t.Fatal("a magnet resolved to a torrent file")
		}
	})
}
