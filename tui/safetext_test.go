package tui

import (
	"strconv"
	"strings"
	"testing"
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
