package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bidtorrent/bidtorrent/core"
)

// TestConfinement (issue 17): what an authorised key can make the daemon
// do on the server. Each escape is refused with a clear error, and no file
// is created or removed; the same adds inside the download root work.
func TestConfinement(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	note := func(s string) { mu.Lock(); calls = append(calls, s); mu.Unlock() }
	taken := func() []string { mu.Lock(); defer mu.Unlock(); c := calls; calls = nil; return c }

	outside := t.TempDir() // say, /home/bt
	secret := filepath.Join(outside, "authorized_keys")
	if err := os.WriteFile(secret, []byte("ssh-ed25519 AAAA mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Any URL fetch reaching this server is a failure.
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	}))
	defer internal.Close()
	_, port, _ := net.SplitHostPort(internal.Listener.Addr().String())

	eng := &fakeEngine{}
	eng.AddFn = func(spec core.AddSpec) (core.InfoHash, error) {
		note("add " + spec.Source + " dir=" + spec.DataDir)
		return mustHash(t, "ef00000000000000000000000000000000000009"), nil
	}
	eng.RemoveFn = func(ih core.InfoHash, del bool) error { note("rm " + ih.String()); return nil }
	e := start(t, eng, nil)
	root, err := filepath.EvalSymlinks(filepath.Join(e.dataDir, "downloads"))
	if err != nil {
		t.Fatal(err)
	}
	// A symlink inside the root that leads out of it.
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	magnet := "magnet:?xt=urn:btih:ef00000000000000000000000000000000000009"

	for _, c := range []struct{ name, cmd, want string }{
		{"outside a root", "add --dir " + filepath.Join(outside, "new") + " " + magnet, "is outside the download roots"},
		{"dot-dot", "add --dir " + root + "/../escape " + magnet, "is outside the download roots"},
		{"relative dot-dot", "add --dir ../../escape " + magnet, "is outside the download roots"},
		{"symlink escape", "add --dir " + root + "/link/sub " + magnet, "is outside the download roots"},
		{"loopback URL", "add http://127.0.0.1:" + port + "/x.torrent", "127.0.0.1 is not a public address"},
		{"loopback name", "add http://localhost:" + port + "/x.torrent", "not a public address"},
		{"metadata service", "add http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"},
		{"private URL", "add https://10.0.0.1/x.torrent", "10.0.0.1 is not a public address"},
		{"IPv6 loopback", "add http://[::1]:" + port + "/x.torrent", "::1 is not a public address"},
		{"file URL", "add file://" + secret, "only magnet links and http(s) URLs"},
		{"local path", "add " + secret, "is outside the download roots"},
		{"local path via symlink", "add " + root + "/link/authorized_keys", "is outside the download roots"},
	} {
		_, stderr, code := e.run(t, "", c.cmd)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: %s: exit %d, stderr %q; want exit 1 and %q", c.name, c.cmd, code, stderr, c.want)
		}
	}
	if g := taken(); len(g) != 0 {
		t.Fatalf("refused adds reached the engine: %q", g)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the daemon fetched %d internal URLs", n)
	}
	for _, p := range []string{filepath.Join(outside, "new"), filepath.Join(filepath.Dir(root), "escape"), filepath.Join(outside, "sub")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created (%v)", p, err)
		}
	}

	// Inside the root: a new sub-dir, a relative one, a .torrent there.
	inTor := filepath.Join(root, "in.torrent")
	if err := os.WriteFile(inTor, []byte("d8:announce...e"), 0o644); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string]string{
		"add --dir " + root + "/films " + magnet: "add " + magnet + " dir=" + root + "/films",
		"add --dir films " + magnet:              "add " + magnet + " dir=" + root + "/films",
		"add --dir " + root + " " + inTor:        "add " + inTor + " dir=" + root,
	} {
		if _, stderr, code := e.run(t, "", cmd); code != 0 {
			t.Errorf("%s: exit %d: %s", cmd, code, stderr)
		}
		if g := taken(); len(g) != 1 || g[0] != want {
			t.Errorf("%s: engine got %q, want %q", cmd, g, want)
		}
	}

	// rm --delete-data: data outside the roots (or reached through a
	// symlink out of them) is not deleted, and the torrent stays.
	out := core.Torrent{InfoHash: mustHash(t, "aa00000000000000000000000000000000000001"), Name: "authorized_keys", DataDir: outside,
		Files: []core.File{{Path: "authorized_keys"}}}
	linked := core.Torrent{InfoHash: mustHash(t, "bb00000000000000000000000000000000000002"), Name: "link", DataDir: root,
		Files: []core.File{{Path: "authorized_keys"}}}
	in := core.Torrent{InfoHash: mustHash(t, "cc00000000000000000000000000000000000003"), Name: "films", DataDir: root}
	eng.publish(core.Snapshot{Torrents: []core.Torrent{out, linked, in}})
	waitSnapshot(t, e, 3)
	for _, id := range []string{"aa", "bb"} {
		_, stderr, code := e.run(t, "", "rm --delete-data "+id)
		if code != 1 || !strings.Contains(stderr, "it is outside the download roots") {
			t.Errorf("rm --delete-data %s: exit %d, stderr %q", id, code, stderr)
		}
	}
	if g := taken(); len(g) != 0 {
		t.Fatalf("refused removals reached the engine: %q", g)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "ssh-ed25519 AAAA mine\n" {
		t.Fatalf("the file outside the roots changed: %q %v", b, err)
	}
	if _, stderr, code := e.run(t, "", "rm --delete-data cc"); code != 0 {
		t.Fatalf("rm --delete-data inside the root: exit %d: %s", code, stderr)
	}
	if g := taken(); len(g) != 1 || g[0] != "rm "+in.InfoHash.String() {
		t.Fatalf("rm inside: engine got %q", g)
	}

	// A TUI session's engine is confined the same way.
	ui := Confined(eng, e.srv.Confinement())
	if _, err := ui.Add(context.Background(), core.AddSpec{Source: magnet, DataDir: outside}); err == nil ||
		!strings.Contains(err.Error(), "outside the download roots") {
		t.Fatalf("TUI add outside: %v", err)
	}
	if err := ui.Remove(context.Background(), out.InfoHash, true); err == nil {
		t.Fatal("TUI rm --delete-data outside: allowed")
	}
	if g := taken(); len(g) != 0 {
		t.Fatalf("the TUI's refused calls reached the engine: %q", g)
	}
}

// waitSnapshot waits until the server holds a snapshot of n torrents.
func waitSnapshot(t *testing.T, e *env, n int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if s, ok := e.srv.latest(); ok && len(s.Torrents) == n {
			return
		}
		_, _, _ = e.run(t, "", "stats")
	}
	t.Fatalf("no snapshot with %d torrents", n)
}
