package tui

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeEngine implements Engine with function fields; a nil field succeeds
// and only records the call.
type fakeEngine struct {
	ch    chan core.Snapshot
	calls []string

	AddFn         func(context.Context, core.AddSpec) (core.InfoHash, error)
	RemoveFn      func(context.Context, core.InfoHash, bool) error
	PauseFn       func(context.Context, core.InfoHash) error
	SetMarketFn   func(context.Context, core.InfoHash, core.MarketSettings) error
	SetLimitsFn   func(context.Context, core.InfoHash, core.Limits) error
	SetFilePrioFn func(context.Context, core.InfoHash, int, core.Priority) error
	TipFn         func(context.Context, core.InfoHash, string, wallet.Amount, string) error
	BuyFn         func(context.Context, core.InfoHash, wallet.Amount) error
	PledgeFn      func(context.Context, core.InfoHash, wallet.Amount) error
}

func newFake() *fakeEngine { return &fakeEngine{ch: make(chan core.Snapshot, 1)} }

func (f *fakeEngine) rec(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeEngine) Subscribe() (<-chan core.Snapshot, func()) { return f.ch, func() {} }
func (f *fakeEngine) Add(ctx context.Context, s core.AddSpec) (core.InfoHash, error) {
	f.rec("add %s dir=%q labels=%v peers=%v", s.Source, s.DataDir, s.Labels, s.Peers)
	if f.AddFn != nil {
		return f.AddFn(ctx, s)
	}
	return core.InfoHash{}, nil
}
func (f *fakeEngine) Remove(ctx context.Context, ih core.InfoHash, del bool) error {
	f.rec("remove %s delete=%v", ih.String()[:4], del)
	if f.RemoveFn != nil {
		return f.RemoveFn(ctx, ih, del)
	}
	return nil
}
func (f *fakeEngine) Pause(ctx context.Context, ih core.InfoHash) error {
	f.rec("pause %s", ih.String()[:4])
	if f.PauseFn != nil {
		return f.PauseFn(ctx, ih)
	}
	return nil
}
func (f *fakeEngine) Resume(_ context.Context, ih core.InfoHash) error {
	f.rec("resume %s", ih.String()[:4])
	return nil
}
func (f *fakeEngine) Recheck(_ context.Context, ih core.InfoHash) error {
	f.rec("recheck %s", ih.String()[:4])
	return nil
}
func (f *fakeEngine) SetFilePriority(ctx context.Context, ih core.InfoHash, file int, p core.Priority) error {
	f.rec("prio %s file=%d p=%d", ih.String()[:4], file, p)
	if f.SetFilePrioFn != nil {
		return f.SetFilePrioFn(ctx, ih, file, p)
	}
	return nil
}
func (f *fakeEngine) SetSequential(_ context.Context, ih core.InfoHash, on bool) error {
	f.rec("sequential %s %v", ih.String()[:4], on)
	return nil
}
func (f *fakeEngine) SetLimits(ctx context.Context, ih core.InfoHash, l core.Limits) error {
	f.rec("limits %s down=%d up=%d", ih.String()[:4], l.Down, l.Up)
	if f.SetLimitsFn != nil {
		return f.SetLimitsFn(ctx, ih, l)
	}
	return nil
}
func (f *fakeEngine) SetLabels(_ context.Context, ih core.InfoHash, labels []string) error {
	f.rec("labels %s %v", ih.String()[:4], labels)
	return nil
}
func (f *fakeEngine) SetMarket(ctx context.Context, ih core.InfoHash, m core.MarketSettings) error {
	var parts []string
	if m.Bid != nil {
		parts = append(parts, "bid="+m.Bid.String())
	}
	if m.Ask != nil {
		parts = append(parts, "ask="+m.Ask.String())
	}
	if m.Budget != nil {
		parts = append(parts, "budget="+m.Budget.String())
	}
	if m.BuyerStrategy != nil {
		parts = append(parts, "buyer="+*m.BuyerStrategy)
	}
	if m.SellerStrategy != nil {
		parts = append(parts, "seller="+*m.SellerStrategy)
	}
	f.rec("market %s %s", ih.String()[:4], strings.Join(parts, " "))
	if f.SetMarketFn != nil {
		return f.SetMarketFn(ctx, ih, m)
	}
	return nil
}
func (f *fakeEngine) Settle(context.Context) error {
	f.rec("settle")
	return nil
}
func (f *fakeEngine) Tip(ctx context.Context, ih core.InfoHash, to string, amount wallet.Amount, memo string) error {
	f.rec("tip %s to=%s amount=%s memo=%q", ih.String()[:4], to, amount, memo)
	if f.TipFn != nil {
		return f.TipFn(ctx, ih, to, amount, memo)
	}
	return nil
}
func (f *fakeEngine) Buy(ctx context.Context, ih core.InfoHash, maxPrice wallet.Amount) error {
	f.rec("buy %s max=%s", ih.String()[:4], maxPrice)
	if f.BuyFn != nil {
		return f.BuyFn(ctx, ih, maxPrice)
	}
	return nil
}
func (f *fakeEngine) Pledge(ctx context.Context, ih core.InfoHash, amount wallet.Amount) error {
	f.rec("pledge %s amount=%s", ih.String()[:4], amount)
	if f.PledgeFn != nil {
		return f.PledgeFn(ctx, ih, amount)
	}
	return nil
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func hash(b byte) core.InfoHash {
	var h core.InfoHash
	for i := range h {
		h[i] = b
	}
	return h
}

// btt parses a BTT amount or panics.
func btt(s string) wallet.Amount {
	a, err := wallet.ParseAmount(s, wallet.BTTDecimals)
	if err != nil {
		panic(err)
	}
	return a
}

// fixture is a small engine state touching every field the UI shows.
func fixture() core.Snapshot {
	pieces := make([]byte, 300)
	for i := range pieces {
		switch {
		case i < 180:
			pieces[i] = 2
		case i < 190:
			pieces[i] = 1
		}
	}
	var hist []core.MarketPoint
	for i := 0; i < 40; i++ {
		hist = append(hist, core.MarketPoint{
			Time:   t0.Add(time.Duration(i-40) * time.Minute),
			Price:  wallet.NewAmount(uint64(100000000000000 + (i%10)*20000000000000)),
			Earned: wallet.NewAmount(uint64(i) * 5000000000000000),
			Spent:  wallet.NewAmount(uint64(i) * 1000000000000000),
		})
	}
	debian := core.Torrent{
		InfoHash: hash(0xaa), Name: "debian-13.2.0-amd64-netinst.iso", Labels: []string{"linux", "iso"},
		AddedAt: t0.Add(-48 * time.Hour), Size: 700 << 20, Done: 420 << 20, State: core.StateDownloading,
		DownRate: 3 << 20, UpRate: 512 << 10, Downloaded: 420 << 20, Uploaded: 120 << 20, Ratio: 0.17,
		PeerCount: 3, SeedCount: 1, ETA: 93 * time.Second, DataDir: "/srv/torrents",
		PieceLength: 256 << 10, NumPieces: 300, Pieces: pieces,
		Files: []core.File{
			{Path: "debian/README.txt", Size: 4 << 10, Done: 4 << 10, Priority: core.PriorityHigh},
			{Path: "debian/iso/netinst.iso", Size: 690 << 20, Done: 410 << 20},
			{Path: "debian/iso/SHA256SUMS", Size: 1 << 10, Done: 0, Priority: core.PrioritySkip},
			{Path: "debian/extra/firmware.tar", Size: 10 << 20, Done: 10 << 20},
		},
		Trackers: []core.Tracker{
			{URL: "http://bttracker.debian.org:6969/announce", Status: "ok", Peers: 42, Next: t0.Add(25 * time.Minute), LastSeen: t0},
			{URL: "udp://tracker.example.org:1337", Status: "error", LastErr: "connection refused"},
		},
		Peers: []core.Peer{
			{Key: "192.0.2.10:51413", Client: "Transmission 4.0", Transport: "tcp", AmInterested: true, PeerInterest: true,
				DownRate: 2 << 20, UpRate: 256 << 10, Progress: 1, Encrypted: true},
			{Key: "198.51.100.7:6881", Client: "bidtorrent dev", Transport: "tcp", AmInterested: true, PeerInterest: true,
				Incoming: true, DownRate: 1 << 20, UpRate: 256 << 10, Progress: 0.5,
				Market: core.PeerMarket{Enabled: true, Address: "TQ1", TheirBid: btt("0.0003"), TheirAsk: btt("0.0002"),
					OurBid: btt("0.00025"), Price: btt("0.0002"), Awarded: true, AwardedU: true, Share: 0.6,
					Bought: 64 << 20, Sold: 32 << 20, Spent: btt("0.0128"), Earned: btt("0.0064"),
					Debt: btt("0.0004"), Credit: btt("0.0008")}},
			{Key: "[2001:db8::1]:7000", Client: "bidtorrent dev", Transport: "utp", PeerInterest: true, AmChoking: true,
				Progress: 0.1, Market: core.PeerMarket{Enabled: true, TheirBid: btt("0.0001"), Credit: btt("0.0004")}},
		},
		Market: core.TorrentMarket{MarketPolicy: core.MarketPolicy{BuyerStrategy: "adaptive", SellerStrategy: "uniform",
			Bid: btt("0.0003"), Ask: btt("0.0001"), Budget: btt("5")}, Price: btt("0.0002"), Spent: btt("0.0128"),
			Earned: btt("0.0064"), Unsettled: btt("0.002"), Sold: 32 << 20, Bought: 64 << 20, History: hist},
	}
	ubuntu := core.Torrent{
		InfoHash: hash(0xbb), Name: "ubuntu-24.04-desktop-amd64.iso", Labels: []string{"linux"},
		AddedAt: t0.Add(-24 * time.Hour), Size: 6 << 30, Done: 6 << 30, State: core.StateSeeding,
		UpRate: 1200 << 10, Uploaded: 14 << 30, Ratio: 2.33, PeerCount: 12, SeedCount: 0,
		PieceLength: 4 << 20, NumPieces: 1536,
		Market: core.TorrentMarket{MarketPolicy: core.MarketPolicy{SellerStrategy: "propshare", Ask: btt("0.0001")},
			Earned: btt("1.25")},
	}
	paused := core.Torrent{
		InfoHash: hash(0xcc), Name: "big buck bunny 1080p", AddedAt: t0.Add(-72 * time.Hour),
		Size: 885 << 20, Done: 100 << 20, State: core.StatePaused, PeerCount: 0,
	}
	magnet := core.Torrent{InfoHash: hash(0xdd), AddedAt: t0.Add(-time.Hour), State: core.StateMetadata}
	broken := core.Torrent{InfoHash: hash(0xee), Name: "archive.tar", AddedAt: t0.Add(-2 * time.Hour),
		Size: 10 << 30, Done: 1 << 30, State: core.StateError, Err: "disk full"}
	return core.Snapshot{
		Time:     t0,
		Torrents: []core.Torrent{debian, ubuntu, paused, magnet, broken},
		Totals: core.Totals{DownRate: 3 << 20, UpRate: 1712 << 10, Peers: 15, Spent: btt("0.0128"),
			Earned: btt("1.2564"), Unsettled: btt("0.002")},
		Limits: core.Limits{Up: 2 << 20},
		Market: core.MarketPolicy{BuyerStrategy: "fixed", SellerStrategy: "uniform", Bid: btt("0.0002"), Ask: btt("0.0001")},
		Wallet: core.WalletStatus{Address: "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", Chain: "local", Token: "BTT",
			Decimals: 18, Balance: btt("100.5"), Unsettled: btt("0.002")},
	}
}

// harness drives a Model the way the program would, running commands
// synchronously.
type harness struct {
	t   *testing.T
	m   *Model
	eng *fakeEngine
}

func newHarness(t *testing.T, w, h int, cfg Config) *harness {
	t.Helper()
	eng := newFake()
	if cfg.Theme == "" {
		cfg = DefaultConfig()
	}
	cfg.Theme = ThemeNone
	m, err := New(context.Background(), eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.log = slog.New(slog.DiscardHandler)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return &harness{t: t, m: m, eng: eng}
}

func (h *harness) snap(s core.Snapshot) *harness {
	h.m.Update(snapshotMsg{s})
	return h
}

// keys sends key presses, named as in KeyMap ("j", "enter", "ctrl+x",
// "space"); a string of several runes that is not a key name is typed.
func (h *harness) keys(names ...string) *harness {
	for _, n := range names {
		for _, msg := range keyMsgs(n) {
			_, cmd := h.m.Update(msg)
			h.run(cmd)
		}
	}
	return h
}

// run executes a command and feeds its message back, except the cursor
// blink and the snapshot wait, which would block or loop.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg.(type) {
		case resultMsg, completionMsg:
			_, next := h.m.Update(msg)
			h.run(next)
		}
	case <-time.After(2 * time.Second):
		h.t.Fatalf("a command blocked (the UI should not start timers in tests)")
	}
}

func keyMsgs(n string) []tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown},
		"left": {Code: tea.KeyLeft}, "right": {Code: tea.KeyRight}, "space": {Code: tea.KeySpace, Text: " "},
		"backspace": {Code: tea.KeyBackspace}, "pgdown": {Code: tea.KeyPgDown}, "pgup": {Code: tea.KeyPgUp},
		"home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd},
	}
	if k, ok := special[n]; ok {
		return []tea.KeyPressMsg{k}
	}
	if strings.HasPrefix(n, "ctrl+") && len(n) == 6 {
		return []tea.KeyPressMsg{{Code: rune(n[5]), Mod: tea.ModCtrl}}
	}
	var out []tea.KeyPressMsg
	for _, r := range n {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// screen is the view without escape codes, trailing spaces trimmed.
func (h *harness) screen() string {
	v := ansi.Strip(h.m.View().Content)
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// golden compares the screen with testdata/name.golden.
func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.screen()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test ./tui/ -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("screen %s differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

func mkdir(p string) error           { return os.MkdirAll(p, 0o755) }
func writeFile(p, data string) error { return os.WriteFile(p, []byte(data), 0o644) }
