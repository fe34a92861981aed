package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender/sendertest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// syncBuffer is a bytes.Buffer safe for concurrent writes (the log handler's).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// reports are what a recorder saw.
type reports struct {
	attempts, delivered []AttemptReport
	retries, dead       []AttemptReport
	disabled, recovered []EndpointReport
}

// recorder is an Observer that records every report.
type recorder struct {
	mu sync.Mutex
	r  reports
}

func (r *recorder) AttemptFinished(_ context.Context, a AttemptReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.attempts = append(r.r.attempts, a)
}

func (r *recorder) Delivered(_ context.Context, a AttemptReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.delivered = append(r.r.delivered, a)
}

func (r *recorder) RetryScheduled(_ context.Context, a AttemptReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.retries = append(r.r.retries, a)
}

func (r *recorder) DeadLettered(_ context.Context, a AttemptReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.dead = append(r.r.dead, a)
}

func (r *recorder) EndpointDisabled(_ context.Context, e EndpointReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.disabled = append(r.r.disabled, e)
}

func (r *recorder) EndpointRecovered(_ context.Context, e EndpointReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.recovered = append(r.r.recovered, e)
}

// snapshot returns a copy of the reports so far.
func (r *recorder) snapshot() reports {
	r.mu.Lock()
	defer r.mu.Unlock()
	return reports{
		attempts: slices.Clone(r.r.attempts), delivered: slices.Clone(r.r.delivered),
		retries: slices.Clone(r.r.retries), dead: slices.Clone(r.r.dead),
		disabled: slices.Clone(r.r.disabled), recovered: slices.Clone(r.r.recovered),
	}
}

type testBundle struct {
	s     *Sender
	store *MemoryStore
	clock *clock.Fake
	obs   *recorder
	logs  *syncBuffer
}

// testSchedule is the retry schedule of most tests: 3 attempts, no jitter.
var testSchedule = retry.Schedule{Delays: []time.Duration{0, 5 * time.Second, 5 * time.Minute}}

// setup starts a Sender on a memory store and a fake clock, allowed to reach loopback, and
// shuts it down when the test ends. mutate may change the config (nil: none).
func setup(t *testing.T, mutate func(*Config)) *testBundle {
	t.Helper()
	b := &testBundle{store: NewMemoryStore(MemoryStoreConfig{}), clock: clock.NewFake(t0), obs: &recorder{}, logs: &syncBuffer{}}
	cfg := Config{
		Store:                b.store,
		Policy:               testSchedule,
		AllowPrivateNetworks: true,
		Observer:             b.obs,
		Logger:               slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Workers:              8,
		clock:                b.clock,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	b.s = s
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-runErr; !errors.Is(err, ErrClosed) { // ErrClosed: the test ended before Run began
			require.NoError(t, err)
		}
	})
	return b
}

// endpoint starts a sendertest endpoint verifying with the test secret on the fake clock, and
// creates a sender endpoint for it.
func (b *testBundle) endpoint(t *testing.T, ep Endpoint, steps ...sendertest.Step) (*sendertest.Endpoint, Endpoint) {
	t.Helper()
	srv := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}, Now: b.clock.Now}, steps...)
	if ep.URL == "" {
		ep.URL = srv.URL + "/hook"
	}
	if len(ep.Keys) == 0 {
		ep.Keys = []EndpointKey{{Secret: testSecret}}
	}
	created, err := b.s.CreateEndpoint(t.Context(), ep)
	require.NoError(t, err)
	return srv, created
}

func newEvent(t *testing.T, typ string, n int) event.Event {
	t.Helper()
	e, err := event.Factory{Now: func() time.Time { return t0 }}.New(typ, map[string]int{"n": n})
	require.NoError(t, err)
	return e
}

// delivery waits until the delivery satisfies cond and returns it.
func (b *testBundle) delivery(t *testing.T, id DeliveryID, cond func(Delivery) bool) Delivery {
	t.Helper()
	var d Delivery
	require.Eventually(t, func() bool {
		var err error
		d, err = b.store.GetDelivery(context.Background(), id)
		require.NoError(t, err)
		return cond(d)
	}, 10*time.Second, 2*time.Millisecond, "delivery %v never reached the expected state", id)
	return d
}

