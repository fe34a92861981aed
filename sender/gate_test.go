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

	g := newGate(gateLimits{maxConcurrency: 2, timeout: time.Second}, nil, nil)
	t1, _, err := g.admit(gateT0)
	require.NoError(t, err)
	_, _, err = g.admit(gateT0)
	require.NoError(t, err)

	// Before any attempt has finished, an attempt is assumed to take guessAttempt: the first
	// refused delivery comes back after (a little less than) that divided by the cap, the next
	// one a step later.
	_, wait, err := g.admit(gateT0)
	require.ErrorIs(t, err, ErrConcurrencyLimit)
	step := paceStep(guessAttempt, 2)
	require.Equal(t, step, wait)
	_, wait, _ = g.admit(gateT0)
	require.GreaterOrEqual(t, wait, 2*step)
	require.Less(t, wait, 3*step)

	// The longer the cap stays full, the longer attempts are taken to last, up to the timeout.
	_, wait, _ = g.admit(gateT0.Add(400 * time.Millisecond))
	require.Equal(t, paceStep(400*time.Millisecond, 2), wait)
	_, wait, _ = g.admit(gateT0.Add(time.Minute))
	require.Equal(t, paceStep(time.Second, 2), wait, "the expected duration is bounded by the timeout")

	t1.done(gateT0.Add(time.Minute), true, false)
	_, _, err = g.admit(gateT0.Add(time.Minute))
	require.NoError(t, err, "a finished attempt frees its slot")
	require.Equal(t, time.Minute, g.pc.average(), "the attempt's duration is the first sample")
	_, wait, _ = g.admit(gateT0.Add(2 * time.Minute))
	require.Equal(t, paceStep(time.Second, 2), wait, "the average is bounded by the timeout too")
}

// paceStep is the pacing step of an endpoint whose attempts take expected, with slots.
func paceStep(expected time.Duration, slots int) time.Duration {
	return time.Duration(float64(expected)*paceFactor) / time.Duration(slots)
}

func TestPacer(t *testing.T) {
	t.Parallel()

	const step = 100 * time.Millisecond
	type call struct {
		at, base   time.Duration // since gateT0
		step       time.Duration
		min, below time.Duration // the due time handed out is in [min, below) since gateT0
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{
			name:  "the first refusal is due exactly at its base time",
			calls: []call{{at: 0, base: time.Second, step: step, min: time.Second, below: time.Second + 1}},
		},
		{
			name: "later refusals queue one step apart with jitter inside their step",
			calls: []call{
				{at: 0, base: 0, step: step, min: 0, below: 1},
				{at: 0, base: 0, step: step, min: step, below: 2 * step},
				{at: 0, base: 0, step: step, min: 2 * step, below: 3 * step},
				{at: 10 * time.Millisecond, base: 10 * time.Millisecond, step: step, min: 3 * step, below: 4 * step},
			},
		},
		{
			name: "a longer step spaces the deliveries queued from then on",
			calls: []call{
				{at: 0, base: 0, step: step, min: 0, below: 1},
				{at: 0, base: 0, step: step, min: step, below: 2 * step},
				{at: 0, base: 0, step: 10 * step, min: 2 * step, below: 12 * step},
				{at: 0, base: 0, step: 10 * step, min: 12 * step, below: 22 * step},
			},
		},
		{
			name: "a queue that has come due is forgotten",
			calls: []call{
				{at: 0, base: 0, step: step, min: 0, below: 1},
				{at: 0, base: 0, step: step, min: step, below: 2 * step},
				{at: time.Minute, base: time.Minute, step: step, min: time.Minute, below: time.Minute + 1},
			},
		},
		{
			name: "a base after the queue starts a new queue there",
			calls: []call{
				{at: 0, base: 0, step: step, min: 0, below: 1},
				{at: 0, base: 30 * time.Second, step: step, min: 30 * time.Second, below: 30*time.Second + 1},
				{at: 0, base: 0, step: step, min: 30*time.Second + step, below: 30*time.Second + 2*step},
			},
		},
		{
			name: "a queue longer than the horizon parks deliveries just past it",
			calls: []call{
				{at: 0, base: 0, step: maxPaceAhead, min: 0, below: 1},
				{at: 0, base: 0, step: maxPaceAhead, min: maxPaceAhead, below: maxPaceAhead + maxPaceAhead},
				{at: 0, base: 0, step: maxPaceAhead, min: maxPaceAhead, below: maxPaceAhead + maxPaceAhead/4},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p pacer
			for i, c := range tt.calls {
				got := p.slot(gateT0.Add(c.at), gateT0.Add(c.base), c.step).Sub(gateT0)
				require.GreaterOrEqual(t, got, c.min, "call %d", i)
				require.Less(t, got, c.below, "call %d", i)
			}
		})
	}
}

func TestPacerAverage(t *testing.T) {
	t.Parallel()

	var p pacer
	require.Zero(t, p.average(), "no sample yet")
	p.observe(time.Second)
	require.Equal(t, time.Second, p.average())
	p.observe(0)
	require.Equal(t, 750*time.Millisecond, p.average(), "a new sample weighs a quarter")
}

