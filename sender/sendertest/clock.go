package sendertest

import (
	"context"
	"time"

	"github.com/hookkit/hookkit/internal/clock"
)

// Clock is a fake clock for sender.Config.Clock: time moves only when the test says so, and
// timers that fall due fire at once, in order. With it a test drives a sender's retry
// schedule (5 s, 5 min, 30 min, …), rate limits and circuit breakers without sleeping:
//
//	clk := sendertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	s, _ := sender.New(sender.Config{Clock: clk, …})
//	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: keys, Now: clk.Now}, sendertest.Status(500, 1))
//	… publish, wait until the delivery is pending again (s.GetDelivery), then
//	clk.Advance(5 * time.Second) // the retry is due: the dispatcher wakes and sends it
//
// Give the endpoint the same clock (Config.Now) so signature timestamps verify. Advance the
// clock only once the sender has recorded the step you wait for (poll the sender's state):
// the dispatcher then sees the new time however its timers were armed. A Clock is safe for
// concurrent use.
type Clock struct {
	f *clock.Fake
}

// NewClock returns a Clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{f: clock.NewFake(start)} }

// Now returns the fake time.
func (c *Clock) Now() time.Time { return c.f.Now() }

// NewTimer returns a timer due at Now()+d (a d <= 0 fires at once) and its stop function,
// as sender.Clock requires.
func (c *Clock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := c.f.NewTimer(d)
	return t.C(), t.Stop
}

// Advance moves the time forward by d, firing the timers that fall due on the way.
func (c *Clock) Advance(d time.Duration) { c.f.Advance(d) }

// Set moves the time to t (forward: like Advance; backwards: nothing fires).
func (c *Clock) Set(t time.Time) { c.f.Set(t) }

// Pending returns the number of timers armed and not yet fired or stopped.
func (c *Clock) Pending() int { return c.f.Pending() }

// BlockUntil waits until at least n timers are pending, or ctx ends.
func (c *Clock) BlockUntil(ctx context.Context, n int) error { return c.f.BlockUntilContext(ctx, n) }
