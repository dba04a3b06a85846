package tui

// Payments beyond bandwidth (PROTOCOL.md §16): the tip, buy and pledge
// actions and their dialogs, and how terms, campaigns and payments are
// shown. Money leaves the wallet only from a dialog the user submits or
// confirms; the engine commands run in tea.Cmds like every other.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/internal/cliargs"
	"github.com/bidtorrent/bidtorrent/internal/safetext"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// commerceTimeout bounds a tip, purchase or pledge: each may wait for the
// receiver (the publisher) to connect, then for its acknowledgement.
const commerceTimeout = 2 * time.Minute

// sanitize makes untrusted text (a memo written by another peer) safe to
// show: see safetext.String, the one sanitiser of the TUI, the CLI and the
// daemon.
func sanitize(s string) string { return safetext.String(s) }

// commerceTorrent is the one torrent a payment action is about: the one
// shown in details, or the one under the cursor.
func (m *Model) commerceTorrent() *core.Torrent {
	if m.page == pageDetails {
		return m.sh.torrent(m.details.hash)
	}
	return m.list.selected()
}

// needWallet reports (in the status line) when no wallet is open.
func (m *Model) needWallet(what string) bool {
	if m.sh.snap.Wallet.Address == "" {
		m.setStatus("cannot "+what+": no wallet is open (start bidtorrent with a wallet to pay)", true)
		return true
	}
	return false
}

// publishing reports whether our wallet is the payee of t's terms: the
// torrent is ours to sell, nothing to buy, tip or pledge.
func (sh *shared) publishing(t *core.Torrent) bool {
	return t.Terms != nil && sh.snap.Wallet.Address != "" && sh.snap.Wallet.Address == t.Terms.Payee.String()
}

// selectedPeer is the peer under the cursor of the Peers tab, or nil.
func (d *detailsPane) selectedPeer(t *core.Torrent) *core.Peer {
	if len(d.peers) == 0 {
		return nil
	}
	i := d.peers[max(0, min(d.cursor[tabPeers], len(d.peers)-1))]
	if i >= len(t.Peers) {
		return nil
	}
	return &t.Peers[i]
}

// tipAction opens the tip dialog: to the selected peer on the Peers tab,
// else to the torrent's publisher.
func (m *Model) tipAction() tea.Cmd {
	t := m.commerceTorrent()
	if t == nil || m.needWallet("tip") {
		return nil
	}
	if m.page == pageDetails && m.details.tab == tabPeers {
		p := m.details.selectedPeer(t)
		switch {
		case p == nil:
			m.setStatus("cannot tip: no peer is selected", true)
			return nil
		case !p.Market.Enabled:
			m.setStatus("cannot tip "+p.Key.String()+": it does not speak btt_bid", true)
			return nil
		}
		who := p.Key.String()
		note := "to the peer's wallet " + orNone(p.Market.Address) + ", for " + t.Name
		m.dialog = m.tipDialog(t, who, "Tip "+who, note)
		return m.dialog.init()
	}
	if t.Terms == nil {
		m.setStatus("cannot tip the publisher of "+t.Name+": the torrent names none; tip a peer on the Peers tab", true)
		return nil
	}
	if m.sh.publishing(t) {
		m.setStatus("you are the publisher of "+t.Name+": tip a peer on the Peers tab", true)
		return nil
	}
	note := "to the publisher's wallet " + t.Terms.Payee.String() + " (it must be connected), for " + t.Name
	m.dialog = m.tipDialog(t, core.ToPublisher, "Tip the publisher", note)
	return m.dialog.init()
}

// parsePayment reads a positive amount typed in a payment dialog.
func (m *Model) parsePayment(s string) (wallet.Amount, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), m.sh.token))
	if s == "" {
		return wallet.Amount{}, fmt.Errorf("enter an amount in %s, e.g. 0.5", m.sh.token)
	}
	a, err := wallet.ParseAmount(s, m.sh.decimals)
	if err != nil {
		return wallet.Amount{}, fmt.Errorf("amount: %w", err)
	}
	if a.IsZero() {
		return wallet.Amount{}, errors.New("the amount must be more than 0")
	}
	return a, nil
}

func (m *Model) tipDialog(t *core.Torrent, to, title, note string) dialog {
	e, ih, name := m.eng, t.InfoHash, t.Name
	d := newForm(m.sh, title, []*field{
		{label: "Amount", hint: m.sh.token + ", e.g. 0.5"},
		{label: "Memo", hint: fmt.Sprintf("optional, at most %d bytes, shown to the receiver", wallet.MaxMemo)},
	})
	d.note = note
	d.submit = func(v []string) (tea.Cmd, error) {
		amount, err := m.parsePayment(v[0])
		if err != nil {
			return nil, err
		}
		memo := strings.TrimSpace(v[1])
		if err := cliargs.CheckMemo(memo); err != nil {
			return nil, fmt.Errorf("memo: %w", err)
		}
		who := to
		if to == core.ToPublisher {
			who = "the publisher"
		}
		sum := amount.Format(m.sh.decimals) + " " + m.sh.token + " to " + who
		ok := "tipped " + sum + " for " + name
		if memo != "" {
			ok += ": " + fmt.Sprintf("%q", memo)
		}
		m.setStatus("tipping "+sum+"… (waiting for the receipt)", false)
		return m.doFor("tip "+sum, ok, commerceTimeout, func(ctx context.Context) error {
			return e.Tip(ctx, ih, to, amount, memo)
		}), nil
	}
	return d
}

