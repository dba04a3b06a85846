package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// generalLines are the General tab's lines at width: a row per field, a
// value too long for one line continued on indented lines, cut at its
// " · " separators.
func (d *detailsPane) generalLines(t *core.Torrent, width int) []string {
	sh := d.sh
	a := func(x wallet.Amount) string { return x.Format(sh.decimals) + " " + sh.token }
	state := string(t.State)
	if t.Err != "" {
		state += ": " + t.Err
	}
	if t.Parked {
		state += " (parked: out of the client until a peer asks for it)"
	}
	mk := t.Market
	kv := [][2]string{
		{"Name", t.Name},
		{"Info hash", t.InfoHash.String()},
		{"State", state},
		{"Size", fmt.Sprintf("%s (%d bytes)", bytesize.Format(t.Size), t.Size)},
		{"Done", fmt.Sprintf("%s  %s", pct(t.Progress()), bytesize.Format(t.Done))},
		{"Transferred", fmt.Sprintf("↓ %s  ↑ %s  ratio %s", bytesize.Format(t.Downloaded), bytesize.Format(t.Uploaded), fmtRatio(t.Ratio))},
		{"Rates", fmt.Sprintf("↓ %s  ↑ %s  (limits ↓ %s ↑ %s)", orDash(fmtRate(t.DownRate)), orDash(fmtRate(t.UpRate)), fmtLimit(t.Limits.Down), fmtLimit(t.Limits.Up))},
		{"Peers", fmt.Sprintf("%d connected, %d seeds", t.PeerCount, t.SeedCount)},
		{"ETA", orNone(fmtETA(t.ETA))},
		{"Pieces", fmt.Sprintf("%d × %s", t.NumPieces, bytesize.Format(t.PieceLength))},
		{"Sequential", map[bool]string{true: "on", false: "off"}[t.Sequential]},
		{"Data dir", t.DataDir},
		{"Labels", strings.Join(t.Labels, ", ")},
		{"Added", fmtTime(t.AddedAt)},
		{"Bid / ask", a(mk.Bid) + " / " + a(mk.Ask) + " per MiB · budget " + a(mk.Budget)},
		{"Strategies", "buyer " + orNone(mk.BuyerStrategy) + ", seller " + orNone(mk.SellerStrategy)},
		{"Price", a(mk.Price) + " per MiB"},
		{"Earned / spent", a(mk.Earned) + " / " + a(mk.Spent) + " · unsettled " + a(mk.Unsettled)},
		{"Paid bytes", "sold " + bytesize.Format(mk.Sold) + ", bought " + bytesize.Format(mk.Bought) + " (this session)"},
	}
	kv = slices.Insert(kv, 3, d.termsRows(t)...) // after State
	if t.Format == core.FormatHybrid || t.Format == core.FormatV2 {
		// BitTorrent v2 (BEP 52): the format and the SHA-256 infohash.
		kv = slices.Insert(kv, 2, [2]string{"Info hash v2", t.InfoHashV2.String()}, [2]string{"Format", string(t.Format)})
	}
	const labelW = 16
	var lines []string
	for _, p := range kv {
		for i, part := range wrapParts(p[1], width-labelW) {
			label := ""
			if i == 0 {
				label = p[0]
			}
			lines = append(lines, fit(sh.st.Dim.Render(fit(label, labelW-1))+" "+part, width))
		}
	}
	return lines
}

// wrapParts splits value into lines of at most w cells at its " · "
// separators; a single part wider than w stays whole (fit cuts it).
func wrapParts(value string, w int) []string {
	if ansi.StringWidth(value) <= w || w < 20 {
		return []string{value}
	}
	var out []string
	cur := ""
	for _, part := range strings.Split(value, " · ") {
		switch {
		case cur == "":
			cur = part
		case ansi.StringWidth(cur)+3+ansi.StringWidth(part) <= w:
			cur += " · " + part
		default:
			out = append(out, cur)
			cur = part
		}
	}
	return append(out, cur)
}

// generalView shows the General tab; it scrolls by lines.
func (d *detailsPane) generalView(t *core.Torrent, width, h int) string {
	lines := d.generalLines(t, width)
	off, end := d.scrolled(len(lines), h)
	return strings.Join(lines[off:end], "\n")
}

