package walletjson

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// TestVaultCheque: a vault cheque shows its vault in `wallet cheques`
// and the vault's domain separator in `wallet cheque`.
func TestVaultCheque(t *testing.T) {
	raw := make([]byte, 32)
	raw[31] = 1
	k, err := wallet.KeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	vault, payee := wallet.MustParseAddress("TGkWdpawVNfeset3P6uTBbLaPY7nZVZvXY"), wallet.MustParseAddress("THHsfg2eNiv6MSXC4y5d4t5wkvRVADRKiF")
	c, err := wallet.SignVaultCheque(k, wallet.ChainIDNile, vault, wallet.MustParseAddress(wallet.DefaultBTTContract), payee, wallet.NewAmount(5))
	if err != nil {
		t.Fatal(err)
	}
	j := ChequeOf(c)
	if want := fmt.Sprintf("0x%x", wallet.VaultDomainSeparator(wallet.ChainIDNile, vault)); j.DomainSeparator != want || j.Digest != fmt.Sprintf("0x%x", c.VaultDigest(vault)) {
		t.Errorf("cheque JSON %+v", j)
	}
	r := RecordOf(wallet.Record{Direction: wallet.Received, Counterparty: k.Address(), Cheque: c})
	var b strings.Builder
	PrintRecords(&b, []Record{r})
	if r.Vault != vault.String() || !strings.Contains(b.String(), "cashed by the payee at "+vault.String()) {
		t.Errorf("record %+v\n%s", r, b.String())
	}
	if r.Bounced.BaseUnits != "0" || strings.Contains(b.String(), "bounced") {
		t.Errorf("a record with nothing bounced: %+v\n%s", r, b.String())
	}
	// What the last cash left bounced: in the JSON and on the vault line.
	r = RecordOf(wallet.Record{Direction: wallet.Received, Counterparty: k.Address(), Cheque: c, Settled: wallet.NewAmount(2), Bounced: wallet.NewAmount(3)})
	b.Reset()
	PrintRecords(&b, []Record{r})
	if r.Bounced.BaseUnits != "3" || r.Unsettled.BaseUnits != "3" ||
		!strings.Contains(b.String(), "cashed by the payee at "+vault.String()+"; bounced 0.000000000000000003 BTT at the last cash") {
		t.Errorf("bounced record %+v\n%s", r, b.String())
	}
	js, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(js), `"bounced":{"base_units":"3","value":"0.000000000000000003"}`) {
		t.Errorf("bounced record JSON %s %v", js, err)
	}
}
