package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// evilMemo mixes an escape sequence, a bidi override, a bidi isolate, a
// zero-width joiner, a newline and a C1 control into a memo.
const evilMemo = "hi\x1b[31mRED\u202eevil\u2066x\u200dy\nz\u0085!"

func payee(t testing.TB) wallet.Address {
	t.Helper()
	a, err := wallet.ParseAddress("4101ce61b038c4ba3a48ac4f3bd5ba9940be42432c")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tipper is the address of a peer that tips (41aa…aa).
func tipper(t testing.TB) wallet.Address {
	t.Helper()
	a, err := wallet.ParseAddress("41aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// commerceFixture is fixture() with debian a paid torrent of a publisher
// running a campaign, with payments both ways.
func commerceFixture(t testing.TB) core.Snapshot {
	s := fixture()
	d := &s.Torrents[0]
	deadline := t0.Add(30*24*time.Hour + 90*time.Minute)
	d.Terms = &market.Terms{Payee: payee(t), ChainID: 1, Price: btt("2.5"), Goal: btt("1000"), Deadline: deadline}
	d.Campaign = &market.Campaign{Goal: btt("1000"), Pledged: btt("250"), Count: 3, Deadline: deadline, Ours: btt("10")}
	d.Market.Payments = []market.Payment{
		{Time: t0.Add(-3 * time.Hour), For: "purchase", Peer: payee(t), Amount: btt("2.5")},
		{Time: t0.Add(-2 * time.Hour), In: true, For: "tip", Peer: tipper(t), Amount: btt("0.75"), Memo: evilMemo},
		{Time: t0.Add(-time.Hour), For: "tip", Peer: payee(t), Amount: btt("1"), Memo: "thanks for the iso ☕"},
	}
	return s
}

func TestGoldenCommerceScreens(t *testing.T) {
	cases := []struct {
		name string
		w, h int
		keys []string
	}{
		{"commerce_market", 100, 30, []string{"j", "enter", "6"}},
		{"commerce_general", 80, 24, []string{"j", "enter"}},
		{"commerce_general_bottom", 80, 24, []string{"j", "enter", "G"}},
		{"commerce_general_pgdown", 80, 24, []string{"j", "enter", "pgdown", "k"}},
		{"commerce_market_80x24", 80, 24, []string{"j", "enter", "6"}},
		{"commerce_market_bottom", 80, 24, []string{"j", "enter", "6", "G"}},
		{"commerce_tip_peer", 80, 24, []string{"j", "enter", "3", "j", "$", "1.5", "down", "thanks ☕"}},
		{"commerce_tip_publisher", 80, 24, []string{"j", "$"}},
		{"commerce_buy", 80, 24, []string{"j", "B"}},
		{"commerce_pledge", 80, 24, []string{"j", "&"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.w, c.h, Config{}).snap(commerceFixture(t))
			h.keys(c.keys...)
			h.golden(c.name)
		})
	}
}

func TestTipPeerCallsEngine(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	// Peers fastest first: 192.0.2.10 (no btt_bid), 198.51.100.7, [2001:db8::1].
	h.keys("j", "enter", "3", "j", "$", "1.5", "down", "thanks ☕", "enter")
	wantCalls(t, h.eng, `tip aaaa to=198.51.100.7:6881 amount=1500000000000000000 memo="thanks ☕"`)
	if s := h.screen(); !strings.Contains(s, `tipped 1.5 BTT to 198.51.100.7:6881 for debian-13.2.0-amd64-netinst.iso: "thanks ☕"`) {
		t.Errorf("no result in the status line:\n%s", s)
	}
	if h.m.dialog != nil {
		t.Errorf("the dialog is still open")
	}
}

func TestTipPublisherCallsEngine(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	h.keys("j", "$", "2 BTT", "enter") // from the list: the publisher; no memo
	wantCalls(t, h.eng, `tip aaaa to=publisher amount=2000000000000000000 memo=""`)
	h.eng.calls = nil
	h.keys("enter", "6", "$", "0.1", "enter") // the Market tab tips the publisher too
	wantCalls(t, h.eng, `tip aaaa to=publisher amount=100000000000000000 memo=""`)
}

func TestTipRefusals(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	// The first peer does not speak btt_bid: no dialog.
	h.keys("j", "enter", "3", "$")
	if h.m.dialog != nil || !strings.Contains(h.screen(), "cannot tip 192.0.2.10:51413: it does not speak btt_bid") {
		t.Errorf("tipping a legacy peer should be refused in the status line:\n%s", h.screen())
	}
	// Bad amounts and a long memo stay in the dialog with the reason.
	h.keys("j", "$")
	for _, c := range []struct{ amount, memo, want string }{
		{"", "", "enter an amount in BTT"},
		{"0", "", "the amount must be more than 0"},
		{"-1", "", "amount:"},
		{"abc", "", "amount:"},
		{"1", strings.Repeat("é", 71), "memo: 142 bytes, at most 140"},
	} {
		h.keys("ctrl+u", c.amount, "down", "ctrl+u", c.memo, "enter")
		if h.m.dialog == nil {
			t.Fatalf("amount %q memo %q: the dialog closed", c.amount, c.memo)
		}
		if s := h.screen(); !strings.Contains(s, c.want) {
			t.Errorf("amount %q memo %q: want %q in:\n%s", c.amount, c.memo, c.want, s)
		}
		h.keys("up")
	}
	h.keys("esc")
	wantCalls(t, h.eng)
	// A free torrent without terms has no publisher to tip.
	h.keys("esc", "j", "$")
	if h.m.dialog != nil || !strings.Contains(h.screen(), "the torrent names none") {
		t.Errorf("tipping the publisher of a torrent without terms should be refused:\n%s", h.screen())
	}
	wantCalls(t, h.eng)
}

func TestTipRefusedByEngine(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	h.eng.TipFn = func(context.Context, core.InfoHash, string, wallet.Amount, string) error {
		return errors.New("refused: 408 not_payee")
	}
	h.keys("j", "$", "1", "enter")
	if s := h.screen(); !strings.Contains(s, "cannot tip 1 BTT to the publisher: refused: 408 not_payee") {
		t.Errorf("refusal not shown:\n%s", s)
	}
}

func TestTipNeedsWallet(t *testing.T) {
	s := commerceFixture(t)
	s.Wallet = core.WalletStatus{}
	h := newHarness(t, 100, 30, Config{}).snap(s)
	h.keys("j", "$")
	if h.m.dialog != nil || !strings.Contains(h.screen(), "cannot tip: no wallet is open") {
		t.Errorf("tip without a wallet should be refused:\n%s", h.screen())
	}
}

func TestBuyConfirmsPriceAndPayee(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	h.keys("j", "B")
	s := h.screen()
	if !strings.Contains(s, "2.5 BTT") || !strings.Contains(s, payee(t).String()) {
		t.Errorf("the confirmation does not show the price and payee:\n%s", s)
	}
	h.keys("n")
	wantCalls(t, h.eng)
	h.keys("B", "y")
	wantCalls(t, h.eng, "buy aaaa max=2500000000000000000")
	if s := h.screen(); !strings.Contains(s, "bought debian-13.2.0-amd64-netinst.iso for 2.5 BTT: licensed") {
		t.Errorf("no result in the status line:\n%s", s)
	}
	// Licensed, or free: nothing to buy, no dialog.
	lic := commerceFixture(t)
	lic.Torrents[0].Licensed = true
	h.snap(lic)
	h.eng.calls = nil
	h.keys("B", "y", "j", "B", "y")
	wantCalls(t, h.eng)
}

func TestPledge(t *testing.T) {
	h := newHarness(t, 100, 30, Config{}).snap(commerceFixture(t))
	h.keys("j", "&")
	if s := h.screen(); !strings.Contains(s, "goal 1000 BTT by 2026-12-24 13:30 UTC") {
		t.Errorf("the pledge dialog does not show the goal and deadline:\n%s", s)
	}
	h.keys("ctrl+u", "25", "enter") // prefilled with our pledge, 10
	wantCalls(t, h.eng, "pledge aaaa amount=25000000000000000000")
	// Expired: refused without a dialog; no campaign: likewise.
	s := commerceFixture(t)
	s.Torrents[0].Campaign.Expired = true
	h.snap(s)
	h.eng.calls = nil
	h.keys("&", "j", "&")
	if h.m.dialog != nil {
		t.Errorf("a dialog opened")
	}
	wantCalls(t, h.eng)
}

func TestMemoSanitised(t *testing.T) {
	h := newHarness(t, 140, 30, Config{}).snap(commerceFixture(t))
	h.keys("j", "enter", "6")
	raw := h.m.View().Content
	for _, bad := range []string{"\x1b[31m", "\u202e", "\u2066", "\u200d", "\u0085", "\nz"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the screen holds %q from a memo", bad)
		}
	}
	if want := "hi�[31mRED�evil�x�y z�!"; !strings.Contains(raw, want) {
		t.Errorf("the memo is not shown sanitised as %q:\n%s", want, h.screen())
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain ☕ text":        "plain ☕ text",
		"a\tb\r\nc":           "a b  c",
		"\x00\x07\x7f":        "���",
		"rtl\u202eoverride":   "rtl�override",
		"iso\u2067late\u2069": "iso�late�",
		"lrm\u200e\u200f":     "lrm��",
		"bad\xff\xfeutf8":     "bad��utf8",
		"real \ufffd stays":   "real \ufffd stays",
		"line\u2028sep":       "line sep",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReceivedPaymentInStatusLine(t *testing.T) {
	h := newHarness(t, 160, 30, Config{}).snap(commerceFixture(t))
	if strings.Contains(h.screen(), "received") {
		t.Errorf("payments of the first snapshot are not news:\n%s", h.screen())
	}
	s := commerceFixture(t)
	d := &s.Torrents[0]
	d.Market.Payments = append(d.Market.Payments, market.Payment{Time: t0.Add(time.Minute), In: true, For: "tip",
		Peer: tipper(t), Amount: btt("3"), Memo: "gg\u202e"})
	h.snap(s)
	want := "received tip of 3 BTT from TRXcKoEvHr6Y38VMcDYGBEYKznvH3XUX4g for debian-13.2.0-amd64-netinst.iso: “gg�”"
	if !strings.Contains(h.screen(), want) {
		t.Errorf("want %q in:\n%s", want, h.screen())
	}
	h.keys("j", "p") // another status replaces it; the same payment is not news again
	h.snap(s)
	if strings.Contains(h.screen(), "received tip") {
		t.Errorf("the same payment was noted twice:\n%s", h.screen())
	}
}

// TestGeneralScrolls: at 80×24 a paid torrent with a campaign has more
// General lines than fit; j/k, PgDn/PgUp, G/g and the wheel's keys move
// the view by lines, the tab bar says what is hidden, and the last line
// is reachable.
func TestGeneralScrolls(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(commerceFixture(t))
	h.keys("j", "enter")
	first, last := "Name            debian", "Paid bytes      sold 32M, bought 64M"
	// step presses keys and checks the first and last lines' visibility
	// and the tab bar's hint.
	step := func(keys []string, top, bottom bool, hint string) {
		t.Helper()
		h.keys(keys...)
		scr := h.screen()
		bar := strings.Split(scr, "\n")[1]
		got := strings.TrimSpace(bar[strings.Index(bar, "6 Market")+len("6 Market"):])
		if strings.Contains(scr, first) != top || strings.Contains(scr, last) != bottom || got != hint {
			t.Errorf("after %q: want first line %v, last line %v, hint %q; got hint %q:\n%s", keys, top, bottom, hint, got, scr)
		}
	}
	step(nil, true, false, "↓ 3 more")
	step([]string{"j"}, false, false, "↑ 1 ↓ 2 more")
	step([]string{"j", "j", "j", "j"}, false, true, "↑ 3 more") // past the end: stays there
	step([]string{"k"}, false, false, "↑ 2 ↓ 1 more")
	step([]string{"pgup"}, true, false, "↓ 3 more")
	step([]string{"pgdown"}, false, true, "↑ 3 more")
	step([]string{"g"}, true, false, "↓ 3 more")
	step([]string{"G"}, false, true, "↑ 3 more")
	step([]string{"home"}, true, false, "↓ 3 more")
	step([]string{"end"}, false, true, "↑ 3 more")
	step([]string{"up", "up"}, false, false, "↑ 1 ↓ 2 more")
	step([]string{"down"}, false, false, "↑ 2 ↓ 1 more")
	// A taller terminal shows everything: no hint, nothing scrolls.
	h.m.Update(tea.WindowSizeMsg{Width: 80, Height: 40})
	step(nil, true, true, "")
	step([]string{"j"}, true, true, "")
	wantCalls(t, h.eng)
}

func TestPublisherSeesOwnTerms(t *testing.T) {
	s := commerceFixture(t)
	s.Wallet.Address = payee(t).String()
	h := newHarness(t, 120, 30, Config{}).snap(s)
	h.keys("j", "enter")
	scr := h.screen()
	for _, want := range []string{payee(t).String() + " (you)", "2.5 BTT · served to licence holders only"} {
		if !strings.Contains(scr, want) {
			t.Errorf("General lacks %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, "licensed no") || strings.Contains(scr, "B buy") {
		t.Errorf("the publisher is offered to buy its own torrent:\n%s", scr)
	}
	for _, k := range []string{"B", "$", "&"} {
		h.keys(k)
		if h.m.dialog != nil {
			t.Fatalf("%s opened a dialog for the publisher itself", k)
		}
		if !strings.Contains(h.screen(), "you are the publisher of debian-13.2.0-amd64-netinst.iso") {
			t.Errorf("%s: no explanation:\n%s", k, h.screen())
		}
	}
	wantCalls(t, h.eng)
}

// BenchmarkSanitizeClean is the per-frame cost of a clean memo.
func BenchmarkSanitizeClean(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = sanitize("thanks for the fast seed! ☕")
	}
}
