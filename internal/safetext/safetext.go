// Package safetext makes text that a peer or a torrent file controls
// (torrent and file names, client strings, memos, tracker and peer error
// messages) safe to print on a terminal: no escape sequence or control
// character it holds ever reaches the screen. The TUI, the CLI and the
// daemon's commands all print such text through it.
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bidtorrent/bidtorrent/core"
)

// String makes untrusted text safe to show: tabs and line breaks become
// spaces; other control characters (ESC, and with it every CSI, OSC or DCS
// sequence; C1 controls), invisible format characters (among them the
// bidirectional overrides and isolates that could reorder what is shown)
// and invalid UTF-8 become U+FFFD, so the reader sees that something was
// there.
func String(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 && utf8.ValidString(s) {
		return s // the common case, every frame: no copy
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError && invalidAt(s, i):
			b.WriteRune(utf8.RuneError)
		case r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Safe reports whether String would return s unchanged.
func Safe(s string) bool { return strings.IndexFunc(s, unsafeRune) < 0 && utf8.ValidString(s) }

// unsafeRune reports whether String replaces r.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// invalidAt reports whether s holds an invalid UTF-8 byte at i (rather
// than a real U+FFFD).
func invalidAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n == 1
}

// Strings applies String to each of ss, copying the slice only when one
// changes (a snapshot's slices are shared with other readers).
func Strings(ss []string) []string {
	for i, s := range ss {
		if !Safe(s) {
			out := append([]string(nil), ss...)
			for j := i; j < len(out); j++ {
				out[j] = String(out[j])
			}
			return out
		}
	}
	return ss
}

// Snapshot returns s with every string a peer or a torrent file controls
// made safe with String, for display. s itself, whose slices other readers
// share, is not modified.
func Snapshot(s core.Snapshot) core.Snapshot {
	s.Err = String(s.Err)
	s.Wallet.Err = String(s.Wallet.Err)
	s.Torrents = append([]core.Torrent(nil), s.Torrents...)
	for i := range s.Torrents {
		Torrent(&s.Torrents[i])
	}
	return s
}

// Torrent makes the strings of *t safe in place, copying each nested slice
// it changes.
func Torrent(t *core.Torrent) {
	t.Name = String(t.Name)
	t.Err = String(t.Err)
	t.Labels = Strings(t.Labels)
	if !filesSafe(t.Files) {
		fs := append([]core.File(nil), t.Files...)
		for i := range fs {
			fs[i].Path = String(fs[i].Path)
		}
		t.Files = fs
	}
	if !trackersSafe(t.Trackers) {
		ts := append([]core.Tracker(nil), t.Trackers...)
		for i := range ts {
			ts[i].URL, ts[i].Status, ts[i].LastErr = String(ts[i].URL), String(ts[i].Status), String(ts[i].LastErr)
		}
		t.Trackers = ts
	}
	if !peersSafe(t.Peers) {
		ps := append([]core.Peer(nil), t.Peers...)
		for i := range ps {
			p := &ps[i]
			p.Key = core.PeerKey(String(string(p.Key)))
			p.Client, p.Transport = String(p.Client), String(p.Transport)
			p.Extensions = Strings(p.Extensions)
			p.Market.Address, p.Market.Err = String(p.Market.Address), String(p.Market.Err)
		}
		t.Peers = ps
	}
}

func filesSafe(fs []core.File) bool {
	for i := range fs {
		if !Safe(fs[i].Path) {
			return false
		}
	}
	return true
}

func trackersSafe(ts []core.Tracker) bool {
	for i := range ts {
		if !Safe(ts[i].URL) || !Safe(ts[i].Status) || !Safe(ts[i].LastErr) {
			return false
		}
	}
	return true
}

func peersSafe(ps []core.Peer) bool {
	for i := range ps {
		p := &ps[i]
		if !Safe(string(p.Key)) || !Safe(p.Client) || !Safe(p.Transport) || !Safe(p.Market.Address) || !Safe(p.Market.Err) {
			return false
		}
		for _, e := range p.Extensions {
			if !Safe(e) {
				return false
			}
		}
	}
	return true
}
