package sender

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender/sendertest"
)

// countingStore is a MemoryStore that counts the deliveries claimed and settled, and keeps the
// gate hold-backs (SettleReschedule) it was asked to write.
type countingStore struct {
	*MemoryStore

	mu          sync.Mutex
	claimed     int
	settled     int
	rescheduled []Settlement
}

// Claim and Settle hold c.mu around the store's work, so idle sees the counts and the store agree.
func (c *countingStore) Claim(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, err := c.MemoryStore.Claim(ctx, req)
	c.claimed += len(got)
	return got, err
}

func (c *countingStore) Settle(ctx context.Context, req SettleRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.MemoryStore.Settle(ctx, req)
	c.settled += len(req.Settlements)
	for _, st := range req.Settlements {
		if st.Kind == SettleReschedule {
			c.rescheduled = append(c.rescheduled, st)
		}
	}
	return err
}

// idle reports whether nothing due at now is pending and every claimed delivery but inFlight
// is settled.
func (c *countingStore) idle(now time.Time, inFlight int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed-c.settled != inFlight {
		return false, nil
	}
	at, ok, err := c.MemoryStore.NextDue(context.Background())
	return !ok || at.After(now), err
}

// holdBacks returns how many gate hold-backs were written so far.
func (c *countingStore) holdBacks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rescheduled)
}

// dueTimes returns the due times of the hold-backs so far, in order.
func (c *countingStore) dueTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.rescheduled))
	for _, st := range c.rescheduled {
		out = append(out, st.NextAttemptAt)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// backlogBundle is a Sender on a countingStore and a fake clock.
type backlogBundle struct {
	s     *Sender
	store *countingStore
	clock *clock.Fake
}

// startBacklog starts a Sender whose Shutdown at the end of the test gives hanging attempts only
// a moment (their leases are returned).
func startBacklog(t *testing.T, mutate func(*Config)) *backlogBundle {
	t.Helper()
	b := &backlogBundle{store: &countingStore{MemoryStore: NewMemoryStore(MemoryStoreConfig{})}, clock: clock.NewFake(t0)}
	cfg := Config{
		Store: b.store, Policy: testSchedule, AllowPrivateNetworks: true,
		Logger: slog.New(slog.DiscardHandler), clock: b.clock,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	b.s = s
	return b
}

func (b *backlogBundle) run(t *testing.T) {
	t.Helper()
	runErr := make(chan error, 1)
	go func() { runErr <- b.s.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = b.s.Shutdown(ctx)
		require.NoError(t, <-runErr)
	})
}

func (b *backlogBundle) endpoint(t *testing.T, ep Endpoint, steps ...sendertest.Step) *sendertest.Endpoint {
	t.Helper()
	srv := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}, Now: b.clock.Now}, steps...)
	ep.URL = srv.URL + "/hook"
	ep.Keys = []EndpointKey{{Secret: testSecret}}
	_, err := b.s.CreateEndpoint(t.Context(), ep)
	require.NoError(t, err)
	return srv
}

func (b *backlogBundle) publish(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		_, err := b.s.Publish(t.Context(), newEvent(t, "invoice.paid", i))
		require.NoError(t, err)
	}
}

// settle waits until the dispatcher has dealt with everything due at the fake clock's time:
// nothing due is pending, and every claimed delivery but inFlight is settled.
func (b *backlogBundle) settle(t *testing.T, inFlight int) {
	t.Helper()
	require.Eventually(t, func() bool {
		ok, err := b.store.idle(b.clock.Now(), inFlight)
		require.NoError(t, err)
		return ok
	}, 10*time.Second, time.Millisecond, "the dispatcher never went idle")
}

// advance moves the fake clock by total in steps, letting the dispatcher catch up after each.
func (b *backlogBundle) advance(t *testing.T, total, step time.Duration, inFlight int) {
	t.Helper()
	for done := time.Duration(0); done < total; done += step {
		b.clock.Advance(step)
		b.settle(t, inFlight)
	}
}

func TestAFullEndpointsBacklogIsClaimedAboutTwice(t *testing.T) {
	t.Parallel()
	const (
		backlog = 5000
		slots   = 10
		timeout = 30 * time.Second
	)
	b := startBacklog(t, nil)
	srv := b.endpoint(t, Endpoint{MaxConcurrency: slots, Timeout: timeout}, sendertest.Step{Hang: true, Times: -1})
	b.publish(t, backlog)
	b.run(t)
	srv.WaitForRequests(t, slots)
	b.settle(t, slots)
	first := b.store.holdBacks()
	require.Equal(t, backlog-slots, first, "the first pass holds back everything beyond the cap")

	// The cap never frees (the attempts hang). Over four timeouts the held-back deliveries are
	// claimed about once more: when the first, optimistic pacing runs out, and for some a third
	// time while the expected duration still grows towards the timeout (nothing has finished).
	b.advance(t, 4*timeout, 250*time.Millisecond, slots)
	total := b.store.holdBacks()
	// Over the next four timeouts only what the pacing lets come due is claimed: those queued
	// while the expected duration was still growing, then about the cap per timeout.
	b.advance(t, 4*timeout, time.Second, slots)
	later := b.store.holdBacks() - total
	t.Logf("%d pending, cap %d full: %d hold-backs in %v (%.2f per held-back delivery), %d in the %v after",
		backlog, slots, total, 4*timeout, float64(total)/float64(backlog-slots), later, 4*timeout)
	require.LessOrEqual(t, total, 2*backlog+backlog/2, "the backlog is claimed about twice, not over and over")
	require.LessOrEqual(t, later, backlog/5, "then the backlog stays parked")
	require.Equal(t, slots, srv.Count(), "no attempt beyond the cap")
}

