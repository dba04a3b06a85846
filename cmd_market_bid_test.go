package main

import (
	"context"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCLIBidActsAtOnce (issue 15 case 11, PROTOCOL.md §6.1): a seller
// capped at 2 MiB/s with the default 10 s rounds, `--ask 1`, and a buyer
// `--bid 2` fetching 32 MiB, two processes on one local ledger. The bid
// runs a round at once, so the buyer pays for at least 95 % of the bytes
// sent after it. Before, the bid waited for the next round boundary and
// about half the bytes were free.
func TestCLIBidActsAtOnce(t *testing.T) {
	bin := buildCLI(t)
	w := newWalletCLI(t, `chain = "local"`+"\n")
	cfg := w.file("market.toml", `[engine]
dht = false
pex = false
lsd = false
utp = false
[wallet]
chain = "local"
`)
	ledger := filepath.Join(w.dir, "ledger.db")
	w.file("pass", "market pass\n")
	cli := func(dir string, args ...string) []string {
		return append([]string{"--config", cfg, "--data-dir", dir, "--ledger", ledger}, args...)
	}
	env := append(os.Environ(), passphraseEnv+"=market pass")
	dS, dB := filepath.Join(w.dir, "seller"), filepath.Join(w.dir, "buyer")
	w.newTrader(cli, dS, "")
	w.newTrader(cli, dB, "100")

	const size = 32 << 20
	src, data := writePayload(t, w.dir, size, 13, 9)
	tor := filepath.Join(w.dir, "payload.torrent")
	sellerAddr := freeLoopback(t, "127.0.0.72")
	seller, sellerDone, sellerErr := startSeller(t, bin, env, cli(dS, "seed", "--listen", sellerAddr, "--torrent", tor,
		"--ask", "1", "--seller-strategy", "uniform", "--upload-limit", "2MiB", src))

	out := filepath.Join(w.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	buyer := exec.CommandContext(ctx, bin, cli(dB, "get", "--listen", freeLoopback(t, "127.0.0.73"), "--peer", sellerAddr,
		"--bid", "2", "--buyer-strategy", "fixed", "--out", out, tor)...)
	buyer.Env = env
	if b, err := buyer.CombinedOutput(); err != nil {
		t.Fatalf("buyer: %v\n%s\nseller:\n%s", err, b, sellerErr.String())
	}
	took := time.Since(start)
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	stopSeller(t, seller, sellerDone, sellerErr)

	var sc, bc []recordJSON
	w.okJSON(&sc, cli(dS, "wallet", "cheques", "--json")...)
	w.okJSON(&bc, cli(dB, "wallet", "cheques", "--json")...)
	if len(bc) != 1 || len(sc) != 1 {
		t.Fatalf("cheques: buyer %+v, seller %+v", bc, sc)
	}
	paid := btt(t, bc[0].Cumulative.Value)
	if accepted := btt(t, sc[0].Cumulative.Value); accepted.Cmp(paid) > 0 {
		t.Fatalf("seller accepted %s, more than the buyer issued (%s)", sc[0].Cumulative.Value, bc[0].Cumulative.Value)
	}
	// A lone bidder pays the reserve, 1 BTT per MiB: paid MiB = paid BTT.
	one := btt(t, "1")
	paidBytes := new(big.Int).Div(new(big.Int).Lsh(paid.Big(), 20), one.Big()).Int64()
	// The bid goes out within a second of the connection (HELLO, ASK,
	// then the buyer's tick): at most 2 MiB at the cap are sent before it.
	const beforeBid = 2 << 20
	after := int64(size - beforeBid)
	t.Logf("paid %s BTT = %d bytes of %d sent after the bid (%.1f %%), transfer %s",
		bc[0].Cumulative.Value, paidBytes, after, 100*float64(paidBytes)/float64(after), took.Round(time.Millisecond))
	if paidBytes*100 < after*95 {
		t.Fatalf("paid for %d bytes of the %d sent after the bid: under 95 %%", paidBytes, after)
	}
}
