package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bidtorrent/bidtorrent/core"
)

// Issue 18 item 9: `create -o -` writes the .torrent to stdout (the magnet
// goes to stderr), and -o onto a device or FIFO writes into it rather than
// replacing the node with a regular file.
func TestCreateOutputSpecial(t *testing.T) {
	dir := isolate(t)
	ctx := context.Background()
	writeRandom(t, filepath.Join(dir, "f.bin"), 100_000, 1)

	code, stdout, stderr := runCLI(t, ctx, "create", "-o", "-", filepath.Join(dir, "f.bin"))
	if code != 0 {
		t.Fatalf("create -o -: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error("create -o - wrote a file named -")
	}
	tf, err := core.ParseTorrentFile([]byte(stdout), "stdout")
	if err != nil {
		t.Fatalf("stdout is not the torrent: %v (%d bytes)", err, len(stdout))
	}
	if tf.Size != 100_000 || !strings.Contains(stderr, "magnet:?xt=urn:btih:"+tf.InfoHash.String()) {
		t.Errorf("size %d, stderr %q", tf.Size, stderr)
	}

	if code, _, stderr := runCLI(t, ctx, "create", "-o", os.DevNull, filepath.Join(dir, "f.bin")); code != 0 {
		t.Fatalf("create -o %s: exit %d: %s", os.DevNull, code, stderr)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a device: %v", os.DevNull, err)
	}

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	if code, _, stderr := runCLI(t, ctx, "create", "-o", fifo, filepath.Join(dir, "f.bin")); code != 0 {
		t.Fatalf("create -o FIFO: exit %d: %s", code, stderr)
	}
	b := <-got
	if ft, err := core.ParseTorrentFile(b, "fifo"); err != nil || ft.InfoHash != tf.InfoHash {
		t.Errorf("the FIFO's reader got %d bytes: %v", len(b), err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v", err)
	}
}
