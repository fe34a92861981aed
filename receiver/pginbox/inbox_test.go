package pginbox_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	// A pool that is never contacted: New validates before connecting.
	lazy, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(lazy.Close)

	tests := []struct {
		name string
		cfg  pginbox.Config
	}{
		{"a missing pool is refused", pginbox.Config{}},
		{"a negative batch size is refused", pginbox.Config{Pool: lazy, BatchSize: -1}},
		{"a lease under 10ms is refused", pginbox.Config{Pool: lazy, Lease: time.Millisecond}},
		{"a negative poll interval is refused", pginbox.Config{Pool: lazy, PollInterval: -time.Second}},
		{"a schema name over 63 bytes is refused", pginbox.Config{Pool: lazy, Schema: string(make([]byte, 64))}},
		{"a table name that leaves no room for its migrations table is refused", pginbox.Config{Pool: lazy, Table: "t23456789012345678901234567890123456789012345678901234"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := pginbox.New(context.Background(), tt.cfg)
			require.ErrorIs(t, err, pginbox.ErrInvalidConfig)
		})
	}

	t.Run("an unreachable database is reported by New", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := pginbox.New(ctx, pginbox.Config{Pool: lazy})
		require.ErrorIs(t, err, pginbox.ErrUnavailable)
		_, err = pginbox.New(ctx, pginbox.Config{Pool: lazy, DisableListener: true})
		require.ErrorIs(t, err, pginbox.ErrUnavailable)
	})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a delivery comes back as it was stored, and Processed deletes it", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		want := delivery(t, "invoice.paid")
		want.Event.ResourceURL = "https://api.example.com/invoices/1"
		want.Header.Set("Authorization", "Bearer secret")
		want.Header.Set("Cookie", "session=secret")
		want.Header.Add("X-Latin1", "caf\xe9") // HTTP allows bytes that are not UTF-8
		require.NoError(t, in.Enqueue(ctx, want))
		require.Equal(t, 1, b.rows(t, in), "Enqueue returned, so the row is committed")

		got := dequeue(t, in, ctx, 5*time.Second)
		require.Equal(t, want.Event.ID, got.Event.ID)
		require.Equal(t, want.Event.Type, got.Event.Type)
		require.JSONEq(t, string(want.Event.Data), string(got.Event.Data))
		require.Equal(t, []byte(want.Event.Data), []byte(got.Event.Data), "data is stored byte for byte")
		require.True(t, want.Event.Timestamp.Equal(got.Event.Timestamp), "event time %v, got %v", want.Event.Timestamp, got.Event.Timestamp)
		require.Equal(t, want.Event.ResourceURL, got.Event.ResourceURL)
		require.Equal(t, want.Token, got.Token)
		require.Equal(t, want.Provider, got.Provider)
		require.WithinDuration(t, want.ReceivedAt, got.ReceivedAt, time.Microsecond)
		require.Equal(t, want.Event.ID, got.Header.Get("Webhook-Id"))
		require.Equal(t, "caf\xe9", got.Header.Get("X-Latin1"))
		require.Empty(t, got.Header.Values("Authorization"), "credentials are never stored")
		require.Empty(t, got.Header.Values("Cookie"), "credentials are never stored")
		require.Equal(t, 1, pginbox.Claims(got))

		require.NoError(t, in.Ack(ctx, got, receiver.Processed))
		require.Equal(t, 0, b.rows(t, in))
		require.Equal(t, 0, in.Held())
	})

	t.Run("DeadLettered deletes the row too", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
		d := dequeue(t, in, ctx, 5*time.Second)
		require.NoError(t, in.Ack(ctx, d, receiver.DeadLettered))
		require.Equal(t, 0, b.rows(t, in))
	})

	t.Run("Abandoned returns the row, due again at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
		first := dequeue(t, in, ctx, 5*time.Second)
		require.NoError(t, in.Ack(ctx, first, receiver.Abandoned))
		again := dequeue(t, in, ctx, 2*time.Second)
		require.Equal(t, first.Event.ID, again.Event.ID)
		require.Equal(t, 2, pginbox.Claims(again))
		require.ErrorIs(t, in.Ack(ctx, first, receiver.Processed), pginbox.ErrLeaseLost, "the first claim is over")
		require.NoError(t, in.Ack(ctx, again, receiver.Processed))
		require.Equal(t, 0, b.rows(t, in))
	})

	t.Run("deliveries come out in the order they went in", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		var ids []string
		for range 5 {
			d := delivery(t, "invoice.paid")
			ids = append(ids, d.Event.ID)
			require.NoError(t, in.Enqueue(ctx, d))
		}
		for _, id := range ids {
			d := dequeue(t, in, ctx, 5*time.Second)
			require.Equal(t, id, d.Event.ID)
			require.NoError(t, in.Ack(ctx, d, receiver.Processed))
		}
	})

	t.Run("Ack refuses a delivery that did not come from an inbox", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		for _, ref := range []string{"", "7", "pginbox:", "pginbox:1", "pginbox:x.1", "pginbox:1.0", "pginbox:-1.1"} {
			d := delivery(t, "invoice.paid")
			d.Ref = ref
			require.ErrorIs(t, in.Ack(ctx, d, receiver.Processed), pginbox.ErrForeignDelivery, "ref %q", ref)
		}
	})

	t.Run("text PostgreSQL cannot hold is refused before the insert", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		d := delivery(t, "invoice.paid")
		d.Event.Type = "bad\xff"
		require.ErrorIs(t, in.Enqueue(ctx, d), pginbox.ErrUnstorable)
		d = delivery(t, "invoice.paid")
		d.Provider = "a\x00b"
		require.ErrorIs(t, in.Enqueue(ctx, d), pginbox.ErrUnstorable)
		require.Equal(t, 0, b.rows(t, in))
	})
}

