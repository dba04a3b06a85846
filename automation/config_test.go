package automation

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// exampleTOML is the [automation] section proposed for config.toml.example.
const exampleTOML = `
watch_dir = "/srv/torrents/watch"
watch_done_dir = ""
watch_interval = "5s"
watch_labels = ["watched"]
move_completed_to = "/srv/torrents/done"
on_complete = ["/usr/local/bin/notify-done", "--quiet"]
hook_timeout = "10m"
max_active_downloads = 3
max_active_seeds = 10
ratio_limit = 2.0
seed_time_limit = "168h"
alt_speed = { down = "1MiB", up = "256KiB", from = "08:00", to = "18:00", days = "mon-fri" }
`

func TestDecodeConfig(t *testing.T) {
	c := DefaultConfig()
	md, err := toml.Decode(exampleTOML, &c)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Fatalf("undecoded keys %v", und)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.WatchInterval != 5*time.Second || c.SeedTimeLimit != 168*time.Hour || c.HookTimeout != 10*time.Minute ||
		c.MaxActiveDownloads != 3 || c.RatioLimit != 2 || len(c.OnComplete) != 2 || c.OnComplete[1] != "--quiet" {
		t.Fatalf("decoded %+v", c)
	}
	s, err := c.AltSpeed.schedule()
	if err != nil {
		t.Fatal(err)
	}
	if s.limits.Down != 1<<20 || s.limits.Up != 256<<10 || s.from != 8*time.Hour || s.to != 18*time.Hour ||
		!s.days[time.Monday] || !s.days[time.Friday] || s.days[time.Saturday] || s.days[time.Sunday] {
		t.Fatalf("schedule %+v", s)
	}
}
