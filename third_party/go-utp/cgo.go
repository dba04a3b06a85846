//go:build cgo

package utp

import (
	"net"

	libutp "github.com/anacrolix/go-libutp"
	"github.com/anacrolix/log"
)

// Default names the implementation in use.
const Default = "go-libutp"

type libSocket struct{ *libutp.Socket }

func (s libSocket) SetFirewallCallback(fc FirewallCallback) {
	s.Socket.SetFirewallCallback(libutp.FirewallCallback(fc))
}

func libOpts(o options) []libutp.NewSocketOpt {
	if o.logger == nil {
		return nil
	}
	l := log.NewLogger("go-libutp").WithDefaultLevel(log.Debug)
	l.Handlers = []log.Handler{log.SlogHandlerAsHandler{SlogHandler: o.logger.Handler()}}
	return []libutp.NewSocketOpt{libutp.WithLogger(l)}
}

func newSocket(network, addr string, o options) (Socket, error) {
	s, err := libutp.NewSocket(network, addr, libOpts(o)...)
	if err != nil {
		return nil, err
	}
	return libSocket{s}, nil
}

func newSocketFromPacketConn(pc net.PacketConn, o options) (Socket, error) {
	s, err := libutp.NewSocketFromPacketConn(pc, libOpts(o)...)
	if err != nil {
		return nil, err
	}
	return libSocket{s}, nil
}
