package core

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

func testTerms() market.Terms {
	return market.Terms{
		Payee:    wallet.MustParseAddress("TLsV52sRDL79HXGGm9yzwKibb6BeruhUzy"),
		ChainID:  wallet.ChainIDLocal,
		Token:    wallet.MustParseAddress(wallet.DefaultBTTContract),
		Price:    wallet.NewAmount(5_000_000_000_000_000_000),
		Goal:     wallet.NewAmount(1 << 62),
		Deadline: time.Unix(1_900_000_000, 0).UTC(),
	}
}

// withTerms splices t into tf's info dict and returns the new .torrent.
func withTerms(t *testing.T, tf *TorrentFile, terms market.Terms) (*TorrentFile, []byte) {
	t.Helper()
	info, err := SpliceTerms(tf.mi.InfoBytes, terms)
	if err != nil {
		t.Fatal(err)
	}
	mi := *tf.mi
	mi.InfoBytes = info
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := ParseTorrentFile(buf.Bytes(), "spliced")
	if err != nil {
		t.Fatal(err)
	}
	return out, info
}

func TestSpliceParseTerms(t *testing.T) {
	dir := t.TempDir()
	_, _, tf := seedTorrent(t, dir, 32<<10)
	if got, err := ParseTerms(tf.mi.InfoBytes); got != nil || err != nil {
		t.Fatalf("ParseTerms of a plain torrent = %+v, %v; want nil, nil", got, err)
	}
	want := testTerms()
	paid, info := withTerms(t, tf, want)
	got, err := ParseTerms(info)
	if err != nil {
		t.Fatal(err)
	}
	if got.Payee != want.Payee || got.ChainID != want.ChainID || got.Token != want.Token ||
		got.Price.Cmp(want.Price) != 0 || got.Goal.Cmp(want.Goal) != 0 || !got.Deadline.Equal(want.Deadline) {
		t.Fatalf("round trip: got %+v, want %+v", *got, want)
	}
	if !got.Paid() {
		t.Error("Paid() = false for a priced torrent")
	}
	// The infohash covers the terms: another price is another torrent.
	if paid.InfoHash == tf.InfoHash {
		t.Fatal("splicing terms kept the infohash")
	}
	cheaper := want
	cheaper.Price = wallet.NewAmount(1)
	if other, _ := withTerms(t, tf, cheaper); other.InfoHash == paid.InfoHash {
		t.Fatal("changing the price kept the infohash")
	}
	// Splicing into an already spliced dict replaces the terms.
	again, err := SpliceTerms(info, cheaper)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := ParseTerms(again); g == nil || g.Price.Cmp(cheaper.Price) != 0 {
		t.Fatalf("re-splice: price %v, want 1", g)
	}
	// Everything else is unchanged: anacrolix loads it, same pieces,
	// name, lengths and files; the raw values of the other keys are equal.
	if paid.Name != tf.Name || paid.Size != tf.Size || paid.PieceLength != tf.PieceLength || paid.NumPieces != tf.NumPieces ||
		!bytes.Equal(pieceHashes(t, paid), pieceHashes(t, tf)) || strings.Join(paid.Files, "|") != strings.Join(tf.Files, "|") {
		t.Fatalf("splice changed the content: %+v vs %+v", paid, tf)
	}
	var before, after map[string]bencode.Bytes
	if err := bencode.Unmarshal(tf.mi.InfoBytes, &before); err != nil {
		t.Fatal(err)
	}
	if err := bencode.Unmarshal(info, &after); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("spliced dict has %d keys, want %d", len(after), len(before)+1)
	}
	for k, v := range before {
		if !bytes.Equal(after[k], v) {
			t.Errorf("key %q changed", k)
		}
	}
	if h := metainfo.HashBytes(info); InfoHash(h) != paid.InfoHash {
		t.Errorf("infohash %x is not sha1 of the spliced dict %x", paid.InfoHash, h)
	}
	// A free torrent with only a payee (tips) carries no price or goal.
	free := market.Terms{Payee: want.Payee, ChainID: 1, Token: want.Token}
	_, info = withTerms(t, tf, free)
	g, err := ParseTerms(info)
	if err != nil || g.Paid() || !g.Goal.IsZero() || !g.Deadline.IsZero() {
		t.Fatalf("free terms: %+v, %v", g, err)
	}
}

