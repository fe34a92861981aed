package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/signature"
)

func TestHandlerAcceptsProcessesAndDeduplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	ev := newEvent(t)
	before := time.Now()

	rec := serve(b.h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.Empty(t, rec.Header().Get(receiver.HeaderDuplicate))

	c := recv(t, b.calls)
	require.Equal(t, ev.ID, c.ev.ID)
	require.Equal(t, ev.Type, c.ev.Type)
	require.JSONEq(t, string(ev.Data), string(c.ev.Data))
	require.True(t, ev.Timestamp.Equal(c.ev.Timestamp))
	require.Equal(t, 1, c.md.Attempt)
	require.Equal(t, "hookkit", c.md.Provider)
	require.Equal(t, ev.ID, c.md.Header.Get(signature.HeaderID))
	require.False(t, c.md.ReceivedAt.Before(before))

	waitDone(t, b.h, ev)
	requireNone(t, b.calls)
}

func TestHandlerAnswersInProgressDuplicateWith409NotA2xx(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	b := setup(t, func(context.Context, event.Event) error { <-unblock; return nil }, nil)
	ev := newEvent(t)

	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
	recv(t, b.calls)
	// A held claim may be orphaned (its holder died before queueing the
	// event): a 2xx would let the sender forget it, so the sender is told to
	// come back.
	rec := serve(b.h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	release()
	waitDone(t, b.h, ev)
	requireNone(t, b.calls)
	// Once processed, the retry is a plain duplicate.
	rec = serve(b.h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
}

func TestHandlerAnswers503AndReleasesWhenTheQueueIsFull(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	b := setup(t, func(context.Context, event.Event) error { <-unblock; return nil }, func(c *receiver.Config) {
		c.Workers, c.QueueSize, c.RetryAfter = 1, 1, 7*time.Second
	})
	first, second, third := newEvent(t), newEvent(t), newEvent(t)

	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", first)).Code)
	recv(t, b.calls) // the worker holds the first; the queue is empty
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", second)).Code)
	rec := serve(b.h, receivertest.NewRequest("", third))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "7", rec.Header().Get("Retry-After"))
	requireReleased(t, b.store, third.ID)

	close(unblock)
	recv(t, b.calls)
	waitDone(t, b.h, second)
}

func TestHandlerNeverAnswers2xxWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	mem := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	t.Cleanup(mem.Close)
	b := setup(t, nil, func(c *receiver.Config) {
		c.Store = &faultyStore{Store: mem, claimErr: fmt.Errorf("%w: connection refused", idempotency.ErrUnavailable)}
	})
	rec := serve(b.h, receivertest.NewRequest("", newEvent(t)))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	requireNone(t, b.calls)
}

func TestHandlerRetriesFailuresThenCompletes(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	b := setup(t, func(context.Context, event.Event) error {
		if n.Add(1) < 3 {
			return errBoom
		}
		return nil
	}, nil)
	ev := newEvent(t)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
	for want := 1; want <= 3; want++ {
		require.Equal(t, want, recv(t, b.calls).md.Attempt)
	}
	waitDone(t, b.h, ev)
	requireNone(t, b.dead)
}

func TestHandlerDeadLettersAndReleases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      func() error
		attempts int
	}{
		{name: "a permanent error stops at once", err: func() error { return retry.Permanent(errBoom) }, attempts: 1},
		{name: "retries run out", err: func() error { return errBoom }, attempts: 3},
		{name: "a panic is an error", err: func() error { panic(errBoom) }, attempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(context.Context, event.Event) error { return tt.err() }, nil)
			ev := newEvent(t)
			require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
			err := recv(t, b.dead)
			require.ErrorIs(t, err, errBoom)
			for range tt.attempts {
				recv(t, b.calls)
			}
			requireNone(t, b.calls)
			// Released: a redelivery is accepted and processed again.
			require.Eventually(t, func() bool {
				return serve(b.h, receivertest.NewRequest("", ev)).Header().Get(receiver.HeaderDuplicate) == ""
			}, 5*time.Second, time.Millisecond)
			recv(t, b.calls)
		})
	}
}

func TestHandlerPanicBecomesPanicError(t *testing.T) {
	t.Parallel()
	b := setup(t, func(context.Context, event.Event) error { panic("kaboom") }, func(c *receiver.Config) {
		c.Retry = retry.Exponential{Initial: time.Millisecond, Multiplier: 1, MaxInterval: time.Millisecond, MaxAttempts: 1, MaxElapsed: time.Second}
	})
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", newEvent(t))).Code)
	var pe *receiver.PanicError
	require.ErrorAs(t, recv(t, b.dead), &pe)
	require.Equal(t, "kaboom", pe.Value)
	require.Contains(t, string(pe.Stack), "handler_test.go")
}