// observed waits until the Observer's reports satisfy cond (they follow the store's update)
// and returns them.
func (b *testBundle) observed(t *testing.T, cond func(reports) bool) reports {
	t.Helper()
	var r reports
	require.Eventually(t, func() bool {
		r = b.obs.snapshot()
		return cond(r)
	}, 10*time.Second, time.Millisecond, "the Observer never saw the expected reports")
	return r
}

func isState(s DeliveryState) func(Delivery) bool {
	return func(d Delivery) bool { return d.State == s }
}

func pendingAfter(attempts int) func(Delivery) bool {
	return func(d Delivery) bool { return d.State == StatePending && d.Attempts == attempts }
}

func publishOne(t *testing.T, b *testBundle, e event.Event, opts ...PublishOption) DeliveryID {
	t.Helper()
	res, err := b.s.Publish(t.Context(), e, opts...)
	require.NoError(t, err)
	require.Len(t, res.Deliveries, 1)
	return res.Deliveries[0].ID
}

func TestPublishDeliversToEverySubscribedEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	srvA, epA := b.endpoint(t, Endpoint{ID: "ep_a", EventTypes: []string{"invoice.*"}})
	srvB, _ := b.endpoint(t, Endpoint{ID: "ep_b", EventTypes: []string{"invoice.paid"}, Headers: map[string]string{"X-Tenant": "acme"}})
	srvC, _ := b.endpoint(t, Endpoint{ID: "ep_c", EventTypes: []string{"customer.created"}})
	srvD, _ := b.endpoint(t, Endpoint{ID: "ep_d", Disabled: true})

	e := newEvent(t, "invoice.paid", 1)
	res, err := b.s.Publish(t.Context(), e)
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.Len(t, res.Deliveries, 2, "one delivery per enabled, subscribed endpoint")

	for _, srv := range []*sendertest.Endpoint{srvA, srvB} {
		r := srv.WaitForRequests(t, 1)[0]
		require.NoError(t, r.SignatureErr)
		require.Equal(t, e.ID, r.ID)
		require.Equal(t, "/hook", r.Path)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Equal(t, "hookkit/"+Version, r.Header.Get("User-Agent"))
		got, err := event.Parse(r.Body)
		require.NoError(t, err)
		require.Equal(t, e.ID, got.ID)
		require.JSONEq(t, `{"n":1}`, string(got.Data))
	}
	require.Equal(t, "acme", srvB.Requests()[0].Header.Get("X-Tenant"))
	for _, ref := range res.Deliveries {
		d := b.delivery(t, ref.ID, isState(StateDelivered))
		require.Equal(t, 1, d.Attempts)
	}
	require.Zero(t, srvC.Count())
	require.Zero(t, srvD.Count())

	atts, err := b.s.ListAttempts(t.Context(), AttemptFilter{EndpointID: epA.ID})
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, http.StatusOK, atts[0].StatusCode)
	require.Equal(t, "delivered", atts[0].Outcome)
	require.Equal(t, t0, atts[0].StartedAt)
	b.observed(t, func(r reports) bool { return len(r.delivered) == 2 })
}

