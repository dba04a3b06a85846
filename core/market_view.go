package core

// The bandwidth market's fields of the Snapshot: a torrent's market and
// its peers' (fillMarket), its §16 payments and campaign (fillCommerce),
// the wallet status and money totals (marketTotals).

import (
	"slices"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// fillMarket copies the market state into the torrent's snapshot.
func (e *Engine) fillMarket(mt *market.Auction, out *Torrent, peers map[string]*mpeer, selling bool) {
	out.Market.Price = mt.Price
	if !selling {
		// A torrent we only buy: the highest price a seller awarding us
		// charges now.
		out.Market.Price = wallet.Amount{}
		for _, mp := range peers {
			if v := mp.p.View(); v.AwardedU && v.Price.Cmp(out.Market.Price) > 0 {
				out.Market.Price = v.Price
			}
		}
	}
	out.Market.Unsettled = e.mkt.torrentUnsettled(out.InfoHash)
	out.Market.Spent, out.Market.Earned = mt.Spent, mt.Earned
	out.Market.Sold, out.Market.Bought = mt.Sold, mt.Bought
	for _, h := range mt.History {
		out.Market.History = append(out.Market.History, MarketPoint{Time: h.Time, Price: h.Price, Earned: h.Earned, Spent: h.Spent})
	}
	for i := range out.Peers {
		mp := peers[string(out.Peers[i].Key)]
		if mp == nil {
			continue
		}
		v := mp.p.View()
		pm := PeerMarket{
			Enabled: v.State == market.Ready, TheirBid: v.TheirBid, TheirAsk: v.TheirAsk, OurBid: v.OurBid,
			OurAsk: v.OurAsk, Price: v.Price, Awarded: v.Awarded, AwardedU: v.AwardedU, Share: max(v.Share, 0),
			Bought: v.Bought, Sold: v.Sold, Spent: v.Spent, Earned: v.Earned, Debt: v.Debt, Credit: v.Credit, Err: v.Err,
		}
		if v.State == market.Ready {
			pm.Address = v.Address.String()
		}
		out.Peers[i].Market = pm
	}
}

// fillCommerce copies a torrent's §16 state into its snapshot.
func fillCommerce(mt *market.Auction, out *Torrent, now time.Time) {
	out.Licensed = mt.Licensed()
	if c, ok := mt.Campaign(now); ok {
		out.Campaign = &c
	}
	if ps := mt.Payments(); len(ps) > 0 {
		out.Market.Payments = slices.Clone(ps) // never the market's own slice
	}
}

// marketTotals fills the snapshot's wallet status and money totals, and
// has the balance refreshed (refreshBalance) every few seconds.
func (e *Engine) marketTotals(s *Snapshot, now time.Time) {
	mk := e.mkt
	if mk == nil {
		return
	}
	if mk.sh.Rate() != e.limits.Up {
		mk.sh.SetRate(e.limits.Up) // the shaper divides the global upload limit
	}
	for _, t := range s.Torrents {
		s.Totals.Spent = s.Totals.Spent.AddSaturating(t.Market.Spent)
		s.Totals.Earned = s.Totals.Earned.AddSaturating(t.Market.Earned)
	}
	s.Totals.Unsettled = mk.unsett
	ch := mk.w.Chain()
	s.Wallet = WalletStatus{Address: mk.w.Address().String(), Chain: ch.Name(), Token: "BTT", Decimals: 18,
		Balance: mk.balance, Unsettled: mk.unsett, Err: mk.balErr}
	e.refreshBalance(now)
	e.readCovers(now) // market_cover.go
	e.transfers()     // market_transfer.go
}
