package tui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
)

// listPane is the torrent list: filtered, sorted, virtualized (only the
// visible rows are rendered), with marks for bulk actions. Filtering and
// sorting run when a snapshot arrives, never in View.
type listPane struct {
	sh      *shared
	rows    []int // indexes into sh.snap.Torrents, filtered and sorted
	cursor  int
	offset  int
	selHash core.InfoHash // keeps the cursor on its torrent across re-sorts
	marked  map[core.InfoHash]bool
	filter  *Filter
	sortCol int
	reverse bool

	width, height int
	cols          []int
	nameW         int
}

func newListPane(sh *shared) *listPane {
	l := &listPane{sh: sh, marked: map[core.InfoHash]bool{}}
	sortName := strings.TrimPrefix(sh.cfg.Sort, "-")
	l.reverse = strings.HasPrefix(sh.cfg.Sort, "-")
	if i := columnByName(sortName); i >= 0 {
		l.sortCol = i
	} else {
		l.sortCol = columnByName("added")
	}
	return l
}

func (l *listPane) setSize(w, h int) {
	l.width, l.height = w, h
	l.cols, l.nameW = fitColumns(w)
	l.clamp()
}

func (l *listPane) setFilter(f *Filter) {
	l.filter = f
	l.refresh()
}

// refresh rebuilds the rows from the latest snapshot.
func (l *listPane) refresh() {
	ts := l.sh.snap.Torrents
	l.rows = l.rows[:0]
	for i := range ts {
		if l.filter.Match(&ts[i]) {
			l.rows = append(l.rows, i)
		}
	}
	c := listColumns[l.sortCol]
	slices.SortStableFunc(l.rows, func(a, b int) int {
		r := c.cmp(&ts[a], &ts[b])
		if r == 0 {
			r = strings.Compare(ts[a].Name, ts[b].Name)
		}
		if r == 0 {
			r = a - b
		}
		if l.reverse {
			return -r
		}
		return r
	})
	for h := range l.marked {
		if _, ok := l.sh.byHash[h]; !ok {
			delete(l.marked, h)
		}
	}
	l.cursor = 0
	for i, ti := range l.rows {
		if ts[ti].InfoHash == l.selHash {
			l.cursor = i
			break
		}
	}
	l.clamp()
}

// visibleRows is the number of torrent rows below the header.
func (l *listPane) visibleRows() int { return max(1, l.height-1) }

func (l *listPane) clamp() {
	n := len(l.rows)
	l.cursor = max(0, min(l.cursor, n-1))
	vis := l.visibleRows()
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+vis {
		l.offset = l.cursor - vis + 1
	}
	l.offset = max(0, min(l.offset, n-vis))
	if n > 0 {
		l.selHash = l.sh.snap.Torrents[l.rows[l.cursor]].InfoHash
	}
}

func (l *listPane) move(d int) {
	l.cursor += d
	l.clamp()
}

// selected returns the torrent under the cursor, or nil.
func (l *listPane) selected() *core.Torrent {
	if len(l.rows) == 0 {
		return nil
	}
	return &l.sh.snap.Torrents[l.rows[l.cursor]]
}

// targets returns the marked torrents in list order, or the selected one.
func (l *listPane) targets() []*core.Torrent {
	var out []*core.Torrent
	if len(l.marked) > 0 {
		for _, ti := range l.rows {
			if t := &l.sh.snap.Torrents[ti]; l.marked[t.InfoHash] {
				out = append(out, t)
			}
		}
		return out
	}
	if t := l.selected(); t != nil {
		out = append(out, t)
	}
	return out
}

func (l *listPane) clickRow(y int) {
	if y < 0 || l.offset+y >= len(l.rows) {
		return
	}
	l.cursor = l.offset + y
	l.clamp()
}

// clickHeader sorts by the column at screen column x; clicking the sort
// column again reverses the order.
func (l *listPane) clickHeader(x int) {
	pos := 2 // the cursor and mark cells
	for _, ci := range l.cols {
		w := listColumns[ci].width
		if w == 0 {
			w = l.nameW
		}
		if x >= pos && x < pos+w {
			if ci == l.sortCol {
				l.reverse = !l.reverse
			} else {
				l.sortCol, l.reverse = ci, false
			}
			l.refresh()
			return
		}
		pos += w + 1
	}
}