func TestRetriesFollowTheScheduleExactly(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, ep := b.endpoint(t, Endpoint{}, sendertest.Status(http.StatusInternalServerError, 2))

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, pendingAfter(1))
	require.Equal(t, t0.Add(5*time.Second), d.NextAttemptAt)
	require.Equal(t, http.StatusInternalServerError, d.LastStatusCode)

	b.clock.Advance(5 * time.Second)
	d = b.delivery(t, id, pendingAfter(2))
	require.Equal(t, t0.Add(5*time.Second+5*time.Minute), d.NextAttemptAt)

	b.clock.Advance(5*time.Minute - time.Second)
	require.Equal(t, 2, srv.Count(), "nothing is sent before the retry is due")
	b.clock.Advance(time.Second)
	d = b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, 3, d.Attempts)

	atts, err := b.s.ListAttempts(t.Context(), AttemptFilter{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, atts, 3)
	// Newest first.
	require.Equal(t, []time.Time{t0.Add(5*time.Second + 5*time.Minute), t0.Add(5 * time.Second), t0},
		[]time.Time{atts[0].StartedAt, atts[1].StartedAt, atts[2].StartedAt})
	require.Equal(t, t0.Add(5*time.Second), atts[2].NextAttemptAt)
	reqs := srv.WaitForRequests(t, 3)
	srv.RequireVerified(t)
	require.Equal(t, reqs[0].ID, reqs[2].ID, "every attempt carries the same webhook-id")
	require.NotEqual(t, reqs[0].Header.Get("webhook-timestamp"), reqs[2].Header.Get("webhook-timestamp"), "every attempt is signed afresh")

	obs := b.observed(t, func(r reports) bool { return len(r.recovered) == 1 })
	require.Len(t, obs.retries, 2)
	require.Equal(t, t0.Add(5*time.Second), obs.retries[0].NextAttemptAt)
	require.Len(t, obs.attempts, 3)
	require.Len(t, obs.recovered, 1, "an endpoint that was failing reports its recovery")
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, _ := b.endpoint(t, Endpoint{}, sendertest.RetryAfterSeconds(2*time.Minute))

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, pendingAfter(1))
	require.Equal(t, t0.Add(2*time.Minute), d.NextAttemptAt, "Retry-After beats the 5 s schedule")
	obs := b.observed(t, func(r reports) bool { return len(r.retries) == 1 })
	require.Equal(t, 2*time.Minute, obs.retries[0].RetryAfter, "the Observer hears what the endpoint asked for")
	require.Equal(t, 429, obs.retries[0].StatusCode)

	b.clock.Advance(2 * time.Minute)
	b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, 2, srv.Count())
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, ep := b.endpoint(t, Endpoint{}, sendertest.Gone())

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, isState(StateDead))
	require.Contains(t, d.LastError, "410")

	got, err := b.s.GetEndpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)
	require.Contains(t, got.DisabledReason, "410 Gone")
	require.Equal(t, t0, got.DisabledAt)

	obs := b.observed(t, func(r reports) bool { return len(r.disabled) == 1 && len(r.dead) == 1 })
	require.Equal(t, ep.ID, obs.disabled[0].EndpointID)
	require.Len(t, obs.dead, 1)

	res, err := b.s.Publish(t.Context(), newEvent(t, "invoice.paid", 2))
	require.NoError(t, err)
	require.Empty(t, res.Deliveries, "a disabled endpoint gets no new deliveries")
	_, err = b.s.Send(t.Context(), ep.ID, newEvent(t, "invoice.paid", 3))
	require.ErrorIs(t, err, ErrEndpointDisabled)
	require.Equal(t, 1, srv.Count())
}

func TestRedirectsAreNotFollowedAndCountAsFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	target := sendertest.NewEndpoint(t, sendertest.Config{})
	srv, _ := b.endpoint(t, Endpoint{}, sendertest.Redirect(target.URL))

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, pendingAfter(1))
	require.Equal(t, http.StatusMovedPermanently, d.LastStatusCode)
	require.Contains(t, d.LastError, "redirect")
	require.Equal(t, 1, srv.Count())
	require.Zero(t, target.Count(), "the redirect target is never contacted")
}

func TestAnAttemptTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, _ = b.endpoint(t, Endpoint{Timeout: 100 * time.Millisecond}, sendertest.Hang())

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, pendingAfter(1))
	require.Contains(t, d.LastError, "deadline exceeded")
	require.Zero(t, d.LastStatusCode)
	obs := b.observed(t, func(r reports) bool { return len(r.attempts) == 1 })
	require.ErrorIs(t, obs.attempts[0].Err, context.DeadlineExceeded)
}

func TestDeadLetterThenReplayDeliversWithTheSameID(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Policy = retry.Schedule{Delays: []time.Duration{0, time.Second}} })
	srv, ep := b.endpoint(t, Endpoint{}, sendertest.Status(http.StatusServiceUnavailable, 2))

	e := newEvent(t, "invoice.paid", 1)
	id := publishOne(t, b, e)
	b.delivery(t, id, pendingAfter(1))
	b.clock.Advance(time.Second)
	d := b.delivery(t, id, isState(StateDead))
	require.Contains(t, d.LastError, "retries exhausted after 2 attempts")

	dls, err := b.s.ListDeadLetters(t.Context(), DeadLetterFilter{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, id, dls[0].ID)
	b.observed(t, func(r reports) bool { return len(r.dead) == 1 })

	require.NoError(t, b.s.Replay(t.Context(), id))
	d = b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, 1, d.Attempts, "a replay starts a new series of attempts")
	reqs := srv.WaitForRequests(t, 3)
	for _, r := range reqs {
		require.Equal(t, e.ID, r.ID)
	}
	require.ErrorIs(t, b.s.Replay(t.Context(), 999999), ErrDeliveryNotFound)

	n, err := b.s.ReplayEndpoint(t.Context(), ep.ID, time.Time{})
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to replay")
}

func TestGateRejectionDoesNotUseUpAnAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, _ := b.endpoint(t, Endpoint{RateLimit: 1})

	first := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	b.delivery(t, first, isState(StateDelivered))
	second := publishOne(t, b, newEvent(t, "invoice.paid", 2))
	d := b.delivery(t, second, func(d Delivery) bool { return d.State == StatePending && d.NextAttemptAt.After(t0) })
	require.Zero(t, d.Attempts, "a rate-limit rejection is not an attempt")
	require.Equal(t, t0.Add(time.Second), d.NextAttemptAt, "rescheduled when the limiter has a token")
	require.Equal(t, 1, srv.Count())

	b.clock.Advance(time.Second)
	d = b.delivery(t, second, isState(StateDelivered))
	require.Equal(t, 1, d.Attempts)
}

func TestCircuitBreakerOpensHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.Breaker = BreakerConfig{ConsecutiveFailures: 2, FailureRatio: -1, OpenFor: time.Minute}
		c.Policy = retry.Schedule{Delays: []time.Duration{0, time.Second, time.Second, time.Second, time.Second}}
	})
	srv, _ := b.endpoint(t, Endpoint{}, sendertest.Status(http.StatusInternalServerError, 3))

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	b.delivery(t, id, pendingAfter(1))
	b.clock.Advance(time.Second)
	b.delivery(t, id, pendingAfter(2)) // the breaker is now open, since t0+1s

	b.clock.Advance(time.Second)
	d := b.delivery(t, id, func(d Delivery) bool { return d.NextAttemptAt.Equal(t0.Add(time.Second + time.Minute)) })
	require.Equal(t, 2, d.Attempts, "the open breaker rescheduled without an attempt")
	require.Equal(t, 2, srv.Count())

	// After the cool-down, one probe goes through; it fails (third 500) and reopens.
	b.clock.Advance(time.Minute - time.Second)
	d = b.delivery(t, id, pendingAfter(3))
	require.Equal(t, t0.Add(time.Second+time.Minute+time.Second), d.NextAttemptAt)
	b.clock.Advance(time.Second)
	d = b.delivery(t, id, func(d Delivery) bool { return d.NextAttemptAt.Equal(t0.Add(2*time.Minute + time.Second)) })
	require.Equal(t, 3, d.Attempts)

	// The next probe succeeds and closes the breaker: later deliveries go straight through.
	b.clock.Advance(time.Minute)
	b.delivery(t, id, isState(StateDelivered))
	next := publishOne(t, b, newEvent(t, "invoice.paid", 2))
	b.delivery(t, next, isState(StateDelivered))
	require.Equal(t, 5, srv.Count())
	logs := b.logs.String()
	require.Contains(t, logs, "circuit breaker opened")
	require.Contains(t, logs, "circuit breaker closed")
}

