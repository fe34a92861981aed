package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	envPostgres = "HOOKKIT_TEST_POSTGRES"
	envRedis    = "HOOKKIT_TEST_REDIS"
	// envChild makes the test binary run as a child process of a crash test
	// ("producer" or "consumer") instead of running tests.
	envChild = "HOOKKIT_RELIABILITY_CHILD"
	// envSeed replays a logged run's random choices.
	envSeed = "HOOKKIT_RELIABILITY_SEED"

	howTo = "HOOKKIT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable " +
		"HOOKKIT_TEST_REDIS=redis://127.0.0.1:6379/0 go test -race ./internal/reliability/..."
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(m)
}

func runChild(role string) int {
	switch role {
	case "producer":
		return runProducer()
	case "consumer":
		return runConsumer()
	default:
		fmt.Fprintf(os.Stderr, "unknown %s role %q\n", envChild, role)
		return 2
	}
}

// postgresDSN returns the test database URL or skips the test.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skip("set " + envPostgres + " (and " + envRedis + ") to run the reliability suites, e.g. " + howTo)
	}
	return dsn
}

// redisURL returns the test Redis URL or skips the test.
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envRedis)
	if u == "" {
		t.Skip("set " + envRedis + " (and " + envPostgres + ") to run the reliability suites, e.g. " + howTo)
	}
	return u
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newPool returns a pool on dsn with maxConns connections, closed at cleanup.
func newPool(t testing.TB, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newPoolFromConfig returns a pool on cfg, closed at cleanup.
func newPoolFromConfig(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newSchema returns a fresh schema name, dropped (with everything in it) at cleanup.
// Register it after the pools using it, so it is dropped after they are closed.
func newSchema(t testing.TB, admin *pgxpool.Pool) string {
	t.Helper()
	schema := randomName("hookkit_rel_")
	_, err := admin.Exec(context.Background(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// newRedis returns a client on url and a fresh key prefix whose keys are deleted at cleanup.
func newRedis(t testing.TB, url string, opts func(*redis.Options)) (*redis.Client, string) {
	t.Helper()
	o, err := redis.ParseURL(url)
	require.NoError(t, err)
	if opts != nil {
		opts(o)
	}
	c := redis.NewClient(o)
	prefix := randomName("hookkit:rel:") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}

// seed returns the run's seed (HOOKKIT_RELIABILITY_SEED or a fresh one) and logs it.
func seed(t testing.TB) (uint64, *mrand.Rand) {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		var err error
		s, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, envSeed)
	}
	t.Logf("seed %d (replay with %s=%d)", s, envSeed, s)
	return s, mrand.New(mrand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

var discard = slog.New(slog.DiscardHandler)
