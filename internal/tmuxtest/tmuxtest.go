// Package tmuxtest runs a terminal program in a private tmux server for
// end-to-end tests: keys go in with send-keys, the screen comes back
// with capture-pane, and the program's exit status is kept in a file.
// It is for tests only.
package tmuxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Require skips t when one of progs (tmux, go…) is not installed, and
// fails it instead when the environment variable CI is "true".
func Require(t testing.TB, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and %s is not installed", p)
			}
			t.Skipf("skipping: %s is not installed", p)
		}
	}
}

// Session is one program running in a detached tmux session of its own
// server (socket in the test's dir), killed when the test ends.
type Session struct {
	t        testing.TB
	sock     string
	name     string
	exitFile string
	// Diag, when set, adds to the message of a failed wait (e.g. the
	// program's log).
	Diag func() string
}

// Start runs the shell command cmd in a new w×h session named name, with
// its socket and exit file in dir. The pane stays open a while after cmd
// ends so its last screen can still be read.
func Start(t testing.TB, dir, name string, w, h int, cmd string) *Session {
	t.Helper()
	s := &Session{t: t, sock: filepath.Join(dir, name+".tmux"), name: name, exitFile: filepath.Join(dir, name+".exit")}
	shell := fmt.Sprintf("%s; echo $? > %q; sleep 30", cmd, s.exitFile)
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *Session) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Keys sends keys by their tmux names ("Enter", "C-p", "q").
func (s *Session) Keys(keys ...string) {
	s.t.Helper()
	s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

// Type sends text literally.
func (s *Session) Type(text string) {
	s.t.Helper()
	s.tmux("send-keys", "-t", s.name, "-l", text)
}

// Screen is the visible pane as text.
func (s *Session) Screen() string {
	s.t.Helper()
	return s.tmux("capture-pane", "-p", "-t", s.name)
}

// WaitScreen polls the screen until ok accepts it, and fails the test
// with what, the last screen and Diag after timeout.
func (s *Session) WaitScreen(what string, timeout time.Duration, ok func(string) bool) {
	s.t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = s.Screen(); ok(last) {
			return
		}
	}
	s.t.Fatalf("gave up waiting for %s; screen:\n%s%s", what, last, s.diag())
}

// Exit waits until the program has ended and returns its exit status,
// failing the test after timeout.
func (s *Session) Exit(timeout time.Duration) string {
	s.t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(s.exitFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the program did not exit within %s; screen:\n%s%s", timeout, s.Screen(), s.diag())
		}
	}
}

func (s *Session) diag() string {
	if s.Diag == nil {
		return ""
	}
	return "\n" + s.Diag()
}

// Has accepts a screen that contains every one of subs.
func Has(subs ...string) func(string) bool {
	return func(screen string) bool {
		for _, sub := range subs {
			if !strings.Contains(screen, sub) {
				return false
			}
		}
		return true
	}
}
