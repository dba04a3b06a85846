package tui

import (
	"testing"

	"github.com/bidtorrent/bidtorrent/wallet"
)

func TestFilter(t *testing.T) {
	ts := fixture().Torrents // debian(down), ubuntu(seed), bunny(paused), magnet(metadata), archive(error)
	names := func(f *Filter) []string {
		var out []string
		for i := range ts {
			if f.Match(&ts[i]) {
				out = append(out, nameCell(&ts[i])[:4])
			}
		}
		return out
	}
	cases := []struct {
		expr string
		want []string
	}{
		{"", []string{"debi", "ubun", "big ", "dddd", "arch"}},
		{"debian", []string{"debi"}},
		{"DEBIAN", []string{"debi"}},
		{"state:seeding", []string{"ubun"}},
		{"-state:seeding", []string{"debi", "big ", "dddd", "arch"}},
		{"name~iso", []string{"debi", "ubun"}},
		{"name~iso ratio>2", []string{"ubun"}},
		{"ratio>=0.17", []string{"debi", "ubun"}},
		{"ratio<0.17", []string{"big ", "dddd", "arch"}},
		{"label:linux", []string{"debi", "ubun"}},
		{"label:iso", []string{"debi"}},
		{"label~lin -label:iso", []string{"ubun"}},
		{"earned>0", []string{"debi", "ubun"}},
		{"earned>1", []string{"ubun"}},
		{"earned>1.25", nil},
		{"earned>=1.25", []string{"ubun"}},
		{"spent=0.0128", []string{"debi"}},
		{"bid>0.0002", []string{"debi"}},
		{"size>1G", []string{"ubun", "arch"}},
		{"size<=700M", []string{"debi", "dddd"}},
		{"progress>=100", []string{"ubun"}},
		{"progress<50", []string{"big ", "dddd", "arch"}},
		{"peers>2 seeds=1", []string{"debi"}},
		{"down>1M", []string{"debi"}},
		{"up>1M", []string{"ubun"}},
		{"eta<2m", []string{"debi"}},
		{"hash:aaaa", []string{"debi"}},
		{`name~"buck bunny"`, []string{"big "}},
		{"state:error", []string{"arch"}},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.expr, wallet.BTTDecimals)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", c.expr, err)
			continue
		}
		got := names(f)
		if len(got) != len(c.want) {
			t.Errorf("%q matched %q, want %q", c.expr, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q matched %q, want %q", c.expr, got, c.want)
				break
			}
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, expr := range []string{
		"state:sleeping", "colour:red", "ratio~2", "size>big", "earned>-1",
		"earned>0.0000000000000000001", "name>3", `name~"open`, "eta<soon",
	} {
		if _, err := ParseFilter(expr, wallet.BTTDecimals); err == nil {
			t.Errorf("ParseFilter(%q) accepted a bad expression", expr)
		}
	}
}
