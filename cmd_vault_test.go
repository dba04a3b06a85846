package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
)

// TestWalletVaultCLI drives `wallet vault` against the fake TRON node:
// deploy-factory, deploy, deposit, show, withdraw-request (collateral
// drops at once), an early withdraw refused; and the local ledger has no
// vaults.
func TestWalletVaultCLI(t *testing.T) {
	node, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	token := wallet.MustParseAddress(wallet.DefaultBTTContract)
	node.AddContract(token)
	base := `chain = "nile"` + "\n" + `endpoint = "` + node.Addr() + `"` + "\n" + `plaintext = true` + "\n" + `confirm_timeout = "5s"` + "\n"
	w := newWalletCLI(t, base)
	dA := filepath.Join(w.dir, "alice")
	pa := w.file("pa", "alice pass")
	A := func(args ...string) []string { return append([]string{"--data-dir", dA, "wallet"}, args...) }
	var a addressJSON
	w.okJSON(&a, A("new", "--passphrase-file", pa, "--json")...)
	addr := wallet.MustParseAddress(a.Address)
	node.SetTRX(addr, 1_000_000_000)
	node.SetTRC20(token, addr, btt(t, "20"))

	w.fails("no vault factory configured", A("vault", "deploy", "--passphrase-file", pa)...)
	var f struct{ Factory string }
	w.okJSON(&f, A("vault", "deploy-factory", "--passphrase-file", pa, "--json")...)
	if err := os.WriteFile(w.config, []byte("[wallet]\n"+base+`vault_factory = "`+f.Factory+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.fails("has no vault", A("vault", "show")...)
	var v vaultJSON
	w.okJSON(&v, A("vault", "deploy", "--passphrase-file", pa, "--json")...)
	if v.Issuer != a.Address || v.DelaySeconds != 86400 || v.Balance.Value != "0" {
		t.Fatalf("deployed %+v", v)
	}
	w.fails("insufficient balance", A("vault", "deposit", "25", "--passphrase-file", pa)...)
	var r receiptJSON
	w.okJSON(&r, A("vault", "deposit", "12.5", "--passphrase-file", pa, "--json")...)
	w.okJSON(&v, A("vault", "show", "--json")...)
	if v.Balance.Value != "12.5" || v.Collateral.Value != "12.5" || node.TRC20(token, addr).Format(wallet.BTTDecimals) != "7.5" {
		t.Fatalf("after deposit %+v, wallet holds %s", v, node.TRC20(token, addr))
	}
	w.ok(A("vault", "withdraw-request", "10", "--passphrase-file", pa)...)
	w.okJSON(&v, A("vault", "show", "--address", a.Address, "--json")...)
	if v.Withdrawal.Value != "10" || v.Collateral.Value != "2.5" || v.WithdrawalTime == 0 {
		t.Fatalf("after request %+v", v)
	}
	w.fails("WithdrawalNotDue", A("vault", "withdraw", "--passphrase-file", pa)...)
	if out := w.ok(A("vault", "show")...); !strings.Contains(out, "collateral  2.5 BTT") {
		t.Errorf("show: %s", out)
	}

	// Reservations: 5 of the 12.5 for a payee; the withdrawal announced
	// can now take only the unreserved 7.5.
	pk, err := wallet.KeyFromBytes([]byte("a payee's key, thirty-two bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	payee := pk.Address().String()
	usage := func(want string, args ...string) {
		t.Helper()
		if _, errs, code := w.run(args...); code == 0 || !strings.HasPrefix(errs, want) {
			t.Errorf("%v: exit %d, stderr %q, want the usage %q", args, code, errs, want)
		}
	}
	usage("Usage: bidtorrent wallet vault reserve ", A("vault", "reserve", "--passphrase-file", pa)...)
	w.fails("PAYEE", A("vault", "reserve", "nonsense", "1", "--passphrase-file", pa)...)
	w.fails("insufficient", A("vault", "reserve", payee, "13", "--passphrase-file", pa)...)
	w.okJSON(&r, A("vault", "reserve", payee, "5", "--passphrase-file", pa, "--json")...)
	if r.Amount.Value != "5" || r.TxID == "" {
		t.Fatalf("reserve receipt %+v", r)
	}
	w.okJSON(&v, A("vault", "show", "--json")...)
	if v.Reserved.Value != "5" || v.Unreserved.Value != "7.5" || v.Collateral.Value != "0" || len(v.Reservations) != 1 ||
		v.Reservations[0].Payee != payee || v.Reservations[0].Held.Value != "5" {
		t.Fatalf("after reserve %+v", v)
	}
	w.ok(A("vault", "unreserve-request", payee, "2", "--passphrase-file", pa)...)
	w.okJSON(&v, A("vault", "show", "--json")...)
	if rs := v.Reservations[0]; rs.Amount.Value != "5" || rs.Decrease.Value != "2" || rs.Held.Value != "3" || rs.DecreaseTime == 0 {
		t.Fatalf("after unreserve-request %+v", rs)
	}
	if out := w.ok(A("vault", "show")...); !strings.Contains(out, "reserved    5 BTT for "+payee+" (lowering by 2 BTT announced") {
		t.Errorf("show: %s", out)
	}
	w.fails("DecreaseNotDue", A("vault", "unreserve", payee, "--passphrase-file", pa)...)
	usage("Usage: bidtorrent wallet vault unreserve ", A("vault", "unreserve", payee, "2", "--passphrase-file", pa)...)

	l := newWalletCLI(t, "")
	dL := filepath.Join(l.dir, "l")
	pl := l.file("pl", "pass")
	l.ok("--data-dir", dL, "wallet", "new", "--passphrase-file", pl)
	l.fails("cheque vaults exist on TRON", "--data-dir", dL, "wallet", "vault", "show")
}
