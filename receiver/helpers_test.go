package receiver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/signature"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastRetry retries up to 3 attempts with 1 ms waits.
var fastRetry = retry.Exponential{Initial: time.Millisecond, Multiplier: 1, MaxInterval: time.Millisecond, MaxAttempts: 3, MaxElapsed: time.Minute}

// call records one handler invocation.
type call struct {
	ev event.Event
	md receiver.Metadata
}

type testBundle struct {
	h     *receiver.Handler
	store *idempotency.MemoryStore
	calls chan call
	dead  chan error
	logs  *syncBuffer
}

// setup builds a Handler whose handler reports each call on calls and runs
// fn (nil: succeed). mutate adjusts the config.
func setup(t *testing.T, fn func(ctx context.Context, ev event.Event) error, mutate func(*receiver.Config)) *testBundle {
	t.Helper()
	b := &testBundle{
		store: idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1}),
		calls: make(chan call, 100),
		dead:  make(chan error, 100),
		logs:  &syncBuffer{},
	}
	cfg := receiver.Config{
		Keys:  receivertest.Keyring(""),
		Store: b.store,
		Retry: fastRetry,
		Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
			md, _ := receiver.MetadataFrom(ctx)
			b.calls <- call{ev: ev, md: md}
			if fn != nil {
				return fn(ctx, ev)
			}
			return nil
		}),
		DeadLetter: func(_ context.Context, _ event.Event, _ receiver.Metadata, err error) { b.dead <- err },
		Logger:     slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := receiver.New(cfg)
	require.NoError(t, err)
	b.h = h
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		b.store.Close()
	})
	return b
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func newEvent(t testing.TB) event.Event {
	t.Helper()
	return receivertest.NewEvent("invoice.paid", map[string]any{"invoice": "inv_1", "amount": 42})
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func requireNone[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected value %v", v)
	default:
	}
}

// requireReleased asserts that key is free (claiming it succeeds).
func requireReleased(t *testing.T, s idempotency.Store, key string) {
	t.Helper()
	c, err := s.Claim(context.Background(), key, time.Minute)
	require.NoError(t, err)
	require.Equal(t, idempotency.Claimed, c.State, "the claim of %s should have been released", key)
	require.NoError(t, s.Release(context.Background(), key, c.Token))
}

// waitState polls the store until key reaches want (claims are settled
// just after the handler returns, on the worker).
func waitDone(t *testing.T, h http.Handler, ev event.Event) {
	t.Helper()
	require.Eventually(t, func() bool {
		rec := serve(h, receivertest.NewRequest("", ev))
		return rec.Code == http.StatusOK && rec.Header().Get(receiver.HeaderDuplicate) == "true"
	}, 5*time.Second, time.Millisecond)
}

// syncBuffer is a concurrency-safe log sink.
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

// faultyStore wraps a Store and fails the chosen operations.
type faultyStore struct {
	idempotency.Store
	claimErr, completeErr, releaseErr error
}

func (f *faultyStore) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if f.claimErr != nil {
		return idempotency.Claim{}, f.claimErr
	}
	return f.Store.Claim(ctx, key, lease)
}

func (f *faultyStore) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if f.completeErr != nil {
		return f.completeErr
	}
	return f.Store.Complete(ctx, key, token, retention)
}

func (f *faultyStore) Release(ctx context.Context, key, token string) error {
	if f.releaseErr != nil {
		return f.releaseErr
	}
	return f.Store.Release(ctx, key, token)
}

var errBoom = errors.New("boom")

func signedEvent(t testing.TB, typ string, data any) *http.Request {
	t.Helper()
	return receivertest.NewRequest("", receivertest.NewEvent(typ, data))
}

func timeNow() time.Time { return time.Now() }

// cloneWithBody returns a copy of r with a fresh body.
func cloneWithBody(t testing.TB, r *http.Request, body []byte) *http.Request {
	t.Helper()
	c := r.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func keyring() *signature.Keyring { return receivertest.Keyring("") }

func signedFor(ev event.Event) *http.Request { return receivertest.NewRequest("", ev) }
