package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// buildCLI builds the bidtorrent binary for tests that run it as separate
// processes.
func buildCLI(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "bidtorrent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeLoopback returns a free TCP address on ip.
func freeLoopback(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startSeller starts `seed` and waits for its magnet line.
func startSeller(t *testing.T, bin string, env, args []string) (*exec.Cmd, chan error, *strings.Builder) {
	t.Helper()
	seller := exec.Command(bin, args...)
	seller.Env = env
	errb := &strings.Builder{}
	seller.Stderr = errb
	stdout, err := seller.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := seller.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- seller.Wait() }()
	t.Cleanup(func() { _ = seller.Process.Kill() })
	magnet := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "magnet:") {
				magnet <- sc.Text()
			}
		}
	}()
	select {
	case <-magnet:
	case err := <-done:
		t.Fatalf("seller exited: %v\n%s", err, errb.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("seller printed no magnet\n%s", errb.String())
	}
	return seller, done, errb
}

// newTradeCLI builds the binary and sets up CLI runs that trade on one
// local ledger file: cli(dataDir, args...) prefixes the shared config and
// ledger, env unlocks the wallets.
func newTradeCLI(t *testing.T, marketTOML string) (bin string, w *walletCLI, cli func(dir string, args ...string) []string, env []string) {
	t.Helper()
	bin = buildCLI(t)
	w = newWalletCLI(t, `chain = "local"`+"\n")
	cfg := w.file("market.toml", `[engine]
dht = false
pex = false
lsd = false
utp = false
[engine.market]
round = "1s"
`+marketTOML+`[wallet]
chain = "local"
`)
	ledger := filepath.Join(w.dir, "ledger.db")
	w.file("pass", "market pass\n")
	cli = func(dir string, args ...string) []string {
		return append([]string{"--config", cfg, "--data-dir", dir, "--ledger", ledger}, args...)
	}
	return bin, w, cli, append(os.Environ(), passphraseEnv+"=market pass")
}

// stopSeller sends SIGTERM to a process started by startSeller and waits
// for a clean exit (a seller settles before it exits).
func stopSeller(t *testing.T, seller *exec.Cmd, done chan error, stderr *strings.Builder) {
	t.Helper()
	if err := seller.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("seller: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("seller did not stop")
	}
}

// writePayload writes dir/src/payload.bin of size pseudo-random bytes.
func writePayload(t *testing.T, dir string, size, mul, shift int) (string, []byte) {
	t.Helper()
	src := filepath.Join(dir, "src", "payload.bin")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*mul + i>>shift)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return src, data
}

// newTrader makes a wallet in dir (funded with fund BTT from the faucet
// unless fund is empty) and returns its address.
func (w *walletCLI) newTrader(cli func(string, ...string) []string, dir, fund string) addressJSON {
	w.t.Helper()
	var a addressJSON
	w.okJSON(&a, cli(dir, "wallet", "new", "--passphrase-file", filepath.Join(w.dir, "pass"), "--json")...)
	if fund != "" {
		w.ok(cli(dir, "wallet", "faucet", fund)...)
	}
	return a
}

