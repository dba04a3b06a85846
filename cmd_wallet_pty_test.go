//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestWalletCLIPassphrasePrompt creates a key with the passphrase typed
// at the terminal prompt (asked twice) and unlocks it with the same.
func TestWalletCLIPassphrasePrompt(t *testing.T) {
	w := newWalletCLI(t, "")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }() // drain the echo
	dir := filepath.Join(w.dir, "d")
	var out, errb lockedBuf
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"--config", w.config, "--data-dir", dir, "wallet", "new", "--json"}, tty, &out, &errb)
	}()
	waitFor := func(s string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(errb.String(), s) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %q; stderr %q", s, errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("Passphrase: ", 1)
	if _, err := ptmx.Write([]byte("typed secret\n")); err != nil {
		t.Fatal(err)
	}
	waitFor("Repeat passphrase: ", 1)
	if _, err := ptmx.Write([]byte("typed secret\n")); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("wallet new: exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String()+errb.String(), "typed secret") {
		t.Errorf("passphrase printed")
	}
	ks := wallet.Keystore{Dir: filepath.Join(dir, "keystore")}
	k, err := ks.Unlock("typed secret")
	if err != nil || !strings.Contains(out.String(), k.Address().String()) {
		t.Fatalf("unlock with the typed passphrase: %v; output %s", err, out.String())
	}
	if _, err := os.Stat(ks.Path()); err != nil {
		t.Fatal(err)
	}
}
