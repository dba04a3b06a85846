package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/safetext"
)

type snapshotMsg struct{ snap core.Snapshot }

type engineClosedMsg struct{}

// waitSnapshot is the re-arming command that turns the next snapshot into a
// message.
func waitSnapshot(ctx context.Context, ch <-chan core.Snapshot) tea.Cmd {
	return func() tea.Msg {
		select {
		case s, ok := <-ch:
			if !ok {
				return engineClosedMsg{}
			}
			return snapshotMsg{s}
		case <-ctx.Done():
			return nil
		}
	}
}

func (m *Model) applySnapshot(s core.Snapshot) {
	sh := m.sh
	raw := s.Torrents
	// While no torrent changed the engine publishes the same Torrents
	// (core.Snapshot.SameTorrents): their sanitised copy stands.
	same := len(raw) > 0 && s.SameTorrents(core.Snapshot{Torrents: sh.raw})
	if same {
		s.Torrents = nil
	}
	s = safetext.Snapshot(s) // names, client strings, errors: from peers and torrent files
	if same {
		s.Torrents = sh.snap.Torrents
	}
	sh.snap, sh.raw = s, raw
	if m.locker != nil {
		sh.walletState = m.locker.WalletState()
	}
	if !same {
		clear(sh.byHash)
		for i := range s.Torrents {
			sh.byHash[s.Torrents[i].InfoHash] = i
		}
	}
	if s.Wallet.Token != "" {
		sh.token = s.Wallet.Token
	}
	if s.Wallet.Decimals > 0 && s.Wallet.Decimals != sh.decimals {
		sh.decimals = s.Wallet.Decimals
		sh.step, _ = sh.cfg.bidStep(sh.decimals)
		if f, err := ParseFilter(m.list.filter.String(), sh.decimals); err == nil {
			m.list.setFilter(f)
		}
	}
	m.gotSnap = true
	if s.Err != "" && s.ErrTime.After(m.seenErr) {
		m.seenErr = s.ErrTime
		m.setStatus("engine: "+s.Err, true)
	}
	m.notePayments(s)
	m.list.refresh()
	if m.page == pageDetails {
		m.details.refresh()
	}
}
