package daemon

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("cannot parse /metrics: %v", err)
	}
	return fams
}

// value returns the one sample of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	var found []float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			found = append(found, m.GetGauge().GetValue())
		case m.Counter != nil:
			found = append(found, m.GetCounter().GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, want, len(found))
	}
	return found[0]
}

func TestMetrics(t *testing.T) {
	eng := &fakeEngine{}
	e := start(t, eng, nil)

	// Before the engine's first snapshot: only bidtorrent_up 0.
	fams := scrape(t, e.metrics)
	if v := value(t, fams, "bidtorrent_up", nil); v != 0 {
		t.Fatalf("bidtorrent_up = %v before any snapshot", v)
	}

	eng.publish(testSnapshot(t))
	// Commands wait for the first snapshot, so one run means it arrived.
	if _, _, code := e.run(t, "", "stats"); code != 0 {
		t.Fatal("stats failed")
	}
	fams = scrape(t, e.metrics)
	ubuntu := map[string]string{"infohash": "ab12000000000000000000000000000000000001", "name": "ubuntu-24.04.iso"}
	debian := map[string]string{"infohash": "ab34000000000000000000000000000000000002"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bidtorrent_up", nil, 1},
		{"bidtorrent_torrents", nil, 3},
		{"bidtorrent_download_rate_bytes_per_second", nil, 5 << 20},
		{"bidtorrent_peers", nil, 10},
		{"bidtorrent_earned_tokens_total", nil, 1.5},
		{"bidtorrent_spent_tokens_total", nil, 0.25},
		{"bidtorrent_rate_limit_bytes_per_second", map[string]string{"direction": "down"}, 10 << 20},
		{"bidtorrent_wallet_balance_tokens", map[string]string{"chain": "local", "token": "BTT"}, 100},
		{"bidtorrent_torrent_upload_rate_bytes_per_second", ubuntu, 2 << 20},
		{"bidtorrent_torrent_uploaded_bytes_total", ubuntu, 12 << 30},
		{"bidtorrent_torrent_size_bytes", ubuntu, 4 << 30},
		{"bidtorrent_torrent_peers", ubuntu, 7},
		{"bidtorrent_torrent_earned_tokens_total", ubuntu, 1.5},
		{"bidtorrent_torrent_market_price_tokens_per_mib", ubuntu, 0.0002},
		{"bidtorrent_torrent_download_rate_bytes_per_second", debian, 5 << 20},
		{"bidtorrent_torrent_done_bytes", debian, 1 << 29},
		{"bidtorrent_torrent_state", map[string]string{"infohash": debian["infohash"], "state": "downloading"}, 1},
		{"bidtorrent_torrent_state", map[string]string{"infohash": debian["infohash"], "state": "seeding"}, 0},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if f := fams["bidtorrent_torrent_earned_tokens_total"]; f.GetType() != dto.MetricType_COUNTER ||
		!strings.Contains(f.GetHelp(), "Whole tokens as a float") {
		t.Errorf("earned metric: type %v, help %q", f.GetType(), f.GetHelp())
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// A torrent name that is not valid UTF-8 (a magnet's dn=%FF, a peer's
// metadata) is exported with the bad bytes replaced; the scrape succeeds and
// the daemon stays up (it used to panic in a Prometheus goroutine).
func TestMetricsInvalidUTF8Name(t *testing.T) {
	eng := &fakeEngine{}
	e := start(t, eng, nil)
	snap := testSnapshot(t)
	snap.Torrents[0].Name = "bad\xff\xfename"
	eng.publish(snap)
	if _, _, code := e.run(t, "", "stats"); code != 0 {
		t.Fatal("stats failed")
	}
	fams := scrape(t, e.metrics)
	want := map[string]string{"infohash": "ab12000000000000000000000000000000000001", "name": "bad\uFFFDname"}
	if v := value(t, fams, "bidtorrent_torrent_peers", want); v != 7 {
		t.Fatalf("peers of the bad-named torrent = %v, want 7", v)
	}
	if _, _, code := e.run(t, "", "stats"); code != 0 {
		t.Fatal("daemon died after the scrape")
	}
}

// collectSnapshot never panics on a metric Prometheus refuses: it skips it.
func TestCollectSnapshotNoPanic(t *testing.T) {
	snap := testSnapshot(t)
	snap.Torrents[1].Name = "\xc3\x28"
	ch := make(chan prometheus.Metric, 1000)
	var errs int
	collectSnapshot(ch, &snap, func(error) { errs++ })
	close(ch)
	n := 0
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.GetLabel() {
			if !utf8.ValidString(l.GetValue()) {
				t.Fatalf("label %s = %q is not UTF-8", l.GetName(), l.GetValue())
			}
		}
		n++
	}
	if n == 0 || errs != 0 {
		t.Fatalf("%d metrics, %d errors", n, errs)
	}
}