// buyAction asks to confirm the price and payee, then buys the licence.
func (m *Model) buyAction() tea.Cmd {
	t := m.commerceTorrent()
	if t == nil {
		return nil
	}
	switch {
	case !t.Terms.Paid():
		m.setStatus(t.Name+" is free: there is nothing to buy", false)
		return nil
	case t.Licensed:
		m.setStatus(t.Name+" is already bought: its licence is in the wallet", false)
		return nil
	case m.sh.publishing(t):
		m.setStatus("you are the publisher of "+t.Name+": buyers pay you", false)
		return nil
	case m.needWallet("buy " + t.Name):
		return nil
	}
	e, ih, price := m.eng, t.InfoHash, t.Terms.Price
	sum := price.Format(m.sh.decimals) + " " + m.sh.token
	body := "Pay " + sum + " to the publisher " + t.Terms.Payee.String() + " for " + t.Name + "?\n\n" +
		"It is paid by cheque to the publisher's seeder once one is connected; the licence it returns " +
		"lets you download from any of its seeders, now and later."
	m.dialog = newConfirm(m.sh, "Buy "+t.Name+" for "+sum, body, false,
		m.doFor("buy "+t.Name+" for "+sum, "bought "+t.Name+" for "+sum+": licensed", commerceTimeout,
			func(ctx context.Context) error { return e.Buy(ctx, ih, price) }))
	return m.dialog.init()
}

// pledgeAction opens the pledge dialog of a torrent with a campaign.
func (m *Model) pledgeAction() tea.Cmd {
	t := m.commerceTorrent()
	if t == nil {
		return nil
	}
	c := t.Campaign
	switch {
	case c == nil && (t.Terms == nil || t.Terms.Goal.IsZero()):
		m.setStatus(t.Name+" has no crowdfunding campaign", true)
		return nil
	case c != nil && c.Paid:
		m.setStatus("your pledge to "+t.Name+" is paid already", false)
		return nil
	case m.sh.publishing(t):
		m.setStatus("you are the publisher of "+t.Name+": pledges are made to you", false)
		return nil
	case c != nil && c.Expired:
		m.setStatus("the campaign of "+t.Name+" has expired: pledges are void", true)
		return nil
	case m.needWallet("pledge"):
		return nil
	}
	goal, deadline := t.Terms.Goal, t.Terms.Deadline
	value := ""
	if c != nil {
		goal, deadline = c.Goal, c.Deadline
		if !c.Ours.IsZero() {
			value = c.Ours.Format(m.sh.decimals)
		}
	}
	e, ih, name := m.eng, t.InfoHash, t.Name
	d := newForm(m.sh, "Pledge to "+name, []*field{
		{label: "Amount", value: value, hint: "your total, " + m.sh.token + " (replaces an earlier pledge)"},
	})
	d.note = "goal " + goal.Format(m.sh.decimals) + " " + m.sh.token + " by " + fmtDate(deadline) +
		". A pledge is a signed promise: it is paid only if the goal is reached by the deadline."
	d.submit = func(v []string) (tea.Cmd, error) {
		amount, err := m.parsePayment(v[0])
		if err != nil {
			return nil, err
		}
		sum := amount.Format(m.sh.decimals) + " " + m.sh.token
		m.setStatus("pledging "+sum+" to "+name+"… (waiting for the publisher)", false)
		return m.doFor("pledge "+sum+" to "+name, "pledged "+sum+" to "+name, commerceTimeout,
			func(ctx context.Context) error { return e.Pledge(ctx, ih, amount) }), nil
	}
	m.dialog = d
	return d.init()
}

// campaignText is a campaign's progress: a bar, pledged / goal, the
// number of pledges, the deadline and the outcome, and our own pledge.
func (sh *shared) campaignText(c *market.Campaign, barW int) string {
	p := 0.0
	if g := amountFloat(c.Goal, sh.decimals); g > 0 {
		p = amountFloat(c.Pledged, sh.decimals) / g // display only
	}
	plural := "s"
	if c.Count == 1 {
		plural = ""
	}
	s := fmt.Sprintf("%s %s / %s %s (%d pledge%s) · deadline %s", bar(p, barW),
		c.Pledged.Format(sh.decimals), c.Goal.Format(sh.decimals), sh.token, c.Count, plural, fmtDate(c.Deadline))
	now := sh.snap.Time
	switch {
	case c.Funded:
		s += " · " + sh.st.Good.Render("funded")
	case c.Expired:
		s += " · " + sh.st.Bad.Render("expired")
	case !now.IsZero() && c.Deadline.After(now):
		left := c.Deadline.Sub(now)
		if left >= 100*24*time.Hour { // fmtETA's ∞ would mislead
			s += " · " + itoa(int(left/(24*time.Hour))) + "d left"
		} else {
			s += " · " + fmtETA(left) + " left"
		}
	}
	if !c.Ours.IsZero() {
		s += " · yours " + c.Ours.Format(sh.decimals)
		if c.Paid {
			s += " (paid)"
		}
	}
	return s
}

