package cliargs

import (
	"flag"
	"io"
	"slices"
	"strings"
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

func TestParseBTT(t *testing.T) {
	for _, tc := range []struct {
		in, base, err string
	}{
		{"12.5", "12500000000000000000", ""},
		{"0.5 BTT", "500000000000000000", ""},
		{"  2 btt ", "2000000000000000000", ""},
		{"0", "0", ""},
		{"0.000000000000000001", "1", ""},
		{"1 TRX", "", `unknown unit "TRX"`},
		{"1 BTT more", "", "is not a number"},
		{"0.0000000000000000001", "", "more than 18 decimal places"},
		{"cheap", "", "cheap"},
	} {
		a, err := ParseBTT(tc.in)
		switch {
		case tc.err == "" && (err != nil || a.String() != tc.base):
			t.Errorf("ParseBTT(%q) = %s, %v; want %s", tc.in, a, err, tc.base)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseBTT(%q) error %v; want one with %q", tc.in, err, tc.err)
		}
	}
}

func TestAmountFirst(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"0.5", "BTT", "ab12"}, []string{"0.5 BTT", "ab12"}},
		{[]string{"0.5", "btt"}, []string{"0.5 btt"}},
		{[]string{"0.5", "ab12"}, []string{"0.5", "ab12"}},
		{[]string{"0.5 BTT", "ab12", "x"}, []string{"0.5 BTT", "ab12", "x"}},
		{[]string{"BTT"}, []string{"BTT"}},
		{nil, nil},
	} {
		if got := AmountFirst(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("AmountFirst(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckMemo(t *testing.T) {
	for _, tc := range []struct{ memo, err string }{
		{"", ""},
		{"thanks for the fast seed ☕", ""},
		{strings.Repeat("x", 140), ""},
		{strings.Repeat("x", 141), "141 bytes, at most 140"},
		{strings.Repeat("é", 71), "142 bytes, at most 140"},
		{"a\xffb", "not valid UTF-8"},
		{"a\nb", "control characters"},
		{"a\x1b[31mb", "control characters"},
		{"a\u0085b", "control characters"},
	} {
		err := CheckMemo(tc.memo)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckMemo(%q) = %v, want %q", tc.memo, err, tc.err)
		}
	}
}

func TestRecipient(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"publisher", "publisher", ""},
		{" Publisher ", "publisher", ""},
		{"198.51.100.7:6881", "198.51.100.7:6881", ""},
		{"[2001:db8::1]:6881", "[2001:db8::1]:6881", ""},
		{"nowhere", "", `bad --to "nowhere"`},
		{"", "", `bad --to ""`},
		{"2001:db8::1", "", "HOST:PORT or publisher"},
	} {
		got, err := Recipient(tc.in)
		if got != tc.want || (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Recipient(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
