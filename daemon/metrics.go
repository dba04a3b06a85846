package daemon

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// tokenNote ends the help of every metric holding a token amount.
const tokenNote = " Whole tokens as a float, for graphs only: exact amounts are in `stats --json`."

var (
	torrentLabels = []string{"infohash", "name"}

	descUp       = prometheus.NewDesc("bidtorrent_up", "1 when the engine has published a snapshot.", nil, nil)
	descTorrents = prometheus.NewDesc("bidtorrent_torrents", "Number of torrents.", nil, nil)
	descDownRate = prometheus.NewDesc("bidtorrent_download_rate_bytes_per_second", "Payload download rate over all torrents.", nil, nil)
	descUpRate   = prometheus.NewDesc("bidtorrent_upload_rate_bytes_per_second", "Payload upload rate over all torrents.", nil, nil)
	descDown     = prometheus.NewDesc("bidtorrent_downloaded_bytes_total", "Payload bytes downloaded since the engine started.", nil, nil)
	descUpl      = prometheus.NewDesc("bidtorrent_uploaded_bytes_total", "Payload bytes uploaded since the engine started.", nil, nil)
	descPeers    = prometheus.NewDesc("bidtorrent_peers", "Connected peers over all torrents.", nil, nil)
	descLimit    = prometheus.NewDesc("bidtorrent_rate_limit_bytes_per_second", "Global rate limit (0 = unlimited).", []string{"direction"}, nil)
	descEarned   = prometheus.NewDesc("bidtorrent_earned_tokens_total", "Tokens earned by selling bandwidth, all time."+tokenNote, nil, nil)
	descSpent    = prometheus.NewDesc("bidtorrent_spent_tokens_total", "Tokens spent buying bandwidth, all time."+tokenNote, nil, nil)
	descUnsett   = prometheus.NewDesc("bidtorrent_unsettled_tokens", "Tokens received in cheques and not yet settled."+tokenNote, nil, nil)
	descBalance  = prometheus.NewDesc("bidtorrent_wallet_balance_tokens", "Wallet balance."+tokenNote, []string{"address", "chain", "token"}, nil)

	descTDownRate = prometheus.NewDesc("bidtorrent_torrent_download_rate_bytes_per_second", "Payload download rate of a torrent.", torrentLabels, nil)
	descTUpRate   = prometheus.NewDesc("bidtorrent_torrent_upload_rate_bytes_per_second", "Payload upload rate of a torrent.", torrentLabels, nil)
	descTDown     = prometheus.NewDesc("bidtorrent_torrent_downloaded_bytes_total", "Payload bytes downloaded for a torrent, all time.", torrentLabels, nil)
	descTUp       = prometheus.NewDesc("bidtorrent_torrent_uploaded_bytes_total", "Payload bytes uploaded for a torrent, all time.", torrentLabels, nil)
	descTSize     = prometheus.NewDesc("bidtorrent_torrent_size_bytes", "Bytes wanted in total (0 until the metadata is known).", torrentLabels, nil)
	descTDone     = prometheus.NewDesc("bidtorrent_torrent_done_bytes", "Verified bytes.", torrentLabels, nil)
	descTPeers    = prometheus.NewDesc("bidtorrent_torrent_peers", "Connected peers of a torrent.", torrentLabels, nil)
	descTSeeds    = prometheus.NewDesc("bidtorrent_torrent_seeds", "Connected peers of a torrent that have every piece.", torrentLabels, nil)
	descTState    = prometheus.NewDesc("bidtorrent_torrent_state", "1 for the torrent's current state, 0 for the others.", append(torrentLabels, "state"), nil)
	descTPrice    = prometheus.NewDesc("bidtorrent_torrent_market_price_tokens_per_mib", "Clearing price of the torrent's latest auction."+tokenNote, torrentLabels, nil)
	descTBid      = prometheus.NewDesc("bidtorrent_torrent_market_bid_tokens_per_mib", "Maximum price per MiB we bid."+tokenNote, torrentLabels, nil)
	descTAsk      = prometheus.NewDesc("bidtorrent_torrent_market_ask_tokens_per_mib", "Reserve price per MiB we ask."+tokenNote, torrentLabels, nil)
	descTEarned   = prometheus.NewDesc("bidtorrent_torrent_earned_tokens_total", "Tokens earned on a torrent, all time."+tokenNote, torrentLabels, nil)
	descTSpent    = prometheus.NewDesc("bidtorrent_torrent_spent_tokens_total", "Tokens spent on a torrent, all time."+tokenNote, torrentLabels, nil)

	allStates = []core.State{core.StateMetadata, core.StateChecking, core.StateDownloading,
		core.StateSeeding, core.StatePaused, core.StateQueued, core.StateError}
)

