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
