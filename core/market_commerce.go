package core

// This file is the engine side of PROTOCOL.md §16: tips, purchases and
// crowdfunding pledges on the btt_bid cheque rail. The state machine is
// core/market (commerce.go); here are the commands, the snapshot fields
// and the licence verifier of the upload gate (gate.go).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/anacrolix/torrent"

	"github.com/bidtorrent/bidtorrent/core/bttbid"
	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// ToPublisher is the Tip recipient that means the torrent's publisher
// (a connected peer whose HELLO address is the terms' payee).
const ToPublisher = "publisher"

// Tip pays amount to a connected peer of torrent ih (to is its PeerKey,
// host:port) or, with to = ToPublisher, to the torrent's publisher, with
// an optional memo (≤ 140 bytes). It returns once the receiver
// acknowledged the payment (RECEIPT) or refused it, or ctx ends; a tip to
// the publisher waits for a publisher peer to connect.
func (e *Engine) Tip(ctx context.Context, ih InfoHash, to string, amount wallet.Amount, memo string) error {
	switch {
	case amount.IsZero():
		return &InputError{What: "tip amount", Value: "0", Reason: "must be above zero"}
	case len(memo) > bttbid.MaxMemo:
		return &InputError{What: "memo", Value: memo, Reason: fmt.Sprintf("%d bytes, at most %d", len(memo), bttbid.MaxMemo)}
	case !utf8.ValidString(memo):
		return &InputError{What: "memo", Value: memo, Reason: "not UTF-8"}
	case to == "":
		return &InputError{What: "tip recipient", Value: to, Reason: "want a peer host:port or \"publisher\""}
	}
	if to == ToPublisher {
		if err := e.needTerms(ctx, ih, func(t *market.Terms) error { return nil }); err != nil {
			return err
		}
	}
	return e.withPeer(ctx, ih, to, func(mp *mpeer, done func(error)) error {
		return mp.p.Pay(wallet.ForTip, amount, memo, done)
	})
}

// Buy pays the price of the paid torrent ih to a connected publisher
// seeder (waiting for one until ctx ends), stores the licence it grants
// and presents it to every seeder. It refuses a price above maxPrice
// (zero: no maximum). Buying a torrent already licensed does nothing.
func (e *Engine) Buy(ctx context.Context, ih InfoHash, maxPrice wallet.Amount) error {
	var (
		price    wallet.Amount
		licensed bool
	)
	err := e.needTerms(ctx, ih, func(t *market.Terms) error {
		licensed = e.mkt.torrent(ih).Licensed()
		switch {
		case !t.Paid():
			return fmt.Errorf("torrent %s is free: nothing to buy", ih)
		case !maxPrice.IsZero() && t.Price.Cmp(maxPrice) > 0:
			return fmt.Errorf("price %s BTT is above the maximum %s BTT", t.Price.Format(18), maxPrice.Format(18))
		}
		price = t.Price
		return nil
	})
	if err != nil || licensed {
		return err
	}
	return e.withPeer(ctx, ih, ToPublisher, func(mp *mpeer, done func(error)) error {
		if e.mkt.torrent(mp.ih).Licensed() {
			done(nil)
			return nil
		}
		return mp.p.Pay(wallet.ForPurchase, price, "", done)
	})
}

