package safetext

import (
	"strings"
	"testing"

	"github.com/bidtorrent/bidtorrent/core"
)

// Evil is a torrent name a hostile .torrent or peer could carry: an OSC
// that sets the window title, a CSI that clears the screen, a colour, a
// bell, a C1 CSI, a right-to-left override and invalid UTF-8.
const Evil = "evil\x1b]0;pwned\x07\x1b[2J\x1b[31mname\x9b2J\u0085\u202e\xff"

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"plain ☕ text":        "plain ☕ text",
		"a\tb\r\nc":           "a b  c",
		"\x00\x07\x7f":        "���",
		"rtl\u202eoverride":   "rtl�override",
		"iso\u2067late\u2069": "iso�late�",
		"bad\xff\xfeutf8":     "bad��utf8",
		"real \ufffd stays":   "real \ufffd stays",
		"line\u2028sep":       "line sep",
		"osc\x1b]52;c;aGk=\a": "osc�]52;c;aGk=�",
		"c1\u009b31m":         "c1�31m",
		Evil:                  "evil�]0;pwned��[2J�[31mname�2J���",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
		if got := String(in); !Safe(got) {
			t.Errorf("String(%q) = %q is not Safe", in, got)
		}
	}
}

// Snapshot cleans every peer- or file-controlled string and leaves the
// snapshot it was given (shared with other readers) untouched.
func TestSnapshot(t *testing.T) {
	s := core.Snapshot{Err: Evil, Torrents: []core.Torrent{{
		Name: Evil, Err: Evil, Labels: []string{"ok", Evil},
		Files:    []core.File{{Path: "d/" + Evil}},
		Trackers: []core.Tracker{{URL: "http://x/" + Evil, LastErr: Evil}},
		Peers:    []core.Peer{{Key: "1.2.3.4:5", Client: Evil, Extensions: []string{Evil}}},
	}}}
	got := Snapshot(s)
	tt, p := got.Torrents[0], got.Torrents[0].Peers[0]
	for _, v := range []string{got.Err, tt.Name, tt.Err, tt.Labels[1], tt.Files[0].Path, tt.Trackers[0].URL,
		tt.Trackers[0].LastErr, p.Client, p.Extensions[0]} {
		if strings.ContainsAny(v, "\x1b\x07\u009b\u0085\u202e") || !Safe(v) {
			t.Errorf("unsafe after Snapshot: %q", v)
		}
	}
	o := s.Torrents[0]
	if o.Name != Evil || o.Labels[1] != Evil || o.Files[0].Path != "d/"+Evil || o.Peers[0].Client != Evil {
		t.Error("Snapshot modified its argument")
	}
}
