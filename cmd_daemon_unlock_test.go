package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/bidtorrent/bidtorrent/internal/sshtest"
	"github.com/bidtorrent/bidtorrent/internal/tmuxtest"
)

// TestDaemonTUIUnlockOverSSH (issue 17): a daemon started locked shows
// "locked" in the status bar of a TUI attached with the real ssh client in
// tmux; U opens the passphrase dialog (masked), a wrong passphrase is
// refused, the right one unlocks the wallet, and the status bar and the
// daemon (asked over SSH) both say unlocked.
func TestDaemonTUIUnlockOverSSH(t *testing.T) {
	tmuxtest.Require(t, "tmux", "ssh", "go")
	bin := buildCLI(t)
	w := newWalletCLI(t, `chain = "local"`+"\n")
	pass := w.file("pass", "tui pass\n")
	ledger := filepath.Join(w.dir, "ledger.db")
	cfg := w.file("d.toml", daemonTOML("127.0.0.78:0", "0"))
	dir := filepath.Join(w.dir, "d")
	cli := func(args ...string) []string {
		return append([]string{"--config", cfg, "--data-dir", dir, "--ledger", ledger}, args...)
	}
	var a addressJSON
	w.okJSON(&a, cli("wallet", "new", "--passphrase-file", pass, "--json")...)

	// A client key as a file, for ssh -i.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := w.file("id_ed25519", string(pem.EncodeToMemory(block)))
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keys := w.file("authorized_keys", string(gossh.MarshalAuthorizedKey(sshPub)))

	sshAddr := freeAddr(t)
	env := append(os.Environ(), passphraseEnv+"=", "CREDENTIALS_DIRECTORY=")
	d := startDaemon(t, "locked", bin, env, signer, sshAddr, cli("daemon", "--ssh-listen", sshAddr, "--authorized-keys", keys)...)
	host, port := strings.Split(sshAddr, ":")[0], strings.Split(sshAddr, ":")[1]
	ui := tmuxtest.Start(t, w.dir, "unlock", 120, 30, fmt.Sprintf(
		"TERM=xterm-256color ssh -t -p %s -i %q -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ops@%s",
		port, keyFile, host))
	ui.Diag = func() string { return "daemon log:\n" + d.logs.String() }
	ui.WaitScreen("the locked status bar", 30*time.Second, tmuxtest.Has("locked (U unlocks)"))

	ui.Keys("U")
	ui.WaitScreen("the unlock dialog", 10*time.Second, tmuxtest.Has("Unlock the wallet", "Passphrase"))
	ui.Type("wrong")
	ui.WaitScreen("a masked passphrase", 10*time.Second, tmuxtest.Has("•••••"))
	if strings.Contains(ui.Screen(), "wrong") {
		t.Fatalf("the passphrase shows in clear:\n%s", ui.Screen())
	}
	ui.Keys("Enter")
	ui.WaitScreen("the refusal", 30*time.Second, tmuxtest.Has("cannot unlock the wallet"))
	ui.Keys("U")
	ui.WaitScreen("the unlock dialog again", 10*time.Second, tmuxtest.Has("Unlock the wallet"))
	ui.Type("tui pass")
	ui.Keys("Enter")
	ui.WaitScreen("the unlocked status bar", 60*time.Second, tmuxtest.Has("wallet unlocked", "unlocked"))

	var st struct {
		Address string `json:"address"`
		State   string `json:"state"`
	}
	d.okJSON(&st, "wallet address --json")
	if st.State != "unlocked" || st.Address != a.Address {
		t.Fatalf("after the TUI's unlock the daemon says %+v", st)
	}
	if strings.Contains(d.logs.String(), "tui pass") {
		t.Fatal("the passphrase is in the daemon's log")
	}
	ui.Keys("q")
	d.stop()
}

// TestDaemonMarketDefaults (issue 17): the config's [market] values are
// the global market of a daemon with a wallet; a global `market set` and
// a torrent's own setting persist across restarts (the stored global
// wins over the config); --no-wallet refuses market and wallet commands.
func TestDaemonMarketDefaults(t *testing.T) {
	bin := buildCLI(t)
	w := newWalletCLI(t, `chain = "local"`+"\n")
	pass := w.file("pass", "defaults pass\n")
	ledger := filepath.Join(w.dir, "ledger.db")
	cfg := w.file("d.toml", daemonTOML("127.0.0.79:0", "0")+"[market]\nask = \"0.001\"\nseller_strategy = \"propshare\"\n")
	dir := filepath.Join(w.dir, "d")
	cli := func(args ...string) []string {
		return append([]string{"--config", cfg, "--data-dir", dir, "--ledger", ledger}, args...)
	}
	w.ok(cli("wallet", "new", "--passphrase-file", pass)...)
	signer := sshtest.NewKey(t)
	keys := w.file("authorized_keys", string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	env := append(os.Environ(), passphraseEnv+"=", "CREDENTIALS_DIRECTORY=")
	start := func(extra ...string) *sshDaemon {
		addr := freeAddr(t)
		return startDaemon(t, "d", bin, env, signer, addr, cli(append([]string{"daemon", "--ssh-listen", addr, "--authorized-keys", keys}, extra...)...)...)
	}
	type market struct {
		Ask            amountJSON `json:"ask"`
		Bid            amountJSON `json:"bid"`
		SellerStrategy string     `json:"seller_strategy"`
	}
	const ih = "0123456789abcdef0123456789abcdef01234567"
	d := start("--passphrase-file", pass)
	var g market
	d.okJSON(&g, "market --json")
	if g.Ask.Value != "0.001" || g.SellerStrategy != "propshare" {
		t.Fatalf("global market from the config: %+v", g)
	}
	d.ok("", "add --paused magnet:?xt=urn:btih:"+ih)
	d.ok("", "market set --ask 0.002")
	d.ok("", "market set --bid 0.003 "+ih[:10])
	d.stop()

	d = start("--passphrase-file", pass)
	d.okJSON(&g, "market --json")
	if g.Ask.Value != "0.002" || g.SellerStrategy != "propshare" {
		t.Fatalf("global market after a restart: %+v, want the stored ask 0.002 over the config's 0.001", g)
	}
	var tm market
	d.okJSON(&tm, "market --json "+ih[:10])
	if tm.Bid.Value != "0.003" {
		t.Fatalf("the torrent's bid after a restart: %+v", tm)
	}
	d.stop()

	d = start("--no-wallet")
	d.fails("has no wallet", "", "market set --ask 1")
	d.fails("has no wallet", "", "wallet balance")
	d.fails("has no wallet", "defaults pass\n", "unlock")
	d.stop()
}
