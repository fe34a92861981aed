package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/sender/pgstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const envPostgres = "HOOKKIT_TEST_POSTGRES"

// testDSN returns the test database URL or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skip("set " + envPostgres + " to run PostgreSQL tests, e.g. " + envPostgres +
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./sender/pgstore/...")
	}
	return dsn
}

type testBundle struct {
	pool   *pgxpool.Pool
	store  *pgstore.Store
	schema string
	dsn    string
}

type setupOpts struct {
	maxConns     int32
	pollInterval time.Duration
	noListener   bool
	noMigrate    bool
	syncSettle   bool
	noBatching   bool
}

func randomSchema() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "hookkit_test_" + hex.EncodeToString(b[:])
}

func newPool(t testing.TB, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	} else {
		cfg.MaxConns = 6
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	return pool
}

var discard = slog.New(slog.DiscardHandler)

// setup returns a migrated store in a fresh random schema, dropped at cleanup.
func setup(t testing.TB, o setupOpts) *testBundle {
	t.Helper()
	return setupWithDSN(t, testDSN(t), o)
}

func setupWithDSN(t testing.TB, dsn string, o setupOpts) *testBundle {
	t.Helper()
	pool := newPool(t, dsn, o.maxConns)
	schema := randomSchema()
	store, err := pgstore.New(pgstore.Config{
		Pool:                  pool,
		Schema:                schema,
		PollInterval:          o.pollInterval,
		DisableListener:       o.noListener,
		SynchronousSettle:     o.syncSettle,
		DisableSettleBatching: o.noBatching,
		Logger:                discard,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = store.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		pool.Close()
	})
	if !o.noMigrate {
		require.NoError(t, store.Migrate(context.Background()))
	}
	return &testBundle{pool: pool, store: store, schema: schema, dsn: dsn}
}
