package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/BurntSushi/toml"
	"github.com/charmbracelet/colorprofile"

	"github.com/bidtorrent/bidtorrent/core"
)

func wantCalls(t *testing.T, e *fakeEngine, want ...string) {
	t.Helper()
	if strings.Join(e.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("engine calls:\n%s\nwant:\n%s", strings.Join(e.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestPauseResumeMarked(t *testing.T) {
	h := newHarness(t, 120, 30, Config{}).snap(fixture())
	// Sorted by added: bunny (paused), debian, ubuntu, archive, magnet.
	h.keys("space", "space", "p")
	wantCalls(t, h.eng, "resume cccc", "pause aaaa")
	if !strings.Contains(h.screen(), "pause/resume 2 torrents: done") {
		t.Errorf("no result in the status line:\n%s", h.screen())
	}
}

func TestRemoveNeedsConfirmation(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j", "X", "n")
	wantCalls(t, h.eng)
	h.keys("X", "y")
	wantCalls(t, h.eng, "remove aaaa delete=false")
	h.eng.calls = nil
	h.keys("ctrl+x")
	if !strings.Contains(h.screen(), "DELETE") {
		t.Errorf("the delete-data dialog does not warn:\n%s", h.screen())
	}
	h.keys("esc")
	wantCalls(t, h.eng)
	h.keys("ctrl+x", "y")
	wantCalls(t, h.eng, "remove aaaa delete=true")
}

func TestBidKeys(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j", "+") // debian bids 0.0003; the step is 0.0001
	h.keys("-")
	h.keys("j", "-") // ubuntu bids 0: stays 0
	wantCalls(t, h.eng,
		"market aaaa bid=400000000000000",
		"market aaaa bid=200000000000000",
		"market bbbb bid=0")
}

func TestMarketDialog(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j", "m", "ctrl+u", "0.5", "down", "down", "ctrl+u", "12", "down", "down", "tab", "enter")
	// Bid and budget changed, ask untouched, seller cycled from uniform to propshare.
	wantCalls(t, h.eng, "market aaaa bid=500000000000000000 budget=12000000000000000000 seller=propshare")
	h.eng.calls = nil
	h.keys("m", "down", "down", "down", "ctrl+u", "greedy", "enter")
	wantCalls(t, h.eng)
	if !strings.Contains(h.screen(), `unknown buyer strategy "greedy"`) {
		t.Errorf("bad strategy not reported in the dialog:\n%s", h.screen())
	}
	h.keys("esc")
}

func TestGlobalOptions(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("O")
	// Pre-filled from the snapshot's global market settings; the unset
	// budget starts empty.
	for _, want := range []string{"0.0002", "0.0001", "fixed", "uniform"} {
		if !strings.Contains(h.screen(), want) {
			t.Errorf("options dialog not pre-filled with %q:\n%s", want, h.screen())
		}
	}
	// Unchanged pre-filled fields are not sent: only the download limit
	// and the bid (retyped) change.
	h.keys("ctrl+u", "10M", "down", "down", "ctrl+u", "0.001", "enter")
	wantCalls(t, h.eng,
		"limits 0000 down=10485760 up=2097152",
		"market 0000 bid=1000000000000000")
	h.eng.calls = nil
	// Submitting the pre-filled dialog untouched changes nothing.
	h.keys("O", "enter")
	wantCalls(t, h.eng)
	// Changing only the seller strategy sends only it.
	h.keys("O", "down", "down", "down", "down", "down", "down", "tab", "enter")
	wantCalls(t, h.eng, "market 0000 seller=propshare")
}

// The global bid steps from the snapshot's global bid: with { and }
// always, and with +/- when no torrent is listed.
func TestGlobalBidKeys(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("}", "{") // global bid 0.0002, step 0.0001; the cursor torrent is untouched
	wantCalls(t, h.eng,
		"market 0000 bid=300000000000000",
		"market 0000 bid=100000000000000")
	if !strings.Contains(h.screen(), "lower global bid to 0.0001 BTT/MiB: done") {
		t.Errorf("no result in the status line:\n%s", h.screen())
	}
	h.eng.calls = nil
	empty := fixture()
	empty.Torrents = nil
	h.snap(empty)
	h.keys("+", "-")
	wantCalls(t, h.eng,
		"market 0000 bid=300000000000000",
		"market 0000 bid=100000000000000")
	h.eng.calls = nil
	empty.Market.Bid = btt("0")
	h.snap(empty)
	h.keys("-") // at zero it stays zero
	wantCalls(t, h.eng, "market 0000 bid=0")
}

func TestLimitsLabelsAdd(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j", "L", "ctrl+u", "1.5M", "down", "ctrl+u", "256K", "enter")
	h.keys("t", "ctrl+u", "linux, keep", "enter")
	h.keys("a", "magnet:?xt=urn:btih:"+strings.Repeat("ab", 20), "down", "down", "films", "down", "127.0.0.1:6881", "enter")
	wantCalls(t, h.eng,
		"limits aaaa down=1572864 up=262144",
		"labels aaaa [linux keep]",
		`add magnet:?xt=urn:btih:abababababababababababababababababababab dir="" labels=[films] peers=[127.0.0.1:6881]`)
}

func TestFilePriorities(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	// Files tree: debian/, README.txt, extra/, firmware.tar, iso/, SHA256SUMS, netinst.iso
	h.keys("j", "enter", "2", "j", "-") // README high → normal
	h.keys("j", "j", "j", "space")      // iso/ (mixed) → skip both files
	h.keys("j", "space")                // SHA256SUMS is skipped → normal
	wantCalls(t, h.eng, "prio aaaa file=0 p=0", "prio aaaa file=2 p=-1", "prio aaaa file=1 p=-1", "prio aaaa file=2 p=0")
}

func TestEngineErrorsInStatusLine(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.eng.PauseFn = func(context.Context, core.InfoHash) error { return errors.New("torrent is busy") }
	h.keys("j", "p")
	if s := h.screen(); !strings.Contains(s, "cannot pause/resume debian-13.2.0-amd64-netinst.iso: torrent is busy") {
		t.Errorf("error not shown:\n%s", s)
	}
	snap := fixture()
	snap.Err, snap.ErrTime = "listen tcp :6881: address already in use", t0
	h.snap(snap)
	if s := h.screen(); !strings.Contains(s, "engine: listen tcp :6881: address already in use") {
		t.Errorf("engine error not shown:\n%s", s)
	}
}

func TestSettle(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("s")      // in the list: sort, not settle
	h.keys("w", "s") // in the wallet: settle
	wantCalls(t, h.eng, "settle")
}

func TestSelectionFollowsTorrentAcrossSnapshots(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j") // debian
	s := fixture()
	s.Torrents = append([]core.Torrent{{InfoHash: hash(0x11), Name: "new", AddedAt: t0.Add(-100 * 3600e9)}}, s.Torrents...)
	h.snap(s)
	if got := h.m.list.selected().Name; !strings.HasPrefix(got, "debian") {
		t.Errorf("cursor moved to %q after a snapshot", got)
	}
}

func TestPathCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"alpha.torrent", "alpine.torrent", "beta/"} {
		if strings.HasSuffix(n, "/") {
			if err := mkdir(dir + "/" + n); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := writeFile(dir+"/"+n, "d"); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("a", dir+"/al", "tab")
	f := h.m.dialog.(*form)
	if got := f.fields[0].input.Value(); got != dir+"/alp" {
		t.Errorf("completed to %q, want the common prefix %q", got, dir+"/alp")
	}
	if !strings.Contains(h.screen(), "alpha.torrent  alpine.torrent") {
		t.Errorf("candidates not listed:\n%s", h.screen())
	}
	h.keys("h", "tab")
	if got := f.fields[0].input.Value(); got != dir+"/alpha.torrent" {
		t.Errorf("completed to %q", got)
	}
	h.keys("ctrl+u", dir+"/b", "tab")
	if got := f.fields[0].input.Value(); got != dir+"/beta/" {
		t.Errorf("directory completed to %q", got)
	}
}

func TestKeyRebinding(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Keys = map[string]KeyList{"remove": {"D"}, "down": {"n", "down"}, "up": {"e", "up"}}
	h := newHarness(t, 80, 24, cfg).snap(fixture())
	h.keys("n", "D", "y")
	wantCalls(t, h.eng, "remove aaaa delete=false")
	h.eng.calls = nil
	h.keys("X", "j") // old keys do nothing now
	wantCalls(t, h.eng)
	h.keys("?")
	if s := h.screen(); !strings.Contains(s, "n/↓") || !strings.Contains(s, "remove (keep data)") {
		t.Errorf("help does not show the live bindings:\n%s", s)
	}
}

func TestKeyRebindingErrors(t *testing.T) {
	cases := map[string]map[string]KeyList{
		"keys.frobnicate: unknown action":          {"frobnicate": {"f"}},
		`keys.pause: "j" is already bound to down`: {"pause": {"j"}},
		`keys.quit: bad key`:                       {"quit": {""}},
	}
	for want, keys := range cases {
		cfg := DefaultConfig()
		cfg.Keys = keys
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%v) = %v, want %q", keys, err, want)
		}
	}
}

func TestConfigDecode(t *testing.T) {
	var cfg struct {
		TUI Config `toml:"tui"`
	}
	cfg.TUI = DefaultConfig()
	text := `
[tui]
theme = "high-contrast"
mouse = true
sort = "-down"
filter = "state:seeding"
bid_step = "0.01"
[tui.keys]
remove = "D"
up = ["k", "up", "ctrl+p"]
`
	if _, err := toml.Decode(text, &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.TUI
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Theme != ThemeHighContrast || !c.Mouse || c.Sort != "-down" || len(c.Keys["up"]) != 3 || c.Keys["remove"][0] != "D" {
		t.Errorf("decoded %+v", c)
	}
	for _, bad := range []Config{
		{Theme: "neon"}, {Theme: "default", Sort: "colour"}, {Theme: "default", BidStep: "0"},
		{Theme: "default", BidStep: "-1"}, {Theme: "default", Filter: "state:sleeping"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate accepted %+v", bad)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestNoColourTheme(t *testing.T) {
	for _, st := range []*Styles{NewStyles(ThemeNone)} {
		out := st.Selected.Render("x") + st.Good.Render("y") + st.Error.Render("z") + st.state(core.StateSeeding).Render("s")
		if strings.Contains(out, "38;") || strings.Contains(out, "48;") || strings.Contains(out, "[3") {
			t.Errorf("no-colour theme emits colour: %q", out)
		}
	}
	if out := NewStyles(ThemeDefault).Good.Render("y"); !strings.Contains(out, "38;") {
		t.Errorf("default theme has no colour: %q", out)
	}
}

func TestTinyScreensDoNotPanic(t *testing.T) {
	flows := [][]string{nil, {"j", "enter"}, {"j", "enter", "2"}, {"j", "enter", "3"}, {"j", "enter", "4"},
		{"j", "enter", "5"}, {"j", "enter", "6"}, {"?"}, {"a"}, {"X"}, {"m"}, {"O"}, {"w"}}
	for _, size := range [][2]int{{1, 1}, {10, 3}, {20, 5}, {33, 7}} {
		for _, keys := range flows {
			h := newHarness(t, size[0], size[1], Config{}).snap(fixture())
			h.keys(keys...)
			_ = h.screen()
		}
	}
	// And with no snapshot at all.
	h := newHarness(t, 80, 24, Config{})
	h.keys("j", "enter", "p", "m", "?")
	if !strings.Contains(h.screen(), "Keys") {
		t.Errorf("help did not open before the first snapshot")
	}
}

func TestNoColorProfileSwitchesTheme(t *testing.T) {
	eng := newFake()
	m, err := New(context.Background(), eng, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(snapshotMsg{fixture()})
	if v := m.View().Content; !strings.Contains(v, "38;") {
		t.Fatalf("default theme renders no colour")
	}
	m.Update(tea.ColorProfileMsg{Profile: colorprofile.ASCII}) // what NO_COLOR gives
	if v := m.View().Content; strings.Contains(v, "38;") || strings.Contains(v, "48;") {
		t.Errorf("colour after NO_COLOR:\n%q", v)
	}
}

func TestQuitLeavesPagesFirst(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("j", "enter")
	_, cmd := h.m.Update(keyMsgs("q")[0])
	if cmd != nil || h.m.page != pageList {
		t.Fatalf("q in details should go back to the list")
	}
	_, cmd = h.m.Update(keyMsgs("q")[0])
	if cmd == nil {
		t.Fatalf("q in the list should quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("q in the list did not quit")
	}
}

func TestMouseOffByDefault(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	if h.m.View().MouseMode != tea.MouseModeNone {
		t.Fatalf("mouse on by default")
	}
	h.m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: 4})
	if h.m.list.cursor != 0 {
		t.Fatalf("a click moved the cursor with the mouse off")
	}
	h.keys("M")
	if h.m.View().MouseMode != tea.MouseModeCellMotion {
		t.Fatalf("M did not enable the mouse")
	}
	h.m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: 4}) // title, header, rows 0,1,2
	if h.m.list.cursor != 2 {
		t.Errorf("click on screen row 4 put the cursor on row %d, want 2", h.m.list.cursor)
	}
	h.m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if h.m.list.cursor != 3 {
		t.Errorf("wheel down: cursor %d, want 3", h.m.list.cursor)
	}
	// The header: "  name (22+) size(6) progress(13)…"; x=35 is in "progress".
	h.m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, X: 35, Y: 1})
	if c := listColumns[h.m.list.sortCol].name; c != "progress" || h.m.list.reverse {
		t.Errorf("header click sorts by %s (reverse %v), want progress", c, h.m.list.reverse)
	}
	h.m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, X: 35, Y: 1})
	if !h.m.list.reverse {
		t.Errorf("a second click did not reverse the order")
	}
}

