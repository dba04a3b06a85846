package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/bidtorrent/bidtorrent/core"
)

// tab is one tab of the details page.
type tab int

const (
	tabGeneral tab = iota
	tabFiles
	tabPeers
	tabTrackers
	tabPieces
	tabMarket
	numTabs
)

var tabNames = [numTabs]string{"General", "Files", "Peers", "Trackers", "Pieces", "Market"}

// tabViews renders each tab's body.
var tabViews = [numTabs]func(*detailsPane, *core.Torrent, int, int) string{
	(*detailsPane).generalView, (*detailsPane).filesView, (*detailsPane).peersView,
	(*detailsPane).trackersView, (*detailsPane).piecesView, (*detailsPane).marketView,
}

// detailsPane shows one torrent in tabs. Each tab keeps its own cursor and
// scroll offset.
type detailsPane struct {
	sh     *shared
	hash   core.InfoHash
	tab    tab
	cursor [numTabs]int
	offset [numTabs]int
	// maxOff is how far the General and Market tabs (no cursor, they
	// scroll by lines) could scroll at their last render.
	maxOff [numTabs]int
	files  []fileRow // the Files tab's tree, rebuilt when a snapshot arrives
	peers  []int     // the Peers tab's order, rebuilt when a snapshot arrives
	// peerSort is the Peers tab's sort column (index into peerCols), or -1
	// for the default, fastest first; peerRev reverses it.
	peerSort int
	peerRev  bool
	// setPrio returns the command that sets the priority of files.
	setPrio func(ih core.InfoHash, what string, files []int, p core.Priority) tea.Cmd
	// hint says, right of the tab bar, that the tab scrolls ("↑ 1 ↓ 3
	// more"); the tab's view sets it.
	hint string

	width, height int
}

func newDetailsPane(sh *shared) *detailsPane { return &detailsPane{sh: sh, peerSort: -1} }

func (d *detailsPane) setSize(w, h int) { d.width, d.height = w, h }

// show switches to torrent ih, on the General tab.
func (d *detailsPane) show(ih core.InfoHash) {
	if ih != d.hash {
		d.cursor, d.offset, d.maxOff = [numTabs]int{}, [numTabs]int{}, [numTabs]int{}
	}
	d.hash = ih
	d.refresh()
}

// refresh rebuilds the per-snapshot caches of the shown torrent.
func (d *detailsPane) refresh() {
	t := d.sh.torrent(d.hash)
	if t == nil {
		d.files, d.peers = nil, nil
		return
	}
	d.files = buildFileTree(t.Files)
	d.peers = sortPeers(t.Peers, d.peerSort, d.peerRev)
}

// rows is the number of selectable rows of the current tab, or the number
// of lines for scrolling tabs.
func (d *detailsPane) rows(t *core.Torrent) int {
	switch d.tab {
	case tabFiles:
		return len(d.files)
	case tabPeers:
		return len(d.peers)
	case tabTrackers:
		return len(t.Trackers)
	}
	return 0
}

func (d *detailsPane) handleKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := d.sh.keys
	switch {
	case key.Matches(msg, k.NextTab):
		d.tab = (d.tab + 1) % numTabs
		return nil, true
	case key.Matches(msg, k.PrevTab):
		d.tab = (d.tab + numTabs - 1) % numTabs
		return nil, true
	case d.tab == tabPeers && key.Matches(msg, k.Sort):
		d.peerSort++
		if d.peerSort >= len(peerSortKeys) {
			d.peerSort = -1
		}
		d.refresh()
		return nil, true
	case d.tab == tabPeers && key.Matches(msg, k.Reverse):
		d.peerRev = !d.peerRev
		d.refresh()
		return nil, true
	}
	for i, b := range []key.Binding{k.TabGeneral, k.TabFiles, k.TabPeers, k.TabTrackers, k.TabPieces, k.TabMarket} {
		if key.Matches(msg, b) {
			d.tab = tab(i)
			return nil, true
		}
	}
	t := d.sh.torrent(d.hash)
	if t == nil {
		return nil, false
	}
	if d.tab == tabGeneral || d.tab == tabMarket {
		// No cursor: the view moves by lines, as far as the tab's
		// length now (not at the last frame) allows.
		return nil, d.move(msg, &d.offset[d.tab], func() int {
			d.body(t, d.width, d.height-1)
			return d.maxOff[d.tab]
		})
	}
	if d.tab == tabFiles {
		if cmd, ok := d.fileKey(msg, t); ok {
			return cmd, true
		}
	}
	return nil, d.move(msg, &d.cursor[d.tab], func() int { return d.rows(t) - 1 })
}

