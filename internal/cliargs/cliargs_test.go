package cliargs

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		memo    string
		wantErr bool
	}{
		{[]string{"1", "ab", "--memo", "hi"}, []string{"1", "ab"}, "hi", false},
		{[]string{"--memo", "hi", "1", "ab"}, []string{"1", "ab"}, "hi", false},
		{[]string{"1", "--memo=hi", "ab"}, []string{"1", "ab"}, "hi", false},
		{[]string{"1", "--", "--memo", "x"}, []string{"1", "--memo", "x"}, "", false},
		{[]string{"1", "--nope"}, nil, "", true},
		{nil, nil, "", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		memo := fs.String("memo", "", "")
		pos, err := Interspersed(fs, tc.args, func(fs *flag.FlagSet, a []string) error { return fs.Parse(a) })
		if (err != nil) != tc.wantErr || !slices.Equal(pos, tc.pos) || *memo != tc.memo {
			t.Errorf("%q: positionals %q, memo %q, err %v; want %q, %q, error %v", tc.args, pos, *memo, err, tc.pos, tc.memo, tc.wantErr)
		}
	}
}