func TestConcurrencyCapAndShutdownReturnsLeases(t *testing.T) {
	t.Parallel()
	b := &testBundle{store: NewMemoryStore(MemoryStoreConfig{}), clock: clock.NewFake(t0), obs: &recorder{}, logs: &syncBuffer{}}
	s, err := New(Config{Store: b.store, AllowPrivateNetworks: true, clock: b.clock, Logger: slog.New(slog.NewTextHandler(b.logs, nil))})
	require.NoError(t, err)
	b.s = s
	srv, _ := b.endpoint(t, Endpoint{MaxConcurrency: 2, Timeout: time.Minute}, sendertest.Step{Hang: true, Times: -1})
	var ids []DeliveryID
	for i := range 5 {
		ids = append(ids, publishOne(t, b, newEvent(t, "invoice.paid", i)))
	}
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()

	srv.WaitForRequests(t, 2)
	inFlight := 0
	for _, id := range ids {
		d := b.delivery(t, id, func(d Delivery) bool {
			return d.State == StateInFlight || (d.State == StatePending && d.NextAttemptAt.After(t0))
		})
		require.Zero(t, d.Attempts)
		if d.State == StateInFlight {
			inFlight++
		}
	}
	require.Equal(t, 2, inFlight, "at most MaxConcurrency deliveries in flight")
	require.Equal(t, 2, srv.Count())

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded, "the hanging attempts outlive the deadline")
	require.NoError(t, <-runErr)
	for _, id := range ids {
		d, err := b.store.GetDelivery(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, StatePending, d.State, "shutdown returned the lease")
		require.Zero(t, d.Attempts, "a cancelled attempt is not counted")
	}
	require.ErrorIs(t, s.Run(t.Context()), ErrClosed)
}

func TestShutdownLetsInFlightAttemptsFinish(t *testing.T) {
	t.Parallel()
	b := &testBundle{store: NewMemoryStore(MemoryStoreConfig{}), clock: clock.NewFake(t0), obs: &recorder{}}
	s, err := New(Config{Store: b.store, AllowPrivateNetworks: true, clock: b.clock, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	b.s = s
	srv, _ := b.endpoint(t, Endpoint{}, sendertest.Slow(100*time.Millisecond))
	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	srv.WaitForRequests(t, 1)
	require.NoError(t, s.Shutdown(t.Context()))
	require.NoError(t, <-runErr)
	d, err := b.store.GetDelivery(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, StateDelivered, d.State)
	require.ErrorIs(t, s.Run(t.Context()), ErrClosed)
}

func TestOrderedEndpointReceivesInPublishOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, _ := b.endpoint(t, Endpoint{Ordered: true}, sendertest.Status(http.StatusInternalServerError, 1))

	var events []event.Event
	var ids []DeliveryID
	for i := range 4 {
		e := newEvent(t, "invoice.paid", i)
		events = append(events, e)
		ids = append(ids, publishOne(t, b, e))
	}
	b.delivery(t, ids[0], pendingAfter(1))
	for _, id := range ids[1:] {
		d, err := b.store.GetDelivery(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, StatePending, d.State, "later deliveries wait for the first")
	}
	b.clock.Advance(5 * time.Second)
	for _, id := range ids {
		b.delivery(t, id, isState(StateDelivered))
	}
	reqs := srv.WaitForRequests(t, 5)
	got := []string{}
	for _, r := range reqs {
		got = append(got, r.ID)
	}
	require.Equal(t, []string{events[0].ID, events[0].ID, events[1].ID, events[2].ID, events[3].ID}, got)
}

func TestSSRFGuardRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.AllowPrivateNetworks = false })
	srv, _ := b.endpoint(t, Endpoint{})

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, isState(StateDead))
	require.Contains(t, d.LastError, "SSRF guard")
	require.Contains(t, d.LastError, "127.0.0.1")
	require.Contains(t, d.LastError, "sender.Config.AllowedNetworks", "the error names the settings a Sender user can change")
	require.NotContains(t, d.LastError, "ssrf.Config", "internal settings are not actionable")
	require.Zero(t, srv.Count(), "nothing is sent")
	obs := b.observed(t, func(r reports) bool { return len(r.attempts) == 1 })
	require.ErrorIs(t, obs.attempts[0].Err, ErrDestinationBlocked)
	require.Equal(t, retry.PermanentFailure, obs.attempts[0].Outcome)
}

func TestSecretsNeverReachLogsOrTheAttemptLog(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const headerSecret = "Bearer header-secret-value"
	srv, ep := b.endpoint(t, Endpoint{Headers: map[string]string{"Authorization": headerSecret}},
		sendertest.Step{Status: 500, Body: "nope"})
	ep.URL = srv.URL + "/hook?token=url-secret-token"
	_, err := b.s.UpdateEndpoint(t.Context(), ep)
	require.NoError(t, err)

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	b.delivery(t, id, pendingAfter(1))
	b.clock.Advance(5 * time.Second)
	b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, headerSecret, srv.Requests()[0].Header.Get("Authorization"))

	atts, err := b.s.ListAttempts(t.Context(), AttemptFilter{DeliveryID: id})
	require.NoError(t, err)
	blob, err := json.Marshal(atts)
	require.NoError(t, err)
	logs := b.logs.String()
	require.Contains(t, logs, "retry scheduled", "the logs were captured")
	require.Contains(t, string(blob), "nope", "the response snippet is kept")
	for _, secret := range []string{headerSecret, "header-secret-value", testSecret, strings.TrimPrefix(testSecret, "whsec_"), "url-secret-token"} {
		require.NotContains(t, logs, secret)
		require.NotContains(t, string(blob), secret)
	}
}

