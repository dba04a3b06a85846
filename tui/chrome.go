package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

// titleLine is the first line: the name, counts, filter and sort.
func (m *Model) titleLine() string {
	st := m.sh.st
	parts := []string{st.Title.Render("bidtorrent")}
	n := len(m.sh.snap.Torrents)
	switch m.page {
	case pageList:
		if shown := len(m.list.rows); shown != n {
			parts = append(parts, fmt.Sprintf("%d of %d torrents", shown, n))
		} else {
			parts = append(parts, fmt.Sprintf("%d torrents", n))
		}
		if k := len(m.list.marked); k > 0 {
			parts = append(parts, st.Marked.Render(fmt.Sprintf("%d marked", k)))
		}
		if !m.list.filter.Empty() {
			parts = append(parts, "filter: "+st.Info.Render(m.list.filter.String()))
		}
		dir := "▲"
		if m.list.reverse {
			dir = "▼"
		}
		parts = append(parts, "sort: "+listColumns[m.list.sortCol].name+" "+dir)
	case pageDetails:
		if t := m.sh.torrent(m.details.hash); t != nil {
			parts = append(parts, t.Name)
		} else {
			parts = append(parts, st.Error.Render("torrent removed"))
		}
	case pageWallet:
		parts = append(parts, "wallet")
	}
	if !m.gotSnap {
		parts = append(parts, st.Dim.Render("waiting for the engine…"))
	}
	return fit(strings.Join(parts, st.Dim.Render(" · ")), m.width)
}

// statusBar shows totals, global limits and the wallet balance, dropping
// the least important parts when narrow.
func (m *Model) statusBar() string {
	sh := m.sh
	t, l, w := sh.snap.Totals, sh.snap.Limits, sh.snap.Wallet
	st := sh.st
	type part struct {
		s    string
		prio int
	}
	wal := st.Dim.Render("no wallet")
	switch {
	case sh.walletState == "locked":
		wal = st.Bad.Render("locked") + " (" + sh.keys.Unlock.Help().Key + " unlocks)"
	case w.Address != "":
		wal = sh.amount(w.Balance, 12) + " " + sh.token
		if !w.Unsettled.IsZero() {
			wal += " (+" + sh.amount(w.Unsettled, 10) + ")"
		}
		if sh.walletState == "unlocked" {
			wal += " " + st.Good.Render("unlocked")
		}
	}
	parts := []part{
		{fmt.Sprintf("↓%s ↑%s", orDash(fmtRate(t.DownRate)), orDash(fmtRate(t.UpRate))), 0},
		{fmt.Sprintf("lim ↓%s ↑%s", fmtLimit(l.Down), fmtLimit(l.Up)), 3},
		{fmt.Sprintf("peers %d", t.Peers), 5},
		{st.Good.Render("+"+sh.amount(t.Earned, 10)) + " " + st.Bad.Render("-"+sh.amount(t.Spent, 10)), 2},
		{"wallet " + wal, 1},
	}
	// The global market settings: bid/ask first to go after the limits,
	// strategies last; unset ones are left out.
	g := sh.snap.Market
	var gm []string
	if !g.Bid.IsZero() {
		gm = append(gm, "bid "+sh.amount(g.Bid, 10))
	}
	if !g.Ask.IsZero() {
		gm = append(gm, "ask "+sh.amount(g.Ask, 10))
	}
	if len(gm) > 0 {
		parts = append(parts, part{"global " + strings.Join(gm, " "), 4})
	}
	if g.BuyerStrategy != "" || g.SellerStrategy != "" {
		parts = append(parts, part{"buy " + orDash(g.BuyerStrategy) + " sell " + orDash(g.SellerStrategy), 6})
	}
	sep := st.Dim.Render(" │ ")
	for drop := 7; drop >= 0; drop-- {
		var kept []string
		for _, p := range parts {
			if p.prio < drop {
				kept = append(kept, p.s)
			}
		}
		line := strings.Join(kept, sep)
		if ansi.StringWidth(line) <= m.width || drop == 1 {
			return st.StatusBar.Render(fit(line, m.width))
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// messageLine shows the latest result or error.
func (m *Model) messageLine() string {
	if m.status == "" {
		return ""
	}
	if m.statusErr {
		return m.sh.st.Error.Render(fit(m.status, m.width))
	}
	return m.sh.st.Info.Render(fit(m.status, m.width))
}

// shortHelpLine lists the keys of the current page.
func (m *Model) shortHelpLine() string {
	k := m.sh.keys
	var bs []key.Binding
	if m.dialog != nil {
		bs = m.dialog.shortHelp()
	} else {
		bs = append(m.current().shortHelp(), k.Help, k.Quit)
	}
	st := m.sh.st
	var parts []string
	width := 0
	for _, b := range bs {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		item := st.Key.Render(h.Key) + " " + st.Dim.Render(h.Desc)
		w := ansi.StringWidth(item) + 2
		if width+w > m.width {
			break
		}
		width += w
		parts = append(parts, item)
	}
	return strings.Join(parts, "  ")
}

// overlay draws box centred over body (both h lines of width w).
func overlay(body, box string, w, h int) string {
	lines := strings.Split(body, "\n")
	for len(lines) < h {
		lines = append(lines, "")
	}
	boxLines := strings.Split(box, "\n")
	bw := 0
	for _, l := range boxLines {
		bw = max(bw, ansi.StringWidth(l))
	}
	top := max(0, (h-len(boxLines))/2)
	left := max(0, (w-bw)/2)
	for i, bl := range boxLines {
		y := top + i
		if y >= len(lines) {
			break
		}
		under := lines[y]
		pre := ansi.Truncate(under, left, "")
		pre += strings.Repeat(" ", left-ansi.StringWidth(pre))
		post := ""
		if uw := ansi.StringWidth(under); uw > left+bw {
			post = ansi.Cut(under, left+bw, uw)
		}
		lines[y] = pre + bl + strings.Repeat(" ", bw-ansi.StringWidth(bl)) + post
	}
	return strings.Join(lines[:h], "\n")
}

// orNone shows an unset value as a dash.
func orNone(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
