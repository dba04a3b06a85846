package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLICommerceProcesses: a publisher makes a paid torrent and seeds it
// (`create --payee --price`, `seed`); a buyer in another process is
// refused without --buy, buys with `get --buy --max-price`, downloads the
// exact bytes, then tips the publisher with `tip`; after the publisher
// stops, `wallet balance` of each shows exactly the price and the tip
// moved.
func TestCLICommerceProcesses(t *testing.T) {
	bin, w, cli, env := newTradeCLI(t, "")
	dP, dB := filepath.Join(w.dir, "publisher"), filepath.Join(w.dir, "buyer")
	pa := w.newTrader(cli, dP, "")
	w.newTrader(cli, dB, "100")
	src, data := writePayload(t, w.dir, 3<<20, 5, 10)
	tor := filepath.Join(w.dir, "paid.torrent")
	w.ok(cli(dP, "create", "--payee", pa.Address, "--price", "2", "-o", tor, src)...)

	pubAddr := freeLoopback(t, "127.0.0.74")
	pub, pubDone, pubErr := startSeller(t, bin, env, cli(dP, "seed", "--listen", pubAddr, "--torrent", tor, src))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, cli(dB, args...)...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	out := filepath.Join(w.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := run("get", "--listen", freeLoopback(t, "127.0.0.75"), "--peer", pubAddr, "--out", out, tor); err == nil ||
		!strings.Contains(b, "paid torrent: price 2 BTT") || !strings.Contains(b, "--buy") {
		t.Fatalf("get of a paid torrent without --buy: %v\n%s", err, b)
	}
	if b, err := run("get", "--buy", "--max-price", "1.5", "--listen", freeLoopback(t, "127.0.0.75"), "--peer", pubAddr, "--out", out, tor); err == nil ||
		!strings.Contains(b, "paid torrent: price 2 BTT is above --max-price 1.5 BTT (payload.bin)") {
		t.Fatalf("get --buy above --max-price: %v\n%s", err, b)
	}
	// Issue 15 item 10: without --max-price the price must be confirmed on
	// a terminal; with none, nothing is paid (the balances below show it).
	if b, err := run("get", "--buy", "--listen", freeLoopback(t, "127.0.0.75"), "--peer", pubAddr, "--out", out, tor); err == nil ||
		!strings.Contains(b, "not buying payload.bin for 2 BTT: no terminal to confirm the price on: pass --max-price AMOUNT") {
		t.Fatalf("get --buy without --max-price and no terminal: %v\n%s", err, b)
	}
	if b, err := run("get", "--buy", "--max-price", "3", "--listen", freeLoopback(t, "127.0.0.75"), "--peer", pubAddr, "--out", out, tor); err != nil {
		t.Fatalf("get --buy: %v\n%s\npublisher:\n%s", err, b, pubErr.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	b, err := run("tip", "--to", "publisher", "--memo", "thanks for the film", "--listen", freeLoopback(t, "127.0.0.75"), "--peer", pubAddr, "0.25", tor)
	if want := `tipped 0.25 BTT to the publisher ` + pa.Address + ` for payload.bin: "thanks for the film"`; err != nil || !strings.Contains(b, want) {
		t.Fatalf("tip: %v\n%s", err, b)
	}
	stopSeller(t, pub, pubDone, pubErr)
	var pb, bb balanceJSON
	w.okJSON(&pb, cli(dP, "wallet", "balance", "--json")...)
	w.okJSON(&bb, cli(dB, "wallet", "balance", "--json")...)
	if got, want := btt(t, pb.BTT.Value), btt(t, "2.25"); got.Cmp(want) != 0 {
		t.Errorf("publisher's balance %s, want 2.25", pb.BTT.Value)
	}
	if got, want := btt(t, bb.BTT.Value), btt(t, "97.75"); got.Cmp(want) != 0 {
		t.Errorf("buyer's balance %s, want 97.75", bb.BTT.Value)
	}
}
