package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/internal/atomicfile"
)

// record is what automation remembers about one torrent.
type record struct {
	Queued      bool    `json:"queued,omitempty"`    // paused by the queue, resumed when a slot frees
	Forced      bool    `json:"forced,omitempty"`    // started by the user while queued: keeps its slot
	Limited     bool    `json:"limited,omitempty"`   // paused on the ratio or seed-time limit
	Exempt      bool    `json:"exempt,omitempty"`    // resumed by the user after a limit: never paused again
	Completed   bool    `json:"completed,omitempty"` // completion seen (move and hook done or not wanted)
	SeedSeconds float64 `json:"seed_seconds,omitempty"`

	missingSince time.Time // absent from snapshots since (in memory)
	seen         uint64    // the last pass that saw it (in memory)
}

// altState is set while the alternative speed limits are in force.
type altState struct {
	Normal core.Limits `json:"normal"` // the limits to restore
}

// state is automation's persistent memory, owned by the Run goroutine.
// In memory records are keyed by infohash (a pass over thousands of
// torrents each second allocates nothing for them); the file keys them by
// hex (stateFile).
type state struct {
	Torrents map[core.InfoHash]*record
	Alt      *altState

	dirty bool   // something changed since the last save
	pass  uint64 // the current pass: get marks the records it returns with it
}

// stateFile is state as saved.
type stateFile struct {
	Torrents map[string]*record `json:"torrents"`
	Alt      *altState          `json:"alt,omitempty"`
}

func (s *state) MarshalJSON() ([]byte, error) {
	f := stateFile{Torrents: make(map[string]*record, len(s.Torrents)), Alt: s.Alt}
	for ih, r := range s.Torrents {
		f.Torrents[ih.String()] = r
	}
	return json.Marshal(f)
}

func (s *state) UnmarshalJSON(b []byte) error {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	s.Torrents = make(map[core.InfoHash]*record, len(f.Torrents))
	for k, r := range f.Torrents {
		ih, err := core.ParseInfoHash(k)
		if err != nil {
			return fmt.Errorf("torrent %q: %w", k, err)
		}
		if r == nil {
			r = &record{}
		}
		s.Torrents[ih] = r
	}
	s.Alt = f.Alt
	return nil
}

// forgetAfter is how long a torrent must be missing from the snapshots
// before its record is dropped (an engine still restoring its torrents
// must not make automation forget what it paused).
const forgetAfter = 10 * time.Minute

func loadState(path string) (*state, error) {
	st := &state{Torrents: map[core.InfoHash]*record{}}
	if path == "" {
		return st, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read automation state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("cannot parse automation state %s: %w", path, err)
	}
	if st.Torrents == nil {
		st.Torrents = map[core.InfoHash]*record{}
	}
	return st, nil
}

// get returns the record of ih, creating it, and marks it seen in this
// pass. Callers that change it mark the state dirty by returning changed
// from their pass.
func (s *state) get(ih core.InfoHash) *record {
	r := s.Torrents[ih]
	if r == nil {
		r = &record{}
		s.Torrents[ih] = r
	}
	r.missingSince = time.Time{}
	r.seen = s.pass
	return r
}

// prune drops records of torrents missing from the snapshots for long:
// those get did not return in this pass.
func (s *state) prune(now time.Time) bool {
	changed := false
	for k, r := range s.Torrents {
		switch {
		case r.seen == s.pass:
			r.missingSince = time.Time{}
		case r.missingSince.IsZero():
			r.missingSince = now
		case now.Sub(r.missingSince) >= forgetAfter:
			delete(s.Torrents, k)
			changed = true
		}
	}
	return changed
}

// save writes the state atomically (a temporary file renamed over it).
func (s *state) save(path string) error {
	if path == "" {
		s.dirty = false
		return nil
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode automation state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("cannot write automation state: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("cannot save automation state: %w", err)
	}
	s.dirty = false
	return nil
}
