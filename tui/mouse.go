package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// handleWheel scrolls like the up and down keys when the mouse is on.
func (m *Model) handleWheel(msg tea.MouseWheelMsg) tea.Cmd {
	if m.dialog != nil || !m.mouse {
		return nil
	}
	k := m.sh.keys
	var b key.Binding
	switch msg.Button {
	case tea.MouseWheelUp:
		b = k.Up
	case tea.MouseWheelDown:
		b = k.Down
	default:
		return nil
	}
	if len(b.Keys()) == 0 {
		return nil
	}
	if m.help != nil {
		m.help.scroll(map[bool]int{true: -3, false: 3}[msg.Button == tea.MouseWheelUp])
		return nil
	}
	cmd, _ := m.current().handleKey(keyPress(b.Keys()[0]))
	return cmd
}

// handleClick moves the list cursor to the clicked row.
func (m *Model) handleClick(msg tea.MouseClickMsg) tea.Cmd {
	if m.dialog != nil || m.help != nil || !m.mouse || m.page != pageList || msg.Button != tea.MouseLeft {
		return nil
	}
	if msg.Y == 1 { // the column header: sort by the clicked column
		m.list.clickHeader(msg.X)
		return nil
	}
	m.list.clickRow(msg.Y - 2) // title line and column header
	return nil
}

// keyPress builds the key message a binding's key string names.
func keyPress(s string) tea.KeyPressMsg {
	switch s {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}
