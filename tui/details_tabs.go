package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

func (d *detailsPane) generalView(t *core.Torrent, width, h int) string {
	sh := d.sh
	a := func(x wallet.Amount) string { return x.Format(sh.decimals) + " " + sh.token }
	state := string(t.State)
	if t.Err != "" {
		state += ": " + t.Err
	}
	mk := t.Market
	kv := [][2]string{
		{"Name", t.Name},
		{"Info hash", t.InfoHash.String()},
		{"State", state},
		{"Size", fmt.Sprintf("%s (%d bytes)", fmtBytes(t.Size), t.Size)},
		{"Done", fmt.Sprintf("%s  %s", pct(t.Progress()), fmtBytes(t.Done))},
		{"Transferred", fmt.Sprintf("↓ %s  ↑ %s  ratio %s", fmtBytes(t.Downloaded), fmtBytes(t.Uploaded), fmtRatio(t.Ratio))},
		{"Rates", fmt.Sprintf("↓ %s  ↑ %s  (limits ↓ %s ↑ %s)", orDash(fmtRate(t.DownRate)), orDash(fmtRate(t.UpRate)), fmtLimit(t.Limits.Down), fmtLimit(t.Limits.Up))},
		{"Peers", fmt.Sprintf("%d connected, %d seeds", t.PeerCount, t.SeedCount)},
		{"ETA", orDash(fmtETA(t.ETA))},
		{"Pieces", fmt.Sprintf("%d × %s", t.NumPieces, fmtBytes(t.PieceLength))},
		{"Sequential", map[bool]string{true: "on", false: "off"}[t.Sequential]},
		{"Data dir", t.DataDir},
		{"Labels", strings.Join(t.Labels, ", ")},
		{"Added", fmtTime(t.AddedAt)},
		{"Bid / ask", a(mk.Bid) + " / " + a(mk.Ask) + " per MiB"},
		{"Budget", a(mk.Budget)},
		{"Strategies", "buyer " + orDash(mk.BuyerStrategy) + ", seller " + orDash(mk.SellerStrategy)},
		{"Price", a(mk.Price) + " per MiB"},
		{"Earned / spent", a(mk.Earned) + " / " + a(mk.Spent)},
		{"Unsettled", a(mk.Unsettled)},
		{"Paid bytes", "sold " + fmtBytes(mk.Sold) + ", bought " + fmtBytes(mk.Bought) + " (this session)"},
	}
	var lines []string
	for _, p := range kv {
		lines = append(lines, fit(d.sh.st.Dim.Render(fit(p[0], 15))+" "+p[1], width))
	}
	off := window(&d.offset[tabGeneral], d.cursor[tabGeneral], len(lines), h)
	d.cursor[tabGeneral] = min(d.cursor[tabGeneral], len(lines)-1)
	return strings.Join(lines[off:min(len(lines), off+h)], "\n")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fileRow is one line of the Files tree: a directory or a file.
type fileRow struct {
	depth      int
	name       string
	dir        bool
	files      []int // file indexes under the row
	size, done int64
}

// buildFileTree turns the file list into tree rows, directories first
// in path order, with sizes summed.
func buildFileTree(files []core.File) []fileRow {
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(files[a].Path, files[b].Path) })
	var rows []fileRow
	var stack []int    // row indexes of the open directories
	var names []string // their names
	for _, fi := range order {
		f := files[fi]
		parts := strings.Split(f.Path, "/")
		dirs := parts[:len(parts)-1]
		keep := 0
		for keep < len(stack) && keep < len(dirs) && names[keep] == dirs[keep] {
			keep++
		}
		stack, names = stack[:keep], names[:keep]
		for _, dn := range dirs[keep:] {
			rows = append(rows, fileRow{depth: len(stack), name: dn, dir: true})
			stack = append(stack, len(rows)-1)
			names = append(names, dn)
		}
		for _, ri := range stack {
			rows[ri].files = append(rows[ri].files, fi)
			rows[ri].size += f.Size
			rows[ri].done += f.Done
		}
		rows = append(rows, fileRow{depth: len(stack), name: parts[len(parts)-1], files: []int{fi}, size: f.Size, done: f.Done})
	}
	return rows
}

// rowPriority is the common priority of a row's files; ok is false when
// they differ.
func rowPriority(t *core.Torrent, r *fileRow) (p core.Priority, ok bool) {
	for i, fi := range r.files {
		if fi >= len(t.Files) {
			return 0, false
		}
		if i == 0 {
			p = t.Files[fi].Priority
		} else if t.Files[fi].Priority != p {
			return p, false
		}
	}
	return p, true
}

func prioName(p core.Priority, ok bool) string {
	if !ok {
		return "mixed"
	}
	switch p {
	case core.PrioritySkip:
		return "skip"
	case core.PriorityHigh:
		return "high"
	}
	return "normal"
}

func (d *detailsPane) fileKey(msg tea.KeyPressMsg, t *core.Torrent) (tea.Cmd, bool) {
	k := d.sh.keys
	c := d.cursor[tabFiles]
	if c >= len(d.files) || d.setPrio == nil {
		return nil, false
	}
	r := &d.files[c]
	p, ok := rowPriority(t, r)
	var np core.Priority
	switch {
	case key.Matches(msg, k.FilePrioUp):
		np = min(p+1, core.PriorityHigh)
		if p == core.PrioritySkip {
			np = core.PriorityNormal
		}
	case key.Matches(msg, k.FilePrioDown):
		np = max(p-1, core.PrioritySkip)
	case key.Matches(msg, k.FileSkip):
		np = core.PrioritySkip
		if ok && p == core.PrioritySkip {
			np = core.PriorityNormal
		}
	default:
		return nil, false
	}
	return d.setPrio(t.InfoHash, r.name, r.files, np), true
}

