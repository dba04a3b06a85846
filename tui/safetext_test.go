package tui

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// evilName carries an OSC (window title), a screen clear, a bell, a C1 CSI
// and invalid UTF-8, as a hostile .torrent or peer metadata could.
const evilName = "evil\x1b]0;pwned\x07\x1b[2J\x9b2Jname\xff"

// No escape sequence in a torrent name, file path or peer client string
// reaches the screen, in the list or in the details tabs, truncated or not.
func TestHostileNamesSanitised(t *testing.T) {
	s := fixture()
	for i := range s.Torrents {
		s.Torrents[i].Name = evilName + strconv.Itoa(i)
		for j := range s.Torrents[i].Peers {
			s.Torrents[i].Peers[j].Client = evilName
		}
		for j := range s.Torrents[i].Files {
			s.Torrents[i].Files[j].Path = "d/" + evilName
		}
	}
	for _, width := range []int{140, 60} { // 60: the name is truncated
		h := newHarness(t, width, 30, Config{}).snap(s)
		screens := map[string]string{"list": h.m.View().Content}
		h.keys("enter")
		for tab, key := range map[string]string{"general": "1", "files": "2", "peers": "3"} {
			h.keys(key)
			screens[tab] = h.m.View().Content
		}
		for name, raw := range screens {
			for _, bad := range []string{"\x1b]", "\x07", "\x1b[2J", "\u009b", "\x9b", "\xff"} {
				if strings.Contains(raw, bad) {
					t.Errorf("width %d, %s: the screen holds %q from a torrent name", width, name, bad)
				}
			}
		}
		if !strings.Contains(screens["list"], "evil�]0;pwned") {
			t.Errorf("width %d: the name is not shown sanitised:\n%s", width, h.screen())
		}
	}
}

// A snapshot whose Torrents are the previous one's (the engine publishes
// them so while no torrent changes) reuses their sanitised copy; another
// is sanitised afresh.
func TestSameTorrentsNotCopied(t *testing.T) {
	s := fixture()
	s.Torrents[0].Name = evilName
	h := newHarness(t, 140, 30, Config{}).snap(s)
	first := &h.m.sh.snap.Torrents[0]
	later := s
	later.Time = s.Time.Add(time.Second)
	h.snap(later)
	if got := &h.m.sh.snap.Torrents[0]; got != first {
		t.Errorf("unchanged torrents were copied again")
	}
	copied := later
	copied.Torrents = slices.Clone(s.Torrents)
	copied.Torrents[0].Name = evilName + "2"
	h.snap(copied)
	got := h.m.sh.snap.Torrents[0]
	if &h.m.sh.snap.Torrents[0] == first || !strings.HasSuffix(got.Name, "2") {
		t.Errorf("changed torrents not applied: %q", got.Name)
	}
	for _, tr := range h.m.sh.snap.Torrents {
		for _, bad := range []string{"\x1b", "\x07", "\x9b"} {
			if strings.Contains(tr.Name, bad) || !utf8.ValidString(tr.Name) {
				t.Errorf("name %q not sanitised", tr.Name)
			}
		}
	}
	if h.m.sh.byHash[got.InfoHash] != 0 {
		t.Errorf("index of the first torrent %d", h.m.sh.byHash[got.InfoHash])
	}
}