func TestAutoDisableAfterAFailingPeriod(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.DisableAfter = time.Hour
		c.Policy = retry.Schedule{Delays: []time.Duration{0, 2 * time.Hour, 2 * time.Hour}}
	})
	_, ep := b.endpoint(t, Endpoint{}, sendertest.Status(http.StatusInternalServerError, 5))

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	b.delivery(t, id, pendingAfter(1))
	got, err := b.s.GetEndpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	require.False(t, got.Disabled, "one failure is not a failing period")
	require.Equal(t, t0, got.FailingSince)

	b.clock.Advance(2 * time.Hour)
	b.delivery(t, id, pendingAfter(2))
	got, err = b.s.GetEndpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)
	require.Contains(t, got.DisabledReason, "failing without a success")
	obs := b.observed(t, func(r reports) bool { return len(r.disabled) == 1 })
	require.Equal(t, t0, obs.disabled[0].FailingSince)

	// Enabling resumes the paused delivery.
	_, err = b.s.EnableEndpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	b.clock.Advance(2 * time.Hour)
	b.delivery(t, id, func(d Delivery) bool { return d.State == StateDead })
}

func TestIdempotencyKeyReturnsTheFirstResult(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv, _ := b.endpoint(t, Endpoint{})

	first, err := b.s.Publish(t.Context(), newEvent(t, "invoice.paid", 1), WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	second, err := b.s.Publish(t.Context(), newEvent(t, "invoice.paid", 2), WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	require.True(t, second.Duplicate)
	require.Equal(t, first.EventID, second.EventID)
	require.Equal(t, first.Deliveries, second.Deliveries)
	b.delivery(t, first.Deliveries[0].ID, isState(StateDelivered))
	all, err := b.s.ListDeliveries(t.Context(), DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, 1, srv.Count())
}

func TestRotateSecretSignsWithOldAndNewKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, ep := b.endpoint(t, Endpoint{})

	key, err := b.s.RotateSecret(t.Context(), ep.ID, time.Hour)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(key.Secret, "whsec_"))
	got, err := b.s.GetEndpoint(t.Context(), ep.ID)
	require.NoError(t, err)
	require.Len(t, got.Keys, 2)
	require.Equal(t, t0.Add(time.Hour), got.Keys[0].NotAfter)

	oldOnly := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}, Now: b.clock.Now})
	newOnly := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{key.Secret}, Now: b.clock.Now})
	for _, srv := range []*sendertest.Endpoint{oldOnly, newOnly} {
		got.URL = srv.URL
		_, err = b.s.UpdateEndpoint(t.Context(), got)
		require.NoError(t, err)
		_, err = b.s.Send(t.Context(), ep.ID, newEvent(t, "invoice.paid", 1))
		require.NoError(t, err)
		srv.WaitForRequests(t, 1)
		srv.RequireVerified(t)
	}

	_, err = b.s.RotateSecret(t.Context(), "ep_unknown", time.Hour)
	require.ErrorIs(t, err, ErrEndpointNotFound)
}

