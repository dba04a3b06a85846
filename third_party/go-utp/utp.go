// Package utp is bidtorrent's stand-in for github.com/anacrolix/go-utp, which
// anacrolix/torrent v1.62.0 imports but the Go module proxy does not serve.
//
// It provides exactly the surface anacrolix/torrent uses — Socket, Option,
// WithLogger, Default, NewSocket, NewSocketFromPacketConn and
// FirewallCallback — by adapting github.com/anacrolix/go-libutp (the C
// library) when cgo is enabled and the pure-Go github.com/anacrolix/utp
// otherwise. Drop it once the proxy serves go-utp.
package utp

import (
	"context"
	"log/slog"
	"net"
)

// FirewallCallback reports whether an incoming connection from the address
// should be refused.
type FirewallCallback func(net.Addr) bool

// Socket is a uTP socket: a packet conn that also accepts and dials uTP
// connections.
type Socket interface {
	net.PacketConn
	Accept() (net.Conn, error)
	Addr() net.Addr
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	SetFirewallCallback(FirewallCallback)
}

// Option configures a socket at creation.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger sends the implementation's logging to l.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewSocket listens for uTP on the network address.
func NewSocket(network, addr string, opts ...Option) (Socket, error) {
	return newSocket(network, addr, collect(opts))
}

// NewSocketFromPacketConn runs uTP over an existing packet conn.
func NewSocketFromPacketConn(pc net.PacketConn, opts ...Option) (Socket, error) {
	return newSocketFromPacketConn(pc, collect(opts))
}
