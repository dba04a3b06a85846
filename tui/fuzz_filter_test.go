package tui

import "testing"

// FuzzParseFilter feeds the filter expression language (typed by a user,
// given to the daemon's list): it never panics, parsing or matching.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"state:seeding name~debian ratio>2", "label:linux -state:paused", "size>1GiB peers>=3",
		`name~"big buck" OR ratio<0.5`, "(a", "ratio>", "earned>0.5", "name~[", "",
	} {
		f.Add(s)
	}
	snap := fixture()
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFilter(s, 18)
		if err != nil {
			return
		}
		for i := range snap.Torrents {
			fl.Match(&snap.Torrents[i])
		}
	})
}
