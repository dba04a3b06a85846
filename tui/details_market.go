package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// marketView shows the torrent's market settings, its price and earnings
// over time, and the current auction: who we award paid service and who
// awards us, at what price.
func (d *detailsPane) marketView(t *core.Torrent, width, h int) string {
	sh, st := d.sh, d.sh.st
	mk := &t.Market
	a := func(x wallet.Amount) string { return sh.amount(x, 12) }
	lines := []string{
		fit(fmt.Sprintf("bid %s · ask %s %s/MiB · budget %s · buyer %s · seller %s",
			a(mk.Bid), a(mk.Ask), sh.token, a(mk.Budget), orNone(mk.BuyerStrategy), orNone(mk.SellerStrategy)), width),
		fit(fmt.Sprintf("price %s %s/MiB · ", a(mk.Price), sh.token)+
			st.Good.Render("earned "+a(mk.Earned))+" · "+st.Bad.Render("spent "+a(mk.Spent))+
			" · unsettled "+a(mk.Unsettled)+" · sold "+bytesize.Format(mk.Sold)+" · bought "+bytesize.Format(mk.Bought), width),
	}
	lines = append(lines, d.commerceLines(t, width)...)
	// Charts take about half the space when there is room.
	chartH := max(1, min(4, (h-8)/2))
	price := make([]float64, len(mk.History))
	earned := make([]float64, len(mk.History))
	spent := make([]float64, len(mk.History))
	for i, p := range mk.History {
		price[i] = amountFloat(p.Price, sh.decimals)
		earned[i] = amountFloat(p.Earned, sh.decimals)
		spent[i] = amountFloat(p.Spent, sh.decimals)
	}
	const labelW = 10
	cw := max(4, width-labelW-1)
	if len(mk.History) == 0 {
		lines = append(lines, "", st.Dim.Render("  no market history yet"))
	} else {
		lines = append(lines, st.Header.Render("price per MiB"))
		lines = append(lines, chart(price, cw, chartH, labelW, st.Info.Render)...)
		lines = append(lines, sparkRow("earned", earned, cw, labelW, st.Good.Render))
		lines = append(lines, sparkRow("spent", spent, cw, labelW, st.Bad.Render))
		shown := mk.History[len(mk.History)-len(lastN(price, cw)):]
		if span := shown[len(shown)-1].Time.Sub(shown[0].Time); span > 0 {
			axis := fit("-"+fmtETA(span), min(len(shown), cw)-3) + "now"
			lines = append(lines, st.Dim.Render(strings.Repeat(" ", labelW+1)+axis))
		}
	}
	// The auction.
	var sell, buy []*core.Peer
	for i := range t.Peers {
		p := &t.Peers[i]
		if !p.Market.Enabled {
			continue
		}
		sell = append(sell, p)
		if p.Market.AwardedU || !p.Market.OurBid.IsZero() {
			buy = append(buy, p)
		}
	}
	slices.SortStableFunc(sell, func(x, y *core.Peer) int {
		if x.Market.Awarded != y.Market.Awarded {
			if x.Market.Awarded {
				return -1
			}
			return 1
		}
		return -x.Market.TheirBid.Cmp(y.Market.TheirBid)
	})
	rest := h - len(lines) - 1
	if rest >= 2 {
		awarded := 0
		for _, p := range sell {
			if p.Market.Awarded {
				awarded++
			}
		}
		sellHead := st.Header.Render(fit(fmt.Sprintf("selling: %d bidders, %d awarded", len(sell), awarded), width))
		tb := newTable([]tcol{
			{title: "buyer", prio: 0}, {title: "bid", width: 10, right: true, prio: 0},
			{title: "award", width: 5, prio: 0}, {title: "price", width: 10, right: true, prio: 0},
			{title: "share", width: 5, right: true, prio: 1}, {title: "sold", width: 7, right: true, prio: 2},
			{title: "earned", width: 10, right: true, prio: 1}, {title: "debt", width: 10, right: true, prio: 3},
		}, width, 15)
		// Payments (tips, purchases, pledges) scroll with the auction,
		// above it.
		var rows []string
		if pay := d.paymentRows(t, width); len(pay) > 0 {
			rows = append(pay, sellHead, tb.header())
		} else {
			lines = append(lines, sellHead)
			rows = []string{tb.header()}
		}
		for _, p := range sell {
			award := ""
			if p.Market.Awarded {
				award = "yes"
			}
			rows = append(rows, tb.line([]string{p.Key.String(), sh.amount(p.Market.TheirBid, 10), award,
				sh.amount(p.Market.Price, 10), fmt.Sprintf("%d%%", int(math.Round(p.Market.Share*100))),
				bytesize.Format(p.Market.Sold), sh.amount(p.Market.Earned, 10), sh.amount(p.Market.Debt, 10)}))
		}
		if len(buy) > 0 {
			rows = append(rows, st.Header.Render(fmt.Sprintf("buying from %d sellers", len(buy))))
			bt := newTable([]tcol{
				{title: "seller", prio: 0}, {title: "ask", width: 10, right: true, prio: 0},
				{title: "our bid", width: 10, right: true, prio: 0}, {title: "award", width: 5, prio: 0},
				{title: "price", width: 10, right: true, prio: 1}, {title: "bought", width: 7, right: true, prio: 2},
				{title: "spent", width: 10, right: true, prio: 1},
			}, width, 15)
			rows = append(rows, bt.header())
			for _, p := range buy {
				award := ""
				if p.Market.AwardedU {
					award = "yes"
				}
				rows = append(rows, bt.line([]string{p.Key.String(), sh.amount(p.Market.TheirAsk, 10),
					sh.amount(p.Market.OurBid, 10), award, sh.amount(p.Market.Price, 10),
					bytesize.Format(p.Market.Bought), sh.amount(p.Market.Spent, 10)}))
			}
		}
		off, end := d.scrolled(len(rows), rest)
		lines = append(lines, rows[off:end]...)
	}
	return strings.Join(lines, "\n")
}

// lastN returns the last n values.
func lastN(v []float64, n int) []float64 {
	if len(v) > n {
		return v[len(v)-n:]
	}
	return v
}

const blocks = " ▁▂▃▄▅▆▇█"

// chart draws values (one per column, the latest on the right) as a block
// chart h rows high, with the maximum and zero labelled on the left.
func chart(values []float64, width, h, labelW int, style func(...string) string) []string {
	values = lastN(values, width)
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	lines := make([]string, h)
	for r := 0; r < h; r++ {
		var b strings.Builder
		for _, v := range values {
			level := 0
			if top > 0 {
				level = int(math.Round(v / top * float64(h*8)))
			}
			fill := max(0, min(8, level-(h-1-r)*8))
			b.WriteString(string([]rune(blocks)[fill]))
		}
		label := ""
		switch r {
		case 0:
			label = fmtFloat(top)
		case h - 1:
			label = "0"
		}
		lines[r] = fitRight(label, labelW) + " " + style(b.String())
	}
	return lines
}

// sparkRow is a one-row chart with a name.
func sparkRow(name string, values []float64, width, labelW int, style func(...string) string) string {
	return fitRight(name, labelW) + " " + strings.TrimPrefix(chart(values, width, 1, 0, style)[0], " ")
}

// fmtFloat renders a chart scale value (display only) in at most 9 cells.
func fmtFloat(v float64) string {
	s := fmt.Sprintf("%.6g", v)
	if len(s) > 9 {
		s = fmt.Sprintf("%.2e", v)
	}
	return s
}
