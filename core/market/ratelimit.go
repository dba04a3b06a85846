package market

import "time"

// Rate limits of §10: a bucket of 200 messages refilled at 20 per second.
const (
	rateBurst   = 200
	ratePerSec  = 20
	rateErrGap  = 10 * time.Second
	rateDisable = 10 * ratePerSec * 10 // dropped in one 10 s window: ten times the limit
)

// rateLimit is the token bucket of one session's received messages.
type rateLimit struct {
	tokens   float64
	refill   time.Time
	window   time.Time // start of the 10 s window dropped counts
	dropped  int
	warnedAt time.Time // last ERROR rate_limited sent
}

// rateVerdict is what take decides for one message.
type rateVerdict int

const (
	rateOK   rateVerdict = iota // handle it
	rateDrop                    // drop it silently
	rateWarn                    // drop it and answer ERROR (at most every 10 s)
	rateOff                     // drop it and turn the extension off
)

// take spends one token for a message received at now.
func (r *rateLimit) take(now time.Time) rateVerdict {
	if r.refill.IsZero() {
		r.tokens, r.refill, r.window = rateBurst, now, now
	}
	r.tokens = min(rateBurst, r.tokens+now.Sub(r.refill).Seconds()*ratePerSec)
	r.refill = now
	if now.Sub(r.window) >= rateErrGap {
		r.window, r.dropped = now, 0
	}
	if r.tokens >= 1 {
		r.tokens--
		return rateOK
	}
	r.dropped++
	if r.dropped > rateDisable {
		return rateOff
	}
	if now.Sub(r.warnedAt) >= rateErrGap {
		r.warnedAt = now
		return rateWarn
	}
	return rateDrop
}