func TestFilterAsYouType(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("/", "state:seedin")
	if n := len(h.m.list.rows); n != 0 {
		t.Errorf("while typing: %d rows, want the 0 of the last valid prefix, \"state\"", n)
	}
	h.keys("g")
	if n := len(h.m.list.rows); n != 1 {
		t.Errorf("live filter shows %d rows, want 1", n)
	}
	h.keys("esc")
	if n := len(h.m.list.rows); n != 5 || !h.m.list.filter.Empty() {
		t.Errorf("cancel left the filter %q with %d rows", h.m.list.filter, n)
	}
	h.keys("/", "label:linux", "enter")
	if n := len(h.m.list.rows); n != 2 {
		t.Errorf("submitted filter shows %d rows, want 2", n)
	}
}

func TestPeersSort(t *testing.T) {
	h := newHarness(t, 160, 24, Config{}).snap(fixture())
	h.keys("j", "enter", "3")
	order := func() string {
		var out []string
		for _, i := range h.m.details.peers {
			out = append(out, string(fixture().Torrents[0].Peers[i].Key)[:4])
		}
		return strings.Join(out, " ")
	}
	if got := order(); got != "192. 198. [200" {
		t.Errorf("default (fastest first) order %s", got)
	}
	h.keys("s", "s", "s", "s", "s", "s") // their bid, ascending
	if got := order(); got != "192. [200 198." {
		t.Errorf("by their bid: %s", got)
	}
	if !strings.Contains(h.screen(), "their bid▲") {
		t.Errorf("sort column not marked:\n%s", h.screen())
	}
	h.keys("r")
	if got := order(); got != "198. [200 192." {
		t.Errorf("by their bid, reversed: %s", got)
	}
}

func TestCtrlCQuitsFromDialogs(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	h.keys("a", "q") // q is typed into the dialog
	if f := h.m.dialog.(*form); f.fields[0].input.Value() != "q" {
		t.Fatalf("q was not typed into the add dialog")
	}
	_, cmd := h.m.Update(keyMsgs("ctrl+c")[0])
	if cmd == nil {
		t.Fatal("ctrl+c in a dialog did nothing")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("ctrl+c in a dialog did not quit")
	}
}
