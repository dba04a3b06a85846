package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/bidtorrent/bidtorrent/internal/sshtest"
)

// lockedBuf is a bytes.Buffer safe to read while other goroutines (the
// daemon's logs, a running command) write to it.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDaemonVerb runs `bidtorrent daemon` on loopback, adds a torrent over
// SSH (a .torrent on stdin), stops it as a signal would, and checks that a
// second start has kept both the torrent and the host key.
func TestDaemonVerb(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[engine]\nlisten_addr = \"127.0.0.1:0\"\ndht = false\npex = false\nlsd = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := sshtest.NewKey(t)
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, gossh.MarshalAuthorizedKey(key.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(dir, "payload.bin")
	if err := os.WriteFile(payload, bytes.Repeat([]byte("bidtorrent daemon test "), 50000), 0o600); err != nil {
		t.Fatal(err)
	}
	tfile := filepath.Join(dir, "payload.torrent")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--config", cfg, "create", "-o", tfile, payload}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("create: %s", errb.String())
	}
	magnet := strings.TrimSpace(out.String())
	ih := magnet[strings.Index(magnet, "btih:")+5:][:40]

	// Without authorized keys the daemon refuses to start, saying how to fix it.
	errb.Reset()
	if code := run(context.Background(), []string{"--config", cfg, "--data-dir", data, "daemon", "--ssh-listen", freeAddr(t)},
		strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "no authorized keys at") {
		t.Fatalf("daemon without keys: exit %d, %s", code, errb.String())
	}

	var hostKeys []string
	for round := range 2 {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		logs := &lockedBuf{}
		codeC := make(chan int, 1)
		go func() {
			codeC <- run(ctx, []string{"--config", cfg, "--data-dir", data, "daemon", "--ssh-listen", addr, "--authorized-keys", keys},
				strings.NewReader(""), &bytes.Buffer{}, logs)
		}()
		var hostKey gossh.PublicKey
		var client *gossh.Client
		var err error
		for i := 0; ; i++ {
			client, err = gossh.Dial("tcp", addr, &gossh.ClientConfig{
				User: "ops", Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
				HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error { hostKey = k; return nil },
			})
			if err == nil {
				break
			}
			if i > 200 {
				cancel()
				t.Fatalf("cannot reach the daemon: %v\n%s", err, logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		hostKeys = append(hostKeys, string(hostKey.Marshal()))
		runCmd := func(stdin, cmd string) (string, int) {
			o, e, code := sshtest.Run(t, client, stdin, cmd)
			if code != 0 {
				return o + e, code
			}
			return o, 0
		}
		if round == 0 {
			b, err := os.ReadFile(tfile)
			if err != nil {
				t.Fatal(err)
			}
			if got, code := runCmd(string(b), "add -"); code != 0 || strings.TrimSpace(got) != ih {
				t.Fatalf("add -: exit %d, %q, want %s", code, got, ih)
			}
		}
		var list []struct {
			InfoHash string `json:"infohash"`
			Name     string `json:"name"`
			Size     int64  `json:"size"`
		}
		for i := 0; ; i++ { // the first snapshot may predate the add
			got, code := runCmd("", "list --json")
			if code != 0 {
				t.Fatalf("list: exit %d, %s", code, got)
			}
			if err := json.Unmarshal([]byte(got), &list); err != nil {
				t.Fatalf("list --json: %v\n%s", err, got)
			}
			if len(list) == 1 || i > 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(list) != 1 || list[0].InfoHash != ih || list[0].Name != "payload.bin" || list[0].Size != 50000*23 {
			t.Fatalf("round %d: list = %+v", round, list)
		}
		client.Close()
		cancel()
		select {
		case code := <-codeC:
			if code != 0 {
				t.Fatalf("daemon exit %d\n%s", code, logs)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("daemon did not stop\n%s", logs)
		}
		if !strings.Contains(logs.String(), "engine stopped") {
			t.Fatalf("no orderly engine stop in the log:\n%s", logs)
		}
	}
	if hostKeys[0] != hostKeys[1] {
		t.Fatal("the host key changed between starts")
	}
}

// TestDaemonGC: the daemon collects at GOGC=25 unless $GOGC is set, which
// Go's runtime has then applied and the daemon leaves alone.
func TestDaemonGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	setDaemonGC("")
	if got := debug.SetGCPercent(100); got != daemonGCPercent {
		t.Fatalf("GC percent %d without $GOGC, want %d", got, daemonGCPercent)
	}
	setDaemonGC("100")
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d with $GOGC=100, want it left at 100", got)
	}
}
