package retry_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/retry"
)

// fixed returns a Rand that always yields v.
func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestDefaultSchedule(t *testing.T) {
	t.Parallel()
	// Attempt 1 is made at once; the delays below follow attempts 1..7; after attempt 8: stop.
	want := []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
	p := retry.Default()
	require.NoError(t, retry.Validate(p))
	s, ok := p.(retry.Schedule)
	require.True(t, ok, "Default is a Schedule")
	require.InDelta(t, 0.2, s.Jitter, 0)
	require.Equal(t, time.Duration(0), s.Delays[0], "the first attempt is immediate")

	s.Rand = fixed(0.5) // the middle of the jitter range: no change
	var total time.Duration
	for n := 1; n <= 7; n++ {
		d, ok := s.Next(retry.Attempt{N: n})
		require.True(t, ok, "stopped after attempt %d", n)
		require.Equal(t, want[n-1], d, "delay after attempt %d", n)
		total += d
	}
	_, ok = s.Next(retry.Attempt{N: 8})
	require.False(t, ok, "the default schedule stops after 8 attempts")
	_, ok = s.Next(retry.Attempt{N: 100})
	require.False(t, ok)
	require.Equal(t, 27*time.Hour+35*time.Minute+5*time.Second, total, "about 27.6 h in all")
}

func TestDefaultDelaysReturnsAFreshSlice(t *testing.T) {
	t.Parallel()
	a := retry.DefaultDelays()
	a[1] = time.Hour
	require.Equal(t, 5*time.Second, retry.DefaultDelays()[1])
}

func TestScheduleJitterBounds(t *testing.T) {
	t.Parallel()
	s := retry.Schedule{Delays: []time.Duration{0, 100 * time.Second}, Jitter: 0.2}
	tests := []struct {
		name string
		rand float64
		want time.Duration
	}{
		{"the lowest random value gives -20 %", 0, 80 * time.Second},
		{"a quarter gives -10 %", 0.25, 90 * time.Second},
		{"the middle gives the delay itself", 0.5, 100 * time.Second},
		{"three quarters gives +10 %", 0.75, 110 * time.Second},
		{"a value just below 1 stays below +20 %", math.Nextafter(1, 0), 120*time.Second - 1},
		{"an out-of-range 1 from a bad source is clamped below +20 %", 1, 120*time.Second - 1},
		{"an out-of-range negative value is clamped to -20 %", -3, 80 * time.Second},
		{"NaN is treated as 0", math.NaN(), 80 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := s
			s.Rand = fixed(tt.rand)
			d, ok := s.Next(retry.Attempt{N: 1})
			require.True(t, ok)
			require.InDelta(t, float64(tt.want), float64(d), 2, "got %v", d)
		})
	}
}

func TestScheduleDefaultRandStaysWithinJitter(t *testing.T) {
	t.Parallel()
	p := retry.Default()
	for range 2000 {
		d, ok := p.Next(retry.Attempt{N: 1})
		require.True(t, ok)
		require.GreaterOrEqual(t, d, 4*time.Second)
		require.Less(t, d, 6*time.Second)
	}
}

func TestScheduleWithoutJitter(t *testing.T) {
	t.Parallel()
	s := retry.Schedule{Delays: []time.Duration{0, time.Minute, 0, time.Hour}, Rand: fixed(0)}
	for n, want := range map[int]time.Duration{0: time.Minute, 1: time.Minute, 2: 0, 3: time.Hour} {
		d, ok := s.Next(retry.Attempt{N: n})
		require.True(t, ok)
		require.Equal(t, want, d, "N=%d (N < 1 counts as 1)", n)
	}
	_, ok := s.Next(retry.Attempt{N: 4})
	require.False(t, ok)
}

func TestScheduleZeroDelayIsNotJittered(t *testing.T) {
	t.Parallel()
	s := retry.Schedule{Delays: []time.Duration{0, 0}, Jitter: 1, Rand: fixed(0.99)}
	d, ok := s.Next(retry.Attempt{N: 1})
	require.True(t, ok)
	require.Zero(t, d)
}

func TestScheduleWithAnInvalidJitterStillGivesSaneDelays(t *testing.T) {
	t.Parallel()
	for _, j := range []float64{math.NaN(), -1, math.Inf(-1)} {
		d, ok := retry.Schedule{Delays: []time.Duration{0, time.Minute}, Jitter: j, Rand: fixed(0.9)}.Next(retry.Attempt{N: 1})
		require.True(t, ok)
		require.Equal(t, time.Minute, d, "jitter %v", j)
	}
	d, ok := retry.Schedule{Delays: []time.Duration{0, time.Minute}, Jitter: math.Inf(1), Rand: fixed(0.75)}.Next(retry.Attempt{N: 1})
	require.True(t, ok)
	require.Equal(t, 90*time.Second, d, "an infinite jitter is clamped to 1")
}

