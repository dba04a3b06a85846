//go:build linux || darwin

package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestCLIBuyConfirmOnTerminal (issue 15 item 7, case 10): `get --buy`
// without --max-price shows the price on the terminal and asks. A buyer
// process on a pseudo-terminal answers no: nothing is paid (both ledger
// balances unchanged, no file); then yes: it is licensed, downloads the
// exact bytes and exactly the price moved. Without a terminal it refuses
// (TestCLICommerceProcesses).
func TestCLIBuyConfirmOnTerminal(t *testing.T) {
	bin, w, cli, env := newTradeCLI(t, "")
	dP, dB := filepath.Join(w.dir, "publisher"), filepath.Join(w.dir, "buyer")
	pa := w.newTrader(cli, dP, "")
	w.newTrader(cli, dB, "100")
	src, data := writePayload(t, w.dir, 1<<20, 7, 3)
	tor := filepath.Join(w.dir, "paid.torrent")
	w.ok(cli(dP, "create", "--payee", pa.Address, "--price", "2", "-o", tor, src)...)
	pubAddr := freeLoopback(t, "127.0.0.76")
	pub, pubDone, pubErr := startSeller(t, bin, env, cli(dP, "seed", "--listen", pubAddr, "--torrent", tor, src))
	out := filepath.Join(w.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	balances := func() (string, string) {
		var pb, bb balanceJSON
		w.okJSON(&pb, cli(dP, "wallet", "balance", "--json")...)
		w.okJSON(&bb, cli(dB, "wallet", "balance", "--json")...)
		return pb.BTT.Value, bb.BTT.Value
	}
	// buy runs `get --buy` on a terminal, answers the prompt and returns
	// what the terminal showed and the exit error.
	buy := func(answer string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, cli(dB, "get", "--buy", "--listen", freeLoopback(t, "127.0.0.77"), "--peer", pubAddr, "--out", out, tor)...)
		cmd.Env = env
		ptmx, err := pty.Start(cmd)
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		defer ptmx.Close()
		var screen lockedBuf
		go func() { _, _ = io.Copy(&screen, ptmx) }()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(screen.String(), "[y/N]") {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("no price prompt; terminal:\n%s\npublisher:\n%s", screen.String(), pubErr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(screen.String(), "Buy payload.bin for 2 BTT from the publisher "+pa.Address+"? [y/N]") {
			t.Errorf("the prompt does not show the price and payee:\n%s", screen.String())
		}
		if _, err := ptmx.Write([]byte(answer + "\n")); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		time.Sleep(100 * time.Millisecond) // the last output
		return screen.String(), err
	}
	s, err := buy("n")
	if err == nil || !strings.Contains(s, "not buying payload.bin for 2 BTT: not confirmed") {
		t.Fatalf("answered no: %v\n%s", err, s)
	}
	if p, b := balances(); p != "0" || b != "100" {
		t.Fatalf("after no: publisher %s, buyer %s; want 0 and 100", p, b)
	}
	if _, err := os.Stat(filepath.Join(out, "payload.bin")); err == nil {
		if got, _ := os.ReadFile(filepath.Join(out, "payload.bin")); string(got) == string(data) {
			t.Fatal("the payload was downloaded without paying")
		}
	}
	s, err = buy("y")
	if err != nil || !strings.Contains(s, "bought payload.bin for 2 BTT: licensed") {
		t.Fatalf("answered yes: %v\n%s\npublisher:\n%s", err, s, pubErr.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	stopSeller(t, pub, pubDone, pubErr)
	if p, b := balances(); p != "2" || b != "98" {
		t.Fatalf("after yes: publisher %s, buyer %s; want 2 and 98", p, b)
	}
}