func (d *detailsPane) filesView(t *core.Torrent, width, h int) string {
	st := d.sh.st
	tb := newTable([]tcol{
		{title: "name", prio: 0},
		{title: "size", width: 7, right: true, prio: 1},
		{title: "progress", width: 13, prio: 0},
		{title: "priority", width: 8, prio: 0},
	}, width, 16)
	lines := []string{st.Header.Render(tb.header())}
	if len(d.files) == 0 {
		return lines[0] + "\n" + st.Dim.Render("  no files yet (waiting for metadata)")
	}
	cur := d.cursor[tabFiles]
	off := window(&d.offset[tabFiles], cur, len(d.files), h-1)
	for i := off; i < len(d.files) && i < off+h-1; i++ {
		r := &d.files[i]
		name := strings.Repeat("  ", r.depth) + r.name
		if r.dir {
			name += "/"
		}
		p := 0.0
		if r.size > 0 {
			p = float64(r.done) / float64(r.size)
		}
		prio, ok := rowPriority(t, r)
		line := tb.line([]string{name, fmtBytes(r.size), bar(p, 8) + fitRight(pct(p), 5), prioName(prio, ok)})
		switch {
		case i == cur:
			line = st.Selected.Render(line)
		case ok && prio == core.PrioritySkip:
			line = st.Dim.Render(line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// sortPeers orders peers by total rate, fastest first, then address.
func sortPeers(ps []core.Peer) []int {
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ra, rb := ps[a].DownRate+ps[a].UpRate, ps[b].DownRate+ps[b].UpRate
		if ra != rb {
			if ra > rb {
				return -1
			}
			return 1
		}
		return strings.Compare(string(ps[a].Key), string(ps[b].Key))
	})
	return order
}

// peerFlags is a compact summary of a connection:
// D/d downloading from it (d: interested but choked), U/u uploading to it
// (u: it is interested but we choke), I incoming, E encrypted, P uTP,
// $ btt_bid on, A we award it paid service, a it awards us.
func peerFlags(p *core.Peer) string {
	var b strings.Builder
	switch {
	case p.AmInterested && !p.PeerChoking:
		b.WriteByte('D')
	case p.AmInterested:
		b.WriteByte('d')
	}
	switch {
	case p.PeerInterest && !p.AmChoking:
		b.WriteByte('U')
	case p.PeerInterest:
		b.WriteByte('u')
	}
	if p.Incoming {
		b.WriteByte('I')
	}
	if p.Encrypted {
		b.WriteByte('E')
	}
	if p.Transport == "utp" {
		b.WriteByte('P')
	}
	if p.Market.Enabled {
		b.WriteByte('$')
	}
	if p.Market.Awarded {
		b.WriteByte('A')
	}
	if p.Market.AwardedU {
		b.WriteByte('a')
	}
	return b.String()
}

var peerCols = []tcol{
	{title: "address", prio: 0},
	{title: "client", width: 12, prio: 6},
	{title: "flags", width: 6, prio: 1},
	{title: "down", width: 8, right: true, prio: 0},
	{title: "up", width: 8, right: true, prio: 0},
	{title: "their bid", width: 9, right: true, prio: 2},
	{title: "price", width: 9, right: true, prio: 2},
	{title: "bought", width: 6, right: true, prio: 4},
	{title: "sold", width: 6, right: true, prio: 4},
	{title: "spent", width: 9, right: true, prio: 3},
	{title: "earned", width: 9, right: true, prio: 3},
	{title: "debt", width: 9, right: true, prio: 5},
	{title: "credit", width: 9, right: true, prio: 5},
	{title: "have", width: 4, right: true, prio: 7},
}

func (d *detailsPane) peersView(t *core.Torrent, width, h int) string {
	st, sh := d.sh.st, d.sh
	tb := newTable(peerCols, width, 21)
	lines := []string{st.Header.Render(tb.header())}
	if len(d.peers) == 0 {
		return lines[0] + "\n" + st.Dim.Render("  no peers connected")
	}
	cur := min(d.cursor[tabPeers], len(d.peers)-1)
	off := window(&d.offset[tabPeers], cur, len(d.peers), h-1)
	am := func(x wallet.Amount) string {
		if x.IsZero() {
			return ""
		}
		return fmtAmount(x, sh.decimals, 9)
	}
	for i := off; i < len(d.peers) && i < off+h-1; i++ {
		p := &t.Peers[d.peers[i]]
		mk := &p.Market
		bytesOr := func(n int64) string {
			if n == 0 {
				return ""
			}
			return fmtBytes(n)
		}
		line := tb.line([]string{
			p.Key.String(), p.Client, peerFlags(p), fmtRate(p.DownRate), fmtRate(p.UpRate),
			am(mk.TheirBid), am(mk.Price), bytesOr(mk.Bought), bytesOr(mk.Sold),
			am(mk.Spent), am(mk.Earned), am(mk.Debt), am(mk.Credit), pct(p.Progress),
		})
		switch {
		case i == cur:
			line = st.Selected.Render(line)
		case mk.Err != "":
			line = st.Error.Render(line)
		case mk.Awarded || mk.AwardedU:
			line = st.Good.Render(line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
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
		t.NumPieces, fmtBytes(t.PieceLength), have, partial, len(t.Pieces)-have-partial)
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
