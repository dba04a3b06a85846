package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// resultMsg reports the end of an engine command.
type resultMsg struct {
	what string
	ok   string // shown on success instead of "what: done" when set
	err  error
}

// do runs one engine command in a tea.Cmd with a timeout.
func (m *Model) do(what string, f func(ctx context.Context) error) tea.Cmd {
	return m.doFor(what, "", cmdTimeout, f)
}

// doFor runs one engine command in a tea.Cmd with the given timeout; ok,
// when set, is the status line on success.
func (m *Model) doFor(what, ok string, timeout time.Duration, f func(ctx context.Context) error) tea.Cmd {
	parent := m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		return resultMsg{what: what, ok: ok, err: f(ctx)}
	}
}

// forEach runs f on each torrent in one tea.Cmd and joins the errors.
func (m *Model) forEach(what string, ts []*core.Torrent, f func(ctx context.Context, t core.InfoHash) error) tea.Cmd {
	if len(ts) == 0 {
		return nil
	}
	hashes := make([]core.InfoHash, len(ts))
	for i, t := range ts {
		hashes[i] = t.InfoHash
	}
	if len(ts) == 1 {
		what += " " + ts[0].Name
	} else {
		what += fmt.Sprintf(" %d torrents", len(ts))
	}
	return m.do(what, func(ctx context.Context) error {
		var errs []error
		for _, h := range hashes {
			if err := f(ctx, h); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// result shows a command's outcome in the status line and logs failures.
func (m *Model) result(r resultMsg) {
	if r.err != nil {
		m.log.Error("command failed", "what", r.what, "err", r.err)
		m.setStatus("cannot "+r.what+": "+strings.ReplaceAll(r.err.Error(), "\n", "; "), true)
		return
	}
	if r.ok != "" {
		m.setStatus(r.ok, false)
		return
	}
	m.setStatus(r.what+": done", false)
}

// targets is what torrent actions apply to: the torrent shown in details,
// or the marked torrents, or the one under the cursor.
func (m *Model) targets() []*core.Torrent {
	if m.page == pageDetails {
		if t := m.sh.torrent(m.details.hash); t != nil {
			return []*core.Torrent{t}
		}
		return nil
	}
	return m.list.targets()
}

func (m *Model) torrentAction(msg tea.KeyPressMsg) tea.Cmd {
	k, e := m.sh.keys, m.eng
	switch {
	case key.Matches(msg, k.Tip):
		return m.tipAction()
	case key.Matches(msg, k.Buy):
		return m.buyAction()
	case key.Matches(msg, k.Pledge):
		return m.pledgeAction()
	case key.Matches(msg, k.Add):
		m.dialog = m.addDialog()
		return m.dialog.init()
	case key.Matches(msg, k.Filter):
		if m.page != pageList {
			return nil
		}
		m.dialog = m.filterDialog()
		return m.dialog.init()
	case key.Matches(msg, k.GlobalBidUp):
		return m.globalBidStep(true)
	case key.Matches(msg, k.GlobalBidDown):
		return m.globalBidStep(false)
	}
	ts := m.targets()
	if len(ts) == 0 {
		// No torrent to act on: the bid keys step the global bid.
		switch {
		case key.Matches(msg, k.BidUp):
			return m.globalBidStep(true)
		case key.Matches(msg, k.BidDown):
			return m.globalBidStep(false)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Pause):
		return m.forEach("pause/resume", ts, func(ctx context.Context, h core.InfoHash) error {
			if t := findState(ts, h); t == core.StatePaused {
				return e.Resume(ctx, h)
			}
			return e.Pause(ctx, h)
		})
	case key.Matches(msg, k.Recheck):
		return m.forEach("recheck", ts, e.Recheck)
	case key.Matches(msg, k.Sequential):
		on := !ts[0].Sequential
		return m.forEach(map[bool]string{true: "sequential on", false: "sequential off"}[on], ts,
			func(ctx context.Context, h core.InfoHash) error { return e.SetSequential(ctx, h, on) })
	case key.Matches(msg, k.Remove):
		m.dialog = m.removeDialog(ts, false)
	case key.Matches(msg, k.RemoveData):
		m.dialog = m.removeDialog(ts, true)
	case key.Matches(msg, k.Labels):
		m.dialog = m.labelsDialog(ts)
	case key.Matches(msg, k.Limits):
		m.dialog = m.limitsDialog(ts)
	case key.Matches(msg, k.Market):
		m.dialog = m.marketDialog(ts)
	case key.Matches(msg, k.BidUp):
		return m.bidStep(ts, true)
	case key.Matches(msg, k.BidDown):
		return m.bidStep(ts, false)
	default:
		return nil
	}
	return m.dialog.init()
}

func findState(ts []*core.Torrent, h core.InfoHash) core.State {
	for _, t := range ts {
		if t.InfoHash == h {
			return t.State
		}
	}
	return ""
}

// bidStep raises or lowers each target's bid by the configured step.
func (m *Model) bidStep(ts []*core.Torrent, up bool) tea.Cmd {
	bids := map[core.InfoHash]wallet.Amount{}
	for _, t := range ts {
		b := t.Market.Bid.SubFloor(m.sh.step)
		if up {
			var err error
			if b, err = t.Market.Bid.Add(m.sh.step); err != nil {
				m.setStatus("cannot raise the bid: it is at the maximum", true)
				return nil
			}
		}
		bids[t.InfoHash] = b
	}
	what := "lower bid"
	if up {
		what = "raise bid"
	}
	if len(ts) == 1 {
		what += " to " + m.sh.amount(bids[ts[0].InfoHash], 0) + " " + m.sh.token + "/MiB for"
	}
	e := m.eng
	return m.forEach(what, ts, func(ctx context.Context, h core.InfoHash) error {
		b := bids[h]
		return e.SetMarket(ctx, h, core.MarketSettings{Bid: &b})
	})
}

// globalBidStep raises or lowers the global bid (the default for torrents
// without their own) by the configured step.
func (m *Model) globalBidStep(up bool) tea.Cmd {
	cur := m.sh.snap.Market.Bid
	b := cur.SubFloor(m.sh.step)
	what := "lower global bid"
	if up {
		var err error
		if b, err = cur.Add(m.sh.step); err != nil {
			m.setStatus("cannot raise the global bid: it is at the maximum", true)
			return nil
		}
		what = "raise global bid"
	}
	what += " to " + m.sh.amount(b, 0) + " " + m.sh.token + "/MiB"
	e := m.eng
	return m.do(what, func(ctx context.Context) error {
		return e.SetMarket(ctx, core.InfoHash{}, core.MarketSettings{Bid: &b})
	})
}

func (m *Model) removeDialog(ts []*core.Torrent, deleteData bool) dialog {
	what := ts[0].Name
	if len(ts) > 1 {
		what = fmt.Sprintf("%d torrents", len(ts))
	}
	body := "Remove " + what + "? The data stays on disk."
	title := "Remove"
	verb := "remove"
	if deleteData {
		title = "Remove and DELETE DATA"
		body = "Remove " + what + " AND DELETE its downloaded files? This cannot be undone."
		verb = "remove and delete"
	}
	e := m.eng
	return newConfirm(m.sh, title, body, deleteData, m.forEach(verb, ts, func(ctx context.Context, h core.InfoHash) error {
		return e.Remove(ctx, h, deleteData)
	}))
}

func (m *Model) addDialog() dialog {
	e := m.eng
	d := newForm(m.sh, "Add torrent", []*field{
		{label: "Source", hint: ".torrent path, magnet: or http(s) URL", complete: true},
		{label: "Data dir", hint: "default download dir", complete: true},
		{label: "Labels", hint: "comma-separated"},
		{label: "Peers", hint: "host:port, … (optional)"},
	})
	d.submit = func(v []string) (tea.Cmd, error) {
		src := strings.TrimSpace(v[0])
		if src == "" {
			return nil, errors.New("enter a .torrent path, a magnet URI or a URL")
		}
		spec := core.AddSpec{Source: src, DataDir: strings.TrimSpace(v[1]), Labels: splitList(v[2]), Peers: splitList(v[3])}
		return m.do("add "+src, func(ctx context.Context) error {
			spec.Source = expandPath(spec.Source)
			spec.DataDir = expandPath(spec.DataDir)
			_, err := e.Add(ctx, spec)
			return err
		}), nil
	}
	return d
}

// expandPath makes a local path absolute (with ~ expanded); URIs pass
// through. It runs inside a tea.Cmd: it may touch the file system.
func expandPath(p string) string {
	if p == "" || strings.Contains(p, "://") || strings.HasPrefix(p, "magnet:") {
		return p
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (m *Model) filterDialog() dialog {
	d := newForm(m.sh, "Filter", []*field{{label: "Filter", value: m.list.filter.String(),
		hint: "state:seeding name~debian ratio>2 earned>0 label:linux -state:paused"}})
	orig := m.list.filter
	d.submit = func(v []string) (tea.Cmd, error) {
		f, err := ParseFilter(v[0], m.sh.decimals)
		if err != nil {
			return nil, err
		}
		m.list.setFilter(f)
		return nil, nil
	}
	d.change = func(v []string) { // filter as you type while it parses
		if f, err := ParseFilter(v[0], m.sh.decimals); err == nil {
			m.list.setFilter(f)
		}
	}
	d.cancel = func() { m.list.setFilter(orig) }
	return d
}

func (m *Model) labelsDialog(ts []*core.Torrent) dialog {
	e := m.eng
	d := newForm(m.sh, "Labels", []*field{{label: "Labels", value: strings.Join(ts[0].Labels, ", "), hint: "comma-separated"}})
	d.submit = func(v []string) (tea.Cmd, error) {
		labels := splitList(v[0])
		return m.forEach("set labels of", ts, func(ctx context.Context, h core.InfoHash) error {
			return e.SetLabels(ctx, h, labels)
		}), nil
	}
	return d
}

func (m *Model) limitsDialog(ts []*core.Torrent) dialog {
	e := m.eng
	l := ts[0].Limits
	d := newForm(m.sh, "Rate limits", []*field{
		{label: "Download", value: limitValue(l.Down), hint: "e.g. 2M, 500K; 0 = none"},
		{label: "Upload", value: limitValue(l.Up), hint: "e.g. 2M, 500K; 0 = none"},
	})
	d.submit = func(v []string) (tea.Cmd, error) {
		nl, err := parseLimits(v[0], v[1])
		if err != nil {
			return nil, err
		}
		return m.forEach("set limits of", ts, func(ctx context.Context, h core.InfoHash) error {
			return e.SetLimits(ctx, h, nl)
		}), nil
	}
	return d
}

// parseLimits reads the download and upload fields of a limits form.
func parseLimits(down, up string) (core.Limits, error) {
	var l core.Limits
	var err error
	if l.Down, err = bytesize.ParseRate(down); err != nil {
		return l, err
	}
	if l.Up, err = bytesize.ParseRate(up); err != nil {
		return l, err
	}
	return l, nil
}

func limitValue(n int64) string {
	if n <= 0 {
		return "0"
	}
	return bytesize.Format(n)
}

// Strategy names accepted by the engine.
var (
	buyerStrategies  = []string{"fixed", "budget", "adaptive", "none"}
	sellerStrategies = []string{"uniform", "propshare", "free"}
)

// marketFields are the market settings fields; values prefill them.
func (m *Model) marketFields(bid, ask, budget, buyer, seller string) []*field {
	unit := m.sh.token + "/MiB"
	return []*field{
		{label: "Bid", value: bid, hint: "max price we pay, " + unit},
		{label: "Ask", value: ask, hint: "reserve price we ask, " + unit},
		{label: "Budget", value: budget, hint: m.sh.token + ", 0 = none"},
		{label: "Buyer", value: buyer, hint: strings.Join(buyerStrategies, "|"), choices: buyerStrategies},
		{label: "Seller", value: seller, hint: strings.Join(sellerStrategies, "|"), choices: sellerStrategies},
	}
}

// marketChanges reads the market fields of a form; unchanged fields stay nil.
func (m *Model) marketChanges(fs []*field, v []string) (core.MarketSettings, bool, error) {
	var ms core.MarketSettings
	changed := false
	amt := func(i int) (*wallet.Amount, error) {
		if v[i] == fs[i].value || strings.TrimSpace(v[i]) == "" {
			return nil, nil
		}
		a, err := wallet.ParseAmount(v[i], m.sh.decimals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.ToLower(fs[i].label), err)
		}
		changed = true
		return &a, nil
	}
	var err error
	if ms.Bid, err = amt(0); err != nil {
		return ms, false, err
	}
	if ms.Ask, err = amt(1); err != nil {
		return ms, false, err
	}
	if ms.Budget, err = amt(2); err != nil {
		return ms, false, err
	}
	for i, ptr := range []**string{&ms.BuyerStrategy, &ms.SellerStrategy} {
		j := 3 + i
		s := strings.TrimSpace(v[j])
		if s == fs[j].value || s == "" {
			continue
		}
		if !contains(fs[j].choices, s) {
			return ms, false, fmt.Errorf("unknown %s strategy %q (want %s)", strings.ToLower(fs[j].label), s, strings.Join(fs[j].choices, ", "))
		}
		*ptr = &s
		changed = true
	}
	return ms, changed, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (m *Model) marketDialog(ts []*core.Torrent) dialog {
	e := m.eng
	mk := ts[0].Market
	a := func(x wallet.Amount) string { return x.Format(m.sh.decimals) }
	fs := m.marketFields(a(mk.Bid), a(mk.Ask), a(mk.Budget), mk.BuyerStrategy, mk.SellerStrategy)
	title := "Market: " + ts[0].Name
	if len(ts) > 1 {
		title = fmt.Sprintf("Market: %d torrents", len(ts))
	}
	d := newForm(m.sh, title, fs)
	d.submit = func(v []string) (tea.Cmd, error) {
		ms, changed, err := m.marketChanges(fs, v)
		if err != nil || !changed {
			return nil, err
		}
		return m.forEach("set market of", ts, func(ctx context.Context, h core.InfoHash) error {
			return e.SetMarket(ctx, h, ms)
		}), nil
	}
	return d
}

// optionsDialog edits the global limits and market settings, pre-filled
// from the snapshot; unset amounts start empty and only changed fields
// are sent.
func (m *Model) optionsDialog() dialog {
	e := m.eng
	l := m.sh.snap.Limits
	lim := []*field{
		{label: "Download", value: limitValue(l.Down), hint: "global, e.g. 10M; 0 = none"},
		{label: "Upload", value: limitValue(l.Up), hint: "global, e.g. 2M; 0 = none"},
	}
	g := m.sh.snap.Market
	a := func(x wallet.Amount) string {
		if x.IsZero() {
			return ""
		}
		return x.Format(m.sh.decimals)
	}
	mf := m.marketFields(a(g.Bid), a(g.Ask), a(g.Budget), g.BuyerStrategy, g.SellerStrategy)
	for _, f := range mf {
		f.hint = "default · " + f.hint
	}
	d := newForm(m.sh, "Global limits and market defaults", append(lim, mf...))
	d.submit = func(v []string) (tea.Cmd, error) {
		nl, err := parseLimits(v[0], v[1])
		if err != nil {
			return nil, err
		}
		ms, changed, err := m.marketChanges(mf, v[2:])
		if err != nil {
			return nil, err
		}
		limChanged := nl != l
		return m.do("set global settings", func(ctx context.Context) error {
			var zero core.InfoHash
			if limChanged {
				if err := e.SetLimits(ctx, zero, nl); err != nil {
					return err
				}
			}
			if changed {
				return e.SetMarket(ctx, zero, ms)
			}
			return nil
		}), nil
	}
	return d
}