// fmtDate is a deadline to the minute.
func fmtDate(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// termsRows are the General tab's rows about the publisher terms: who
// publishes it, its price and whether we hold a licence on one row, and
// the campaign on another.
func (d *detailsPane) termsRows(t *core.Torrent) [][2]string {
	if t.Terms == nil {
		return nil
	}
	sh := d.sh
	s := t.Terms.Payee.String()
	price := "free"
	if t.Terms.Paid() {
		price = t.Terms.Price.Format(sh.decimals) + " " + sh.token
	}
	switch {
	case sh.publishing(t):
		s += " (you) · " + price
		if t.Terms.Paid() {
			s += " · served to licence holders only"
		}
	case !t.Terms.Paid():
		s += " · " + price
	case t.Licensed:
		s += " · " + price + " · licensed"
	default:
		s += " · " + price + " · " + sh.keys.Buy.Help().Key + " to buy"
	}
	rows := [][2]string{{"Publisher", s}}
	if c := d.campaign(t); c != nil {
		rows = append(rows, [2]string{"Campaign", sh.campaignText(c, 10)})
	}
	return rows
}

// campaign is the torrent's campaign, or one built from its terms when
// the publisher has not reported on it yet.
func (d *detailsPane) campaign(t *core.Torrent) *market.Campaign {
	if t.Campaign != nil {
		return t.Campaign
	}
	if t.Terms != nil && !t.Terms.Goal.IsZero() {
		return &market.Campaign{Goal: t.Terms.Goal, Deadline: t.Terms.Deadline}
	}
	return nil
}

// commerceLines are the Market tab's lines about terms and the campaign.
func (d *detailsPane) commerceLines(t *core.Torrent, width int) []string {
	if t.Terms == nil {
		return nil
	}
	sh := d.sh
	s := "publisher " + t.Terms.Payee.String()
	if sh.publishing(t) {
		s += " (you)"
	}
	if t.Terms.Paid() {
		s += " · price " + t.Terms.Price.Format(sh.decimals) + " " + sh.token
		switch {
		case sh.publishing(t):
			s += " · served to licence holders only"
		case t.Licensed:
			s += " · licensed"
		default:
			s += " · not bought (" + sh.keys.Buy.Help().Key + " buys it)"
		}
	}
	lines := []string{fit(s, width)}
	if c := d.campaign(t); c != nil {
		lines = append(lines, fit("campaign "+sh.campaignText(c, 20), width))
	}
	return lines
}

// paymentRows are the Market tab's payments, newest first.
func (d *detailsPane) paymentRows(t *core.Torrent, width int) []string {
	ps := t.Market.Payments
	if len(ps) == 0 {
		return nil
	}
	sh, st := d.sh, d.sh.st
	tb := newTable([]tcol{
		{title: "time", width: 16, prio: 1}, {title: "dir", width: 3, prio: 0},
		{title: "for", width: 8, prio: 0}, {title: "peer", width: 34, prio: 2},
		{title: "amount", width: 12, right: true, prio: 0}, {title: "memo", prio: 0},
	}, width, 12)
	rows := []string{st.Header.Render(fit(fmt.Sprintf("payments: %d, newest first", len(ps)), width)), tb.header()}
	for i := len(ps) - 1; i >= 0; i-- {
		p := &ps[i]
		dir := "out"
		if p.In {
			dir = "in"
		}
		line := tb.line([]string{p.Time.UTC().Format("2006-01-02 15:04"), dir, sanitize(p.For), sanitize(p.Peer.String()),
			sh.amount(p.Amount, 12), sanitize(p.Memo)})
		if p.In {
			line = st.Good.Render(line)
		}
		rows = append(rows, line)
	}
	return rows
}

// notePayments shows, in the status line, a payment received since the
// last snapshot (the newest one, with its memo).
func (m *Model) notePayments(s core.Snapshot) {
	var newest *market.Payment
	var name string
	latest := m.seenPay
	for i := range s.Torrents {
		t := &s.Torrents[i]
		for j := range t.Market.Payments {
			p := &t.Market.Payments[j]
			if !p.In || !p.Time.After(m.seenPay) {
				continue
			}
			if newest == nil || p.Time.After(newest.Time) {
				newest, name = p, t.Name
			}
			if p.Time.After(latest) {
				latest = p.Time
			}
		}
	}
	first := !m.paySeeded
	m.seenPay, m.paySeeded = latest, true
	if newest == nil || first {
		return // the payments of earlier sessions are in the Market tab
	}
	s2 := "received " + sanitize(newest.For) + " of " + newest.Amount.Format(m.sh.decimals) + " " + m.sh.token +
		" from " + sanitize(newest.Peer.String()) + " for " + name
	if newest.Memo != "" {
		s2 += ": “" + sanitize(newest.Memo) + "”"
	}
	m.setStatus(s2, false)
}
