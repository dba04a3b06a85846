package daemon

import (
	"strings"
	"testing"
)

// The daemon's text output never carries a torrent name's escape sequences
// to the user's terminal.
func TestListSanitisesNames(t *testing.T) {
	eng := &fakeEngine{}
	e := start(t, eng, nil)
	snap := testSnapshot(t)
	snap.Torrents[0].Name = "evil\x1b]0;pwned\x07\x1b[2J\x9b2Jname\xff"
	eng.publish(snap)
	out, _, code := e.run(t, "", "list")
	if code != 0 {
		t.Fatal("list failed")
	}
	for _, bad := range []string{"\x1b", "\x07", "\x9b", "\xff"} {
		if strings.Contains(out, bad) {
			t.Errorf("list output holds %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "evil�]0;pwned��[2J�2Jname�") {
		t.Errorf("the name is not listed sanitised:\n%s", out)
	}
}
