package bytesize

import "testing"

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0B"}, {512, "512B"}, {1023, "1023B"}, {1024, "1.0K"}, {1536, "1.5K"},
		{12 << 10, "12K"}, {3 << 20, "3.0M"}, {3<<20 + 1<<19, "3.5M"}, {700 << 20, "700M"},
		{3 << 29, "1.5G"}, {5 << 40, "5.0T"}, {2048 << 40, "2.0P"}, {1 << 62, "4096P"},
	} {
		if got := Format(tt.n); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := FormatRate(2 << 20); got != "2.0M/s" {
		t.Errorf("FormatRate(2MiB) = %q", got)
	}
	if got := FormatRate(0); got != "unlimited" {
		t.Errorf("FormatRate(0) = %q", got)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"4096": 4096, "1.5M": 3 << 19, "2MiB": 2 << 20, "2mib": 2 << 20, "256kb": 256 << 10,
		"256KB": 256 << 10, " 1 G ": 1 << 30, "1Gi": 1 << 30, "2T": 2 << 40, "0": 0, "12B": 12,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "x", "1X", "1.5.5M", "5000000T", "M"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{
		"500K": 500 << 10, "2MiB/s": 2 << 20, "2MiB": 2 << 20, "1Mps": 1 << 20, "1MBps": 1 << 20,
		"1000": 1000, "1000/s": 1000, "0": 0, "": 0, "∞": 0, "unlimited": 0, "Unlimited": 0, "1.5 M /s": 3 << 19,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1K", "fast", "1X/s", "/s"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %d, want an error", in, got)
		}
	}
}