// scrolled clamps the current tab's offset for n lines shown in h, notes
// how far it may scroll, sets the tab bar's hint about the hidden lines
// and returns the visible range.
func (d *detailsPane) scrolled(n, h int) (off, end int) {
	d.maxOff[d.tab] = max(0, n-h)
	o := &d.offset[d.tab]
	*o = max(0, min(*o, d.maxOff[d.tab]))
	end = min(n, *o+h)
	var hint []string
	if *o > 0 {
		hint = append(hint, "↑ "+itoa(*o))
	}
	if below := n - end; below > 0 {
		hint = append(hint, "↓ "+itoa(below))
	}
	if len(hint) > 0 {
		d.hint = strings.Join(hint, " ") + " more"
	}
	return *o, end
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func (d *detailsPane) trackersView(t *core.Torrent, width, h int) string {
	st := d.sh.st
	tb := newTable([]tcol{
		{title: "url", prio: 0},
		{title: "status", width: 12, prio: 0},
		{title: "peers", width: 5, right: true, prio: 1},
		{title: "next", width: 6, right: true, prio: 2},
		{title: "error", width: 24, prio: 3},
	}, width, 20)
	lines := []string{st.Header.Render(tb.header())}
	if len(t.Trackers) == 0 {
		return lines[0] + "\n" + st.Dim.Render("  no trackers (DHT, PEX and direct peers only)")
	}
	now := d.sh.snap.Time
	cur := min(d.cursor[tabTrackers], len(t.Trackers)-1)
	off := window(&d.offset[tabTrackers], cur, len(t.Trackers), h-1)
	for i := off; i < len(t.Trackers) && i < off+h-1; i++ {
		tr := &t.Trackers[i]
		next := ""
		if !tr.Next.IsZero() && !now.IsZero() {
			next = fmtETA(tr.Next.Sub(now))
		}
		line := tb.line([]string{tr.URL, tr.Status, itoa(tr.Peers), next, tr.LastErr})
		if i == cur {
			line = st.Selected.Render(line)
		} else if tr.LastErr != "" {
			line = st.Error.Render(line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (d *detailsPane) piecesView(t *core.Torrent, width, h int) string {
	st := d.sh.st
	have, partial := 0, 0
	for _, p := range t.Pieces {
		switch p {
		case 2:
			have++
		case 1:
			partial++
		}
	}
	head := fmt.Sprintf("%d pieces × %s · %d complete · %d partial · %d missing",
		t.NumPieces, bytesize.Format(t.PieceLength), have, partial, len(t.Pieces)-have-partial)
	legend := st.Good.Render("█") + " complete  " + st.Info.Render("▒") + " partial  " + st.Dim.Render("·") + " missing"
	if len(t.Pieces) == 0 {
		return fit(head, width) + "\n" + st.Dim.Render("  no piece information yet")
	}
	rows := max(1, h-3)
	cells := min(len(t.Pieces), width*rows)
	per := (len(t.Pieces) + cells - 1) / cells // pieces per cell
	cells = (len(t.Pieces) + per - 1) / per
	if per > 1 {
		head += fmt.Sprintf(" · %d pieces per cell", per)
	}
	var b strings.Builder
	b.WriteString(fit(head, width) + "\n" + legend + "\n")
	var run strings.Builder
	runCh := rune(0)
	flush := func() {
		if run.Len() == 0 {
			return
		}
		s := run.String()
		switch runCh {
		case '█', '▓':
			s = st.Good.Render(s)
		case '▒':
			s = st.Info.Render(s)
		default:
			s = st.Dim.Render(s)
		}
		b.WriteString(s)
		run.Reset()
	}
	for c := 0; c < cells; c++ {
		if c > 0 && c%width == 0 {
			flush()
			b.WriteByte('\n')
		}
		lo, hi := c*per, min(len(t.Pieces), (c+1)*per)
		n2, n1 := 0, 0
		for _, p := range t.Pieces[lo:hi] {
			switch p {
			case 2:
				n2++
			case 1:
				n1++
			}
		}
		ch := '·'
		switch {
		case n2 == hi-lo:
			ch = '█'
		case n2*2 >= hi-lo:
			ch = '▓'
		case n2+n1 > 0:
			ch = '▒'
		}
		if ch != runCh {
			flush()
			runCh = ch
		}
		run.WriteRune(ch)
	}
	flush()
	return b.String()
}
