package tui

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
)

// FPS is the frame rate Run asks of Bubble Tea: snapshots arrive a few
// times a second, and Bubble Tea's default of 60 costs more CPU while idle
// (measured: 0.4% of a core at 30 FPS against 1% at 60, with no changes).
const FPS = 30

// Run runs a UI on eng reading keys from in and drawing to out until the
// user quits or ctx ends. opts are passed to the program (the SSH daemon
// adds tea.WithEnvironment and tea.WithWindowSize for its session).
func Run(ctx context.Context, eng Engine, cfg Config, in io.Reader, out io.Writer, opts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, err := New(ctx, eng, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	all := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithFPS(FPS)}, opts...)
	_, err = tea.NewProgram(m, all...).Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil // the caller asked us to stop
	}
	if errors.Is(err, tea.ErrInterrupted) {
		return nil // SIGINT: a normal way to leave
	}
	if err != nil {
		return fmt.Errorf("terminal UI failed: %w", err)
	}
	return nil
}

// Close ends the snapshot subscription. It is safe to call more than once.
func (m *Model) Close() {
	m.endOnce.Do(func() {
		if m.unsub != nil {
			m.unsub()
		}
	})
}
