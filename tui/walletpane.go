package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/wallet"
)

// walletPane shows the wallet: address, balance, unsettled cheques and the
// market totals, with a key to settle now.
type walletPane struct{ sh *shared }

func newWalletPane(sh *shared) *walletPane { return &walletPane{sh: sh} }

func (w *walletPane) handleKey(tea.KeyPressMsg) (tea.Cmd, bool) { return nil, false }

func (w *walletPane) shortHelp() []key.Binding {
	k := w.sh.keys
	return []key.Binding{k.Settle, k.Back, k.Options}
}

func (w *walletPane) view(width, height int) string {
	sh, st := w.sh, w.sh.st
	ws, tot := sh.snap.Wallet, sh.snap.Totals
	a := func(x wallet.Amount) string { return x.Format(sh.decimals) + " " + sh.token }
	kv := [][2]string{}
	if ws.Address == "" {
		kv = append(kv, [2]string{"Wallet", "none open"})
	} else {
		kv = append(kv,
			[2]string{"Address", ws.Address},
			[2]string{"Chain", ws.Chain},
			[2]string{"Balance", a(ws.Balance)},
			[2]string{"Unsettled", a(ws.Unsettled) + " (cheques received, not yet settled)"},
		)
	}
	kv = append(kv,
		[2]string{"", ""},
		[2]string{"Earned", a(tot.Earned) + " (all torrents, all time)"},
		[2]string{"Spent", a(tot.Spent)},
		[2]string{"Unsettled", a(tot.Unsettled) + " (all torrents)"},
	)
	var lines []string
	lines = append(lines, st.Title.Render("Wallet"), "")
	for _, p := range kv {
		lines = append(lines, fit(st.Dim.Render(fit(p[0], 12))+" "+p[1], width))
	}
	if ws.Err != "" {
		lines = append(lines, "", st.Error.Render(fit("wallet: "+ws.Err, width)))
	}
	// Per-torrent unsettled amounts, largest first would need sorting big
	// lists; show those with any, in list order, as space allows.
	var per []string
	for i := range sh.snap.Torrents {
		t := &sh.snap.Torrents[i]
		if !t.Market.Unsettled.IsZero() {
			per = append(per, fit(fmt.Sprintf("  %s  %s", fitRight(sh.amount(t.Market.Unsettled, 14), 14), t.Name), width))
		}
	}
	if len(per) > 0 {
		lines = append(lines, "", st.Header.Render("unsettled by torrent"))
		lines = append(lines, per...)
	}
	lines = append(lines, "", st.Dim.Render("Press "+sh.keys.Settle.Help().Key+" to settle received cheques now."))
	return padLines(strings.Join(lines, "\n"), height)
}