func TestShutdownDrainsTheQueueAndRefusesNewRequests(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	b := setup(t, func(context.Context, event.Event) error { <-unblock; return nil }, func(c *receiver.Config) { c.Workers = 1 })
	evs := []event.Event{newEvent(t), newEvent(t), newEvent(t)}
	for _, ev := range evs {
		require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
	}
	recv(t, b.calls)

	done := make(chan error)
	go func() { done <- b.h.Shutdown(context.Background()) }()
	require.Eventually(t, func() bool {
		return serve(b.h, receivertest.NewRequest("", newEvent(t))).Code == http.StatusServiceUnavailable
	}, 5*time.Second, time.Millisecond)
	close(unblock)
	require.NoError(t, recv(t, done))
	recv(t, b.calls)
	recv(t, b.calls)
	for _, ev := range evs {
		c, err := b.store.Claim(context.Background(), ev.ID, time.Minute)
		require.NoError(t, err)
		require.Equal(t, idempotency.Done, c.State)
	}
	require.ErrorIs(t, b.h.Shutdown(context.Background()), receiver.ErrShutdown)
	rec := serve(b.h, receivertest.NewRequest("", newEvent(t)))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
}

func TestShutdownDeadlineCancelsHandlersAndReleasesClaims(t *testing.T) {
	t.Parallel()
	cancelled := make(chan error, 10)
	b := setup(t, func(ctx context.Context, _ event.Event) error {
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctx.Err()
	}, func(c *receiver.Config) { c.Workers = 1 })
	inFlight, queued := newEvent(t), newEvent(t)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", inFlight)).Code)
	recv(t, b.calls)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", queued)).Code)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.h.Shutdown(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, recv(t, cancelled), context.Canceled)
	requireReleased(t, b.store, inFlight.ID)
	requireReleased(t, b.store, queued.ID)
	requireNone(t, b.dead)
	require.Contains(t, b.logs.String(), "abandoned at shutdown")
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	ok := receiver.HandlerFunc(func(context.Context, event.Event) error { return nil })
	keys := receivertest.Keyring("")
	gh, err := signature.NewGitHub("secret")
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  receiver.Config
		want string
	}{
		{name: "no handler", cfg: receiver.Config{Keys: keys}, want: "Handler is required"},
		{name: "no verification at all", cfg: receiver.Config{Handler: ok}, want: "unsigned requests are never accepted"},
		{name: "two verifiers", cfg: receiver.Config{Handler: ok, Verifier: gh, Provider: receiver.GitHub(gh)}, want: "not both"},
		{name: "negative workers", cfg: receiver.Config{Handler: ok, Keys: keys, Workers: -1}, want: "Workers"},
		{name: "queue size with a custom queue", cfg: receiver.Config{Handler: ok, Keys: keys, Queue: receiver.NewMemoryQueue(1), QueueSize: 3}, want: "QueueSize"},
		{name: "negative body cap", cfg: receiver.Config{Handler: ok, Keys: keys, MaxBodyBytes: -1}, want: "MaxBodyBytes"},
		{name: "negative lease", cfg: receiver.Config{Handler: ok, Keys: keys, ClaimLease: -time.Second}, want: "ClaimLease"},
		{name: "proxies without an allow-list", cfg: receiver.Config{Handler: ok, Keys: keys, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, want: "TrustedProxies"},
		{name: "handshake without origins", cfg: receiver.Config{Handler: ok, Keys: keys, Handshake: &receiver.Handshake{}}, want: "AllowedOrigins"},
		{name: "handshake origin with a space", cfg: receiver.Config{Handler: ok, Keys: keys, Handshake: &receiver.Handshake{AllowedOrigins: []string{"a b"}}}, want: "AllowedOrigins"},
		{name: "invalid retry policy", cfg: receiver.Config{Handler: ok, Keys: keys, Retry: retry.Exponential{}}, want: "Retry"},
		{name: "negative retry after", cfg: receiver.Config{Handler: ok, Keys: keys, RetryAfter: -time.Second}, want: "RetryAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := receiver.New(tt.cfg)
			require.ErrorIs(t, err, receiver.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, h)
		})
	}
}

