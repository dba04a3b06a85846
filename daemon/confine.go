package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/tui"
)

// An authorised SSH key is a torrent-control channel, not a shell: what a
// remote session (a command or a TUI) adds, downloads, reads and deletes
// stays inside the download roots, and the daemon fetches only public
// http(s) URLs for it.

// maxFetch caps a .torrent fetched from a URL.
const maxFetch = maxTorrentFile

// fetchTimeout bounds fetching a .torrent from a URL.
var fetchTimeout = 30 * time.Second

// Confinement is what remote sessions may touch on the server.
type Confinement struct {
	roots        []string // absolute, symlinks resolved
	allowPrivate bool
}

// NewConfinement creates the roots that do not exist (0755) and resolves
// their symlinks. With allowPrivate, URLs may point at loopback, private
// and link-local addresses.
func NewConfinement(roots []string, allowPrivate bool) (*Confinement, error) {
	if len(roots) == 0 {
		return nil, errors.New("no download roots")
	}
	c := &Confinement{allowPrivate: allowPrivate}
	for _, r := range roots {
		r = expandHome(r)
		if !filepath.IsAbs(r) {
			return nil, fmt.Errorf("download root %q is not an absolute path", r)
		}
		if err := os.MkdirAll(r, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create download root: %w", err)
		}
		rr, err := filepath.EvalSymlinks(r)
		if err != nil {
			return nil, fmt.Errorf("cannot resolve download root %s: %w", r, err)
		}
		c.roots = append(c.roots, rr)
	}
	return c, nil
}

// Roots returns the resolved roots.
func (c *Confinement) Roots() []string { return append([]string(nil), c.roots...) }

// resolve returns p made absolute (relative paths are under the first
// root), cleaned, with the symlinks of its longest existing ancestor
// resolved.
func (c *Confinement) resolve(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.roots[0], p)
	}
	p = filepath.Clean(p)
	var rest []string
	for q := p; ; q = filepath.Dir(q) {
		r, err := filepath.EvalSymlinks(q)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(q) == q {
			return p, nil
		}
		rest = append([]string{filepath.Base(q)}, rest...)
	}
}

// inside reports whether the resolved path p lies in a root.
func (c *Confinement) inside(p string) bool {
	for _, r := range c.roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// Dir returns dir resolved, or an error if it lies outside every root.
func (c *Confinement) Dir(dir string) (string, error) {
	r, err := c.resolve(dir)
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s: %w", dir, err)
	}
	if !c.inside(r) {
		return "", fmt.Errorf("%s is outside the download roots (%s)", dir, strings.Join(c.roots, ", "))
	}
	return r, nil
}

// Source checks a torrent source a remote session gave: a magnet link is
// kept; an http(s) URL is fetched here, through a dialer that refuses
// loopback, private and link-local addresses (at every redirect and
// whatever the name resolves to), into a temporary file whose path is
// returned with its cleanup; a local path must lie inside a root. Other
// schemes are refused.
func (c *Confinement) Source(ctx context.Context, src string) (string, func(), error) {
	noop := func() {}
	if strings.HasPrefix(strings.ToLower(src), "magnet:") {
		return src, noop, nil
	}
	if u, err := url.Parse(src); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		switch strings.ToLower(u.Scheme) {
		case "http", "https":
			return c.fetch(ctx, u)
		}
		return "", nil, fmt.Errorf("only magnet links and http(s) URLs are accepted, not %s:", u.Scheme)
	}
	if isInfoHash(src) {
		return src, noop, nil
	}
	r, err := c.resolve(src)
	if err != nil || !c.inside(r) {
		return "", nil, fmt.Errorf("local file %s is outside the download roots: a remote session may add server files only from inside them (or send the .torrent on stdin with -)", src)
	}
	return r, noop, nil
}

func isInfoHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// fetch downloads a .torrent from u into a temporary file.
func (c *Confinement) fetch(ctx context.Context, u *url.URL) (string, func(), error) {
	if !c.allowPrivate {
		// Refuse literal addresses at once, for a clear message; names are
		// checked by the dialer after resolution.
		if ip := net.ParseIP(strings.Trim(u.Hostname(), "[]")); ip != nil && !publicIP(ip) {
			return "", nil, fmt.Errorf("refusing %s: %s is not a public address (set [daemon] allow_private_urls to allow it)", u.Redacted(), ip)
		}
	}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: c.checkDial}
	tr := &http.Transport{DialContext: d.DialContext, Proxy: nil, TLSHandshakeTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: fetchTimeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("cannot fetch %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("cannot fetch %s: %s", u.Redacted(), resp.Status)
	}
	f, err := os.CreateTemp("", "bidtorrent-url-*.torrent")
	if err != nil {
		return "", nil, fmt.Errorf("cannot store the .torrent: %w", err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxFetch+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("cannot fetch %s: %w", u.Redacted(), err)
	case n > maxFetch:
		err = fmt.Errorf("the .torrent at %s is larger than %d MiB", u.Redacted(), maxFetch>>20)
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return f.Name(), cleanup, nil
}

// checkDial refuses connections to non-public addresses.
func (c *Confinement) checkDial(network, address string, _ syscall.RawConn) error {
	if c.allowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !publicIP(ip) {
		return fmt.Errorf("refusing to connect to %s: not a public address (set [daemon] allow_private_urls to allow it)", host)
	}
	return nil
}

// publicIP reports whether ip is a global unicast address outside the
// private, shared (CGNAT) and documentation ranges.
func publicIP(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || !ip.IsGlobalUnicast() {
		return false
	}
	if ip4 := ip.To4(); ip4 != nil {
		// 100.64.0.0/10 (shared address space) and 0.0.0.0/8.
		if ip4[0] == 100 && ip4[1]&0xc0 == 64 || ip4[0] == 0 {
			return false
		}
	}
	return true
}

// dataDir replaces spec's data dir, when it names one, by Dir's.
func (c *Confinement) dataDir(spec *core.AddSpec) error {
	if spec.DataDir == "" {
		return nil
	}
	d, err := c.Dir(spec.DataDir)
	if err != nil {
		return err
	}
	spec.DataDir = d
	return nil
}

// addSource checks spec's source (Source) and adds it with add, removing
// a fetched .torrent afterwards.
func (c *Confinement) addSource(ctx context.Context, spec core.AddSpec, add func(context.Context, core.AddSpec) (core.InfoHash, error)) (core.InfoHash, error) {
	src, cleanup, err := c.Source(ctx, spec.Source)
	if err != nil {
		return core.InfoHash{}, err
	}
	defer cleanup()
	spec.Source = src
	return add(ctx, spec)
}

// CheckDelete reports whether the data of t may be deleted: its data dir
// and every file of it must resolve inside a root.
func (c *Confinement) CheckDelete(t core.Torrent) error {
	if t.DataDir == "" {
		return nil
	}
	check := func(p string) error {
		r, err := c.resolve(p)
		if err != nil {
			return fmt.Errorf("cannot resolve %s: %w", p, err)
		}
		if !c.inside(r) {
			return fmt.Errorf("refusing to delete %s: it is outside the download roots (%s)", p, strings.Join(c.roots, ", "))
		}
		return nil
	}
	if err := check(t.DataDir); err != nil {
		return err
	}
	if t.Name != "" {
		if err := check(filepath.Join(t.DataDir, t.Name)); err != nil {
			return err
		}
	}
	for _, f := range t.Files {
		if err := check(filepath.Join(t.DataDir, t.Name, filepath.FromSlash(f.Path))); err != nil {
			return err
		}
	}
	return nil
}

// Confined returns eng for a remote session's TUI: Add and Remove with
// its data are confined to the roots as the remote commands are. When eng
// can run locked (a tui.Locker), so can the result: the TUI shows the
// state and offers its unlock dialog.
func Confined(eng tui.Engine, c *Confinement) tui.Engine {
	if l, ok := eng.(tui.Locker); ok {
		return confinedLocker{confinedEngine{eng, c}, l}
	}
	return confinedEngine{eng, c}
}

type confinedLocker struct {
	confinedEngine
	tui.Locker
}

type confinedEngine struct {
	tui.Engine
	c *Confinement
}

func (e confinedEngine) Add(ctx context.Context, spec core.AddSpec) (core.InfoHash, error) {
	if err := e.c.dataDir(&spec); err != nil {
		return core.InfoHash{}, err
	}
	return e.c.addSource(ctx, spec, e.Engine.Add)
}

func (e confinedEngine) Remove(ctx context.Context, ih core.InfoHash, deleteData bool) error {
	if deleteData {
		snaps, unsub := e.Engine.Subscribe()
		var snap core.Snapshot
		select {
		case snap = <-snaps:
		case <-ctx.Done():
		}
		unsub()
		t, ok := snap.Torrent(ih)
		if !ok {
			return fmt.Errorf("cannot check where %s keeps its data", ih)
		}
		if err := e.c.CheckDelete(t); err != nil {
			return err
		}
	}
	return e.Engine.Remove(ctx, ih, deleteData)
}
