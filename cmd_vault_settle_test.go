package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/internal/walletjson"
	"github.com/bidtorrent/bidtorrent/wallet"
	"github.com/bidtorrent/bidtorrent/wallet/faketron"
)

// TestWalletVaultSettleCLI (issue 16 item 4, the payee's side): on TRON
// `wallet settle` makes the payee cash its received vault cheques at the
// payer's vault. A cheque of 8 BTT on a vault holding 5 pays 5 and
// reports 3 short (bounced); `wallet cheques` shows 5 settled, 3
// unsettled, 3 bounced and the vault; settling again on the empty vault
// sends nothing and the 3 bounced stand; after the payer deposits,
// settling again cashes the 3 left (`wallet cheques`: 8 settled, 0
// bounced), and a third settle pays nothing and sends no transaction. The payee holds exactly the cheque's 8, the vault the
// rest of the deposits. Then the payer's announced withdrawal, refused
// early, is paid once the delay has passed.
func TestWalletVaultSettleCLI(t *testing.T) {
	node, err := faketron.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	token := wallet.MustParseAddress(wallet.DefaultBTTContract)
	node.AddContract(token)
	base := `chain = "nile"` + "\n" + `endpoint = "` + node.Addr() + `"` + "\n" + `plaintext = true` + "\n" + `confirm_timeout = "5s"` + "\n"
	w := newWalletCLI(t, base)
	raw := []byte("a payer's vault key, 32 bytes!!!")
	pk, err := wallet.KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	dA, dB := filepath.Join(w.dir, "alice"), filepath.Join(w.dir, "bob")
	pa := w.file("pa", "alice pass")
	A := func(args ...string) []string { return append([]string{"--data-dir", dA, "wallet"}, args...) }
	B := func(args ...string) []string { return append([]string{"--data-dir", dB, "wallet"}, args...) }
	var a, b addressJSON
	w.okJSON(&a, A("import", "--hex-file", w.file("hex", hex.EncodeToString(raw)), "--passphrase-file", pa, "--json")...)
	if a.Address != pk.Address().String() {
		t.Fatalf("imported %s, want %s", a.Address, pk.Address())
	}
	w.okJSON(&b, B("new", "--passphrase-file", pa, "--json")...)
	payee := wallet.MustParseAddress(b.Address)
	node.SetTRX(pk.Address(), 1_000_000_000)
	node.SetTRX(payee, 1_000_000_000)
	node.SetTRC20(token, pk.Address(), btt(t, "20"))
	var f struct{ Factory string }
	w.okJSON(&f, A("vault", "deploy-factory", "--passphrase-file", pa, "--json")...)
	if err := os.WriteFile(w.config, []byte("[wallet]\n"+base+`vault_factory = "`+f.Factory+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var v vaultJSON
	w.okJSON(&v, A("vault", "deploy", "--passphrase-file", pa, "--json")...)
	vault := wallet.MustParseAddress(v.Vault)
	w.ok(A("vault", "deposit", "5", "--passphrase-file", pa)...)

	// Bob received a cheque of 8 BTT of Alice's vault (as his engine
	// would have stored it).
	ch, err := wallet.SignVaultCheque(pk, wallet.ChainIDNile, vault, token, payee, btt(t, "8"))
	if err != nil {
		t.Fatal(err)
	}
	book, err := wallet.OpenChequeBook(filepath.Join(dB, "chequebook.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := book.RecordReceived(ch); err != nil {
		t.Fatal(err)
	}
	settle := func(paid, settled, short string) {
		t.Helper()
		var ss []walletjson.Settlement
		w.okJSON(&ss, B("settle", "--passphrase-file", pa, "--json")...)
		if len(ss) != 1 || ss[0].Direction != "received" || ss[0].Counterparty != a.Address || ss[0].Paid.Value != paid ||
			ss[0].Settled.Value != settled || ss[0].Shortfall.Value != short || ss[0].Error != "" {
			t.Fatalf("settle: %+v, want paid %s, settled %s, short %s", ss, paid, settled, short)
		}
	}
	settle("5", "5", "3")
	if got := node.TRC20(token, payee); got.Cmp(btt(t, "5")) != 0 {
		t.Fatalf("bob holds %s after cashing at a vault of 5", got)
	}
	var rs []walletjson.Record
	w.okJSON(&rs, B("cheques", "--json")...)
	if len(rs) != 1 || rs[0].Settled.Value != "5" || rs[0].Unsettled.Value != "3" || rs[0].Vault != v.Vault ||
		rs[0].Bounced.BaseUnits != btt(t, "3").String() {
		t.Fatalf("cheques: %+v", rs)
	}
	if out := w.ok(B("cheques")...); !strings.Contains(out, "vault cheque: cashed by the payee at "+v.Vault+"; bounced 3 BTT") {
		t.Errorf("cheques: %s", out)
	}
	// Settling again on the empty vault sends nothing (a cash would pay 0).
	before := node.Broadcasts()
	if out := w.ok(B("settle", "--passphrase-file", pa)...); !strings.Contains(out, "paid 0 BTT, settled 5 of 8, short 3") || node.Broadcasts() != before {
		t.Errorf("settle on an empty vault: %d transactions: %s", node.Broadcasts()-before, out)
	}
	if w.okJSON(&rs, B("cheques", "--json")...); len(rs) != 1 || rs[0].Settled.Value != "5" || rs[0].Bounced.Value != "3" {
		t.Fatalf("cheques after a settle that sent nothing: %+v", rs)
	}
	w.ok(A("vault", "deposit", "10", "--passphrase-file", pa)...)
	settle("3", "8", "0")
	if w.okJSON(&rs, B("cheques", "--json")...); len(rs) != 1 || rs[0].Settled.BaseUnits != ch.Cumulative.String() ||
		rs[0].Bounced.BaseUnits != "0" || rs[0].Unsettled.BaseUnits != "0" {
		t.Fatalf("cheques after cashing the rest: %+v", rs)
	}
	if out := w.ok(B("cheques")...); strings.Contains(out, "bounced") {
		t.Errorf("cheques after cashing the rest: %s", out)
	}
	if got := node.TRC20(token, payee); got.String() != rs[0].Settled.BaseUnits {
		t.Fatalf("bob holds %s, settled %s", got, rs[0].Settled.BaseUnits)
	}
	before = node.Broadcasts()
	if out := w.ok(B("settle", "--passphrase-file", pa)...); node.Broadcasts() != before || strings.Contains(out, "paid 3") {
		t.Fatalf("a third settle sent %d transactions: %s", node.Broadcasts()-before, out)
	}
	if got, left := node.TRC20(token, payee), node.TRC20(token, vault); got.Cmp(btt(t, "8")) != 0 || left.Cmp(btt(t, "7")) != 0 {
		t.Fatalf("bob holds %s, vault %s; want 8 and 7", got, left)
	}

	// A withdrawal: refused before the delay, paid after it.
	w.ok(A("vault", "withdraw-request", "7", "--passphrase-file", pa)...)
	w.fails("WithdrawalNotDue", A("vault", "withdraw", "--passphrase-file", pa)...)
	node.Advance(24*time.Hour + time.Minute)
	var r receiptJSON
	w.okJSON(&r, A("vault", "withdraw", "--passphrase-file", pa, "--json")...)
	if got, left := node.TRC20(token, pk.Address()), node.TRC20(token, vault); got.Cmp(btt(t, "12")) != 0 || !left.IsZero() || r.TxID == "" {
		t.Fatalf("after withdrawing: alice holds %s, vault %s (%+v)", got, left, r)
	}
}
