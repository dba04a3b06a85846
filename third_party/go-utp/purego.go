//go:build !cgo

package utp

import (
	"net"
	"sync/atomic"

	goutp "github.com/anacrolix/utp"
)

// Default names the implementation in use.
const Default = "anacrolix/utp (pure Go)"

// goSocket applies the firewall callback at Accept: the pure-Go library has
// no hook before the handshake, so a refused peer sees a closed connection.
type goSocket struct {
	*goutp.Socket
	fc atomic.Pointer[FirewallCallback]
}

func (s *goSocket) SetFirewallCallback(fc FirewallCallback) { s.fc.Store(&fc) }

func (s *goSocket) Accept() (net.Conn, error) {
	for {
		c, err := s.Socket.Accept()
		if err != nil {
			return nil, err
		}
		if fc := s.fc.Load(); fc != nil && *fc != nil && (*fc)(c.RemoteAddr()) {
			c.Close()
			continue
		}
		return c, nil
	}
}

func newSocket(network, addr string, _ options) (Socket, error) {
	s, err := goutp.NewSocket(network, addr)
	if err != nil {
		return nil, err
	}
	return &goSocket{Socket: s}, nil
}

func newSocketFromPacketConn(pc net.PacketConn, _ options) (Socket, error) {
	s, err := goutp.NewSocketFromPacketConn(pc)
	if err != nil {
		return nil, err
	}
	return &goSocket{Socket: s}, nil
}
