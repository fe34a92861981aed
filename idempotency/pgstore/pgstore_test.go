package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

const envPostgres = "HOOKKIT_TEST_POSTGRES"

var (
	poolOnce sync.Once
	pool     *connPool
	poolErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pool != nil {
		pool.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testPool returns the package's shared pool (a few connections, so that
// parallel tests do not exhaust a shared server) or skips.
func testPool(t testing.TB) *connPool {
	t.Helper()
	url := os.Getenv(envPostgres)
	if url == "" {
		t.Skipf("%s is not set; run PostgreSQL and e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./idempotency/pgstore/", envPostgres, envPostgres)
	}
	poolOnce.Do(func() { pool, poolErr = newConnPool(url, 8) })
	require.NoError(t, poolErr, "connecting to %s", envPostgres)
	return pool
}

type bundle struct {
	store  *pgstore.Store
	pool   *connPool
	schema string
}

// setup returns a migrated Store in a fresh schema that is dropped at the end
// of the test.
func setup(t testing.TB, cfg pgstore.Config) *bundle {
	t.Helper()
	p := testPool(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "hookkit_test_" + hex.EncodeToString(rnd[:])
	cfg.Pool = p
	cfg.Schema = schema
	s, err := pgstore.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := p.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	require.NoError(t, s.Migrate(context.Background()))
	return &bundle{store: s, pool: p, schema: schema}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	testPool(t) // skip the whole suite at once without a database
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		return setup(t, pgstore.Config{}).store
	}, storetest.Options{Lease: 200 * time.Millisecond})
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := pgstore.New(pgstore.Config{})
	require.ErrorIs(t, err, pgstore.ErrNoPool)

	s, err := pgstore.New(pgstore.Config{Pool: &connPool{}})
	require.NoError(t, err)
	require.Equal(t, `"hookkit"."idempotency_claims"`, s.Table())

	s, err = pgstore.New(pgstore.Config{Pool: &connPool{}, Schema: `my"schema`, Table: "t"})
	require.NoError(t, err)
	require.Equal(t, `"my""schema"."t"`, s.Table(), "identifiers are quoted")
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("concurrent migrations of one schema all succeed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{Table: "concurrent"})
		_, err := b.pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{b.schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = b.store.Migrate(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		c, err := b.store.Claim(ctx, "evt_1", time.Minute)
		require.NoError(t, err)
		require.Equal(t, idempotency.Claimed, c.State)
	})

	t.Run("migrating again keeps the data", func(t *testing.T) {
		t.Parallel()
		b := setup(t, pgstore.Config{})
		c, err := b.store.Claim(ctx, "evt_1", time.Minute)
		require.NoError(t, err)
		require.NoError(t, b.store.Migrate(ctx))
		require.NoError(t, b.store.Complete(ctx, "evt_1", c.Token, time.Minute))
	})
}

func TestDatabaseTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, pgstore.Config{})
	c, err := b.store.Claim(ctx, "evt_1", 90*time.Second)
	require.NoError(t, err)
	var secs float64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now())::float8 FROM `+b.store.Table()+` WHERE key = 'evt_1'`).Scan(&secs))
	left := time.Duration(secs * float64(time.Second))
	require.InDelta(t, 90*time.Second, left, float64(5*time.Second), "the lease is measured on the database clock")

	// Moving the row's expiry into the past on the database's clock expires
	// the lease, whatever the application's clock says.
	_, err = b.pool.Exec(ctx, `UPDATE `+b.store.Table()+` SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	c2, err := b.store.Claim(ctx, "evt_1", time.Minute)
	require.NoError(t, err)
	require.Equal(t, idempotency.Claimed, c2.State)
	require.ErrorIs(t, b.store.Complete(ctx, "evt_1", c.Token, 0), idempotency.ErrNotOwner)
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, pgstore.Config{PruneBatch: 7})
	for i := range 30 {
		c, err := b.store.Claim(ctx, "evt_"+strconv.Itoa(i), time.Hour)
		require.NoError(t, err)
		if i%3 == 0 {
			require.NoError(t, b.store.Complete(ctx, "evt_"+strconv.Itoa(i), c.Token, time.Hour))
		}
	}
	// Expire 20 of them (both in-progress and done rows) on the database clock.
	_, err := b.pool.Exec(ctx, `UPDATE `+b.store.Table()+` SET expires_at = now() - interval '1 second'
WHERE substr(key, 5)::int < 20`)
	require.NoError(t, err)

	n, err := b.store.Prune(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 20, n, "deleted in batches of 7 until none was left")
	var left int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM `+b.store.Table()).Scan(&left))
	require.Equal(t, 10, left)

	n, err = b.store.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRunPruner(t *testing.T) {
	t.Parallel()
	b := setup(t, pgstore.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := b.store.Claim(ctx, "evt_1", time.Millisecond)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- b.store.RunPruner(ctx, 5*time.Millisecond, func(err error) { t.Error(err) }) }()
	require.Eventually(t, func() bool {
		var n int
		_ = b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+b.store.Table()).Scan(&n)
		return n == 0
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, err := newConnPool("postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1", 2)
	require.NoError(t, err)
	defer p.Close()
	s, err := pgstore.New(pgstore.Config{Pool: p})
	require.NoError(t, err)

	c, err := s.Claim(ctx, "evt_1", time.Minute)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
	require.Equal(t, idempotency.Claim{}, c, "never a false Claimed")
	require.ErrorIs(t, s.Complete(ctx, "evt_1", "tok", 0), idempotency.ErrUnavailable)
	require.ErrorIs(t, s.Release(ctx, "evt_1", "tok"), idempotency.ErrUnavailable)
	require.Error(t, s.Migrate(ctx))
	_, err = s.Prune(ctx)
	require.ErrorIs(t, err, idempotency.ErrUnavailable)
}

func BenchmarkClaimComplete(b *testing.B) {
	bb := setup(b, pgstore.Config{})
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := "evt_" + strconv.FormatInt(next.Add(1), 10)
			c, err := bb.store.Claim(ctx, k, time.Minute)
			if err != nil || c.State != idempotency.Claimed {
				b.Error(c, err)
				return
			}
			if err := bb.store.Complete(ctx, k, c.Token, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkClaimDuplicate(b *testing.B) {
	bb := setup(b, pgstore.Config{})
	ctx := context.Background()
	c, err := bb.store.Claim(ctx, "evt_dup", time.Minute)
	require.NoError(b, err)
	require.NoError(b, bb.store.Complete(ctx, "evt_dup", c.Token, time.Hour))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := bb.store.Claim(ctx, "evt_dup", time.Minute)
			if err != nil || c.State != idempotency.Done {
				b.Error(c, err)
				return
			}
		}
	})
}

// BenchmarkClaim measures the latency of one Claim of a new key (one
// statement, one commit).
func BenchmarkClaim(b *testing.B) {
	bb := setup(b, pgstore.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := bb.store.Claim(ctx, "evt_"+strconv.Itoa(i), time.Minute)
		if err != nil || c.State != idempotency.Claimed {
			b.Fatal(c, err)
		}
	}
}
