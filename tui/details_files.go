package tui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
)

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
		line := tb.line([]string{name, bytesize.Format(r.size), bar(p, 8) + fitRight(pct(p), 5), prioName(prio, ok)})
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
