// Package automation is the policy a headless client runs over the engine:
// a watch directory, moving completed data, an on-complete hook, queueing
// (a cap on active downloads and seeds), ratio and seed-time limits, and
// alternative speed limits on a weekly schedule.
//
// It is a pure consumer of the engine's public surface: it reads snapshots
// and sends the same commands a user would (Add, Pause, Resume, SetLimits),
// through the small Engine interface declared here, so it is tested with a
// fake engine. One goroutine (Run) owns its state; hooks and moves run in
// goroutines of their own that Run waits for before it returns.
package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
)

// Engine is what automation needs from core.Engine. Every method returns
// quickly.
type Engine interface {
	core.Subscriber
	core.Runner
	// SetLimits with the zero InfoHash sets the global limits.
	SetLimits(ctx context.Context, ih core.InfoHash, l core.Limits) error
}

// Mover is the engine command move_completed_to needs: move a torrent's
// data into dir and keep seeding it from there. An engine without it makes
// move_completed_to log an error instead of moving.
type Mover interface {
	Move(ctx context.Context, ih core.InfoHash, dir string) error
}

// Options are the collaborators of an Automation.
type Options struct {
	// StateFile keeps what automation did across restarts (which torrents
	// it paused, seeding time); empty keeps it in memory only.
	StateFile string
	// Logger receives what automation does; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Automation runs the policy. Create it with New and run it with Run.
type Automation struct {
	cfg   Config
	eng   Engine
	log   *slog.Logger
	now   func() time.Time
	path  string
	sched *schedule

	// Owned by the Run goroutine (or a test driving step directly).
	st       *state
	pending  map[core.InfoHash]pending
	seenInc  map[core.InfoHash]bool // observed downloading this run
	lastStep time.Time
	lastSave time.Time
	watch    map[string]fileStamp // watch dir files seen, by name
	stuck    map[string]bool      // files that could not be moved aside
	watchMod time.Time            // the watch dir's mtime when it was last read with nothing left pending

	jobs sync.WaitGroup // hooks and moves
}

// pending is a command automation sent whose effect the snapshots do not
// show yet.
type pending struct {
	paused bool // the state we asked for
	until  time.Time
}

// pendingFor is how long a sent Pause/Resume counts as done while the
// snapshots catch up.
const pendingFor = 15 * time.Second

// stepEvery throttles the policy to at most one pass per interval (the
// engine publishes snapshots several times a second).
const stepEvery = time.Second

// saveEvery bounds how often the state file is written while seeding time
// accrues; changes of what automation paused are saved at once.
const saveEvery = time.Minute

// New checks cfg and loads the state file.
func New(cfg Config, eng Engine, opts Options) (*Automation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot start automation: [automation] %w", err)
	}
	a := &Automation{
		cfg:     cfg,
		eng:     eng,
		log:     opts.Logger,
		now:     opts.Now,
		path:    opts.StateFile,
		pending: map[core.InfoHash]pending{},
		seenInc: map[core.InfoHash]bool{},
		watch:   map[string]fileStamp{},
		stuck:   map[string]bool{},
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("component", "automation")
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.AltSpeed != nil {
		s, _ := cfg.AltSpeed.schedule() // checked by Validate
		a.sched = &s
	}
	st, err := loadState(a.path)
	if err != nil {
		return nil, fmt.Errorf("cannot start automation: %w", err)
	}
	a.st = st
	return a, nil
}

// Run applies the policy to every snapshot and scans the watch dir until
// ctx is done or the engine closes its snapshots; then it waits for
// running hooks (which see ctx done and are killed) and saves its state.
func (a *Automation) Run(ctx context.Context) error {
	snaps, unsub := a.eng.Subscribe()
	defer unsub()
	var watchC <-chan time.Time
	if a.cfg.WatchDir != "" {
		t := time.NewTicker(a.cfg.WatchInterval)
		defer t.Stop()
		watchC = t.C
		a.scanWatch(ctx)
	}
	defer a.jobs.Wait()
	for {
		select {
		case <-ctx.Done():
			return a.save(true)
		case snap, ok := <-snaps:
			if !ok {
				return a.save(true)
			}
			if now := a.now(); now.Sub(a.lastStep) >= stepEvery {
				a.step(ctx, &snap, now)
			}
		case <-watchC:
			a.scanWatch(ctx)
		}
	}
}

// Wait blocks until hooks and moves started so far have finished.
func (a *Automation) Wait() { a.jobs.Wait() }

// step is one pass of the policy over a snapshot at time now.
func (a *Automation) step(ctx context.Context, snap *core.Snapshot, now time.Time) {
	dt := time.Duration(0)
	if !a.lastStep.IsZero() {
		dt = min(max(now.Sub(a.lastStep), 0), 5*time.Minute)
	}
	a.lastStep = now
	for ih, p := range a.pending {
		if now.After(p.until) {
			delete(a.pending, ih)
		}
	}
	a.st.pass++
	changed := false
	for i := range snap.Torrents {
		t := &snap.Torrents[i]
		a.st.get(t.InfoHash) // seen in this pass (prune)
		if p, ok := a.pending[t.InfoHash]; ok && isPaused(t.State) == p.paused {
			delete(a.pending, t.InfoHash)
		}
		changed = a.completion(ctx, t) || changed
		changed = a.limits(ctx, t, dt) || changed
	}
	changed = a.queue(ctx, snap.Torrents, now) || changed
	changed = a.altSpeed(ctx, snap, now) || changed
	changed = a.st.prune(now) || changed
	if changed {
		a.st.dirty = true
		_ = a.save(true)
	} else if now.Sub(a.lastSave) >= saveEvery {
		_ = a.save(false)
	}
}

func isPaused(s core.State) bool { return s == core.StatePaused }

// running reports whether a torrent is transferring, or about to be
// because automation just resumed it.
func (a *Automation) running(t *core.Torrent) bool {
	if p, ok := a.pending[t.InfoHash]; ok {
		return !p.paused
	}
	switch t.State {
	case core.StateDownloading, core.StateSeeding, core.StateMetadata:
		return true
	}
	return false
}

func (a *Automation) pause(ctx context.Context, t *core.Torrent, why string) bool {
	return a.setPaused(ctx, t, true, why)
}

func (a *Automation) resume(ctx context.Context, t *core.Torrent, why string) bool {
	return a.setPaused(ctx, t, false, why)
}

// setPaused pauses or resumes t, logging why, and remembers the change as
// pending for pendingFor.
func (a *Automation) setPaused(ctx context.Context, t *core.Torrent, paused bool, why string) bool {
	verb, done, act := "resume", "resumed", a.eng.Resume
	if paused {
		verb, done, act = "pause", "paused", a.eng.Pause
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := act(cctx, t.InfoHash); err != nil {
		a.log.Error("cannot "+verb+" torrent", "infohash", t.InfoHash.String(), "name", t.Name, "why", why, "err", err)
		return false
	}
	a.pending[t.InfoHash] = pending{paused: paused, until: a.now().Add(pendingFor)}
	a.log.Info(done+" torrent", "infohash", t.InfoHash.String(), "name", t.Name, "why", why)
	return true
}

// limits accrues seeding time and pauses a torrent that reached the ratio
// or seed-time limit.
func (a *Automation) limits(ctx context.Context, t *core.Torrent, dt time.Duration) bool {
	r := a.st.get(t.InfoHash)
	if t.State == core.StateSeeding && dt > 0 {
		r.SeedSeconds += dt.Seconds()
		a.st.dirty = true
	}
	_, isPending := a.pending[t.InfoHash]
	if r.Limited && !isPending && a.running(t) {
		// The user resumed it after we paused it: leave it be.
		r.Limited, r.Exempt = false, true
		a.log.Info("torrent resumed past its seeding limit; not pausing it again", "infohash", t.InfoHash.String(), "name", t.Name)
		return true
	}
	if r.Limited || r.Exempt || t.State != core.StateSeeding || !t.Complete() || isPending {
		return false
	}
	why := ""
	if a.cfg.RatioLimit > 0 && float64(t.Uploaded)/float64(t.Size) >= a.cfg.RatioLimit {
		why = fmt.Sprintf("ratio %.2f reached ratio_limit %g", float64(t.Uploaded)/float64(t.Size), a.cfg.RatioLimit)
	} else if a.cfg.SeedTimeLimit > 0 && time.Duration(r.SeedSeconds*float64(time.Second)) >= a.cfg.SeedTimeLimit {
		why = "seeding time reached seed_time_limit " + a.cfg.SeedTimeLimit.String()
	}
	if why == "" || !a.pause(ctx, t, why) {
		return false
	}
	r.Limited, r.Queued = true, false
	return true
}

// queue enforces max_active_downloads and max_active_seeds, in the order
// the torrents were added. It only ever resumes torrents it paused itself.
func (a *Automation) queue(ctx context.Context, ts []core.Torrent, now time.Time) bool {
	changed := false
	for _, seeds := range []bool{false, true} {
		limit := a.cfg.MaxActiveDownloads
		if seeds {
			limit = a.cfg.MaxActiveSeeds
		}
		active := 0
		var waiting []*core.Torrent
		for i := range ts {
			t := &ts[i]
			if t.Complete() != seeds || t.State == core.StateError || t.State == core.StateChecking {
				continue
			}
			r := a.st.get(t.InfoHash)
			if r.Limited {
				continue
			}
			_, isPending := a.pending[t.InfoHash]
			if r.Queued && !isPending && a.running(t) {
				// The user started a queued torrent: it keeps its slot.
				r.Queued, r.Forced = false, true
				changed = true
			}
			switch {
			case r.Forced:
				if !a.running(t) && !isPending {
					r.Forced = false // the user paused it again
					changed = true
					continue
				}
				active++
			case a.running(t):
				if limit > 0 && active >= limit {
					if a.pause(ctx, t, "queue full") {
						r.Queued = true
						changed = true
					}
					continue
				}
				active++
			case r.Queued:
				waiting = append(waiting, t)
			}
		}
		for _, t := range waiting {
			if limit > 0 && active >= limit {
				break
			}
			if a.resume(ctx, t, "queue slot free") {
				a.st.get(t.InfoHash).Queued = false
				changed = true
				active++
			}
		}
	}
	return changed
}

// altSpeed switches the global limits in and out of the alt_speed window.
func (a *Automation) altSpeed(ctx context.Context, snap *core.Snapshot, now time.Time) bool {
	in := a.sched != nil && a.sched.active(now)
	alt := a.st.Alt
	switch {
	case in && alt == nil:
		normal := snap.Limits
		if err := a.setGlobal(ctx, a.sched.limits); err != nil {
			a.log.Error("cannot switch to the alternative speed limits", "err", err)
			return false
		}
		a.st.Alt = &altState{Normal: normal}
		a.log.Info("alternative speed limits on", "down", a.sched.limits.Down, "up", a.sched.limits.Up)
		return true
	case !in && alt != nil:
		if err := a.setGlobal(ctx, alt.Normal); err != nil {
			a.log.Error("cannot restore the speed limits", "err", err)
			return false
		}
		a.st.Alt = nil
		a.log.Info("alternative speed limits off", "down", alt.Normal.Down, "up", alt.Normal.Up)
		return true
	}
	return false
}

func (a *Automation) setGlobal(ctx context.Context, l core.Limits) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return a.eng.SetLimits(ctx, core.InfoHash{}, l)
}

// save writes the state file when it changed (or, with force, always).
func (a *Automation) save(force bool) error {
	if !force && !a.st.dirty {
		return nil
	}
	a.lastSave = a.now()
	if err := a.st.save(a.path); err != nil {
		a.log.Error("cannot save automation state", "err", err)
		return err
	}
	return nil
}

var errNoMover = errors.New("the engine cannot move data (it lacks a Move command)")