// Pledge promises amount (our total for this torrent; a later pledge
// replaces an earlier one) to the crowdfunding campaign of torrent ih,
// sent to a connected publisher peer (waiting for one until ctx ends).
// The pledge is paid automatically once the publisher proves the goal was
// reached by the deadline.
func (e *Engine) Pledge(ctx context.Context, ih InfoHash, amount wallet.Amount) error {
	if amount.IsZero() {
		return &InputError{What: "pledge", Value: "0", Reason: "must be above zero"}
	}
	err := e.needTerms(ctx, ih, func(t *market.Terms) error {
		switch {
		case t.Goal.IsZero():
			return fmt.Errorf("torrent %s has no crowdfunding campaign", ih)
		case time.Now().After(t.Deadline):
			return fmt.Errorf("the campaign ended at %s", t.Deadline.UTC().Format(time.RFC3339))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.withPeer(ctx, ih, ToPublisher, func(mp *mpeer, done func(error)) error {
		return mp.p.Pledge(time.Now(), amount, done)
	})
}

// errNoPeerYet: the peer a payment goes to is not (ready) yet.
var errNoPeerYet = errors.New("no such peer yet")

// paymentRetry is how often a payment waiting for its peer looks again,
// and redialEvery how often it dials the torrent's known peers.
const (
	paymentRetry = 200 * time.Millisecond
	redialEvery  = 5 * time.Second
)

// needTerms waits until torrent ih's metadata is known (a magnet) and
// checks its publisher terms with check.
func (e *Engine) needTerms(ctx context.Context, ih InfoHash, check func(*market.Terms) error) error {
	for {
		err := e.do(ctx, func() error {
			ts, err := e.tradedTorrent(ih)
			if err != nil {
				return err
			}
			if ts.tf == nil {
				return errNoPeerYet // no metadata yet
			}
			if ts.terms == nil {
				return fmt.Errorf("torrent %s names no publisher (no payee in its info dict)", ih)
			}
			e.auction(ts, time.Now()) // its licence and campaign, before the next tick
			return check(ts.terms)
		})
		if !errors.Is(err, errNoPeerYet) {
			return err
		}
		if err := sleepCtx(ctx, paymentRetry); err != nil {
			return fmt.Errorf("waiting for the torrent's metadata: %w", err)
		}
	}
}

// withPeer runs start on the loop with the connection a payment goes to
// (the peer keyed to, or a publisher peer), waiting until there is one
// that is READY, then waits for the payment's outcome (done).
func (e *Engine) withPeer(ctx context.Context, ih InfoHash, to string, start func(mp *mpeer, done func(error)) error) error {
	res := make(chan error, 1)
	done := func(err error) {
		select {
		case res <- err:
		default:
		}
	}
	var dialed time.Time
	for {
		err := e.do(ctx, func() error {
			ts, err := e.tradedTorrent(ih)
			if err != nil {
				return err
			}
			e.auction(ts, time.Now()) // the terms Session.Pay checks, before the next tick
			pc, mp, err := e.paymentPeer(ts, to)
			if errors.Is(err, errNoPeerYet) && to == ToPublisher && time.Since(dialed) >= redialEvery {
				// Two seeds drop each other: dial the torrent's known
				// peers again, the publisher may be among them.
				dialed = time.Now()
				e.addPeers(ts, append(ts.rec.Peers, e.mkt.publishers[ih]...))
			}
			if err != nil {
				return err
			}
			if err := start(mp, done); err != nil {
				return err
			}
			e.flushPeer(pc, mp)
			return nil
		})
		if errors.Is(err, errNoPeerYet) {
			if err := sleepCtx(ctx, paymentRetry); err != nil {
				if to == ToPublisher {
					return fmt.Errorf("no publisher peer connected: %w", err)
				}
				return fmt.Errorf("peer %s not ready: %w", to, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		select {
		case err := <-res:
			return err
		case <-ctx.Done():
			return fmt.Errorf("no answer from the peer: %w", ctx.Err())
		}
	}
}

// tradedTorrent returns torrent ih for a payment: it needs the market
// (a wallet) and the torrent. On the loop.
func (e *Engine) tradedTorrent(ih InfoHash) (*tstate, error) {
	if e.mkt == nil {
		return nil, ErrNoWallet
	}
	return e.lookup(ih)
}

// paymentPeer finds the connection of ts a payment to `to` goes to.
func (e *Engine) paymentPeer(ts *tstate, to string) (*torrent.PeerConn, *mpeer, error) {
	ih := ts.ih
	var waiting bool
	for pc, mp := range e.mkt.peers {
		if mp.ih != ih {
			continue
		}
		if to == ToPublisher {
			addr, ready := mp.p.Address()
			if ready && ts.terms != nil && addr == ts.terms.Payee && mp.p.Version() >= 2 {
				return pc, mp, nil
			}
			continue
		}
		if mp.key != to {
			continue
		}
		switch mp.p.State() {
		case market.Ready:
			return pc, mp, nil
		case market.HelloSent, market.Authenticating:
			waiting = true
		default:
			return nil, nil, fmt.Errorf("peer %s does not speak btt_bid (%s)", to, mp.p.State())
		}
	}
	if to == ToPublisher || waiting {
		return nil, nil, errNoPeerYet
	}
	return nil, nil, fmt.Errorf("no connected peer %s on torrent %s", to, ih)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notePublisher remembers the address of a publisher peer we dialed.
func (e *Engine) notePublisher(ts *tstate, mp *mpeer) {
	addr, ready := mp.p.Address()
	if !ready || ts.terms == nil || addr != ts.terms.Payee || mp.conn == nil || !mp.conn.Outgoing() {
		return
	}
	ih := mp.ih
	if ks := e.mkt.publishers[ih]; !slices.Contains(ks, mp.key) {
		e.mkt.publishers[ih] = append(ks[max(len(ks)-3, 0):], mp.key)
	}
}

// maxPresentations is how many licence presentations one connection may
// have checked.
const maxPresentations = 4

// connAuth is what the upload gate's verifier knows of a connection
// (PROTOCOL.md §18.4): how many presentations it checked, the protocol
// version the peer's HELLO stated (read on the read path as it passes, or
// told by the loop; 0 before it) and our HELLO's nonce (set by the loop
// before our HELLO is sent).
type connAuth struct {
	tries atomic.Int32
	peerV atomic.Uint32
	nonce atomic.Pointer[bttbid.Nonce]
}

// connAuthOf returns pc's connAuth. Safe from any goroutine.
func (e *Engine) connAuthOf(pc *torrent.PeerConn) *connAuth {
	v, _ := e.auths.LoadOrStore(pc, new(connAuth))
	return v.(*connAuth)
}

// licenceVerifier is the upload gate's check of a licence presentation
// (PROTOCOL.md §16.4), on the connection's reader goroutine: decode, then
// market.VerifyPresentation against the gate's terms, with our peer ID as
// the seller's. A peer whose HELLO states version 3 must sign our nonce
// on this connection (§18.4): a presentation it made on another
// connection is refused here. One sent before any HELLO is refused.
func (e *Engine) licenceVerifier(pc *torrent.PeerConn, payload []byte) bool {
	gt := e.gates.of(pc)
	if gt == nil {
		return false
	}
	m, err := bttbid.Decode(payload)
	if err != nil {
		return false
	}
	ca := e.connAuthOf(pc)
	if h, ok := m.(*bttbid.Hello); ok {
		ca.peerV.CompareAndSwap(0, h.Version)
		return false
	}
	lic, ok := m.(*bttbid.License)
	if !ok || !lic.Presentation() {
		return false
	}
	// Each check may cost two signature recoveries under the client
	// lock: a connection gets a few tries, not a stream of them.
	if ca.tries.Add(1) > maxPresentations {
		return false
	}
	var nonce *bttbid.Nonce
	switch v := ca.peerV.Load(); {
	case v == 0:
		e.log.Debug("licence presentation before HELLO refused", "peer", pc.RemoteAddr.String())
		return false
	case v >= 3:
		if nonce = ca.nonce.Load(); nonce == nil {
			return false
		}
	}
	err = market.VerifyPresentation(lic, &gt.terms, [20]byte(pc.Torrent().InfoHash()),
		[20]byte(e.cl.PeerID()), [20]byte(pc.PeerID), time.Now(), nonce)
	if err != nil {
		e.log.Debug("licence presentation refused", "peer", pc.RemoteAddr.String(), "err", err)
	}
	return err == nil
}
