package daemon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
)

// A torrent in error (e.g. a file missing at start) shows its message in
// list, under the table, and in list --json.
func TestListShowsError(t *testing.T) {
	eng := &fakeEngine{}
	e := start(t, eng, nil)
	msg := "missing file /srv/data/film/b.mkv (put it back, or resume or recheck to download it again)"
	eng.publish(core.Snapshot{Time: time.Now(), Torrents: []core.Torrent{
		{InfoHash: mustHash(t, "ab00000000000000000000000000000000000001"), Name: "film", State: core.StateError, Err: msg},
		{InfoHash: mustHash(t, "cd00000000000000000000000000000000000002"), Name: "fine", State: core.StateSeeding},
	}})
	out, errOut, code := e.run(t, "", "list")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	if !strings.Contains(out, "ab0000000000 error: "+msg) || strings.Contains(out, "cd0000000000 error") {
		t.Fatalf("list does not show the error once:\n%s", out)
	}
	out, _, code = e.run(t, "", "list --json")
	var ts []struct{ State, Error string }
	if err := json.Unmarshal([]byte(out), &ts); err != nil || code != 0 {
		t.Fatalf("list --json: %v %d\n%s", err, code, out)
	}
	if len(ts) != 2 || ts[0].State != "error" || ts[0].Error != msg || ts[1].Error != "" {
		t.Fatalf("list --json: %+v", ts)
	}
}
