package core

import (
	"context"
	"log/slog"
)

// lazyHandler defers a handler's WithAttrs and WithGroup until a record
// is handled. anacrolix derives a logger for every torrent (its name and
// infohash as a group): slog's text handler formats those attributes
// into a buffer of its own at once, about 400 bytes a torrent that an
// idle seed never logs with. Here deriving costs one small node, and the
// real handler is built again for each record that passes Enabled (rare:
// anacrolix logs at Info and above only for errors and state changes).
type lazyHandler struct {
	base   slog.Handler // the real handler, without the ops below
	parent *lazyHandler // earlier ops, applied first; nil for none
	attrs  []slog.Attr  // this op's WithAttrs, or
	group  string       // this op's WithGroup
}

func newLazyHandler(h slog.Handler) *lazyHandler { return &lazyHandler{base: h} }

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.build().Handle(ctx, r)
}

// build applies the deferred ops to base, oldest first.
func (h *lazyHandler) build() slog.Handler {
	if h.parent == nil {
		return h.base
	}
	b := h.parent.build()
	if h.group != "" {
		return b.WithGroup(h.group)
	}
	return b.WithAttrs(h.attrs)
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &lazyHandler{base: h.base, parent: h, attrs: attrs}
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &lazyHandler{base: h.base, parent: h, group: name}
}
