package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPprofListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.168.1.5:6060", "[::]:6060", "example.com:6060"} {
		c := DefaultConfig()
		c.PprofListen = addr
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "pprof_listen") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("pprof_listen = %q: got %v, want a loopback error naming the key", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060", "127.0.0.2:0"} {
		c := DefaultConfig()
		c.PprofListen = addr
		if err := c.Validate(); err != nil {
			t.Errorf("pprof_listen = %q refused: %v", addr, err)
		}
	}
}

// TestPprofServes runs the server with pprof_listen set and fetches the
// profile index and a goroutine profile from it.
func TestPprofServes(t *testing.T) {
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	cfg := DefaultConfig()
	cfg.SSHListen, cfg.PprofListen = free(), free()
	srv, err := New(cfg, &fakeEngine{}, Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errC := make(chan error, 1)
	go func() { errC <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errC; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	get := func(path string) (int, string) {
		var last error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			resp, err := http.Get("http://" + cfg.PprofListen + path)
			if err != nil {
				last = err
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		t.Fatalf("GET %s: %v", path, last)
		return 0, ""
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
		t.Fatalf("/debug/pprof/: %d %.200q", code, body)
	}
	if code, body := get("/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "servePprof") {
		t.Fatalf("goroutine profile: %d %.200q", code, body)
	}
}
