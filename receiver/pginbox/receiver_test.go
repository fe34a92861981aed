package pginbox_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
	"github.com/hookkit/hookkit/receiver/receivertest"
)

// rowsOf counts the inbox rows of one event.
func (b *bundle) rowsOf(t testing.TB, in *pginbox.Inbox, eventID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+in.Table()+` WHERE event_id = $1`, eventID).Scan(&n))
	return n
}

func newReceiver(t testing.TB, cfg receiver.Config) *receiver.Handler {
	t.Helper()
	cfg.Keys = receivertest.Keyring("")
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := receiver.New(cfg)
	require.NoError(t, err)
	return h
}

func TestWithReceiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a 202 means a committed row, then the handler runs and the row is deleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		started := make(chan receiver.Metadata, 1)
		proceed := make(chan struct{})
		h := newReceiver(t, receiver.Config{
			Queue: in,
			Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
				md, _ := receiver.MetadataFrom(ctx)
				started <- md
				<-proceed
				return nil
			}),
		})
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })

		ev := receivertest.NewEvent("invoice.paid", map[string]any{"invoice": "inv_1"})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", ev))
		require.Equal(t, http.StatusAccepted, rec.Code)
		require.Equal(t, 1, b.rowsOf(t, in, ev.ID), "the event was committed before the 202")

		select {
		case md := <-started:
			require.Equal(t, ev.ID, md.Header.Get("webhook-id"), "the stored headers reach the handler")
			require.NotEmpty(t, md.Header.Get("webhook-signature"))
			require.Equal(t, 1, md.Attempt)
		case <-time.After(5 * time.Second):
			t.Fatal("the handler never ran")
		}
		require.Equal(t, 1, b.rowsOf(t, in, ev.ID), "the row stays while the handler runs")
		close(proceed)
		require.Eventually(t, func() bool { return b.rowsOf(t, in, ev.ID) == 0 }, 5*time.Second, 5*time.Millisecond)

		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", ev))
		require.Equal(t, http.StatusOK, rec.Code, "a redelivery after processing is a duplicate")
		require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
		require.Equal(t, 0, b.rowsOf(t, in, ev.ID))
	})

	t.Run("a full inbox answers 503 with Retry-After and stores nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{MaxPending: 1})
		proceed := make(chan struct{})
		h := newReceiver(t, receiver.Config{
			Queue: in,
			Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
				<-proceed
				return nil
			}),
		})
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		t.Cleanup(func() { close(proceed) })

		first := receivertest.NewEvent("invoice.paid", map[string]any{"n": 1})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", first))
		require.Equal(t, http.StatusAccepted, rec.Code)

		second := receivertest.NewEvent("invoice.paid", map[string]any{"n": 2})
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", second))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.NotEmpty(t, rec.Header().Get("Retry-After"))
		require.Equal(t, 0, b.rowsOf(t, in, second.ID))
	})

	t.Run("events left at Shutdown are processed by the next start", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		store := idempotency.NewMemoryStore(idempotency.MemoryConfig{}) // shared by both "processes"
		t.Cleanup(func() { store.Close() })
		first := b.inbox(t, pginbox.Config{})
		running := make(chan struct{}, 1)
		h1 := newReceiver(t, receiver.Config{
			Queue: first,
			Store: store,
			Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
				running <- struct{}{}
				<-ctx.Done() // a slow handler, cut off by the shutdown deadline
				return ctx.Err()
			}),
		})
		ev := receivertest.NewEvent("invoice.paid", map[string]any{"n": 1})
		rec := httptest.NewRecorder()
		h1.ServeHTTP(rec, receivertest.NewRequest("", ev))
		require.Equal(t, http.StatusAccepted, rec.Code)
		<-running
		sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, h1.Shutdown(sctx), context.DeadlineExceeded)
		require.Equal(t, 1, b.rowsOf(t, first, ev.ID), "the abandoned event stays in the inbox")

		second := b.inbox(t, pginbox.Config{})
		done := make(chan string, 1)
		h2 := newReceiver(t, receiver.Config{
			Queue: second,
			Store: store,
			Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
				done <- ev.ID
				return nil
			}),
		})
		t.Cleanup(func() { _ = h2.Shutdown(context.Background()) })
		select {
		case id := <-done:
			require.Equal(t, ev.ID, id)
		case <-time.After(5 * time.Second):
			t.Fatal("the restarted receiver did not process the abandoned event")
		}
		require.Eventually(t, func() bool { return b.rowsOf(t, second, ev.ID) == 0 }, 5*time.Second, 5*time.Millisecond)
	})
}

func TestDatabaseFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("without its table the inbox reports ErrUnavailable and the receiver answers 503", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in, err := pginbox.New(ctx, pginbox.Config{Pool: b.pool, Schema: b.schema, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = in.Close() })
		// No Migrate: every statement fails.
		require.ErrorIs(t, in.Enqueue(ctx, delivery(t, "invoice.paid")), pginbox.ErrUnavailable)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = in.Dequeue(dctx)
		require.ErrorIs(t, err, pginbox.ErrUnavailable)
		_, err = in.Stats(ctx)
		require.ErrorIs(t, err, pginbox.ErrUnavailable)

		h := newReceiver(t, receiver.Config{
			Queue:   in,
			Handler: receiver.HandlerFunc(func(context.Context, event.Event) error { return nil }),
		})
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", receivertest.NewEvent("invoice.paid", map[string]any{"n": 1})))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "never a 2xx for an event that was not stored")
	})
}

func TestTerminatedBackends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	// A pool of its own, tagged, so that only its backends are terminated.
	cfg, err := pgxpool.ParseConfig(os.Getenv(envPostgres))
	require.NoError(t, err)
	cfg.MaxConns = 4
	app := "hookkit-pginbox-fault-" + b.schema
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	in, err := pginbox.New(ctx, pginbox.Config{Pool: pool, Schema: b.schema, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	require.NoError(t, in.Migrate(ctx))

	const total = 40
	want := map[string]bool{}
	for range total {
		d := delivery(t, "invoice.paid")
		want[d.Event.ID] = true
		require.NoError(t, in.Enqueue(ctx, d))
	}
	// Hold a few, then kill every backend of the pool (and the listener).
	var held []receiver.Delivery
	for range 3 {
		held = append(held, dequeue(t, in, ctx, 5*time.Second))
	}
	var killed int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 OR (application_name = 'hookkit-pginbox-listener' AND query = 'LISTEN "' || $2 || '"')`,
		app, in.Channel()).Scan(&killed))
	require.Positive(t, killed)

	// The operations right after may fail with ErrUnavailable; retried,
	// they recover, and nothing is lost.
	retryOp := func(op func() error) {
		t.Helper()
		require.Eventually(t, func() bool {
			err := op()
			if err != nil && !errors.Is(err, pginbox.ErrUnavailable) {
				t.Errorf("unexpected error: %v", err)
				return true
			}
			return err == nil
		}, 10*time.Second, 10*time.Millisecond)
	}
	got := map[string]bool{}
	for _, d := range held {
		retryOp(func() error { return in.Ack(ctx, d, receiver.Processed) })
		got[d.Event.ID] = true
	}
	for len(got) < total {
		var d receiver.Delivery
		retryOp(func() error {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			var err error
			d, err = in.Dequeue(dctx)
			return err
		})
		require.False(t, got[d.Event.ID], "event %s handed out twice", d.Event.ID)
		got[d.Event.ID] = true
		retryOp(func() error { return in.Ack(ctx, d, receiver.Processed) })
	}
	require.Equal(t, want, got)
	require.Equal(t, 0, b.rows(t, in))
}
