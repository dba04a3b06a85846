package daemon

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bidtorrent/bidtorrent/internal/bytesize"
)

// Config is the [daemon] section of the config file.
type Config struct {
	// SSHListen is the host:port the SSH server listens on. Keep it on
	// loopback unless the authorized keys are meant to reach it from afar.
	SSHListen string `toml:"ssh_listen"`
	// AuthorizedKeys is an OpenSSH authorized_keys file; only its keys may
	// log in (no passwords). Empty means DATA_DIR/authorized_keys. It is
	// read again at every login, so keys can be added without a restart.
	AuthorizedKeys string `toml:"authorized_keys"`
	// HostKey is the server's private host key (OpenSSH format). Empty
	// means DATA_DIR/ssh_host_ed25519_key. It is generated (ed25519, mode
	// 0600) on first start and kept.
	HostKey string `toml:"host_key"`
	// MetricsListen is the host:port of the Prometheus /metrics endpoint;
	// empty turns it off. Token amounts are exported as floats in whole
	// tokens, for graphs only.
	MetricsListen string `toml:"metrics_listen"`
	// PprofListen is the loopback host:port serving Go's net/http/pprof
	// profiles under /debug/pprof/ (CPU, heap, goroutines) for whoever
	// tunes the daemon; empty turns it off. Only a loopback address is
	// accepted: profiles expose memory contents and cost CPU on demand.
	PprofListen string `toml:"pprof_listen"`
	// MemoryLimit is a soft limit on the memory Go's runtime holds (its
	// heap, stacks and metadata; not the mapped binary or state.db), set
	// with runtime/debug.SetMemoryLimit: below it the garbage collector
	// runs as usual (the daemon's heap grows by a quarter of what is live
	// between cycles, GOGC=25 unless $GOGC is set), near it the collector
	// runs sooner and returns freed memory to the system. Empty means no limit (Go's default, or $GOMEMLIMIT). Set it
	// well above what is live, about 12 KiB per torrent plus 30 MiB: a
	// limit below the live heap makes the collector run back to back.
	MemoryLimit string `toml:"memory_limit"`
	// DownloadRoots are the only directories remote sessions (SSH
	// commands and TUIs) may download into, add local files from, or
	// delete data in, checked after resolving symlinks. Empty means the
	// engine's download dir (DATA_DIR/downloads by default).
	DownloadRoots []string `toml:"download_roots"`
	// AllowPrivateURLs lets remote sessions add torrents from URLs on
	// loopback, private and link-local addresses (off: only public
	// addresses, so an SSH key cannot reach internal services).
	AllowPrivateURLs bool `toml:"allow_private_urls"`
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{SSHListen: "127.0.0.1:2222", DownloadRoots: []string{}}
}

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error {
	if err := checkHostPort(c.SSHListen); err != nil {
		return fmt.Errorf("ssh_listen: %w", err)
	}
	for _, r := range c.DownloadRoots {
		if r = expandHome(r); !filepath.IsAbs(r) {
			return fmt.Errorf("download_roots: %q is not an absolute path", r)
		}
	}
	if c.MetricsListen != "" {
		if err := checkHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
	}
	if c.PprofListen != "" {
		if err := checkLoopback(c.PprofListen); err != nil {
			return fmt.Errorf("pprof_listen: %w", err)
		}
	}
	if _, err := c.MemoryLimitBytes(); err != nil {
		return fmt.Errorf("memory_limit: %w", err)
	}
	return nil
}

// minMemoryLimit is the smallest memory_limit accepted: below it the
// daemon's own working set alone would keep the collector busy.
const minMemoryLimit = 32 << 20

// MemoryLimitBytes returns MemoryLimit in bytes, 0 when empty.
func (c Config) MemoryLimitBytes() (int64, error) {
	if strings.TrimSpace(c.MemoryLimit) == "" {
		return 0, nil
	}
	n, err := bytesize.Parse(c.MemoryLimit)
	if err != nil {
		return 0, fmt.Errorf("want a size such as \"128MiB\", got %q", c.MemoryLimit)
	}
	if n < minMemoryLimit {
		return 0, fmt.Errorf("%q is below the minimum of 32MiB", c.MemoryLimit)
	}
	return n, nil
}

// checkLoopback accepts HOST:PORT whose host is a loopback IP or
// "localhost".
func checkLoopback(s string) error {
	if err := checkHostPort(s); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s)
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: profiles may only be served on 127.0.0.1, [::1] or localhost (reach them from afar through an SSH tunnel)", s)
	}
	return nil
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want HOST:PORT, got %q", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port in %q", s)
	}
	return nil
}

// expandHome replaces a leading ~/ with the user's home dir.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
