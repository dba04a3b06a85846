package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bidtorrent/bidtorrent/core"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// The swarm over time: completions, tips, replacements and waits.

func (s *Swarm) watch(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range s.Live() {
			if n.Role == RoleSeeder || !n.Finished().IsZero() {
				continue
			}
			tr := n.Torrent()
			n.noteServed(tr)
			if tr.Size == 0 || tr.Done < tr.Size {
				continue
			}
			n.mu.Lock()
			n.finished = time.Now()
			n.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.complete(ctx, n)
			}()
		}
	}
}

// complete follows n's completion: a bidder tips, and with Replace n is
// retired and a fresh node started in its slot.
func (s *Swarm) complete(ctx context.Context, n *Node) {
	if n.Role == RoleBidder && !s.opts.Tip.IsZero() {
		s.tip(ctx, n)
	}
	if !s.opts.Replace || ctx.Err() != nil {
		return
	}
	s.retire(n)
	if ctx.Err() != nil {
		return
	}
	if _, err := s.startNode(ctx, n.Spec, n.Slot, n.Gen+1); err != nil {
		s.opts.Logger.Error("cannot replace a finished demo node", "node", n.Label(), "err", err)
		return
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// tip pays Options.Tip to the btt_bid peer n downloaded most from,
// waiting at most TipTimeout for its acknowledgement. Two complete peers
// close their connection once the last cheque is squared, often before
// the completion is seen here: until a payment is recorded, tip dials
// the seeder again and retries. A failure is logged: the swarm goes on.
func (s *Swarm) tip(ctx context.Context, n *Node) {
	log := s.opts.Logger.With("node", n.Label())
	to, most := n.bestServer()
	if to == "" {
		log.Warn("demo bidder completed without a btt_bid peer to tip")
		n.failedTip(errors.New("no btt_bid peer served it"))
		return
	}
	amount := s.opts.Tip.Format(wallet.BTTDecimals)
	tctx, cancel := context.WithTimeout(ctx, s.opts.TipTimeout)
	defer cancel()
	before, err := issuedTips(n.Wallet)
	dials, dialed := 0, time.Time{}
	for err == nil {
		if err = n.Engine.Tip(tctx, s.ih, string(to), s.opts.Tip, s.opts.TipMemo); err == nil {
			break
		}
		if tctx.Err() != nil {
			break
		}
		if after, perr := issuedTips(n.Wallet); perr != nil || after != before {
			// Paid and refused (or unreadable): never pay twice.
			err = errors.Join(err, perr)
			break
		}
		// Not connected (any more): dial it again, once a second (a
		// dial on loopback takes milliseconds; the connection then
		// needs its btt_bid handshake).
		if time.Since(dialed) >= time.Second {
			dials++
			dialed = time.Now()
			if aerr := n.Engine.AddPeer(tctx, s.ih, string(to)); aerr != nil {
				err = aerr
				break
			}
		}
		select {
		case <-tctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		err = nil
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("demo bidder could not tip its seeder", "peer", to, "amount", amount, "err", err)
		}
		n.failedTip(fmt.Errorf("tip to %s after %d redials: %w", to, dials, err))
		return
	}
	n.mu.Lock()
	n.tippedTo = string(to)
	n.mu.Unlock()
	log.Info("demo bidder tipped its seeder", "peer", to, "downloaded", most, "amount", amount, "memo", s.opts.TipMemo, "redials", dials)
}

// failedTip records why n could not tip.
func (n *Node) failedTip(err error) {
	n.mu.Lock()
	n.tipErr = err
	n.mu.Unlock()
}

// issuedTips counts the tips w recorded as paid.
func issuedTips(w *wallet.Wallet) (int, error) {
	ps, err := w.Payments()
	if err != nil {
		return 0, err
	}
	k := 0
	for _, p := range ps {
		if p.Direction == wallet.Issued && p.For == wallet.ForTip {
			k++
		}
	}
	return k, nil
}

// retire stops n's engine, keeps its last torrent row and removes its
// downloaded copy of the payload.
func (s *Swarm) retire(n *Node) {
	if err := n.halt(); err != nil {
		s.opts.Logger.Warn("demo node stopped with an error", "node", n.Label(), "err", err)
	}
	_ = os.RemoveAll(filepath.Join(n.dir, "download"))
}

// waitDone waits until e has the whole of its (only) torrent.
func waitDone(ctx context.Context, e *core.Engine, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, t := range e.Snapshot().Torrents {
			if t.Complete() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("timed out")
}