func TestScheduleWithOneEntryNeverRetries(t *testing.T) {
	t.Parallel()
	_, ok := retry.Schedule{Delays: []time.Duration{0}}.Next(retry.Attempt{N: 1})
	require.False(t, ok)
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       retry.Schedule
		wantErr bool
	}{
		{"the default is valid", retry.Default().(retry.Schedule), false},
		{"one immediate attempt is valid", retry.Schedule{Delays: []time.Duration{0}}, false},
		{"full jitter of 1 is valid", retry.Schedule{Delays: []time.Duration{0, 1}, Jitter: 1}, false},
		{"an empty list is refused", retry.Schedule{}, true},
		{"a negative delay is refused", retry.Schedule{Delays: []time.Duration{0, -1}}, true},
		{"negative jitter is refused", retry.Schedule{Delays: []time.Duration{0}, Jitter: -0.1}, true},
		{"jitter above 1 is refused", retry.Schedule{Delays: []time.Duration{0}, Jitter: 1.5}, true},
		{"NaN jitter is refused", retry.Schedule{Delays: []time.Duration{0}, Jitter: math.NaN()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := retry.Validate(tt.s)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, retry.ErrInvalidPolicy)
		})
	}
}

func validExponential() retry.Exponential {
	return retry.Exponential{
		Initial:     time.Second,
		Multiplier:  2,
		MaxInterval: 10 * time.Second,
		MaxAttempts: 10,
		MaxElapsed:  time.Hour,
		Rand:        fixed(math.Nextafter(1, 0)),
	}
}

func TestExponentialCapsGrowAndStopAtMaxInterval(t *testing.T) {
	t.Parallel()
	e := validExponential()
	// With Rand just below 1 the delay is (just below) the cap.
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10, 10, 10}
	for i, w := range want {
		d, ok := e.Next(retry.Attempt{N: i + 1})
		require.True(t, ok, "stopped after attempt %d", i+1)
		require.InDelta(t, float64(w*time.Second), float64(d), 2, "after attempt %d", i+1)
		require.Less(t, d, w*time.Second, "full jitter is in [0, cap)")
	}
	_, ok := e.Next(retry.Attempt{N: 10})
	require.False(t, ok, "MaxAttempts 10 stops after the 10th attempt")
}

func TestExponentialFullJitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rand float64
		want time.Duration
	}{
		{"zero gives no wait", 0, 0},
		{"a half gives half the cap", 0.5, 2 * time.Second},
		{"a quarter gives a quarter", 0.25, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validExponential()
			e.Rand = fixed(tt.rand)
			d, ok := e.Next(retry.Attempt{N: 3}) // cap 4 s
			require.True(t, ok)
			require.Equal(t, tt.want, d)
		})
	}
}

func TestExponentialDefaultRandIsWithinZeroAndCap(t *testing.T) {
	t.Parallel()
	e := validExponential()
	e.Rand = nil
	for range 2000 {
		d, ok := e.Next(retry.Attempt{N: 2})
		require.True(t, ok)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.Less(t, d, 2*time.Second)
	}
}

func TestExponentialDoesNotOverflow(t *testing.T) {
	t.Parallel()
	e := validExponential()
	e.MaxInterval = math.MaxInt64
	e.Multiplier = 1e300
	e.MaxAttempts = math.MaxInt
	e.MaxElapsed = math.MaxInt64
	e.Rand = fixed(0.5)
	for _, n := range []int{1, 2, 64, 10_000, math.MaxInt - 1} {
		d, ok := e.Next(retry.Attempt{N: n})
		require.True(t, ok)
		require.GreaterOrEqual(t, d, time.Duration(0), "N=%d", n)
	}
	_, ok := e.Next(retry.Attempt{N: 3, Elapsed: math.MaxInt64 - 1})
	require.False(t, ok, "an elapsed time near the maximum stops rather than wrapping")
}

func TestExponentialMaxElapsed(t *testing.T) {
	t.Parallel()
	e := validExponential()
	e.MaxElapsed = time.Minute
	e.Rand = fixed(0.5) // after attempt 2 the delay is 1 s
	tests := []struct {
		name    string
		elapsed time.Duration
		wantOK  bool
	}{
		{"well within the budget retries", 0, true},
		{"the next attempt exactly at the limit still retries", 59 * time.Second, true},
		{"the next attempt just past the limit stops", 59*time.Second + 1, false},
		{"already past the limit stops", 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ok := e.Next(retry.Attempt{N: 2, Elapsed: tt.elapsed})
			require.Equal(t, tt.wantOK, ok)
		})
	}
}

func TestExponentialValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*retry.Exponential)
		ok     bool
	}{
		{"a fully set policy is valid", func(*retry.Exponential) {}, true},
		{"a multiplier of 1 (constant) is valid", func(e *retry.Exponential) { e.Multiplier = 1 }, true},
		{"MaxInterval equal to Initial is valid", func(e *retry.Exponential) { e.MaxInterval = e.Initial }, true},
		{"a zero Initial is refused", func(e *retry.Exponential) { e.Initial = 0 }, false},
		{"a zero Multiplier is refused", func(e *retry.Exponential) { e.Multiplier = 0 }, false},
		{"a shrinking Multiplier is refused", func(e *retry.Exponential) { e.Multiplier = 0.5 }, false},
		{"a NaN Multiplier is refused", func(e *retry.Exponential) { e.Multiplier = math.NaN() }, false},
		{"an infinite Multiplier is refused", func(e *retry.Exponential) { e.Multiplier = math.Inf(1) }, false},
		{"MaxInterval below Initial is refused", func(e *retry.Exponential) { e.MaxInterval = e.Initial - 1 }, false},
		{"a zero MaxAttempts is refused", func(e *retry.Exponential) { e.MaxAttempts = 0 }, false},
		{"a zero MaxElapsed is refused, with no silent default", func(e *retry.Exponential) { e.MaxElapsed = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validExponential()
			tt.modify(&e)
			err := retry.Validate(e)
			if tt.ok {
				require.NoError(t, err)
				_, ok := e.Next(retry.Attempt{N: 1})
				require.True(t, ok)
				return
			}
			require.ErrorIs(t, err, retry.ErrInvalidPolicy)
			_, ok := e.Next(retry.Attempt{N: 1})
			require.False(t, ok, "an invalid policy stops at once")
		})
	}
}

func TestValidateNilPolicy(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, retry.Validate(nil), retry.ErrInvalidPolicy)
}

type policyFunc func(retry.Attempt) (time.Duration, bool)

func (f policyFunc) Next(a retry.Attempt) (time.Duration, bool) { return f(a) }

func TestValidateAcceptsPoliciesWithoutAValidator(t *testing.T) {
	t.Parallel()
	require.NoError(t, retry.Validate(policyFunc(func(retry.Attempt) (time.Duration, bool) { return 0, false })))
}

func TestNext(t *testing.T) {
	t.Parallel()
	minute := policyFunc(func(a retry.Attempt) (time.Duration, bool) { return time.Minute, a.N < 3 })
	tests := []struct {
		name      string
		attempt   retry.Attempt
		wantDelay time.Duration
		wantOK    bool
	}{
		{"delivered stops", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Delivered}}, 0, false},
		{"gone stops", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Gone}}, 0, false},
		{"a permanent failure stops", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.PermanentFailure}}, 0, false},
		{"retry waits the scheduled delay", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Retry}}, time.Minute, true},
		{"the zero kind is treated as retry", retry.Attempt{N: 1}, time.Minute, true},
		{"retry stops when the policy stops", retry.Attempt{N: 3, Outcome: retry.Outcome{Kind: retry.Retry}}, 0, false},
		{"throttle with a longer Retry-After waits for it", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Throttle, RetryAfter: time.Hour}}, time.Hour, true},
		{"throttle with a shorter Retry-After keeps the schedule", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Throttle, RetryAfter: time.Second}}, time.Minute, true},
		{"throttle without Retry-After keeps the schedule", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Throttle}}, time.Minute, true},
		{"throttle stops when the policy stops, whatever Retry-After says", retry.Attempt{N: 3, Outcome: retry.Outcome{Kind: retry.Throttle, RetryAfter: time.Second}}, 0, false},
		{"a Retry-After on a retry outcome is not honoured", retry.Attempt{N: 1, Outcome: retry.Outcome{Kind: retry.Retry, RetryAfter: time.Hour}}, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, ok := retry.Next(minute, tt.attempt)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantDelay, d)
		})
	}
}

func TestNextWithTheDefaultPolicyAndAClassifiedResponse(t *testing.T) {
	t.Parallel()
	p := retry.Schedule{Delays: retry.DefaultDelays(), Jitter: retry.DefaultJitter, Rand: fixed(0.5)}
	c := retry.Classifier{Now: func() time.Time { return now }}

	o := c.Classify(response(429, "600"), nil) // 10 min beats the 5 s scheduled after attempt 1
	d, ok := retry.Next(p, retry.Attempt{N: 1, Outcome: o})
	require.True(t, ok)
	require.Equal(t, 10*time.Minute, d)

	o = c.Classify(response(503, "600"), nil) // 10 min loses to the 2 h scheduled after attempt 4
	d, ok = retry.Next(p, retry.Attempt{N: 4, Outcome: o})
	require.True(t, ok)
	require.Equal(t, 2*time.Hour, d)

	o = c.Classify(response(410), nil)
	_, ok = retry.Next(p, retry.Attempt{N: 1, Outcome: o})
	require.False(t, ok)
}

func TestPoliciesAreSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	policies := []retry.Policy{retry.Default(), retry.DefaultDoPolicy()}
	var wg sync.WaitGroup
	for _, p := range policies {
		for range 4 {
			wg.Go(func() {
				for n := 1; n < 500; n++ {
					retry.Next(p, retry.Attempt{N: n%8 + 1, Outcome: retry.Outcome{Kind: retry.Throttle, RetryAfter: time.Second}})
				}
			})
		}
	}
	wg.Wait()
}
