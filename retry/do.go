package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/hookkit/hookkit/internal/clock"
)

// DefaultDoPolicy returns the policy [Do] uses when DoConfig.Policy is nil: exponential backoff
// with full jitter, delays capped at 100 ms, 200 ms, 400 ms, 800 ms (MaxInterval 10 s),
// 5 attempts, and at most 1 minute in all.
func DefaultDoPolicy() Policy {
	return Exponential{
		Initial:     100 * time.Millisecond,
		Multiplier:  2,
		MaxInterval: 10 * time.Second,
		MaxAttempts: 5,
		MaxElapsed:  time.Minute,
	}
}

// DoConfig configures [Do]. The zero value is ready to use.
type DoConfig struct {
	// Policy decides the delays between attempts; each error fn returns is classified Retry
	// (or Throttle for [After], PermanentFailure for [Permanent]) and passed to [Next].
	// Defaults to [DefaultDoPolicy]. It is validated on every call.
	Policy Policy
	// Notify, if set, is called after each failed attempt that will be retried, with fn's error
	// and the delay before the next attempt. It is not called for the final error.
	Notify func(err error, next time.Duration)
	// Clock is used to measure Attempt.Elapsed and to wait between attempts, so tests need not
	// sleep. Defaults to the real clock.
	Clock clock.Clock
}

// Do calls fn until it returns nil, returns an error made by [Permanent], the policy stops,
// or ctx ends. It is built on cenkalti/backoff/v4: one backoff.BackOff adapter per call, so a
// DoConfig (and its Policy) can be shared by concurrent calls.
//
// Do returns nil on success; fn's error unchanged when it is (or wraps) a [Permanent] error,
// so [IsPermanent] reports true and errors.Is/As see the cause; fn's last error when the
// policy gives up; and, when ctx ends, an error that matches both ctx.Err() and fn's last
// error with errors.Is. fn is not called once ctx has ended, and receives ctx so that it can
// stop early.
func Do(ctx context.Context, cfg DoConfig, fn func(ctx context.Context) error) error {
	p := cfg.Policy
	if p == nil {
		p = DefaultDoPolicy()
	}
	if err := Validate(p); err != nil {
		return err
	}
	clk := clock.OrReal(cfg.Clock)
	b := &policyBackOff{policy: p, clock: clk}
	var last error
	op := func() error {
		if err := ctx.Err(); err != nil {
			return backoff.Permanent(err)
		}
		last = fn(ctx)
		b.last = last
		if IsPermanent(last) {
			// Wrap once more so backoff, which unwraps the outermost *PermanentError, hands
			// back fn's error itself, with its context and its Permanent marker.
			return backoff.Permanent(last)
		}
		return last
	}
	var notify backoff.Notify
	if cfg.Notify != nil {
		notify = backoff.Notify(cfg.Notify)
	}
	err := backoff.RetryNotifyWithTimer(op, backoff.WithContext(b, ctx), notify, &backoffTimer{clock: clk})
	if err != nil && last != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) && !errors.Is(last, ctx.Err()) {
		return fmt.Errorf("retry: %w (last attempt: %w)", err, last)
	}
	return err
}

// Permanent wraps err so that [Do] stops retrying and [Classify] reports [PermanentFailure].
// errors.Is and errors.As see err through the wrapper. Permanent(nil) is nil.
// It is backoff.Permanent, so errors made by either package are understood by both.
func Permanent(err error) error {
	return backoff.Permanent(err)
}

// IsPermanent reports whether err, or any error it wraps, was made by [Permanent]
// (or by backoff.Permanent).
func IsPermanent(err error) bool {
	// *backoff.PermanentError's Is method matches any *PermanentError target; errors.Is with
	// a shared target avoids the allocation errors.As would make.
	return err != nil && errors.Is(err, permanentTarget)
}

var permanentTarget error = &backoff.PermanentError{}

// After wraps err so that [Do] retries no sooner than d (if its policy retries at all): the
// delay is max(scheduled, d), as for a Throttle outcome with Retry-After d. errors.Is and
// errors.As see err through the wrapper. After(d, nil) is nil.
func After(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &afterError{d: max(d, 0), err: err}
}

// RetryAfterOf returns the delay requested with [After] in err's chain, if any.
func RetryAfterOf(err error) (time.Duration, bool) {
	var a *afterError
	if errors.As(err, &a) {
		return a.d, true
	}
	return 0, false
}

type afterError struct {
	d   time.Duration
	err error
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// outcomeOf classifies an error returned to Do.
func outcomeOf(err error) Outcome {
	if IsPermanent(err) {
		return Outcome{Kind: PermanentFailure, Err: err}
	}
	if d, ok := RetryAfterOf(err); ok {
		return Outcome{Kind: Throttle, RetryAfter: d, Err: err}
	}
	return Outcome{Kind: Retry, Err: err}
}

// policyBackOff adapts a Policy to backoff.BackOff. It is stateful: one per Do call.
type policyBackOff struct {
	policy Policy
	clock  clock.Clock
	start  time.Time
	n      int
	last   error
}

func (b *policyBackOff) Reset() {
	b.start, b.n, b.last = b.clock.Now(), 0, nil
}

func (b *policyBackOff) NextBackOff() time.Duration {
	b.n++
	d, ok := Next(b.policy, Attempt{N: b.n, Elapsed: b.clock.Since(b.start), Outcome: outcomeOf(b.last)})
	if !ok {
		return backoff.Stop
	}
	return d
}

// backoffTimer adapts a clock.Clock to backoff.Timer.
type backoffTimer struct {
	clock clock.Clock
	t     clock.Timer
}

func (t *backoffTimer) Start(d time.Duration) {
	if t.t == nil {
		t.t = t.clock.NewTimer(d)
		return
	}
	t.t.Reset(d)
}

func (t *backoffTimer) Stop() {
	if t.t != nil {
		t.t.Stop()
	}
}

func (t *backoffTimer) C() <-chan time.Time { return t.t.C() }
