package tui

import (
	"fmt"
	"math"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// KeyMap holds every key binding of the UI. Each binding has a config name
// (its key in [tui.keys]) and belongs to one context; two bindings of the
// same context, or of a context and the global one, may not share a key.
type KeyMap struct {
	// Global, active everywhere outside dialogs.
	Quit, Help, Back, Wallet, Options, Mouse, Unlock key.Binding
	// Moving in lists and scrolling panes.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	// Torrent actions (list and details).
	Open, Add, Remove, RemoveData, Pause, Recheck, Sequential key.Binding
	Filter, Sort, Reverse, Mark, MarkAll, Labels              key.Binding
	Limits, Market, BidUp, BidDown                            key.Binding
	GlobalBidUp, GlobalBidDown                                key.Binding
	// Payments beyond bandwidth: tip a peer or the publisher, buy a paid
	// torrent, pledge to its crowdfunding campaign.
	Tip, Buy, Pledge key.Binding
	// Details tabs.
	NextTab, PrevTab                                                  key.Binding
	TabGeneral, TabFiles, TabPeers, TabTrackers, TabPieces, TabMarket key.Binding
	// Files tab.
	FilePrioUp, FilePrioDown, FileSkip key.Binding
	// Wallet pane.
	Settle key.Binding
	// Dialogs.
	Submit, Cancel, NextField, PrevField, Complete, Confirm key.Binding
}

// Binding contexts.
const (
	ctxGlobal  = "global"
	ctxNav     = "navigation"
	ctxTorrent = "torrent"
	ctxDetails = "details"
	ctxFiles   = "files"
	ctxWallet  = "wallet"
	ctxDialog  = "dialog"
)

// namedBinding ties a binding to its config name and context.
type namedBinding struct {
	name, ctx string
	b         *key.Binding
}

// named lists every binding in help order.
func (k *KeyMap) named() []namedBinding {
	return []namedBinding{
		{"quit", ctxGlobal, &k.Quit},
		{"help", ctxGlobal, &k.Help},
		{"back", ctxGlobal, &k.Back},
		{"wallet", ctxGlobal, &k.Wallet},
		{"options", ctxGlobal, &k.Options},
		{"mouse", ctxGlobal, &k.Mouse},
		{"unlock", ctxGlobal, &k.Unlock},
		{"up", ctxNav, &k.Up},
		{"down", ctxNav, &k.Down},
		{"page_up", ctxNav, &k.PageUp},
		{"page_down", ctxNav, &k.PageDown},
		{"top", ctxNav, &k.Top},
		{"bottom", ctxNav, &k.Bottom},
		{"open", ctxTorrent, &k.Open},
		{"add", ctxTorrent, &k.Add},
		{"remove", ctxTorrent, &k.Remove},
		{"remove_data", ctxTorrent, &k.RemoveData},
		{"pause", ctxTorrent, &k.Pause},
		{"recheck", ctxTorrent, &k.Recheck},
		{"sequential", ctxTorrent, &k.Sequential},
		{"filter", ctxTorrent, &k.Filter},
		{"sort", ctxTorrent, &k.Sort},
		{"reverse", ctxTorrent, &k.Reverse},
		{"mark", ctxTorrent, &k.Mark},
		{"mark_all", ctxTorrent, &k.MarkAll},
		{"labels", ctxTorrent, &k.Labels},
		{"limits", ctxTorrent, &k.Limits},
		{"market", ctxTorrent, &k.Market},
		{"bid_up", ctxTorrent, &k.BidUp},
		{"bid_down", ctxTorrent, &k.BidDown},
		{"global_bid_up", ctxTorrent, &k.GlobalBidUp},
		{"global_bid_down", ctxTorrent, &k.GlobalBidDown},
		{"tip", ctxTorrent, &k.Tip},
		{"buy", ctxTorrent, &k.Buy},
		{"pledge", ctxTorrent, &k.Pledge},
		{"next_tab", ctxDetails, &k.NextTab},
		{"prev_tab", ctxDetails, &k.PrevTab},
		{"tab_general", ctxDetails, &k.TabGeneral},
		{"tab_files", ctxDetails, &k.TabFiles},
		{"tab_peers", ctxDetails, &k.TabPeers},
		{"tab_trackers", ctxDetails, &k.TabTrackers},
		{"tab_pieces", ctxDetails, &k.TabPieces},
		{"tab_market", ctxDetails, &k.TabMarket},
		{"file_prio_up", ctxFiles, &k.FilePrioUp},
		{"file_prio_down", ctxFiles, &k.FilePrioDown},
		{"file_skip", ctxFiles, &k.FileSkip},
		{"settle", ctxWallet, &k.Settle},
		{"submit", ctxDialog, &k.Submit},
		{"cancel", ctxDialog, &k.Cancel},
		{"next_field", ctxDialog, &k.NextField},
		{"prev_field", ctxDialog, &k.PrevField},
		{"complete", ctxDialog, &k.Complete},
		{"confirm", ctxDialog, &k.Confirm},
	}
}

func bind(desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKeys(keys), desc))
}

