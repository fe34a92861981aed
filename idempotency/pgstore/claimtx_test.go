package pgstore_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgstore"
)

// effects creates the consumer's own table in the test schema.
func (b *bundle) effects(t *testing.T) string {
	t.Helper()
	table := pgx.Identifier{b.schema, "effects"}.Sanitize()
	_, err := b.pool.Exec(context.Background(), `CREATE TABLE `+table+` (id bigserial PRIMARY KEY, event_id text NOT NULL, worker int NOT NULL)`)
	require.NoError(t, err)
	return table
}

func (b *bundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// waitForLockWait waits until a backend is blocked on a lock in schema.
func (b *bundle) waitForLockWait(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, b.schema).Scan(&n)
		return err == nil && n > 0
	}, 10*time.Second, 5*time.Millisecond, "the second transaction never blocked on the first")
}

// consume is the consumer's exactly-once unit of work: dedupe and effect in
// one transaction. It returns whether the effect was applied.
func consume(ctx context.Context, b *bundle, effects, eventID string, worker int, commit bool) (bool, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	fresh, err := b.store.ClaimTx(ctx, tx, eventID)
	if err != nil || !fresh {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+effects+` (event_id, worker) VALUES ($1, $2)`, eventID, worker); err != nil {
		return false, err
	}
	if !commit {
		return false, tx.Rollback(ctx)
	}
	return true, tx.Commit(ctx)
}

func TestClaimTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("of two concurrent transactions for one key only the first commits its effect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		effects := b.effects(t)

		first, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = first.Rollback(ctx) }()
		fresh, err := b.store.ClaimTx(ctx, first, "evt_1")
		require.NoError(t, err)
		require.True(t, fresh)
		_, err = first.Exec(ctx, `INSERT INTO `+effects+` (event_id, worker) VALUES ('evt_1', 1)`)
		require.NoError(t, err)

		second := make(chan bool, 1)
		go func() {
			applied, err := consume(ctx, b, effects, "evt_1", 2, true)
			if err != nil {
				t.Error(err)
			}
			second <- applied
		}()
		b.waitForLockWait(t)
		require.NoError(t, first.Commit(ctx))
		require.False(t, <-second, "the second transaction sees the first one's commit and skips its effect")
		require.Equal(t, 1, b.count(t, effects))
	})

	t.Run("when the first transaction rolls back the second one applies the effect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		effects := b.effects(t)

		first, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		fresh, err := b.store.ClaimTx(ctx, first, "evt_1")
		require.NoError(t, err)
		require.True(t, fresh)

		second := make(chan bool, 1)
		go func() {
			applied, err := consume(ctx, b, effects, "evt_1", 2, true)
			if err != nil {
				t.Error(err)
			}
			second <- applied
		}()
		b.waitForLockWait(t)
		require.NoError(t, first.Rollback(ctx))
		require.True(t, <-second)
		require.Equal(t, 1, b.count(t, effects))

		c, err := b.store.Claim(ctx, "evt_1", time.Minute)
		require.NoError(t, err)
		require.Equal(t, idempotency.Done, c.State, "ClaimTx records the key as done for Claim too")
	})

	t.Run("many concurrent deliveries of one event apply its effect exactly once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		effects := b.effects(t)
		const workers = 20
		var wg sync.WaitGroup
		applied := make([]bool, workers)
		errs := make([]error, workers)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				applied[w], errs[w] = consume(ctx, b, effects, "evt_many", w, true)
			})
		}
		close(start)
		wg.Wait()
		n := 0
		for w := range workers {
			require.NoError(t, errs[w])
			if applied[w] {
				n++
			}
		}
		require.Equal(t, 1, n)
		require.Equal(t, 1, b.count(t, effects))
	})

	t.Run("a rolled-back transaction leaves no record behind", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		effects := b.effects(t)
		applied, err := consume(ctx, b, effects, "evt_rb", 1, false)
		require.NoError(t, err)
		require.False(t, applied)
		require.Equal(t, 0, b.count(t, effects))
		applied, err = consume(ctx, b, effects, "evt_rb", 2, true)
		require.NoError(t, err)
		require.True(t, applied)
		applied, err = consume(ctx, b, effects, "evt_rb", 3, true)
		require.NoError(t, err)
		require.False(t, applied, "a redelivery after the commit is a duplicate")
	})

	t.Run("a key held by an in-progress Claim is reported as in progress", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		effects := b.effects(t)
		c, err := b.store.Claim(ctx, "evt_claimed", time.Minute)
		require.NoError(t, err)
		_, err = consume(ctx, b, effects, "evt_claimed", 1, true)
		require.ErrorIs(t, err, pgstore.ErrInProgress)
		require.NoError(t, b.store.Release(ctx, "evt_claimed", c.Token))
		applied, err := consume(ctx, b, effects, "evt_claimed", 1, true)
		require.NoError(t, err)
		require.True(t, applied)
	})

	t.Run("a record past its retention lets the event through again", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{Retention: time.Hour})
		effects := b.effects(t)
		applied, err := consume(ctx, b, effects, "evt_old", 1, true)
		require.NoError(t, err)
		require.True(t, applied)
		var secs float64
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now())::float8 FROM `+b.store.Table()).Scan(&secs))
		require.InDelta(t, time.Hour.Seconds(), secs, 5, "Config.Retention is used")
		_, err = b.pool.Exec(ctx, `UPDATE `+b.store.Table()+` SET expires_at = now() - interval '1 second'`)
		require.NoError(t, err)
		applied, err = consume(ctx, b, effects, "evt_old", 2, true)
		require.NoError(t, err)
		require.True(t, applied)
	})

	t.Run("an invalid key is rejected before touching the transaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		for _, key := range []string{"", "a\x00b", string(make([]byte, 600))} {
			_, err := b.store.ClaimTx(ctx, nil, key)
			require.ErrorIs(t, err, idempotency.ErrInvalidKey, "key %q", strconv.Quote(key))
		}
	})
}