func TestSpliceTermsRejects(t *testing.T) {
	dir := t.TempDir()
	_, _, tf := seedTorrent(t, dir, 32<<10)
	for key, mut := range map[string]func(*market.Terms){
		"payee":    func(t *market.Terms) { t.Payee = wallet.Address{} },
		"token":    func(t *market.Terms) { t.Token = wallet.Address{} },
		"chain":    func(t *market.Terms) { t.ChainID = 0 },
		"deadline": func(t *market.Terms) { t.Deadline = time.Time{} },
	} {
		terms := testTerms()
		mut(&terms)
		_, err := SpliceTerms(tf.mi.InfoBytes, terms)
		var te *market.TermsError
		if !errors.As(err, &te) || te.Key != key {
			t.Errorf("%s: SpliceTerms error %v, want one naming btt.%s", key, err, key)
		}
	}
	noGoal := testTerms()
	noGoal.Goal = wallet.Amount{}
	if _, err := SpliceTerms(tf.mi.InfoBytes, noGoal); err == nil || !strings.Contains(err.Error(), "btt.deadline") {
		t.Errorf("deadline without goal: %v", err)
	}
}

func TestParseTermsRejects(t *testing.T) {
	dir := t.TempDir()
	_, _, tf := seedTorrent(t, dir, 32<<10)
	good := testTerms()
	// base is a valid btt dict as raw values; each case breaks one key.
	base := func() map[string]any {
		return map[string]any{
			"payee": good.Payee[:], "chain": int64(good.ChainID), "token": good.Token[:],
			"price": good.Price.Bytes(), "goal": good.Goal.Bytes(), "deadline": good.Deadline.Unix(),
		}
	}
	splice := func(btt any) []byte {
		var info map[string]bencode.Bytes
		if err := bencode.Unmarshal(tf.mi.InfoBytes, &info); err != nil {
			t.Fatal(err)
		}
		raw, err := bencode.Marshal(btt)
		if err != nil {
			t.Fatal(err)
		}
		info["btt"] = raw
		b, err := bencode.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := ParseTerms(splice(base())); err != nil {
		t.Fatalf("valid hand-made terms: %v", err)
	}
	evm := make([]byte, 21)
	evm[0] = 0xa0
	cases := []struct {
		key string
		mut func(map[string]any)
	}{
		{"payee", func(d map[string]any) { delete(d, "payee") }},
		{"payee", func(d map[string]any) { d["payee"] = good.Payee[1:] }},
		{"payee", func(d map[string]any) { d["payee"] = evm }},
		{"payee", func(d map[string]any) { d["payee"] = int64(7) }},
		{"chain", func(d map[string]any) { delete(d, "chain") }},
		{"chain", func(d map[string]any) { d["chain"] = "1" }},
		{"chain", func(d map[string]any) { d["chain"] = int64(-1) }},
		{"token", func(d map[string]any) { delete(d, "token") }},
		{"token", func(d map[string]any) { d["token"] = append([]byte{}, good.Token[:20]...) }},
		{"price", func(d map[string]any) { d["price"] = []byte{0, 1} }},
		{"price", func(d map[string]any) { d["price"] = bytes.Repeat([]byte{1}, 33) }},
		{"price", func(d map[string]any) { d["price"] = int64(5) }},
		{"goal", func(d map[string]any) { d["goal"] = []byte{0, 9} }},
		{"goal", func(d map[string]any) { d["goal"] = []byte{} }},
		{"deadline", func(d map[string]any) { delete(d, "deadline") }},
		{"deadline", func(d map[string]any) { delete(d, "goal") }},
		{"deadline", func(d map[string]any) { d["deadline"] = "soon" }},
		{"deadline", func(d map[string]any) { d["deadline"] = int64(0) }},
	}
	for i, c := range cases {
		d := base()
		c.mut(d)
		_, err := ParseTerms(splice(d))
		var te *market.TermsError
		if !errors.As(err, &te) || te.Key != c.key || !strings.Contains(err.Error(), "btt."+c.key) {
			t.Errorf("case %d: error %v, want one naming btt.%s", i, err, c.key)
		}
	}
	var te *market.TermsError
	if _, err := ParseTerms(splice("not a dict")); !errors.As(err, &te) || te.Key != "btt" {
		t.Errorf("btt as a string: %v", err)
	}
	// Unknown keys are ignored; a zero price is free.
	d := base()
	d["future"] = "x"
	d["price"] = []byte{}
	if g, err := ParseTerms(splice(d)); err != nil || g.Paid() {
		t.Errorf("unknown key and zero price: %+v, %v", g, err)
	}
	if _, err := ParseTerms([]byte("i3e")); err == nil {
		t.Error("an integer parsed as an info dict")
	}
}

// pieceHashes returns the v1 piece hashes of tf's info dict (tf.info
// drops them once checked: TorrentFile.trim).
func pieceHashes(t *testing.T, tf *TorrentFile) []byte {
	t.Helper()
	info, err := tf.mi.UnmarshalInfo()
	if err != nil || len(info.Pieces) == 0 {
		t.Fatalf("info of %s: %v, %d bytes of piece hashes", tf.Name, err, len(info.Pieces))
	}
	return info.Pieces
}
