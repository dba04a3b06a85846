package tui

import (
	"context"
	"errors"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Locker is the wallet of an engine that can run locked (the daemon's,
// when it started without a passphrase). When the Engine given to New
// also implements it, the status bar shows the wallet's state and the
// unlock key opens a passphrase dialog. WalletState returns at once;
// Unlock may take seconds (it restarts the engine with the market on).
type Locker interface {
	// WalletState is "unlocked", "locked" or "none".
	WalletState() string
	Unlock(ctx context.Context, passphrase string) error
}

// unlockTimeout bounds an unlock (decrypting the key, restarting the
// engine).
const unlockTimeout = 2 * time.Minute

// unlockDialog asks for the passphrase, masked, and unlocks with it.
func (m *Model) unlockDialog() dialog {
	f := newForm(m.sh, "Unlock the wallet", []*field{{label: "Passphrase", hint: "the keystore's passphrase"}})
	f.note = "The key stays in the daemon's memory only; the bandwidth market starts."
	in := &f.fields[0].input
	in.EchoMode = textinput.EchoPassword
	in.EchoCharacter = '•'
	f.submit = func(v []string) (tea.Cmd, error) {
		if v[0] == "" {
			return nil, errors.New("type the passphrase, or esc to cancel")
		}
		pass := v[0]
		return m.doFor("unlock the wallet", "wallet unlocked: the bandwidth market is on", unlockTimeout,
			func(ctx context.Context) error { return m.locker.Unlock(ctx, pass) }), nil
	}
	return f
}
