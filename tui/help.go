package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
)

// helpPane is the full, scrollable help generated from the live KeyMap:
// every binding with its keys, what it does and its [tui.keys] name.
type helpPane struct {
	sh            *shared
	lines         []string
	offset        int
	width, height int
}

func newHelpPane(sh *shared) *helpPane {
	h := &helpPane{sh: sh}
	h.build()
	return h
}

func (h *helpPane) build() {
	st := h.sh.st
	h.lines = []string{st.Title.Render("Keys") + st.Dim.Render("  (rebind in the config file under [tui.keys], e.g. remove = \"D\")")}
	for _, g := range h.sh.keys.helpGroups() {
		h.lines = append(h.lines, "", st.Header.Render(g.title))
		for i, b := range g.bindings {
			hk := b.Help()
			keys := hk.Key
			if !b.Enabled() {
				keys = "(unbound)"
			}
			h.lines = append(h.lines, "  "+st.Key.Render(fit(keys, 22))+" "+fit(hk.Desc, 26)+" "+st.Dim.Render(g.names[i]))
		}
	}
	h.lines = append(h.lines, "", st.Header.Render("Filter expressions (/)"),
		"  word  name~text  state:seeding  label:linux  hash:1f2e  -state:paused",
		"  size>1G  progress<50  ratio>2  peers>=5  down>1M  eta<1h  earned>0  bid<0.01",
		"", st.Header.Render("Peer flags"),
		"  D/d downloading (d: choked)  U/u uploading (u: we choke)  I incoming  E encrypted",
		"  P uTP  $ market on  A we award it paid service  a it awards us",
		"", st.Header.Render("Columns (sort with s, reverse with r)"),
		"  "+strings.Join(columnNames(), "  "))
}

func (h *helpPane) setSize(w, ht int) {
	h.width, h.height = w, ht
	h.scroll(0)
}

func (h *helpPane) scroll(d int) {
	h.offset = max(0, min(h.offset+d, len(h.lines)-h.height))
}

func (h *helpPane) handleKey(msg tea.KeyPressMsg) {
	if d, ok := h.sh.keys.nav(msg, h.height); ok {
		h.scroll(d)
	}
}

func (h *helpPane) view(width, height int) string {
	end := min(len(h.lines), h.offset+height)
	out := make([]string, 0, height)
	for _, l := range h.lines[h.offset:end] {
		out = append(out, fit(l, width))
	}
	return padLines(strings.Join(out, "\n"), height)
}
