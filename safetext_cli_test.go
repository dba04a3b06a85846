package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/core"
)

// The CLI's progress lines never carry a torrent name's escape sequences
// to the terminal.
func TestProgressSanitisesName(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.update(core.Torrent{Name: "evil\x1b]0;pwned\x07\x1b[2J\x9b2Jname\xff", Size: 100, Done: 50, State: core.StateDownloading})
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\x9b", "\xff"} {
		if strings.Contains(out, bad) {
			t.Errorf("progress output holds %q: %q", bad, out)
		}
	}
	if !strings.HasPrefix(out, "evil�]0;pwned��[2J�2Jname�: 50.0%") {
		t.Errorf("progress line %q", out)
	}
}
