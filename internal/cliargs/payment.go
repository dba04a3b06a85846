package cliargs

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// ParseBTT parses an amount written in BTT by a person: "12.5" or
// "0.5 BTT" (the unit, when given, must be BTT). Zero is accepted; the
// caller says whether it means anything.
func ParseBTT(s string) (wallet.Amount, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 2 && !strings.EqualFold(f[1], "BTT"):
		return wallet.Amount{}, fmt.Errorf("amount %q: unknown unit %q (amounts are in BTT)", s, f[1])
	case len(f) > 2:
		return wallet.Amount{}, fmt.Errorf("amount %q is not a number", s)
	}
	return wallet.ParseAmount(s, wallet.BTTDecimals)
}

// AmountFirst joins an amount given as two words ("0.5" "BTT") in front
// of the other positionals into one, so that AMOUNT TORRENT may be typed
// `0.5 BTT ab12` as well as `0.5 ab12` or `'0.5 BTT' ab12`.
func AmountFirst(pos []string) []string {
	if len(pos) >= 2 && strings.EqualFold(pos[1], "BTT") {
		return append([]string{pos[0] + " " + pos[1]}, pos[2:]...)
	}
	return pos
}

// CheckMemo refuses a tip's memo that the protocol would refuse (more
// than wallet.MaxMemo bytes, not UTF-8) or that would reach the
// receiver's screen as control characters (newlines, escapes). Its
// errors are about the memo without naming it: the caller does.
func CheckMemo(memo string) error {
	switch {
	case len(memo) > wallet.MaxMemo:
		return fmt.Errorf("%d bytes, at most %d", len(memo), wallet.MaxMemo)
	case !utf8.ValidString(memo):
		return errors.New("not valid UTF-8")
	case strings.IndexFunc(memo, unicode.IsControl) >= 0:
		return errors.New("control characters (newlines, escapes) are not allowed")
	}
	return nil
}

// Recipient reads tip's --to: "publisher" in any case (core.ToPublisher)
// or a peer's HOST:PORT, which is its key among the connected peers.
func Recipient(to string) (string, error) {
	to = strings.TrimSpace(to)
	if strings.EqualFold(to, core.ToPublisher) {
		return core.ToPublisher, nil
	}
	if _, _, err := net.SplitHostPort(to); err != nil {
		return "", fmt.Errorf("bad --to %q: want a connected peer's HOST:PORT or publisher", to)
	}
	return to, nil
}
