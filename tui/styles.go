package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"

	"github.com/bidtorrent/bidtorrent/core"
)

// Styles is every style the UI uses, built from one theme.
type Styles struct {
	App       lipgloss.Style
	Header    lipgloss.Style // column headers
	Row       lipgloss.Style
	Selected  lipgloss.Style // the cursor row
	Marked    lipgloss.Style // rows marked for bulk actions
	Dim       lipgloss.Style
	Title     lipgloss.Style
	Tab       lipgloss.Style
	ActiveTab lipgloss.Style
	StatusBar lipgloss.Style
	Error     lipgloss.Style
	Info      lipgloss.Style
	Good      lipgloss.Style // earnings, complete
	Bad       lipgloss.Style // spending, debt
	Dialog    lipgloss.Style
	Danger    lipgloss.Style // destructive confirmation
	Key       lipgloss.Style // key names in help
	Label     lipgloss.Style
	States    map[core.State]lipgloss.Style
}

type palette struct {
	fg, dim, accent, accentFg, selBg, markFg, good, bad, warn, info color.Color
}

// NewStyles returns the styles of a theme (ThemeDefault, ThemeHighContrast
// or ThemeNone).
func NewStyles(theme string) *Styles {
	switch theme {
	case ThemeNone:
		return noColorStyles()
	case ThemeHighContrast:
		return fromPalette(palette{
			fg: lipgloss.Color("15"), dim: lipgloss.Color("7"), accent: lipgloss.Color("11"),
			accentFg: lipgloss.Color("0"), selBg: lipgloss.Color("15"), markFg: lipgloss.Color("14"),
			good: lipgloss.Color("10"), bad: lipgloss.Color("9"), warn: lipgloss.Color("11"), info: lipgloss.Color("14"),
		}, true)
	default:
		return fromPalette(palette{
			fg: lipgloss.Color("252"), dim: lipgloss.Color("244"), accent: lipgloss.Color("#7D56F4"),
			accentFg: lipgloss.Color("#FFFDF5"), selBg: lipgloss.Color("237"), markFg: lipgloss.Color("#E5C07B"),
			good: lipgloss.Color("#98C379"), bad: lipgloss.Color("#E06C75"), warn: lipgloss.Color("#E5C07B"), info: lipgloss.Color("#61AFEF"),
		}, false)
	}
}

func fromPalette(p palette, high bool) *Styles {
	s := lipgloss.NewStyle
	st := &Styles{
		App:       s(),
		Header:    s().Bold(true).Foreground(p.dim),
		Row:       s().Foreground(p.fg),
		Selected:  s().Background(p.selBg).Foreground(p.fg).Bold(true),
		Marked:    s().Foreground(p.markFg),
		Dim:       s().Foreground(p.dim),
		Title:     s().Bold(true).Foreground(p.accent),
		Tab:       s().Foreground(p.dim).Padding(0, 1),
		ActiveTab: s().Bold(true).Foreground(p.accentFg).Background(p.accent).Padding(0, 1),
		StatusBar: s().Foreground(p.fg),
		Error:     s().Foreground(p.bad).Bold(true),
		Info:      s().Foreground(p.info),
		Good:      s().Foreground(p.good),
		Bad:       s().Foreground(p.bad),
		Dialog:    s().Padding(0, 1).Border(lipgloss.RoundedBorder()).BorderForeground(p.accent),
		Danger:    s().Bold(true).Foreground(p.bad),
		Key:       s().Bold(true).Foreground(p.accent),
		Label:     s().Foreground(p.info),
		States: map[core.State]lipgloss.Style{
			core.StateDownloading: s().Foreground(p.info),
			core.StateSeeding:     s().Foreground(p.good),
			core.StatePaused:      s().Foreground(p.dim),
			core.StateQueued:      s().Foreground(p.dim),
			core.StateChecking:    s().Foreground(p.warn),
			core.StateMetadata:    s().Foreground(p.warn),
			core.StateError:       s().Foreground(p.bad).Bold(true),
		},
	}
	if high {
		st.Selected = s().Reverse(true).Bold(true)
		st.Dialog = st.Dialog.Border(lipgloss.DoubleBorder())
	}
	return st
}

func noColorStyles() *Styles {
	s := lipgloss.NewStyle
	plain := s()
	return &Styles{
		App: plain, Header: s().Bold(true), Row: plain, Selected: s().Reverse(true),
		Marked: s().Bold(true), Dim: plain, Title: s().Bold(true), Tab: s().Padding(0, 1),
		ActiveTab: s().Reverse(true).Padding(0, 1), StatusBar: plain, Error: s().Bold(true),
		Info: plain, Good: plain, Bad: plain,
		Dialog: s().Padding(0, 1).Border(lipgloss.NormalBorder()),
		Danger: s().Bold(true).Underline(true), Key: s().Bold(true), Label: plain,
		States: map[core.State]lipgloss.Style{},
	}
}

// state returns the style of a torrent state.
func (s *Styles) state(st core.State) lipgloss.Style {
	if v, ok := s.States[st]; ok {
		return v
	}
	return s.Row
}