// helpKeys renders keys for the help screen: "k/↑".
func helpKeys(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		switch k {
		case "up":
			k = "↑"
		case "down":
			k = "↓"
		case "left":
			k = "←"
		case "right":
			k = "→"
		}
		out[i] = k
	}
	return strings.Join(out, "/")
}

// DefaultKeyMap returns the default bindings: vim keys and arrows;
// destructive actions on shifted or control keys away from the movement
// keys, and always confirmed.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Quit:    bind("quit (q: back from a page)", "q", "ctrl+c"),
		Help:    bind("help", "?"),
		Back:    bind("back", "esc", "backspace"),
		Wallet:  bind("wallet", "w"),
		Options: bind("global limits & market", "O"),
		Mouse:   bind("toggle mouse", "M"),
		Unlock:  bind("unlock (daemon over SSH)", "U"),

		Up:       bind("up", "k", "up"),
		Down:     bind("down", "j", "down"),
		PageUp:   bind("page up", "pgup", "ctrl+u"),
		PageDown: bind("page down", "pgdown", "ctrl+d"),
		Top:      bind("top", "g", "home"),
		Bottom:   bind("bottom", "G", "end"),

		Open:       bind("details", "enter", "l", "right"),
		Add:        bind("add torrent", "a"),
		Remove:     bind("remove (keep data)", "X"),
		RemoveData: bind("remove and DELETE DATA", "ctrl+x"),
		Pause:      bind("pause/resume", "p"),
		Recheck:    bind("recheck", "R"),
		Sequential: bind("sequential on/off", "S"),
		Filter:     bind("filter", "/"),
		Sort:       bind("sort column", "s"),
		Reverse:    bind("reverse sort", "r"),
		Mark:       bind("mark", "space"),
		MarkAll:    bind("mark all/none", "*"),
		Labels:     bind("labels", "t"),
		Limits:     bind("rate limits", "L"),
		Market:     bind("bid, budget, strategy", "m"),
		BidUp:      bind("raise bid", "+", "="),
		BidDown:    bind("lower bid", "-"),
		// The global bid, the default of torrents without their own; +/-
		// also step it when no torrent is listed.
		GlobalBidUp:   bind("raise global bid", "}"),
		GlobalBidDown: bind("lower global bid", "{"),
		// Money leaves the wallet only after a dialog: these open one.
		Tip:    bind("tip peer or publisher", "$"),
		Buy:    bind("buy a paid torrent", "B"),
		Pledge: bind("pledge to the campaign", "&"),

		NextTab:     bind("next tab", "tab", "right", "l"),
		PrevTab:     bind("previous tab", "shift+tab", "left", "h"),
		TabGeneral:  bind("general", "1"),
		TabFiles:    bind("files", "2"),
		TabPeers:    bind("peers", "3"),
		TabTrackers: bind("trackers", "4"),
		TabPieces:   bind("pieces", "5"),
		TabMarket:   bind("market", "6"),

		FilePrioUp:   bind("raise priority", "+", "="),
		FilePrioDown: bind("lower priority", "-"),
		FileSkip:     bind("skip/unskip", "space"),

		Settle: bind("settle now", "s"),

		Submit:    bind("ok", "enter"),
		Cancel:    bind("cancel", "esc"),
		NextField: bind("next field", "down"),
		PrevField: bind("previous field", "up", "shift+tab"),
		Complete:  bind("complete / next choice", "tab"),
		Confirm:   bind("yes", "y"),
	}
}

