package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/bidtorrent/bidtorrent/tui"
)

// TUI returns a UI that runs the bidtorrent TUI on each session's terminal,
// all on the one engine.
func TUI(eng tui.Engine, cfg tui.Config) UI {
	return func(ctx context.Context, t Terminal) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		m, err := tui.New(ctx, eng, cfg)
		if err != nil {
			return err
		}
		defer m.Close()
		return RunProgram(ctx, m, t)
	}
}

// RunProgram runs one Bubble Tea model on a session's terminal until it
// quits or ctx is done, passing window changes on as tea.WindowSizeMsg.
func RunProgram(ctx context.Context, m tea.Model, t Terminal) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := tea.NewProgram(m,
		tea.WithContext(ctx),
		tea.WithInput(t.In),
		tea.WithOutput(t.Out),
		tea.WithEnvironment(t.Environ),
		tea.WithColorProfile(colorprofile.Env(t.Environ)),
		tea.WithWindowSize(t.Width, t.Height),
		tea.WithFPS(tui.FPS),
		// Signals are the daemon's, not one session's.
		tea.WithoutSignalHandler(),
		// There is no process to suspend on the other end of SSH.
		tea.WithFilter(func(_ tea.Model, msg tea.Msg) tea.Msg {
			if _, ok := msg.(tea.SuspendMsg); ok {
				return tea.ResumeMsg{}
			}
			return msg
		}),
	)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case w := <-t.Resize:
				p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
			}
		}
	}()
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil // the session ended or the daemon is stopping
	}
	if err != nil {
		return fmt.Errorf("terminal UI failed: %w", err)
	}
	return nil
}