func TestEndpointManagement(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()

	created, err := b.s.CreateEndpoint(ctx, Endpoint{URL: "https://example.com/hook"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(created.ID, "ep_"))
	require.Len(t, created.Keys, 1, "a secret is generated")
	require.Equal(t, DefaultMaxConcurrency, created.MaxConcurrency)
	require.Equal(t, t0, created.CreatedAt)

	disabled, err := b.s.DisableEndpoint(ctx, created.ID, "maintenance")
	require.NoError(t, err)
	require.True(t, disabled.Disabled)
	require.Equal(t, "maintenance", disabled.DisabledReason)

	updated, err := b.s.UpdateEndpoint(ctx, Endpoint{ID: created.ID, URL: created.URL, Description: "billing"})
	require.NoError(t, err)
	require.Equal(t, "billing", updated.Description)
	require.True(t, updated.Disabled, "Update keeps the status")
	require.Equal(t, created.Keys, updated.Keys, "Update without keys keeps the keys")
	require.Equal(t, created.CreatedAt, updated.CreatedAt)

	enabled, err := b.s.EnableEndpoint(ctx, created.ID)
	require.NoError(t, err)
	require.False(t, enabled.Disabled)
	require.Empty(t, enabled.DisabledReason)

	list, err := b.s.ListEndpoints(ctx, EndpointFilter{})
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.NoError(t, b.s.DeleteEndpoint(ctx, created.ID))
	_, err = b.s.GetEndpoint(ctx, created.ID)
	require.ErrorIs(t, err, ErrEndpointNotFound)
}

func TestBadInputIsRefusedWithTypedErrorsAndNothingStored(t *testing.T) {
	t.Parallel()

	strict := event.NewCatalog(event.CatalogConfig{Strict: true})
	huge := strings.Repeat("x", 2048)
	tests := []struct {
		name string
		do   func(t *testing.T, s *Sender) error
		want []error
	}{
		{
			name: "an ftp URL is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "ftp://example.com/x"})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrInvalidURL},
		},
		{
			name: "a URL that is not absolute is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "example.com/hook"})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrInvalidURL},
		},
		{
			name: "a URL with credentials is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "https://user:pass@example.com/"})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrURLCredentials},
		},
		{
			name: "an http URL is refused in https-only mode",
			do: func(t *testing.T, _ *Sender) error {
				s, err := New(Config{HTTPSOnly: true, Store: NewMemoryStore(MemoryStoreConfig{})})
				require.NoError(t, err)
				_, err = s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "http://example.com/"})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrHTTPSRequired},
		},
		{
			name: "a signature header cannot be set as a custom header",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "https://example.com/", Headers: map[string]string{"Webhook-Signature": "x"}})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrForbiddenHeader},
		},
		{
			name: "a hop-by-hop header cannot be set as a custom header",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "https://example.com/", Headers: map[string]string{"Connection": "close"}})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrForbiddenHeader},
		},
		{
			name: "a header value with a newline is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "https://example.com/", Headers: map[string]string{"X-Key": "a\r\nInjected: 1"}})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrInvalidHeader},
		},
		{
			name: "a malformed secret is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: "https://example.com/", Keys: []EndpointKey{{Secret: "whsec_!!notbase64!!"}}})
				return err
			},
			want: []error{ErrInvalidEndpoint, ErrInvalidKey},
		},
		{
			name: "a duplicate endpoint id is refused",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_dup", URL: "https://example.com/"})
				require.NoError(t, err)
				_, err = s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_dup", URL: "https://example.org/"})
				return err
			},
			want: []error{ErrDuplicateEndpoint},
		},
		{
			name: "sending to an unknown endpoint fails",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.Send(t.Context(), "ep_nope", newEvent(t, "invoice.paid", 1))
				return err
			},
			want: []error{ErrEndpointNotFound},
		},
		{
			name: "updating an unknown endpoint fails",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.UpdateEndpoint(t.Context(), Endpoint{ID: "ep_nope", URL: "https://example.com/"})
				return err
			},
			want: []error{ErrEndpointNotFound},
		},
		{
			name: "disabling an unknown endpoint fails",
			do: func(t *testing.T, s *Sender) error {
				_, err := s.DisableEndpoint(t.Context(), "ep_nope", "x")
				return err
			},
			want: []error{ErrEndpointNotFound},
		},
		{
			name: "deleting an unknown endpoint fails",
			do:   func(t *testing.T, s *Sender) error { return s.DeleteEndpoint(t.Context(), "ep_nope") },
			want: []error{ErrEndpointNotFound},
		},
		{
			name: "an event with an invalid type is refused",
			do: func(t *testing.T, s *Sender) error {
				e := newEvent(t, "invoice.paid", 1)
				e.Type = "Invoice Paid"
				_, err := s.Publish(t.Context(), e)
				return err
			},
			want: []error{ErrInvalidEvent, event.ErrInvalidType},
		},
		{
			name: "an event of a type a strict catalog does not know is refused",
			do: func(t *testing.T, _ *Sender) error {
				s, err := New(Config{Catalog: strict, Store: NewMemoryStore(MemoryStoreConfig{})})
				require.NoError(t, err)
				_, err = s.Publish(t.Context(), newEvent(t, "invoice.paid", 1))
				return err
			},
			want: []error{ErrInvalidEvent, event.ErrUnknownType},
		},
		{
			name: "an oversized event is refused",
			do: func(t *testing.T, _ *Sender) error {
				s, err := New(Config{MaxPayloadBytes: 1024, Store: NewMemoryStore(MemoryStoreConfig{})})
				require.NoError(t, err)
				e, err := event.New("invoice.paid", map[string]string{"blob": huge})
				require.NoError(t, err)
				_, err = s.Publish(t.Context(), e)
				return err
			},
			want: []error{ErrPayloadTooLarge, event.ErrTooLarge},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := NewMemoryStore(MemoryStoreConfig{})
			s, err := New(Config{Store: store})
			require.NoError(t, err)
			err = tt.do(t, s)
			require.Error(t, err)
			for _, want := range tt.want {
				require.ErrorIs(t, err, want)
			}
			require.NotContains(t, err.Error(), "user:pass@example", "errors do not echo credentials")
			eps, err := store.ListEndpoints(t.Context(), EndpointFilter{})
			require.NoError(t, err)
			for _, ep := range eps {
				require.Equal(t, "ep_dup", ep.ID, "nothing stored half-way")
			}
			ds, err := store.ListDeliveries(t.Context(), DeliveryFilter{})
			require.NoError(t, err)
			require.Empty(t, ds, "nothing stored half-way")
		})
	}
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "negative workers are refused", cfg: Config{Workers: -1}},
		{name: "a lease below a second is refused", cfg: Config{Lease: time.Millisecond}},
		{name: "a snippet above the attempt log's cap is refused", cfg: Config{ResponseSnippetBytes: MaxResponseSnippet + 1}},
		{name: "an invalid retry policy is refused", cfg: Config{Policy: retry.Schedule{}}},
		{name: "a failure ratio above one is refused", cfg: Config{Breaker: BreakerConfig{FailureRatio: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

type panickyObserver struct{ NopObserver }

func (panickyObserver) Delivered(context.Context, AttemptReport) { panic("observer bug") }

func TestAPanickingObserverDoesNotStopDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Observer = panickyObserver{} })
	_, _ = b.endpoint(t, Endpoint{})
	for i := range 2 {
		id := publishOne(t, b, newEvent(t, "invoice.paid", i))
		b.delivery(t, id, isState(StateDelivered))
	}
	require.Contains(t, b.logs.String(), "panic in Observer")
}

