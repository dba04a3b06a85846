package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/bytesize"
	"github.com/bidtorrent/bidtorrent/tui"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// Switcher is a tui.Engine that forwards to the engine of one live node of
// a Swarm, chosen with Next and Prev; its snapshots follow the node in
// view, including the fresh node that replaces a finished one.
type Switcher struct {
	core.Current // the commands, on the node in view
	s            *Swarm

	mu      sync.Mutex
	slot    int
	changed chan struct{} // closed and replaced when the slot changes
}

// NewSwitcher returns a Switcher on the node in slot.
func NewSwitcher(s *Swarm, slot int) *Switcher {
	w := &Switcher{s: s, slot: slot, changed: make(chan struct{})}
	w.Current = w.eng
	return w
}

// Node returns the node in view.
func (w *Switcher) Node() *Node {
	w.mu.Lock()
	slot := w.slot
	w.mu.Unlock()
	live := w.s.Live()
	return live[min(slot, len(live)-1)]
}

// Next moves the view to the next node (d = 1) or the previous (d = -1).
func (w *Switcher) Next(d int) {
	n := len(w.s.Live())
	w.mu.Lock()
	w.slot = ((w.slot+d)%n + n) % n
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

func (w *Switcher) watch() (<-chan struct{}, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed, w.s.Changed()
}

func (w *Switcher) eng() *core.Engine { return w.Node().Engine }

// Subscribe implements tui.Engine: the snapshots of the node in view.
func (w *Switcher) Subscribe() (<-chan core.Snapshot, func()) {
	return core.Follow(func() (*core.Engine, <-chan struct{}, <-chan struct{}, bool) {
		switched, replaced := w.watch()
		return w.eng(), switched, replaced, true
	})
}

var _ tui.Engine = (*Switcher)(nil)

// Keys of the node bar; ctrl keys, so they never type into a dialog.
const (
	KeyNextNode = "ctrl+n"
	KeyPrevNode = "ctrl+p"
)

// Model wraps the TUI with a node bar on the last line: which node is in
// view, and ctrl+n / ctrl+p to look through another node's eyes.
type Model struct {
	inner         *tui.Model
	sw            *Switcher
	width, height int
	bar           lipgloss.Style
}

// NewModel returns the demo's UI on sw.
func NewModel(ctx context.Context, sw *Switcher, cfg tui.Config) (*Model, error) {
	inner, err := tui.New(ctx, sw, cfg)
	if err != nil {
		return nil, err
	}
	return &Model{inner: inner, sw: sw, width: 80, height: 24,
		bar: lipgloss.NewStyle().Reverse(true)}, nil
}

// Close ends the UI's subscription.
func (m *Model) Close() { m.inner.Close() }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return m.inner.Init() }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		_, cmd := m.inner.Update(tea.WindowSizeMsg{Width: msg.Width, Height: max(1, msg.Height-1)})
		return m, cmd
	case tea.KeyPressMsg:
		switch msg.String() {
		case KeyNextNode:
			m.sw.Next(1)
			return m, nil
		case KeyPrevNode:
			m.sw.Next(-1)
			return m, nil
		}
	}
	_, cmd := m.inner.Update(msg)
	return m, cmd
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := m.inner.View()
	v.Content = strings.TrimRight(v.Content, "\n") + "\n" + m.bar.Render(fitLine(m.nodeBar(), m.width))
	return v
}

func (m *Model) nodeBar() string {
	n := m.sw.Node()
	live := m.sw.s.Live()
	what := string(n.Role)
	switch n.Role {
	case RoleSeeder:
		what += fmt.Sprintf(" %s, ask %s BTT/MiB, upload %s/s", n.Strategy, m.sw.s.opts.Ask.Format(wallet.BTTDecimals), bytesize.Format(m.sw.s.opts.Rate))
	case RoleBidder:
		what += fmt.Sprintf(" %s, bid %s BTT/MiB", n.Strategy, n.Bid.Format(wallet.BTTDecimals))
		if !n.Budget.IsZero() {
			what += ", budget " + n.Budget.Format(wallet.BTTDecimals)
		}
	case RoleLegacy:
		what += ", market off"
	}
	return fmt.Sprintf(" demo node %d/%d: %s (%s, %s)  ctrl+n/ctrl+p: other node", n.Slot+1, len(live), n.Label(), what, n.IP)
}

func fitLine(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:w])
	}
	return s + strings.Repeat(" ", w-len(r))
}