func TestARateLimitedEndpointsBacklogComesDueAtTheRate(t *testing.T) {
	t.Parallel()
	const backlog = 20
	b := startBacklog(t, nil)
	srv := b.endpoint(t, Endpoint{RateLimit: 2})
	b.publish(t, backlog)
	b.run(t)
	srv.WaitForRequests(t, 2) // the limiter's burst
	b.settle(t, 0)

	due := b.store.dueTimes()
	require.Len(t, due, backlog-2)
	require.Equal(t, t0.Add(500*time.Millisecond), due[0], "the first is due at the limiter's next token")
	for i, at := range due {
		slot := t0.Add(time.Duration(i+1) * 500 * time.Millisecond)
		require.False(t, at.Before(slot), "hold-back %d is due at %v, before its slot %v", i, at, slot)
		require.True(t, at.Before(slot.Add(500*time.Millisecond)), "hold-back %d is due at %v, after its slot", i, at)
	}

	// Coming due at the rate, each is let through when claimed: nothing is held back twice.
	b.advance(t, 11*time.Second, 500*time.Millisecond, 0)
	require.Equal(t, backlog, srv.Count())
	require.Equal(t, backlog-2, b.store.holdBacks())
}

func TestAnOpenBreakersBacklogIsPacedAfterTheCoolDown(t *testing.T) {
	t.Parallel()
	const backlog = 30
	b := startBacklog(t, func(c *Config) {
		c.Breaker = BreakerConfig{ConsecutiveFailures: 1, OpenFor: time.Minute}
		c.Policy = retry.Schedule{Delays: []time.Duration{0, time.Hour}}
	})
	srv := b.endpoint(t, Endpoint{MaxConcurrency: 1}, sendertest.Status(http.StatusInternalServerError, 1))
	b.publish(t, 1)
	b.run(t)
	srv.WaitForRequests(t, 1) // fails and opens the breaker
	b.settle(t, 0)

	b.publish(t, backlog)
	b.settle(t, 0)
	due := b.store.dueTimes()
	require.Len(t, due, backlog)
	reopen := t0.Add(time.Minute)
	require.Equal(t, reopen, due[0], "only the first is due when the breaker lets a probe through")
	step := paceStep(guessAttempt, 1)
	for i, at := range due {
		slot := reopen.Add(time.Duration(i) * step)
		require.False(t, at.Before(slot), "hold-back %d is due at %v, before its slot %v", i, at, slot)
		require.True(t, at.Before(slot.Add(step+1)), "hold-back %d is due at %v, after its slot", i, at)
	}

	// The probe succeeds and closes the breaker; the others come due one at a time and go through.
	b.clock.Set(reopen)
	b.settle(t, 0)
	b.advance(t, backlog*step, step, 0)
	require.Equal(t, 1+backlog, srv.Count())
	require.Equal(t, backlog, b.store.holdBacks(), "no delivery was held back twice")
}

// deliveredCounter counts Observer.Delivered calls.
type deliveredCounter struct {
	NopObserver
	n atomic.Int64
}

func (d *deliveredCounter) Delivered(context.Context, AttemptReport) { d.n.Add(1) }

// BenchmarkSaturatedEndpointBacklog measures the cost of a backlog larger than an endpoint can
// take: 2,000 pending deliveries to a loopback endpoint answering after 50 ms with the default
// concurrency cap of 10 (so at most 200 deliveries/s), for 5 s per round. It reports the
// delivery rate (against the endpoint's capacity) and the gate hold-backs (claims that ended in
// a reschedule) per delivery. See /work/plan/bench-sender.md, "Backlog churn fix".
//
//	go test -run '^$' -bench SaturatedEndpointBacklog -benchtime 1x ./sender/
func BenchmarkSaturatedEndpointBacklog(b *testing.B) {
	const (
		backlog = 2000
		delay   = 50 * time.Millisecond
		window  = 5 * time.Second
	)
	b.ReportAllocs()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
	}))
	defer srv.Close()
	var delivered, held int
	for range b.N {
		store := &countingStore{MemoryStore: NewMemoryStore(MemoryStoreConfig{})}
		obs := &deliveredCounter{}
		s, err := New(Config{Store: store, AllowPrivateNetworks: true, Observer: obs, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(b, err)
		ctx := context.Background()
		_, err = s.CreateEndpoint(ctx, Endpoint{URL: srv.URL, Keys: []EndpointKey{{Secret: testSecret}}})
		require.NoError(b, err)
		for i := range backlog {
			e, err := event.New("invoice.paid", map[string]int{"n": i})
			require.NoError(b, err)
			_, err = s.Publish(ctx, e)
			require.NoError(b, err)
		}
		runErr := make(chan error, 1)
		go func() { runErr <- s.Run(ctx) }()
		time.Sleep(window)
		delivered += int(obs.n.Load())
		held += store.holdBacks()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		require.NoError(b, s.Shutdown(sctx))
		cancel()
		require.NoError(b, <-runErr)
	}
	capacity := float64(DefaultMaxConcurrency) / delay.Seconds()
	rate := float64(delivered) / (float64(b.N) * window.Seconds())
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(rate/capacity, "of-capacity")
	b.ReportMetric(float64(held)/float64(max(delivered, 1)), "hold-backs/delivery")
}
