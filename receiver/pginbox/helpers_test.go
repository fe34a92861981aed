package pginbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
)

const envPostgres = "HOOKKIT_TEST_POSTGRES"

var (
	poolOnce   sync.Once
	sharedPool *pgxpool.Pool
	poolErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
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
// parallel tests do not exhaust a shared server) or skips the test.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skip("set " + envPostgres + " to run the PostgreSQL tests, e.g. " + envPostgres +
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./receiver/pginbox/...")
	}
	poolOnce.Do(func() {
		var cfg *pgxpool.Config
		cfg, poolErr = pgxpool.ParseConfig(dsn)
		if poolErr != nil {
			return
		}
		cfg.MaxConns = 12
		sharedPool, poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	require.NoError(t, poolErr, "connecting to %s", envPostgres)
	return sharedPool
}

// bundle is one test's database: a fresh schema, dropped at cleanup.
type bundle struct {
	pool   *pgxpool.Pool
	schema string
}

func setup(t testing.TB) *bundle {
	t.Helper()
	p := testPool(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	b := &bundle{pool: p, schema: "hookkit_test_" + hex.EncodeToString(rnd[:])}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{b.schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", b.schema, err)
		}
	})
	return b
}

// inbox returns a migrated Inbox on the bundle's schema, closed at cleanup.
// Fields of cfg left zero get the test defaults (a quiet logger).
func (b *bundle) inbox(t testing.TB, cfg pginbox.Config) *pginbox.Inbox {
	t.Helper()
	cfg.Pool = b.pool
	cfg.Schema = b.schema
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := pginbox.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	require.NoError(t, in.Migrate(ctx))
	return in
}

// rows counts the rows of in's table.
func (b *bundle) rows(t testing.TB, in *pginbox.Inbox) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+in.Table()).Scan(&n))
	return n
}

// delivery returns a valid delivery with a fresh event.
func delivery(t testing.TB, typ string) receiver.Delivery {
	t.Helper()
	ev, err := event.New(typ, map[string]any{"n": 1})
	require.NoError(t, err)
	return receiver.Delivery{
		Event:      ev,
		Token:      "tok-" + ev.ID,
		Header:     http.Header{"Webhook-Id": {ev.ID}, "Content-Type": {"application/json"}},
		ReceivedAt: time.Now(),
		Provider:   "hookkit",
	}
}

// dequeue calls Dequeue with a deadline, failing the test on error.
func dequeue(t testing.TB, in *pginbox.Inbox, ctx context.Context, within time.Duration) receiver.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	d, err := in.Dequeue(ctx)
	require.NoError(t, err)
	return d
}

// waitBlocked waits until a Dequeue call of in is blocked, waiting for work.
func waitBlocked(t testing.TB, in *pginbox.Inbox) {
	t.Helper()
	require.Eventually(t, func() bool { return in.Waiting() > 0 }, 5*time.Second, time.Millisecond)
}
