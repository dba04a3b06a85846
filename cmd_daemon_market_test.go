package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/bidtorrent/bidtorrent/internal/sshtest"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// sshDaemon is a `bidtorrent daemon` process driven over SSH.
type sshDaemon struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	done   chan error
	logs   *lockedBuf
	client *gossh.Client
}

// startDaemon starts the binary's daemon verb with args and connects to
// its SSH server with key.
func startDaemon(t *testing.T, name, bin string, env []string, key gossh.Signer, sshAddr string, args ...string) *sshDaemon {
	t.Helper()
	d := &sshDaemon{t: t, name: name, logs: &lockedBuf{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	for i := 0; ; i++ {
		c, err := gossh.Dial("tcp", sshAddr, &gossh.ClientConfig{
			User: "ops", Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
			HostKeyCallback: func(string, net.Addr, gossh.PublicKey) error { return nil },
		})
		if err == nil {
			d.client = c
			t.Cleanup(func() { c.Close() })
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("%s daemon exited: %v\n%s", name, err, d.logs)
		default:
		}
		if i > 600 {
			t.Fatalf("cannot reach the %s daemon: %v\n%s", name, err, d.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs one remote command and returns stdout, stderr and exit status.
func (d *sshDaemon) run(stdin, cmd string) (string, string, int) {
	d.t.Helper()
	return sshtest.Run(d.t, d.client, stdin, cmd)
}

// ok runs a remote command that must succeed.
func (d *sshDaemon) ok(stdin, cmd string) string {
	d.t.Helper()
	out, errs, code := d.run(stdin, cmd)
	if code != 0 {
		d.t.Fatalf("%s: ssh %s: exit %d: %s%s\nlogs:\n%s", d.name, cmd, code, out, errs, d.logs)
	}
	return out
}

// okJSON runs a remote command that must succeed and decodes its JSON.
func (d *sshDaemon) okJSON(v any, cmd string) {
	d.t.Helper()
	out := d.ok("", cmd)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("%s: ssh %s: bad JSON %v\n%s", d.name, cmd, err, out)
	}
}

// fails runs a remote command that must fail with want in its error.
func (d *sshDaemon) fails(want, stdin, cmd string) {
	d.t.Helper()
	out, errs, code := d.run(stdin, cmd)
	if code == 0 || !strings.Contains(errs, want) {
		d.t.Fatalf("%s: ssh %s: exit %d, stdout %q, stderr %q; want a failure with %q", d.name, cmd, code, out, errs, want)
	}
}

// balance is `wallet balance --json` over SSH, in base units.
func (d *sshDaemon) balance() wallet.Amount {
	d.t.Helper()
	var b balanceJSON
	d.okJSON(&b, "wallet balance --json")
	a, err := wallet.ParseAmount(b.BTT.BaseUnits, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	return a
}

// stop sends SIGTERM and waits for a clean exit.
func (d *sshDaemon) stop() {
	d.t.Helper()
	d.client.Close()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Fatalf("%s daemon: %v\n%s", d.name, err, d.logs)
		}
	case <-time.After(60 * time.Second):
		d.t.Fatalf("%s daemon did not stop\n%s", d.name, d.logs)
	}
}

// waitTorrent polls `list --json` until ok says the torrent is there.
func (d *sshDaemon) waitTorrent(ih string, timeout time.Duration, ok func(torrentListJSON) bool) torrentListJSON {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	var last torrentListJSON
	for time.Now().Before(deadline) {
		var ts []torrentListJSON
		d.okJSON(&ts, "list --json")
		for _, t := range ts {
			if t.InfoHash == ih {
				last = t
				if ok(t) {
					return t
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("%s: torrent %s not as wanted within %s: last %+v\n%s", d.name, ih, timeout, last, d.logs)
	return last
}

type torrentListJSON struct {
	InfoHash string `json:"infohash"`
	State    string `json:"state"`
	Size     int64  `json:"size"`
	Done     int64  `json:"done"`
	DataDir  string `json:"data_dir"`
}

// daemonTOML is a daemon's config: loopback only, 1 s market rounds, the
// shared local ledger.
func daemonTOML(listen, uploadLimit string) string {
	return `[engine]
listen_addr = "` + listen + `"
dht = false
pex = false
lsd = false
utp = false
upload_limit = "` + uploadLimit + `"
[engine.market]
round = "1s"
[wallet]
chain = "local"
`
}

// TestDaemonsTradeOverSSH (issue 17): two daemons on one local ledger,
// driven only through SSH commands once their wallets exist. The seller
// is unlocked at start from --passphrase-file and sets an ask; the buyer
// starts locked, refuses market and payment commands with "wallet
// locked", is unlocked with `unlock < PASSFILE`, sets a bid, adds the
// torrent with --peer and downloads it; the seller settles; `wallet
// balance --json` over SSH shows exactly what moved, and it equals the
// cheque the seller holds.
func TestDaemonsTradeOverSSH(t *testing.T) {
	bin := buildCLI(t)
	w := newWalletCLI(t, `chain = "local"`+"\n")
	ledger := filepath.Join(w.dir, "ledger.db")
	pass := w.file("pass", "daemon pass\n")
	key := sshtest.NewKey(t)
	keys := w.file("authorized_keys", string(gossh.MarshalAuthorizedKey(key.PublicKey())))
	env := append(os.Environ(), passphraseEnv+"=", "CREDENTIALS_DIRECTORY=")

	dS, dB := filepath.Join(w.dir, "seller"), filepath.Join(w.dir, "buyer")
	sellerPeer := freeLoopback(t, "127.0.0.76")
	cfgS := w.file("seller.toml", daemonTOML(sellerPeer, "1MiB"))
	cfgB := w.file("buyer.toml", daemonTOML("127.0.0.77:0", "0"))
	cli := func(cfg, dir string, args ...string) []string {
		return append([]string{"--config", cfg, "--data-dir", dir, "--ledger", ledger}, args...)
	}
	// Local set-up: the wallets (the buyer funded from the faucet) and
	// the payload in the seller's download root.
	var sa, ba addressJSON
	w.okJSON(&sa, cli(cfgS, dS, "wallet", "new", "--passphrase-file", pass, "--json")...)
	w.okJSON(&ba, cli(cfgB, dB, "wallet", "new", "--passphrase-file", pass, "--json")...)
	w.ok(cli(cfgB, dB, "wallet", "faucet", "100")...)
	rootS := filepath.Join(dS, "downloads")
	src, data := writePayload(t, rootS, 6<<20, 5, 10)
	tor := filepath.Join(rootS, "payload.torrent")
	w.ok(cli(cfgS, dS, "create", "-o", tor, src)...)
	torBytes, err := os.ReadFile(tor)
	if err != nil {
		t.Fatal(err)
	}

	sshS, sshB := freeAddr(t), freeAddr(t)
	seller := startDaemon(t, "seller", bin, env, key, sshS,
		cli(cfgS, dS, "daemon", "--ssh-listen", sshS, "--authorized-keys", keys, "--passphrase-file", pass)...)
	buyer := startDaemon(t, "buyer", bin, env, key, sshB,
		cli(cfgB, dB, "daemon", "--ssh-listen", sshB, "--authorized-keys", keys)...)

	// The seller seeds the payload (a path inside its root) at an ask.
	ih := strings.TrimSpace(seller.ok("", "add --dir "+filepath.Dir(src)+" "+tor))
	seller.ok("", "market set --ask 0.001 --seller-strategy uniform")
	seller.waitTorrent(ih, time.Minute, func(t torrentListJSON) bool { return t.State == "seeding" })

	// The buyer is locked: no market, no payments, no balance.
	var addr struct {
		Address string `json:"address"`
		State   string `json:"state"`
	}
	buyer.okJSON(&addr, "wallet address --json")
	if addr.Address != ba.Address || addr.State != "locked" {
		t.Fatalf("locked buyer's wallet address: %+v, want %s locked", addr, ba.Address)
	}
	buyer.fails("wallet locked", "", "market set --bid 0.002")
	buyer.fails("wallet locked", "", "wallet balance --json")
	buyer.fails("cannot unlock the wallet", "wrong pass\n", "unlock")
	buyer.ok("daemon pass\n", "unlock")
	buyer.okJSON(&addr, "wallet address --json")
	if addr.State != "unlocked" {
		t.Fatalf("after unlock: %+v", addr)
	}
	sellerBefore, buyerBefore := seller.balance(), buyer.balance()
	if got := btt(t, "100"); buyerBefore.Cmp(got) != 0 || !sellerBefore.IsZero() {
		t.Fatalf("balances before: seller %s, buyer %s", sellerBefore.Format(18), buyerBefore.Format(18))
	}
	buyer.ok("", "market set --bid 0.002 --buyer-strategy fixed")
	var gm marketJSONOut
	buyer.okJSON(&gm, "market --json")
	if gm.Bid.Value != "0.002" || gm.BuyerStrategy != "fixed" || gm.Wallet != "unlocked" {
		t.Fatalf("buyer's global market: %+v", gm)
	}

	start := time.Now()
	if got := strings.TrimSpace(buyer.ok(string(torBytes), "add --peer "+sellerPeer+" -")); got != ih {
		t.Fatalf("buyer add: %q, want %s", got, ih)
	}
	done := buyer.waitTorrent(ih, 2*time.Minute, func(t torrentListJSON) bool { return t.Size > 0 && t.Done == t.Size })
	took := time.Since(start)
	got, err := os.ReadFile(filepath.Join(done.DataDir, "payload.bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("the buyer's copy differs (%v)", err)
	}
	var tm marketJSONOut
	buyer.okJSON(&tm, "market --json "+ih[:12])
	var sm marketJSONOut
	seller.okJSON(&sm, "market --json "+ih[:12])

	// The seller redeems what it holds; then the balances tell.
	var settled []settlementJSON
	seller.okJSON(&settled, "wallet settle --json")
	var sc, bc []recordJSON
	seller.okJSON(&sc, "wallet cheques --json")
	buyer.okJSON(&bc, "wallet cheques --json")
	if len(sc) != 1 || sc[0].Direction != "received" || sc[0].Counterparty != ba.Address || sc[0].Unsettled.BaseUnits != "0" {
		t.Fatalf("seller's cheques after settle: %+v (settle: %+v)", sc, settled)
	}
	if len(bc) != 1 || bc[0].Direction != "issued" || bc[0].Counterparty != sa.Address {
		t.Fatalf("buyer's cheques: %+v", bc)
	}
	held := btt(t, sc[0].Cumulative.Value)
	if held.IsZero() {
		t.Fatalf("the buyer paid nothing for %d bytes at a bid above the ask\nseller:\n%s\nbuyer:\n%s", done.Size, seller.logs, buyer.logs)
	}
	if issued := btt(t, bc[0].Cumulative.Value); held.Cmp(issued) > 0 {
		t.Fatalf("the seller holds %s, more than the buyer issued (%s)", held.Format(18), issued.Format(18))
	}
	// At most the bid for every byte, at least the ask for what was paid.
	if max := btt(t, "0.012"); held.Cmp(max) > 0 {
		t.Fatalf("paid %s BTT for 6 MiB at a bid of 0.002/MiB", held.Format(18))
	}
	sellerAfter, buyerAfter := seller.balance(), buyer.balance()
	gained := sellerAfter.SubFloor(sellerBefore)
	spent := buyerBefore.SubFloor(buyerAfter)
	if gained.Cmp(held) != 0 || spent.Cmp(held) != 0 {
		t.Fatalf("moved: seller +%s, buyer -%s; the seller's cheque is %s", gained.Format(18), spent.Format(18), held.Format(18))
	}
	t.Logf("trade over SSH: %d bytes in %s; buyer issued %s BTT, seller held and settled %s BTT; "+
		"balances seller %s -> %s, buyer %s -> %s; market: seller earned %s sold %d B, buyer spent %s bought %d B",
		done.Size, took.Round(time.Millisecond), bc[0].Cumulative.Value, sc[0].Cumulative.Value,
		sellerBefore.Format(18), sellerAfter.Format(18), buyerBefore.Format(18), buyerAfter.Format(18),
		sm.Earned.Value, sm.Sold, tm.Spent.Value, tm.Bought)

	// Payments over SSH move exact amounts: the seller publishes a paid
	// torrent with a campaign; the buyer (bidding nothing now, so no
	// bandwidth payment mixes in) buys it, tips the publisher and pledges.
	buyer.ok("", "market set --buyer-strategy none")
	paidSrc, paidData := writePayload(t, filepath.Join(rootS, "paid"), 1<<20, 3, 8)
	paidTor := filepath.Join(rootS, "paid.torrent")
	deadline := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	w.ok(cli(cfgS, dS, "create", "-o", paidTor, "--payee", sa.Address, "--price", "2", "--goal", "10", "--deadline", deadline, paidSrc)...)
	paidBytes, err := os.ReadFile(paidTor)
	if err != nil {
		t.Fatal(err)
	}
	pih := strings.TrimSpace(seller.ok("", "add --dir "+filepath.Dir(paidSrc)+" "+paidTor))
	seller.waitTorrent(pih, time.Minute, func(t torrentListJSON) bool { return t.State == "seeding" })
	sellerBefore, buyerBefore = seller.balance(), buyer.balance()
	if got := strings.TrimSpace(buyer.ok(string(paidBytes), "add --dir paid --peer "+sellerPeer+" -")); got != pih {
		t.Fatalf("buyer add of the paid torrent: %q, want %s", got, pih)
	}
	buyer.fails("without --max-price: it would pay 2 BTT", "", "buy "+pih[:12])
	buyer.fails("above", "", "buy --max-price 1.5 "+pih[:12])
	if out := buyer.ok("", "buy --max-price 3 "+pih[:12]); !strings.Contains(out, "bought payload.bin for 2 BTT from "+sa.Address) {
		t.Fatalf("buy: %q", out)
	}
	if out := buyer.ok("", "tip --to publisher --memo thanks 0.25 "+pih[:12]); !strings.Contains(out, "tipped 0.25 BTT to the publisher "+sa.Address) {
		t.Fatalf("tip: %q", out)
	}
	if out := buyer.ok("", "pledge 1 "+pih[:12]); !strings.Contains(out, "pledged 1 BTT to payload.bin") {
		t.Fatalf("pledge: %q", out)
	}
	paidDone := buyer.waitTorrent(pih, 2*time.Minute, func(t torrentListJSON) bool { return t.Size > 0 && t.Done == t.Size })
	if got, err := os.ReadFile(filepath.Join(paidDone.DataDir, "payload.bin")); err != nil || string(got) != string(paidData) {
		t.Fatalf("the bought copy differs (%v)", err)
	}
	seller.okJSON(&settled, "wallet settle --json")
	sellerAfter, buyerAfter = seller.balance(), buyer.balance()
	gained, spent = sellerAfter.SubFloor(sellerBefore), buyerBefore.SubFloor(buyerAfter)
	if want := btt(t, "2.25"); gained.Cmp(want) != 0 || spent.Cmp(want) != 0 {
		t.Fatalf("buy 2 + tip 0.25 over SSH moved: seller +%s, buyer -%s; want 2.25 each way (the pledge of 1 is a promise)",
			gained.Format(18), spent.Format(18))
	}
	t.Logf("payments over SSH: buy 2 + tip 0.25 BTT; balances seller %s -> %s, buyer %s -> %s; pledge of 1 BTT recorded",
		sellerBefore.Format(18), sellerAfter.Format(18), buyerBefore.Format(18), buyerAfter.Format(18))
	seller.stop()
	buyer.stop()
	for _, d := range []*sshDaemon{seller, buyer} {
		if strings.Contains(d.logs.String(), "daemon pass") {
			t.Fatalf("the passphrase is in the %s daemon's log", d.name)
		}
	}
}

// marketJSONOut is `market --json` as a script reads it.
type marketJSONOut struct {
	Wallet        string     `json:"wallet"`
	Ask           amountJSON `json:"ask"`
	Bid           amountJSON `json:"bid"`
	BuyerStrategy string     `json:"buyer_strategy"`
	Earned        amountJSON `json:"earned"`
	Spent         amountJSON `json:"spent"`
	Sold          int64      `json:"sold_bytes"`
	Bought        int64      `json:"bought_bytes"`
}