func TestGateRateLimit(t *testing.T) {
	t.Parallel()

	g := newGate(gateLimits{maxConcurrency: 100, rateLimit: 2}, nil, nil)
	for range 2 {
		tk, _, err := g.admit(gateT0)
		require.NoError(t, err, "the burst equals the per-second rate")
		tk.done(gateT0, true, false)
	}
	_, wait, err := g.admit(gateT0)
	require.ErrorIs(t, err, ErrRateLimited)
	require.Equal(t, 500*time.Millisecond, wait)
	_, wait2, err := g.admit(gateT0)
	require.ErrorIs(t, err, ErrRateLimited)
	require.GreaterOrEqual(t, wait2, time.Second, "refused deliveries are paced at the rate")
	require.Less(t, wait2, 1500*time.Millisecond)

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
	g := gs.get("ep_1", gateLimits{maxConcurrency: 1, rateLimit: 1}, gateT0)
	tk, _, err := g.admit(gateT0)
	require.NoError(t, err)
	_, to := tk.done(gateT0, true, true)
	require.Equal(t, breakerOpen, to)

	_, wait, err := g.admit(gateT0.Add(time.Second))
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.Equal(t, 59*time.Second, wait, "the first held-back delivery is due when the breaker lets a probe through")
	_, wait, err = g.admit(gateT0.Add(time.Second))
	require.ErrorIs(t, err, ErrCircuitOpen)
	step := paceStep(guessAttempt, 1)
	require.GreaterOrEqual(t, wait, 59*time.Second+step, "the others are paced after it")
	require.Less(t, wait, 59*time.Second+2*step)

	// The same endpoint with new limits keeps its breaker and its pacer.
	g2 := gs.get("ep_1", gateLimits{maxConcurrency: 5}, gateT0)
	require.NotSame(t, g, g2)
	require.Same(t, g.pc, g2.pc)
	_, _, err = g2.admit(gateT0.Add(time.Second))
	require.ErrorIs(t, err, ErrCircuitOpen)

	// Unchanged limits return the same gate; other endpoints are unaffected.
	require.Same(t, g2, gs.get("ep_1", gateLimits{maxConcurrency: 5}, gateT0))
	tk, _, err = gs.get("ep_2", gateLimits{}, gateT0).admit(gateT0)
	require.NoError(t, err)
	tk.done(gateT0, false, false)

	gs.forget("ep_1")
	_, _, err = gs.get("ep_1", gateLimits{maxConcurrency: 5}, gateT0).admit(gateT0)
	require.NoError(t, err, "a forgotten endpoint starts with a closed breaker")
}

func TestGateHalfOpenProbePacesTheOthersAfterIt(t *testing.T) {
	t.Parallel()

	gs := newGates(BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Minute}.withDefaults())
	g := gs.get("ep_1", gateLimits{maxConcurrency: 1, timeout: 5 * time.Second}, gateT0)
	tk, _, err := g.admit(gateT0)
	require.NoError(t, err)
	tk.done(gateT0.Add(2*time.Second), true, true) // a 2 s failure opens the breaker

	now := gateT0.Add(2*time.Second + time.Minute)
	probe, _, err := g.admit(now)
	require.NoError(t, err)
	require.True(t, probe.probe)
	_, wait, err := g.admit(now)
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.Equal(t, 2*time.Second, wait, "a delivery refused during the probe comes back when the probe should be done")
	_, wait, _ = g.admit(now)
	step := paceStep(2*time.Second, 1)
	require.GreaterOrEqual(t, wait, 2*time.Second+step)
	require.Less(t, wait, 2*time.Second+2*step)
}

func TestGatesForgetIdleEndpoints(t *testing.T) {
	t.Parallel()

	gs := newGates(BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Minute}.withDefaults())
	idle := gs.get("ep_idle", gateLimits{}, gateT0)
	busy := gs.get("ep_busy", gateLimits{}, gateT0)
	tk, _, err := busy.admit(gateT0)
	require.NoError(t, err)
	broken := gs.get("ep_broken", gateLimits{}, gateT0)
	btk, _, err := broken.admit(gateT0)
	require.NoError(t, err)
	btk.done(gateT0, true, true)

	later := gateT0.Add(gateIdleAfter + time.Second)
	gs.get("ep_other", gateLimits{}, later)
	require.NotSame(t, idle, gs.get("ep_idle", gateLimits{}, later), "an idle endpoint's gate was dropped")
	require.Same(t, busy, gs.get("ep_busy", gateLimits{}, later), "a gate with an attempt in flight is kept")
	require.Same(t, broken, gs.get("ep_broken", gateLimits{}, later), "a gate with an open breaker is kept")
	tk.done(later, false, false)
}

func TestGateOpenBreakerPacesSparserAfterEachFailedProbe(t *testing.T) {
	t.Parallel()

	gs := newGates(BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Minute}.withDefaults())
	g := gs.get("ep_1", gateLimits{maxConcurrency: 1}, gateT0)
	now := gateT0
	for probe := range 3 {
		tk, _, err := g.admit(now)
		require.NoError(t, err)
		tk.done(now, true, true)
		require.Equal(t, probe, g.br.failedProbes())

		_, wait, err := g.admit(now)
		require.ErrorIs(t, err, ErrCircuitOpen)
		require.Equal(t, time.Minute, wait, "the head of the backlog is due at the probe")
		step := paceStep(guessAttempt, 1) << probe
		_, wait, _ = g.admit(now)
		require.GreaterOrEqual(t, wait, time.Minute+step, "after %d failed probes", probe)
		require.Less(t, wait, time.Minute+2*step, "after %d failed probes", probe)
		now = now.Add(time.Minute)
	}

	tk, _, err := g.admit(now)
	require.NoError(t, err)
	_, to := tk.done(now, true, false)
	require.Equal(t, breakerClosed, to)
	require.Zero(t, g.br.failedProbes(), "a successful probe resets the back-off")
}
