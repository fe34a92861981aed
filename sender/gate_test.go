package sender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var gateT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestBreaker(t *testing.T) {
	t.Parallel()

	cfg := BreakerConfig{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 4, Window: time.Minute, OpenFor: 10 * time.Second}.withDefaults()

	type step struct {
		at     time.Duration // since gateT0
		failed bool
	}
	tests := []struct {
		name  string
		steps []step
		want  breakerState
	}{
		{
			name:  "it stays closed while failures are below both triggers",
			steps: []step{{0, true}, {1, true}, {2, false}, {3, false}},
			want:  breakerClosed,
		},
		{
			name:  "it opens after the configured consecutive failures",
			steps: []step{{0, false}, {1, false}, {2, false}, {3, false}, {4, false}, {5, true}, {6, true}, {7, true}},
			want:  breakerOpen,
		},
		{
			name:  "it opens when the failure ratio over the window reaches the threshold with enough requests",
			steps: []step{{0, true}, {1, false}, {2, false}, {3, true}},
			want:  breakerOpen,
		},
		{
			name:  "it ignores failures that slid out of the window",
			steps: []step{{0, true}, {1, true}, {2, false}, {70, false}, {71, true}, {72, false}, {73, false}},
			want:  breakerClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBreaker(cfg)
			for _, s := range tt.steps {
				now := gateT0.Add(s.at * time.Second)
				ok, probe, _ := b.allow(now)
				require.True(t, ok)
				b.record(now, probe, s.failed)
			}
			require.Equal(t, tt.want, b.currentState())
		})
	}
}

func TestBreakerHalfOpenProbe(t *testing.T) {
	t.Parallel()

	cfg := BreakerConfig{ConsecutiveFailures: 2, FailureRatio: -1, OpenFor: 10 * time.Second}.withDefaults()
	b := newBreaker(cfg)
	for range 2 {
		_, probe, _ := b.allow(gateT0)
		b.record(gateT0, probe, true)
	}
	require.Equal(t, breakerOpen, b.currentState())

	ok, _, wait := b.allow(gateT0.Add(4 * time.Second))
	require.False(t, ok, "an open breaker refuses before the cool-down ends")
	require.Equal(t, 6*time.Second, wait)

	now := gateT0.Add(10 * time.Second)
	ok, probe, _ := b.allow(now)
	require.True(t, ok)
	require.True(t, probe, "the first attempt after the cool-down is the probe")
	ok, _, _ = b.allow(now)
	require.False(t, ok, "only one probe is in flight at a time")

	from, to := b.record(now, probe, true)
	require.Equal(t, breakerHalfOpen, from)
	require.Equal(t, breakerOpen, to, "a failed probe opens the breaker again")

	now = now.Add(10 * time.Second)
	ok, probe, _ = b.allow(now)
	require.True(t, ok)
	b.cancel(probe)
	ok, probe, _ = b.allow(now)
	require.True(t, ok, "a cancelled probe frees the probe slot")
	_, to = b.record(now, probe, false)
	require.Equal(t, breakerClosed, to, "a successful probe closes the breaker")

	_, probe, _ = b.allow(now)
	_, to = b.record(now, probe, true)
	require.Equal(t, breakerClosed, to, "a closed breaker starts counting afresh")
}

func TestBreakerDisabled(t *testing.T) {
	t.Parallel()

	b := newBreaker(BreakerConfig{Disabled: true, ConsecutiveFailures: 1}.withDefaults())
	for range 5 {
		_, probe, _ := b.allow(gateT0)
		b.record(gateT0, probe, true)
	}
	ok, _, _ := b.allow(gateT0)
	require.True(t, ok)
}

func TestGateConcurrencyCap(t *testing.T) {
	t.Parallel()

	g := newGate(gateLimits{maxConcurrency: 2}, nil)
	t1, _, err := g.admit(gateT0)
	require.NoError(t, err)
	_, _, err = g.admit(gateT0)
	require.NoError(t, err)
	_, wait, err := g.admit(gateT0)
	require.ErrorIs(t, err, ErrConcurrencyLimit)
	require.Equal(t, minConcurrencyRetry, wait)

	// The longer the cap stays full, the longer refused deliveries wait, up to a bound.
	_, wait, _ = g.admit(gateT0.Add(2 * time.Second))
	require.Equal(t, 2*time.Second, wait)
	_, wait, _ = g.admit(gateT0.Add(time.Minute))
	require.Equal(t, maxConcurrencyRetry, wait)

	t1.done(gateT0, true, false)
	_, _, err = g.admit(gateT0.Add(time.Minute))
	require.NoError(t, err, "a finished attempt frees its slot")
	_, wait, _ = g.admit(gateT0.Add(time.Minute))
	require.Equal(t, minConcurrencyRetry, wait, "a released slot resets the wait")
}

func TestGateRateLimit(t *testing.T) {
	t.Parallel()

	g := newGate(gateLimits{maxConcurrency: 100, rateLimit: 2}, nil)
	for range 2 {
		tk, _, err := g.admit(gateT0)
		require.NoError(t, err, "the burst equals the per-second rate")
		tk.done(gateT0, true, false)
	}
	_, wait, err := g.admit(gateT0)
	require.ErrorIs(t, err, ErrRateLimited)
	require.Equal(t, 500*time.Millisecond, wait)

	// A refusal takes no token: the next one is available exactly after the wait.
	tk, _, err := g.admit(gateT0.Add(wait))
	require.NoError(t, err)
	tk.done(gateT0, true, false)

	// Refusals free their concurrency slot.
	for range 50 {
		_, _, _ = g.admit(gateT0.Add(wait))
	}
	tk, _, err = g.admit(gateT0.Add(time.Second))
	require.NoError(t, err)
	tk.done(gateT0, true, false)
}

func TestGateOpenBreakerUsesNoSlots(t *testing.T) {
	t.Parallel()

	gs := newGates(BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Minute}.withDefaults())
	g := gs.get("ep_1", gateLimits{maxConcurrency: 1, rateLimit: 1})
	tk, _, err := g.admit(gateT0)
	require.NoError(t, err)
	_, to := tk.done(gateT0, true, true)
	require.Equal(t, breakerOpen, to)

	_, wait, err := g.admit(gateT0.Add(time.Second))
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.Equal(t, 59*time.Second, wait)

	// The same endpoint with new limits keeps its breaker.
	g2 := gs.get("ep_1", gateLimits{maxConcurrency: 5})
	require.NotSame(t, g, g2)
	_, _, err = g2.admit(gateT0.Add(time.Second))
	require.ErrorIs(t, err, ErrCircuitOpen)

	// Unchanged limits return the same gate; other endpoints are unaffected.
	require.Same(t, g2, gs.get("ep_1", gateLimits{maxConcurrency: 5}))
	tk, _, err = gs.get("ep_2", gateLimits{}).admit(gateT0)
	require.NoError(t, err)
	tk.done(gateT0, false, false)

	gs.forget("ep_1")
	_, _, err = gs.get("ep_1", gateLimits{maxConcurrency: 5}).admit(gateT0)
	require.NoError(t, err, "a forgotten endpoint starts with a closed breaker")
}