func (l *listPane) handleKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := l.sh.keys
	if d, ok := k.nav(msg, l.visibleRows()); ok {
		l.move(d)
		return nil, true
	}
	switch {
	case key.Matches(msg, k.Mark):
		if t := l.selected(); t != nil {
			if l.marked[t.InfoHash] {
				delete(l.marked, t.InfoHash)
			} else {
				l.marked[t.InfoHash] = true
			}
			l.move(1)
		}
	case key.Matches(msg, k.MarkAll):
		if len(l.marked) > 0 {
			clear(l.marked)
		} else {
			for _, ti := range l.rows {
				l.marked[l.sh.snap.Torrents[ti].InfoHash] = true
			}
		}
	case key.Matches(msg, k.Sort):
		l.sortCol = (l.sortCol + 1) % len(listColumns)
		l.refresh()
	case key.Matches(msg, k.Reverse):
		l.reverse = !l.reverse
		l.refresh()
	default:
		return nil, false
	}
	return nil, true
}

func (l *listPane) shortHelp() []key.Binding {
	k := l.sh.keys
	return []key.Binding{k.Open, k.Add, k.Pause, k.Filter, k.Sort, k.Mark, k.Market, k.BidUp, k.BidDown, k.Wallet}
}

// view renders the header and the visible rows only.
func (l *listPane) view(width, height int) string {
	st := l.sh.st
	var b strings.Builder
	b.Grow((height + 1) * (width + 16))
	b.WriteString(st.Header.Render(l.header()))
	ts := l.sh.snap.Torrents
	vis := height - 1
	n := 0
	for i := l.offset; i < len(l.rows) && n < vis; i, n = i+1, n+1 {
		b.WriteByte('\n')
		b.WriteString(l.row(&ts[l.rows[i]], i == l.cursor))
	}
	if len(l.rows) == 0 && vis > 0 {
		b.WriteByte('\n')
		msg := "No torrents. Press " + l.sh.keys.Add.Help().Key + " to add one."
		if len(ts) > 0 {
			msg = "No torrent matches the filter."
		}
		b.WriteString(st.Dim.Render(fit("  "+msg, width)))
		n++
	}
	for ; n < vis; n++ {
		b.WriteByte('\n')
	}
	return b.String()
}

func (l *listPane) header() string {
	var b strings.Builder
	b.WriteString("  ")
	for j, ci := range l.cols {
		c := listColumns[ci]
		title := c.name
		if ci == l.sortCol {
			if l.reverse {
				title += "▼"
			} else {
				title += "▲"
			}
		}
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l.pad(c, title))
	}
	return b.String()
}

func (l *listPane) pad(c column, s string) string {
	w := c.width
	if w == 0 {
		w = l.nameW
	}
	if c.right {
		return fitRight(s, w)
	}
	return fit(s, w)
}

func (l *listPane) row(t *core.Torrent, selected bool) string {
	st := l.sh.st
	marked := l.marked[t.InfoHash]
	var b strings.Builder
	if selected {
		b.WriteString(">") // visible without colour too
	} else {
		b.WriteString(" ")
	}
	switch {
	case marked:
		b.WriteString("●")
	case t.Err != "" || t.State == core.StateError:
		b.WriteString("!")
	default:
		b.WriteString(" ")
	}
	for j, ci := range l.cols {
		c := listColumns[ci]
		if j > 0 {
			b.WriteByte(' ')
		}
		w := c.width
		if w == 0 {
			w = l.nameW
		}
		cell := l.pad(c, c.cell(l.sh, t, w))
		if !selected && !marked && c.name == "state" {
			cell = st.state(t.State).Render(cell)
		}
		b.WriteString(cell)
	}
	line := b.String()
	switch {
	case selected:
		return st.Selected.Render(line)
	case marked:
		return st.Marked.Render(line)
	}
	return line
}