// fakeResolver answers every look-up with the next of its answers (the last one repeats) and
// counts the look-ups.
type fakeResolver struct {
	mu      sync.Mutex
	answers []netip.Addr
	calls   int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, _ string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.answers[min(r.calls, len(r.answers)-1)]
	r.calls++
	return []netip.Addr{a}, nil
}

func TestSSRFGuardJudgesTheConfiguredResolversAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []string
	}{
		{name: "a name resolving into a private network", answers: []string{"10.0.0.1"}},
		{name: "a name resolving to cloud metadata", answers: []string{"169.254.169.254"}},
		{name: "a name resolving to IPv4-mapped loopback", answers: []string{"::ffff:127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := &fakeResolver{}
			for _, a := range tc.answers {
				res.answers = append(res.answers, netip.MustParseAddr(a))
			}
			b := setup(t, func(c *Config) { c.AllowPrivateNetworks = false; c.Resolver = res })
			srv, _ := b.endpoint(t, Endpoint{URL: "http://internal.example.test/hook"})

			id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
			d := b.delivery(t, id, isState(StateDead))
			require.Contains(t, d.LastError, "SSRF guard")
			require.Contains(t, d.LastError, tc.answers[0])
			require.Zero(t, srv.Count(), "nothing is sent")
			res.mu.Lock()
			defer res.mu.Unlock()
			require.Positive(t, res.calls, "the configured resolver was asked")
		})
	}
}
