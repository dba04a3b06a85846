package core

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
)

// countingHandler counts the handlers derived from it.
type countingHandler struct {
	slog.Handler
	derived *int
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	*h.derived++
	return countingHandler{h.Handler.WithAttrs(as), h.derived}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	*h.derived++
	return countingHandler{h.Handler.WithGroup(name), h.derived}
}

// TestLazyHandler: a logger derived through lazyHandler writes exactly
// what the same derivation of the real handler writes (attributes and
// groups in order, a disabled level dropped), and deriving alone builds
// nothing on the real handler (anacrolix derives one per torrent).
func TestLazyHandler(t *testing.T) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	derive := func(l *slog.Logger) *slog.Logger {
		return l.With("module", "anacrolix").WithGroup("torrent").With("name", "a b", "ih", 7).With(slog.Group("g", "k", 1))
	}
	var want, got bytes.Buffer
	derived := 0
	direct := derive(slog.New(slog.NewTextHandler(&want, opts)))
	lazy := derive(slog.New(newLazyHandler(countingHandler{slog.NewTextHandler(&got, opts), &derived})))
	if derived != 0 {
		t.Fatalf("deriving the lazy logger derived %d real handlers, want 0", derived)
	}
	for _, l := range []*slog.Logger{direct, lazy} {
		l.Debug("dropped", "x", 1)
		l.Info("kept", "x", 2)
		l.WithGroup("sub").Warn("warn", "y", 3)
	}
	if got.String() != want.String() || want.Len() == 0 {
		t.Fatalf("lazy handler wrote\n%s\nwant\n%s", got.String(), want.String())
	}
	if !lazy.Enabled(context.Background(), slog.LevelInfo) || lazy.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("lazy handler's Enabled differs from the real handler's")
	}
}
