package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Attempt describes the attempts made so far, for a [Policy] to decide on the next one.
type Attempt struct {
	// N is the number of attempts made so far, counting the one that just ended: 1 after the
	// first attempt. Values below 1 are treated as 1.
	N int
	// Elapsed is the time since the first attempt started.
	Elapsed time.Duration
	// Outcome is the outcome of attempt N.
	Outcome Outcome
}

// Policy is a retry schedule: given the attempts so far, the delay before the next attempt,
// or ok == false to stop. A Policy is only the raw schedule; [Next] adds the outcome rules
// (stop on Delivered/Gone/PermanentFailure, honour Retry-After) and is what senders call.
//
// Policies are values without state: the same Policy serves any number of deliveries and is
// safe for concurrent use.
type Policy interface {
	Next(a Attempt) (delay time.Duration, ok bool)
}

// Validator is implemented by policies that can check their configuration. [Validate] uses it.
type Validator interface {
	Validate() error
}

// ErrInvalidPolicy is wrapped by every configuration error of [Schedule] and [Exponential].
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Validate checks p's configuration when p implements [Validator], and p != nil. Constructors
// that take a Policy (sender, receiver, [Do]) call it once, so a bad policy fails at start-up
// rather than stopping retries silently.
func Validate(p Policy) error {
	if p == nil {
		return fmt.Errorf("%w: nil Policy", ErrInvalidPolicy)
	}
	if v, ok := p.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// Next is the decision a sender makes after each attempt: the delay before the next attempt,
// or ok == false to stop. It
//
//   - stops on Delivered, Gone and PermanentFailure outcomes, whatever the policy says;
//   - stops when p stops (attempts or time exhausted);
//   - on Throttle, waits max(scheduled delay, Outcome.RetryAfter), as Svix does. RetryAfter is
//     trusted as given: [Classifier] has already clamped it to [0, MaxRetryAfter] (24 h by
//     default), which bounds how far an endpoint can push its own retries (Svix instead caps
//     the result at 2× the scheduled delay; a fixed ceiling is easier to reason about). A
//     Throttle never shortens the schedule, and the extension is not counted against
//     [Exponential.MaxElapsed] until the next decision; the attempt limit still applies;
//   - otherwise (Retry, or the zero Kind) waits the scheduled delay.
//
// Next does not allocate beyond what p does.
func Next(p Policy, a Attempt) (time.Duration, bool) {
	switch a.Outcome.Kind {
	case Delivered, Gone, PermanentFailure:
		return 0, false
	}
	d, ok := p.Next(a)
	if !ok {
		return 0, false
	}
	if a.Outcome.Kind == Throttle && a.Outcome.RetryAfter > d {
		d = a.Outcome.RetryAfter
	}
	return d, true
}

// DefaultJitter is the relative jitter of the default schedule: each delay is spread uniformly
// over ±20 %.
const DefaultJitter = 0.2

// DefaultDelays returns the Standard Webhooks / Svix schedule: attempt 1 at once, then after
// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — 8 attempts spread over about 27.6 h.
// It returns a fresh slice each call.
func DefaultDelays() []time.Duration {
	return []time.Duration{
		0,
		5 * time.Second,
		5 * time.Minute,
		30 * time.Minute,
		2 * time.Hour,
		5 * time.Hour,
		10 * time.Hour,
		10 * time.Hour,
	}
}

// Default returns the default sender policy: [DefaultDelays] with ±20 % jitter ([DefaultJitter]).
//
// Precisely, after attempt n (Attempt.N == n) the next attempt comes after:
//
//	n = 1: 5 s     n = 2: 5 min    n = 3: 30 min    n = 4: 2 h
//	n = 5: 5 h     n = 6: 10 h     n = 7: 10 h      n = 8: stop
//
// each multiplied by a uniform factor in [0.8, 1.2).
func Default() Policy {
	return Schedule{Delays: DefaultDelays(), Jitter: DefaultJitter}
}

// Schedule is a fixed list of delays. Delays[i] is the delay before attempt i+1, so
// Delays[0] is the wait before the first attempt — conventionally 0 ("immediately"), and not
// consulted by Next, which is only asked after an attempt. After attempt n, the delay is
// Delays[n]; once n >= len(Delays) the schedule stops. len(Delays) is thus the maximum number
// of attempts.
//
// Each delay d is jittered uniformly over [d·(1-Jitter), d·(1+Jitter)).
type Schedule struct {
	// Delays is the schedule, including the leading wait before attempt 1. Required; every
	// delay must be >= 0.
	Delays []time.Duration
	// Jitter is the relative spread, in [0, 1]. 0.2 means ±20 %. Defaults to 0 (no jitter).
	Jitter float64
	// Rand returns a uniform float in [0, 1). Defaults to math/rand/v2's Float64, which is safe
	// for concurrent use. Set it in tests for exact delays; it must then be safe for concurrent
	// use if the policy is shared.
	Rand func() float64
}

// Validate reports a configuration error, wrapping [ErrInvalidPolicy].
func (s Schedule) Validate() error {
	if len(s.Delays) == 0 {
		return fmt.Errorf("%w: Schedule.Delays is empty (it must list at least the first attempt's delay, usually 0)", ErrInvalidPolicy)
	}
	for i, d := range s.Delays {
		if d < 0 {
			return fmt.Errorf("%w: Schedule.Delays[%d] is negative (%v)", ErrInvalidPolicy, i, d)
		}
	}
	if !(s.Jitter >= 0 && s.Jitter <= 1) { // also catches NaN
		return fmt.Errorf("%w: Schedule.Jitter %v is outside [0, 1]", ErrInvalidPolicy, s.Jitter)
	}
	return nil
}

// Next implements [Policy].
func (s Schedule) Next(a Attempt) (time.Duration, bool) {
	n := max(a.N, 1)
	if n >= len(s.Delays) {
		return 0, false
	}
	d := max(s.Delays[n], 0)
	if !(s.Jitter > 0) || d == 0 { // no jitter; also a NaN Jitter, which Validate refuses
		return d, true
	}
	j := min(s.Jitter, 1)
	f := 1 + j*(2*random(s.Rand)-1) // in [1-j, 1+j)
	return scale(d, f), true
}

// Exponential is exponential backoff with full jitter: after attempt n the delay is uniform
// in [0, min(MaxInterval, Initial·Multiplierⁿ⁻¹)).
//
// Every field except Rand must be set on purpose; there is no hidden cut-off such as
// cenkalti/backoff's 15-minute MaxElapsedTime. [Exponential.Validate] reports what is
// missing; an invalid Exponential stops at once.
type Exponential struct {
	// Initial is the cap of the first delay (after attempt 1). Required, > 0.
	Initial time.Duration
	// Multiplier grows the cap each attempt. Required, >= 1.
	Multiplier float64
	// MaxInterval caps every delay. Required, >= Initial.
	MaxInterval time.Duration
	// MaxAttempts is the total number of attempts, the first included. Required, >= 1.
	MaxAttempts int
	// MaxElapsed stops the schedule when the next attempt would start more than MaxElapsed
	// after the first one began. Required, > 0.
	MaxElapsed time.Duration
	// Rand returns a uniform float in [0, 1). Defaults to math/rand/v2's Float64.
	Rand func() float64
}

// Validate reports a configuration error, wrapping [ErrInvalidPolicy].
func (e Exponential) Validate() error {
	switch {
	case e.Initial <= 0:
		return fmt.Errorf("%w: Exponential.Initial must be > 0, got %v", ErrInvalidPolicy, e.Initial)
	case !(e.Multiplier >= 1) || math.IsInf(e.Multiplier, 0):
		return fmt.Errorf("%w: Exponential.Multiplier must be a finite number >= 1, got %v", ErrInvalidPolicy, e.Multiplier)
	case e.MaxInterval < e.Initial:
		return fmt.Errorf("%w: Exponential.MaxInterval (%v) must be >= Initial (%v)", ErrInvalidPolicy, e.MaxInterval, e.Initial)
	case e.MaxAttempts < 1:
		return fmt.Errorf("%w: Exponential.MaxAttempts must be >= 1, got %d", ErrInvalidPolicy, e.MaxAttempts)
	case e.MaxElapsed <= 0:
		return fmt.Errorf("%w: Exponential.MaxElapsed must be > 0, got %v (set it on purpose; there is no default)", ErrInvalidPolicy, e.MaxElapsed)
	}
	return nil
}

// Next implements [Policy].
func (e Exponential) Next(a Attempt) (time.Duration, bool) {
	if e.Validate() != nil {
		return 0, false
	}
	n := max(a.N, 1)
	if n >= e.MaxAttempts {
		return 0, false
	}
	c := e.ceiling(n)
	d := scale(c, random(e.Rand))
	if a.Elapsed+d > e.MaxElapsed || a.Elapsed+d < a.Elapsed {
		return 0, false
	}
	return d, true
}

// ceiling returns min(MaxInterval, Initial·Multiplier^(n-1)) without overflow.
func (e Exponential) ceiling(n int) time.Duration {
	f := float64(e.Initial) * math.Pow(e.Multiplier, float64(n-1))
	if f >= float64(e.MaxInterval) || math.IsNaN(f) {
		return e.MaxInterval
	}
	return time.Duration(f)
}

// random returns r() clamped to [0, 1), or a math/rand/v2 value when r is nil.
func random(r func() float64) float64 {
	if r == nil {
		return rand.Float64()
	}
	f := r()
	if !(f >= 0) { // negative or NaN
		return 0
	}
	if f >= 1 {
		return math.Nextafter(1, 0)
	}
	return f
}

// scale returns d·f, saturating instead of overflowing.
func scale(d time.Duration, f float64) time.Duration {
	x := float64(d) * f
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	if !(x > 0) { // also NaN
		return 0
	}
	return time.Duration(x)
}