// conflicts lists which contexts are active together.
var conflicts = map[string][]string{
	ctxNav:     {ctxGlobal},
	ctxTorrent: {ctxGlobal, ctxNav},
	ctxDetails: {ctxGlobal, ctxNav},
	ctxWallet:  {ctxGlobal},
	ctxFiles:   {ctxGlobal, ctxNav, ctxDetails},
	ctxDialog:  {},
}

// Rebind applies overrides (config name → keys) to k and checks that no key
// is bound twice where both bindings are active. Errors name the config key.
func (k *KeyMap) Rebind(overrides map[string]KeyList) error {
	byName := map[string]namedBinding{}
	for _, nb := range k.named() {
		byName[nb.name] = nb
	}
	for name, keys := range overrides {
		nb, ok := byName[name]
		if !ok {
			return fmt.Errorf("keys.%s: unknown action (see the help screen, ?, for names)", name)
		}
		for _, s := range keys {
			if s == "" || strings.ContainsAny(s, " \t") {
				return fmt.Errorf("keys.%s: bad key %q (write keys like \"a\", \"ctrl+x\", \"shift+tab\", \"space\")", name, s)
			}
		}
		nb.b.SetKeys(keys...)
		nb.b.SetHelp(helpKeys(keys), nb.b.Help().Desc)
		if len(keys) == 0 {
			nb.b.Unbind()
		}
	}
	return k.check()
}

func (k *KeyMap) check() error {
	owner := map[string]map[string]string{} // ctx → key → binding name
	for _, nb := range k.named() {
		if owner[nb.ctx] == nil {
			owner[nb.ctx] = map[string]string{}
		}
		for _, s := range nb.b.Keys() {
			if other, ok := owner[nb.ctx][s]; ok {
				return fmt.Errorf("keys.%s: %q is already bound to %s", nb.name, s, other)
			}
			owner[nb.ctx][s] = nb.name
		}
	}
	for _, nb := range k.named() {
		for _, c := range conflicts[nb.ctx] {
			for _, s := range nb.b.Keys() {
				if other, ok := owner[c][s]; ok {
					return fmt.Errorf("keys.%s: %q is already bound to %s", nb.name, s, other)
				}
			}
		}
	}
	return nil
}

// helpGroups returns the bindings by context for the full help screen.
func (k *KeyMap) helpGroups() []helpGroup {
	titles := map[string]string{
		ctxGlobal: "Global", ctxNav: "Moving", ctxTorrent: "Torrents",
		ctxDetails: "Details", ctxFiles: "Files tab", ctxWallet: "Wallet", ctxDialog: "Dialogs",
	}
	var groups []helpGroup
	for _, nb := range k.named() {
		if len(groups) == 0 || groups[len(groups)-1].ctx != nb.ctx {
			groups = append(groups, helpGroup{ctx: nb.ctx, title: titles[nb.ctx]})
		}
		g := &groups[len(groups)-1]
		g.bindings = append(g.bindings, *nb.b)
		g.names = append(g.names, nb.name)
	}
	return groups
}

type helpGroup struct {
	ctx, title string
	bindings   []key.Binding
	names      []string
}

// farAway is the step of Top and Bottom: past either end of any list,
// and safe to add to a position.
const farAway = math.MaxInt / 2

// nav returns how far a movement key moves a position: a row for up and
// down, page rows for page up and down, farAway for top and bottom (the
// caller clamps). ok is false for any other key.
func (k *KeyMap) nav(msg tea.KeyPressMsg, page int) (step int, ok bool) {
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -page, true
	case key.Matches(msg, k.PageDown):
		return page, true
	case key.Matches(msg, k.Top):
		return -farAway, true
	case key.Matches(msg, k.Bottom):
		return farAway, true
	}
	return 0, false
}
