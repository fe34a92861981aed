package receiver_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
)

type mwBundle struct {
	store *idempotency.MemoryStore
	mw    func(http.Handler) http.Handler
}

func setupMiddleware(t *testing.T) *mwBundle {
	t.Helper()
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	t.Cleanup(store.Close)
	mw, err := receiver.Middleware(receiver.Config{Keys: receivertest.Keyring(""), Store: store, RetryAfter: 3 * time.Second})
	require.NoError(t, err)
	return &mwBundle{store: store, mw: mw}
}

func TestMiddlewarePassesTheEventAndBodyAndCompletesOn2xx(t *testing.T) {
	t.Parallel()
	b := setupMiddleware(t)
	ev := newEvent(t)
	req := receivertest.NewRequest("", ev)
	calls := 0
	h := b.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		got, ok := receiver.EventFrom(r.Context())
		require.True(t, ok)
		require.Equal(t, ev.ID, got.ID)
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		want, _ := ev.MarshalJSON()
		require.Equal(t, string(want), string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	require.Equal(t, http.StatusNoContent, serve(h, req).Code)

	rec := serve(h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
	require.Equal(t, 1, calls)
}

func TestMiddlewareReleasesOnFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		next http.HandlerFunc
	}{
		{name: "a 5xx releases", next: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }},
		{name: "a 4xx releases", next: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nope", http.StatusUnprocessableEntity) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMiddleware(t)
			ev := newEvent(t)
			serve(b.mw(tt.next), receivertest.NewRequest("", ev))
			requireReleased(t, b.store, ev.ID)
		})
	}
}

func TestMiddlewareReleasesAndRepanicsWhenNextPanics(t *testing.T) {
	t.Parallel()
	b := setupMiddleware(t)
	ev := newEvent(t)
	h := b.mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("next failed") }))
	require.PanicsWithValue(t, "next failed", func() { serve(h, receivertest.NewRequest("", ev)) })
	requireReleased(t, b.store, ev.ID)
}

func TestMiddlewareAnswers409ToADuplicateInProgress(t *testing.T) {
	t.Parallel()
	b := setupMiddleware(t)
	ev := newEvent(t)
	entered, unblock := make(chan struct{}), make(chan struct{})
	calls := 0
	h := b.mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		calls++
		close(entered)
		<-unblock
	}))
	done := make(chan int)
	go func() { done <- serve(h, receivertest.NewRequest("", ev)).Code }()
	<-entered
	rec := serve(h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Equal(t, "3", rec.Header().Get("Retry-After"))
	require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
	close(unblock)
	require.Equal(t, http.StatusOK, <-done)
	require.Equal(t, 1, calls)
}

func TestMiddlewareRejectsUnverifiedRequestsWithoutCallingNext(t *testing.T) {
	t.Parallel()
	b := setupMiddleware(t)
	h := b.mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next called") }))
	req := receivertest.NewRequest("whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQ=", newEvent(t))
	require.Equal(t, http.StatusUnauthorized, serve(h, req).Code)
}

func TestMiddlewareRejectsAsyncOnlyConfig(t *testing.T) {
	t.Parallel()
	_, err := receiver.Middleware(receiver.Config{Keys: receivertest.Keyring(""), Workers: 2})
	require.ErrorIs(t, err, receiver.ErrInvalidConfig)
	_, err = receiver.Middleware(receiver.Config{Keys: receivertest.Keyring(""), Handler: &receiver.Router{}})
	require.ErrorIs(t, err, receiver.ErrInvalidConfig)
	_ = context.Background
}

func TestMiddlewareReportsToTheObserver(t *testing.T) {
	t.Parallel()
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	t.Cleanup(store.Close)
	type note struct {
		what string
		err  error
	}
	notes := make(chan note, 10)
	mw, err := receiver.Middleware(receiver.Config{Keys: receivertest.Keyring(""), Store: store, Logger: discardLogger(), Observer: receiver.Observer{
		Accepted:  func(context.Context, receiver.Info) { notes <- note{what: "accepted"} },
		Processed: func(_ context.Context, i receiver.Info) { notes <- note{what: "processed"} },
		Failed:    func(_ context.Context, _ receiver.Info, err error) { notes <- note{what: "failed", err: err} },
	}})
	require.NoError(t, err)
	status := http.StatusOK
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))

	serve(h, receivertest.NewRequest("", newEvent(t)))
	require.Equal(t, "accepted", recv(t, notes).what)
	require.Equal(t, "processed", recv(t, notes).what)

	status = http.StatusBadGateway
	serve(h, receivertest.NewRequest("", newEvent(t)))
	require.Equal(t, "accepted", recv(t, notes).what)
	n := recv(t, notes)
	require.Equal(t, "failed", n.what)
	var se *receiver.StatusError
	require.ErrorAs(t, n.err, &se)
	require.Equal(t, http.StatusBadGateway, se.Status)
	require.Contains(t, se.Error(), "502")
}

func TestMiddlewareKeepsTheResponseWriterFlushable(t *testing.T) {
	t.Parallel()
	b := setupMiddleware(t)
	ev := newEvent(t)
	h := b.mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		require.NoError(t, http.NewResponseController(w).Flush())
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte("ok"))
	}))
	rec := serve(h, receivertest.NewRequest("", ev))
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, rec.Flushed)
	require.Equal(t, http.StatusOK, serve(h, receivertest.NewRequest("", ev)).Code, "a flushed 200 completed the event")
}

func TestContextHelpersForTestingHandlers(t *testing.T) {
	t.Parallel()
	ev := newEvent(t)
	ctx := receiver.WithEvent(context.Background(), ev)
	got, ok := receiver.EventFrom(ctx)
	require.True(t, ok)
	require.Equal(t, ev.ID, got.ID)
	_, ok = receiver.MetadataFrom(ctx)
	require.False(t, ok)

	ctx = receiver.WithMetadata(ctx, receiver.Metadata{Attempt: 2, Provider: "github"})
	md, ok := receiver.MetadataFrom(ctx)
	require.True(t, ok)
	require.Equal(t, 2, md.Attempt)
	_, ok = receiver.EventFrom(context.Background())
	require.False(t, ok)
}