// TestCLIMarketTwoProcesses: a seller (`seed --ask`) and a buyer (`get
// --bid`), two processes sharing one local ledger file, trade: the buyer
// pays with cheques, both settle on exit, and `wallet balance` of each
// shows the transfer, equal to the buyer's cumulative cheque.
func TestCLIMarketTwoProcesses(t *testing.T) {
	bin, w, cli, env := newTradeCLI(t, "")
	dS, dB := filepath.Join(w.dir, "seller"), filepath.Join(w.dir, "buyer")
	sa, ba := w.newTrader(cli, dS, ""), w.newTrader(cli, dB, "100")

	src, data := writePayload(t, w.dir, 6<<20, 7, 11)
	tor := filepath.Join(w.dir, "payload.torrent")

	sellerAddr := freeLoopback(t, "127.0.0.70")
	seller, sellerDone, sellerErr := startSeller(t, bin, env, cli(dS, "seed", "--listen", sellerAddr, "--torrent", tor,
		"--ask", "0.001", "--seller-strategy", "uniform", "--upload-limit", "2MiB", src))

	out := filepath.Join(w.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	buyer := exec.CommandContext(ctx, bin, cli(dB, "get", "--listen", freeLoopback(t, "127.0.0.71"), "--peer", sellerAddr,
		"--bid", "0.002", "--buyer-strategy", "fixed", "--out", out, tor)...)
	buyer.Env = env
	if b, err := buyer.CombinedOutput(); err != nil {
		t.Fatalf("buyer: %v\n%s\nseller:\n%s", err, b, sellerErr.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	// Stop the seller: it settles before it exits.
	stopSeller(t, seller, sellerDone, sellerErr)

	var sb, bb balanceJSON
	w.okJSON(&sb, cli(dS, "wallet", "balance", "--json")...)
	w.okJSON(&bb, cli(dB, "wallet", "balance", "--json")...)
	var sc, bc []recordJSON
	w.okJSON(&sc, cli(dS, "wallet", "cheques", "--json")...)
	w.okJSON(&bc, cli(dB, "wallet", "cheques", "--json")...)
	if len(bc) != 1 || bc[0].Direction != "issued" || bc[0].Counterparty != sa.Address {
		t.Fatalf("buyer's cheques: %+v", bc)
	}
	if len(sc) != 1 || sc[0].Direction != "received" || sc[0].Counterparty != ba.Address {
		t.Fatalf("seller's cheques %+v, buyer's %+v", sc, bc)
	}
	paid := btt(t, bc[0].Cumulative.Value)
	// The connection closes the moment the buyer completes, so its final
	// cheque may not arrive; the buyer redeems it on the ledger itself.
	if got := btt(t, sc[0].Cumulative.Value); got.Cmp(paid) > 0 {
		t.Errorf("seller accepted %s, more than the buyer issued (%s)", sc[0].Cumulative.Value, bc[0].Cumulative.Value)
	}
	if paid.IsZero() {
		t.Fatal("the buyer paid nothing")
	}
	// 0.001 BTT/MiB at least (the reserve), 0.002 at most, for ≤ 6 MiB.
	if max := btt(t, "0.012"); paid.Cmp(max) > 0 {
		t.Errorf("paid %s BTT for 6 MiB at most 0.002/MiB", bc[0].Cumulative.Value)
	}
	wantSeller := paid
	wantBuyer := btt(t, "100").SubFloor(paid)
	if got := btt(t, sb.BTT.Value); got.Cmp(wantSeller) != 0 {
		t.Errorf("seller balance %s, want %s", sb.BTT.Value, wantSeller.Format(wallet.BTTDecimals))
	}
	if got := btt(t, bb.BTT.Value); got.Cmp(wantBuyer) != 0 {
		t.Errorf("buyer balance %s, want %s", bb.BTT.Value, wantBuyer.Format(wallet.BTTDecimals))
	}
	if bc[0].Unsettled.BaseUnits != "0" || sc[0].Unsettled.BaseUnits != "0" {
		t.Errorf("unsettled after exit: buyer %s, seller %s", bc[0].Unsettled.Value, sc[0].Unsettled.Value)
	}
	t.Logf("buyer paid %s BTT; the seller holds a cheque for %s", bc[0].Cumulative.Value, sc[0].Cumulative.Value)
}

// TestCLIMarketSellerKilled: the seller is killed (SIGKILL) while the
// buyer pays it; every cheque it had acknowledged is still in its cheque
// book, and after a restart the buyer's next cheque continues the
// cumulative total.
func TestCLIMarketSellerKilled(t *testing.T) {
	bin, w, cli, env := newTradeCLI(t, "credit_mib = 1\ncap_mib = 1\n")
	dS, dB := filepath.Join(w.dir, "seller"), filepath.Join(w.dir, "buyer")
	w.newTrader(cli, dS, "")
	w.newTrader(cli, dB, "100")
	src, data := writePayload(t, w.dir, 12<<20, 13, 9)
	tor := filepath.Join(w.dir, "payload.torrent")
	sellerAddr := freeLoopback(t, "127.0.0.72")
	seedArgs := cli(dS, "seed", "--listen", sellerAddr, "--torrent", tor, "--ask", "0.001", "--upload-limit", "1MiB", src)
	seller, sellerDone, _ := startSeller(t, bin, env, seedArgs)

	out := filepath.Join(w.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	buyer := exec.CommandContext(ctx, bin, cli(dB, "get", "--listen", freeLoopback(t, "127.0.0.73"), "--peer", sellerAddr,
		"--bid", "0.002", "--out", out, tor)...)
	buyer.Env = env
	var buyerOut strings.Builder
	buyer.Stdout, buyer.Stderr = &buyerOut, &buyerOut
	if err := buyer.Start(); err != nil {
		t.Fatal(err)
	}
	buyerDone := make(chan error, 1)
	go func() { buyerDone <- buyer.Wait() }()

	// Wait for the seller to hold a cheque, then kill it.
	received := func() wallet.Amount {
		var rs []recordJSON
		w.okJSON(&rs, cli(dS, "wallet", "cheques", "--json")...)
		for _, r := range rs {
			if r.Direction == "received" {
				return btt(t, r.Cumulative.Value)
			}
		}
		return wallet.Amount{}
	}
	deadline := time.Now().Add(60 * time.Second)
	var before wallet.Amount
	for before.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("no cheque reached the seller\n%s", buyerOut.String())
		}
		time.Sleep(200 * time.Millisecond)
		before = received()
	}
	if err := seller.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-sellerDone
	after := received()
	if after.Cmp(before) < 0 {
		t.Fatalf("the killed seller lost cheques: held %s, now %s", before, after)
	}
	// Restart it on the same address and data dir. The buyer's engine does
	// not redial a peer that went away, so the buyer is restarted too
	// (gracefully); its download resumes from its data dir.
	startSeller(t, bin, env, seedArgs)
	_ = buyer.Process.Signal(syscall.SIGTERM)
	select {
	case <-buyerDone:
	case <-time.After(60 * time.Second):
		t.Fatal("buyer did not stop")
	}
	buyer = exec.CommandContext(ctx, bin, buyer.Args[1:]...)
	buyer.Env = env
	buyer.Stdout, buyer.Stderr = &buyerOut, &buyerOut
	if err := buyer.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { buyerDone <- buyer.Wait() }()
	select {
	case err := <-buyerDone:
		if err != nil {
			t.Fatalf("buyer: %v\n%s", err, buyerOut.String())
		}
	case <-ctx.Done():
		t.Fatalf("buyer did not finish\n%s", buyerOut.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	var bc []recordJSON
	w.okJSON(&bc, cli(dB, "wallet", "cheques", "--json")...)
	final := received()
	if len(bc) != 1 {
		t.Fatalf("buyer's cheques %+v", bc)
	}
	issued := btt(t, bc[0].Cumulative.Value)
	if final.Cmp(after) <= 0 || final.Cmp(issued) > 0 {
		t.Errorf("after the restart the seller holds %s (had %s before the kill), the buyer issued %s: the cumulative total did not continue",
			final.Format(18), after.Format(18), issued.Format(18))
	}
	t.Logf("seller held %s BTT at the kill, %s at the end; the buyer issued %s", after.Format(18), final.Format(18), issued.Format(18))
}