func TestObserverSeesEveryOutcome(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		seen   []string
		failed = make(chan struct{}, 10)
		dead   = make(chan struct{}, 10)
		proc   = make(chan time.Duration, 10)
	)
	note := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	b := setup(t, func(_ context.Context, ev event.Event) error {
		if strings.Contains(string(ev.Data), "fail") {
			return retry.Permanent(errBoom)
		}
		return nil
	}, func(c *receiver.Config) {
		c.Observer = receiver.Observer{
			Accepted: func(_ context.Context, i receiver.Info) { note("accepted " + i.Type) },
			Rejected: func(_ context.Context, r receiver.Rejection) { note(fmt.Sprintf("rejected %d %s", r.Status, r.Reason)) },
			Duplicate: func(_ context.Context, _ receiver.Info, inProgress bool) {
				note(fmt.Sprintf("duplicate %v", inProgress))
			},
			Processed:    func(_ context.Context, i receiver.Info) { proc <- i.Duration },
			Failed:       func(_ context.Context, i receiver.Info, err error) { failed <- struct{}{} },
			DeadLettered: func(_ context.Context, i receiver.Info, err error) { dead <- struct{}{} },
		}
	})
	good := newEvent(t)
	bad := receivertest.NewEvent("invoice.failed", map[string]any{"fail": true})
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", good)).Code)
	require.GreaterOrEqual(t, recv(t, proc), time.Duration(0))
	waitDone(t, b.h, good)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", bad)).Code)
	recv(t, failed)
	recv(t, dead)
	require.Equal(t, http.StatusUnauthorized, serve(b.h, receivertest.NewRequest("whsec_"+strings.Repeat("A", 43)+"=", newEvent(t))).Code)

	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, seen, "accepted invoice.paid")
	require.Contains(t, seen, "accepted invoice.failed")
	require.Contains(t, seen, "duplicate false")
	require.Contains(t, seen, "rejected 401 signature: no matching signature")
}

func TestLogsNeverContainSecretsOrSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t, func(context.Context, event.Event) error { return retry.Permanent(errBoom) }, nil)
	ev := receivertest.NewEvent("invoice.paid", map[string]any{"card": "4242-SECRET-PAYLOAD"})
	good := receivertest.NewRequest("", ev)
	sig := good.Header.Get(signature.HeaderSignature)
	require.Equal(t, http.StatusAccepted, serve(b.h, good).Code)
	recv(t, b.dead)
	forged := receivertest.NewRequest("", newEvent(t))
	forged.Header.Set(signature.HeaderSignature, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	require.Equal(t, http.StatusUnauthorized, serve(b.h, forged).Code)
	waitDone := func() bool { return strings.Contains(b.logs.String(), "dead-lettered") }
	require.Eventually(t, waitDone, 5*time.Second, time.Millisecond)

	logs := b.logs.String()
	require.Contains(t, logs, "webhook rejected")
	for _, secret := range []string{receivertest.Secret, strings.TrimPrefix(receivertest.Secret, "whsec_"), sig, strings.TrimPrefix(sig, "v1,"), "AAAAAAAAAAAAAAAAAAAA", "4242-SECRET-PAYLOAD"} {
		require.NotContains(t, logs, secret)
	}
}

func TestHandlerWithACustomQueue(t *testing.T) {
	t.Parallel()
	q := &recordingQueue{MemoryQueue: receiver.NewMemoryQueue(4), acks: make(chan receiver.Outcome, 4)}
	b := setup(t, nil, func(c *receiver.Config) { c.Queue = q })
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", newEvent(t))).Code)
	require.Equal(t, receiver.Processed, recv(t, q.acks))

	q.fail.Store(true)
	ev := newEvent(t)
	rec := serve(b.h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	requireReleased(t, b.store, ev.ID)
}

type recordingQueue struct {
	*receiver.MemoryQueue
	fail atomic.Bool
	acks chan receiver.Outcome
}

func (q *recordingQueue) Enqueue(ctx context.Context, d receiver.Delivery) error {
	if q.fail.Load() {
		return errors.New("inbox unavailable")
	}
	return q.MemoryQueue.Enqueue(ctx, d)
}

func (q *recordingQueue) Ack(_ context.Context, _ receiver.Delivery, o receiver.Outcome) error {
	q.acks <- o
	return nil
}

func TestAnEventWhoseLeaseExpiredIsStillRecorded(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	processed := make(chan struct{}, 1)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	t.Cleanup(store.Close)
	b := setup(t, func(context.Context, event.Event) error { <-unblock; return nil }, func(c *receiver.Config) {
		c.Store, c.ClaimLease = store, time.Minute
		c.Observer.Processed = func(context.Context, receiver.Info) { processed <- struct{}{} }
	})
	ev := newEvent(t)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
	recv(t, b.calls)
	clock.Add(int64(2 * time.Minute)) // the lease runs out while the handler works
	close(unblock)
	recv(t, processed)
	c, err := store.Claim(context.Background(), ev.ID, time.Minute)
	require.NoError(t, err)
	require.Equal(t, idempotency.Done, c.State)
	require.NotContains(t, b.logs.String(), "not recorded")
}

func TestAFailedReleaseIsLoggedAndTheAnswerIsStill503(t *testing.T) {
	t.Parallel()
	mem := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	t.Cleanup(mem.Close)
	q := &recordingQueue{MemoryQueue: receiver.NewMemoryQueue(1), acks: make(chan receiver.Outcome, 1)}
	q.fail.Store(true)
	b := setup(t, nil, func(c *receiver.Config) {
		c.Queue = q
		c.Store = &faultyStore{Store: mem, releaseErr: fmt.Errorf("%w: timeout", idempotency.ErrUnavailable)}
	})
	rec := serve(b.h, receivertest.NewRequest("", newEvent(t)))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, b.logs.String(), "release failed")
}

