package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestGoldenScreens(t *testing.T) {
	cases := []struct {
		name string
		w, h int
		keys []string
	}{
		{"list_80x24", 80, 24, nil},
		{"list_wide", 180, 30, nil},
		{"list_40x12", 40, 12, nil},
		{"list_sorted_marked", 120, 24, []string{"s", "s", "s", "j", "space", "space"}},
		{"list_filtered", 120, 24, []string{"/", "label:linux -state:paused", "enter"}},
		{"details_general", 80, 24, []string{"j", "enter"}},
		{"details_files", 80, 24, []string{"j", "enter", "2", "j", "j"}},
		{"details_peers", 80, 24, []string{"j", "enter", "3"}},
		{"details_peers_wide", 180, 24, []string{"j", "enter", "3"}},
		{"details_trackers", 80, 24, []string{"j", "enter", "4"}},
		{"details_pieces", 80, 24, []string{"j", "enter", "5"}},
		{"details_market", 80, 24, []string{"j", "enter", "6"}},
		{"details_market_wide", 160, 40, []string{"j", "enter", "6"}},
		{"help", 80, 24, []string{"?"}},
		{"help_scrolled", 80, 24, []string{"?", "pgdown"}},
		{"dialog_add", 80, 24, []string{"a", "/tmp/x.torrent"}},
		{"dialog_remove", 80, 24, []string{"X"}},
		{"dialog_remove_data", 80, 24, []string{"ctrl+x"}},
		{"dialog_market", 80, 24, []string{"j", "m"}},
		{"dialog_options", 80, 24, []string{"O"}},
		{"dialog_filter_error", 80, 24, []string{"/", "ratio~2", "enter"}},
		{"wallet", 80, 24, []string{"w"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.w, c.h, Config{}).snap(fixture())
			h.keys(c.keys...)
			h.golden(c.name)
		})
	}
}

func TestResizeReflows(t *testing.T) {
	h := newHarness(t, 80, 24, Config{}).snap(fixture())
	narrow := h.screen()
	h.m.Update(tea.WindowSizeMsg{Width: 160, Height: 30})
	wide := h.screen()
	if n := strings.Count(narrow, "\n"); n != 24 {
		t.Errorf("80×24 screen has %d lines", n)
	}
	if n := strings.Count(wide, "\n"); n != 30 {
		t.Errorf("160×30 screen has %d lines", n)
	}
	if strings.Contains(narrow, "earned/spent") || !strings.Contains(wide, "earned/spent") {
		t.Errorf("the earned/spent column should show only when wide")
	}
	for _, l := range strings.Split(narrow, "\n") {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("line wider than 80: %d %q", w, l)
		}
	}
}
