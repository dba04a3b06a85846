// Package tui is bidtorrent's terminal user interface: a Bubble Tea program
// that renders the engine's immutable snapshots (torrents, peers, the
// bandwidth market, the wallet) and sends it commands.
//
// The root Model is small: it owns the shared state (latest snapshot,
// styles, keys), routes keys to the open dialog, the help screen or the
// current page (torrent list, details, wallet), and turns actions into
// engine commands. Engine commands run in tea.Cmds with a timeout; Update
// and View never do I/O. One Model serves one terminal: the SSH daemon runs
// one per session on the same Engine.
package tui

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// cmdTimeout bounds every engine command the UI issues.
const cmdTimeout = 15 * time.Second

// page is what fills the body of the screen.
type page int

const (
	pageList page = iota
	pageDetails
	pageWallet
)

// pane is the contract of a page: it handles keys it knows (reporting
// whether it did), renders into a box, and names its keys for the short
// help line.
type pane interface {
	handleKey(msg tea.KeyPressMsg) (tea.Cmd, bool)
	view(width, height int) string
	shortHelp() []key.Binding
}

// shared is the state every component reads. Only the root Model writes it,
// in Update.
type shared struct {
	snap     core.Snapshot
	raw      []core.Torrent // the engine's Torrents behind snap's sanitised ones
	byHash   map[core.InfoHash]int
	st       *Styles
	keys     *KeyMap
	cfg      Config
	decimals int
	token    string
	step     wallet.Amount
	// walletState is the Locker's state ("" without one), read at each
	// snapshot.
	walletState string
}

// torrent returns the torrent with hash ih in the latest snapshot, or nil.
func (s *shared) torrent(ih core.InfoHash) *core.Torrent {
	if i, ok := s.byHash[ih]; ok {
		return &s.snap.Torrents[i]
	}
	return nil
}

// amount formats a token amount in at most width cells.
func (s *shared) amount(a wallet.Amount, width int) string {
	return fmtAmount(a, s.decimals, width)
}

// Model is the root Bubble Tea model of one UI session.
type Model struct {
	sh      *shared
	eng     Engine
	locker  Locker // nil unless eng can run locked
	ctx     context.Context
	log     *slog.Logger
	sub     <-chan core.Snapshot
	unsub   func()
	endOnce sync.Once

	width, height int
	page          page
	list          *listPane
	details       *detailsPane
	wallet        *walletPane
	help          *helpPane // non-nil while the help screen is open
	dialog        dialog    // non-nil while a dialog is open
	mouse         bool

	status    string
	statusErr bool
	seenErr   time.Time // engine error already shown
	seenPay   time.Time // newest received payment already noted
	paySeeded bool      // seenPay is set from a first snapshot
	gotSnap   bool
}

// New returns a UI model on eng. ctx bounds the engine commands the UI
// issues and the snapshot subscription; cancel it (or quit) to end them.
// It fails when cfg is invalid.
func New(ctx context.Context, eng Engine, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start the UI: [tui] %w", err)
	}
	km := DefaultKeyMap()
	if err := km.Rebind(cfg.Keys); err != nil {
		return nil, err
	}
	sh := &shared{
		byHash:   map[core.InfoHash]int{},
		st:       NewStyles(cfg.Theme),
		keys:     &km,
		cfg:      cfg,
		decimals: wallet.BTTDecimals,
		token:    "BTT",
	}
	sh.step, _ = cfg.bidStep(sh.decimals)
	m := &Model{
		sh:     sh,
		eng:    eng,
		ctx:    ctx,
		log:    slog.Default().With("component", "tui"),
		mouse:  cfg.Mouse,
		width:  80,
		height: 24,
	}
	m.list = newListPane(sh)
	m.details = newDetailsPane(sh)
	m.details.setPrio = func(ih core.InfoHash, what string, files []int, p core.Priority) tea.Cmd {
		return m.do("set priority of "+what+" to "+prioName(p, true), func(ctx context.Context) error {
			for _, f := range files {
				if err := eng.SetFilePriority(ctx, ih, f, p); err != nil {
					return err
				}
			}
			return nil
		})
	}
	m.wallet = newWalletPane(sh)
	if l, ok := eng.(Locker); ok {
		m.locker = l
		sh.walletState = l.WalletState()
	}
	if f, err := ParseFilter(cfg.Filter, sh.decimals); err == nil {
		m.list.setFilter(f)
	}
	m.layout()
	return m, nil
}