func TestAPanickingDeadLetterHookIsContained(t *testing.T) {
	t.Parallel()
	b := setup(t, func(context.Context, event.Event) error { return retry.Permanent(errBoom) }, func(c *receiver.Config) {
		c.DeadLetter = func(context.Context, event.Event, receiver.Metadata, error) { panic("hook bug") }
	})
	ev := newEvent(t)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", ev)).Code)
	recv(t, b.calls)
	require.Eventually(t, func() bool { return strings.Contains(b.logs.String(), "dead-letter hook panicked") }, 5*time.Second, time.Millisecond)
	// The claim was still released: a redelivery is processed.
	require.Eventually(t, func() bool {
		return serve(b.h, receivertest.NewRequest("", ev)).Header().Get(receiver.HeaderDuplicate) == ""
	}, 5*time.Second, time.Millisecond)
}

// durableQueue is a MemoryQueue that says it keeps what it holds across
// restarts, like receiver/pginbox, and has no TryDequeue.
type durableQueue struct{ q *receiver.MemoryQueue }

func (d durableQueue) Enqueue(ctx context.Context, x receiver.Delivery) error {
	return d.q.Enqueue(ctx, x)
}
func (d durableQueue) Dequeue(ctx context.Context) (receiver.Delivery, error) {
	return d.q.Dequeue(ctx)
}
func (d durableQueue) Ack(ctx context.Context, x receiver.Delivery, o receiver.Outcome) error {
	return d.q.Ack(ctx, x, o)
}
func (d durableQueue) Close() error  { return d.q.Close() }
func (d durableQueue) Durable() bool { return true }

func TestShutdownDeadlineKeepsClaimsOfADurableQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, func(ctx context.Context, _ event.Event) error {
		<-ctx.Done()
		return ctx.Err()
	}, func(c *receiver.Config) {
		c.Workers = 1
		c.Queue = durableQueue{q: receiver.NewMemoryQueue(8)}
	})
	inFlight := newEvent(t)
	require.Equal(t, http.StatusAccepted, serve(b.h, receivertest.NewRequest("", inFlight)).Code)
	recv(t, b.calls)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.h.Shutdown(ctx), context.DeadlineExceeded)
	// The claim is kept: the delivery waits in the durable queue, and a
	// redelivery before the next start must not be accepted a second time.
	c, err := b.store.Claim(context.Background(), inFlight.ID, time.Minute)
	require.NoError(t, err)
	require.Equal(t, idempotency.InProgress, c.State)
	require.Contains(t, b.logs.String(), "stays queued for the next start")
}

// remoteStore behaves like a remote store whose call is cut by the caller's
// cancellation after the server committed it: the claim is made, and the
// context's error is returned.
type remoteStore struct{ idempotency.Store }

func (s remoteStore) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	c, err := s.Store.Claim(context.WithoutCancel(ctx), key, lease)
	if ctx.Err() != nil {
		return idempotency.Claim{}, ctx.Err()
	}
	return c, err
}

func TestAClientHangingUpCannotOrphanAClaim(t *testing.T) {
	t.Parallel()
	var store remoteStore
	b := setup(t, nil, func(c *receiver.Config) {
		store = remoteStore{Store: c.Store}
		c.Store = store
	})
	ev := newEvent(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the sender hung up before the claim returned
	rec := serve(b.h, receivertest.NewRequest("", ev).WithContext(ctx))
	require.Equal(t, http.StatusAccepted, rec.Code, "the claim must not run under the request's cancellation")
	require.Equal(t, ev.ID, recv(t, b.calls).ev.ID)

	// The sender's retry is a duplicate of an event that was processed.
	rec = serve(b.h, receivertest.NewRequest("", ev))
	require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
	requireNone(t, b.calls)
}
