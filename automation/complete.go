package automation

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
)

// maxHookOutput caps the hook output kept for the log.
const maxHookOutput = 64 << 10

// moveTimeout bounds one Move command (it may copy a lot of data).
const moveTimeout = 6 * time.Hour

// finished is what a completion job needs to know of a torrent.
type finished struct {
	ih     core.InfoHash
	name   string
	dir    string
	size   int64
	labels []string
}

// completion notices a torrent finishing its download and starts its
// completion job (move, then hook). A torrent first seen already complete
// (seeding existing data, or after a restart) is not treated as finishing.
func (a *Automation) completion(ctx context.Context, t *core.Torrent) bool {
	r := a.st.get(t.InfoHash)
	if !t.Complete() {
		if t.State == core.StateDownloading || t.State == core.StateMetadata {
			a.seenInc[t.InfoHash] = true
			if r.Completed {
				r.Completed = false
				return true
			}
		}
		return false
	}
	if r.Completed {
		return false
	}
	r.Completed = true
	if a.seenInc[t.InfoHash] {
		delete(a.seenInc, t.InfoHash)
		a.log.Info("torrent completed", "infohash", t.InfoHash.String(), "name", t.Name)
		if a.cfg.MoveCompletedTo != "" || len(a.cfg.OnComplete) > 0 {
			f := finished{ih: t.InfoHash, name: t.Name, dir: t.DataDir, size: t.Size,
				labels: append([]string(nil), t.Labels...)}
			a.jobs.Add(1)
			go func() {
				defer a.jobs.Done()
				a.finish(ctx, f)
			}()
		}
	}
	return true
}

// finish moves a completed torrent's data, then runs the hook.
func (a *Automation) finish(ctx context.Context, f finished) {
	if dir := a.cfg.MoveCompletedTo; dir != "" {
		if err := a.move(ctx, f.ih, dir); err != nil {
			a.log.Error("cannot move completed data", "infohash", f.ih.String(), "name", f.name, "to", dir, "err", err)
		} else {
			a.log.Info("moved completed data", "infohash", f.ih.String(), "name", f.name, "to", dir)
			f.dir = dir
		}
	}
	if len(a.cfg.OnComplete) > 0 {
		a.runHook(ctx, f)
	}
}

func (a *Automation) move(ctx context.Context, ih core.InfoHash, dir string) error {
	m, ok := a.eng.(Mover)
	if !ok {
		return errNoMover
	}
	ctx, cancel := context.WithTimeout(ctx, moveTimeout)
	defer cancel()
	return m.Move(ctx, ih, dir)
}

// hookEnv is the environment the on-complete hook gets beside the
// daemon's own.
func hookEnv(f finished) []string {
	return []string{
		"BIDTORRENT_INFOHASH=" + f.ih.String(),
		"BIDTORRENT_NAME=" + f.name,
		"BIDTORRENT_PATH=" + filepath.Join(f.dir, f.name),
		"BIDTORRENT_DIR=" + f.dir,
		"BIDTORRENT_SIZE=" + strconv.FormatInt(f.size, 10),
		"BIDTORRENT_LABELS=" + strings.Join(f.labels, ","),
	}
}

// runHook runs the on-complete command with a timeout and logs its output.
func (a *Automation) runHook(ctx context.Context, f finished) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.HookTimeout)
	defer cancel()
	argv := a.cfg.OnComplete
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), hookEnv(f)...)
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second // children holding the pipes open
	start := time.Now()
	err := cmd.Run()
	log := a.log.With("infohash", f.ih.String(), "name", f.name, "hook", argv[0],
		"took", time.Since(start).Round(time.Millisecond), "output", out.String())
	switch {
	case err == nil:
		log.Info("on-complete hook done")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Error("on-complete hook killed after hook_timeout", "timeout", a.cfg.HookTimeout, "err", err)
	default:
		log.Error("on-complete hook failed", "err", err)
	}
}

// capped keeps the first maxHookOutput bytes written to it.
type capped struct {
	buf       bytes.Buffer
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxHookOutput - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.truncated = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) String() string {
	s := strings.TrimRight(c.buf.String(), "\n")
	if c.truncated {
		s += "\n[output truncated]"
	}
	return s
}