// collector exports the latest snapshot at scrape time.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descTorrents, descDownRate, descUpRate, descDown, descUpl,
		descPeers, descLimit, descEarned, descSpent, descUnsett, descBalance,
		descTDownRate, descTUpRate, descTDown, descTUp, descTSize, descTDone, descTPeers, descTSeeds,
		descTState, descTPrice, descTBid, descTAsk, descTEarned, descTSpent} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	bad := func(err error) { c.s.log.Warn("metrics: sample skipped", "err", err) }
	snap, ok := c.s.latest()
	if !ok {
		emit(ch, bad, descUp, prometheus.GaugeValue, 0)
		return
	}
	collectSnapshot(ch, &snap, bad)
}

// emit sends one sample, or reports why Prometheus refused it: Collect runs
// in a Prometheus goroutine nothing recovers, so it must never panic.
func emit(ch chan<- prometheus.Metric, bad func(error), d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	for i, l := range labels {
		labels[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		bad(err)
		return
	}
	ch <- m
}

// collectSnapshot exports snap; label values a torrent file or a peer
// controls (names) are made valid UTF-8, and a sample Prometheus still
// refuses is skipped and reported to bad.
func collectSnapshot(ch chan<- prometheus.Metric, snap *core.Snapshot, bad func(error)) {
	dec := decimals(*snap)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		emit(ch, bad, d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		emit(ch, bad, d, prometheus.CounterValue, v, labels...)
	}
	gauge(descUp, 1)
	gauge(descTorrents, float64(len(snap.Torrents)))
	tot := &snap.Totals
	gauge(descDownRate, float64(tot.DownRate))
	gauge(descUpRate, float64(tot.UpRate))
	counter(descDown, float64(tot.Downloaded))
	counter(descUpl, float64(tot.Uploaded))
	gauge(descPeers, float64(tot.Peers))
	gauge(descLimit, float64(snap.Limits.Down), "down")
	gauge(descLimit, float64(snap.Limits.Up), "up")
	counter(descEarned, tokens(tot.Earned, dec))
	counter(descSpent, tokens(tot.Spent, dec))
	gauge(descUnsett, tokens(tot.Unsettled, dec))
	if w := &snap.Wallet; w.Address != "" {
		gauge(descBalance, tokens(w.Balance, dec), w.Address, w.Chain, w.Token)
	}
	seen := make(map[core.InfoHash]bool, len(snap.Torrents))
	for i := range snap.Torrents {
		t := &snap.Torrents[i]
		if seen[t.InfoHash] { // a duplicate would fail the whole scrape
			continue
		}
		seen[t.InfoHash] = true
		ih, name := t.InfoHash.String(), t.Name
		gauge(descTDownRate, float64(t.DownRate), ih, name)
		gauge(descTUpRate, float64(t.UpRate), ih, name)
		counter(descTDown, float64(t.Downloaded), ih, name)
		counter(descTUp, float64(t.Uploaded), ih, name)
		gauge(descTSize, float64(t.Size), ih, name)
		gauge(descTDone, float64(t.Done), ih, name)
		gauge(descTPeers, float64(t.PeerCount), ih, name)
		gauge(descTSeeds, float64(t.SeedCount), ih, name)
		for _, st := range allStates {
			v := 0.0
			if t.State == st {
				v = 1
			}
			gauge(descTState, v, ih, name, string(st))
		}
		m := &t.Market
		gauge(descTPrice, tokens(m.Price, dec), ih, name)
		gauge(descTBid, tokens(m.Bid, dec), ih, name)
		gauge(descTAsk, tokens(m.Ask, dec), ih, name)
		counter(descTEarned, tokens(m.Earned, dec), ih, name)
		counter(descTSpent, tokens(m.Spent, dec), ih, name)
	}
}

// tokens converts base units to whole tokens as a float, for metrics only.
func tokens(a wallet.Amount, dec int) float64 { return a.Float(dec) }

// metricsHandler serves /metrics from a registry of our own (never the
// global one): the engine's metrics plus Go runtime and process metrics.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("bidtorrent daemon: metrics at /metrics\n"))
	})
	return mux
}

// slogPrinter adapts the server's logger to promhttp's error log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) {
	p.s.log.Error("metrics scrape failed", "err", v)
}