// move applies a movement key (up, down, page up/down, top, bottom) to
// the position *p, kept within [0, last()]; last is called only for a
// movement key. It reports whether msg was one.
func (d *detailsPane) move(msg tea.KeyPressMsg, p *int, last func() int) bool {
	step, ok := d.sh.keys.nav(msg, max(1, d.height-3))
	if !ok {
		return false
	}
	to := *p + step
	*p = max(0, min(to, last()))
	return true
}

func (d *detailsPane) shortHelp() []key.Binding {
	k := d.sh.keys
	switch d.tab {
	case tabFiles:
		return []key.Binding{k.NextTab, k.Back, k.FilePrioUp, k.FilePrioDown, k.FileSkip, k.Pause}
	case tabPeers:
		return []key.Binding{k.NextTab, k.Back, k.Tip, k.Sort, k.Reverse, k.Market, k.BidUp, k.BidDown}
	case tabMarket:
		return append(append([]key.Binding{k.NextTab, k.Back}, d.commerceKeys()...), k.Market, k.BidUp, k.BidDown, k.Pause)
	}
	return append(append([]key.Binding{k.NextTab, k.Back}, d.commerceKeys()...), k.Pause, k.Recheck, k.Limits, k.Market, k.Labels)
}

// commerceKeys are the payment keys that apply to the shown torrent: tip
// the publisher, buy it while unlicensed, pledge while its campaign runs.
func (d *detailsPane) commerceKeys() []key.Binding {
	t, k := d.sh.torrent(d.hash), d.sh.keys
	if t == nil || t.Terms == nil || d.sh.publishing(t) {
		return nil
	}
	bs := []key.Binding{k.Tip}
	if t.Terms.Paid() && !t.Licensed {
		bs = append(bs, k.Buy)
	}
	if c := d.campaign(t); c != nil && !c.Expired && !c.Paid {
		bs = append(bs, k.Pledge)
	}
	return bs
}

// view renders the tab bar and the current tab.
func (d *detailsPane) view(width, height int) string {
	st := d.sh.st
	var tabs []string
	for i, name := range tabNames {
		label := itoa(i+1) + " " + name
		if tab(i) == d.tab {
			tabs = append(tabs, st.ActiveTab.Render(label))
		} else {
			tabs = append(tabs, st.Tab.Render(label))
		}
	}
	h := height - 1
	body := d.body(d.sh.torrent(d.hash), width, h)
	bar := strings.Join(tabs, "")
	if d.hint != "" && ansi.StringWidth(bar)+2+ansi.StringWidth(d.hint) <= width {
		bar = fit(bar, width-ansi.StringWidth(d.hint)) + st.Dim.Render(d.hint)
	}
	bar = fit(bar, width)
	return bar + "\n" + padLines(body, h)
}

// body renders the current tab in width × h; it also sets d.hint and,
// for the tabs that scroll by lines, d.maxOff.
func (d *detailsPane) body(t *core.Torrent, width, h int) string {
	d.hint = ""
	switch {
	case t == nil:
		return d.sh.st.Dim.Render("  This torrent has been removed. Press " + d.sh.keys.Back.Help().Key + " to go back.")
	case d.tab >= 0 && d.tab < numTabs:
		return tabViews[d.tab](d, t, width, h)
	}
	return ""
}

// padLines makes s exactly h lines, cutting or adding blank lines.
func padLines(s string, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// window returns the first visible index for a cursor in n rows shown in h
// lines, keeping the previous offset when the cursor is visible.
func window(offset *int, cursor, n, h int) int {
	if cursor < *offset {
		*offset = cursor
	}
	if cursor >= *offset+h {
		*offset = cursor - h + 1
	}
	*offset = max(0, min(*offset, n-h))
	return *offset
}
