package tui

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// column is one column of the torrent list. Columns are shown by priority
// as width allows; the name column takes what is left.
type column struct {
	name  string // header, sort key and config name
	width int    // 0: the flexible name column
	right bool
	prio  int // lower shows first
	cell  func(sh *shared, t *core.Torrent, w int) string
	cmp   func(a, b *core.Torrent) int
}

const nameMinWidth = 22

var listColumns = []column{
	{name: "name", prio: 0, cell: func(_ *shared, t *core.Torrent, _ int) string { return nameWithLabels(t) },
		cmp: func(a, b *core.Torrent) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) }},
	{name: "size", width: 6, right: true, prio: 5, cell: func(_ *shared, t *core.Torrent, _ int) string {
		if t.Size == 0 {
			return "?"
		}
		return bytesize.Format(t.Size)
	}, cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.Size, b.Size) }},
	{name: "progress", width: 13, prio: 1, cell: func(_ *shared, t *core.Torrent, w int) string {
		return bar(t.Progress(), w-5) + fitRight(pct(t.Progress()), 5)
	}, cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.Progress(), b.Progress()) }},
	{name: "state", width: 8, prio: 2, cell: func(_ *shared, t *core.Torrent, _ int) string { return stateLabel(t.State) },
		cmp: func(a, b *core.Torrent) int { return strings.Compare(string(a.State), string(b.State)) }},
	{name: "down", width: 8, right: true, prio: 3, cell: func(_ *shared, t *core.Torrent, _ int) string { return fmtRate(t.DownRate) },
		cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.DownRate, b.DownRate) }},
	{name: "up", width: 8, right: true, prio: 4, cell: func(_ *shared, t *core.Torrent, _ int) string { return fmtRate(t.UpRate) },
		cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.UpRate, b.UpRate) }},
	{name: "ratio", width: 5, right: true, prio: 8, cell: func(_ *shared, t *core.Torrent, _ int) string { return fmtRatio(t.Ratio) },
		cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.Ratio, b.Ratio) }},
	{name: "peers", width: 7, right: true, prio: 7, cell: func(_ *shared, t *core.Torrent, _ int) string {
		return strconv.Itoa(t.PeerCount) + "/" + strconv.Itoa(t.SeedCount)
	}, cmp: func(a, b *core.Torrent) int { return cmp.Compare(a.PeerCount, b.PeerCount) }},
	{name: "eta", width: 6, right: true, prio: 6, cell: func(_ *shared, t *core.Torrent, _ int) string { return fmtETA(t.ETA) },
		cmp: func(a, b *core.Torrent) int { return cmp.Compare(etaKey(a), etaKey(b)) }},
	{name: "bid/price", width: 15, right: true, prio: 9, cell: func(sh *shared, t *core.Torrent, _ int) string {
		return amountPair(sh, t.Market.Bid, t.Market.Price)
	}, cmp: func(a, b *core.Torrent) int { return a.Market.Bid.Cmp(b.Market.Bid) }},
	{name: "earned/spent", width: 15, right: true, prio: 10, cell: func(sh *shared, t *core.Torrent, _ int) string {
		return amountPair(sh, t.Market.Earned, t.Market.Spent)
	}, cmp: func(a, b *core.Torrent) int { return a.Market.Earned.Cmp(b.Market.Earned) }},
	{name: "added", width: 10, prio: 11, cell: func(_ *shared, t *core.Torrent, _ int) string {
		if t.AddedAt.IsZero() {
			return ""
		}
		return t.AddedAt.Format("2006-01-02")
	}, cmp: func(a, b *core.Torrent) int { return a.AddedAt.Compare(b.AddedAt) }},
}

// amountPair renders "a/b" in 15 cells; blank when both are zero.
func amountPair(sh *shared, a, b wallet.Amount) string {
	if a.IsZero() && b.IsZero() {
		return ""
	}
	return sh.amount(a, 7) + "/" + sh.amount(b, 7)
}

// etaKey sorts unknown ETAs last.
func etaKey(t *core.Torrent) int64 {
	if t.ETA <= 0 {
		return 1 << 62
	}
	return int64(t.ETA)
}

func nameCell(t *core.Torrent) string {
	if t.Name != "" {
		return t.Name
	}
	return t.InfoHash.String()
}

// nameWithLabels is the list's name cell: the name, then the labels.
func nameWithLabels(t *core.Torrent) string {
	if len(t.Labels) == 0 {
		return nameCell(t)
	}
	return nameCell(t) + "  #" + strings.Join(t.Labels, " #")
}

func stateLabel(s core.State) string {
	switch s {
	case core.StateDownloading:
		return "down"
	case core.StateSeeding:
		return "seed"
	case core.StateMetadata:
		return "meta"
	case core.StateChecking:
		return "check"
	}
	return string(s)
}

func columnByName(name string) int {
	for i, c := range listColumns {
		if c.name == name {
			return i
		}
	}
	return -1
}

func columnNames() []string {
	out := make([]string, len(listColumns))
	for i, c := range listColumns {
		out[i] = c.name
	}
	return out
}

// fitColumns chooses which columns fit in width: the indexes in display
// order and the name column's width.
func fitColumns(width int) (cols []int, nameW int) {
	order := make([]int, len(listColumns))
	for i := range order {
		order[i] = i
	}
	byPrio := append([]int(nil), order...)
	for i := 1; i < len(byPrio); i++ { // insertion sort by priority
		for j := i; j > 0 && listColumns[byPrio[j]].prio < listColumns[byPrio[j-1]].prio; j-- {
			byPrio[j], byPrio[j-1] = byPrio[j-1], byPrio[j]
		}
	}
	used := 2 + nameMinWidth // mark column and minimum name
	take := map[int]bool{0: true}
	for _, i := range byPrio {
		c := listColumns[i]
		if c.width == 0 {
			continue
		}
		if used+1+c.width > width {
			continue
		}
		used += 1 + c.width
		take[i] = true
	}
	for _, i := range order {
		if take[i] {
			cols = append(cols, i)
		}
	}
	return cols, nameMinWidth + max(0, width-used)
}
