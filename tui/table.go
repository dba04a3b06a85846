package tui

import "strings"

// tcol is a column of a details table. Columns are kept by priority while
// they fit; the column with width 0 takes the rest (at least flexMin).
type tcol struct {
	title string
	width int
	right bool
	prio  int
}

// table lays out rows of cells.
type table struct {
	cols  []tcol
	show  []int
	flexW int
}

func newTable(cols []tcol, width, flexMin int) *table {
	t := &table{cols: cols}
	used := flexMin
	take := make([]bool, len(cols))
	for p := 0; p <= 20; p++ {
		for i, c := range cols {
			if c.prio != p || c.width == 0 {
				continue
			}
			if used+1+c.width <= width {
				used += 1 + c.width
				take[i] = true
			}
		}
	}
	for i, c := range cols {
		if take[i] || c.width == 0 {
			t.show = append(t.show, i)
		}
	}
	t.flexW = flexMin + max(0, width-used)
	return t
}

func (t *table) line(cells []string) string {
	var b strings.Builder
	for j, i := range t.show {
		c := t.cols[i]
		w := c.width
		if w == 0 {
			w = t.flexW
		}
		if j > 0 {
			b.WriteByte(' ')
		}
		if c.right {
			b.WriteString(fitRight(cells[i], w))
		} else {
			b.WriteString(fit(cells[i], w))
		}
	}
	return b.String()
}

func (t *table) header() string {
	cells := make([]string, len(t.cols))
	for i, c := range t.cols {
		cells[i] = c.title
	}
	return t.line(cells)
}
