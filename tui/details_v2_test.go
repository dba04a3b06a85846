package tui

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/core"
)

// TestDetailsV2: the General tab of a hybrid torrent shows its format and
// both infohashes (a v1 torrent's tab is the details_general golden).
func TestDetailsV2(t *testing.T) {
	s := fixture()
	var tr *core.Torrent
	for i := range s.Torrents {
		if strings.HasPrefix(s.Torrents[i].Name, "debian") { // the one "j" selects
			tr = &s.Torrents[i]
		}
	}
	tr.Format = core.FormatHybrid
	copy(tr.InfoHashV2[:], bytes.Repeat([]byte{0xcd}, 32))
	h := newHarness(t, 120, 30, Config{}).snap(s)
	h.keys("j", "enter")
	screen := h.screen()
	for _, want := range []string{
		`Info hash +` + tr.InfoHash.String(),
		`Info hash v2 +` + tr.InfoHashV2.String(),
		`Format +hybrid`,
	} {
		if !regexp.MustCompile(want).MatchString(screen) {
			t.Errorf("no %q in\n%s", want, screen)
		}
	}
}
