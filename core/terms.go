package core

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// termsKey is the info dict key holding a torrent's publisher terms.
const termsKey = "btt"

func termsErr(key, reason string) error { return &market.TermsError{Key: key, Reason: reason} }

// ParseTerms reads the publisher terms of a bencoded info dict. It returns
// nil, nil when the dict has no `btt` key, and a *market.TermsError naming the
// key for terms that are malformed or incomplete. Unknown keys inside
// `btt` are ignored (later versions may add some).
func ParseTerms(infoBytes []byte) (*market.Terms, error) {
	var info map[string]bencode.Bytes
	if err := bencode.Unmarshal(infoBytes, &info); err != nil {
		return nil, fmt.Errorf("cannot read the info dictionary: %w", err)
	}
	raw, ok := info[termsKey]
	if !ok {
		return nil, nil
	}
	var d map[string]bencode.Bytes
	if len(raw) == 0 || raw[0] != 'd' {
		return nil, termsErr("btt", "not a dictionary")
	}
	if err := bencode.Unmarshal(raw, &d); err != nil {
		return nil, termsErr("btt", "corrupt dictionary: "+err.Error())
	}
	var t market.Terms
	var err error
	if t.Payee, err = termsAddress(d, "payee"); err != nil {
		return nil, err
	}
	chain, err := termsInt(d, "chain", true)
	if err != nil {
		return nil, err
	}
	if chain <= 0 {
		return nil, termsErr("chain", strconv.FormatInt(chain, 10)+" is not a chain id")
	}
	t.ChainID = uint64(chain)
	if t.Token, err = termsAddress(d, "token"); err != nil {
		return nil, err
	}
	if t.Price, err = termsAmount(d, "price"); err != nil {
		return nil, err
	}
	if t.Goal, err = termsAmount(d, "goal"); err != nil {
		return nil, err
	}
	if _, ok := d["goal"]; ok && t.Goal.IsZero() {
		return nil, termsErr("goal", "zero (a torrent without a campaign has no goal key)")
	}
	deadline, err := termsInt(d, "deadline", false)
	if err != nil {
		return nil, err
	}
	if _, ok := d["deadline"]; ok {
		if deadline <= 0 {
			return nil, termsErr("deadline", strconv.FormatInt(deadline, 10)+" is not a unix time")
		}
		t.Deadline = time.Unix(deadline, 0).UTC()
	}
	if err := t.Validate(); err != nil {
		return nil, err // a goal without a deadline or the reverse
	}
	return &t, nil
}

func termsString(d map[string]bencode.Bytes, key string) ([]byte, bool, error) {
	raw, ok := d[key]
	if !ok {
		return nil, false, nil
	}
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return nil, true, termsErr(key, "not a byte string")
	}
	var b []byte
	if err := bencode.Unmarshal(raw, &b); err != nil {
		return nil, true, termsErr(key, "corrupt byte string: "+err.Error())
	}
	return b, true, nil
}

func termsAddress(d map[string]bencode.Bytes, key string) (wallet.Address, error) {
	b, ok, err := termsString(d, key)
	if err != nil {
		return wallet.Address{}, err
	}
	if !ok {
		return wallet.Address{}, termsErr(key, "missing")
	}
	a, err := wallet.AddressFromBytes(b)
	if err != nil {
		return a, termsErr(key, "want a 21-byte TRON address starting with 0x41: "+err.Error())
	}
	return a, nil
}

// termsAmount reads an optional amount, encoded like the btt_bid amounts:
// big-endian, at most 32 bytes, no leading zero byte (zero is "").
func termsAmount(d map[string]bencode.Bytes, key string) (wallet.Amount, error) {
	b, ok, err := termsString(d, key)
	if err != nil || !ok {
		return wallet.Amount{}, err
	}
	a, err := wallet.AmountFromMinimalBytes(b)
	if err != nil {
		return a, termsErr(key, err.Error())
	}
	return a, nil
}

func termsInt(d map[string]bencode.Bytes, key string, required bool) (int64, error) {
	raw, ok := d[key]
	if !ok {
		if required {
			return 0, termsErr(key, "missing")
		}
		return 0, nil
	}
	if len(raw) == 0 || raw[0] != 'i' {
		return 0, termsErr(key, "not an integer")
	}
	var v int64
	if err := bencode.Unmarshal(raw, &v); err != nil {
		return 0, termsErr(key, "corrupt integer: "+err.Error())
	}
	return v, nil
}

// SpliceTerms returns infoBytes re-encoded with t as its `btt` dict
// (replacing any earlier one). Keys come out sorted; every other key keeps
// its value byte for byte. The result has another infohash.
func SpliceTerms(infoBytes []byte, t market.Terms) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var info map[string]bencode.Bytes
	if err := bencode.Unmarshal(infoBytes, &info); err != nil {
		return nil, fmt.Errorf("cannot read the info dictionary: %w", err)
	}
	if info == nil {
		return nil, errors.New("cannot add terms: the info dictionary is empty")
	}
	d := map[string]any{
		"payee": t.Payee[:],
		"chain": int64(t.ChainID),
		"token": t.Token[:],
	}
	if !t.Price.IsZero() {
		d["price"] = t.Price.Bytes()
	}
	if !t.Goal.IsZero() {
		d["goal"] = t.Goal.Bytes()
		d["deadline"] = t.Deadline.Unix()
	}
	raw, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("cannot encode publisher terms: %w", err)
	}
	info[termsKey] = raw
	out, err := bencode.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the info dictionary: %w", err)
	}
	return out, nil
}

// Terms returns the torrent's publisher terms (nil, nil without any).
func (t *TorrentFile) Terms() (*market.Terms, error) { return ParseTerms(t.mi.InfoBytes) }
