// Package clock abstracts time so that code which waits (retry loops, dispatchers, leases) can be
// tested deterministically, without sleeping.
//
// Production code takes a [Clock] (defaulting to [Real]) and waits only through [Clock.NewTimer].
// Tests pass a [Fake], wait with [Fake.BlockUntil] until the code under test has armed its timers,
// then move time forward with [Fake.Advance]; due timers fire in order, at once.
//
// The package is internal: users of hookkit do not see it.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers. Implementations are safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a Timer that sends the current time on its channel after at least d.
	// A d <= 0 fires at once. Like [time.NewTimer].
	NewTimer(d time.Duration) Timer
	// Since returns the time elapsed since t: Now().Sub(t).
	Since(t time.Time) time.Duration
}

// Timer is a single event, like [time.Timer]. As with time.Timer since Go 1.23, no stale value
// is received from C after Stop or Reset returns.
type Timer interface {
	// C returns the channel on which the time is delivered (capacity 1).
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether the call stopped the timer
	// (false if it had already fired or been stopped).
	Stop() bool
	// Reset re-arms the timer to fire after d. It reports whether the timer had been active.
	Reset(d time.Duration) bool
}

// Real returns the Clock backed by package time.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) Since(t time.Time) time.Duration { return time.Since(t) }
func (realClock) NewTimer(d time.Duration) Timer  { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// OrReal returns c, or [Real] when c is nil. It is the one place Config defaults pick a clock.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

// Sleep waits for d on c, or until ctx is done. It returns nil after the full wait and
// ctx.Err() if the context ended first. A d <= 0 returns at once (after checking ctx).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