// Init subscribes to the engine's snapshots.
func (m *Model) Init() tea.Cmd {
	if m.sub == nil {
		m.sub, m.unsub = m.eng.Subscribe()
	}
	return waitSnapshot(m.ctx, m.sub)
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		m.applySnapshot(msg.snap)
		return m, waitSnapshot(m.ctx, m.sub)
	case engineClosedMsg:
		m.setStatus("the engine has stopped", true)
		return m, nil
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.ColorProfileMsg:
		if msg.Profile == colorprofile.NoTTY || msg.Profile == colorprofile.ASCII {
			m.setTheme(ThemeNone)
		}
		return m, nil
	case resultMsg:
		m.result(msg)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.MouseWheelMsg:
		return m, m.handleWheel(msg)
	case tea.MouseClickMsg:
		return m, m.handleClick(msg)
	}
	if m.dialog != nil { // cursor blinks, completions
		_, cmd := m.dialog.update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) setTheme(theme string) {
	*m.sh.st = *NewStyles(theme)
}

func (m *Model) setStatus(s string, isErr bool) {
	m.status, m.statusErr = s, isErr
}

// layout hands each page its box after a resize.
func (m *Model) layout() {
	w, h := m.width, m.bodyHeight()
	m.list.setSize(w, h)
	m.details.setSize(w, h)
	if m.help != nil {
		m.help.setSize(w, m.height-1)
	}
}

// bodyHeight is the screen minus the title, status, message and help lines.
func (m *Model) bodyHeight() int { return max(1, m.height-4) }

func (m *Model) current() pane {
	switch m.page {
	case pageDetails:
		return m.details
	case pageWallet:
		return m.wallet
	}
	return m.list
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.sh.keys
	// A quit key that types nothing (ctrl+c) quits even from a dialog.
	hardQuit := key.Matches(msg, k.Quit) && msg.Text == ""
	if m.dialog != nil {
		if hardQuit {
			return m.quit()
		}
		done, cmd := m.dialog.update(msg)
		if done {
			m.dialog = nil
		}
		return cmd
	}
	if m.help != nil {
		switch {
		case hardQuit:
			return m.quit()
		case key.Matches(msg, k.Help, k.Back, k.Quit):
			m.help = nil
		default:
			m.help.handleKey(msg)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit) && m.page != pageList && !hardQuit:
		m.page = pageList // q leaves a page first; ctrl+c always quits
		return nil
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help = newHelpPane(m.sh)
		m.help.setSize(m.width, m.height-1)
		return nil
	case key.Matches(msg, k.Back):
		if m.page != pageList {
			m.page = pageList
		}
		return nil
	case key.Matches(msg, k.Wallet):
		m.page = pageWallet
		return nil
	case key.Matches(msg, k.Unlock) && m.locker != nil:
		if m.sh.walletState != "locked" {
			m.setStatus("the wallet is "+m.sh.walletState+": nothing to unlock", false)
			return nil
		}
		m.dialog = m.unlockDialog()
		return m.dialog.init()
	case key.Matches(msg, k.Options):
		m.dialog = m.optionsDialog()
		return m.dialog.init()
	case key.Matches(msg, k.Mouse):
		m.mouse = !m.mouse
		m.setStatus("mouse "+map[bool]string{true: "on", false: "off"}[m.mouse], false)
		return nil
	}
	if cmd, ok := m.current().handleKey(msg); ok {
		return cmd
	}
	if m.page == pageList && key.Matches(msg, k.Open) {
		if t := m.list.selected(); t != nil {
			m.details.show(t.InfoHash)
			m.page = pageDetails
		}
		return nil
	}
	if m.page == pageWallet && key.Matches(msg, k.Settle) {
		return m.do("settle", func(ctx context.Context) error { return m.eng.Settle(ctx) })
	}
	if m.page != pageWallet {
		return m.torrentAction(msg)
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.Close()
	return tea.Quit
}

// View renders the screen.
func (m *Model) View() tea.View {
	var b strings.Builder
	if m.help != nil {
		b.WriteString(m.help.view(m.width, m.height-1))
		b.WriteString("\n")
		b.WriteString(m.sh.st.Dim.Render(fit("esc/? close help  ↑/↓ scroll", m.width)))
	} else {
		body := m.current().view(m.width, m.bodyHeight())
		if m.dialog != nil {
			body = overlay(body, m.dialog.view(m.width), m.width, m.bodyHeight())
		}
		b.WriteString(m.titleLine())
		b.WriteString("\n")
		b.WriteString(body)
		b.WriteString("\n")
		b.WriteString(m.statusBar())
		b.WriteString("\n")
		b.WriteString(m.messageLine())
		b.WriteString("\n")
		b.WriteString(m.shortHelpLine())
	}
	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = "bidtorrent"
	if m.mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}
