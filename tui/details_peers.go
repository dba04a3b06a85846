package tui

import (
	"cmp"
	"slices"
	"strings"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// peerSortKeys compare peers for the sortable columns of peerCols (by
// index); nil entries are not sortable.
var peerSortKeys = []func(a, b *core.Peer) int{
	0:  func(a, b *core.Peer) int { return strings.Compare(string(a.Key), string(b.Key)) },
	1:  func(a, b *core.Peer) int { return strings.Compare(a.Client, b.Client) },
	2:  func(a, b *core.Peer) int { return strings.Compare(peerFlags(a), peerFlags(b)) },
	3:  func(a, b *core.Peer) int { return cmp.Compare(a.DownRate, b.DownRate) },
	4:  func(a, b *core.Peer) int { return cmp.Compare(a.UpRate, b.UpRate) },
	5:  func(a, b *core.Peer) int { return a.Market.TheirBid.Cmp(b.Market.TheirBid) },
	6:  func(a, b *core.Peer) int { return a.Market.Price.Cmp(b.Market.Price) },
	7:  func(a, b *core.Peer) int { return cmp.Compare(a.Market.Bought, b.Market.Bought) },
	8:  func(a, b *core.Peer) int { return cmp.Compare(a.Market.Sold, b.Market.Sold) },
	9:  func(a, b *core.Peer) int { return a.Market.Spent.Cmp(b.Market.Spent) },
	10: func(a, b *core.Peer) int { return a.Market.Earned.Cmp(b.Market.Earned) },
	11: func(a, b *core.Peer) int { return a.Market.Debt.Cmp(b.Market.Debt) },
	12: func(a, b *core.Peer) int { return a.Market.Credit.Cmp(b.Market.Credit) },
	13: func(a, b *core.Peer) int { return cmp.Compare(a.Progress, b.Progress) },
}

// sortPeers orders peers by column col of peerCols (largest first when
// reverse), or by total rate, fastest first, when col < 0; ties by address.
func sortPeers(ps []core.Peer, col int, reverse bool) []int {
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		pa, pb := &ps[a], &ps[b]
		r := 0
		if col >= 0 {
			r = peerSortKeys[col](pa, pb)
		} else {
			r = -cmp.Compare(pa.DownRate+pa.UpRate, pb.DownRate+pb.UpRate)
		}
		if reverse {
			r = -r
		}
		if r == 0 {
			r = strings.Compare(string(pa.Key), string(pb.Key))
		}
		return r
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
	{title: "their bid", width: 10, right: true, prio: 2},
	{title: "price", width: 9, right: true, prio: 2},
	{title: "bought", width: 7, right: true, prio: 4},
	{title: "sold", width: 6, right: true, prio: 4},
	{title: "spent", width: 9, right: true, prio: 3},
	{title: "earned", width: 9, right: true, prio: 3},
	{title: "debt", width: 9, right: true, prio: 5},
	{title: "credit", width: 9, right: true, prio: 5},
	{title: "have", width: 5, right: true, prio: 7},
}

func (d *detailsPane) peersView(t *core.Torrent, width, h int) string {
	st, sh := d.sh.st, d.sh
	tb := newTable(peerCols, width, 21)
	head := tb.header()
	if d.peerSort >= 0 {
		cols := append([]tcol(nil), peerCols...)
		cols[d.peerSort].title += map[bool]string{false: "▲", true: "▼"}[d.peerRev]
		head = newTable(cols, width, 21).header()
	}
	lines := []string{st.Header.Render(head)}
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
			return bytesize.Format(n)
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