func TestConcurrentDequeuers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("50 dequeuers on 5 inboxes process 500 deliveries exactly once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const (
			inboxes = 5
			workers = 50
			total   = 500
		)
		ins := make([]*pginbox.Inbox, inboxes)
		for i := range ins {
			ins[i] = b.inbox(t, pginbox.Config{BatchSize: 8, PollInterval: 50 * time.Millisecond})
		}
		var g errgroup.Group
		g.SetLimit(8)
		for i := range total {
			g.Go(func() error { return ins[i%inboxes].Enqueue(ctx, delivery(t, "load.test")) })
		}
		require.NoError(t, g.Wait())
		require.Equal(t, total, b.rows(t, ins[0]))

		var (
			mu        sync.Mutex
			seen      = map[string]int{}
			processed atomic.Int64
		)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for w := range workers {
			in := ins[w%inboxes]
			wg.Go(func() {
				for processed.Load() < total {
					d, err := in.Dequeue(wctx)
					if err != nil {
						return
					}
					mu.Lock()
					seen[d.Event.ID]++
					mu.Unlock()
					if err := in.Ack(ctx, d, receiver.Processed); err != nil {
						t.Errorf("ack %s: %v", d.Event.ID, err)
					}
					if processed.Add(1) == total {
						cancel() // wake the others
					}
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, total)
		for id, n := range seen {
			require.Equal(t, 1, n, "event %s was handed out %d times", id, n)
		}
		require.Equal(t, 0, b.rows(t, ins[0]))
	})
}

func TestLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a worker that dies without acking loses the delivery to another inbox once its lease expires", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Long polls: the second inbox must find the expired lease by itself.
		a := b.inbox(t, pginbox.Config{Lease: 200 * time.Millisecond, PollInterval: 10 * time.Second})
		bb := b.inbox(t, pginbox.Config{Lease: 200 * time.Millisecond, PollInterval: 10 * time.Second})
		require.NotEqual(t, a.Owner(), bb.Owner())
		want := delivery(t, "invoice.paid")
		require.NoError(t, a.Enqueue(ctx, want))

		workerCtx, die := context.WithCancel(ctx)
		got := dequeue(t, a, workerCtx, 5*time.Second)
		require.Equal(t, want.Event.ID, got.Event.ID)
		die() // the worker's process dies: no Ack, no more renewals
		a.Crash()

		start := time.Now()
		again := dequeue(t, bb, ctx, 5*time.Second)
		waited := time.Since(start)
		require.Equal(t, want.Event.ID, again.Event.ID)
		require.Equal(t, 2, pginbox.Claims(again))
		require.Less(t, waited, 2*time.Second, "picked up at the lease expiry, not the 10 s poll")
		t.Logf("expired lease picked up after %v (lease 200ms)", waited)
		require.ErrorIs(t, a.Ack(ctx, got, receiver.Processed), pginbox.ErrLeaseLost, "the dead worker's claim is over")
		require.NoError(t, bb.Ack(ctx, again, receiver.Processed))
		require.Equal(t, 0, b.rows(t, bb))
	})

	t.Run("a live worker keeps its delivery for many leases, whatever became of its Dequeue context", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.inbox(t, pginbox.Config{Lease: 300 * time.Millisecond})
		other := b.inbox(t, pginbox.Config{Lease: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond})
		require.NoError(t, a.Enqueue(ctx, delivery(t, "invoice.paid")))
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := a.Dequeue(dctx)
		cancel()
		require.NoError(t, err)

		// The other inbox looks for work for over three lease periods.
		octx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = other.Dequeue(octx)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the renewed lease kept the delivery with its worker")
		require.NoError(t, a.Ack(ctx, d, receiver.Processed))
	})
}

func TestMaxPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("beyond MaxPending Enqueue fails with ErrQueueFull until a delivery is acked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{MaxPending: 3})
		for range 3 {
			require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
		}
		err := in.Enqueue(ctx, delivery(t, "invoice.paid"))
		require.ErrorIs(t, err, receiver.ErrQueueFull)
		require.Equal(t, 3, b.rows(t, in))

		d := dequeue(t, in, ctx, 5*time.Second)
		require.ErrorIs(t, in.Enqueue(ctx, delivery(t, "invoice.paid")), receiver.ErrQueueFull, "a delivery being processed still counts")
		require.NoError(t, in.Ack(ctx, d, receiver.Processed))
		require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
	})

	t.Run("another instance counts the rows already stored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := b.inbox(t, pginbox.Config{MaxPending: -1})
		for range 4 {
			require.NoError(t, a.Enqueue(ctx, delivery(t, "invoice.paid")))
		}
		full := b.inbox(t, pginbox.Config{MaxPending: 4})
		require.ErrorIs(t, full.Enqueue(ctx, delivery(t, "invoice.paid")), receiver.ErrQueueFull)
	})
}

func TestWakeUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("an Enqueue on another instance wakes a blocked Dequeue at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		consumer := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		producer := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		got := make(chan receiver.Delivery, 1)
		go func() {
			d, err := consumer.Dequeue(ctx)
			if err == nil {
				got <- d
			}
			close(got)
		}()
		waitBlocked(t, consumer)
		start := time.Now()
		require.NoError(t, producer.Enqueue(ctx, delivery(t, "invoice.paid")))
		select {
		case d, ok := <-got:
			require.True(t, ok, "Dequeue failed")
			latency := time.Since(start)
			t.Logf("NOTIFY wake-up latency (enqueue start to dequeue): %v", latency)
			require.NoError(t, consumer.Ack(ctx, d, receiver.Processed))
		case <-time.After(time.Second):
			t.Fatal("the blocked Dequeue did not wake within 1 s (poll interval 10 s)")
		}
	})

	t.Run("the listener reconnects after its backend is terminated and still wakes Dequeue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		consumer := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		producer := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second, DisableListener: true})
		listenerPID := func() int32 {
			var pid int32
			err := b.pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
WHERE application_name = 'hookkit-pginbox-listener' AND query = 'LISTEN "' || $1 || '"'`, consumer.Channel()).Scan(&pid)
			if err != nil {
				return 0
			}
			return pid
		}
		var old int32
		require.Eventually(t, func() bool { old = listenerPID(); return old != 0 }, 5*time.Second, 5*time.Millisecond)
		var killed bool
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, old).Scan(&killed))
		require.True(t, killed)
		require.Eventually(t, func() bool { p := listenerPID(); return p != 0 && p != old }, 10*time.Second, 5*time.Millisecond,
			"the listener reconnected")

		got := make(chan receiver.Delivery, 1)
		go func() {
			d, err := consumer.Dequeue(ctx)
			if err == nil {
				got <- d
			}
			close(got)
		}()
		waitBlocked(t, consumer)
		require.NoError(t, producer.Enqueue(ctx, delivery(t, "invoice.paid")))
		select {
		case d, ok := <-got:
			require.True(t, ok, "Dequeue failed")
			require.NoError(t, consumer.Ack(ctx, d, receiver.Processed))
		case <-time.After(time.Second):
			t.Fatal("the reconnected listener did not wake Dequeue within 1 s")
		}
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Close unblocks Dequeue and refuses Enqueue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		errc := make(chan error, 1)
		go func() {
			_, err := in.Dequeue(ctx)
			errc <- err
		}()
		waitBlocked(t, in)
		require.NoError(t, in.Close())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, receiver.ErrQueueClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("Dequeue still blocked after Close")
		}
		require.ErrorIs(t, in.Enqueue(ctx, delivery(t, "invoice.paid")), receiver.ErrQueueClosed)
		require.NoError(t, in.Close(), "Close is idempotent")
	})

	t.Run("a delivery handed out before Close can still be acked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
		d := dequeue(t, in, ctx, 5*time.Second)
		require.NoError(t, in.Close())
		require.NoError(t, in.Ack(ctx, d, receiver.Processed))
		require.Equal(t, 0, b.rows(t, in))
	})

	t.Run("a cancelled context ends a blocked Dequeue with its error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{PollInterval: 10 * time.Second})
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := in.Dequeue(cctx)
			errc <- err
		}()
		waitBlocked(t, in)
		cancel()
		require.ErrorIs(t, <-errc, context.Canceled)
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()

	t.Run("Migrate is idempotent and safe from several instances at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ins := make([]*pginbox.Inbox, 4)
		for i := range ins {
			in, err := pginbox.New(context.Background(), pginbox.Config{Pool: b.pool, Schema: b.schema, DisableListener: true,
				Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = in.Close() })
			ins[i] = in
		}
		var g errgroup.Group
		for _, in := range ins {
			g.Go(func() error { return in.Migrate(context.Background()) })
		}
		require.NoError(t, g.Wait())
		require.NoError(t, ins[0].Migrate(context.Background()))
		ms, err := pginbox.Migrations()
		require.NoError(t, err)
		var n int
		require.NoError(t, b.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM `+ins[0].Table()[:len(ins[0].Table())-1]+`_migrations"`).Scan(&n))
		require.Equal(t, len(ms), n)
	})

	t.Run("the claim reads the available_at index", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.inbox(t, pginbox.Config{})
		tx, err := b.pool.Begin(context.Background())
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(context.Background()) }()
		_, err = tx.Exec(context.Background(), `SET LOCAL enable_seqscan = off`)
		require.NoError(t, err)
		var plan string
		rows, err := tx.Query(context.Background(), `EXPLAIN SELECT id FROM `+in.Table()+`
WHERE available_at <= statement_timestamp() ORDER BY available_at, id LIMIT 16 FOR UPDATE SKIP LOCKED`)
		require.NoError(t, err)
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan += line + "\n"
		}
		require.NoError(t, rows.Err())
		require.Contains(t, plan, "receiver_inbox_available_idx", plan)
	})
}

func TestAckErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.inbox(t, pginbox.Config{})
	ctx := context.Background()
	require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
	d := dequeue(t, in, ctx, 5*time.Second)
	err := in.Ack(ctx, d, receiver.Outcome(99))
	require.Error(t, err)
	require.False(t, errors.Is(err, pginbox.ErrLeaseLost))
	require.NoError(t, in.Ack(ctx, d, receiver.Processed))
	require.ErrorIs(t, in.Ack(ctx, d, receiver.Processed), pginbox.ErrLeaseLost, "a second ack finds nothing")
}

var _ = http.Header{}

func TestStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	in := b.inbox(t, pginbox.Config{})

	st, err := in.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, pginbox.Stats{}, st, "an empty inbox")

	before := time.Now()
	for range 3 {
		require.NoError(t, in.Enqueue(ctx, delivery(t, "invoice.paid")))
	}
	d := dequeue(t, in, ctx, 5*time.Second)
	st, err = in.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Waiting)
	require.Equal(t, int64(1), st.Leased)
	require.Equal(t, 1, st.MaxClaims)
	require.WithinDuration(t, before, st.OldestEnqueued, 5*time.Second)
	require.NoError(t, in.Ack(ctx, d, receiver.Processed))
}
