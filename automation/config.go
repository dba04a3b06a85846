package automation

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
)

// Config is the [automation] section of the config file. Every feature is
// off at its zero value.
type Config struct {
	// WatchDir is polled for .torrent files (and .magnet files holding a
	// magnet URI); each is added, then renamed to NAME.added, or to
	// NAME.invalid when it cannot be added (the error is logged). Empty
	// turns watching off.
	WatchDir string `toml:"watch_dir"`
	// WatchDoneDir, when set, receives the .added and .invalid files
	// instead of the watch dir itself.
	WatchDoneDir string `toml:"watch_done_dir"`
	// WatchInterval is how often the watch dir is scanned.
	WatchInterval time.Duration `toml:"watch_interval"`
	// WatchLabels are given to every torrent added from the watch dir.
	WatchLabels []string `toml:"watch_labels"`

	// MoveCompletedTo is a directory that a torrent's data is moved to
	// when it completes (empty: data stays where it was downloaded).
	MoveCompletedTo string `toml:"move_completed_to"`

	// OnComplete is a command (program and arguments, no shell) run when a
	// torrent completes, after any move. Its environment holds
	// BIDTORRENT_INFOHASH, BIDTORRENT_NAME, BIDTORRENT_PATH (the torrent's
	// file or top directory), BIDTORRENT_DIR, BIDTORRENT_SIZE and
	// BIDTORRENT_LABELS (comma-separated). Its output is logged.
	OnComplete []string `toml:"on_complete"`
	// HookTimeout kills the hook when it runs longer.
	HookTimeout time.Duration `toml:"hook_timeout"`

	// MaxActiveDownloads and MaxActiveSeeds cap the torrents running at
	// once (0: no cap). Torrents beyond the cap are paused in the order
	// they were added and resumed when a slot frees up. A torrent the user
	// resumes by hand is left running.
	MaxActiveDownloads int `toml:"max_active_downloads"`
	MaxActiveSeeds     int `toml:"max_active_seeds"`

	// RatioLimit pauses a complete torrent once uploaded/size reaches it
	// (0: none). SeedTimeLimit pauses it after seeding that long (0:
	// none). A torrent the user resumes afterwards is not paused again.
	RatioLimit    float64       `toml:"ratio_limit"`
	SeedTimeLimit time.Duration `toml:"seed_time_limit"`

	// AltSpeed sets other global rate limits during a weekly window, e.g.
	// alt_speed = { down = "1MiB", up = "256KiB", from = "08:00",
	// to = "18:00", days = "mon-fri" }. The limits in force before the
	// window are restored after it.
	AltSpeed *AltSpeed `toml:"alt_speed"`
}

// AltSpeed is a schedule of alternative global rate limits.
type AltSpeed struct {
	// Down and Up are rates such as "1MiB" or "256KiB"; 0 is unlimited.
	Down core.Rate `toml:"down"`
	Up   core.Rate `toml:"up"`
	// From and To are local times of day, "HH:MM". A window whose To is
	// not after its From runs past midnight (22:00 to 06:00).
	From string `toml:"from"`
	To   string `toml:"to"`
	// Days are the days a window starts on: "mon-fri", "sat,sun",
	// "mon,wed-fri"; empty or "all" is every day.
	Days string `toml:"days"`
}

// DefaultConfig returns the embedded defaults: everything off.
func DefaultConfig() Config {
	return Config{
		WatchInterval: 5 * time.Second,
		HookTimeout:   10 * time.Minute,
	}
}

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error {
	if c.WatchDir != "" && c.WatchInterval <= 0 {
		return fmt.Errorf("watch_interval %s: must be more than zero", c.WatchInterval)
	}
	if len(c.OnComplete) > 0 && c.OnComplete[0] == "" {
		return fmt.Errorf("on_complete: the first element must be a program")
	}
	if len(c.OnComplete) > 0 && c.HookTimeout <= 0 {
		return fmt.Errorf("hook_timeout %s: must be more than zero", c.HookTimeout)
	}
	if c.MaxActiveDownloads < 0 {
		return fmt.Errorf("max_active_downloads %d: must not be negative (0 is no cap)", c.MaxActiveDownloads)
	}
	if c.MaxActiveSeeds < 0 {
		return fmt.Errorf("max_active_seeds %d: must not be negative (0 is no cap)", c.MaxActiveSeeds)
	}
	if c.RatioLimit < 0 {
		return fmt.Errorf("ratio_limit %g: must not be negative (0 is none)", c.RatioLimit)
	}
	if c.SeedTimeLimit < 0 {
		return fmt.Errorf("seed_time_limit %s: must not be negative (0 is none)", c.SeedTimeLimit)
	}
	if c.AltSpeed != nil {
		if _, err := c.AltSpeed.schedule(); err != nil {
			return fmt.Errorf("alt_speed: %w", err)
		}
	}
	return nil
}

// schedule is a parsed AltSpeed window.
type schedule struct {
	from, to time.Duration // since midnight
	days     [7]bool       // by time.Weekday
	limits   core.Limits
}

func (a *AltSpeed) schedule() (schedule, error) {
	var s schedule
	var err error
	if a.Down < 0 || a.Up < 0 {
		return s, fmt.Errorf("down and up must not be negative")
	}
	s.limits = core.Limits{Down: int64(a.Down), Up: int64(a.Up)}
	if s.from, err = parseClock(a.From); err != nil {
		return s, fmt.Errorf("from: %w", err)
	}
	if s.to, err = parseClock(a.To); err != nil {
		return s, fmt.Errorf("to: %w", err)
	}
	if s.days, err = parseDays(a.Days); err != nil {
		return s, fmt.Errorf("days: %w", err)
	}
	return s, nil
}

// active reports whether t (local time) falls in the window.
func (s schedule) active(t time.Time) bool {
	tod := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	day := t.Weekday()
	if s.from < s.to {
		return s.days[day] && tod >= s.from && tod < s.to
	}
	// Past midnight (or a full day when from == to): the window that
	// started today, or the one that started yesterday.
	if s.days[day] && tod >= s.from {
		return true
	}
	return s.days[(day+6)%7] && tod < s.to
}

func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("want a time of day HH:MM, got %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "all" || s == "*" {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	day := func(n string) (time.Weekday, error) {
		n = strings.TrimSpace(n)
		if len(n) > 3 {
			n = n[:3]
		}
		d, ok := dayNames[n]
		if !ok {
			return 0, fmt.Errorf("unknown day %q (want mon, tue, wed, thu, fri, sat, sun)", n)
		}
		return d, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, err := day(a)
		if err != nil {
			return days, err
		}
		to := from
		if isRange {
			if to, err = day(b); err != nil {
				return days, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return days, nil
}
